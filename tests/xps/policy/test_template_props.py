"""Template properties over random valid policies, and placeholder naming edge cases."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings

from tests._support.policy import make_policy, uid
from tests._support.policy_strategies import policies
from xps.policy import DeviceKind, PciDevice, Policy, Tag
from xps.policy._template import (
    export_template,
    instantiate_template,
    parse_template,
    serialize_template,
    source_mapping,
)

_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(policies())
def test_template_round_trip_restores_every_policy(policy: Policy) -> None:
    tpl = export_template(policy)
    again = parse_template(serialize_template(tpl))
    assert again == tpl
    result = instantiate_template(again, policy.hardware, source_mapping(policy))
    assert result.missing == ()
    assert result.policy == policy


@_SETTINGS
@given(policies())
def test_templates_keep_security_rules_and_drop_hardware(policy: Policy) -> None:
    tpl = export_template(policy)
    for attr in ("profiles", "tags", "conflicts", "seclabels", "vifs"):
        assert getattr(tpl.policy, attr) == getattr(policy, attr)
    assert tpl.policy.hardware.pci == () and tpl.policy.hardware.disks == ()
    names = [p.name for p in tpl.placeholders]
    assert len(set(names)) == len(names)
    tagged = sum(1 for d in policy.hardware.pci if d.tag is not None)
    assert (
        sum(
            1
            for p in tpl.placeholders
            if p.kind.value.endswith("controller") or p.kind.value == "pci-device"
        )
        >= tagged
    )


def test_suffixes_never_collide_with_another_tags_slug() -> None:
    policy = make_policy()
    x2 = Tag(uid("x2"), "Enclave A 2")  # slug "Enclave-A-2", like A's second NIC
    hw = dataclasses.replace(
        policy.hardware,
        pci=(
            *policy.hardware.pci,
            PciDevice("0000:07:00.0", kind=DeviceKind.NETWORK, tag=x2.id),
        ),
    )
    policy = policy.with_tag(x2).with_hardware(hw)
    tpl = export_template(policy)
    names = [p.name for p in tpl.placeholders]
    assert len(set(names)) == len(names)
    assert tpl.placeholder("net-controller-Enclave-A-2").tag == uid("x2")
    a_names = sorted(
        p.name for p in tpl.placeholders if p.tag == uid("ta") and p.kind.value == "net-controller"
    )
    assert a_names == ["net-controller-Enclave-A", "net-controller-Enclave-A-3"]
    result = instantiate_template(tpl, policy.hardware, source_mapping(policy))
    assert result.policy == policy


def test_source_mapping_names_the_source_hardware() -> None:
    assert source_mapping(make_policy()) == {
        "disk-EnclaveB": "/dev/sdb",
        "net-controller-Enclave-A": "0000:03:00.0",
        "net-controller-Enclave-A-2": "0000:06:00.0",
        "net-controller-EnclaveB": "0000:04:00.0",
        "storage-controller-Enclave-A": "0000:05:00.0",
    }
