"""Two-person activation per enclave (issue #14 §4): the Policy service's approval part.

An admin sets ``requires_approval`` on an enclave (``update_enclave``). From then on every
policy version that changes the enclave's part (see ``_approval_diff`` for what that
covers) is *pending approval* until an admin other than its authors approves it. While a
change of an enclave is pending, or was rejected and not yet changed again or reverted,
the hosts that carry that enclave (in the head, or in the policy they enforce: assigning
or unassigning it is its change too) are held: the propagation worker pushes them nothing
newer than what they have. Hosts that carry no waiting enclave get the head: a host's
slice names only the enclaves it carries, so no part of a waiting change reaches them
(another enclave's change is not held by this one's review). ``propagate`` (every host,
now) is refused with :class:`ApprovalRequired` naming the enclave, the version, its
authors and who may approve. Approve and reject take a required note; both,
and every refused attempt, go to XE's audit chain.

The author check is by user name, so a second session or an API token of the author is
the author still. Turning the requirement on is one admin's word; turning it off needs a
second admin (the first asks, a different admin confirms), so one person cannot switch
it off, change the enclave and switch it back unseen.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from uuid import UUID

from enterprise_store._errors import (
    ApprovalRequired,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from enterprise_store.services._access import Principal, Role, require_role, require_scope
from enterprise_store.services._approval_diff import readable_diff, who_may_approve
from enterprise_store.services._policy_core import Note, PolicyCore, audit_text
from enterprise_store.services._policy_fields import Refs
from enterprise_store.services._types import from_us
from enterprise_store.store._approval_repo import ApprovalRow, EnclaveFlag
from enterprise_store.store._approval_schema import OPEN_STATES

__all__ = ["ApprovalItem", "ApprovalsMixin", "EnclaveApproval"]

MAX_NOTE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class ApprovalItem:
    """One enclave's change in one policy version, as an approver reviews it.

    Attributes:
        state: ``pending``, ``approved``, ``rejected``, ``superseded`` or ``reverted``.
        authors: Everyone whose change the diff holds; none of them may approve.
        approvers: Who may approve, in words (``admins other than alice``).
        base_version: The version whose text of the enclave was last approved.
        diff: Unified diff of the enclave's text, approved → this version.
    """

    version: int
    enclave_id: str
    enclave: str
    state: str
    authors: tuple[str, ...]
    approvers: str
    base_version: int
    diff: str
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    note: str | None
    superseded_by: int | None


@dataclass(frozen=True, slots=True)
class EnclaveApproval:
    """Whether an enclave requires two-person approval.

    Attributes:
        disable_requested_by: An admin asked to turn the requirement off; a different
            admin's word turns it off.
    """

    enclave_id: str
    enclave: str
    required: bool
    set_by: str | None
    disable_requested_by: str | None


def _item(row: ApprovalRow) -> ApprovalItem:
    created = from_us(row.created_at_us)
    assert created is not None
    return ApprovalItem(
        version=row.version,
        enclave_id=row.enclave_id,
        enclave=row.enclave_name,
        state=row.state,
        authors=row.authors,
        approvers=who_may_approve(row.authors),
        base_version=row.base_version,
        diff=readable_diff(row),
        created_at=created,
        decided_by=row.decided_by,
        decided_at=from_us(row.decided_at_us),
        note=row.note,
        superseded_by=row.superseded_by,
    )


def _hold_error(row: ApprovalRow) -> ApprovalRequired:
    who = who_may_approve(row.authors)
    authors = ", ".join(row.authors)
    if row.state == "rejected":
        message = (
            f"policy version {row.version} changes enclave {row.enclave_name!r} "
            f"(by {authors}) and was rejected by {row.decided_by}: change or revert the "
            f"enclave; the new version needs the approval of {who}"
        )
    else:
        message = (
            f"policy version {row.version} changes enclave {row.enclave_name!r}, which "
            f"requires two-person approval; its author {authors} cannot approve it: "
            f"{who} may approve it"
        )
    return ApprovalRequired(
        message,
        version=row.version,
        enclave=row.enclave_name,
        authors=row.authors,
        approvers=who,
        state=row.state,
    )


def _note(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("note: give a note (text)")
    text = value.strip()
    if not text:
        raise InvalidInput("note: a note is required")
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"note: at most {MAX_NOTE} characters")
    if _CONTROL.search(text):
        raise InvalidInput("note: control characters are not allowed")
    return text


def _version_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**62:
        raise NotFound(f"no policy version {audit_text(value)} awaits approval")
    return value


class ApprovalsMixin(PolicyCore):
    """Requirement per enclave, the approvals list, approve/reject, and the hold."""

    # -- the requirement ------------------------------------------------------------------

    async def approval_flags(self, caller: Principal) -> list[EnclaveApproval]:
        """The enclaves the caller sees that require approval (or have a request to turn
        it off), by name. Auditors."""
        view, _ = await self._view(caller, "read the approval settings")
        async with self._store.read() as conn:
            flags = await self._approval_repo.flags(conn)
        out = []
        for enc in view.enclaves:
            flag = flags.get(str(enc.id))
            if flag is not None and flag.required:
                out.append(
                    EnclaveApproval(
                        str(enc.id), enc.name, True, flag.set_by, flag.disable_requested_by
                    )
                )
        return out

    async def enclave_approval(self, caller: Principal, ref: str | UUID) -> EnclaveApproval:
        """Whether one enclave requires approval. Auditors, in scope."""
        view, _ = await self._view(caller, "read the approval settings")
        enc = Refs(caller, view).target("enclaves", ref)
        async with self._store.read() as conn:
            flag = (await self._approval_repo.flags(conn)).get(str(enc.id))
        if flag is None:
            return EnclaveApproval(str(enc.id), enc.name, False, None, None)
        return EnclaveApproval(
            str(enc.id), enc.name, flag.required, flag.set_by, flag.disable_requested_by
        )

    async def set_requires_approval(
        self, caller: Principal, ref: str | UUID, required: bool
    ) -> EnclaveApproval:
        """Turns the requirement on (one admin) or off (asked by one admin, done by a
        second; asked again by the same admin it stays on). Admins, in scope; audited.

        Raises:
            RoleRequired: Below admin. OutOfScope, NotFound: The enclave.
            InvalidInput: ``required`` is not a boolean.
        """
        if not isinstance(required, bool):
            raise InvalidInput("requires_approval is true or false")
        action = "policy.enclave.approval"
        note = Note(object=f"enclave:{audit_text(ref)}")
        result: EnclaveApproval | None = None
        async with self._audited(caller, action, note):
            require_role(caller, Role.ADMIN, "set two-person approval")
            async with self._store.atomic() as conn:
                head = await self._repo.head(conn, lock=True)
                before = self._cached(head) or await self._repo.load(conn)
                view = self._views.get(before, head.sha256, caller.scopes)
                enc = Refs(caller, view).target("enclaves", ref)
                key = str(enc.id)
                note.object = f"enclave:{enc.name}"
                note.enclaves.add(key)
                require_scope(caller, frozenset({key}), "set two-person approval")
                now = int(self._clock() * 1_000_000)
                name = caller.name[:80]
                flag = (await self._approval_repo.flags(conn)).get(key)
                was = flag is not None and flag.required
                if required:
                    new = EnclaveFlag(key, True, name, now, None)
                    note.details.update(requires_approval=True, was=was)
                elif not was:
                    new = flag or EnclaveFlag(key, False, name, now, None)
                    note.details.update(requires_approval=False, unchanged=True)
                elif flag is not None and flag.disable_requested_by not in (None, name):
                    new = EnclaveFlag(key, False, name, now, None)
                    note.details.update(requires_approval=False, asked_by=flag.disable_requested_by)
                else:
                    assert flag is not None
                    new = EnclaveFlag(key, True, flag.set_by, flag.set_at_us, name)
                    note.details.update(requires_approval=True, off_requested=True)
                await self._approval_repo.put_flag(conn, new)
                result = EnclaveApproval(
                    key, enc.name, new.required, new.set_by, new.disable_requested_by
                )
        assert result is not None
        return result

    # -- the list and the decision --------------------------------------------------------

    async def approvals(
        self, caller: Principal, *, version: int | None = None
    ) -> list[ApprovalItem]:
        """The changes waiting (pending or rejected), oldest first, each with its readable
        diff; ``version``: every row of that version, whatever its state. Auditors; a
        scoped caller sees their enclaves'."""
        require_role(caller, Role.AUDITOR, "read policy approvals")
        async with self._store.read() as conn:
            if version is None:
                rows = await self._approval_repo.open_rows(conn)
            else:
                rows = await self._approval_repo.of_version(conn, _version_number(version))
        scopes = caller.scopes
        if scopes is not None:
            rows = [r for r in rows if r.enclave_id in scopes]
        return [_item(r) for r in rows]

    async def approve(self, caller: Principal, version: int, note: str) -> list[ApprovalItem]:
        """Approves every pending enclave change of ``version`` (the diffs listed by
        :meth:`approvals`). Admins other than the version's authors; the note is required.

        Raises:
            RoleRequired: Below admin. Forbidden: The caller authored a change it holds
                (``approval_own_change``). NotFound: Nothing of that version awaits
                approval. Conflict: It was superseded, rejected or approved already.
            InvalidInput: No note.
        """
        return await self._decide(caller, version, note, approve=True)

    async def reject(self, caller: Principal, version: int, note: str) -> list[ApprovalItem]:
        """Rejects ``version``: propagation stays held until a newer version changes the
        enclave again (that one needs approval) or reverts it. Same rules as approve."""
        return await self._decide(caller, version, note, approve=False)

    async def _decide(
        self, caller: Principal, version: int, note: str, *, approve: bool
    ) -> list[ApprovalItem]:
        verb = "approve" if approve else "reject"
        record = Note(object=f"policy:v{audit_text(str(version))}")
        result: list[ApprovalRow] = []
        async with self._audited(caller, f"policy.approval.{verb}", record):
            require_role(caller, Role.ADMIN, f"{verb} a policy version")
            number = _version_number(version)
            text = _note(note)
            async with self._store.atomic() as conn:
                await self._repo.head(conn, lock=True)  # one decision or write at a time
                rows = await self._approval_repo.of_version(conn, number)
                if not rows:
                    raise NotFound(f"no policy version {number} awaits approval")
                record.enclaves.update(r.enclave_id for r in rows)
                require_scope(caller, frozenset(record.enclaves), f"{verb} a policy version")
                waiting = [r for r in rows if r.state == "pending"]
                if not waiting:
                    raise Conflict(_closed(rows[0]))
                authors = sorted({a for r in waiting for a in r.authors})
                record.details.update(
                    version=number,
                    enclaves=[r.enclave_name for r in waiting],
                    authors=authors,
                )
                if caller.name[:80] in authors:
                    raise Forbidden(
                        f"you authored (part of) policy version {number}: "
                        f"{who_may_approve(authors)} may {verb} it",
                        code="approval_own_change",
                    )
                now = int(self._clock() * 1_000_000)
                state = "approved" if approve else "rejected"
                for r in waiting:
                    await self._approval_repo.close(
                        conn, r.version, r.enclave_id, state=state, by=caller.name[:80],
                        at_us=now, note=text,
                    )  # fmt: skip
                record.details["note"] = text
                result = await self._approval_repo.of_version(conn, number)
        return [_item(r) for r in result]

    # -- the hold ---------------------------------------------------------------------------

    async def approval_hold(self) -> ApprovalRequired | None:
        """Why the policy head may not be propagated now (the oldest waiting change), or
        None. For the propagation worker and the Compute service; no caller."""
        async with self._store.read() as conn:
            rows = await self._approval_repo.open_rows(conn)
        return _hold_error(rows[0]) if rows else None

    async def approval_held_enclaves(self) -> frozenset[UUID]:
        """The enclaves whose change waits (pending or rejected): the propagation worker
        holds the hosts that carry one of them (in the head or in what they enforce) and
        moves every other host to the head. No caller."""
        async with self._store.read() as conn:
            rows = await self._approval_repo.open_rows(conn)
        return frozenset(UUID(r.enclave_id) for r in rows)


def _closed(row: ApprovalRow) -> str:
    if row.state == "superseded":
        return (
            f"policy version {row.version} was superseded by version {row.superseded_by}, "
            f"which holds its change of enclave {row.enclave_name!r}: review that one"
        )
    if row.state == "reverted":
        return f"version {row.superseded_by} reverted policy version {row.version}'s change"
    if row.state in OPEN_STATES:  # rejected
        return (
            f"policy version {row.version} was rejected by {row.decided_by}: change or "
            "revert the enclave, then the new version can be approved"
        )
    return f"policy version {row.version} was {row.state} by {row.decided_by} already"
