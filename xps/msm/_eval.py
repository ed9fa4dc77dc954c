"""``Evaluation``: the MSM evaluation (what-if) mode — a recorded event stream decided
against a staged policy in a C context of its own (``msm_eval_*`` in msm.h).

Events cross into C as one packed array per call (``EVENT_RECORD`` structs back to
back), and decisions come back as one byte per event, so a batch of a million events
is one cffi call.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from xps.msm._context import _commit_error
from xps.msm._convert import C_TYPES, object_to_c
from xps.msm._enums import Status
from xps.msm._errors import CommitNames
from xps.msm._lib import check, ffi, lib
from xps.msm._objects import ConflictSet, HypercallProfile, PolicyObject, SecLabel, Tag, objtype_of
from xps.msm._validate import U32_MAX

__all__ = [
    "EVENT_RECORD",
    "EvalCounts",
    "EvalDecision",
    "Evaluation",
    "EventKind",
    "pack_event",
]

EVENT_RECORD = struct.Struct("<QIIII16s")
"""One ``msm_event``: ts_ns, kind, domid, a, b, uuid (RFC 4122 bytes)."""

_NAMED = (HypercallProfile, Tag, ConflictSet, SecLabel)


class EventKind(IntEnum):
    """``msm_event_kind``: what a recorded event is."""

    HYPERCALL = 1  # a = nr, b = sub-op
    CHANNEL = 2  # a = ChannelKind, b = peer domid
    DEVICE = 3  # a = bdf
    START = 4  # uuid = the domain's uuid
    DESTROY = 5


class EvalDecision(IntEnum):
    """``msm_eval_decision``: what the staged policy decides for one event."""

    ALLOW = 0
    DENY_PROFILE = 1
    DENY_RATE = 2
    DENY_CHANNEL = 3
    DENY_DEVICE = 4
    DENY_UNLABELLED = 5
    DENY_CONFLICT = 6
    NOT_RUNNING = 7


@dataclass(frozen=True, slots=True)
class EvalCounts:
    """Tallies of one :meth:`Evaluation.run` batch."""

    events: int
    by_decision: dict[EvalDecision, int]
    live_domains: int


def pack_event(
    kind: EventKind | int,
    domid: int,
    a: int = 0,
    b: int = 0,
    ts_ns: int = 0,
    domain: uuid.UUID | None = None,
) -> bytes:
    """One ``msm_event`` as bytes (C checks the values when the batch is run)."""
    for name, v in (("domid", domid), ("a", a), ("b", b), ("kind", kind)):
        if not 0 <= int(v) <= U32_MAX:
            raise ValueError(f"{name} {v} is not a uint32")
    if not 0 <= ts_ns < 1 << 64:
        raise ValueError(f"ts_ns {ts_ns} is not a uint64")
    raw = domain.bytes if domain is not None else bytes(16)
    return EVENT_RECORD.pack(ts_ns, int(kind), domid, a, b, raw)


class Evaluation:
    """A sealed staged policy and the domains live under it while a stream is decided.

    Build it from every object of the staged policy; the constructor seals it (the
    reference and name checks of a commit) and raises :class:`CommitRefused` when the
    policy would not commit. Then feed the recorded stream in batches to :meth:`run`;
    live domains and rate windows carry over from one batch to the next.
    """

    def __init__(self, objects: Iterable[PolicyObject]) -> None:
        out = ffi.new("msm_eval **")
        check(lib.msm_eval_new(out), None, "eval new")
        self._ev: Any = ffi.gc(out[0], lib.msm_eval_free)
        names: dict[uuid.UUID, str] = {}
        for obj in objects:
            objtype_of(obj)
            objtype, c = object_to_c(obj)
            check(
                lib.msm_eval_put(self._ev, objtype, c, ffi.sizeof(C_TYPES[objtype])),
                None,
                f"eval put {objtype.name.lower()}",
            )
            if isinstance(obj, _NAMED):
                names[obj.id] = obj.name
        err = ffi.new("msm_commit_error *")
        rc = lib.msm_eval_seal(self._ev, err, ffi.sizeof("msm_commit_error"))
        if rc == Status.EVALIDATE:
            check(rc, None, "eval seal", _commit_error(err), lambda: CommitNames(names, {}))
        check(rc, None, "eval seal")
        self._counts = ffi.new("msm_eval_counts *")
        self._dec_buf: Any = None

    def run(self, events: bytes | bytearray | memoryview) -> tuple[bytes, EvalCounts]:
        """Decides a packed batch of events (``EVENT_RECORD`` back to back).

        Returns:
            One :class:`EvalDecision` value per event (as bytes) and the batch's tallies.

        Raises:
            InvalidArgument: An event is malformed (nothing of the batch was decided).
        """
        view = memoryview(events).cast("B")
        if len(view) % EVENT_RECORD.size:
            raise ValueError(f"{len(view)} bytes is not a whole number of events")
        n = len(view) // EVENT_RECORD.size
        if n > U32_MAX:
            raise ValueError("too many events in one batch")
        if self._dec_buf is None or len(self._dec_buf) < n:
            self._dec_buf = ffi.new("uint8_t[]", max(n, 1))
        src = ffi.from_buffer("msm_event[]", view) if n else ffi.NULL
        check(
            lib.msm_eval_run(
                self._ev,
                src,
                ffi.sizeof("msm_event"),
                n,
                self._dec_buf,
                self._counts,
                ffi.sizeof("msm_eval_counts"),
            ),
            None,
            "eval run",
        )
        c = self._counts
        counts = EvalCounts(
            events=int(c.events),
            by_decision={d: int(c.by_decision[d]) for d in EvalDecision},
            live_domains=int(c.live_domains),
        )
        return ffi.buffer(self._dec_buf, n)[:], counts

    def run_events(self, events: Sequence[bytes]) -> list[EvalDecision]:
        """Convenience for short streams: decides ``pack_event`` records one batch."""
        decisions, _ = self.run(b"".join(events))
        return [EvalDecision(d) for d in decisions]
