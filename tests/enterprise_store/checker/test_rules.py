"""The consistency checker, rule by rule: each code is triggered once and narrowly missed once."""

from __future__ import annotations

import dataclasses
import gc
import uuid
from collections.abc import Callable

import pytest
from hypothesis import given, settings

from enterprise_store._errors import PolicyRefused
from enterprise_store.checker import (
    GENERATED_XL_KEYS,
    RULES,
    Finding,
    Severity,
    check,
    errors_only,
    require_consistent,
)
from enterprise_store.model import (
    Assignment,
    ConflictSet,
    CpuFacts,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    HostSwitch,
    NetworkRestrictions,
    SecLabel,
    Vm,
    VmDisk,
    VmVif,
)
from enterprise_store.policy import domain_config_text, sample_xe_policy
from tests._support.xe_strategies import enterprises
from xps.policy import ConflictLevel, GuestRole, GuestType, HypercallProfile, predefined_profile
from xps.policy.generators import FORBIDDEN_EXTRA_KEYS

_BASE = sample_xe_policy()
_Edit = Callable[[EnterprisePolicy], EnterprisePolicy]


def _vm(which: str, /, **changes: object) -> _Edit:
    return lambda p: p.with_vm(dataclasses.replace(p.vm_named(which), **changes))  # type: ignore[arg-type]


def _host(which: str, /, **changes: object) -> _Edit:
    return lambda p: p.with_host(dataclasses.replace(p.host_named(which), **changes))  # type: ignore[arg-type]


def _enclave(which: str, /, **changes: object) -> _Edit:
    return lambda p: p.with_enclave(dataclasses.replace(p.enclave_named(which), **changes))  # type: ignore[arg-type]


def _new_label(**changes: object) -> _Edit:
    def edit(p: EnterprisePolicy) -> EnterprisePolicy:
        label = SecLabel(
            uuid.uuid5(uuid.NAMESPACE_DNS, "new-label"),
            "EA-new",
            p.enclave_named("Enclave A").id,
            predefined_profile("PV-Combined").id,
        )
        return p.with_seclabel(dataclasses.replace(label, **changes))  # type: ignore[arg-type]

    return edit


def _new_conflict(*names: str, unknown: bool = False) -> _Edit:
    def edit(p: EnterprisePolicy) -> EnterprisePolicy:
        ids = [p.enclave_named(n).id for n in names] + ([uuid.uuid4()] if unknown else [])
        conflict = ConflictSet(uuid.uuid4(), "CS-new", ConflictLevel.NO_COMMUNICATION, tuple(ids))
        return p.with_conflict(conflict)

    return edit


def _dhcp(**changes: object) -> _Edit:
    def edit(p: EnterprisePolicy) -> EnterprisePolicy:
        server = dataclasses.replace(p.dhcp_server_named("dhcp-ea"), **changes)  # type: ignore[arg-type]
        return p.with_dhcp_server(server)

    return edit


def _profile(
    hypercalls: frozenset[int], subops: tuple[tuple[int, frozenset[int]], ...] = ()
) -> _Edit:
    def edit(p: EnterprisePolicy) -> EnterprisePolicy:
        prof = HypercallProfile(
            uuid.uuid4(), "Custom", hypercalls, subops, "", frozenset({GuestType.PV})
        )
        return p.with_profile(prof)

    return edit


def _enclave_d(assigned: bool, with_vm: bool = False) -> _Edit:
    def edit(p: EnterprisePolicy) -> EnterprisePolicy:
        d = Enclave(uuid.uuid5(uuid.NAMESPACE_DNS, "enclave-d"), "Enclave D", (1, 2, 3))
        p = p.with_enclave(d)
        if assigned:
            p = p.with_assignment(d.id, p.host_named("xenon-1").id)
        if with_vm:
            label = SecLabel(
                uuid.uuid4(), "ED-seclabel", d.id, predefined_profile("PV-Combined").id
            )
            vm = Vm(uuid.uuid4(), "ED-domu-1", d.id, label.id, GuestType.PV, kernel="/k")
            p = p.with_seclabel(label).with_vm(vm)
        return p

    return edit


def _extra_copy(same_id: bool) -> _Edit:
    def edit(p: EnterprisePolicy) -> EnterprisePolicy:
        vm = p.vm_named("EA-domu-1")
        twin = dataclasses.replace(vm, name="EA-domu-9", id=vm.id if same_id else uuid.uuid4())
        return dataclasses.replace(p, vms=(*p.vms, twin))

    return edit


