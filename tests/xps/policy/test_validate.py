"""Semantic validation: one test per rule, each breaking exactly that rule."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings

from tests._support.policy_strategies import policies
from xps.policy import (
    RULES,
    ConflictLevel,
    ConflictSet,
    DiskAccess,
    DiskDevtype,
    DiskFormat,
    DomainDisk,
    Finding,
    GuestType,
    HypercallProfile,
    PciDevice,
    Policy,
    PolicyValidationError,
    Severity,
    StorageMode,
    Tag,
    Vif,
    errors_only,
    require_valid,
    sample_policy,
    validate,
)
from xps.policy._validate import OBJECT_LABELS

_BASE = sample_policy()


def _replace_domain(p: Policy, which: str, /, **changes: object) -> Policy:
    return p.with_domain(dataclasses.replace(p.domain_named(which), **changes))


def _vif_of(p: Policy, domain: str) -> Vif:
    return p.vifs_of(p.domain_named(domain).id)[0]


def _xp001(p: Policy) -> Policy:
    return _replace_domain(p, "EA-domu-1", seclabel=None)


def _xp002(p: Policy) -> Policy:
    return _replace_domain(p, "EA-domu-1", seclabel=uuid.uuid4())


def _xp003(p: Policy) -> Policy:
    label = p.seclabel_named("EA-seclabel")
    return p.with_seclabel(dataclasses.replace(label, profile=uuid.uuid4()))


def _xp004(p: Policy) -> Policy:
    a, c = p.tag_named("Enclave A").id, p.tag_named("Enclave C").id
    conflict = p.conflicts[0]
    return p.with_conflict(dataclasses.replace(conflict, tags=(a, c, uuid.uuid4())))


def _xp005(p: Policy) -> Policy:
    vif = _vif_of(p, "EA-domu-1")
    return p.with_vif(dataclasses.replace(vif, domain=uuid.uuid4()))


def _xp006(p: Policy) -> Policy:
    vif = _vif_of(p, "EA-domu-1")
    return p.with_vif(dataclasses.replace(vif, switch=uuid.uuid4()))


def _xp007(p: Policy) -> Policy:
    dom = p.domain_named("EA-domu-1")
    disk = dataclasses.replace(dom.disks[0], location=uuid.uuid4())
    return _replace_domain(p, "EA-domu-1", disks=(disk,))


def _xp008(p: Policy) -> Policy:
    switch = p.switch_named("EAbr")
    return p.with_switch(dataclasses.replace(switch, controller="0000:09:00.0"))


def _xp009(p: Policy) -> Policy:
    vif = _vif_of(p, "EA-domu-1")
    other = p.switch_named("EBbr")
    return p.with_vif(dataclasses.replace(vif, switch=other.id, ip=None))


def _xp010(p: Policy) -> Policy:
    dom = p.domain_named("EA-domu-1")
    disk = dataclasses.replace(dom.disks[0], location=p.storage_named("EBstorage").id)
    return _replace_domain(p, "EA-domu-1", disks=(disk,))


def _xp011(p: Policy) -> Policy:
    switch = p.switch_named("EAbr")
    return p.with_switch(dataclasses.replace(switch, controller="0000:03:00.1"))


def _xp012(p: Policy) -> Policy:
    a = p.tag_named("Enclave A").id
    return p.with_conflict(ConflictSet(uuid.uuid4(), "lonely", ConflictLevel.NO_CORESIDENCE, (a,)))


def _xp013(p: Policy) -> Policy:
    label = p.seclabel_named("EA-seclabel")
    return p.with_seclabel(dataclasses.replace(label, max_rate=65536))


def _xp014(p: Policy) -> Policy:
    label = p.seclabel_named("EA-seclabel")
    return p.with_seclabel(dataclasses.replace(label, max_violations=-1))


def _xp015(p: Policy) -> Policy:
    return _replace_domain(p, "EB-domu-1", guest_type=GuestType.PVH)


def _xp016(p: Policy) -> Policy:
    return p.with_tag(Tag(uuid.uuid4(), "Enclave A", (0, 0, 0)))


def _xp017(p: Policy) -> Policy:
    dom = p.domain_named("EC-domu-1")
    twin = dataclasses.replace(dom, name="EC-twin", disks=())
    return dataclasses.replace(p, domains=(*p.domains, twin))


def _xp018(p: Policy) -> Policy:
    vif = _vif_of(p, "EA-domu-1")
    return p.without_vif(vif.mac).with_vif(dataclasses.replace(vif, mac="01:16:3e:00:00:01"))


def _xp019(p: Policy) -> Policy:
    vif = _vif_of(p, "EA-domu-1")
    other = p.domain_named("EA-domu-3")
    twin = Vif(other.id, vif.switch, vif.mac, None)
    kept = tuple(v for v in p.vifs if v.domain != other.id)
    return dataclasses.replace(p, vifs=(*kept, twin))


def _xp020(p: Policy) -> Policy:
    vif = _vif_of(p, "EA-domu-1")
    return p.without_vif(vif.mac).with_vif(dataclasses.replace(vif, mac="52:54:00:12:34:56"))


def _xp021(p: Policy) -> Policy:
    switch = p.switch_named("EAbr")
    return p.with_switch(dataclasses.replace(switch, netmask="255.0.255.0"))


def _xp022(p: Policy) -> Policy:
    vif = _vif_of(p, "EA-domu-1")
    return p.with_vif(dataclasses.replace(vif, ip="10.0.0.5"))


def _xp023(p: Policy) -> Policy:
    first, second = _vif_of(p, "EA-domu-1"), _vif_of(p, "EA-domu-3")
    return p.with_vif(dataclasses.replace(second, ip=first.ip))


def _xp024(p: Policy) -> Policy:
    return _replace_domain(p, "EA-domu-1", memory_mb=4096, maxmem_mb=2048)


def _xp025(p: Policy) -> Policy:
    return _replace_domain(p, "EA-domu-1", vcpus=4, maxvcpus=2)


def _xp026(p: Policy) -> Policy:
    return _replace_domain(p, "EA-domu-1", name='EA-"quoted"')


def _xp027(p: Policy) -> Policy:
    bad = HypercallProfile(uuid.uuid4(), "Broken", frozenset({64, 17}))
    return p.with_profile(bad)


def _xp028(p: Policy) -> Policy:
    switch = p.switch_named("EAbr")
    user = p.domain_named("EA-domu-1")
    return p.with_switch(dataclasses.replace(switch, driver_domain=user.id))


def _xp029(p: Policy) -> Policy:
    return _replace_domain(p, "EA-domu-1", kernel=None, bootloader=None)


def _xp030(p: Policy) -> Policy:
    tag = p.tag_named("Enclave B")
    return p.with_tag(dataclasses.replace(tag, color=(300, 0, 0)))


def _xp031(p: Policy) -> Policy:
    hw = p.hardware
    return p.with_hardware(dataclasses.replace(hw, pci=(*hw.pci, PciDevice("0000:zz:00.0"))))


def _xp032(p: Policy) -> Policy:
    return _replace_domain(p, "EA-domu-1", cmdline="root=/dev/xvda1\nmemory = 99999")


def _xp033(p: Policy) -> Policy:
    return _replace_domain(p, "EA-domu-1", extra=(("on_crash = 'x'; bad", "1"),))


def _xp034(p: Policy) -> Policy:
    dom = p.domain_named("EA-domu-1")
    second = DomainDisk(dom.disks[0].location, "/var/lib/xenon/EA/extra.qcow2", vdev="xvda")
    return _replace_domain(p, "EA-domu-1", disks=(*dom.disks, second))


def _xp037(p: Policy) -> Policy:
    dom = p.domain_named("EA-domu-1")
    iso = DomainDisk(
        dom.disks[0].location, "/var/lib/xenon/EA/install.iso", DiskFormat.RAW, "hdc",
        DiskAccess.RW, DiskDevtype.CDROM,
    )  # fmt: skip
    return _replace_domain(p, "EA-domu-1", disks=(*dom.disks, iso))


def _xp035(p: Policy) -> Policy:
    # Enclave B's NIC handed to an Enclave A domain.
    return _replace_domain(p, "EA-domu-1", pci=("0000:03:00.1",))


def _xp036(p: Policy) -> Policy:
    loc = p.storage_named("EAstorage")
    return p.with_storage(dataclasses.replace(loc, mode=StorageMode.PHY, base_path="/dev/sdb"))


# code -> (breaker, kind and name of the object the finding is about, severity,
#          what the message must also name: the other objects involved)
CASES: dict[str, tuple[Callable[[Policy], Policy], str, str, Severity, tuple[str, ...]]] = {
    "XP001": (_xp001, "domain", "EA-domu-1", Severity.ERROR, ()),
    "XP002": (_xp002, "domain", "EA-domu-1", Severity.ERROR, ()),
    "XP003": (_xp003, "seclabel", "EA-seclabel", Severity.ERROR, ()),
    "XP004": (_xp004, "conflict", "EA-EC-no-communication", Severity.ERROR, ()),
    "XP005": (_xp005, "vif", "", Severity.ERROR, ()),
    "XP006": (_xp006, "vif", "", Severity.ERROR, ("EA-domu-1",)),
    "XP007": (_xp007, "domain", "EA-domu-1", Severity.ERROR, ()),
    "XP008": (_xp008, "switch", "EAbr", Severity.ERROR, ("0000:09:00.0",)),
    "XP009": (
        _xp009,
        "vif",
        "",
        Severity.ERROR,
        ("EA-domu-1", "'EBbr'", "tag 'Enclave A'", "tag 'Enclave B'"),
    ),
    "XP010": (
        _xp010,
        "domain",
        "EA-domu-1",
        Severity.ERROR,
        ("'EBstorage'", "tag 'Enclave A'", "tag 'Enclave B'"),
    ),
    "XP011": (_xp011, "switch", "EAbr", Severity.ERROR, ("tag 'Enclave A'", "tag 'Enclave B'")),
    "XP012": (_xp012, "conflict", "lonely", Severity.ERROR, ("tag 'Enclave A'",)),
    "XP013": (_xp013, "seclabel", "EA-seclabel", Severity.ERROR, ()),
    "XP014": (_xp014, "seclabel", "EA-seclabel", Severity.ERROR, ()),
    "XP015": (_xp015, "domain", "EB-domu-1", Severity.ERROR, ("'PVHVM-Combined'",)),
    "XP016": (_xp016, "tag", "Enclave A", Severity.ERROR, ()),
    "XP017": (_xp017, "domain", "", Severity.ERROR, ("'EC-domu-1'", "'EC-twin'")),
    "XP018": (_xp018, "vif", "01:16:3e:00:00:01", Severity.ERROR, ("EA-domu-1",)),
    "XP019": (_xp019, "vif", "", Severity.ERROR, ("'EA-domu-1'", "'EA-domu-3'")),
    "XP020": (_xp020, "vif", "52:54:00:12:34:56", Severity.WARNING, ("EA-domu-1",)),
    "XP021": (_xp021, "switch", "EAbr", Severity.ERROR, ()),
    "XP022": (_xp022, "vif", "", Severity.ERROR, ("EA-domu-1", "'EAbr'")),
    "XP023": (_xp023, "vif", "", Severity.ERROR, ("'EA-domu-1'", "'EA-domu-3'")),
    "XP024": (_xp024, "domain", "EA-domu-1", Severity.ERROR, ()),
    "XP025": (_xp025, "domain", "EA-domu-1", Severity.ERROR, ()),
    "XP026": (_xp026, "domain", 'EA-"quoted"', Severity.ERROR, ()),
    "XP027": (_xp027, "profile", "Broken", Severity.ERROR, ()),
    "XP028": (_xp028, "switch", "EAbr", Severity.ERROR, ("'EA-domu-1'", "'EA-seclabel'")),
    "XP029": (_xp029, "domain", "EA-domu-1", Severity.ERROR, ()),
    "XP030": (_xp030, "tag", "Enclave B", Severity.ERROR, ()),
    "XP031": (_xp031, "pci", "0000:zz:00.0", Severity.ERROR, ()),
    "XP032": (_xp032, "domain", "EA-domu-1", Severity.ERROR, ()),
    "XP033": (_xp033, "domain", "EA-domu-1", Severity.ERROR, ()),
    "XP034": (_xp034, "domain", "EA-domu-1", Severity.ERROR, ()),
    "XP035": (
        _xp035,
        "domain",
        "EA-domu-1",
        Severity.ERROR,
        ("tag 'Enclave A'", "tag 'Enclave B'"),
    ),
    "XP036": (_xp036, "storage", "EAstorage", Severity.ERROR, ("'EA-domu-1'", "'EA-domu-3'")),
    "XP037": (_xp037, "domain", "EA-domu-1", Severity.ERROR, ("CD-ROM",)),
}


def test_every_rule_has_a_test() -> None:
    assert set(CASES) == set(RULES)


def test_sample_is_clean() -> None:
    assert validate(_BASE) == []
    assert require_valid(_BASE) == []


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _names_objects(policy: Policy, finding: Finding) -> None:
    """The finding starts with its object's name (and UUID), and names every object it cites."""
    subject = f"{OBJECT_LABELS[finding.object_type]} {finding.object_name!r}"
    assert finding.message.startswith(subject), finding.message
    if finding.object_id is not None:
        assert finding.message.startswith(f"{subject} (uuid {finding.object_id}): ")
    for text in _UUID.findall(finding.message):
        cited = policy.find(uuid.UUID(text))
        # A UUID of an object that exists is never the only way a message names it.
        if cited is not None:
            assert f"{getattr(cited, 'name', '')!r}" in finding.message, (text, finding.message)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule(code: str) -> None:
    breaker, kind, name, severity, mentions = CASES[code]
    broken = breaker(_BASE)
    findings = validate(broken)
    assert findings, f"{code}: nothing found"
    assert {f.code for f in findings} == {code}, [f.message for f in findings]
    hits = [f for f in findings if f.code == code]
    for finding in hits:
        assert finding.severity is severity
        assert finding.object_type == kind
        _names_objects(broken, finding)
    if name:
        assert name in {f.object_name for f in hits}
    for text in mentions:
        assert any(text in f.message for f in hits), (text, [f.message for f in hits])


