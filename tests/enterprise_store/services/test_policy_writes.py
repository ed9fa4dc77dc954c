"""Policy writes through the service on SQLite and PostgreSQL: a refused write writes nothing
(every finding, audited), one version per write, role and scope checked in the service, the
input boundary, two servers on one database, hosts removed and reordered, VM network and
extra xl, and the incremental canonical hash."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from enterprise_store._errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OutOfScope,
    PolicyRefused,
    RoleRequired,
)
from enterprise_store.audit import AuditQuery
from enterprise_store.model import CpuFacts, EnterprisePolicy, policy_sha256
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import PolicyQuery, Principal, Services
from enterprise_store.services._policy_digest import Digester
from enterprise_store.store._policy_schema import POLICY_TABLES, policy_head, policy_versions

Login = Callable[..., Awaitable[Principal]]
MakeUser = Callable[..., Awaitable[Principal]]


async def _small_world(services: Services, root: Principal) -> dict[str, str]:
    """Hosts h1, h2; enclaves A (h1) and B (h1, h2); a SecLabel, VM and DHCP server of B."""
    p = services.policy
    await p.add_host(root, name="h1", address="10.0.0.1", cpu=CpuFacts("GenuineIntel", 6))
    await p.add_host(root, name="h2", address="10.0.0.2")
    a = (await p.create_enclave(root, {"name": "A", "color": "#ff0000"})).value
    b = (await p.create_enclave(root, {"name": "B", "color": [0, 0, 255]})).value
    await p.assign(root, "A", "h1")
    await p.assign(root, "B", "h1")
    await p.assign(root, "B", "h2")
    await p.create_seclabel(root, {"name": "sB", "enclave": "B", "profile": "PV-Combined"})
    await p.create_vm(
        root,
        {"name": "vB", "enclave": "B", "seclabel": "sB", "guest_type": "pv", "kernel": "/k"},
    )
    await p.create_dhcp_server(root, {"name": "dB", "enclave": "B", "interface": "eth3"})
    return {"A": str(a.id), "B": str(b.id)}


async def _tables(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with services.store.read() as conn:
        for table in (*POLICY_TABLES, policy_versions, policy_head):
            rows = (await conn.execute(select(table))).all()
            out[table.name] = sorted(tuple(r) for r in rows)
    return out


async def test_a_refused_write_writes_nothing_and_names_every_finding(
    services: Services, login: Login
) -> None:
    root = await login("root")
    await _small_world(services, root)
    before = await _tables(services)
    with pytest.raises(PolicyRefused) as refused:
        await services.policy.delete_enclave(root, "B")
    codes = {f.code for f in refused.value.findings}
    assert {"XE-SECLABEL-ENCLAVE", "XE-VM-ENCLAVE", "XE-DHCP-ENCLAVE"} <= codes, codes
    named = {o for f in refused.value.findings for o in f.objects}
    assert {"sB", "vB", "dB"} <= named
    assert await _tables(services) == before
    records, _ = await services.audit_log.list(AuditQuery(action="policy.enclave.delete"))
    assert [r.result for r in records] == ["refused:policy_refused"]
    assert set(records[0].details["findings"]) == codes


async def test_one_version_per_write_and_none_for_a_no_op(services: Services, login: Login) -> None:
    root = await login("root")
    await _small_world(services, root)
    current = await services.policy.current()
    again = await services.policy.assign(root, "B", "h2")  # already assigned
    assert again.version == current.version
    versions = (await services.policy.versions(root, limit=1000)).items
    assert [v.version for v in versions] == list(range(current.version, 0, -1))
    assert versions[0].sha256 == policy_sha256(current)
    assert versions[0].action == "policy.dhcp.create" and versions[0].author == "root"
    written = await services.policy.update_vm(root, "vB", {"memory_mb": 2048, "maxmem_mb": 2048})
    assert written.version == current.version + 1
    assert (await services.policy.version(root, written.version)).summary.startswith("changed")


async def test_role_and_scope_are_checked_in_the_service(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    root = await login("root")
    ids = await _small_world(services, root)
    auditor = await make_user("aud", "auditor")
    operator = await make_user("op", "operator")
    op_a = await make_user("op_a", "operator", scopes=(ids["A"],))
    admin_a = await make_user("admin_a", "admin", scopes=(ids["A"],))
    p = services.policy
    with pytest.raises(RoleRequired):
        await p.create_enclave(auditor, {"name": "C"})
    with pytest.raises(RoleRequired):
        await p.add_host(operator, name="h3", address="10.0.0.3")
    with pytest.raises(OutOfScope):
        await p.add_host(admin_a, name="h3", address="10.0.0.3")
    with pytest.raises(OutOfScope):
        await p.update_host(op_a, "h1", {"color": "#000000"})
    with pytest.raises(NotFound):
        await p.update_vm(op_a, "vB", {"run": False})
    with pytest.raises(OutOfScope):
        await p.create_seclabel(op_a, {"name": "x", "enclave": ids["B"], "profile": "PV-Combined"})
    with pytest.raises(InvalidInput):  # by name, B does not exist for op_a
        await p.create_seclabel(op_a, {"name": "x", "enclave": "B", "profile": "PV-Combined"})
    with pytest.raises(OutOfScope):  # a new enclave is outside any scope
        await p.create_enclave(op_a, {"name": "C"})
    # What op_a sees: A, the one host that carries it, none of B's objects.
    view = await p.policy(op_a)
    assert [e.name for e in view.enclaves] == ["A"]
    assert [h.name for h in view.hosts] == ["h1"] and view.vms == () and view.seclabels == ()
    assert (await p.list_vms(op_a, PolicyQuery())).items == ()
    assert [h.name for h in (await p.list_hosts(auditor, PolicyQuery())).items] == ["h1", "h2"]
    written = await p.create_seclabel(
        op_a, {"name": "sA", "enclave": "A", "profile": "PV-Combined"}
    )
    assert written.value.enclave == uuid.UUID(ids["A"])
    refused, _ = await services.audit_log.list(AuditQuery(result="refused", action="policy."))
    assert len(refused) == 8


async def test_the_input_boundary(services: Services, login: Login) -> None:
    root = await login("root")
    await _small_world(services, root)
    p = services.policy
    bad: list[dict[str, Any]] = [
        {"name": "evil\x1b[31m"},
        {"name": "lone \ud800 surrogate"},
        {"name": "C", "colour": "#000000"},
        {"name": "C", "color": "red"},
        {"name": "C", "color": [1, 2, 300]},
        {"name": 7},
        {},
    ]
    for fields in bad:
        with pytest.raises(InvalidInput):
            await p.create_enclave(root, fields)
    with pytest.raises(InvalidInput):
        await p.update_vm(root, "vB", {"memory_mb": 2**70})
    with pytest.raises(InvalidInput):
        await p.update_vm(root, "vB", {"run": "yes"})
    with pytest.raises(InvalidInput):
        await p.update_vm(root, "vB", {"extra": [["only-a-key"]]})
    with pytest.raises(Conflict):
        await p.create_enclave(root, {"name": "again"}, id=(await p.get_enclave(root, "A")).id)
    # Semantics are the checker's: every finding at once.
    with pytest.raises(PolicyRefused) as refused:
        await p.update_vm(root, "vB", {"memory_mb": 4096, "vcpus": 0})
    assert {f.code for f in refused.value.findings} == {"XE-VM-MEMORY", "XE-VM-VCPUS"}


async def test_a_second_server_on_the_same_database(
    services: Services, login: Login, db_url: str
) -> None:
    """Each server caches its snapshot; a write re-checks the head inside its transaction,
    so writes of two servers interleave without losing one (PostgreSQL: FOR UPDATE on the
    head; SQLite: BEGIN IMMEDIATE)."""
    root = await login("root")
    await _small_world(services, root)
    other = await Services.open(db_url)
    try:
        assert await other.policy.current() == await services.policy.current()  # both warm
        await services.policy.create_enclave(root, {"name": "from-one"})
        seen = await other.policy.current()
        assert "from-one" in {e.name for e in seen.enclaves}

        async def writes(s: Services, prefix: str) -> list[int]:
            return [
                (await s.policy.create_enclave(root, {"name": f"{prefix}-{i}"})).version
                for i in range(5)
            ]

        one, two = await asyncio.gather(writes(services, "one"), writes(other, "two"))
        assert sorted(one + two) == list(range(min(one + two), max(one + two) + 1))
        final_one, final_two = await services.policy.current(), await other.policy.current()
        assert final_one == final_two
        names = {e.name for e in final_one.enclaves}
        assert {f"one-{i}" for i in range(5)} | {f"two-{i}" for i in range(5)} <= names
        head = (await services.policy.versions(root, limit=1)).items[0]
        assert head.sha256 == policy_sha256(final_one)
    finally:
        await other.close()


async def test_remove_and_reorder_hosts(services: Services, login: Login) -> None:
    root = await login("root")
    await _small_world(services, root)
    p = services.policy
    with pytest.raises(Conflict):
        await p.remove_host(root, "h1")  # vB is placed there
    await p.remove_host(root, "h1", force=True)
    policy = await p.current()
    assert [h.name for h in policy.hosts] == ["h2"]
    assert policy.host_of(policy.vm_named("vB")).name == "h2"  # type: ignore[union-attr]
    await p.add_host(root, name="h3", address="10.0.0.3")
    await p.assign(root, "B", "h3")
    await p.reorder_hosts(root, ["h3", "h2"])
    assert [h.name for h in (await p.current()).hosts] == ["h3", "h2"]
    new = await p.create_vm(
        root, {"name": "vB2", "enclave": "B", "seclabel": "sB", "guest_type": "pv", "kernel": "/k"}
    )
    assert (await p.get_host(root, str(new.value.host))).name == "h3"
    assert (await p.current()).host_of((await p.current()).vm_named("vB")).name == "h2"  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        await p.reorder_hosts(root, ["h3"])


async def test_vm_network_and_extra_xl(services: Services, login: Login) -> None:
    root = await login("root")
    await _small_world(services, root)
    p = services.policy
    w = await p.set_vm_network(
        root, "vB", {"allow_network": True, "switches": ["EBbr"], "max_vifs": 2}
    )
    assert w.value.network.switches == ("EBbr",) and w.value.network.max_vifs == 2
    w = await p.set_vm_extra(
        root, "vB", [["max_grant_frames", "64"], ["vcpu_soft_affinity", '"1"']]
    )
    assert w.value.extra == (("max_grant_frames", "64"), ("vcpu_soft_affinity", '"1"'))
    assert "max_grant_frames" in await p.domain_config(root, "vB")
    with pytest.raises(PolicyRefused) as refused:
        await p.set_vm_extra(root, "vB", [["seclabel", '"x"']])
    assert [f.code for f in refused.value.findings] == ["XE-VM-EXTRA-FORBIDDEN"]
    w = await p.reset_vm_extra(root, "vB")
    assert w.value.extra == ()
    stored = (await p.current()).vm_named("vB")
    assert stored.extra == () and stored.network.max_vifs == 2
    assert "max_grant_frames" not in await p.domain_config(root, "vB")


def test_the_incremental_hash_is_policy_sha256() -> None:
    digester = Digester()
    policy: EnterprisePolicy = sample_xe_policy()
    assert digester.sha256(policy) == policy_sha256(policy)
    vm = policy.vm_named("EA-domu-2")
    steps = [
        lambda p: p.with_vm(dataclasses.replace(vm, memory_mb=512, maxmem_mb=512)),
        lambda p: p.without(p.vm_named("EC-domu-4").id),
        lambda p: p.with_enclave(dataclasses.replace(p.enclave_named("Enclave C"), name="C2")),
        lambda p: p.without_assignment(p.enclave_named("C2").id, p.host_named("xenon-1").id),
        lambda p: p.with_host(dataclasses.replace(p.host_named("xenon-3"), order=0)),
        lambda p: p.with_version(99),
    ]
    for step in steps:
        policy = step(policy)
        assert digester.sha256(policy) == policy_sha256(policy)
