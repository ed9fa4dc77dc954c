"""A small built-in policy and domain set for ``xenon msm simulate`` and the benchmark.

The profiles cover exactly the hypercall mixes of the sim's workload generator (see
``native/src/msm_workload.c``), so a well-behaved guest is never denied; the official ten
profiles of the report live in :mod:`xps.policy`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from xps.msm._context import Msm
from xps.msm._enums import ConflictLevel, GuestOS, GuestType, Misbehaviour, Role
from xps.msm._errors import MsmError
from xps.msm._objects import (
    Binding,
    ConflictSet,
    DomainConfig,
    HypercallProfile,
    PolicyObject,
    SecLabel,
    Tag,
)

__all__ = ["DEMO_DOMAINS", "WORKLOAD_PROFILES", "DemoDomain", "demo_policy", "install_demo"]

_NS = uuid.UUID("6f1c1f1e-5b7a-4c55-9a37-3c1d1e0a0001")


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NS, name)


def _profile(name: str, plain: set[int], subops: dict[int, set[int]]) -> HypercallProfile:
    return HypercallProfile(
        _id("profile/" + name),
        name,
        frozenset(plain | set(subops)),
        {nr: frozenset(s) for nr, s in subops.items()},
    )


WORKLOAD_PROFILES: tuple[HypercallProfile, ...] = (
    # PV Linux: page-table and trap hypercalls plus the common event/grant/timer set.
    _profile(
        "pv-linux-guest",
        {1, 3, 5, 10, 13, 14, 15, 17, 18, 23, 25},
        {
            12: {0, 1, 6},
            20: {0, 1, 5},
            24: {8, 9},
            26: {0, 4, 5, 6, 7},
            29: {0, 1},
            30: {0},
            32: {4, 9},
            33: {12},
        },
    ),
    # PVH, PVHVM and HVM guests (Linux and Windows): no PV MMU, hvm_op instead.
    _profile(
        "hvm-guest",
        {17, 18},
        {
            12: {0, 1, 3, 6, 7},
            20: {0, 1, 5, 6},
            24: {4, 8, 9, 10},
            29: {0, 1},
            32: {4, 9},
            33: {12},
            34: {0, 1, 5, 10},
        },
    ),
)


@dataclass(frozen=True, slots=True)
class DemoDomain:
    """One domain of the demo: its config, tag and injected misbehaviour."""

    config: DomainConfig
    tag: str
    misbehaviour: Misbehaviour | None = None
    per_million: int = 0


_TAGS = ("secret", "topsecret", "public")


def _dom(
    name: str,
    tag: str,
    gt: GuestType,
    os: GuestOS,
    vcpus: int,
    mis: Misbehaviour | None = None,
    rate: int = 0,
) -> DemoDomain:
    cfg = DomainConfig(
        _id("domain/" + name), name, gt, os, 512 * 1024, 1024 * 1024, vcpus, vcpus, 600
    )
    return DemoDomain(cfg, tag, mis, rate)


DEMO_DOMAINS: tuple[DemoDomain, ...] = (
    _dom("web-1", "public", GuestType.PV, GuestOS.LINUX, 2),
    _dom("web-2", "public", GuestType.PVH, GuestOS.LINUX, 2, Misbehaviour.CROSS_TAG, 2000),
    _dom("desktop", "public", GuestType.HVM, GuestOS.WINDOWS, 2),
    _dom("analyst", "secret", GuestType.PVHVM, GuestOS.LINUX, 4, Misbehaviour.RATE_BURST, 100),
    _dom("mail", "secret", GuestType.HVM, GuestOS.LINUX, 1, Misbehaviour.OUT_OF_PROFILE, 3000),
    # Refused at start: topsecret shares a no-coresidence set with the running secret.
    _dom("vault", "topsecret", GuestType.PVH, GuestOS.LINUX, 1),
)


def demo_policy(domains: tuple[DemoDomain, ...] = DEMO_DOMAINS) -> list[PolicyObject]:
    """The demo policy: three tags, secret/topsecret kept apart, a label per tag and kind."""
    objs: list[PolicyObject] = list(WORKLOAD_PROFILES)
    objs += [Tag(_id("tag/" + t), t) for t in _TAGS]
    objs.append(
        ConflictSet(
            _id("set/wall"),
            "secret-wall",
            ConflictLevel.NO_CORESIDENCE,
            (_id("tag/secret"), _id("tag/topsecret")),
        )
    )
    for t in _TAGS:
        for p in WORKLOAD_PROFILES:
            objs.append(
                SecLabel(
                    _id(f"label/{t}/{p.name}"),
                    f"{t}-{p.name}",
                    p.id,
                    _id("tag/" + t),
                    Role.NONE,
                    max_rate=200,
                    max_violations=25,
                )
            )
    for d in domains:
        profile = WORKLOAD_PROFILES[0 if d.config.guest_type is GuestType.PV else 1]
        objs.append(Binding(d.config.uuid, _id(f"label/{d.tag}/{profile.name}")))
    return objs


def install_demo(
    msm: Msm, domains: tuple[DemoDomain, ...] = DEMO_DOMAINS, misbehave: bool = True
) -> list[tuple[str, int | MsmError]]:
    """Commits the demo policy and starts its domains in order.

    Returns:
        Per domain name: its domid, or the error that refused its start.
    """
    msm.apply(demo_policy(domains))
    out: list[tuple[str, int | MsmError]] = []
    for d in domains:
        try:
            domid = msm.create_domain(d.config)
        except MsmError as exc:
            out.append((d.config.name, exc))
            continue
        if misbehave and d.misbehaviour is not None:
            msm.set_misbehaviour(domid, d.misbehaviour, d.per_million)
        out.append((d.config.name, domid))
    return out
