"""Propagation to real XPS daemons: each host enforces its signed slice and keeps its own parts.

Three sim hosts start with their host-local policies of the report's sample (switches,
storage, VIFs, disks, tagged hardware). XE holds the §4.2 sample policy; every pass of
the propagation worker is run here by hand (``reconcile_once``) unless a test starts the
workers.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from enterprise_store._errors import RoleRequired
from enterprise_store.model import EnterprisePolicy
from enterprise_store.policy import build_slice
from enterprise_store.services import Principal
from enterprise_store.workers._propagation import PropagationConfig
from tests._support.xe_propagation import (
    active_policy,
    converged,
    edit_behind_xe,
    placed,
    sample_world,
    until,
)
from xps.policy import parse_policy


async def test_each_host_enforces_its_slice_and_keeps_what_it_owns(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await sample_world(xe_services, xps_hosts)
    before = {h.name: parse_policy((await active_policy(h))["xml"].encode()) for h in hosts}
    report = await services.compute.propagator.reconcile_once()
    assert len(report.activated) == 3 and not report.failed and not report.unchanged
    policy: EnterprisePolicy = await services.policy.current()
    rows = await services.compute.propagator.states()
    for h in hosts:
        host = policy.host_named(h.name)
        active = await active_policy(h)
        enforced = parse_policy(active["xml"].encode())
        expected = build_slice(policy, host.id, before[h.name])
        assert enforced == expected.policy
        assert active["sha256"] == expected.slice_sha256
        # staged signed, stored as the canonical unsigned document it hashes
        assert "Signature" not in active["xml"]
        assert hashlib.sha256(active["xml"].encode()).hexdigest() == active["sha256"]
        assert enforced.version == policy.version
        # host-owned parts survive XE's slice (§4.3)
        old = before[h.name]
        assert enforced.switches == old.switches and enforced.storage == old.storage
        assert enforced.hardware == old.hardware
        assert {v.mac for v in enforced.vifs} == {v.mac for v in old.vifs}
        row = rows[str(host.id)]
        assert (row.state, row.observed_version, row.attempts) == ("converged", policy.version, 0)
        assert row.enforced_hash == row.activated_hash == active["sha256"] == row.desired_sha256


async def test_a_change_reaches_only_the_hosts_whose_slice_content_changed(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await sample_world(xe_services, xps_hosts)
    propagator = services.compute.propagator
    await propagator.reconcile_once()
    generations = {h.name: (await active_policy(h))["generation"] for h in hosts}
    policy = await services.policy.current()
    # EA-domu-1 runs on xenon-2 (the default placement of Enclave A)
    vm = policy.vm_named("EA-domu-1")
    bigger = {"memory_mb": vm.memory_mb + 256, "maxmem_mb": vm.maxmem_mb + 256}
    await services.policy.update_vm(Principal.system(), vm.id, bigger)
    report = await propagator.reconcile_once()
    names = {str(h.id): h.name for h in (await services.policy.current()).hosts}
    assert [names[h] for h in report.activated] == [policy.host_of(vm).name]  # type: ignore[union-attr]
    assert sorted(names[h] for h in report.unchanged) == sorted(
        h.name
        for h in hosts
        if h.name != policy.host_of(vm).name  # type: ignore[union-attr]
    )
    after = {h.name: (await active_policy(h))["generation"] for h in hosts}
    changed = {n for n in after if after[n] != generations[n]}
    assert changed == {policy.host_of(vm).name}  # type: ignore[union-attr]
    rows = await propagator.states()
    head = (await services.policy.current()).version
    assert all(r.observed_version == head and r.state == "converged" for r in rows.values())


async def test_a_host_down_for_the_whole_change_converges_when_it_comes_back(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await sample_world(xe_services, xps_hosts, start=True)
    propagator = services.compute.propagator
    host_ids = {h.name: str((await services.policy.current()).host_named(h.name).id) for h in hosts}

    async def all_at_head() -> bool:
        head = (await services.policy.current()).version
        rows = await propagator.states()
        return all(rows.get(i) and rows[i].observed_version == head for i in host_ids.values())

    await until(all_at_head)
    down = hosts[2]
    await down.stop()
    vm = (await services.policy.current()).vm_named("EC-domu-4")
    await services.policy.update_vm(
        Principal.system(), vm.id, {"vcpus": vm.vcpus + 1, "maxvcpus": vm.maxvcpus + 1}
    )
    head = (await services.policy.current()).version

    async def down_is_retrying() -> bool:
        row = (await propagator.states())[host_ids[down.name]]
        return row.state == "retrying" and row.attempts >= 2 and bool(row.last_error)

    await until(down_is_retrying)
    row = (await propagator.states())[host_ids[down.name]]
    assert row.observed_version is not None and row.observed_version < head
    await down.start()  # same port, same state: the old policy
    await until(all_at_head)
    active = await active_policy(down)
    assert parse_policy(active["xml"].encode()).version == head
    assert active["sha256"] == (await propagator.states())[host_ids[down.name]].activated_hash


async def test_drift_is_shown_and_fixed_only_when_an_admin_says_so(
    xe_services: Any, xps_hosts: Any, make_user: Any
) -> None:
    services, hosts = await sample_world(xe_services, xps_hosts, start=True)
    propagator = services.compute.propagator
    policy = await services.policy.current()
    target = hosts[0]
    host_id = str(policy.host_named(target.name).id)
    at_head = converged(services, host_id, policy.version)
    await until(at_head)
    changed = await edit_behind_xe(target)

    async def drifted() -> bool:
        row = (await propagator.states())[host_id]
        return row.state == "drifted" and row.enforced_hash == changed["sha256"]

    await until(drifted)
    for _ in range(5):  # several passes: a drifted host is left alone
        await propagator.reconcile_once()
    assert (await propagator.states())[host_id].state == "drifted"
    assert (await active_policy(target))["sha256"] == changed["sha256"]
    views = await services.compute.propagation(Principal.system())
    assert [v.state for v in views if v.host_id == host_id] == ["drifted"]

    oper = await make_user("oper", "operator")
    with pytest.raises(RoleRequired):
        await services.compute.reconverge(oper, host_id)
    await services.compute.reconverge(Principal.system(), host_id)
    await until(at_head)
    active = await active_policy(target)
    assert parse_policy(active["xml"].encode()).name == f"XE slice of {target.name}"
    assert active["sha256"] == (await propagator.states())[host_id].activated_hash


@pytest.mark.parametrize("processes", [0, 1], ids=["thread", "process"])
async def test_a_slice_the_host_would_break_is_refused_and_retried_in_either_mode(
    xe_services: Any, xps_hosts: Any, processes: int
) -> None:
    config = PropagationConfig(interval_s=0.2, verify_every_s=3600, slice_processes=processes)
    services, hosts = await sample_world(xe_services, xps_hosts, propagation=config)
    propagator = services.compute.propagator
    report = await propagator.reconcile_once()
    assert len(report.activated) == 3 and not report.failed
    policy = await services.policy.current()
    for h in hosts:  # the same slices as built in this process
        active = await active_policy(h)
        assert (
            active["sha256"]
            == build_slice(
                policy, policy.host_named(h.name).id, parse_policy(active["xml"].encode())
            ).slice_sha256
        )
    # EA-domu-2 has a VIF on xenon-2: switching its network off makes that slice invalid.
    vm = policy.vm_named("EA-domu-2")
    await services.policy.set_vm_network(Principal.system(), vm.id, {"allow_network": False})
    report = await propagator.reconcile_once()
    target = str(policy.host_named("xenon-2").id)
    assert list(report.failed) == [target]
    assert "network is off" in report.failed[target]
    row = (await propagator.states())[target]
    assert row.state == "retrying" and row.attempts == 1
    assert "network is off" in (row.last_error or "")


async def test_a_quarantine_drifts_the_host_with_its_reason_and_the_restore_converges_it(
    xe_services: Any, xps_hosts: Any
) -> None:
    """Issue #14 §2 follow-up: the runbook's quarantine activates a policy on the host
    (XE sees drift, and says it is that quarantine); verify's unquarantine activates XE's
    slice again (the same hash): the host is converged again without an admin."""
    services, hosts = await sample_world(xe_services, xps_hosts, start=True)
    propagator = services.compute.propagator
    policy = await services.policy.current()
    target, host_id = placed(policy, hosts, "EA-domu-1")
    at_head = converged(services, host_id, policy.version)
    await until(at_head)
    xe_hash = (await propagator.states())[host_id].activated_hash
    console = await target.console()
    inc = await console.open_incident("EA-domu-1", "alice")
    await console.incident_step(inc["id"], "quarantine", "done", "alice")

    async def drifted() -> bool:
        return (await propagator.states())[host_id].state == "drifted"

    await until(drifted)
    row = (await propagator.states())[host_id]
    assert row.enforced_hash != xe_hash and row.activated_hash == xe_hash
    drifted_since = row.since_us

    async def reason() -> str | None:
        return (await propagator.states())[host_id].last_error

    async def explained() -> bool:
        return bool(await reason())

    await until(explained)
    assert await reason() == f"quarantine of VM EA-domu-1, incident {inc['id']}"
    views = await services.compute.propagation(Principal.system())
    assert [v.state for v in views if v.host_id == host_id] == ["drifted"]

    back = await console.incident_step(inc["id"], "unquarantine", "done", "alice")
    assert not back.get("quarantine")
    assert (await active_policy(target))["sha256"] == xe_hash
    await until(at_head)
    row = (await propagator.states())[host_id]
    assert row.enforced_hash == row.activated_hash == xe_hash
    assert row.last_error is None and row.since_us > drifted_since


async def test_a_reconverge_during_a_quarantine_keeps_it_and_its_restore_is_not_drift(
    xe_services: Any, xps_hosts: Any
) -> None:
    """An admin re-converges a quarantined host: the host keeps the quarantine in XE's
    slice (XPS rebases it) and XE says so; verify's unquarantine then leaves exactly
    XE's slice in force, which is not drift."""
    services, hosts = await sample_world(xe_services, xps_hosts, start=True)
    propagator = services.compute.propagator
    policy = await services.policy.current()
    target, host_id = placed(policy, hosts, "EA-domu-1")

    async def state() -> str:
        return (await propagator.states())[host_id].state

    await until(converged(services, host_id, policy.version))
    slice_hash = (await propagator.states())[host_id].activated_hash
    console = await target.console()
    inc = await console.open_incident("EA-domu-1", "alice")
    await console.incident_step(inc["id"], "quarantine", "done", "alice")

    async def drifted() -> bool:
        return await state() == "drifted"

    await until(drifted)
    await services.compute.reconverge(Principal.system(), host_id)

    async def kept() -> bool:
        row = (await propagator.states())[host_id]
        return row.state == "converged" and not row.reconverge

    await until(kept)
    row = (await propagator.states())[host_id]
    assert row.last_error == f"quarantine kept: EA-domu-1 ({inc['id']})"
    active = await active_policy(target)
    assert active["sha256"] == row.activated_hash != slice_hash
    assert row.desired_sha256 == slice_hash
    bound = next(d for d in active["policy"]["domains"] if d["name"] == "EA-domu-1")
    labels = {s["id"]: s["name"] for s in active["policy"]["seclabels"]}
    assert labels[bound["seclabel"]].endswith("-quarantine")

    await console.incident_step(inc["id"], "unquarantine", "done", "alice")
    assert (await active_policy(target))["sha256"] == slice_hash

    async def restored() -> bool:
        row = (await propagator.states())[host_id]
        return row.activated_hash == row.enforced_hash == slice_hash

    await until(restored)
    await propagator.reconcile_once()  # a pass more: nothing calls it drift
    row = (await propagator.states())[host_id]
    assert (row.state, row.last_error) == ("converged", None)
