"""Unassigning an enclave from a host unbinds that host's switches of the enclave, in the
unassignment's own audited version (issue #13; session 9 bound them on assignment,
_host_tags.bind, and nothing unbound them: the host kept a switch of an enclave it no
longer carried, and the enclave could not be deleted while "host switches still refer to
it"). Refused, naming the VMs, the switch and the host, while VMs of the enclave placed on
that host still use the switch. Runs on each backend (``services``)."""

from __future__ import annotations

import pytest

from enterprise_store._errors import PolicyRefused
from enterprise_store.audit import AuditQuery
from enterprise_store.model import HostSwitch
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services

SYSTEM = Principal.system()


async def _switches(services: Services, host: str) -> set[HostSwitch]:
    return set((await services.policy.current()).host_named(host).switches)


async def test_unassign_unbinds_the_hosts_switch_in_the_same_version(services: Services) -> None:
    policy = services.policy
    await policy.import_policy(SYSTEM, sample_xe_policy())
    c = (await policy.current()).enclave_named("Enclave C")
    assert HostSwitch("ECbr", c.id) in await _switches(services, "xenon-1")
    # EC-domu-1 is placed on xenon-1 by the default rule: unassigning moves it to xenon-2.
    written = await policy.unassign(SYSTEM, "Enclave C", "xenon-1")
    assert HostSwitch("ECbr", None) in await _switches(services, "xenon-1")
    assert HostSwitch("EBbr", (await policy.current()).enclave_named("Enclave B").id) in (
        await _switches(services, "xenon-1")
    )
    # Only that host: the other hosts keep their switch of Enclave C.
    for other in ("xenon-2", "xenon-3"):
        assert HostSwitch("ECbr", c.id) in await _switches(services, other), other
    # One change: the unassignment's own version, named in its summary and audit record.
    assert (await policy.current()).version == written.version
    version = await policy.version(SYSTEM, written.version)
    assert version.action == "policy.enclave.unassign"
    assert "unbound switch 'ECbr' of host 'xenon-1' from enclave 'Enclave C'" in version.summary
    (entry,), _ = await services.audit_log.list(AuditQuery(action="policy.enclave.unassign"))
    assert entry.details["unbound_switches"] == [
        {"host": "xenon-1", "switch": "ECbr", "enclave": "Enclave C"}
    ]


async def test_refused_while_vms_of_the_enclave_on_the_host_use_the_switch(
    services: Services,
) -> None:
    policy = services.policy
    await policy.import_policy(SYSTEM, sample_xe_policy())
    await policy.update_vm(SYSTEM, "EC-domu-1", {"host": "xenon-1"})
    await policy.set_vm_vifs(SYSTEM, "EC-domu-1", [{"bridge": "ECbr"}])
    before = await policy.current()
    with pytest.raises(PolicyRefused) as refused:
        await policy.unassign(SYSTEM, "Enclave C", "xenon-1")
    (finding,) = [f for f in refused.value.findings if f.code == "XE-HOST-SWITCH-IN-USE"]
    for name in ("'xenon-1'", "'ECbr'", "'Enclave C'", "'EC-domu-1'"):
        assert name in finding.message, finding.message
    assert set(finding.objects) >= {"xenon-1", "ECbr", "EC-domu-1"}
    # Nothing changed: no version, the switch still bound, the enclave still assigned.
    after = await policy.current()
    assert after.version == before.version
    c = after.enclave_named("Enclave C")
    assert HostSwitch("ECbr", c.id) in after.host_named("xenon-1").switches
