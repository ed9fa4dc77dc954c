"""Translating a policy into MSM objects and enforcing it in the sim backend."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from xps.policy import (
    GuestOS,
    GuestRole,
    GuestType,
    HypercallProfile,
    Policy,
    PolicyValidationError,
    Tag,
    predefined_profile,
    sample_enterprise,
    sample_policy,
    to_msm_domain,
    to_msm_objects,
)

msm = pytest.importorskip("xps.msm")


def test_objects_for_the_sample() -> None:
    policy = sample_policy()
    objects = to_msm_objects(policy)
    kinds = [type(o).__name__ for o in objects]
    assert kinds.count("HypercallProfile") == 10
    assert kinds.count("Tag") == 3 and kinds.count("SecLabel") == 3
    assert kinds.count("ConflictSet") == 1
    assert kinds.count("Binding") == len(policy.domains)
    tagged = [d for d in policy.hardware.pci if d.tag is not None]
    devices = [o for o in objects if isinstance(o, msm.Device)]
    assert sorted(d.bdf for d in devices) == sorted(
        int(d.bdf[5:7], 16) << 8 | int(d.bdf[8:10], 16) << 3 | int(d.bdf[11]) for d in tagged
    )
    label = next(o for o in objects if isinstance(o, msm.SecLabel) and o.name == "EA-seclabel")
    model = policy.seclabel_named("EA-seclabel")
    assert (label.id, label.profile, label.tag, label.max_rate) == (
        model.id,
        model.profile,
        model.tag,
        model.max_rate,
    )
    conflict = next(o for o in objects if isinstance(o, msm.ConflictSet))
    assert conflict.level is msm.ConflictLevel.NO_COMMUNICATION


def test_enum_mappings() -> None:
    policy = sample_policy()
    label = policy.seclabels[0]
    for role, expected in (
        (GuestRole.NETWORK_DRIVER_DOMAIN, msm.Role.NETWORK_DRIVER),
        (GuestRole.STORAGE_DRIVER_DOMAIN, msm.Role.STORAGE_DRIVER),
        (GuestRole.SECURITY_DOMAIN, msm.Role.SECURITY),
    ):
        edited = policy.with_seclabel(dataclasses.replace(label, role=role))
        out = next(o for o in to_msm_objects(edited) if getattr(o, "id", None) == label.id)
        assert out.role is expected
    cfg = to_msm_domain(
        dataclasses.replace(policy.domains[0], guest_type=GuestType.HVM, os=GuestOS.WINDOWS),
        load_permille=10,
        paused=True,
    )
    assert cfg.guest_type is msm.GuestType.HVM and cfg.os is msm.GuestOS.WINDOWS
    assert cfg.mem_kb == policy.domains[0].memory_mb * 1024 and cfg.paused


def test_subops_of_plain_hypercalls_are_dropped() -> None:
    odd = HypercallProfile(
        uuid.uuid4(), "odd", frozenset({17, 29}), ((17, frozenset({1})), (29, frozenset({0})))
    )
    (obj,) = to_msm_objects(Policy("p", profiles=(odd,)))
    assert dict(obj.subops) == {29: frozenset({0})}


def test_out_of_range_objects_map_to_policy_errors() -> None:
    tag = Tag(uuid.uuid4(), "x" * 80, (0, 0, 0))
    with pytest.raises(PolicyValidationError) as info:
        to_msm_objects(Policy("p", tags=(tag,)))
    assert info.value.code == "policy.msm"
    assert isinstance(info.value.__cause__, msm.MsmError)
    assert str(info.value).startswith(f"tag {tag.name!r} (uuid {tag.id}) cannot be loaded")


@pytest.mark.parametrize("host", ["xenon-1", "xenon-2", "xenon-3"])
def test_sample_slices_enforce_cleanly_in_the_sim(host: str) -> None:
    policy = sample_enterprise(3)[host]
    with msm.Msm.open_sim(seed=11) as m:
        generation = m.apply(to_msm_objects(policy))
        assert generation == 1
        domids = [m.create_domain(to_msm_domain(d, load_permille=900)) for d in policy.domains]
        running = {d.name: d for d in m.domains() if d.domid in domids}
        assert set(running) == {d.name for d in policy.domains}
        for d in policy.domains:
            assert running[d.name].tag == policy.domain_tag(d)
        counts = m.run(100_000_000)
        assert counts.hypercalls > 0
        assert counts.denied_profile == counts.denied_rate == counts.domains_stopped == 0


def test_unbound_domain_is_refused_and_wrong_profile_is_enforced() -> None:
    policy = sample_policy()
    stranger = dataclasses.replace(policy.domain_named("EA-domu-1"), id=uuid.uuid4(), name="x")
    with msm.Msm.open_sim(seed=2) as m:
        m.apply(to_msm_objects(policy))
        with pytest.raises(msm.NoLabel):
            m.create_domain(to_msm_domain(stranger))
        # A PV guest under an HVM-only profile trips the profile check at once.
        label = policy.seclabel_named("EA-seclabel")
        hvm_only = predefined_profile("PVHVM-LinuxGeneric")
        strict = policy.with_seclabel(dataclasses.replace(label, profile=hvm_only.id))
        m.apply(to_msm_objects(strict))
        domid = m.create_domain(to_msm_domain(strict.domain_named("EA-domu-1")))
        nr_mmu_update = 1
        assert m.check_hypercall(domid, nr_mmu_update, 0, 1_000) is msm.Decision.DENY_PROFILE
