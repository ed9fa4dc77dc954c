"""Scenario helpers: run one scenario on the C library or the model; a small policy world."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from tests._support.msm_model import ModelError
from xps.msm import (
    Binding,
    ConflictLevel,
    ConflictSet,
    HypercallProfile,
    MsmError,
    Role,
    SecLabel,
    Tag,
)

SMALL = {
    "seed": 3,
    "host_mem_kb": 64 * 2048,
    "host_cpus": 4,
    "ring_capacity": 16,
    "dom0_mem_kb": 2 * 2048,
}


class Both:
    """Runs one scenario against the C library (``xps.msm``) or the reference model.

    ``call`` returns the result, or raises :class:`Failed` with the stable status code,
    so the same assertions hold for both implementations.
    """

    def __init__(self, impl: Any, kind: str) -> None:
        self.impl = impl
        self.kind = kind

    def call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self.impl, name)(*args)
        except (MsmError, ModelError) as exc:
            raise Failed(exc.code) from exc

    def apply(self, objs: list[Any]) -> int:
        if self.kind == "c":
            return int(self.call("apply", objs))
        self.call("txn_begin", True)
        try:
            for obj in objs:
                self.call("txn_put", obj)
            return int(self.call("txn_commit"))
        except Failed:
            self.impl.txn_abort()  # as Msm.apply does
            raise


class Failed(Exception):
    """A refused call; ``code`` is the status name (``MSM_ECONFLICT``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class World:
    """A small policy: tags A, B (no-coresidence), C (unrelated) and one domain per name."""

    def __init__(
        self,
        max_rate: int = 1000,
        max_violations: int = 0,
        hypercalls: frozenset[int] = frozenset({1, 29}),
    ) -> None:
        self.tags = {n: uuid4() for n in "ABC"}
        self.profile = HypercallProfile(uuid4(), "p", hypercalls, {29: frozenset({0, 1})})
        self.labels = {
            n: SecLabel(uuid4(), f"l{n}", self.profile.id, t, Role.NONE, max_rate, max_violations)
            for n, t in self.tags.items()
        }
        self.wall = ConflictSet(
            uuid4(), "wall", ConflictLevel.NO_CORESIDENCE, (self.tags["A"], self.tags["B"])
        )
        self.doms: dict[str, UUID] = {}
        self.bound: dict[str, str] = {}

    def bind(self, name: str, tag: str) -> UUID:
        self.doms[name] = uuid4()
        self.bound[name] = tag
        return self.doms[name]

    def objects(self, wall: bool = True) -> list[Any]:
        out: list[Any] = [self.profile, *(Tag(t, n) for n, t in self.tags.items())]
        out += self.labels.values()
        out += [Binding(self.doms[n], self.labels[t].id) for n, t in self.bound.items()]
        if wall:
            out.append(self.wall)
        return out