def test_vif_findings_name_the_domain_of_the_vif() -> None:
    vif = _vif_of(_BASE, "EA-domu-1")
    dom = _BASE.domain_named("EA-domu-1")
    (finding,) = validate(_xp022(_BASE))
    assert finding.message.startswith(f"VIF {vif.mac!r} of domain 'EA-domu-1' (uuid {dom.id}): ")


def test_every_finding_names_its_object_and_field() -> None:
    findings = validate(_xp009(_BASE))
    (finding,) = findings
    assert finding.field == "switch"
    assert finding.object_id is None and finding.object_name == _vif_of(_BASE, "EA-domu-1").mac
    assert "EA-domu-1" in finding.message and "EBbr" in finding.message


def test_unknown_hypercall_number_is_a_warning() -> None:
    odd = HypercallProfile(uuid.uuid4(), "Odd", frozenset({44}))
    findings = validate(_BASE.with_profile(odd))
    assert [(f.code, f.severity) for f in findings] == [("XP027", Severity.WARNING)]
    assert require_valid(_BASE.with_profile(odd)) == findings


def test_several_broken_rules_are_all_reported() -> None:
    broken = _xp001(_xp013(_xp022(_xp030(_xp034(_BASE)))))
    codes = [f.code for f in validate(broken)]
    assert set(codes) == {"XP001", "XP013", "XP022", "XP030", "XP034"}
    with pytest.raises(PolicyValidationError) as info:
        require_valid(broken)
    assert info.value.code == "policy.invalid"
    assert {f.code for f in info.value.findings if isinstance(f, Finding)} == set(codes)


