"""Two-person activation per enclave (issue #14 §4) through the services, on SQLite and
PostgreSQL: a version changing a flagged enclave waits for an admin other than its
authors, the diff it covers, supersede / revert / reject, the author refused in every
form (a second session, an API token), operators and auditors refused, propagation
refused with who may approve, every decision (and refusal) in the audit chain."""

from __future__ import annotations

from typing import Any

import pytest

from enterprise_store._errors import (
    ApprovalRequired,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    OutOfScope,
    RoleRequired,
)
from enterprise_store.audit import AuditQuery
from enterprise_store.services import NewToken, Services
from tests._support.xe_enclaves import Login, MakeUser, two_enclaves, vm


async def _world(services: Services, login: Login, make_user: MakeUser) -> dict[str, Any]:
    """Hosts h1, h2; enclaves A (h1, flagged) and B (h2); SecLabels sA, sB; admins
    alice and bob, operator oper, auditor aud, admin scoped to B carol."""
    root, a, b = await two_enclaves(services, login)
    flag = await services.policy.update_enclave(root, "A", {"requires_approval": True})
    assert flag.value.name == "A"
    return {
        "root": root,
        "alice": await make_user("alice", "admin"),
        "bob": await make_user("bob", "admin"),
        "oper": await make_user("oper", "operator"),
        "aud": await make_user("aud", "auditor"),
        "carol": await make_user("carol", "admin", scopes=(b,)),
        "A": a,
        "B": b,
    }


