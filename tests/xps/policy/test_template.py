"""Policy templates: export generalises hardware, instantiate re-binds it and checks the result."""

from __future__ import annotations

import dataclasses

import pytest

from tests._support.policy import make_policy, uid
from xps.policy import DeviceKind, Disk, Hardware, PciDevice, PolicyXmlError, UsbDevice
from xps.policy._template import (
    PlaceholderKind,
    TemplateError,
    TemplateIncomplete,
    export_template,
    instantiate_template,
    parse_template,
    serialize_template,
)
from xps.policy.generators import xl_config

TARGET = Hardware(
    pci=(
        PciDevice("0000:81:00.0", kind=DeviceKind.NETWORK, device_name="E810"),
        PciDevice("0000:81:00.1", kind=DeviceKind.NETWORK, device_name="E810"),
        PciDevice("0000:82:00.0", kind=DeviceKind.NETWORK, device_name="E810"),
        PciDevice("0000:90:00.0", kind=DeviceKind.STORAGE, device_name="NVMe"),
        PciDevice("0000:91:00.0", kind=DeviceKind.OTHER, device_name="GPU", tag=uid("stale")),
    ),
    disks=(Disk("nvme1n1", "/dev/nvme1n1", size_bytes=2 * 10**12),),
    usb=(UsbDevice(1, 4, name="token"),),
)
FULL = {
    "net-controller-Enclave-A": "0000:81:00.0",
    "net-controller-Enclave-A-2": "81:00.1",  # short form is normalised
    "net-controller-EnclaveB": "0000:82:00.0",
    "storage-controller-Enclave-A": "0000:90:00.0",
    "disk-EnclaveB": "/dev/nvme1n1",
}


def test_export_generalises_hardware_and_keeps_security_rules() -> None:
    policy = make_policy()
    tpl = export_template(policy)
    names = [p.name for p in tpl.placeholders]
    assert names == sorted(FULL)
    kinds = {p.name: p.kind for p in tpl.placeholders}
    assert kinds["storage-controller-Enclave-A"] is PlaceholderKind.STORAGE_CONTROLLER
    assert kinds["disk-EnclaveB"] is PlaceholderKind.DISK
    assert tpl.placeholder("net-controller-EnclaveB").tag == uid("tb")
    general = tpl.policy
    assert general.hardware == Hardware()
    assert all(sw.controller is None for sw in general.switches)
    assert all(loc.controller is None for loc in general.storage)
    assert general.storage_named("EBdisk").base_path == ""
    # Every security rule is untouched.
    for attr in ("profiles", "tags", "conflicts", "seclabels", "vifs"):
        assert getattr(general, attr) == getattr(policy, attr), attr
    strip = lambda s: dataclasses.replace(s, controller=None)  # noqa: E731
    assert [strip(s) for s in policy.switches] == list(general.switches)
    assert general.domain_named("EA-domu-1") == policy.domain_named("EA-domu-1")
    # No host address survives in the template document.
    text = serialize_template(tpl)
    for addr in (b"0000:03:00.0", b"0000:05:00.0", b'/dev/sdb"'):
        assert addr not in text


def test_serialization_is_deterministic_and_round_trips() -> None:
    tpl = export_template(make_policy())
    data = serialize_template(tpl)
    assert data.startswith(b"<?xml") and data.endswith(b"</template>\n")
    assert serialize_template(export_template(make_policy())) == data
    again = parse_template(data)
    assert again == tpl
    assert serialize_template(again) == data