def test_errors_only_filters_warnings() -> None:
    findings = validate(_xp020(_xp013(_BASE)))
    assert {f.code for f in findings} == {"XP013", "XP020"}
    assert [f.code for f in errors_only(findings)] == ["XP013"]


def test_reserved_and_overlong_names() -> None:
    findings = validate(_replace_domain(_BASE, "EA-domu-1", name="Domain-0"))
    assert [f.code for f in findings] == ["XP026"]
    long = _BASE.with_tag(dataclasses.replace(_BASE.tag_named("Enclave B"), name="é" * 32))
    assert [f.code for f in validate(long)] == ["XP026"]


def test_network_and_broadcast_addresses_are_not_hosts() -> None:
    vif = _vif_of(_BASE, "EA-domu-1")
    for ip in ("172.19.0.0", "172.19.255.255"):
        findings = validate(_BASE.with_vif(dataclasses.replace(vif, ip=ip)))
        assert [f.code for f in findings] == ["XP022"]


def test_switch_ip_clash_with_a_vif() -> None:
    vif = _vif_of(_BASE, "EA-domu-1")
    switch_ip = _BASE.switch_named("EAbr").ip
    findings = validate(_BASE.with_vif(dataclasses.replace(vif, ip=switch_ip)))
    assert [f.code for f in findings] == ["XP023"]
    assert "switch 'EAbr'" in findings[0].message


