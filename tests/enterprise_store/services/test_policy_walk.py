"""The report's §4.2 walk through the Policy service, from an empty enterprise to Figure 31.

Three hosts (xenon-1..3), Enclaves A, B and C (A on two hosts, B and C on all three), a VM
tried before any SecLabel exists (the Figure 24 "policy service warning": refused with
its hint, nothing written), SecLabels, the VMs of Figures 29-31 (default placement shown
to the caller), conflict sets, remote DHCP servers, the hosts' switches; at the end the
store holds exactly ``sample_xe_policy()`` (its VMs pinned where the default rule put
them), reloads to it from the tables, and its head hash is ``policy_sha256`` of it.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from enterprise_store._errors import PolicyRefused
from enterprise_store.model import EnterprisePolicy, Vm, policy_sha256
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services
from enterprise_store.services._policy import PolicyService


def _vm_fields(sample: EnterprisePolicy, vm: Vm, *, with_host: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": vm.name,
        "enclave": sample.enclave(vm.enclave).name,
        "seclabel": None if vm.seclabel is None else sample.seclabel(vm.seclabel).name,
        "guest_type": vm.guest_type.value,
        "os": vm.os.value,
        "kernel": vm.kernel,
        "cmdline": vm.cmdline,
        "memory_mb": vm.memory_mb,
        "vcpus": vm.vcpus,
        "network": {
            "allow_network": vm.network.allow_network,
            "switches": list(vm.network.switches),
            "max_vifs": vm.network.max_vifs,
        },
        "extra": [list(pair) for pair in vm.extra],
    }
    if with_host and vm.host is not None:
        fields["host"] = sample.host(vm.host).name
    return fields


async def _walk(policy: PolicyService, root: Principal) -> list[int]:
    """Builds the sample through the service; returns the versions each write made."""
    sample = sample_xe_policy()
    made: list[int] = []
    for h in sample.hosts:
        w = await policy.add_host(
            root,
            name=h.name,
            address=h.address,
            port=h.port,
            order=h.order,
            color=h.color,
            cpu=h.cpu,
            shared_storage=h.shared_storage,
            id=h.id,
        )
        made.append(w.version)
    for e in sample.enclaves:
        w = await policy.create_enclave(root, {"name": e.name, "color": list(e.color)}, id=e.id)
        made.append(w.version)
        for host in sample.hosts_of(e.id):
            made.append((await policy.assign(root, e.name, host.name)).version)
    for h in sample.hosts:
        switches = [{"name": s.name, "enclave": str(s.enclave)} for s in h.switches]
        made.append((await policy.set_host_facts(root, h.name, switches=switches)).version)

    # Figure 24: a VM before its enclave has a SecLabel stops the transaction.
    first = sample.vm_named("EA-domu-1")
    before = (await policy.current()).version
    with pytest.raises(PolicyRefused) as refused:
        await policy.create_vm(root, _vm_fields(sample, first, with_host=True) | {"seclabel": None})
    codes = [f.code for f in refused.value.findings]
    assert codes == ["XE-VM-NO-SECLABEL"], codes
    finding: Any = refused.value.findings[0]
    assert finding.objects[0] == "EA-domu-1"
    assert "SecLabel" in finding.hint and "Enclave A" in finding.hint
    assert (await policy.current()).version == before
    assert "EA-domu-1" not in {v.name for v in (await policy.current()).vms}

    for label in sample.seclabels:
        w = await policy.create_seclabel(
            root,
            {
                "name": label.name,
                "enclave": str(label.enclave),
                "profile": sample.profile(label.profile).name,
                "max_rate": label.max_rate,
                "max_violations": label.max_violations,
            },
            id=label.id,
        )
        made.append(w.version)
    for vm in sample.vms:
        w = await policy.create_vm(root, _vm_fields(sample, vm, with_host=True), id=vm.id)
        made.append(w.version)
        expected = sample.host_of(vm)
        assert expected is not None and w.value.host == expected.id, vm.name
    for c in sample.conflicts:
        fields = {"name": c.name, "level": c.level.value, "enclaves": [str(e) for e in c.enclaves]}
        made.append((await policy.create_conflict(root, fields, id=c.id)).version)
    for d in sample.dhcp_servers:
        fields = {"name": d.name, "enclave": str(d.enclave), "interface": d.interface}
        made.append((await policy.create_dhcp_server(root, fields, id=d.id)).version)
    return made


def _pinned(sample: EnterprisePolicy) -> EnterprisePolicy:
    return EnterprisePolicy(
        version=sample.version,
        hosts=sample.hosts,
        enclaves=sample.enclaves,
        assignments=sample.assignments,
        profiles=sample.profiles,
        seclabels=sample.seclabels,
        vms=tuple(sample.pinned(v) for v in sample.vms),
        conflicts=sample.conflicts,
        dhcp_servers=sample.dhcp_servers,
    )


async def test_the_report_walk_ends_in_the_sample_policy(
    services: Services, login: Callable[..., Awaitable[Principal]]
) -> None:
    root = await login("root")
    made = await _walk(services.policy, root)
    # One version per write, consecutive; the refused VM made none.
    assert made == list(range(1, len(made) + 1))
    stored = await services.policy.current()
    assert stored.version == len(made)
    assert stored.with_version(1) == _pinned(sample_xe_policy())
    # From the tables, with a cold cache: the same snapshot, and the head names its hash.
    fresh = PolicyService(services.store, services.audit_log)
    reloaded = await fresh.current()
    assert reloaded == stored
    versions = await services.policy.versions(root, limit=1000)
    assert [v.version for v in versions.items] == list(range(len(made), 0, -1))
    assert versions.items[0].sha256 == policy_sha256(stored)
    assert (await services.policy.check(root)).ok