def test_full_mapping_instantiates_a_valid_policy() -> None:
    tpl = export_template(make_policy())
    result = instantiate_template(tpl, TARGET, FULL)
    assert result.complete and result.missing == () and result.errors == ()
    assert {s.name: s.state for s in result.placeholders} == dict.fromkeys(FULL, "bound")
    policy = result.policy
    assert policy.switch_named("EAbr").controller == "0000:81:00.0"
    assert policy.switch_named("EAint").controller == "0000:81:00.1"
    assert policy.storage_named("EAstorage").controller == "0000:90:00.0"
    assert policy.storage_named("EBdisk").base_path == "/dev/nvme1n1"
    assert policy.domain_named("EB-domu-1").disks[0].target == "/dev/nvme1n1"
    tags = {d.bdf: d.tag for d in policy.hardware.pci}
    assert tags["0000:81:00.0"] == uid("ta") and tags["0000:82:00.0"] == uid("tb")
    assert tags["0000:91:00.0"] is None  # a stale tag of another policy is dropped
    assert policy.hardware.disks[0].tag == uid("tb")
    # The instantiated policy drives the generators on the new host.
    assert "target=/dev/nvme1n1" in xl_config(policy, "EB-domu-1", vnc_password="pw")
    assert "pci = [ '0000:81:00.1' ]" in xl_config(policy, "EA-net")


def test_mapping_back_to_the_source_hardware_restores_the_policy() -> None:
    policy = make_policy()
    back = {
        "net-controller-Enclave-A": "0000:03:00.0",
        "net-controller-Enclave-A-2": "0000:06:00.0",
        "net-controller-EnclaveB": "0000:04:00.0",
        "storage-controller-Enclave-A": "0000:05:00.0",
        "disk-EnclaveB": "/dev/sdb",
    }
    result = instantiate_template(export_template(policy), policy.hardware, back)
    assert result.policy == policy


def test_partial_mapping_reports_missing_and_withholds_the_policy() -> None:
    tpl = export_template(make_policy())
    partial = {k: v for k, v in FULL.items() if not k.startswith("net-controller-Enclave-A")}
    result = instantiate_template(tpl, TARGET, partial)
    states = {s.name: s for s in result.placeholders}
    assert states["net-controller-Enclave-A"].state == "missing"
    assert states["net-controller-Enclave-A"].bound_to is None
    assert states["net-controller-Enclave-A"].tag_name == "Enclave A"
    assert states["net-controller-EnclaveB"].state == "bound"
    assert states["net-controller-EnclaveB"].bound_to == "0000:82:00.0"
    assert not result.complete
    with pytest.raises(TemplateIncomplete) as err:
        _ = result.policy
    assert err.value.missing == ("net-controller-Enclave-A", "net-controller-Enclave-A-2")
    assert "net-controller-Enclave-A" in str(err.value)
    assert err.value.code == "policy.template.incomplete"


def test_validation_errors_withhold_the_policy() -> None:
    policy = make_policy()
    dom = dataclasses.replace(policy.domain_named("EB-domu-2"), seclabel=None)
    tpl = export_template(policy.with_domain(dom))
    result = instantiate_template(tpl, TARGET, FULL)
    assert result.missing == ()
    assert any(f.code == "XP001" for f in result.errors)
    with pytest.raises(TemplateIncomplete) as err:
        _ = result.policy
    assert err.value.errors and "XP001" in str(err.value)


@pytest.mark.parametrize(
    ("mapping", "code"),
    [
        ({"net-controller-EnclaveB": "0000:ee:00.0"}, "unknown-hardware"),
        ({"net-controller-EnclaveB": "not-a-bdf"}, "unknown-hardware"),
        ({"disk-EnclaveB": "/dev/sdz"}, "unknown-hardware"),
        ({"net-controller-EnclaveB": "0000:90:00.0"}, "kind-mismatch"),
        ({"nope": "0000:81:00.0"}, "unknown-placeholder"),
        (
            {"net-controller-EnclaveB": "0000:81:00.0", "net-controller-Enclave-A": "81:00.0"},
            "duplicate-binding",
        ),
    ],
)
def test_bad_mappings_are_clear_errors(mapping: dict[str, str], code: str) -> None:
    tpl = export_template(make_policy())
    with pytest.raises(TemplateError) as err:
        instantiate_template(tpl, TARGET, mapping)
    assert err.value.code == f"policy.template.{code}"
    assert str(err.value)


