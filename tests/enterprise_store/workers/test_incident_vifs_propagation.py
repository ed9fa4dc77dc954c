"""Quarantine by detaching a VM's VIFs (issue #14 §2) seen by XE's propagation: like the
SecLabel form, the host keeps it until unquarantine, XE sees a drift and says it is that
quarantine (not tampering); the restore leaves XE's slice in force and converges it."""

from __future__ import annotations

from typing import Any

from enterprise_store.services import Principal
from tests._support.xe_propagation import (
    active_policy,
    converged,
    placed,
    sample_world,
    until,
)


async def test_detached_vifs_drift_the_host_with_their_reason_and_the_restore_converges_it(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await sample_world(xe_services, xps_hosts, start=True)
    propagator = services.compute.propagator
    policy = await services.policy.current()
    target, host_id = placed(policy, hosts, "EA-domu-1")
    at_head = converged(services, host_id, policy.version)
    await until(at_head)
    xe_hash = (await propagator.states())[host_id].activated_hash
    console = await target.console()
    inc = await console.open_incident("EA-domu-1", "alice")
    done = await console.incident_step(inc["id"], "quarantine", "done", "alice", form="vifs")
    assert done["steps"][-1]["vifs"]

    async def explained() -> bool:
        row = (await propagator.states())[host_id]
        return row.state == "drifted" and bool(row.last_error)

    await until(explained)
    row = (await propagator.states())[host_id]
    assert row.last_error == f"quarantine of VM EA-domu-1, incident {inc['id']}"
    assert row.enforced_hash != xe_hash

    await console.incident_step(inc["id"], "unquarantine", "done", "alice")
    assert (await active_policy(target))["sha256"] == xe_hash
    await until(at_head)
    row = (await propagator.states())[host_id]
    assert row.last_error is None
    views = await services.compute.propagation(Principal.system())
    assert [v.state for v in views if v.host_id == host_id] != ["drifted"]
