"""XE binds a host's switch to the enclave of its own tag once that enclave is assigned to
the host (found in session 9: the §4.2 walk refused every migration target with
XE-MIG-SWITCH, "target has no network switch of enclave 'Enclave A'").

§4.2's order: hosts first (real sim XPS hosts whose own policies tag bridged switches
EAbr/EBbr/ECbr), then enclaves created with the hosts' tag UUIDs, then assignments. XE
stored each switch unbound because the enclave did not exist yet, and nothing bound it
later. Now the assignment binds it, in its own version and audit record; an enclave a
host is not assigned to is never bound to one of its switches.
"""

from __future__ import annotations

import asyncio
from typing import Any

from enterprise_store.model import HostSwitch
from enterprise_store.services import Principal, Services
from xps.policy import parse_policy

SYSTEM = Principal.system()
SHARED = "san-a"
VM = "EA-domu-1"


async def _add(services: Services, sim: Any, **kw: Any) -> None:
    row = await services.compute.add_host(
        SYSTEM, name=sim.name, address="127.0.0.1", port=sim.port, takeover=True, **kw
    )
    done = await services.compute.wait_task(SYSTEM, row.id, 60)
    assert done.state == "succeeded", done.error


async def _switches(services: Services, host: str) -> set[HostSwitch]:
    return set((await services.policy.current()).host_named(host).switches)


async def test_assigning_the_enclave_of_a_hosts_switch_tag_binds_the_switch(
    xe_services: Any, xps_hosts: Any
) -> None:
    x1, x2, x3 = await xps_hosts(3)
    services: Services = await xe_services(start=True)
    policy = services.policy
    own = parse_policy((await x2.host.get_policy())["xml"].encode())
    tags = {t.name: t.id for t in own.tags}
    assert {s.name: s.tag for s in own.switches}["EAbr"] == tags["Enclave A"]

    # Hosts first (xenon-3 after Enclave A exists), then the enclave with the host's tag.
    await _add(services, x1)
    await _add(services, x2, shared_storage=[SHARED])
    a = (await policy.create_enclave(SYSTEM, {"name": "Enclave A"}, id=tags["Enclave A"])).value
    await _add(services, x3, shared_storage=[SHARED])
    for name in ("xenon-1", "xenon-2", "xenon-3"):  # assigned nowhere: bound nowhere
        assert all(s.enclave is None for s in await _switches(services, name)), name

    written = await policy.assign(SYSTEM, a.id, "xenon-2")
    assert HostSwitch("EAbr", a.id) in await _switches(services, "xenon-2")
    # Only the switch of that tag, only on that host.
    assert {s for s in await _switches(services, "xenon-2") if s.enclave} == {
        HostSwitch("EAbr", a.id)
    }
    assert all(s.enclave is None for s in await _switches(services, "xenon-3"))
    # One change: the assignment's own version, named in its summary.
    assert (await policy.current()).version == written.version
    version = await policy.version(SYSTEM, written.version)
    assert version.action == "policy.enclave.assign"
    assert "bound switch 'EAbr' of host 'xenon-2' to enclave 'Enclave A'" in version.summary
    await policy.assign(SYSTEM, a.id, "xenon-3")
    assert HostSwitch("EAbr", a.id) in await _switches(services, "xenon-3")
    # Enclave B exists and has the tag of xenon-1's EBbr, but is not assigned to it.
    b = (await policy.create_enclave(SYSTEM, {"name": "Enclave B"}, id=tags["Enclave B"])).value
    await policy.assign(SYSTEM, b.id, "xenon-2")
    assert all(s.enclave is None for s in await _switches(services, "xenon-1"))
    assert HostSwitch("EBbr", b.id) in await _switches(services, "xenon-2")

    # The migration the §4.2 walk makes: EA-domu-1 from xenon-2 to xenon-3.
    await policy.create_seclabel(
        SYSTEM, {"name": "EA-seclabel", "enclave": a.id, "profile": "PVH-Combined"}
    )
    vm = await policy.create_vm(
        SYSTEM,
        {
            "name": VM,
            "enclave": a.id,
            "seclabel": "EA-seclabel",
            "guest_type": "pvh",
            "kernel": "/usr/local/lib/xen/boot/vmlinuz",
        },
    )
    assert (await policy.get_host(SYSTEM, str(vm.value.host))).name == "xenon-2"
    task = await services.compute.propagate(SYSTEM)
    done = await services.compute.wait_task(SYSTEM, task.id, 60)
    assert done.state == "succeeded", done.error
    await services.compute.vm_action(SYSTEM, VM, "start")
    async with asyncio.timeout(30):  # liveness: the pool learns run states from events
        while (await services.compute.vm_state(SYSTEM, VM)).run_state != "running":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    verdicts = {t.host: t for t in await services.compute.migration_targets(SYSTEM, VM)}
    codes = {r.code for r in verdicts["xenon-3"].reasons}
    assert "XE-MIG-SWITCH" not in codes, verdicts["xenon-3"].reasons
    assert verdicts["xenon-3"].allowed, verdicts["xenon-3"].reasons
    # xenon-1 still has every reason of its own (no Enclave A, no shared storage, no switch).
    refused = {r.code for r in verdicts["xenon-1"].reasons}
    assert {"XE-MIG-ENCLAVE", "XE-MIG-STORAGE", "XE-MIG-SWITCH"} <= refused, refused