def test_passthrough_of_own_device_is_fine_but_not_twice() -> None:
    own = _replace_domain(_BASE, "EA-domu-1", pci=("0000:03:00.3",))
    untagged = validate(own)
    assert [f.code for f in untagged] == ["XP035"]  # 03:00.3 is untagged
    hw = own.hardware
    tag = own.tag_named("Enclave A").id
    tagged_hw = dataclasses.replace(
        hw,
        pci=tuple(
            dataclasses.replace(d, tag=tag) if d.bdf == "0000:03:00.3" else d for d in hw.pci
        ),
    )
    assert validate(own.with_hardware(tagged_hw)) == []
    twice = _replace_domain(own.with_hardware(tagged_hw), "EA-domu-3", pci=("0000:03:00.3",))
    findings = validate(twice)
    assert [f.code for f in findings] == ["XP035"] and "already" in findings[0].message
    missing = _replace_domain(_BASE, "EA-domu-1", pci=("0000:42:00.0",))
    assert "not in the hardware inventory" in validate(missing)[0].message


def test_phy_disk_tag_must_match() -> None:
    loc = _BASE.storage_named("EAstorage")
    hw = _BASE.hardware
    other = _BASE.tag_named("Enclave B").id
    disks = tuple(
        dataclasses.replace(d, tag=other) if d.path == "/dev/sda" else d for d in hw.disks
    )
    p = _BASE.with_hardware(dataclasses.replace(hw, disks=disks))
    solo = dataclasses.replace(loc, mode=StorageMode.PHY, base_path="/dev/sda")
    p = p.with_storage(solo)
    for name in ("EA-domu-3", "EA-domu-5"):
        p = _replace_domain(p, name, disks=())
    findings = validate(p)
    assert [(f.code, f.field) for f in findings] == [("XP036", "base_path")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_strategy_policies_are_valid(policy: Policy) -> None:
    # The shared strategy promises valid policies; generator tests rely on it.
    assert validate(policy) == []
