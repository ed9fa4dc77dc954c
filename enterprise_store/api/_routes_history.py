"""``/api/v1/history``: every host's violations (paged, grouped) and statistics series."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from enterprise_store._errors import InvalidInput
from enterprise_store.api._auth import Caller, ServicesDep, doc
from enterprise_store.api._collections import (
    Cursor,
    Fields,
    Limit,
    decode_cursor,
    page,
    parse_fields,
)
from enterprise_store.schemas import Page
from enterprise_store.schemas_history import (
    IngestHostOut,
    StatsOut,
    StatsPointOut,
    StatsSeriesOut,
    ViolationFields,
    ViolationGroupOut,
    ViolationOut,
    ViolationSummaryOut,
)
from enterprise_store.services import Services
from enterprise_store.services._history import (
    HistoryService,
    StatsQuery,
    ViolationQuery,
    ViolationRecord,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/history", tags=["history"])

_SCOPED = "Scoped callers see the violations and VM series of their enclaves only."
Uuid = Annotated[
    str | None, Query(min_length=1, max_length=255, description="A UUID or a current name.")
]
Since = Annotated[dt.datetime | None, Query(description="At or after (ISO 8601).")]
Until = Annotated[dt.datetime | None, Query(description="Before (ISO 8601).")]


async def _history(services: ServicesDep) -> HistoryService:
    history = getattr(services, "history", None)
    if isinstance(history, HistoryService):
        return history
    return _fallback(services)


def _fallback(services: Services) -> HistoryService:
    # Services built before the history service was part of them: one per store.
    held = services.__dict__.get("_history_service")
    if not isinstance(held, HistoryService):
        held = HistoryService(services.store)
        services.__dict__["_history_service"] = held
    return held


History = Annotated[HistoryService, Depends(_history)]


def _us(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return int(value.timestamp() * 1_000_000)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput("since/until out of range") from None


def _time(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1_000_000, tz=dt.UTC)


def _violation(r: ViolationRecord) -> ViolationOut:
    return ViolationOut(
        host_id=r.host_id, host_name=r.host_name, epoch=r.epoch, seq=r.seq, ts=_time(r.ts_us),
        ts_us=r.ts_us, domid=r.domid, domain=r.domain, vm_id=r.vm_id, vm_name=r.vm_name,
        enclave_id=r.enclave_id, enclave_name=r.enclave_name, seclabel_id=r.seclabel_id,
        seclabel_name=r.seclabel_name, kind=r.kind, hypercall=r.hypercall,
        hypercall_name=r.hypercall_name, subop=r.subop, peer=r.peer, count=r.count,
    )  # fmt: skip


@router.get(
    "/violations",
    summary="List violations, newest first",
    response_model=Page[ViolationFields],  # type: ignore[valid-type]
    **doc("auditor", note=_SCOPED),
)
async def list_violations(
    caller: Caller,
    history: History,
    enclave: Uuid = None,
    host: Uuid = None,
    vm: Uuid = None,
    domain: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    kind: Annotated[str | None, Query(pattern="^(profile|rate|channel)$")] = None,
    hypercall: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    since: Since = None,
    until: Until = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    selected = parse_fields(fields, ViolationOut)
    result = await history.violations(
        caller,
        ViolationQuery(
            enclave=enclave, host=host, vm=vm, domain=domain, kind=kind, hypercall=hypercall,
            since_us=_us(since), until_us=_us(until), limit=limit, after=decode_cursor(cursor),
        ),
    )  # fmt: skip
    return page(ViolationOut, (_violation(r) for r in result.items), result.next, selected)


@router.get(
    "/violations/summary",
    summary="Violation counts and rates by enclave, host, VM and hypercall",
    response_model=ViolationSummaryOut,
    **doc(
        "auditor",
        note=f"{_SCOPED} The window is `since`..`until`, by default the last hour; `total` "
        "counts every matching violation.",
    ),
)
async def violation_summary(
    caller: Caller,
    history: History,
    enclave: Uuid = None,
    host: Uuid = None,
    vm: Uuid = None,
    domain: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    kind: Annotated[str | None, Query(pattern="^(profile|rate|channel)$")] = None,
    hypercall: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Groups.")] = 1000,
) -> ViolationSummaryOut:
    summary = await history.violation_summary(
        caller,
        ViolationQuery(
            enclave=enclave, host=host, vm=vm, domain=domain, kind=kind, hypercall=hypercall,
            since_us=_us(since), until_us=_us(until),
        ),
        limit=limit,
    )  # fmt: skip
    return ViolationSummaryOut(
        since=_time(summary.since_us),
        until=_time(summary.until_us),
        since_us=summary.since_us,
        until_us=summary.until_us,
        total=summary.total,
        truncated=summary.truncated,
        groups=[
            ViolationGroupOut(
                enclave_id=g.enclave_id, enclave_name=g.enclave_name, host_id=g.host_id,
                host_name=g.host_name, vm_id=g.vm_id, vm_name=g.vm_name, domain=g.domain,
                hypercall=g.hypercall, hypercall_name=g.hypercall_name,
                violations=g.violations, per_minute=g.per_minute, first=_time(g.first_us),
                last=_time(g.last_us),
            )
            for g in summary.groups
        ],
    )  # fmt: skip


@router.get(
    "/stats",
    summary="Statistics series of hosts and their domains",
    response_model=StatsOut,
    **doc(
        "auditor",
        note=f"{_SCOPED} `domain=` (empty) is the whole host: unscoped callers only. Give "
        "`range` (10m, 2h, 1d, 1w: the host's own tiers) or `since`.",
    ),
)
async def stats(
    caller: Caller,
    history: History,
    host: Uuid = None,
    vm: Uuid = None,
    domain: Annotated[str | None, Query(max_length=255)] = None,
    range: Annotated[str | None, Query(pattern="^(10m|2h|1d|1w)$")] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Points.")] = 10_000,
) -> StatsOut:
    result = await history.stats(
        caller,
        StatsQuery(
            host=host, vm=vm, domain=domain, range=range or ("10m" if since is None else None),
            since_us=_us(since), until_us=_us(until), limit=limit,
        ),
    )  # fmt: skip
    return StatsOut(
        tier=result.tier,
        step_s=result.step_s,
        since_us=result.since_us,
        until_us=result.until_us,
        truncated=result.truncated,
        series=[
            StatsSeriesOut(
                host_id=s.host_id, host_name=s.host_name, domain=s.domain, vm_id=s.vm_id,
                enclave_id=s.enclave_id,
                points=[
                    StatsPointOut(ts_us=p.ts_us, cpu_pct=p.cpu_pct, mem_kb=p.mem_kb,
                                  vcpus=p.vcpus, samples=p.samples)
                    for p in s.points
                ],
            )
            for s in result.series
        ],
    )  # fmt: skip


@router.get(
    "/ingest",
    summary="How far XE has stored each host's violations",
    response_model=list[IngestHostOut],
    **doc("auditor", note="Unscoped callers only (it covers every enclave)."),
)
async def ingest_status(caller: Caller, history: History) -> list[IngestHostOut]:
    return [
        IngestHostOut(
            host_id=h.host_id, host_name=h.host_name, epoch=h.epoch, seq=h.seq,
            host_dropped=h.host_dropped, lost=h.lost, updated_at=_time(h.updated_at_us),
        )
        for h in await history.ingest_status(caller)
    ]  # fmt: skip
