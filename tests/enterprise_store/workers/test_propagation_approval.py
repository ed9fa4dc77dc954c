"""Two-person activation and the propagation worker, against real XPS daemons: a version
changing a flagged enclave is not pushed to the hosts that carry it until a second admin
approves it; then they converge to the head (issue #14 §4). Hosts that carry no waiting
enclave are not held by its review (session 8's decision: a host's slice names only the
enclaves it carries)."""

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
    # Passes while pending: nothing pushed; the hosts of the enclave are held and the
    # hold says why; the host without it has nothing of the change (its slice is the same).
    names = {str(h.id): h.name for h in policy.hosts}
    carriers = {h.name for h in policy.hosts_of(vm.enclave)}
    for _ in range(2):
        held = await propagator.reconcile_once()
        assert not held.activated
    assert {names[h] for h in held.held} == carriers
    assert propagator.held is not None and propagator.held.version == written.version
    assert propagator.held.enclave == enclave
    assert {h.name: (await _active(h))["generation"] for h in hosts} == active
    rows = await propagator.states()
    for host_id, r in rows.items():
        expected = enforced if names[host_id] in carriers else written.version
        assert r.observed_version == expected, names[host_id]
    await services.policy.approve(bob, written.version, "more memory for the DB")
    released = await propagator.reconcile_once()
    assert propagator.held is None
    host = policy.host_of(vm)
    assert host is not None
    assert [names[h] for h in released.activated] == [host.name]
    rows = await propagator.states()
    assert all(r.observed_version == written.version for r in rows.values())


async def test_another_enclaves_change_is_not_held_by_a_waiting_review(
    xe_services: Any, xps_hosts: Any
) -> None:
    """Enclave A's change waits for a second admin; a later change of Enclave C (no
    approval required) reaches xenon-1, which does not carry A, at once, while A's hosts
    keep what they had. Assigning A to xenon-1 (waiting too) holds xenon-1 as well."""
    hosts = await xps_hosts(3)
    services: Services = await xe_services()
    policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
    await services.policy.import_policy(Principal.system(), policy)
    propagator = services.compute.propagator
    await propagator.reconcile_once()
    alice = await _admin(services, "alice")
    a = policy.enclave_named("Enclave A")
    carriers = {h.name for h in policy.hosts_of(a.id)}
    assert "xenon-1" not in carriers and carriers
    await services.policy.update_enclave(alice, a.id, {"requires_approval": True})
    ea = policy.vm_named("EA-domu-1")
    await services.policy.update_vm(
        alice, ea.id, {"memory_mb": ea.memory_mb + 256, "maxmem_mb": ea.maxmem_mb + 256}
    )
    before = {h.name: (await _active(h))["generation"] for h in hosts}
    c = policy.enclave_named("Enclave C")
    await services.policy.update_enclave(alice, c.id, {"color": "#102030"})
    head = (await services.policy.current()).version

    report = await propagator.reconcile_once()

    names = {str(h.id): h.name for h in policy.hosts}
    assert {names[h] for h in report.held} == carriers
    assert "xenon-1" in {names[h] for h in report.activated}
    after = {h.name: (await _active(h))["generation"] for h in hosts}
    assert after["xenon-1"] != before["xenon-1"]
    assert all(after[n] == before[n] for n in carriers)
    rows = await propagator.states()
    by_name = {names[h]: r for h, r in rows.items()}
    assert by_name["xenon-1"].observed_version == head
    assert all(by_name[n].observed_version < head for n in carriers)
    tags = {t["name"]: t for t in (await _active(hosts[0]))["policy"]["tags"]}
    assert tags["Enclave C"]["color"] == [16, 32, 48]

    # An enclave taken off a host waits too: the host still enforces it, so it is held.
    lab = (await services.policy.create_enclave(alice, {"name": "Lab"})).value
    await services.policy.assign(alice, lab.id, "xenon-1")
    assert "xenon-1" in {names[h] for h in (await propagator.reconcile_once()).activated}
    await services.policy.update_enclave(alice, lab.id, {"requires_approval": True})
    await services.policy.unassign(alice, lab.id, "xenon-1")
    report = await propagator.reconcile_once()
    assert {names[h] for h in report.held} == carriers | {"xenon-1"}
    assert not report.activated
