"""The Policy service's read of a policy version's diff (issue #14 §3; what is recorded and
how: ``_version_diffs``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store._errors import NotFound
from enterprise_store.services._access import Principal, Role, require_role
from enterprise_store.services._policy_core import PolicyCore
from enterprise_store.services._version_diffs import (
    BEFORE_DIFFS,
    ENTERPRISE,
    ScopeDiff,
    VersionDiff,
    read_version_diffs,
)
from enterprise_store.store._policy_repo import VersionRow
from enterprise_store.store._version_diff_schema import NOTHING

__all__ = ["VersionDiffsMixin"]


class VersionDiffsMixin(PolicyCore):
    """The Policy service's read of a version's diff."""

    async def _visible_version(
        self, conn: AsyncConnection, caller: Principal, number: int
    ) -> VersionRow:
        """Version ``number``'s row, read by an auditor or above; NotFound when absent or
        outside the caller's scope (a scoped caller reads their enclaves' changes only)."""
        require_role(caller, Role.AUDITOR, "read policy versions")
        if not 0 <= number <= 2**62:
            raise NotFound(f"no policy version {number}")
        row = await self._repo.version(conn, number)
        scopes = caller.scopes
        if row is None or (
            scopes is not None and not (row.enclaves and set(row.enclaves) <= scopes)
        ):
            raise NotFound(f"no policy version {number}")
        return row

    async def version_diff(self, caller: Principal, number: int) -> VersionDiff:
        """The diff of one version. Auditors; a scoped caller reads the versions they may
        read (their enclaves' changes) and, of those, their enclaves' diffs only.

        Raises:
            RoleRequired: Below auditor.
            NotFound: No such version, or one outside the caller's scope.
        """
        async with self._store.read() as conn:
            await self._visible_version(conn, caller, number)
            scopes = caller.scopes
            rows = await read_version_diffs(conn, number)
        if not rows:
            return VersionDiff(number, False, BEFORE_DIFFS, ())
        shown = [
            ScopeDiff(r.scope, r.name, r.diff)
            for r in rows
            if r.scope != NOTHING and (scopes is None or r.scope in scopes)
        ]
        shown.sort(key=lambda d: (d.scope != ENTERPRISE, d.scope))
        return VersionDiff(number, True, None, tuple(shown))
