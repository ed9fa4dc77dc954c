"""Typed shapes of the main results (TypedDicts over the JSON of the host contract)."""

from __future__ import annotations

from typing import Any, TypedDict


class HypervisorInfo(TypedDict):
    """``GetHypervisorInfo``."""

    xen_version: str
    msm_version: str
    msm_status: str
    backend: str
    policy_generation: int
    policy_id: str | None
    policy_name: str | None
    hostname: str
    cpus: int
    mem_kb: int
    free_mem_kb: int
    uptime_s: float


class DomainInfo(TypedDict):
    """One row of ``GetDomainRunStates``."""

    domid: int
    name: str
    uuid: str
    state: str
    run_state: str
    mem_mb: int
    vcpus: int
    cpu_s: float
    seclabel: str | None
    seclabel_name: str
    tag: str | None
    tag_name: str
    stopped_by_msm: bool
    violations: int


class DomainRunStates(TypedDict):
    """``GetDomainRunStates``."""

    domains: list[DomainInfo]
    xl_list: str


class DomainAction(TypedDict):
    """Pause/Unpause/Shutdown/Reboot/DestroyDomain."""

    domid: int
    run_state: str


class Violation(TypedDict):
    """One violation record."""

    seq: int
    ts: str
    ts_ns: int
    domid: int
    domain: str
    seclabel: str | None
    seclabel_name: str
    profile: str
    kind: str
    hypercall: int
    hypercall_name: str
    subop: int
    peer: int | None
    count: int


class Violations(TypedDict):
    """``GetViolations`` and the data of a ``violations`` event."""

    violations: list[Violation]
    last_seq: int
    dropped: int


class PolicyVersion(TypedDict):
    """ActivatePolicy / RollbackPolicy and the data of a ``policy`` event."""

    generation: int
    sha256: str


class StoredPolicy(TypedDict):
    """``GetPolicy``."""

    which: str
    generation: int
    sha256: str
    xml: str
    policy: dict[str, Any]


class Authorization(TypedDict):
    """One entry of ``ListAuthorizations``."""

    alias: str
    subject: str
    fingerprint: str
    not_after: str


class Authorizations(TypedDict):
    """``ListAuthorizations``."""

    authorizations: list[Authorization]
    writable: bool
