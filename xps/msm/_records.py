"""Immutable results read back from the module: domains, violations, counters."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from xps.msm._enums import ViolationKind

__all__ = ["DomainInfo", "Info", "RunCounts", "Violation"]


@dataclass(frozen=True, slots=True)
class DomainInfo:
    """One live domain (``msm_domain_info``); dom0 has nil seclabel and tag UUIDs.

    ``state``, ``guest_type`` and ``os`` are :class:`RunState`/:class:`GuestType`/
    :class:`GuestOS` members when the value is a known one (plain ints otherwise, e.g. from
    a hypervisor newer than this code); ``shutdown_reason`` is only meaningful in
    :attr:`RunState.SHUTDOWN`.
    """

    domid: int
    state: int
    uuid: UUID
    name: str
    seclabel: UUID
    tag: UUID
    guest_type: int
    os: int
    shutdown_reason: int
    stopped_by_msm: bool
    cpu_ns: int
    cur_mem_kb: int
    max_mem_kb: int
    vcpus_online: int
    max_vcpus: int
    violations: int
    hypercalls: int
    created_ns: int


@dataclass(frozen=True, slots=True)
class Violation:
    """One record of the violation ring (``msm_violation``).

    Attributes:
        ts_ns: Time of the denied call (the ``now_ns`` it was decided at).
        nr: Hypercall number as issued (a channel records 32 or 20).
        subop: Sub-op as issued; 0 when ``nr`` has no sub-ops.
        peer: Channel peer domid, ``None`` for hypercall violations.
        count: The domain's violation count after this one.
    """

    ts_ns: int
    domid: int
    kind: ViolationKind
    seclabel: UUID
    nr: int
    subop: int
    peer: int | None
    count: int


@dataclass(frozen=True, slots=True)
class Info:
    """Context-wide state and counters (``msm_info``); ``backend`` is a :class:`Backend`."""

    interface_version: int
    backend: int
    generation: int
    n_profiles: int
    n_tags: int
    n_conflicts: int
    n_seclabels: int
    n_bindings: int
    n_devices: int
    n_domains: int
    host_cpus: int
    host_mem_kb: int
    free_mem_kb: int
    now_ns: int
    ring_capacity: int
    ring_used: int
    ring_dropped: int
    hypercalls_checked: int
    hypercalls_denied: int
    channels_checked: int
    channels_denied: int
    pages_scrubbed: int
    txn_open: bool


@dataclass(frozen=True, slots=True)
class RunCounts:
    """What one ``msm_sim_run`` call did (``msm_run_counts``)."""

    hypercalls: int
    allowed: int
    denied_profile: int
    denied_rate: int
    denied_channel: int
    channels: int
    domains_stopped: int
    ring_dropped: int
    elapsed_ns: int
