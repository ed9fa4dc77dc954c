"""Migration over HTTP: the precheck page, 202 + task, a refused target as problem details."""

from __future__ import annotations

from typing import Any

import pytest

from enterprise_store.client import PolicyRefused, RoleRequired
from tests._support.xe_api import import_sample, world

__all__ = ["world"]  # the fixture (tests/_support/xe_api.py)

VM = "EA-domu-1"


async def test_migrate_through_the_api(
    world: Any,
    xps_hosts: Any,
) -> None:
    services, client = world
    hosts = await xps_hosts(3)
    await import_sample(services, hosts)
    oper = await client("oper")
    assert (await oper.compute.wait_task((await oper.compute.propagate()).task_id, 60)).state == (
        "succeeded"
    )
    await oper.compute.vm_action(VM, "start")
    auditor = await client("aud")
    targets = {t.host: t for t in await auditor.compute.migration_targets(VM)}
    assert [r.code for r in targets["xenon-3"].reasons] == ["XE-MIG-ROLE"]
    with pytest.raises(RoleRequired):
        await auditor.compute.migrate(VM, "xenon-3")
    targets = {t.host: t for t in await oper.compute.migration_targets(VM)}
    assert targets["xenon-3"].allowed and not targets["xenon-1"].allowed
    # A refused target: 409 policy_refused naming the VM and the host, every reason.
    with pytest.raises(PolicyRefused) as info:
        await oper.compute.migrate(VM, "xenon-1")
    assert {f.code for f in info.value.findings} == {"XE-MIG-ENCLAVE", "XE-MIG-SWITCH"}
    assert all(f.objects[0] == VM for f in info.value.findings)
    raw = await oper._http.post(
        f"/api/v1/vms/{VM}/actions/migrate",
        json={"to": "xenon-3"},
        headers={"Authorization": f"Bearer {oper.token}"},
    )
    assert raw.status_code == 202
    task_id = raw.json()["task_id"]
    assert raw.headers["Location"] == f"/api/v1/tasks/{task_id}"
    seen = [t async for t in oper.compute.watch_task(task_id)]
    done = seen[-1]
    assert done.state == "succeeded" and done.result is not None, done.error
    assert done.kind == "vm.migrate" and done.result["target"] == "xenon-3"
    assert done.result["downtime_ms"] > 0
    # The stream carries the latest message of each change (quick phases may coalesce);
    # progress never goes back, and the result keeps every phase in order.
    fractions = [t.progress for t in seen]
    assert fractions == sorted(fractions)
    phases = [p["phase"] for p in done.result["phases"]]
    assert phases[0] == "pre-copy" and phases[-3:] == ["stop-and-copy", "activate", "finish"]
    at = [p["at_ms"] for p in done.result["phases"]]
    assert at == sorted(at)
    state = await oper.compute.vm_state(VM)
    assert (state.host, state.domid) == ("xenon-3", done.result["target_domid"])
    bad = await oper._http.post(
        f"/api/v1/vms/{VM}/actions/migrate",
        json={"to": "xenon-2", "extra": 1},
        headers={"Authorization": f"Bearer {oper.token}"},
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"


async def test_the_openapi_document_states_the_roles(world: Any) -> None:
    _, client = world
    root = await client()
    doc = (await root._http.get("/openapi.json")).json()
    paths = doc["paths"]
    assert paths["/api/v1/vms/{ref}/actions/migrate"]["post"]["x-required-role"] == "operator"
    assert paths["/api/v1/vms/{ref}/migration-targets"]["get"]["x-required-role"] == "auditor"
