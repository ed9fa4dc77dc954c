"""The XE REST API's history models (violations and statistics of every host): shared by the
routes (``api``) and the client. Times are given twice: ISO 8601 (``ts``) and integer
microseconds since the epoch (``ts_us``, exact, what ``since``/``until`` round-trip)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from enterprise_store.schemas import Resource, fields_model

__all__ = [
    "IngestHostOut",
    "StatsOut",
    "StatsPointOut",
    "StatsSeriesOut",
    "ViolationFields",
    "ViolationGroupOut",
    "ViolationOut",
    "ViolationSummaryOut",
]

ViolationKind = Literal["profile", "rate", "channel"]


class ViolationOut(Resource):
    """One violation a host's MSM reported, as XE stored it.

    ``vm_id``/``enclave_id`` are what it was attributed to when it arrived; names are the
    objects' current names (null once removed, or for a domain XE does not manage).
    """

    host_id: str
    host_name: str | None
    epoch: int = Field(description="Run of the host's XPS (its seq numbering restarts).")
    seq: int = Field(description="The host's number of the record in that run.")
    ts: dt.datetime
    ts_us: int
    domid: int
    domain: str = Field(description="The domain's name on the host.")
    vm_id: str | None
    vm_name: str | None
    enclave_id: str | None
    enclave_name: str | None
    seclabel_id: str | None
    seclabel_name: str
    kind: str = Field(description="profile, rate or channel.")
    hypercall: int
    hypercall_name: str
    subop: int
    peer: int | None = Field(description="The other domain of a refused channel.")
    count: int = Field(description="The domain's violation count after this one.")


ViolationFields = fields_model(ViolationOut)


class ViolationGroupOut(Resource):
    """Violations of one hypercall by one VM (or unmanaged domain) on one host."""

    enclave_id: str | None
    enclave_name: str | None
    host_id: str
    host_name: str | None
    vm_id: str | None
    vm_name: str | None
    domain: str
    hypercall: int
    hypercall_name: str
    violations: int
    per_minute: float = Field(description="violations / the window's minutes.")
    first: dt.datetime
    last: dt.datetime


class ViolationSummaryOut(Resource):
    """Counts grouped enclave → host → VM → hypercall, largest first (fleet incidents)."""

    since: dt.datetime
    until: dt.datetime
    since_us: int
    until_us: int
    total: int = Field(description="Every matching violation; the groups' sum unless truncated.")
    groups: list[ViolationGroupOut]
    truncated: bool


class StatsPointOut(Resource):
    """Means over ``samples`` samples from ``ts_us`` (a single sample in the raw tier)."""

    ts_us: int
    cpu_pct: float
    mem_kb: float
    vcpus: float
    samples: int


class StatsSeriesOut(Resource):
    """A host's series (``domain`` empty) or one of its domains'."""

    host_id: str
    host_name: str | None
    domain: str
    vm_id: str | None
    enclave_id: str | None
    points: list[StatsPointOut]


class StatsOut(Resource):
    """Series of one tier (``step_s`` 0: every sample as the host took it)."""

    tier: int
    step_s: int
    since_us: int
    until_us: int | None
    series: list[StatsSeriesOut]
    truncated: bool


class IngestHostOut(Resource):
    """How far XE has stored a host's violations."""

    host_id: str
    host_name: str | None
    epoch: int
    seq: int
    host_dropped: int = Field(description="Records the host's MSM ring overflowed (its count).")
    lost: int = Field(description="Records gone from the host's window before XE fetched them.")
    updated_at: dt.datetime
