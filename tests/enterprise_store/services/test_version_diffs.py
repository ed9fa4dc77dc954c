"""The readable diff of every policy version (issue #14 §3) through the services, on SQLite
and PostgreSQL: a write keeps the diff of each enclave it changed (approval required or
not) and of the enterprise part (hosts, profiles); a write elsewhere leaves an enclave
out; unknown versions are NotFound; scoped readers see their enclaves' diffs only;
versions made before store migration 0010 say so; the narrowed texts of a write equal
those of the whole policy."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

import pytest

from enterprise_store._errors import NotFound
from enterprise_store.model import EnterprisePolicy
from enterprise_store.policy import enclave_text
from enterprise_store.services import Services
from enterprise_store.services._version_diffs import (
    BEFORE_DIFFS,
    MAX_LINES,
    bounded,
    enterprise_text,
    version_diff_rows,
)
from enterprise_store.store import Store
from tests._support.xe_enclaves import Login, MakeUser, two_enclaves, vm


async def _world(services: Services, login: Login, make_user: MakeUser) -> dict[str, Any]:
    """Hosts h1, h2; enclaves A (h1) and B (h2), neither requiring approval; SecLabels sA,
    sB; auditor aud, auditor scoped to B carol."""
    root, a, b = await two_enclaves(services, login)
    return {
        "root": root,
        "aud": await make_user("aud", "auditor"),
        "carol": await make_user("carol", "auditor", scopes=(b,)),
        "A": a,
        "B": b,
    }


async def test_a_write_keeps_the_diff_of_the_enclave_it_changed_and_no_other(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    w = await _world(services, login, make_user)
    p = services.policy
    made = await p.create_vm(w["root"], vm("vm-in-a", "A", "sA"))
    diff = await p.version_diff(w["aud"], made.version)
    assert diff.recorded and diff.reason is None
    assert [d.scope for d in diff.diffs] == [w["A"]]
    assert diff.diffs[0].name == "A"
    assert f"--- A (v{made.version - 1})" in diff.diffs[0].diff
    assert "+    VM vm-in-a" in diff.diffs[0].diff

    changed = await p.update_vm(w["root"], "vm-in-a", {"memory_mb": 512, "maxmem_mb": 512})
    text = (await p.version_diff(w["aud"], changed.version)).diffs[0].diff
    assert "+       memory 512/512 MB" in text and "-       memory" in text

    elsewhere = await p.create_vm(w["root"], vm("vm-in-b", "B", "sB"))
    scopes = [d.scope for d in (await p.version_diff(w["aud"], elsewhere.version)).diffs]
    assert scopes == [w["B"]]  # A is not in it


async def test_a_host_change_is_the_enterprise_part_and_the_enclaves_naming_it(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    w = await _world(services, login, make_user)
    renamed = await services.policy.update_host(w["root"], "h1", {"name": "h1-new"})
    diff = await services.policy.version_diff(w["aud"], renamed.version)
    by_scope = {d.scope: d.diff for d in diff.diffs}
    assert list(by_scope) == ["enterprise", w["A"]]
    assert "\n-    1  h1  10.0.0.1:9443" in by_scope["enterprise"]
    assert "\n+    1  h1-new  10.0.0.1:9443" in by_scope["enterprise"]
    assert "\n        CPU GenuineIntel, family 6" in by_scope["enterprise"]  # context
    assert "+    hosts h1-new" in by_scope[w["A"]]


async def test_unknown_versions_are_not_found_and_scoped_readers_see_their_enclaves(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    w = await _world(services, login, make_user)
    p = services.policy
    in_a = await p.create_vm(w["root"], vm("vm-in-a", "A", "sA"))
    in_b = await p.create_vm(w["root"], vm("vm-in-b", "B", "sB"))
    for number in (in_b.version + 1, 2**62, -1):
        with pytest.raises(NotFound):
            await p.version_diff(w["aud"], number)
    # carol (auditor scoped to B) reads B's version, not A's nor an enterprise-wide one
    seen = await p.version_diff(w["carol"], in_b.version)
    assert [d.scope for d in seen.diffs] == [w["B"]]
    with pytest.raises(NotFound):
        await p.version_diff(w["carol"], in_a.version)
    with pytest.raises(NotFound):
        await p.version_diff(w["carol"], 1)  # adding host h1


async def test_versions_made_before_the_migration_say_so(
    db_url: str, services: Services, login: Login, make_user: MakeUser
) -> None:
    from alembic import command

    from enterprise_store.store._migrate import _config

    w = await _world(services, login, make_user)
    old = await services.policy.create_vm(w["root"], vm("vm-old", "A", "sA"))
    # The store as it was before migration 0010, then opened by this code (upgraded).
    async with await Store.open(db_url) as store, store.atomic() as conn:
        await conn.run_sync(lambda c: command.downgrade(_config(c), "0009_vif_model_disk_cdrom"))
    async with await Store.open(db_url) as store, store.read() as conn:
        from sqlalchemy import text

        assert (await conn.execute(text("SELECT count(*) FROM policy_version_diffs"))).one()[0] == 0
    before = await services.policy.version_diff(w["aud"], old.version)
    assert not before.recorded and before.diffs == () and before.reason == BEFORE_DIFFS
    new = await services.policy.create_vm(w["root"], vm("vm-new", "A", "sA"))
    after = await services.policy.version_diff(w["aud"], new.version)
    assert after.recorded and "+    VM vm-new" in after.diffs[0].diff


def test_a_long_diff_is_cut_saying_how_much_is_left() -> None:
    text = "".join(f"+line {n}\n" for n in range(MAX_LINES + 25))
    cut = bounded(text)
    assert cut.splitlines()[-1] == "… 25 more lines"
    assert len(cut.splitlines()) == MAX_LINES + 1
    assert bounded("a\nb\n") == "a\nb\n"


def test_the_narrowed_texts_of_a_write_equal_the_whole_policy_s() -> None:
    """A write renders only the enclaves, hosts and profiles it can have changed, from a
    small part of the snapshot: each kind of change finds exactly the scopes whose text
    differs in the whole policy."""
    from benchmarks.xe import build_enterprise
    from enterprise_store.services._version_diffs import _parts

    # 40 enclaves of the benchmark's enterprise (0-19 and 500-519: 20 conflict sets)
    full = build_enterprise(n_hosts=1000, n_vms=2000)
    keys = {e.id.int for e in (*full.enclaves[:20], *full.enclaves[500:520])}
    parts = _parts(full, keys)
    for key in keys:
        assert enclave_text(parts[key], UUID(int=key)) == enclave_text(full, UUID(int=key))
    p = EnterprisePolicy(
        version=1,
        **{
            attr: tuple({id(o): o for q in parts.values() for o in getattr(q, attr)}.values())
            for attr in ("hosts", "enclaves", "assignments", "seclabels", "vms", "conflicts")
        },
        dhcp_servers=full.dhcp_servers,
    )
    assert len(p.enclaves) == 40 and len(p.conflicts) == 20 and len(p.vms) == 80
    vm, host, enc, cs, label = (
        p.vms[40],
        p.hosts[7],
        p.enclaves[0],
        p.conflicts[0],
        p.seclabels[3],
    )
    first = p.assignments[0]

    def whole(b: EnterprisePolicy, a: EnterprisePolicy) -> set[str]:
        out = {str(e) for e in {*b.ids("enclaves"), *a.ids("enclaves")}
               if enclave_text(b, e) != enclave_text(a, e)}  # fmt: skip
        return out | ({"enterprise"} if enterprise_text(b) != enterprise_text(a) else set())

    cases = {
        "vm": p.with_object(dataclasses.replace(vm, memory_mb=4096)),
        "vm deleted": p.without(vm.id),
        "host renamed": p.with_object(dataclasses.replace(host, name="renamed")),
        "host deleted": p.without(host.id),
        "enclave renamed": p.with_object(dataclasses.replace(enc, name="Renamed")),
        "conflict renamed": p.with_object(dataclasses.replace(cs, name="CS-x")),
        "seclabel": p.with_object(dataclasses.replace(label, max_rate=7)),
        "seclabel renamed": p.with_object(dataclasses.replace(label, name="zz")),
        "unassigned": p.without_assignment(first.enclave, first.host),
        "profile": p.with_object(dataclasses.replace(p.profiles[0], hypercalls=frozenset({1}))),
    }
    for name, after in cases.items():
        rows = version_diff_rows(p, after.with_version(2), 2)
        assert {r.scope for r in rows if r.scope} == whole(p, after), name
        assert all(r.diff.startswith(f"--- {r.name} (v1)") for r in rows if r.scope), name
    assert [(r.scope, r.diff) for r in version_diff_rows(p, p.with_version(2), 2)] == [("", "")]