def _second_label(p: EnterprisePolicy) -> EnterprisePolicy:
    p = _new_label()(p)
    return _vm("EA-domu-1", seclabel=p.seclabel_named("EA-new").id)(p)


def _unassign_a_host(p: EnterprisePolicy) -> EnterprisePolicy:
    return p.with_assignment(p.enclave_named("Enclave A").id, uuid.uuid4())


def _label_role(role: GuestRole) -> _Edit:
    return _new_label(role=role)


# code -> (edit that breaks exactly that rule, a near miss that does not, codes that may
# come along with the broken one)
CASES: dict[str, tuple[_Edit, _Edit, frozenset[str]]] = {
    "XE-NAME-INVALID": (
        _vm("EA-domu-1", name="x" * 64),
        _vm("EA-domu-1", name="Å" * 31),
        frozenset(),
    ),
    "XE-DUP-NAME": (
        _vm("EA-domu-2", name="EA-domu-1"),
        _vm("EA-domu-2", name="EA-domu-1b"),
        frozenset(),
    ),
    "XE-DUP-ID": (_extra_copy(same_id=True), _extra_copy(same_id=False), frozenset()),
    "XE-HOST-ADDRESS": (
        _host("xenon-1", address="-bad-.example"),
        _host("xenon-1", address="fd00::1"),
        frozenset(),
    ),
    "XE-HOST-PORT": (_host("xenon-1", port=65536), _host("xenon-1", port=65535), frozenset()),
    "XE-HOST-ENDPOINT": (
        _host("xenon-2", address="10.0.2.101"),
        _host("xenon-2", address="10.0.2.101", port=9444),
        frozenset(),
    ),
    "XE-HOST-ORDER": (_host("xenon-2", order=1), _host("xenon-2", order=7), frozenset()),
    "XE-HOST-CPU": (
        _host("xenon-1", cpu=CpuFacts("GenuineIntel", flags=frozenset({"sse 2"}))),
        _host("xenon-1", cpu=CpuFacts()),
        frozenset(),
    ),
    "XE-HOST-SWITCH-ENCLAVE": (
        _host("xenon-1", switches=(HostSwitch("x", uuid.uuid4()),)),
        _host("xenon-1", switches=(HostSwitch("x", None),)),
        frozenset(),
    ),
    "XE-COLOR": (
        _enclave("Enclave A", color=(256, 0, 0)),
        _enclave("Enclave A", color=(255, 0, 0)),
        frozenset(),
    ),
    "XE-ENCLAVE-NO-HOST": (_enclave_d(assigned=False), _enclave_d(assigned=True), frozenset()),
    "XE-ASSIGN-UNKNOWN": (
        _unassign_a_host,
        lambda p: p.with_assignment(p.enclave_named("Enclave A").id, p.host_named("xenon-1").id),
        frozenset(),
    ),
    "XE-PROFILE-INVALID": (
        _profile(frozenset({64})),
        _profile(frozenset({55, 12}), ((12, frozenset({255})),)),
        frozenset(),
    ),
    "XE-SECLABEL-ENCLAVE": (_new_label(enclave=uuid.uuid4()), _new_label(), frozenset()),
    "XE-SECLABEL-PROFILE": (
        _new_label(profile=uuid.uuid4()),
        _new_label(profile=predefined_profile("PVH-Combined").id),
        frozenset(),
    ),
    "XE-SECLABEL-RATE": (_new_label(max_rate=65536), _new_label(max_rate=65535), frozenset()),
    "XE-SECLABEL-VIOLATIONS": (
        _new_label(max_violations=2**32),
        _new_label(max_violations=2**32 - 1),
        frozenset(),
    ),
    "XE-SECLABEL-ROLE": (
        _label_role(GuestRole.NETWORK_DRIVER_DOMAIN),
        _label_role(GuestRole.NONE),
        frozenset(),
    ),
    "XE-VM-ENCLAVE": (
        _vm("EA-domu-1", enclave=uuid.uuid4()),
        _vm(
            "EA-domu-1",
            enclave=_BASE.enclave_named("Enclave C").id,
            seclabel=_BASE.seclabel_named("EC-seclabel").id,
        ),
        frozenset({"XE-VM-SECLABEL-ENCLAVE"}),
    ),
    "XE-VM-NO-SECLABEL": (_vm("EA-domu-1", seclabel=None), _second_label, frozenset()),
    "XE-VM-SECLABEL-UNKNOWN": (_vm("EA-domu-1", seclabel=uuid.uuid4()), _second_label, frozenset()),
    "XE-VM-SECLABEL-ENCLAVE": (
        _vm("EA-domu-1", seclabel=_BASE.seclabel_named("EC-seclabel").id),
        _vm(
            "EA-domu-1",
            seclabel=_BASE.seclabel_named("EC-seclabel").id,
            enclave=_BASE.enclave_named("Enclave C").id,
            host=None,
        ),
        frozenset(),
    ),
    "XE-VM-GUEST-TYPE": (
        _vm("EA-domu-1", guest_type=GuestType.HVM),
        _vm("EB-domu-1", guest_type=GuestType.HVM),
        frozenset(),
    ),
    "XE-VM-BOOT": (
        _vm("EA-domu-1", kernel=None),
        _vm("EA-domu-1", kernel=None, bootloader="pygrub"),
        frozenset(),
    ),
    "XE-VM-MEMORY": (_vm("EA-domu-1", memory_mb=2049), _vm("EA-domu-1", memory_mb=1), frozenset()),
    "XE-VM-VCPUS": (_vm("EA-domu-1", vcpus=3), _vm("EA-domu-1", vcpus=1), frozenset()),
    "XE-VM-XL-STRING": (
        _vm("EA-domu-1", cmdline='root=/dev/xvda1 "quiet"'),
        _vm("EA-domu-1", cmdline="root=/dev/xvda1 quiet console=hvc0"),
        frozenset(),
    ),
    "XE-VM-HOST-UNKNOWN": (
        _vm("EA-domu-1", host=uuid.uuid4()),
        _vm("EA-domu-1", host=_BASE.host_named("xenon-2").id),
        frozenset(),
    ),
    "XE-VM-HOST-ENCLAVE": (
        _vm("EA-domu-1", host=_BASE.host_named("xenon-1").id),
        _vm("EA-domu-1", host=_BASE.host_named("xenon-3").id),
        # xenon-1 runs Enclave B, which a no-coresidence set keeps apart from A.
        frozenset({"XE-CONFLICT-CORESIDENT"}),
    ),
    "XE-VM-NO-HOST": (
        _enclave_d(assigned=False, with_vm=True),
        _enclave_d(assigned=True, with_vm=True),
        frozenset({"XE-ENCLAVE-NO-HOST"}),
    ),
    "XE-VM-EXTRA-FORBIDDEN": (
        _vm("EA-domu-1", extra=(("pci", "['0000:03:00.0']"),)),
        _vm("EA-domu-1", extra=(("localtime", "1"),)),
        frozenset(),
    ),
    "XE-VM-EXTRA-INVALID": (
        _vm("EA-domu-1", extra=(("localtime", "yes"),)),
        _vm("EA-domu-1", extra=(("localtime", "'yes'"),)),
        frozenset(),
    ),
    "XE-VM-NETWORK": (
        _vm("EA-domu-1", network=NetworkRestrictions(False, ("EAbr",))),
        _vm("EA-domu-1", network=NetworkRestrictions(False)),
        frozenset(),
    ),
    "XE-VM-VIF": (
        _vm("EA-domu-1", vifs=(VmVif("EAbr", "01:16:3e:00:00:01"),)),
        _vm("EA-domu-1", vifs=(VmVif("EAbr", "02:16:3e:00:00:01", "172.19.1.9"),)),
        frozenset(),
    ),
    "XE-VM-DISK": (
        _vm("EA-domu-1", disks=(VmDisk("/var/lib/xenon/EA/../../etc/shadow", "xvdb"),)),
        _vm("EA-domu-1", disks=(VmDisk("phy:/dev/vg/ea-1", "xvdb", "r"),)),
        frozenset(),
    ),
    "XE-CONFLICT-ENCLAVES": (
        _new_conflict("Enclave A"),
        _new_conflict("Enclave A", "Enclave C"),
        frozenset(),
    ),
    "XE-CONFLICT-UNKNOWN": (
        _new_conflict("Enclave A", unknown=True),
        _new_conflict("Enclave A", "Enclave B"),
        frozenset(),
    ),
    "XE-CONFLICT-CORESIDENT": (
        _vm("EB-domu-1", host=_BASE.host_named("xenon-2").id),
        _vm("EB-domu-1", host=_BASE.host_named("xenon-2").id, run=False),
        frozenset(),
    ),
    "XE-DHCP-ENCLAVE": (_dhcp(enclave=uuid.uuid4()), _dhcp(name="dhcp-ea-2"), frozenset()),
    "XE-DHCP-INTERFACE": (_dhcp(interface="eth 3"), _dhcp(interface="eth3.100"), frozenset()),
}

