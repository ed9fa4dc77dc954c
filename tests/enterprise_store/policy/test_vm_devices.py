"""A VM's VIFs and disks in XE (Figure 28, §4.3.1, §4.3.3): what each may hold, the
canonical JSON and XML (old documents keep their bytes and hash), and the host slice
that places them on the host's own switch and storage location."""

from __future__ import annotations

import dataclasses

import pytest

from enterprise_store._errors import PolicyRefused
from enterprise_store.model import (
    EnterprisePolicy,
    NetworkRestrictions,
    VmDisk,
    VmVif,
    policy_from_json,
    policy_sha256,
    policy_to_json,
)
from enterprise_store.model._devices import derived_mac, devices_problems
from enterprise_store.policy import (
    build_slice,
    domain_config_text,
    parse_enterprise,
    policy_text,
    sample_host_policies,
    sample_xe_policy,
    serialize_enterprise,
)
from enterprise_store.services._policy_digest import Digester
from xps.policy import DiskAccess
from xps.policy.generators import xl_config

_XE = sample_xe_policy()
_LOCAL = sample_host_policies(_XE)
# policy_sha256 of the sample as the code before VIFs and disks wrote it.
_SAMPLE_SHA256 = "9cdbf8c21d9ce5be9ee81f44f44902ce077958cf5f01865cde3df1285d6d96c8"
_VIF = VmVif("EAbr", None, "172.19.1.150")
_DISK = VmDisk("/var/lib/xenon/EA/EA-domu-1-data.img", "xvdb", "r")


def _with(name: str, **changes: object) -> EnterprisePolicy:
    return _XE.with_object(dataclasses.replace(_XE.vm_named(name), **changes))


def _host_config(xe: EnterprisePolicy, vm: str) -> str:
    found = xe.vm_named(vm)
    host = xe.host_of(found)
    assert host is not None
    built = build_slice(xe, host.id, _LOCAL[host.name])
    return xl_config(built.policy, vm, vnc_password="test-mask")


def test_an_old_document_keeps_its_bytes_and_hash() -> None:
    text = policy_to_json(_XE)
    assert b'"vifs"' not in text and b'"disks"' not in text
    assert policy_sha256(_XE) == _SAMPLE_SHA256
    assert Digester().sha256(_XE) == _SAMPLE_SHA256
    xml = serialize_enterprise(_XE)
    assert b"<vif bridge=" not in xml and b"<disk target=" not in xml


def test_vifs_and_disks_survive_json_and_xml_and_move_the_hash() -> None:
    xe = _with("EA-domu-1", vifs=(_VIF, VmVif("EAbr", "02:00:00:00:00:0a")), disks=(_DISK,))
    assert policy_from_json(policy_to_json(xe)) == xe
    assert parse_enterprise(serialize_enterprise(xe)) == xe
    assert policy_sha256(xe) != _SAMPLE_SHA256
    digester = Digester()
    assert digester.sha256(_XE) == _SAMPLE_SHA256
    assert digester.sha256(xe) == policy_sha256(xe)
    text = policy_text(xe)
    assert "vif bridge EAbr ip 172.19.1.150" in text
    assert "disk /var/lib/xenon/EA/EA-domu-1-data.img xvdb r raw" in text


def test_the_host_s_xl_config_gets_xe_s_vif_and_disk_lines() -> None:
    before = _host_config(_XE, "EA-domu-1")
    xe = _with("EA-domu-1", vifs=(_VIF,), disks=(_DISK,))
    after = _host_config(xe, "EA-domu-1")
    mac = derived_mac(_XE.vm_named("EA-domu-1").id, 0)
    assert f"vif = [ 'mac={mac},bridge=EAbr,ip=172.19.1.150' ]" in after
    assert "disk = [ '/var/lib/xenon/EA/EA-domu-1-data.img,raw,xvdb,ro' ]" in after
    # XE's VIF and disk replace the host's own; the other VMs keep theirs.
    assert after.count("vif =") == 1 and before.split("vif =")[1] not in after
    assert _host_config(xe, "EA-domu-2") == _host_config(_XE, "EA-domu-2")
    # The derived MAC is stable: the same slice twice.
    host = xe.host_of(xe.vm_named("EA-domu-1"))
    assert host is not None
    one = build_slice(xe, host.id, _LOCAL[host.name])
    two = build_slice(xe, host.id, _LOCAL[host.name])
    assert one.slice_sha256 == two.slice_sha256
    (disk,) = one.policy.domain_named("EA-domu-1").disks
    assert disk.access is DiskAccess.RO and disk.target == _DISK.target
    # View domain config names them too.
    shown = domain_config_text(xe, xe.vm_named("EA-domu-1").id)
    assert "# vif 1: bridge=EAbr,ip=172.19.1.150" in shown
    assert "# disk 1: /var/lib/xenon/EA/EA-domu-1-data.img,raw,xvdb,r" in shown


