"""The Compute service with real XPS daemons: Add host (a task), host facts, removal, VMs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from enterprise_store._errors import (
    Conflict,
    HostUnreachable,
    InvalidInput,
    NotFound,
    OutOfScope,
    RoleRequired,
)
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services

SYSTEM = Principal.system()


async def _add(services: Services, name: str, port: int, **kw: Any) -> dict[str, Any]:
    row = await services.compute.add_host(SYSTEM, name=name, address="127.0.0.1", port=port, **kw)
    done = await services.compute.wait_task(SYSTEM, row.id, 60)
    assert done.state == "succeeded", done.error
    assert done.result is not None
    return done.result


async def test_add_host_reads_the_hosts_facts_and_holds_a_host_with_its_own_policy(
    xe_services: Any, xps_hosts: Any
) -> None:
    (h,) = await xps_hosts(1)
    services: Services = await xe_services(start=True)
    result = await _add(services, "xenon-1", h.port, shared_storage=["xenon-nfs"])
    info = await h.host.hypervisor_info()
    assert result["hypervisor"]["backend"] == "sim" == info["backend"]
    assert result["hypervisor"]["hostname"] == "xenon-1"
    hardware = (await h.host.hardware())["hardware"]
    first = hardware["cpus"][0]
    assert result["cpu"]["vendor"] == first["vendor"]
    assert result["cpu"]["family"] == (first["family"] if first["vendor"] else None)
    assert result["cpu"]["model"] is None and "cpu.model" in result["note"]
    assert result["cpu_source"] == "xps"
    # The host enforced its own policy: XE holds off and keeps its export.
    assert result["propagation"] == "held"
    enforced = result["enforced_policy"]
    assert enforced["sha256"] == (await h.host.get_policy())["sha256"]
    stored = await services.policy.current()
    host = stored.host_named("xenon-1")
    assert (host.address, host.port, host.shared_storage) == ("127.0.0.1", h.port, ("xenon-nfs",))
    assert {s.name for s in host.switches} == {"EBbr", "ECbr"}
    prior = await services.compute.prior_policy(SYSTEM, host.id)
    assert prior.encode() == (await h.host.get_policy())["xml"].encode()
    facts_row = await services.compute.host_facts(SYSTEM, "xenon-1")
    assert facts_row.prior_policy_sha256 == enforced["sha256"] and facts_row.has_prior_export
    state = await services.compute.host_propagation(SYSTEM, host.id)
    assert state.state == "held"
    await asyncio.sleep(0.6)  # passes go by: a held host is not written to
    assert (await h.host.get_policy())["sha256"] == enforced["sha256"]


async def test_the_operator_supplies_and_overrides_cpu_facts(
    xe_services: Any, xps_hosts: Any
) -> None:
    (h,) = await xps_hosts(1)
    services: Services = await xe_services(start=True)
    cpu = {"vendor": "AuthenticAMD", "model": 49, "flags": ["sse2", "avx2"]}
    result = await _add(services, "xenon-1", h.port, cpu=cpu, takeover=True)
    assert result["cpu"]["vendor"] == "AuthenticAMD" and result["cpu"]["model"] == 49
    assert result["cpu"]["flags"] == ["avx2", "sse2"]
    assert result["cpu_source"] == "xps+operator" and "note" not in result
    assert result["propagation"] == "pending"
    with pytest.raises(InvalidInput):
        await services.compute.add_host(
            SYSTEM, name="x", address="127.0.0.1", port=h.port, cpu={"model": -1}
        )
    with pytest.raises(InvalidInput):
        await services.compute.add_host(SYSTEM, name="x", address="bad host!", port=h.port)


async def test_a_host_that_cannot_be_reached_fails_the_task_with_the_reason(
    xe_services: Any, xps_hosts: Any
) -> None:
    (h,) = await xps_hosts(1)
    port = h.port
    await h.stop()
    services: Services = await xe_services(start=True, host_timeout_s=2.0)
    row = await services.compute.add_host(SYSTEM, name="gone", address="127.0.0.1", port=port)
    done = await services.compute.wait_task(SYSTEM, row.id, 60)
    assert done.state == "failed" and done.error is not None
    assert done.error["code"] == "host_unreachable"
    assert "gone" not in {x.name for x in (await services.policy.current()).hosts}


async def test_only_an_unscoped_admin_adds_removes_and_reconverges(
    xe_services: Any, xps_hosts: Any, make_user: Any
) -> None:
    services: Services = await xe_services()
    callers = {
        "op": await make_user("op", "operator"),
        "aud": await make_user("aud", "auditor"),
        "adm_a": await make_user("adm_a", "admin", ("00000000-0000-0000-0000-00000000000a",)),
    }
    for who, error in (("op", RoleRequired), ("aud", RoleRequired), ("adm_a", OutOfScope)):
        with pytest.raises(error):
            await services.compute.add_host(callers[who], name="h", address="10.0.0.1", port=1)
        with pytest.raises(error):
            await services.compute.remove_host(callers[who], "h")
        with pytest.raises(error):
            await services.compute.reconverge(callers[who], "h")
    with pytest.raises(RoleRequired):
        await services.compute.vm_action(callers["aud"], "vm", "start")


async def _sample(xe_services: Any, xps_hosts: Any) -> tuple[Services, list[Any]]:
    hosts = await xps_hosts(3)
    services: Services = await xe_services(start=True)
    policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
    await services.policy.import_policy(SYSTEM, policy)
    task = await services.compute.propagate(SYSTEM)
    done = await services.compute.wait_task(SYSTEM, task.id, 60)
    assert done.state == "succeeded" and done.result is not None
    assert done.result["converged"] == 3
    return services, hosts


async def test_vm_lifecycle_through_the_hosts_xps_with_live_state(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await _sample(xe_services, xps_hosts)
    compute = services.compute
    vm = "EB-domu-1"  # default placement: xenon-1
    state = await compute.vm_state(SYSTEM, vm)
    assert (state.host, state.run_state, state.domid) == ("xenon-1", "stopped", None)
    started = await compute.vm_action(SYSTEM, vm, "start")
    assert started.run_state == "running" and started.domid is not None
    on_host = (await hosts[0].host.domain_run_states())["domains"]
    assert any(d["name"] == vm and d["domid"] == started.domid for d in on_host)
    paused = await compute.vm_action(SYSTEM, vm, "pause")
    assert paused.run_state == "paused"

    async def live(expected: str) -> None:
        async with asyncio.timeout(30):
            while (await compute.vm_state(SYSTEM, vm)).run_state != expected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    await live("paused")  # from the host's domain events
    assert (await compute.vm_action(SYSTEM, vm, "unpause")).run_state == "running"
    await live("running")
    domains = await compute.host_domains(SYSTEM, "xenon-1")
    assert [(d.name, d.vm_id is not None) for d in domains if d.name == vm] == [(vm, True)]
    # A running XE VM keeps its host in the enterprise, unless an admin forces it out.
    with pytest.raises(Conflict, match="runs 1 XE VMs"):
        await compute.remove_host(SYSTEM, "xenon-1")
    assert (await compute.vm_action(SYSTEM, vm, "destroy")).run_state == "destroyed"
    await live("stopped")
    with pytest.raises(Conflict):  # still placed there: the Policy service refuses
        await compute.remove_host(SYSTEM, "xenon-1")
    with pytest.raises(NotFound):
        await compute.vm_action(SYSTEM, "no-such-vm", "start")


async def test_a_vm_the_host_does_not_know_yet_is_a_conflict(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await _sample(xe_services, xps_hosts)
    await hosts[0].stop()
    with pytest.raises(HostUnreachable):
        await services.compute.vm_action(SYSTEM, "EB-domu-1", "start")
    await hosts[0].start()
    policy = await services.policy.current()
    label = policy.seclabel_named("EB-seclabel")
    await services.policy.create_vm(
        SYSTEM,
        {
            "name": "EB-new",
            "enclave": str(label.enclave),
            "seclabel": str(label.id),
            "guest_type": "hvm",
            "host": "xenon-1",
        },
    )
    # Stop the workers so the new version cannot reach the host first.
    for task in services.workers.values():
        task.cancel()
    await asyncio.gather(*services.workers.values(), return_exceptions=True)
    with pytest.raises(Conflict, match="refused to start VM 'EB-new'"):
        await services.compute.vm_action(SYSTEM, "EB-new", "start")
