"""``/api/v1/audit``: the audit log (filtered, paged) and the chain's verification."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response

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
from enterprise_store.audit import AuditQuery, AuditRecord
from enterprise_store.schemas import (
    AuditProblemOut,
    AuditRecordFields,
    AuditRecordOut,
    AuditVerifyOut,
    Page,
)
from enterprise_store.services import Page as ServicePage

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["audit"])


def _record(rec: AuditRecord) -> AuditRecordOut:
    return AuditRecordOut(
        seq=rec.seq,
        ts=dt.datetime.fromtimestamp(rec.ts_us / 1_000_000, tz=dt.UTC),
        ts_us=rec.ts_us,
        actor=rec.actor,
        source=rec.source,
        action=rec.action,
        object=rec.object,
        result=rec.result,
        enclaves=list(rec.enclaves),
        details=dict(rec.details),
        prev_hash=rec.prev_hash,
        hash=rec.hash,
    )


def _us(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1_000_000)


@router.get(
    "/audit",
    summary="List audit records, newest first",
    response_model=Page[AuditRecordFields],  # type: ignore[valid-type]
    **doc("auditor", note="Scoped callers see their enclaves' records and their own."),
)
async def list_audit(
    caller: Caller,
    services: ServicesDep,
    actor: Annotated[str | None, Query(max_length=80)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="Exact, or a prefix ending in `.`.")
    ] = None,
    object: Annotated[str | None, Query(max_length=200)] = None,
    result: Annotated[
        str | None, Query(max_length=80, description="Exact, or `refused` for every refusal.")
    ] = None,
    since: Annotated[dt.datetime | None, Query(description="At or after (ISO 8601).")] = None,
    until: Annotated[dt.datetime | None, Query(description="Before (ISO 8601).")] = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    selected = parse_fields(fields, AuditRecordOut)
    key = decode_cursor(cursor)
    if key is not None and not key.isdigit():
        raise InvalidInput("invalid cursor: pass next_cursor back unchanged")
    try:
        since_us, until_us = _us(since), _us(until)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput("since/until out of range") from None
    result_page: ServicePage[AuditRecord] = await services.audit.list(
        caller,
        AuditQuery(
            actor=actor,
            action=action,
            object=object,
            result=result,
            since_us=since_us,
            until_us=until_us,
            before_seq=None if key is None else int(key),
            limit=limit,
        ),
    )
    return page(AuditRecordOut, (_record(r) for r in result_page.items), result_page.next, selected)


@router.get(
    "/audit/verify",
    summary="Verify the hash chain and get its fingerprint",
    response_model=AuditVerifyOut,
    **doc(
        "auditor",
        note="Unscoped auditors and up (it reads every record). Keep the fingerprint "
        "elsewhere and pass it back as `expect` to prove the chain was not rewritten.",
    ),
)
async def verify_audit(
    caller: Caller,
    services: ServicesDep,
    expect: Annotated[
        str | None, Query(max_length=129, description="An earlier `oldest|newest` fingerprint.")
    ] = None,
) -> AuditVerifyOut:
    report = await services.audit.verify(caller, expect=expect)
    return AuditVerifyOut(
        ok=report.ok,
        count=report.count,
        fingerprint=report.fingerprint,
        problems=[
            AuditProblemOut(seq=p.seq, code=p.code, message=p.message) for p in report.problems
        ],
        truncated_problems=report.truncated_problems,
    )