def test_a_host_without_the_switch_or_storage_refuses_the_slice_naming_the_vm() -> None:
    xe = _with(
        "EA-domu-1",
        vifs=(VmVif("EZbr"),),  # no such switch on the VM's host
        disks=(VmDisk("phy:/dev/vg/ea-1", "xvdb"),),  # the host has file storage only
    )
    host = xe.host_of(xe.vm_named("EA-domu-1"))
    assert host is not None
    with pytest.raises(PolicyRefused) as refused:
        build_slice(xe, host.id, _LOCAL[host.name])
    found = refused.value.findings
    assert {f.code for f in found} == {"XE-SLICE-DEVICES"}
    assert all("EA-domu-1" in f.objects for f in found)
    messages = " | ".join(f.message for f in found)
    assert "no network switch 'EZbr'" in messages and "no phy storage location" in messages


@pytest.mark.parametrize(
    ("vifs", "disks", "words"),
    [
        ((VmVif("br'0"),), (), "bridge"),
        ((VmVif("br0\nvif=x"),), (), "bridge"),
        ((VmVif("br,0"),), (), "bridge"),
        ((VmVif("brïdge"),), (), "bridge"),
        ((VmVif("a" * 16),), (), "bridge"),
        ((VmVif("EAbr", "01:00:5e:00:00:01"),), (), "multicast"),
        ((VmVif("EAbr", "00:16:3e:00:00:0g"),), (), "six hex pairs"),
        ((VmVif("EAbr", "00:16:3e:00:00:01,ip=1"),), (), "six hex pairs"),
        ((VmVif("EAbr", None, "10.0.0.1,script=/tmp/x"),), (), "IPv4 or IPv6"),
        ((VmVif("EAbr", None, "\u0661\u0660.0.0.1"),), (), "IPv4 or IPv6"),
        ((VmVif("EAbr", None, "127.0.0.1"),), (), "loopback"),
        ((VmVif("EAbr", "02:00:00:00:00:01"), VmVif("EAbr", "02:00:00:00:00:01")), (), "MAC"),
        ((), (VmDisk("/srv/../etc/shadow", "xvda"),), ".."),
        ((), (VmDisk("relative.img", "xvda"),), "absolute"),
        ((), (VmDisk("/srv/a,b.img", "xvda"),), "absolute"),
        ((), (VmDisk("/srv/a'.img", "xvda"),), "absolute"),
        ((), (VmDisk("/srv/a\n.img", "xvda"),), "absolute"),
        ((), (VmDisk("/srv/ä.img", "xvda"),), "absolute"),
        ((), (VmDisk("/srv/a.img", "sda"),), "vdev"),
        ((), (VmDisk("/srv/a.img", "xvda,target=/x"),), "vdev"),
        ((), (VmDisk("/srv/a.img", "xvda", "rw"),), "mode"),
        ((), (VmDisk("/srv/a.img", "xvda", "r", "vmdk"),), "format"),
        ((), (VmDisk("phy:/etc/passwd", "xvda"),), "/dev/"),
        ((), (VmDisk("/srv/a.img", "xvda"), VmDisk("/srv/b.img", "xvda")), "vdev 'xvda'"),
        ((VmVif("EAbr", model="pcnet"),), (), "model 'pcnet' must be one of e1000"),
        ((VmVif("EAbr", model="e1000,script=/x"),), (), "model"),
        ((), (VmDisk("/srv/a.iso", "hdc", "w", cdrom=True),), "CD-ROM is read-only"),
    ],
)
def test_every_hostile_value_is_a_problem(
    vifs: tuple[VmVif, ...], disks: tuple[VmDisk, ...], words: str
) -> None:
    problems = devices_problems(vifs, disks, NetworkRestrictions())
    assert problems and any(words in text for _, text in problems), problems


