"""A VIF's emulated NIC model and a CD-ROM disk (issue #13, xl ``model=``, ``devtype=cdrom``):
the model's closed sets, their XML and JSON forms (absent when unused, so older documents keep
their bytes), the XSD refusing other values, and the xl configuration the host writes."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests._support.policy import make_policy, uid
from xps.policy import (
    DiskAccess,
    DiskDevtype,
    DiskFormat,
    DomainDisk,
    Policy,
    PolicyFormatError,
    PolicyXmlError,
    Vif,
    VifModel,
    errors_only,
    parse_policy,
    policy_from_dict,
    policy_to_dict,
    serialize_policy,
    validate,
)
from xps.policy.generators import xl_config

_ISO = "/var/lib/xenon/EA/install.iso"


def _with_vif_model(policy: Policy, domain: str, model: VifModel | None) -> Policy:
    dom = policy.domain_named(domain)
    vifs = tuple(
        dataclasses.replace(v, model=model) if v.domain == dom.id else v for v in policy.vifs
    )
    return dataclasses.replace(policy, vifs=vifs)


def _with_cdrom(policy: Policy, domain: str, access: DiskAccess = DiskAccess.RO) -> Policy:
    dom = policy.domain_named(domain)
    iso = DomainDisk(uid("sta"), _ISO, DiskFormat.RAW, "hdc", access, DiskDevtype.CDROM)
    return policy.with_domain(dataclasses.replace(dom, disks=(*dom.disks, iso)))


def test_the_closed_sets() -> None:
    assert [m.value for m in VifModel] == ["e1000", "rtl8139", "virtio-net"]
    assert [d.value for d in DiskDevtype] == ["cdrom"]
    with pytest.raises(ValueError):
        Vif(uid("d1"), uid("sa"), "00:16:3e:00:00:01", model="pcnet")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DomainDisk(uid("sta"), _ISO, devtype="floppy")  # type: ignore[arg-type]


def test_an_hvm_vif_emulates_the_model_it_names() -> None:
    base = make_policy()
    assert "type=ioemu,model=e1000" in xl_config(base, "EB-domu-1", vnc_password="pw")
    for model in VifModel:
        text = xl_config(_with_vif_model(base, "EB-domu-1", model), "EB-domu-1", vnc_password="pw")
        (line,) = [x for x in text.splitlines() if x.startswith("vif = ")]
        assert f"type=ioemu,model={model.value}'" in line
    # PV-driver guests have no emulated NIC: the model is ignored, not written.
    pvhvm = xl_config(_with_vif_model(base, "EA-domu-2", VifModel.RTL8139), "EA-domu-2")
    assert "model=" not in pvhvm and "type=vif" in pvhvm
    pv = xl_config(_with_vif_model(base, "EA-domu-1", VifModel.RTL8139), "EA-domu-1")
    assert "model=" not in pv


def test_a_cdrom_is_written_as_a_read_only_cdrom() -> None:
    policy = _with_cdrom(make_policy(), "EA-domu-1")
    assert errors_only(validate(policy)) == errors_only(validate(make_policy()))
    text = xl_config(policy, "EA-domu-1")
    (line,) = [x for x in text.splitlines() if x.startswith("disk = ")]
    assert "'/var/lib/xenon/EA/EA-domu-1.qcow2,qcow2,xvda,rw'" in line
    assert f"'format=raw,vdev=hdc,access=ro,devtype=cdrom,target={_ISO}'" in line


def test_a_writable_cdrom_is_refused_and_never_written_writable() -> None:
    policy = _with_cdrom(make_policy(), "EA-domu-1", DiskAccess.RW)
    (finding,) = [f for f in validate(policy) if f.code == "XP037"]
    assert "EA-domu-1" in finding.message and "hdc is a CD-ROM" in finding.message
    # The generator alone (a policy it was handed unvalidated) still writes it read-only.
    assert "access=ro,devtype=cdrom" in xl_config(policy, "EA-domu-1")


def test_xml_and_json_carry_them_and_leave_them_out_when_unused() -> None:
    base = make_policy()
    policy = _with_cdrom(_with_vif_model(base, "EB-domu-1", VifModel.VIRTIO_NET), "EA-domu-1")
    xml = serialize_policy(policy)
    assert b'model="virtio-net"' in xml and b'devtype="cdrom"' in xml
    assert parse_policy(xml) == policy
    data = policy_to_dict(policy)
    assert policy_from_dict(json.loads(json.dumps(data))) == policy
    assert {"model": "virtio-net"}.items() <= next(v for v in data["vifs"] if "model" in v).items()
    # Unused: no attribute, no JSON key (a policy without them keeps its bytes).
    plain = serialize_policy(base)
    assert b"model=" not in plain and b"devtype=" not in plain
    text = json.dumps(policy_to_dict(base))
    assert '"model"' not in text and '"devtype"' not in text


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'model="virtio-net"', b'model="pcnet"'),
        (b'model="virtio-net"', b'model="e1000,script=/tmp/x"'),
        (b'devtype="cdrom"', b'devtype="floppy"'),
    ],
)
def test_the_schema_refuses_other_values(old: bytes, new: bytes) -> None:
    policy = _with_cdrom(
        _with_vif_model(make_policy(), "EB-domu-1", VifModel.VIRTIO_NET), "EA-domu-1"
    )
    xml = serialize_policy(policy)
    assert old in xml
    with pytest.raises(PolicyXmlError):
        parse_policy(xml.replace(old, new))


@pytest.mark.parametrize(
    ("where", "value", "words"),
    [
        ("vifs", {"model": "pcnet"}, r"vifs\[0\]\.model: .pcnet. is not one of e1000"),
        ("disk", {"devtype": "dvd"}, "devtype"),
    ],
)
def test_json_refuses_other_values(where: str, value: dict[str, str], words: str) -> None:
    data = policy_to_dict(make_policy())
    if where == "vifs":
        data["vifs"][0].update(value)
    else:
        data["domains"][1]["disks"][0].update(value)
    with pytest.raises(PolicyFormatError, match=words):
        policy_from_dict(data)
