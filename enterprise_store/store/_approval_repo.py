"""Rows of the two-person approval tables (see ``_approval_schema``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store.store._approval_schema import OPEN_STATES, enclave_approval, policy_approvals

__all__ = ["ApprovalRepo", "ApprovalRow", "EnclaveFlag"]


@dataclass(frozen=True, slots=True)
class EnclaveFlag:
    """Whether an enclave requires two-person approval, and who last set that."""

    enclave_id: str
    required: bool
    set_by: str
    set_at_us: int
    disable_requested_by: str | None


@dataclass(frozen=True, slots=True)
class ApprovalRow:
    """One flagged enclave's change in one policy version."""

    version: int
    enclave_id: str
    enclave_name: str
    state: str
    authors: tuple[str, ...]
    base_version: int
    base_text: str
    new_text: str
    created_at_us: int
    decided_by: str | None = None
    decided_at_us: int | None = None
    note: str | None = None
    superseded_by: int | None = None


def _row(r: Any) -> ApprovalRow:
    return ApprovalRow(
        version=int(r.version),
        enclave_id=r.enclave_id,
        enclave_name=r.enclave_name,
        state=r.state,
        authors=tuple(json.loads(r.authors)),
        base_version=int(r.base_version),
        base_text=r.base_text,
        new_text=r.new_text,
        created_at_us=int(r.created_at_us),
        decided_by=r.decided_by,
        decided_at_us=None if r.decided_at_us is None else int(r.decided_at_us),
        note=r.note,
        superseded_by=None if r.superseded_by is None else int(r.superseded_by),
    )


def _flag(r: Any) -> EnclaveFlag:
    return EnclaveFlag(
        enclave_id=r.enclave_id,
        required=bool(r.required),
        set_by=r.set_by,
        set_at_us=int(r.set_at_us),
        disable_requested_by=r.disable_requested_by,
    )


class ApprovalRepo:
    """Reads and writes of ``enclave_approval`` and ``policy_approvals``."""

    async def flags(self, conn: AsyncConnection) -> dict[str, EnclaveFlag]:
        """Every enclave's flag row, by enclave id."""
        rows = (await conn.execute(select(enclave_approval))).all()
        return {r.enclave_id: _flag(r) for r in rows}

    async def required(self, conn: AsyncConnection) -> set[str]:
        """The enclaves that require approval now."""
        query = select(enclave_approval.c.enclave_id).where(enclave_approval.c.required)
        return {str(r[0]) for r in (await conn.execute(query)).all()}

    async def put_flag(self, conn: AsyncConnection, flag: EnclaveFlag) -> None:
        """Writes an enclave's flag row (insert or replace)."""
        values = {
            "required": flag.required,
            "set_by": flag.set_by,
            "set_at_us": flag.set_at_us,
            "disable_requested_by": flag.disable_requested_by,
        }
        done = await conn.execute(
            update(enclave_approval)
            .where(enclave_approval.c.enclave_id == flag.enclave_id)
            .values(**values)
        )
        if done.rowcount == 0:
            await conn.execute(
                insert(enclave_approval).values(enclave_id=flag.enclave_id, **values)
            )

    async def open_rows(
        self, conn: AsyncConnection, enclaves: Sequence[str] | None = None
    ) -> list[ApprovalRow]:
        """Rows still holding propagation back (pending or rejected), oldest first;
        ``enclaves`` narrows to those enclaves."""
        query = select(policy_approvals).where(policy_approvals.c.state.in_(OPEN_STATES))
        if enclaves is not None:
            query = query.where(policy_approvals.c.enclave_id.in_(list(enclaves)))
        query = query.order_by(policy_approvals.c.version, policy_approvals.c.enclave_id)
        return [_row(r) for r in (await conn.execute(query)).all()]

    async def of_version(self, conn: AsyncConnection, version: int) -> list[ApprovalRow]:
        """Every row of one version (by enclave id)."""
        query = (
            select(policy_approvals)
            .where(policy_approvals.c.version == version)
            .order_by(policy_approvals.c.enclave_id)
        )
        return [_row(r) for r in (await conn.execute(query)).all()]

    async def add(self, conn: AsyncConnection, row: ApprovalRow) -> None:
        """Inserts a new row."""
        await conn.execute(
            insert(policy_approvals).values(
                version=row.version,
                enclave_id=row.enclave_id,
                enclave_name=row.enclave_name[:255],
                state=row.state,
                authors=json.dumps(sorted(set(row.authors))),
                base_version=row.base_version,
                base_text=row.base_text,
                new_text=row.new_text,
                created_at_us=row.created_at_us,
            )
        )

    async def close(
        self,
        conn: AsyncConnection,
        version: int,
        enclave_id: str,
        *,
        state: str,
        by: str | None = None,
        at_us: int | None = None,
        note: str | None = None,
        superseded_by: int | None = None,
    ) -> None:
        """Moves a row out of pending (or rejected) to ``state``; values left None keep
        what the row holds (a rejected row superseded keeps who rejected it and why)."""
        values: dict[str, Any] = {"state": state}
        for column, value in (
            ("decided_by", by),
            ("decided_at_us", at_us),
            ("note", note),
            ("superseded_by", superseded_by),
        ):
            if value is not None:
                values[column] = value
        await conn.execute(
            update(policy_approvals)
            .where(
                policy_approvals.c.version == version,
                policy_approvals.c.enclave_id == enclave_id,
            )
            .values(**values)
        )