_WARNINGS = {"XE-ENCLAVE-NO-HOST", "XE-HOST-ORDER"}


def test_every_rule_has_a_test() -> None:
    assert set(CASES) == set(RULES)


def test_the_sample_is_clean() -> None:
    assert check(_BASE) == []
    assert require_consistent(_BASE) == []


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule(code: str) -> None:
    breaker, near_miss, companions = CASES[code]
    findings = check(breaker(_BASE))
    codes = {f.code for f in findings}
    assert code in codes, [f.message for f in findings]
    assert codes <= {code} | companions, [f.message for f in findings]
    for f in findings:
        assert f.code in RULES
        expected = Severity.WARNING if f.code in _WARNINGS else Severity.ERROR
        assert f.severity is expected
        # Named by name and UUID, the offending object first.
        assert f.objects and f.objects[0] in f.message
        if f.ids:
            assert str(f.ids[0]) in f.message
    missed = check(near_miss(_BASE))
    assert code not in {f.code for f in missed}, [f.message for f in missed]


def test_figure_24_a_vm_before_its_enclave_has_a_seclabel() -> None:
    # §4.2.5: enclaves exist, no SecLabel yet; creating a VM stops the transaction.
    p = EnterprisePolicy(
        hosts=_BASE.hosts,
        enclaves=_BASE.enclaves,
        assignments=_BASE.assignments,
    )
    a = p.enclave_named("Enclave A")
    vm = Vm(uuid.uuid4(), "EA-domu-1", a.id, None, GuestType.PV, kernel="/k")
    with pytest.raises(PolicyRefused) as refused:
        require_consistent(p.with_vm(vm))
    (finding,) = refused.value.findings
    assert isinstance(finding, Finding)
    assert finding.code == "XE-VM-NO-SECLABEL"
    assert finding.objects == ("EA-domu-1", "Enclave A")
    assert finding.ids == (vm.id, a.id)
    assert finding.hint == "create a SecLabel in Enclave A first"
    assert "EA-domu-1" in refused.value.message
    # With a SecLabel in the enclave, the hint names it instead.
    label = SecLabel(uuid.uuid4(), "EA-seclabel", a.id, predefined_profile("PV-Combined").id)
    (finding,) = check(p.with_seclabel(label).with_vm(vm))
    assert finding.hint == "choose one of Enclave A's SecLabels: EA-seclabel"


