"""The Compute and task endpoints through the real client, with real XPS daemons as hosts.

202 + ``Location`` + ``{task_id}``, ``?wait=``, the NDJSON stream, cancel, failed tasks as
problem details, each host's propagation state (and in ``/metrics``), VM lifecycle.
"""

from __future__ import annotations

from typing import Any

import pytest

from enterprise_store.client import RoleRequired
from tests._support.xe_api import import_sample, world

__all__ = ["world"]  # the fixture (tests/_support/xe_api.py)


async def test_add_host_answers_202_and_its_task_ends_with_the_hosts_facts(
    world: Any,
    xps_hosts: Any,
) -> None:
    services, client = world
    (h,) = await xps_hosts(1)
    ro_port = h.server.ports["read_only"]
    root = await client()
    raw = await root._http.post(
        "/api/v1/hosts/actions/add",
        json={
            "name": "xenon-1",
            "address": "127.0.0.1",
            "port": h.port,
            "ro_port": ro_port,
            "cpu": {"model": 63},
        },
        headers={"Authorization": f"Bearer {root.token}"},
    )
    assert raw.status_code == 202
    task_id = raw.json()["task_id"]
    assert raw.headers["Location"] == f"/api/v1/tasks/{task_id}" == raw.json()["location"]
    done = await root.compute.task(task_id, wait_s=30)
    assert (done.state, done.kind, done.progress) == ("succeeded", "host.add", 1.0)
    assert done.error is None
    assert done.result is not None and done.result["cpu"]["model"] == 63
    # The read-only port is recorded with the host (what an auditor's console reaches).
    assert (await root.policy.get_host("xenon-1")).ro_port == ro_port
    host_id = done.result["host_id"]
    facts = await root.compute.host_facts("xenon-1")
    assert facts.hypervisor["backend"] == "sim" and facts.prior_policy is not None
    xml = await root.compute.prior_policy(host_id)
    assert xml.encode() == (await h.host.get_policy())["xml"].encode()
    state = await root.compute.host_propagation("xenon-1")
    assert state.state == "held" and state.observed.version is None
    taken = await root.compute.reconverge("xenon-1")
    assert taken.host_id == host_id
    converged = None
    for _ in range(300):
        converged = await root.compute.host_propagation("xenon-1")
        if converged.state == "converged":
            break
        await services.compute.propagator.wait_changed(0.1)
    assert converged is not None and converged.state == "converged"
    assert converged.observed.enforced_hash == (await h.host.get_policy())["sha256"]
    assert converged.desired.version == converged.observed.version
    listed = await root.compute.tasks(kind="host.add")
    assert [t.id for t in listed] == [task_id]


async def test_a_failed_task_carries_its_error_as_problem_details(
    world: Any,
    xps_hosts: Any,
) -> None:
    _, client = world
    (h,) = await xps_hosts(1)
    port = h.port
    await h.stop()
    root = await client()
    accepted = await root.compute.add_host("gone", "127.0.0.1", port)
    done = await root.compute.wait_task(accepted.task_id, 60)
    assert done.state == "failed" and done.error is not None
    assert (done.error.status, done.error.code) == (502, "host_unreachable")
    assert done.error.instance == f"/api/v1/tasks/{accepted.task_id}"


async def test_propagation_task_streams_its_progress_and_the_hosts_show_their_state(
    world: Any,
    xps_hosts: Any,
) -> None:
    services, client = world
    hosts = await xps_hosts(3)
    await import_sample(services, hosts)
    oper = await client("oper")
    accepted = await oper.compute.propagate()
    seen = [t async for t in oper.compute.watch_task(accepted.task_id)]
    assert seen[-1].state == "succeeded" and seen[-1].result is not None
    assert seen[-1].result["converged"] == 3
    progress = [t.progress for t in seen]
    assert progress == sorted(progress)
    states = await oper.compute.propagation()
    head = (await services.policy.current()).version
    assert [s.host for s in states] == ["xenon-1", "xenon-2", "xenon-3"]
    assert all(
        s.state == "converged" and s.observed.version == head and s.lag_s == 0 for s in states
    )
    listed = (await oper.policy.list_hosts()).items  # the Policy service's host list
    assert [(h.name, h.propagation and h.propagation.state) for h in listed] == [
        ("xenon-1", "converged"), ("xenon-2", "converged"), ("xenon-3", "converged")
    ]  # fmt: skip
    one = await oper.policy.get_host("xenon-2")
    assert one.propagation is not None and one.propagation.observed.version == head
    metrics = (await oper._http.get("/metrics")).text
    assert 'xe_propagation_lag_seconds{host="xenon-1"} 0.0' in metrics
    assert 'xe_propagation_hosts{state="converged"} 3.0' in metrics
    assert 'xe_tasks_finished{kind="propagate",state="succeeded"} 1.0' in metrics
    auditor = await client("aud")
    with pytest.raises(RoleRequired):
        await auditor.compute.propagate()


async def test_cancel_ends_a_task_that_waits_for_a_host_that_is_down(
    world: Any,
    xps_hosts: Any,
) -> None:
    services, client = world
    hosts = await xps_hosts(3)
    await hosts[2].stop()
    await import_sample(services, hosts)
    root = await client()
    accepted = await root.compute.propagate()
    running = await root.compute.task(accepted.task_id, wait_s=1.0)
    for _ in range(60):  # the runner picks it up within a second, later on a loaded box
        if running.state != "queued":
            break
        running = await root.compute.task(accepted.task_id, wait_s=1.0)
    assert running.state == "running"
    auditor = await client("aud")
    with pytest.raises(RoleRequired):
        await auditor.compute.cancel_task(accepted.task_id)
    cancelled = await root.compute.cancel_task(accepted.task_id)
    assert cancelled.state == "cancelled"
    down = await root.compute.host_propagation("xenon-3")
    assert down.state in ("pending", "retrying") and down.connection != "connected"


async def test_vm_lifecycle_through_the_api(
    world: Any,
    xps_hosts: Any,
) -> None:
    services, client = world
    hosts = await xps_hosts(3)
    await import_sample(services, hosts)
    oper = await client("oper")
    done = await oper.compute.wait_task((await oper.compute.propagate()).task_id, 60)
    assert done.state == "succeeded"
    started = await oper.compute.vm_action("EB-domu-1", "start")
    assert (started.host, started.run_state) == ("xenon-1", "running")
    domains = await oper.compute.host_domains("xenon-1")
    assert any(d.name == "EB-domu-1" and d.vm_id == started.vm_id for d in domains)
    auditor = await client("aud")
    with pytest.raises(RoleRequired):
        await auditor.compute.vm_action("EB-domu-1", "pause")
    assert (await auditor.compute.vm_state("EB-domu-1")).run_state == "running"
    raw = await oper._http.post(
        "/api/v1/vms/EB-domu-1/actions/explode",
        headers={"Authorization": f"Bearer {oper.token}"},
    )
    assert raw.status_code == 422 and raw.json()["code"] == "invalid_input"
    destroyed = await oper.compute.vm_action("EB-domu-1", "destroy")
    assert destroyed.run_state == "destroyed"
