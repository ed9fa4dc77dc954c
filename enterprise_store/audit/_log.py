"""The audit log in the store: append inside a write unit, list with filters, verify the chain."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store.audit._chain import (
    GENESIS,
    AuditRecord,
    ChainVerifier,
    VerifyReport,
    canonical_json,
    record_hash,
)
from enterprise_store.store import Store
from enterprise_store.store._schema import audit_head, audit_log

__all__ = ["AuditEntry", "AuditLog", "AuditQuery", "clean_text"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SECRET_KEY = re.compile(r"pass(word)?|secret|token(?!_id)|private|credential", re.IGNORECASE)
_LIMITS = {"actor": 80, "source": 200, "action": 64, "object": 200, "result": 80}
_COLUMNS = (
    "seq",
    "ts_us",
    "actor",
    "source",
    "action",
    "object",
    "result",
    "enclaves",
    "details",
    "prev_hash",
    "hash",
)
_VERIFY_PAGE = 5000


def clean_text(value: str, limit: int) -> str:
    """``value`` with control characters escaped (``\\xNN``) and cut to ``limit`` characters.

    Audit fields come partly from untrusted input (a user name typed at a failed login);
    escaped, they cannot forge lines or terminal sequences wherever they are printed.
    """
    escaped = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def _redact(details: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if _SECRET_KEY.search(key):
            out[key] = "[redacted]"
        elif isinstance(value, Mapping):
            out[key] = _redact(value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a service records: who, from where, what, on what, with which result.

    Keys of ``details`` that name a secret (password, token, secret, private, credential)
    are stored as ``[redacted]``, whatever the caller passed.
    """

    actor: str
    source: str
    action: str
    object: str
    result: str = "ok"
    enclaves: Sequence[str] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters and paging of :meth:`AuditLog.list` (newest first).

    Attributes:
        actor: Exact actor.
        action: Exact action, or a prefix ending in ``.`` (``user.`` = every user action).
        object: Exact object.
        result: Exact result, or ``refused`` for every refusal.
        since_us: Records at or after this time.
        until_us: Records before this time.
        before_seq: Paging: records older than this one.
        limit: Page size.
    """

    actor: str | None = None
    action: str | None = None
    object: str | None = None
    result: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    before_seq: int | None = None
    limit: int = 100


def _row_record(row: Row[Any]) -> AuditRecord:
    try:
        enclaves = tuple(str(e) for e in json.loads(row.enclaves))
    except (ValueError, TypeError):
        enclaves = (f"<unreadable {row.enclaves!r}>",)
    try:
        details = json.loads(row.details)
        if not isinstance(details, dict):
            details = {"<unreadable>": row.details}
    except (ValueError, TypeError):
        details = {"<unreadable>": row.details}
    return AuditRecord(
        seq=int(row.seq),
        ts_us=int(row.ts_us),
        actor=row.actor,
        source=row.source,
        action=row.action,
        object=row.object,
        result=row.result,
        enclaves=enclaves,
        details=details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class AuditLog:
    """The hash-chained audit log of one store.

    Args:
        store: The store.
        clock: Wall-clock seconds (tests pass a fake one).
    """

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def _record(self, entry: AuditEntry, seq: int, prev_hash: str) -> AuditRecord:
        enclaves = tuple(sorted({str(e) for e in entry.enclaves}))
        details = json.loads(canonical_json(_redact(entry.details)))
        rec = AuditRecord(
            seq=seq,
            ts_us=int(self._clock() * 1_000_000),
            actor=clean_text(entry.actor, _LIMITS["actor"]),
            source=clean_text(entry.source, _LIMITS["source"]),
            action=clean_text(entry.action, _LIMITS["action"]),
            object=clean_text(entry.object, _LIMITS["object"]),
            result=clean_text(entry.result, _LIMITS["result"]),
            enclaves=enclaves,
            details=details,
            prev_hash=prev_hash,
        )
        return replace(rec, hash=record_hash(rec))

    @staticmethod
    def _values(rec: AuditRecord) -> tuple[Any, ...]:
        return (
            rec.seq,
            rec.ts_us,
            rec.actor,
            rec.source,
            rec.action,
            rec.object,
            rec.result,
            canonical_json(list(rec.enclaves)),
            canonical_json(dict(rec.details)),
            rec.prev_hash,
            rec.hash,
        )

    async def _head(self, conn: AsyncConnection) -> tuple[int, str] | None:
        row = (
            await conn.execute(
                select(audit_head.c.seq, audit_head.c.hash)
                .where(audit_head.c.id == 1)
                .with_for_update()  # PostgreSQL: orders appends of several processes
            )
        ).first()
        return None if row is None else (int(row.seq), str(row.hash))

    async def append(
        self, conn: AsyncConnection, entries: Iterable[AuditEntry]
    ) -> list[AuditRecord]:
        """Appends records in the write unit ``conn`` belongs to (they commit with it).

        Raises:
            RuntimeError: ``conn`` is not inside a write unit of the store.
        """
        if not self._store.in_unit:
            raise RuntimeError("audit records are written inside the change's write unit")
        head = await self._head(conn)
        seq, prev = head if head is not None else (0, GENESIS)
        records: list[AuditRecord] = []
        for entry in entries:
            seq += 1
            rec = self._record(entry, seq, prev)
            records.append(rec)
            prev = rec.hash
        if not records:
            return records
        await conn.exec_driver_sql(
            self._store.insert_sql(audit_log, _COLUMNS), [self._values(r) for r in records]
        )
        if head is None:
            await conn.execute(audit_head.insert().values(id=1, seq=seq, hash=prev))
        else:
            await conn.execute(
                audit_head.update().where(audit_head.c.id == 1).values(seq=seq, hash=prev)
            )
        return records

    async def record(self, entry: AuditEntry) -> AuditRecord:
        """Appends one record in a write unit of its own (or the current one)."""
        async with self._store.atomic() as conn:
            return (await self.append(conn, [entry]))[0]

    async def list(
        self, query: AuditQuery, *, visible: Callable[[AuditRecord], bool] | None = None
    ) -> tuple[list[AuditRecord], int | None]:
        """One page of records, newest first, and the ``before_seq`` of the next page.

        Args:
            query: Filters and paging.
            visible: Keeps only records this returns true for (scope filtering); pages are
                filled from further rows until ``limit`` records are visible.
        """
        limit = max(1, min(query.limit, 1000))
        stmt = select(audit_log).order_by(audit_log.c.seq.desc())
        if query.actor is not None:
            stmt = stmt.where(audit_log.c.actor == query.actor)
        if query.action is not None:
            if query.action.endswith("."):
                stmt = stmt.where(audit_log.c.action.startswith(query.action, autoescape=True))
            else:
                stmt = stmt.where(audit_log.c.action == query.action)
        if query.object is not None:
            stmt = stmt.where(audit_log.c.object == query.object)
        if query.result == "refused":
            stmt = stmt.where(audit_log.c.result.startswith("refused:"))
        elif query.result is not None:
            stmt = stmt.where(audit_log.c.result == query.result)
        if query.since_us is not None:
            stmt = stmt.where(audit_log.c.ts_us >= query.since_us)
        if query.until_us is not None:
            stmt = stmt.where(audit_log.c.ts_us < query.until_us)
        before = query.before_seq
        out: list[AuditRecord] = []
        async with self._store.read() as conn:
            while len(out) < limit:
                page_stmt = stmt if before is None else stmt.where(audit_log.c.seq < before)
                rows = (await conn.execute(page_stmt.limit(limit + 1))).all()
                for row in rows[:limit]:
                    rec = _row_record(row)
                    before = rec.seq
                    if visible is None or visible(rec):
                        out.append(rec)
                        if len(out) == limit:
                            break
                if len(rows) <= limit:  # no more rows
                    return out, None
            more = (
                await conn.execute(
                    stmt.with_only_columns(audit_log.c.seq).where(audit_log.c.seq < before).limit(1)
                )
            ).first()
        return out, (before if more is not None else None)

    async def verify(self, *, expect: str | None = None) -> VerifyReport:
        """Checks the whole chain in one snapshot.

        Args:
            expect: A fingerprint taken earlier; both of its hashes must still be in the chain.
        """
        verifier = ChainVerifier()
        if expect:
            verifier.expect(expect)
        async with self._store.read() as conn:
            head_row = (
                await conn.execute(
                    select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
                )
            ).first()
            after = 0
            while True:
                rows = (
                    await conn.execute(
                        select(audit_log)
                        .where(audit_log.c.seq > after)
                        .order_by(audit_log.c.seq)
                        .limit(_VERIFY_PAGE)
                    )
                ).all()
                if not rows:
                    break
                verifier.feed(_row_record(r) for r in rows)
                after = int(rows[-1].seq)
        head = None if head_row is None else (int(head_row.seq), str(head_row.hash))
        return verifier.finish(head)

    async def count(self) -> int:
        """Number of stored records."""
        async with self._store.read() as conn:
            row = (await conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1))).first()
        return 0 if row is None else int(row.seq)
