"""VM migration through the Compute service with real sim XPS daemons as hosts (report §4.4).

The report's walk: Enclave A spans xenon-2 and xenon-3 in the sample policy; EA-domu-1
runs on xenon-2 and moves to xenon-3 live (same UUID, memory image carried over, downtime
measured), and the policy follows. A target whose MSM refuses the VM leaves it running on
the source with the policy placing it there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from enterprise_store._errors import NotFound, PolicyRefused, RoleRequired
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services

SYSTEM = Principal.system()
VM = "EA-domu-1"  # Enclave A, on xenon-2 by the default rule


async def _sample(
    xe_services: Any,
    xps_hosts: Any,
    delays: dict[str, float] | None = None,
    edit: Callable[[Services], Awaitable[Any]] | None = None,
) -> tuple[Services, list[Any]]:
    """Three sim XPS hosts (calls named in ``delays`` answer late), the report's policy
    (changed by ``edit`` before it is propagated), propagated."""
    hosts = await xps_hosts(3, delays=delays or {})
    services: Services = await xe_services(start=True)
    policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
    await services.policy.import_policy(SYSTEM, policy)
    if edit is not None:
        await edit(services)
    task = await services.compute.propagate(SYSTEM)
    done = await services.compute.wait_task(SYSTEM, task.id, 60)
    assert done.state == "succeeded" and done.result is not None, done.error
    return services, hosts


async def _started(services: Services, source: Any) -> dict[str, Any]:
    """Starts VM on its host (xenon-2); its domain there once XE sees it running."""
    await services.compute.vm_action(SYSTEM, VM, "start")
    await _until_live(services, VM, "xenon-2", "running")
    return (await _domains(source))[VM]


async def _until_message(services: Services, task_id: str, text: str, interval: float) -> None:
    async with asyncio.timeout(60):
        while text not in (await services.compute.get_task(SYSTEM, task_id)).message:  # noqa: ASYNC110
            await asyncio.sleep(interval)


async def _domains(host: Any) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in (await host.host.domain_run_states())["domains"]}


async def _until_live(services: Services, vm: str, host: str, state: str) -> None:
    async with asyncio.timeout(30):  # the pool learns domain states from host events
        while True:
            now = await services.compute.vm_state(SYSTEM, vm)
            if (now.host, now.run_state) == (host, state):
                return
            await asyncio.sleep(0.05)


async def test_the_reports_walk_moves_an_enclave_a_vm_between_its_two_hosts(
    xe_services: Any,
    xps_hosts: Any,
) -> None:
    services, hosts = await _sample(xe_services, xps_hosts)
    x2, x3 = hosts[1], hosts[2]
    compute = services.compute
    await compute.vm_action(SYSTEM, VM, "start")
    await _until_live(services, VM, "xenon-2", "running")
    before = (await _domains(x2))[VM]
    verdicts = {t.host: t for t in await compute.migration_targets(SYSTEM, VM)}
    assert set(verdicts) == {"xenon-1", "xenon-3"}
    assert verdicts["xenon-3"].allowed and verdicts["xenon-3"].reasons == ()
    # xenon-1 is refused with every reason at once (Figure 40's red hosts).
    refused = verdicts["xenon-1"]
    assert not refused.allowed
    assert {r.code for r in refused.reasons} == {"XE-MIG-ENCLAVE", "XE-MIG-SWITCH"}
    assert all(r.objects[0] == VM for r in refused.reasons)
    with pytest.raises(PolicyRefused) as info:
        await compute.migrate(SYSTEM, VM, "xenon-1")
    assert {f.code for f in info.value.findings} == {"XE-MIG-ENCLAVE", "XE-MIG-SWITCH"}
    assert "xenon-1" in info.value.message
    version_before = (await services.policy.current()).version

    row = await compute.migrate(SYSTEM, VM, "xenon-3")
    assert row.kind == "vm.migrate" and row.object == f"vm:{VM}"
    done = await compute.wait_task(SYSTEM, row.id, 120)
    assert done.state == "succeeded", done.error
    result = done.result
    assert result is not None
    assert (result["source"], result["target"]) == ("xenon-2", "xenon-3")
    assert result["uuid"] == before["uuid"] and result["image_bytes"] == 2 << 20
    assert result["downtime_ms"] > 0 and result["rounds"] >= 1
    assert result["version"] > version_before and result["source_policy"] == "converged"
    # One copy, on the target, with the same UUID; none on the source.
    moved = (await _domains(x3))[VM]
    assert moved["uuid"] == before["uuid"] and moved["run_state"] == "running"
    assert VM not in await _domains(x2)
    # The policy follows: the VM is placed on xenon-3, both hosts enforce that version.
    policy = await services.policy.current()
    assert policy.host_of(policy.vm_named(VM)).name == "xenon-3"  # type: ignore[union-attr]
    names = {d["name"] for d in (await x3.host.get_policy())["policy"]["domains"]}
    assert VM in names
    await _until_live(services, VM, "xenon-3", "running")
    assert done.progress == 1.0
    # Migrating it back is allowed now (the same rules, from xenon-3).
    back = {t.host: t for t in await compute.migration_targets(SYSTEM, VM)}
    assert back["xenon-2"].allowed


async def test_a_refusal_at_the_destinations_msm_leaves_the_vm_on_the_source(
    xe_services: Any,
    xps_hosts: Any,
) -> None:
    # The target's activation answer is held back a while, so that a domain can start
    # there after the precheck passed and before its MSM admits the VM.
    async def place_eb_on_xenon_3(services: Services) -> None:
        # An Enclave B VM placed on xenon-3 but not meant to run: the policy allows it there.
        await services.policy.update_vm(SYSTEM, "EB-domu-1", {"host": "xenon-3", "run": False})

    services, hosts = await _sample(
        xe_services, xps_hosts, {"MigrateInFinish": 5.0}, place_eb_on_xenon_3
    )
    x2, x3 = hosts[1], hosts[2]
    compute = services.compute
    before = await _started(services, x2)
    assert {t.host: t.allowed for t in await compute.migration_targets(SYSTEM, VM)}["xenon-3"]
    row = await compute.migrate(SYSTEM, VM, "xenon-3")

    async def activating() -> None:
        async with asyncio.timeout(60):
            while "activate" not in (await compute.get_task(SYSTEM, row.id)).message:  # noqa: ASYNC110
                await asyncio.sleep(0.02)

    await activating()
    # Behind XE's back, an operator on xenon-3 starts the Enclave B VM its policy configures.
    await (await x3.console()).create_domain("EB-domu-1")
    done = await compute.wait_task(SYSTEM, row.id, 120)
    assert done.state == "failed" and done.error is not None
    assert done.error["code"] == "conflict"
    detail = done.error["detail"]
    assert "'xenon-3' refused VM 'EA-domu-1'" in detail and "no-coresidence" in detail
    # The VM runs on the source, the same domain, unpaused; nothing of it on the target.
    after = (await _domains(x2))[VM]
    assert (after["domid"], after["uuid"], after["run_state"]) == (
        before["domid"],
        before["uuid"],
        "running",
    )
    assert VM not in await _domains(x3)
    # The policy places it on the source again (a new version with the old placement).
    policy = await services.policy.current()
    assert policy.host_of(policy.vm_named(VM)).name == "xenon-2"  # type: ignore[union-attr]
    assert policy.version >= 3
    await _until_live(services, VM, "xenon-2", "running")


async def test_only_operators_in_scope_migrate_and_the_precheck_says_so(
    xe_services: Any,
    xps_hosts: Any,
    make_user: Any,
) -> None:
    services, _ = await _sample(xe_services, xps_hosts)
    compute = services.compute
    policy = await services.policy.current()
    enclave_a = str(policy.vm_named(VM).enclave)
    enclave_b = str(policy.vm_named("EB-domu-1").enclave)
    auditor = await make_user("aud", "auditor")
    op_b = await make_user("op_b", "operator", (enclave_b,))
    op_a = await make_user("op_a", "operator", (enclave_a,))
    with pytest.raises(RoleRequired):
        await compute.migrate(auditor, VM, "xenon-3")
    with pytest.raises(NotFound):  # Enclave A's VM is outside an Enclave B operator's scope
        await compute.migrate(op_b, VM, "xenon-3")
    # An auditor sees the verdicts with the role reason; the VM is not running yet either.
    seen = {t.host: t for t in await compute.migration_targets(auditor, VM)}
    assert {r.code for r in seen["xenon-3"].reasons} == {"XE-MIG-ROLE", "XE-MIG-NOT-RUNNING"}
    # The operator of Enclave A sees only the hosts carrying it.
    mine = {t.host: t for t in await compute.migration_targets(op_a, VM)}
    assert set(mine) == {"xenon-3"}
    assert {r.code for r in mine["xenon-3"].reasons} == {"XE-MIG-NOT-RUNNING"}
    with pytest.raises(PolicyRefused) as info:
        await compute.migrate(op_a, VM, "xenon-3")
    assert [f.code for f in info.value.findings] == ["XE-MIG-NOT-RUNNING"]


async def test_cancel_during_pre_copy_leaves_the_vm_running_on_the_source(
    xe_services: Any,
    xps_hosts: Any,
) -> None:
    # Each chunk read takes a while, so pre-copy is still going when the cancel comes.
    services, hosts = await _sample(xe_services, xps_hosts, {"MigrateOutRead": 0.2})
    x2, x3 = hosts[1], hosts[2]
    compute = services.compute
    before = await _started(services, x2)
    row = await compute.migrate(SYSTEM, VM, "xenon-3")
    await _until_message(services, row.id, "pre-copy", 0.02)
    cancelled = await compute.cancel_task(SYSTEM, row.id)
    assert cancelled.state == "cancelled"
    after = (await _domains(x2))[VM]
    assert (after["domid"], after["run_state"]) == (before["domid"], "running")
    assert VM not in await _domains(x3)
    assert not x2.host._migrator.state.outgoing and not x3.host._migrator.state.incoming
    policy = await services.policy.current()
    assert policy.host_of(policy.vm_named(VM)).name == "xenon-2"  # type: ignore[union-attr]


async def test_a_target_lost_during_activation_is_waited_for_and_the_vm_kept_on_one_host(
    xe_services: Any,
    xps_hosts: Any,
) -> None:
    # The target dies while it holds the activation: XE cannot know whether it runs the VM.
    services, hosts = await _sample(xe_services, xps_hosts, {"MigrateInFinish": 5.0})
    x2, x3 = hosts[1], hosts[2]
    compute = services.compute
    before = await _started(services, x2)
    row = await compute.migrate(SYSTEM, VM, "xenon-3")
    await _until_message(services, row.id, "activate", 0.02)
    await x3.stop()
    async with asyncio.timeout(60):  # XE waits, the source keeps the VM paused meanwhile
        while "waiting for the hosts" not in (await compute.get_task(SYSTEM, row.id)).message:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert (await _domains(x2))[VM]["run_state"] == "paused"
    await x3.start()  # back, without the VM (its sim hypervisor started afresh)
    done = await compute.wait_task(SYSTEM, row.id, 90)
    assert done.state == "succeeded" and done.result is not None, done.error
    assert done.result["recovered"] is True and done.result["runs_on"] == "xenon-2"
    after = (await _domains(x2))[VM]
    assert (after["domid"], after["run_state"]) == (before["domid"], "running")
    assert VM not in await _domains(x3)
    policy = await services.policy.current()
    assert policy.host_of(policy.vm_named(VM)).name == "xenon-2"  # type: ignore[union-attr]
