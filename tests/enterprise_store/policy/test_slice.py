"""Per-host slices: Figure 31, merging with what the host owns (§4.3), refusals, determinism."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from enterprise_store._errors import NotFound, PolicyRefused
from enterprise_store.model import (
    EnterprisePolicy,
    NetworkRestrictions,
    policy_from_json,
    policy_to_json,
)
from enterprise_store.policy import (
    SLICE_RULES,
    build_slice,
    host_owned,
    sample_host_policies,
    sample_xe_policy,
    slice_policy,
)
from xps.policy import (
    ConflictLevel,
    NetworkSwitch,
    PciDevice,
    Policy,
    SwitchMode,
    Tag,
    Vif,
    errors_only,
    parse_policy,
    serialize_policy,
    validate,
)

_XE = sample_xe_policy()
_LOCAL = sample_host_policies(_XE)


def _id(name: str) -> uuid.UUID:
    return _XE.host_named(name).id


def _slice(name: str, xe: EnterprisePolicy = _XE, current: Policy | None = None) -> Policy:
    return build_slice(xe, _id(name), current if current is not None else _LOCAL[name]).policy


def test_figure_31_each_host_enforces_only_its_slice() -> None:
    slices = {n: _slice(n) for n in ("xenon-1", "xenon-2", "xenon-3")}

    def count(host: str, prefix: str) -> int:
        return sum(d.name.startswith(prefix) for d in slices[host].domains)

    # "Host 3 manages three of five VMs in Enclave A, two in Enclave C and none in B."
    assert (count("xenon-3", "EA-"), count("xenon-3", "EC-"), count("xenon-3", "EB-")) == (3, 2, 0)
    names = [d.name for s in slices.values() for d in s.domains]
    assert sorted(names) == sorted(vm.name for vm in _XE.vms)  # each VM on exactly one host
    assert [t.name for t in slices["xenon-1"].tags] == ["Enclave B", "Enclave C"]
    assert [t.name for t in slices["xenon-3"].tags] == ["Enclave A", "Enclave B", "Enclave C"]
    assert [s.name for s in slices["xenon-1"].seclabels] == ["EB-seclabel", "EC-seclabel"]
    # Only the profiles the host's SecLabels use.
    assert [p.name for p in slices["xenon-1"].profiles] == ["PV-Combined", "PVHVM-Combined"]
    # Conflict sets bind where two of their enclaves are: both involve A.
    assert slices["xenon-1"].conflicts == ()
    assert {c.level for c in slices["xenon-3"].conflicts} == {
        ConflictLevel.NO_CORESIDENCE,
        ConflictLevel.NO_COMMUNICATION,
    }
    for host, policy in slices.items():
        assert errors_only(validate(policy)) == [], host
        assert all(d.host == host for d in policy.domains)


def test_xe_part_has_no_host_owned_configuration() -> None:
    # Figure 27: network, disks and display are not configured by XE.
    part = slice_policy(_XE, _id("xenon-2"))
    assert part.switches == part.storage == part.vifs == ()
    assert all(d.disks == () and d.pci == () and not d.vnc for d in part.domains)
    assert part.hardware == Policy("x").hardware
    assert part.version == _XE.version and part.name == "XE slice of xenon-2"


def test_a_host_that_already_has_its_slice_gets_the_same_bytes() -> None:
    for name, local in _LOCAL.items():
        built = build_slice(_XE, _id(name), local)
        assert built.policy == local
        assert built.xml == serialize_policy(local)
        assert built.retained == built.released == ()


def test_xe_changes_reach_the_host_and_host_parts_survive() -> None:
    vm = _XE.vm_named("EA-domu-1")
    xe = _XE.with_vm(
        dataclasses.replace(vm, memory_mb=1024, extra=(("max_grant_frames", "32"),))
    ).bumped()
    before = _LOCAL["xenon-2"]
    after = _slice("xenon-2", xe)
    domain = after.domain_named("EA-domu-1")
    assert (domain.memory_mb, domain.extra) == (1024, (("max_grant_frames", "32"),))
    assert domain.disks == before.domain_named("EA-domu-1").disks
    assert after.vifs == before.vifs and after.switches == before.switches
    assert after.storage == before.storage and after.hardware == before.hardware
    assert after.version == 2


def test_a_vm_that_leaves_releases_its_vif_and_disks() -> None:
    vm = _XE.vm_named("EA-domu-1")
    xe = _XE.with_vm(dataclasses.replace(vm, host=_id("xenon-3")))
    built = build_slice(xe, _id("xenon-2"), _LOCAL["xenon-2"])
    assert "EA-domu-1" not in {d.name for d in built.policy.domains}
    mac = _LOCAL["xenon-2"].vifs_of(vm.id)[0].mac
    assert any(mac in note for note in built.released)
    assert any("disks of domain" in note for note in built.released)
    # On its new host it has no VIF or disk yet: XE does not invent host parts.
    there = _slice("xenon-3", xe).domain_named("EA-domu-1")
    assert there.disks == ()


def test_an_unassigned_enclave_is_retained_while_host_objects_use_it() -> None:
    a = _XE.enclave_named("Enclave A").id
    xe = _XE.without_assignment(a, _id("xenon-2"))
    xe = xe.with_vm(dataclasses.replace(xe.vm_named("EA-domu-1"), host=_id("xenon-3")))
    xe = xe.with_vm(dataclasses.replace(xe.vm_named("EA-domu-2"), host=_id("xenon-3")))
    built = build_slice(xe, _id("xenon-2"), _LOCAL["xenon-2"])
    assert built.retained == ("Enclave A",)
    assert built.policy.switch_named("EAbr").tag == a
    # The tag stays, its SecLabel does not: nothing can run under Enclave A here.
    assert "EA-seclabel" not in {s.name for s in built.policy.seclabels}
    assert errors_only(validate(built.policy)) == []


def test_a_host_local_tag_unknown_to_xe_is_kept_as_the_host_named_it() -> None:
    local = _LOCAL["xenon-1"]
    mine = Tag(uuid.uuid4(), "Lab", (9, 9, 9))
    switch = NetworkSwitch(uuid.uuid4(), "labint", SwitchMode.INTERNAL, mine.id)
    current = dataclasses.replace(
        local, tags=(*local.tags, mine), switches=(*local.switches, switch)
    )
    built = build_slice(_XE, _id("xenon-1"), current)
    assert built.retained == ("Lab",) and built.policy.tag_named("Lab") == mine


def test_slice_rules_each_refuse_and_pass() -> None:
    assert set(SLICE_RULES) == {"XE-SLICE-INVALID", "XE-SLICE-NETWORK", "XE-SLICE-DEVICES"}
    # XE-SLICE-NETWORK: the host gave EA-domu-1 a second VIF; the VM allows one.
    local = _LOCAL["xenon-2"]
    vm = _XE.vm_named("EA-domu-1")
    extra = Vif(vm.id, local.switch_named("EAbr").id, "00:16:3e:00:00:99", "172.19.1.199")
    with pytest.raises(PolicyRefused) as refused:
        build_slice(_XE, _id("xenon-2"), local.with_vif(extra))
    (finding,) = refused.value.findings
    assert finding.code == "XE-SLICE-NETWORK"
    assert finding.objects == ("xenon-2", "EA-domu-1") and "at most 1" in finding.message
    roomy = _XE.with_vm(dataclasses.replace(vm, network=NetworkRestrictions(max_vifs=2)))
    assert len(build_slice(roomy, _id("xenon-2"), local.with_vif(extra)).policy.vifs) == 4
    # XE-SLICE-INVALID: the host passed a device of Enclave B through to an A VM.
    nic = local.hardware.pci_device("0000:03:00.1")
    assert nic is not None
    domain = local.domain_named("EA-domu-1")
    bad = local.with_domain(dataclasses.replace(domain, pci=(nic.bdf,)))
    with pytest.raises(PolicyRefused) as refused:
        build_slice(_XE, _id("xenon-2"), bad)
    (finding,) = refused.value.findings
    assert finding.code == "XE-SLICE-INVALID" and "XP035" in finding.message
    a_dev = PciDevice("0000:06:00.0", tag=_XE.enclave_named("Enclave A").id)
    good = dataclasses.replace(
        local.with_domain(dataclasses.replace(domain, pci=(a_dev.bdf,))),
        hardware=dataclasses.replace(local.hardware, pci=(*local.hardware.pci, a_dev)),
    )
    assert build_slice(_XE, _id("xenon-2"), good).policy.domain_named("EA-domu-1").pci == (
        "0000:06:00.0",
    )


def test_network_off_and_switch_restrictions() -> None:
    local = _LOCAL["xenon-2"]
    vm = _XE.vm_named("EA-domu-2")
    for restriction, words in (
        (NetworkRestrictions(allow_network=False), "network is off"),
        (NetworkRestrictions(switches=("EAother",)), "switches EAbr it may not use"),
    ):
        xe = _XE.with_vm(dataclasses.replace(vm, network=restriction))
        with pytest.raises(PolicyRefused) as refused:
            build_slice(xe, _id("xenon-2"), local)
        assert words in refused.value.findings[0].message


def test_slices_are_deterministic_and_versioned() -> None:
    first = build_slice(_XE, _id("xenon-3"), _LOCAL["xenon-3"])
    again = build_slice(
        policy_from_json(policy_to_json(_XE)),
        _id("xenon-3"),
        parse_policy(serialize_policy(_LOCAL["xenon-3"])),
    )
    assert again.slice_sha256 == first.slice_sha256 and again.xml == first.xml
    bumped = build_slice(_XE.bumped(), _id("xenon-3"), _LOCAL["xenon-3"])
    assert bumped.version == 2
    assert bumped.slice_sha256 != first.slice_sha256
    assert bumped.content_sha256 == first.content_sha256
    # A change elsewhere leaves this host's content alone.
    elsewhere = _XE.with_vm(dataclasses.replace(_XE.vm_named("EB-domu-1"), memory_mb=512))
    assert build_slice(elsewhere, _id("xenon-3"), _LOCAL["xenon-3"]).content_sha256 == (
        first.content_sha256
    )
    assert parse_policy(first.xml) == first.policy


def test_a_new_host_and_an_unknown_host() -> None:
    built = build_slice(_XE, _id("xenon-1"), None)
    assert built.policy.switches == () and len(built.policy.domains) == 4
    owned = host_owned(None)
    assert owned.switches == owned.vifs == owned.domains == ()
    with pytest.raises(NotFound):
        build_slice(_XE, uuid.uuid4(), None)
