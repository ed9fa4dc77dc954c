"""What a two-person approval covers, recorded in the policy write that makes the version.

An approval covers, per enclave that requires it, the readable diff of that enclave's part
of the policy (``enclave_text``: the enclave, the hosts that carry it, its SecLabels and
their profiles, its VMs with placement, the conflict sets naming it, its DHCP servers)
from the text *last approved* to the text the version left. So:

- any change of the enclave's part waits, whatever object it came through (a VM, a
  SecLabel, a conflict set naming it, an assignment, a host renamed under it, an import);
- a newer version that changes the enclave again while an older one is still pending or
  rejected *supersedes* it: the newer row carries the whole diff from the same approved
  base, and every author of the changes it holds is barred from approving it;
- a newer version that brings the enclave back to its approved text *reverts* it: nothing
  is left to approve for that enclave.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store.model import EnterprisePolicy
from enterprise_store.policy import enclave_text
from enterprise_store.store._approval_repo import ApprovalRepo, ApprovalRow

__all__ = ["readable_diff", "record_approvals", "unchanged", "unified", "who_may_approve"]


def who_may_approve(authors: Iterable[str]) -> str:
    """``admins other than alice`` (or ``… than alice and bob``)."""
    names = sorted(set(authors))
    if not names:
        return "any admin"
    shown = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"admins other than {shown}"


def unified(old: str, new: str, a: str, b: str) -> str:
    """The unified diff (two lines of context) of text ``old``, labelled ``a``, to ``new``,
    labelled ``b``: what an approver reviews and what every policy version keeps
    (:mod:`enterprise_store.services._version_diffs`)."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), a, b, lineterm="", n=2)
    return "\n".join(lines) + "\n"


def readable_diff(row: ApprovalRow) -> str:
    """The unified diff an approver reviews (approved text → the version's text)."""
    name = row.enclave_name
    return unified(
        row.base_text,
        row.new_text,
        f"{name} (approved, v{row.base_version})",
        f"{name} (v{row.version})",
    )


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return a is b or (len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True)))


def _touching(policy: EnterprisePolicy, key: UUID) -> tuple[Any, ...]:
    return tuple(c for c in policy.conflicts if key in c.enclaves)


def unchanged(before: EnterprisePolicy, after: EnterprisePolicy, key: UUID) -> bool:
    """Whether nothing ``enclave_text`` shows of enclave ``key`` can differ, by object
    identity (snapshots share the objects a write did not make): a write elsewhere skips
    the text (a few ms per flagged enclave at 1,000 enclaves). False means "maybe"."""
    if before.profiles is not after.profiles:
        return False
    if before.ids("enclaves").get(key) is not after.ids("enclaves").get(key):
        return False
    if not _same(before.hosts_of(key), after.hosts_of(key)):
        return False
    if before.seclabels is not after.seclabels and not _same(
        before.seclabels_of(key), after.seclabels_of(key)
    ):
        return False
    if before.vms is not after.vms and not _same(before.vms_in(key), after.vms_in(key)):
        return False
    # a conflict set's line names the other enclaves too
    if (before.conflicts is not after.conflicts or before.enclaves is not after.enclaves) and (
        not _same(_touching(before, key), _touching(after, key))
        or (before.enclaves is not after.enclaves and _touching(after, key))
    ):
        return False
    if before.dhcp_servers is not after.dhcp_servers:
        mine = [d for d in before.dhcp_servers if d.enclave == key]
        theirs = [d for d in after.dhcp_servers if d.enclave == key]
        if not _same(tuple(mine), tuple(theirs)):
            return False
    return True


def _name(before: EnterprisePolicy, after: EnterprisePolicy, key: UUID) -> str:
    enc = after.ids("enclaves").get(key) or before.ids("enclaves").get(key)
    return str(key) if enc is None else enc.name


async def record_approvals(
    repo: ApprovalRepo,
    conn: AsyncConnection,
    before: EnterprisePolicy,
    after: EnterprisePolicy,
    *,
    author: str,
    version: int,
    now_us: int,
) -> list[str]:
    """Records which enclaves requiring approval version ``version`` changed (in the write's
    transaction); returns their names (empty: nothing waits)."""
    required = await repo.required(conn)
    if not required:
        return []
    open_rows = {r.enclave_id: r for r in await repo.open_rows(conn, sorted(required))}
    waiting: list[str] = []
    for key in sorted(required):
        uid = UUID(key)
        if unchanged(before, after, uid):
            continue
        old, new = enclave_text(before, uid), enclave_text(after, uid)
        if old == new:
            continue
        prior = open_rows.get(key)
        if prior is None:
            base_text, base_version, authors = old, version - 1, {author}
        else:
            base_text, base_version = prior.base_text, prior.base_version
            authors = {*prior.authors, author}
            await repo.close(
                conn,
                prior.version,
                key,
                state="reverted" if new == base_text else "superseded",
                superseded_by=version,
            )
        if new == base_text:
            continue
        name = _name(before, after, uid)
        await repo.add(
            conn,
            ApprovalRow(
                version=version,
                enclave_id=key,
                enclave_name=name,
                state="pending",
                authors=tuple(sorted(authors)),
                base_version=base_version,
                base_text=base_text,
                new_text=new,
                created_at_us=now_us,
            ),
        )
        waiting.append(name)
    return waiting