def test_good_values_and_the_network_restrictions() -> None:
    good_vifs = (VmVif("EAbr", "02:16:3e:aa:bb:cc", "172.19.1.150"), VmVif("x.br-1_2"))
    good_disks = (VmDisk("phy:/dev/vg/ea-1", "xvda"), VmDisk("file:/srv/a.qcow2", "hdc", "r"))
    assert devices_problems(good_vifs, good_disks, NetworkRestrictions()) == []
    assert devices_problems((VmVif("EAbr", None, "fd00::5"),), (), NetworkRestrictions()) == []
    two = (VmVif("EAbr"), VmVif("EAbr"))
    (problem,) = devices_problems(two, (), NetworkRestrictions(max_vifs=1))
    assert "at most 1" in problem[1]
    (problem,) = devices_problems(two[:1], (), NetworkRestrictions(allow_network=False))
    assert "network is off" in problem[1]
    (problem,) = devices_problems(two[:1], (), NetworkRestrictions(switches=("EBbr",)))
    assert "allowed switches (EBbr)" in problem[1]


def test_a_vif_model_and_a_cdrom_reach_the_host_s_xl_config() -> None:
    """Issue #13: XE carries a VIF's NIC model and a CD-ROM disk into the slice; the host's
    xl configuration (what XPS writes before ``xl create``) has ``model=`` and
    ``devtype=cdrom``. EB-domu-3 is HVM."""
    iso = VmDisk("/var/lib/xenon/EB/install.iso", "hdc", "r", cdrom=True)
    xe = _with("EB-domu-3", vifs=(VmVif("EBbr", model="virtio-net"),), disks=(iso,))
    text = _host_config(xe, "EB-domu-3")
    mac = derived_mac(xe.vm_named("EB-domu-3").id, 0)
    assert f"vif = [ 'mac={mac},bridge=EBbr,type=ioemu,model=virtio-net' ]" in text
    assert (
        "disk = [ 'format=raw,vdev=hdc,access=ro,devtype=cdrom,"
        "target=/var/lib/xenon/EB/install.iso' ]"
    ) in text
    assert "model=e1000" not in text
    # Both survive the canonical JSON and XML, and the slice is stable.
    assert policy_from_json(policy_to_json(xe)) == xe
    assert parse_enterprise(serialize_enterprise(xe)) == xe
    shown = domain_config_text(xe, xe.vm_named("EB-domu-3").id)
    assert "# vif 1: bridge=EBbr,model=virtio-net" in shown
    assert "# disk 1: /var/lib/xenon/EB/install.iso,raw,hdc,r,devtype=cdrom" in shown
    assert "vif bridge EBbr model virtio-net" in policy_text(xe)
    assert "disk /var/lib/xenon/EB/install.iso hdc r raw cdrom" in policy_text(xe)


def test_vifs_and_disks_without_them_keep_their_bytes() -> None:
    # A version written before issue #13 (VIFs and disks, no model, no CD-ROM): the same
    # JSON and XML bytes, so the same SHA-256.
    xe = _with("EA-domu-1", vifs=(_VIF,), disks=(_DISK,))
    data = policy_to_json(xe)
    assert b'"model":null' not in data and b'"cdrom"' not in data
    xml = serialize_enterprise(xe)
    assert b"<vif bridge=" in xml and b'" model=' not in xml.split(b"<vif ")[1].split(b"/>")[0]
    assert b"cdrom=" not in xml
    assert Digester().sha256(xe) == policy_sha256(xe)
    with_model = _with("EA-domu-1", vifs=(VmVif("EAbr", None, "172.19.1.150", "e1000"),))
    assert b'"model":"e1000"' in policy_to_json(with_model)
    assert Digester().sha256(with_model) == policy_sha256(with_model)


def test_a_host_s_read_only_port_survives_json_and_xml() -> None:
    host = dataclasses.replace(_XE.hosts[0], ro_port=9543)
    xe = dataclasses.replace(_XE, hosts=(host, *_XE.hosts[1:]))
    assert policy_from_json(policy_to_json(xe)) == xe
    assert parse_enterprise(serialize_enterprise(xe)) == xe
    assert b'"ro_port":9543' in policy_to_json(xe) and b'"ro_port"' not in policy_to_json(_XE)
    assert Digester().sha256(xe) == policy_sha256(xe) != _SAMPLE_SHA256