async def test_a_change_of_a_flagged_enclave_waits_for_an_admin_other_than_its_author(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    w = await _world(services, login, make_user)
    p = services.policy
    assert await p.approval_hold() is None
    # A change of B (not flagged) waits for nobody.
    await p.create_vm(w["alice"], vm("vB", "B", "sB"))
    assert await p.approvals(w["aud"]) == []
    written = await p.create_vm(w["alice"], vm("vA"))
    [item] = await p.approvals(w["aud"])
    assert (item.version, item.enclave, item.state) == (written.version, "A", "pending")
    assert item.authors == ("alice",) and item.approvers == "admins other than alice"
    assert "+    VM vA" in item.diff and "on h1" in item.diff
    assert f"(v{written.version})" in item.diff
    # Propagation is refused, naming the enclave, the version, its author and who approves.
    with pytest.raises(ApprovalRequired) as refused:
        await services.compute.propagate(w["root"])
    e = refused.value
    assert (e.version, e.enclave, e.state) == (written.version, "A", "pending")
    assert e.authors == ("alice",)
    assert e.approvers == "admins other than alice"
    assert "admins other than alice" in e.message and "'A'" in e.message
    # The author may not approve: not in this session, a second one, nor with a token.
    second = await login("alice", "alice-password-1")
    issued = await services.users.create_token(w["alice"], NewToken(name="ci"))
    token = await services.users.authenticate(issued.token, source="192.0.2.9")
    assert token.name == "alice" and token.via != "session"
    for who in (w["alice"], second, token):
        with pytest.raises(Forbidden) as own:
            await p.approve(who, written.version, "looks fine")
        assert own.value.code == "approval_own_change"
        assert "admins other than alice" in own.value.message
    # Operators and auditors are refused; a note is required.
    for who in (w["oper"], w["aud"]):
        with pytest.raises(RoleRequired):
            await p.approve(who, written.version, "ok")
        with pytest.raises(RoleRequired):
            await p.reject(who, written.version, "no")
    for bad in ("", "   ", "a\x1b[2Jb", "x" * 2001):
        with pytest.raises(InvalidInput):
            await p.approve(w["bob"], written.version, bad)
    # An admin scoped elsewhere cannot decide on A's change.
    with pytest.raises(OutOfScope):
        await p.approve(w["carol"], written.version, "ok")
    assert await p.approvals(w["carol"]) == []
    assert (await p.approval_hold()) is not None
    [done] = await p.approve(w["bob"], written.version, "checked the VM and its SecLabel")
    assert (done.state, done.decided_by, done.note) == (
        "approved",
        "bob",
        "checked the VM and its SecLabel",
    )
    assert await p.approval_hold() is None and await p.approvals(w["aud"]) == []
    with pytest.raises(Conflict, match="already"):
        await p.approve(w["root"], written.version, "again")
    with pytest.raises(NotFound):
        await p.approve(w["bob"], written.version + 100, "none")
    task = await services.compute.propagate(w["root"])
    assert task.kind == "propagate"
    # Audited: the approval, and each refused attempt with its code.
    ok, _ = await services.audit_log.list(AuditQuery(action="policy.approval.approve"))
    results = sorted(r.result for r in ok)
    assert results.count("ok") == 1
    assert results.count("refused:approval_own_change") == 3
    assert results.count("refused:role_required") == 2
    [good] = [r for r in ok if r.result == "ok"]
    assert good.actor == "bob" and good.details["note"] == "checked the VM and its SecLabel"
    assert good.details["authors"] == ["alice"] and tuple(good.enclaves) == (w["A"],)
    held, _ = await services.audit_log.list(AuditQuery(action="compute.propagate"))
    assert sorted(r.result for r in held) == ["ok", "refused:approval_required"]
    assert (await services.audit_log.verify()).ok


async def test_any_object_of_the_enclave_counts_and_a_newer_version_supersedes(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    w = await _world(services, login, make_user)
    p = services.policy
    # A conflict set naming A, made by alice: A's change.
    first = await p.create_conflict(
        w["alice"], {"name": "wall", "level": "no-coresidence", "enclaves": ["A", "B"]}
    )
    [item] = await p.approvals(w["aud"])
    assert item.version == first.version and "+    conflict set wall" in item.diff
    # bob moves A to h2 as well: supersedes, and the diff holds both changes.
    second = await p.assign(w["bob"], "A", "h2")
    [item] = await p.approvals(w["aud"])
    assert item.version == second.version and item.base_version == first.version - 1
    assert item.authors == ("alice", "bob")
    assert "+    conflict set wall" in item.diff and "+    hosts h1, h2" in item.diff
    [old] = await p.approvals(w["aud"], version=first.version)
    assert (old.state, old.superseded_by) == ("superseded", second.version)
    with pytest.raises(Conflict, match="superseded"):
        await p.approve(w["root"], first.version, "old one")
    for author in (w["alice"], w["bob"]):
        with pytest.raises(Forbidden):
            await p.approve(author, second.version, "mine")
    hold = await p.approval_hold()
    assert hold is not None and hold.approvers == "admins other than alice and bob"
    await p.approve(w["root"], second.version, "both fine")
    assert await p.approval_hold() is None


async def test_a_rejected_version_holds_until_the_enclave_is_reverted(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    w = await _world(services, login, make_user)
    p = services.policy
    changed = await p.update_seclabel(w["alice"], "sA", {"max_rate": 77})
    with pytest.raises(InvalidInput):
        await p.reject(w["bob"], changed.version, "")
    [item] = await p.reject(w["bob"], changed.version, "rate too low for the DB VMs")
    assert (item.state, item.decided_by) == ("rejected", "bob")
    hold = await p.approval_hold()
    assert hold is not None and hold.state == "rejected" and "rejected by bob" in hold.message
    with pytest.raises(Conflict, match="rejected"):
        await p.approve(w["root"], changed.version, "overrule")
    with pytest.raises(ApprovalRequired):
        await services.compute.propagate(w["root"])
    # A revert by the author needs nobody: A is back to its approved text.
    sA = await p.get_seclabel(w["root"], "sA")
    original = 1000 if sA.max_rate == 77 else sA.max_rate
    await p.update_seclabel(w["alice"], "sA", {"max_rate": original})
    assert await p.approval_hold() is None and await p.approvals(w["aud"]) == []
    [row] = await p.approvals(w["aud"], version=changed.version)
    assert (row.state, row.decided_by, row.note) == (
        "reverted",
        "bob",
        "rate too low for the DB VMs",
    )


async def test_turning_the_requirement_off_takes_a_second_admin(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    w = await _world(services, login, make_user)
    p = services.policy
    with pytest.raises(RoleRequired):
        await p.update_enclave(w["oper"], "A", {"requires_approval": False})
    with pytest.raises(InvalidInput):
        await p.set_requires_approval(w["alice"], "A", "no")  # type: ignore[arg-type]
    await p.update_enclave(w["alice"], "A", {"requires_approval": False})
    state = await p.enclave_approval(w["aud"], "A")
    assert (state.required, state.disable_requested_by) == (True, "alice")
    # Still on: alice's own change waits, and asking again herself changes nothing.
    await p.update_enclave(w["alice"], "A", {"requires_approval": False})
    assert (await p.enclave_approval(w["aud"], "A")).required
    await p.update_enclave(w["bob"], "A", {"requires_approval": False})
    assert not (await p.enclave_approval(w["aud"], "A")).required
    await p.create_vm(w["alice"], vm("vA"))
    assert await p.approvals(w["aud"]) == [] and await p.approval_hold() is None
    # On again (one admin), with a rename in the same call: the rename waits.
    renamed = await p.update_enclave(w["alice"], "A", {"requires_approval": True, "name": "A2"})
    [item] = await p.approvals(w["aud"])
    assert item.version == renamed.version and item.enclave == "A2"
    assert [f.enclave for f in await p.approval_flags(w["aud"])] == ["A2"]
    records, _ = await services.audit_log.list(AuditQuery(action="policy.enclave.approval"))
    assert len([r for r in records if r.result == "ok"]) == 5


async def test_deleting_a_flagged_enclave_and_an_import_wait_too(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    w = await _world(services, login, make_user)
    p = services.policy
    await p.delete_seclabel(w["alice"], "sA")
    gone = await p.delete_enclave(w["alice"], "A")
    [item] = await p.approvals(w["aud"])
    assert item.version == gone.version and "not in the policy" in item.diff
    assert item.enclave == "A"
    await p.approve(w["bob"], gone.version, "A is retired")
    # An import that changes nothing of A's part waits for nobody.
    current = await p.current()
    await p.import_policy(w["root"], current)
    assert await p.approval_hold() is None


async def test_renaming_another_enclave_a_flagged_one_names_in_a_conflict_set_waits(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    w = await _world(services, login, make_user)
    p = services.policy
    await p.update_enclave(w["root"], "A", {"requires_approval": False})
    await p.update_enclave(w["alice"], "A", {"requires_approval": False})
    await p.create_conflict(
        w["root"], {"name": "wall", "level": "no-communication", "enclaves": ["A", "B"]}
    )
    await p.update_enclave(w["root"], "A", {"requires_approval": True})
    # A change of B only: A's text is unchanged, nothing waits.
    await p.create_vm(w["alice"], vm("vB", "B", "sB"))
    assert await p.approvals(w["aud"]) == []
    # B renamed: A's conflict-set line names B, so A's part changed.
    renamed = await p.update_enclave(w["alice"], "B", {"name": "B2"})
    [item] = await p.approvals(w["aud"])
    assert item.version == renamed.version and item.enclave == "A"
    assert "+    conflict set wall (no-communication): A, B2" in item.diff
