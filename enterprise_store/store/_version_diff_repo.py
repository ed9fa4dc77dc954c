"""Rows of ``policy_version_diffs`` (see ``_version_diff_schema``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store.store._version_diff_schema import policy_version_diffs

__all__ = ["VersionDiffRepo", "VersionDiffRow"]


@dataclass(frozen=True, slots=True)
class VersionDiffRow:
    """One scope's diff in one policy version."""

    version: int
    scope: str
    name: str
    diff: str


class VersionDiffRepo:
    """Writes a version's diffs (in its write's transaction) and reads them back."""

    async def add(self, conn: AsyncConnection, rows: Sequence[VersionDiffRow]) -> None:
        """Inserts the rows of one version (one statement)."""
        if not rows:
            return
        await conn.execute(
            insert(policy_version_diffs),
            [
                {"version": r.version, "scope": r.scope, "name": r.name[:255], "diff": r.diff}
                for r in rows
            ],
        )

    async def of_version(self, conn: AsyncConnection, version: int) -> list[VersionDiffRow]:
        """Every row of one version, by scope (none: made before the table existed)."""
        t = policy_version_diffs
        query = select(t).where(t.c.version == version).order_by(t.c.scope)
        return [
            VersionDiffRow(int(r.version), r.scope, r.name, r.diff)
            for r in (await conn.execute(query)).all()
        ]
