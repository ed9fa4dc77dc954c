"""Policy diff: added, removed and changed objects with field-level changes."""

from __future__ import annotations

import dataclasses
import json
import uuid

from hypothesis import HealthCheck, given, settings

from tests._support.policy_strategies import policies
from xps.policy import Hardware, MemoryInfo, PciDevice, Policy, Tag, diff, sample_policy

_BASE = sample_policy()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_equal_policies_have_an_empty_diff(policy: Policy) -> None:
    result = diff(policy, policy)
    assert result.is_empty and not result
    assert result.to_dict() == {"attributes": [], "sections": []}


def test_changed_seclabel_is_reported_field_by_field() -> None:
    label = _BASE.seclabel_named("EA-seclabel")
    edited = _BASE.with_seclabel(dataclasses.replace(label, max_rate=10, max_violations=3))
    result = diff(_BASE, edited)
    assert [s.section for s in result.sections] == ["seclabels"]
    (change,) = result.section("seclabels").changed
    assert change.key == str(label.id) and change.name == "EA-seclabel"
    assert [(c.field, c.old, c.new) for c in change.changes] == [
        ("max_rate", label.max_rate, 10),
        ("max_violations", label.max_violations, 3),
    ]


def test_added_and_removed_objects() -> None:
    tag = Tag(uuid.uuid4(), "Enclave D", (1, 1, 1))
    domain = _BASE.domain_named("EC-domu-1")
    edited = _BASE.with_tag(tag).without(domain.id)
    result = diff(_BASE, edited)
    tags = result.section("tags")
    assert [(a.key, a.name) for a in tags.added] == [(str(tag.id), "Enclave D")]
    assert tags.removed == () and tags.changed == ()
    domains = result.section("domains")
    assert [r.name for r in domains.removed] == ["EC-domu-1"] and domains.added == ()
    # The reverse diff swaps the two.
    back = diff(edited, _BASE)
    assert [r.name for r in back.section("tags").removed] == ["Enclave D"]
    assert [a.name for a in back.section("domains").added] == ["EC-domu-1"]


def test_rename_is_a_change_not_a_replacement() -> None:
    switch = _BASE.switch_named("EAbr")
    result = diff(_BASE, _BASE.with_switch(dataclasses.replace(switch, name="EAbridge")))
    section = result.section("switches")
    assert section.added == () and section.removed == ()
    assert section.changed[0].changes[0].field == "name"


def test_policy_attributes_and_vifs_and_hardware() -> None:
    vif = _BASE.vifs[0]
    hw = _BASE.hardware
    new_hw = Hardware(
        cpus=hw.cpus[:-1],
        memory=MemoryInfo(1),
        pci=(*hw.pci, PciDevice("0000:09:00.0")),
        disks=hw.disks,
        usb=(),
        input=hw.input,
    )
    edited = dataclasses.replace(
        _BASE.with_vif(dataclasses.replace(vif, ip="172.19.9.9")).with_hardware(new_hw),
        version=7,
    )
    result = diff(_BASE, edited)
    assert [(a.field, a.old, a.new) for a in result.attributes] == [("version", 1, 7)]
    assert result.section("vifs").changed[0].key == vif.mac
    assert result.section("hardware.memory").changed[0].changes[0].new == 1
    assert [r.name for r in result.section("hardware.cpus").removed] == ["cpu7"]
    assert [a.key for a in result.section("hardware.pci").added] == ["0000:09:00.0"]
    assert len(result.section("hardware.usb").removed) == 1


def test_to_dict_is_json_safe() -> None:
    label = _BASE.seclabel_named("EB-seclabel")
    profile = _BASE.profile_named("PV-Combined")
    edited = _BASE.with_seclabel(dataclasses.replace(label, profile=profile.id)).with_profile(
        dataclasses.replace(profile, hypercalls=profile.hypercalls - {18})
    )
    data = json.loads(json.dumps(diff(_BASE, edited).to_dict()))
    sections = {s["section"]: s for s in data["sections"]}
    change = sections["seclabels"]["changed"][0]["changes"][0]
    assert change == {"field": "profile", "old": str(label.profile), "new": str(profile.id)}
    hypercalls = sections["profiles"]["changed"][0]["changes"][0]
    assert hypercalls["field"] == "hypercalls"
    assert 18 in hypercalls["old"] and 18 not in hypercalls["new"]
    assert hypercalls["old"] == sorted(hypercalls["old"])