def test_usb_and_input_devices_become_placeholders() -> None:
    policy = make_policy()
    hw = dataclasses.replace(policy.hardware, usb=(UsbDevice(3, 7, name="yubikey", tag=uid("ta")),))
    tpl = export_template(policy.with_hardware(hw))
    usb = tpl.placeholder("usb-device-Enclave-A")
    assert usb.kind is PlaceholderKind.USB_DEVICE and usb.uses == ()
    result = instantiate_template(tpl, TARGET, {**FULL, "usb-device-Enclave-A": "1:4"})
    assert result.policy.hardware.usb[0].tag == uid("ta")


def _doc() -> bytes:
    return serialize_template(export_template(make_policy()))


@pytest.mark.parametrize(
    ("mutate", "exc"),
    [
        (
            lambda d: d.replace(b"<template ", b"<templat ", 1).replace(
                b"</template>", b"</templat>"
            ),
            TemplateError,
        ),
        (lambda d: d.replace(b'format="1"', b'format="9"'), TemplateError),
        (lambda d: d.replace(b'field="controller"', b'field="name"', 1), TemplateError),
        (lambda d: d.replace(b'index="0"', b'index="7"', 1), TemplateError),
        (lambda d: d.replace(b'kind="disk"', b'kind="gpu"', 1), TemplateError),
        (
            lambda d: b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "b">]>' + d.split(b"?>", 1)[1],
            TemplateError,
        ),
        (lambda d: d[:200], TemplateError),
        (lambda d: d.replace(b'name="gen-test"', b'nam="gen-test"', 1), PolicyXmlError),
    ],
)
def test_hostile_or_broken_templates_are_refused(mutate, exc) -> None:  # type: ignore[no-untyped-def]
    data = mutate(_doc())
    assert data != _doc()
    with pytest.raises(exc):
        parse_template(data)


def test_placeholder_tag_must_exist() -> None:
    data = _doc().replace(str(uid("tb")).encode(), str(uid("zz")).encode(), 1)
    with pytest.raises(TemplateError, match="unknown tag"):
        parse_template(data)


def test_phy_paths_unknown_to_the_inventory_stay_verbatim() -> None:
    policy = make_policy()
    loc = dataclasses.replace(policy.storage_named("EBdisk"), base_path="/dev/vg0/guests")
    dom = policy.domain_named("EB-domu-1")
    disk = dataclasses.replace(dom.disks[0], target="/dev/vg0/guests")
    policy = policy.with_storage(loc).with_domain(dataclasses.replace(dom, disks=(disk,)))
    tpl = export_template(policy)
    assert tpl.policy.storage_named("EBdisk").base_path == "/dev/vg0/guests"
    assert tpl.policy.domain_named("EB-domu-1").disks[0].target == "/dev/vg0/guests"
    # /dev/sdb is still a tagged inventory disk: a placeholder without uses.
    assert tpl.placeholder("disk-EnclaveB").uses == ()


def test_passed_through_devices_become_placeholders() -> None:
    policy = make_policy()
    gpu = PciDevice("0000:07:00.0", kind=DeviceKind.OTHER, tag=uid("tb"), device_name="GPU")
    policy = policy.with_hardware(
        dataclasses.replace(policy.hardware, pci=(*policy.hardware.pci, gpu))
    )
    dom = dataclasses.replace(policy.domain_named("EB-domu-1"), pci=("0000:07:00.0",))
    policy = policy.with_domain(dom)
    tpl = export_template(policy)
    assert tpl.policy.domain_named("EB-domu-1").pci == ()
    ph = tpl.placeholder("pci-device-EnclaveB")
    assert [(u.object, u.field, u.index) for u in ph.uses] == [("domain", "pci", 0)]
    assert b"0000:07:00.0" not in serialize_template(tpl)
    result = instantiate_template(
        parse_template(serialize_template(tpl)), TARGET, {**FULL, ph.name: "0000:91:00.0"}
    )
    assert result.policy.domain_named("EB-domu-1").pci == ("0000:91:00.0",)
    tags = {d.bdf: d.tag for d in result.policy.hardware.pci}
    assert tags["0000:91:00.0"] == uid("tb")
