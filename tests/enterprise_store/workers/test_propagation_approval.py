"""Two-person activation and the propagation worker, against real XPS daemons: a version
changing a flagged enclave is not pushed to any host until a second admin approves it;
then every host converges to the head (issue #14 §4)."""

from __future__ import annotations

from typing import Any

from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import NewUser, Principal, Role, Services


async def _active(host: Any) -> dict[str, Any]:
    c = await host.console()
    return dict(await c.get_policy("active"))


async def _admin(services: Services, name: str) -> Principal:
    system = Principal.system()
    await services.users.create_user(
        system, NewUser(name=name, role=Role.ADMIN, password=f"{name}-password-1")
    )
    session = await services.users.login(name, f"{name}-password-1", source="192.0.2.1")
    return await services.users.authenticate(session.token, source="192.0.2.1")


async def test_an_unapproved_version_is_not_pushed_until_a_second_admin_approves(
    xe_services: Any, xps_hosts: Any
) -> None:
    hosts = await xps_hosts(3)
    services: Services = await xe_services()
    policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
    await services.policy.import_policy(Principal.system(), policy)
    propagator = services.compute.propagator
    report = await propagator.reconcile_once()
    assert len(report.activated) == 3
    alice, bob = await _admin(services, "alice"), await _admin(services, "bob")
    vm = policy.vm_named("EA-domu-1")
    enclave = policy.ids("enclaves")[vm.enclave].name
    await services.policy.update_enclave(alice, vm.enclave, {"requires_approval": True})
    active = {h.name: (await _active(h))["generation"] for h in hosts}
    enforced = (await services.policy.current()).version
    bigger = {"memory_mb": vm.memory_mb + 256, "maxmem_mb": vm.maxmem_mb + 256}
    written = await services.policy.update_vm(alice, vm.id, bigger)
    # Passes while pending: nothing claimed, nothing pushed, the hold says why.
    for _ in range(2):
        held = await propagator.reconcile_once()
        assert held.claimed == 0 and not held.activated
    assert propagator.held is not None and propagator.held.version == written.version
    assert propagator.held.enclave == enclave
    assert {h.name: (await _active(h))["generation"] for h in hosts} == active
    rows = await propagator.states()
    assert all(r.observed_version == enforced < written.version for r in rows.values())
    await services.policy.approve(bob, written.version, "more memory for the DB")
    released = await propagator.reconcile_once()
    assert propagator.held is None
    host = policy.host_of(vm)
    assert host is not None
    names = {str(h.id): h.name for h in policy.hosts}
    assert [names[h] for h in released.activated] == [host.name]
    rows = await propagator.states()
    assert all(r.observed_version == written.version for r in rows.values())
