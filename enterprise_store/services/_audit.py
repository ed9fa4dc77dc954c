"""Reading the audit log: auditors and up; a scoped caller sees only their enclaves' records."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from enterprise_store._errors import InvalidInput, RoleRequired, XeError
from enterprise_store.audit import AuditEntry, AuditLog, AuditQuery, AuditRecord, VerifyReport
from enterprise_store.services._access import Principal, Role, require_role
from enterprise_store.services._types import Page

__all__ = ["AuditService", "audited"]

LOG = logging.getLogger("xenon.xe.audit")


@contextlib.asynccontextmanager
async def audited(
    log: AuditLog,
    caller: Principal,
    action: str,
    obj: str,
    *,
    details: dict[str, Any],
    enclaves: Sequence[str] = (),
) -> AsyncIterator[None]:
    """Records the call after it ran: ``ok``, or ``refused:<code>`` when it raised an XE error.

    ``details`` and ``enclaves`` are read when the record is written, so the call may fill them
    in as it learns what it touched. A record that cannot be written is logged, never raised
    over the call's own outcome.
    """
    result = "ok"
    try:
        yield
    except XeError as exc:
        result = f"refused:{exc.code}"
        raise
    finally:
        if caller.via != "session":
            details.setdefault("via", caller.via)
        entry = AuditEntry(
            actor=caller.name,
            source=caller.source,
            action=action,
            object=obj,
            result=result,
            enclaves=list(enclaves),
            details=details,
        )
        try:
            await log.record(entry)
        except XeError as exc:
            LOG.error("audit record of %s not written: %s", action, exc)


class AuditService:
    """Audit log queries and chain verification.

    Args:
        log: The store's audit log.
    """

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def list(self, caller: Principal, query: AuditQuery) -> Page[AuditRecord]:
        """Records, newest first. ``Page.next`` is the ``before_seq`` of the next page.

        A scoped caller sees the records of objects inside their enclaves and their own.

        Raises:
            RoleRequired: Below auditor.
        """
        require_role(caller, Role.AUDITOR, "read the audit log")
        if query.limit < 1 or query.limit > 1000:
            raise InvalidInput("limit is 1 to 1000")
        scopes = caller.scopes

        def visible(rec: AuditRecord) -> bool:
            if scopes is None or rec.actor == caller.name:
                return True
            return bool(rec.enclaves) and set(rec.enclaves) <= scopes

        items, nxt = await self._log.list(query, visible=None if scopes is None else visible)
        return Page(tuple(items), None if nxt is None else str(nxt))

    async def verify(self, caller: Principal, *, expect: str | None = None) -> VerifyReport:
        """Verifies the whole chain (auditors of every enclave: it reads every record).

        Raises:
            RoleRequired: Below auditor, or scoped.
        """
        require_role(caller, Role.AUDITOR, "verify the audit log")
        if not caller.is_global:
            raise RoleRequired("verifying the whole chain needs a role over every enclave")
        if expect is not None and (len(expect) > 129 or not expect.strip()):
            raise InvalidInput("a fingerprint is 'oldest|newest' (two SHA-256 hex digests)")
        return await self._log.verify(expect=expect)