def test_every_finding_at_once() -> None:
    p = _vm("EA-domu-1", seclabel=None, memory_mb=4096, kernel=None)(_BASE)
    p = _host("xenon-1", port=0)(p)
    assert {f.code for f in check(p)} == {
        "XE-VM-NO-SECLABEL",
        "XE-VM-MEMORY",
        "XE-VM-BOOT",
        "XE-HOST-PORT",
    }


def test_names_with_quotes_and_reserved_names() -> None:
    for bad in ('EA "1"', " lead", "trail ", "tab\tname", "", "back\\slash", "Domain-0"):
        findings = check(_vm("EA-domu-1", name=bad)(_BASE))
        assert [f.code for f in findings] == ["XE-NAME-INVALID"], bad
    for good in ("EA domu 1", "Ω-1", "a.b_c+d"):
        assert check(_vm("EA-domu-1", name=good)(_BASE)) == [], good


def test_dangling_references_of_removed_objects() -> None:
    p = _BASE.without(_BASE.seclabel_named("EB-seclabel").id)
    assert {(f.code, f.objects[0]) for f in check(p)} == {
        ("XE-VM-SECLABEL-UNKNOWN", "EB-domu-1"),
        ("XE-VM-SECLABEL-UNKNOWN", "EB-domu-2"),
        ("XE-VM-SECLABEL-UNKNOWN", "EB-domu-3"),
    }
    gone = _BASE.without(_BASE.host_named("xenon-3").id)
    codes = {(f.code, f.objects[0]) for f in check(gone)}
    assert ("XE-VM-HOST-UNKNOWN", "EA-domu-3") in codes
    # Removing a host removes its assignments: nothing dangles from them.
    assert not any(f.code == "XE-ASSIGN-UNKNOWN" for f in check(gone))
    dangling = dataclasses.replace(
        _BASE, assignments=(*_BASE.assignments, Assignment(uuid.uuid4(), uuid.uuid4()))
    )
    (finding,) = check(dangling)
    assert finding.code == "XE-ASSIGN-UNKNOWN" and finding.kind == "assignment"


