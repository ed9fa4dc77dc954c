"""The policy model: normalisation, equality, lookups and evolve helpers."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from xps.policy import (
    ConflictLevel,
    ConflictSet,
    DomainConfig,
    GuestType,
    Hardware,
    HypercallProfile,
    PciDevice,
    Policy,
    PolicyLookupError,
    SecLabel,
    Tag,
    Vif,
    bdf_from_int,
    bdf_to_int,
    sample_policy,
)


def _tag(name: str) -> Tag:
    return Tag(uuid.uuid4(), name, (1, 2, 3))


def test_objects_are_frozen() -> None:
    tag = _tag("A")
    with pytest.raises(dataclasses.FrozenInstanceError):
        tag.name = "B"  # type: ignore[misc]


def test_collections_are_normalised_to_tuples_and_sets() -> None:
    profile = HypercallProfile(
        uuid.uuid4(),
        "p",
        [29, 12],
        {29: [1, 0], 12: {6}},
        guest_family=["pv"],  # type: ignore[arg-type]
    )
    assert profile.hypercalls == frozenset({12, 29})
    assert profile.subops == ((12, frozenset({6})), (29, frozenset({0, 1})))
    assert profile.guest_family == frozenset({GuestType.PV})
    assert profile.allows(29, 1) and not profile.allows(29, 2) and not profile.allows(1)
    assert profile.subop_map() == {12: frozenset({6}), 29: frozenset({0, 1})}


def test_policy_equality_ignores_input_order() -> None:
    a, b, c = _tag("a"), _tag("b"), _tag("c")
    assert Policy("p", uuid=uuid.UUID(int=1), tags=(c, a, b)) == Policy(
        "p", uuid=uuid.UUID(int=1), tags=(b, c, a)
    )
    assert [t.name for t in Policy("p", tags=(c, a, b)).tags] == ["a", "b", "c"]


def test_conflict_set_tags_are_a_set() -> None:
    t1, t2 = uuid.uuid4(), uuid.uuid4()
    one = ConflictSet(uuid.UUID(int=5), "c", ConflictLevel.NO_CORESIDENCE, (t1, t2))
    two = ConflictSet(uuid.UUID(int=5), "c", "no-coresidence", (t2, t1))  # type: ignore[arg-type]
    assert one == two and hash(one) == hash(two)


def test_lookups_by_id_and_name() -> None:
    policy = sample_policy()
    label = policy.seclabel_named("EA-seclabel")
    assert policy.seclabel(label.id) is label
    assert policy.tag(label.tag).name == "Enclave A"
    assert policy.profile(label.profile).name == "PV-Combined"
    domain = policy.domain_named("EA-domu-1")
    assert policy.domain_tag(domain) == label.tag
    assert policy.find(domain.id) is domain
    assert policy.find(uuid.uuid4()) is None
    assert len(policy.vifs_of(domain.id)) == 1
    assert policy.switch_named("EAbr").tag == label.tag
    assert policy.storage_named("EAstorage").base_path == "/var/lib/xenon/EA/"
    with pytest.raises(PolicyLookupError) as info:
        policy.domain(uuid.uuid4())
    assert info.value.code == "policy.not_found"
    with pytest.raises(PolicyLookupError):
        policy.tag_named("nope")


def test_evolve_returns_new_policies_and_keeps_the_old() -> None:
    policy = sample_policy()
    label = policy.seclabel_named("EA-seclabel")
    faster = dataclasses.replace(label, max_rate=9)
    edited = policy.with_seclabel(faster)
    assert edited.seclabel(label.id).max_rate == 9
    assert policy.seclabel(label.id).max_rate == label.max_rate
    assert len(edited.seclabels) == len(policy.seclabels)

    added = edited.with_tag(Tag(uuid.uuid4(), "Enclave D", (0, 0, 0)))
    assert len(added.tags) == len(policy.tags) + 1
    removed = added.without(label.id)
    assert label.id not in {s.id for s in removed.seclabels}
    with pytest.raises(PolicyLookupError):
        removed.without(label.id)
    assert removed.bumped().version == policy.version + 1


def test_vif_evolve_is_keyed_by_mac() -> None:
    policy = sample_policy()
    vif = policy.vifs[0]
    moved = policy.with_vif(Vif(vif.domain, vif.switch, vif.mac.upper(), "172.19.9.9"))
    assert len(moved.vifs) == len(policy.vifs)
    assert next(v for v in moved.vifs if v.mac == vif.mac).ip == "172.19.9.9"
    assert len(moved.without_vif(vif.mac).vifs) == len(policy.vifs) - 1
    with pytest.raises(PolicyLookupError):
        policy.without_vif("00:16:3e:00:00:00")


def test_with_hardware_and_domain() -> None:
    policy = sample_policy()
    bare = policy.with_hardware(Hardware())
    assert bare.hardware.pci == () and policy.hardware.pci
    domain = DomainConfig(uuid.uuid4(), "new", None, GuestType.PVH)
    assert bare.with_domain(domain).domain(domain.id) == domain


def test_hardware_sorted_and_pci_lookup() -> None:
    hw = Hardware(pci=(PciDevice("0000:05:00.0"), PciDevice("0000:03:00.0")))
    assert [d.bdf for d in hw.pci] == ["0000:03:00.0", "0000:05:00.0"]
    assert hw.pci_device("0000:05:00.0") is not None
    assert hw.pci_device("0000:09:00.0") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("0000:03:00.1", 0x301), ("03:1f.7", 0x3FF), ("0001:ff:00.0", 0x1FF00)],
)
def test_bdf_round_trip(text: str, value: int) -> None:
    assert bdf_to_int(text) == value
    assert bdf_to_int(bdf_from_int(value)) == value


@pytest.mark.parametrize("bad", ["", "03:00", "0000:03:20.0", "0000:03:00.8", "zz:00.0", "1:2:3:4"])
def test_bdf_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        bdf_to_int(bad)


def test_seclabel_role_is_coerced_and_checked() -> None:
    label = SecLabel(uuid.uuid4(), "s", uuid.uuid4(), uuid.uuid4(), "security_domain")  # type: ignore[arg-type]
    assert label.role.value == "security_domain"
    with pytest.raises(ValueError):
        SecLabel(uuid.uuid4(), "s", uuid.uuid4(), uuid.uuid4(), "root")  # type: ignore[arg-type]