def test_coresidence_names_the_vms_host_and_set() -> None:
    p = _vm("EB-domu-1", host=_BASE.host_named("xenon-2").id)(_BASE)
    (finding,) = errors_only(check(p))
    assert finding.objects[:2] == ("EA-EB-no-coresidence", "xenon-2")
    assert set(finding.objects[2:]) == {"EA-domu-1", "EB-domu-1"}
    assert "(and 1 more of these enclaves)" in finding.message
    # Not meant to run: allowed; a no-communication set never forbids co-residence.
    stopped = _vm("EA-domu-1", run=False)(_vm("EA-domu-2", run=False)(p))
    assert check(stopped) == []


def test_extra_option_repeating_a_generated_key_is_refused() -> None:
    (finding,) = check(_vm("EA-domu-1", extra=(("memory", "512"),))(_BASE))
    assert finding.code == "XE-VM-EXTRA-FORBIDDEN" and "generated" in finding.message


@settings(max_examples=100, deadline=None)
@given(enterprises())
def test_a_random_consistent_enterprise_is_accepted(policy: EnterprisePolicy) -> None:
    assert check(policy) == []


def test_dhcp_server_and_rgb_type_checks() -> None:
    server = DhcpServer(uuid.uuid4(), "x", _BASE.enclave_named("Enclave B").id, "eth9")
    assert check(_BASE.with_dhcp_server(server)) == []
    (finding,) = check(_host("xenon-1", color=(1, 2))(_BASE))  # type: ignore[arg-type]
    assert finding.code == "XE-COLOR"


def test_the_collector_is_paused_only_while_checking() -> None:
    assert gc.isenabled()
    check(_BASE)
    fresh = _BASE.with_version(9)
    fresh.vms_on(fresh.hosts[0].id)  # builds the placement index
    assert gc.isenabled()
    gc.disable()
    try:
        check(_vm("EA-domu-1", seclabel=None)(_BASE))
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "changes",
    [
        {"guest_type": GuestType.PV, "kernel": "/k", "ramdisk": "/r", "cmdline": "ro"},
        {"guest_type": GuestType.PV, "kernel": None, "cmdline": None, "bootloader": "pygrub"},
        {"guest_type": GuestType.PVH, "kernel": "/k", "ramdisk": "/r", "cmdline": "ro"},
        {"guest_type": GuestType.PVHVM, "kernel": None, "cmdline": None},
        {"guest_type": GuestType.HVM, "kernel": None, "cmdline": None},
    ],
)
def test_generated_key_table_matches_the_xl_generator(changes: dict[str, object]) -> None:
    # An extra option may not repeat what xl_config writes: the checker must refuse it
    # before a slice is sent, so its table has to cover the generator's real output.
    label = SecLabel(
        uuid.uuid4(),
        "any",
        _BASE.enclave_named("Enclave A").id,
        predefined_profile("AnyDomU-AllowAll").id,
    )
    p = _BASE.with_seclabel(label)
    vm = dataclasses.replace(p.vm_named("EA-domu-1"), seclabel=label.id, extra=(), **changes)  # type: ignore[arg-type]
    p = p.with_vm(vm)
    assert check(p) == []
    text = domain_config_text(p, vm.id)
    written = {
        line.split(" = ")[0]
        for line in text.splitlines()
        if " = " in line and not line.startswith("#")
    }
    for key in written:
        assert key in GENERATED_XL_KEYS[vm.guest_type] or key in FORBIDDEN_EXTRA_KEYS, key
