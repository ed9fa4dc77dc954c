"""The ten pre-defined hypercall profiles of §2.2.3."""

from __future__ import annotations

import uuid

import pytest

from xps.policy import (
    HYPERCALL_NAMES,
    PREDEFINED_PROFILE_NAMES,
    SUBOP_HYPERCALLS,
    XENON_NAMESPACE,
    GuestType,
    HypercallProfile,
    Policy,
    hypercall_name,
    hypercall_number,
    predefined_profile,
    predefined_profiles,
    stable_uuid,
    subop_name,
    subop_number,
    validate,
)

REPORT_NAMES = [
    "AnyDomU-AllowAll",
    "PV-Combined",
    "PVHVM-Combined",
    "PVH-Combined",
    "PV-LinuxGeneric",
    "PVHVM-LinuxGeneric",
    "PVH-Ubuntu14",
    "PV-Ubuntu14-Security",
    "PV-Ubuntu14-Storage",
    "PVHVM-Ubuntu14-Network",
]
PV_ONLY = {
    "set_trap_table",
    "mmu_update",
    "set_gdt",
    "stack_switch",
    "set_callbacks",
    "fpu_taskswitch",
    "update_va_mapping",
    "iret",
    "mmuext_op",
    "update_descriptor",
}


def _calls(profile: HypercallProfile) -> set[str]:
    return {HYPERCALL_NAMES[nr] for nr in profile.hypercalls}


def _subs(profile: HypercallProfile, call: str) -> set[str]:
    nr = hypercall_number(call)
    return {subop_name(nr, op) for op in profile.subop_map().get(nr, frozenset())}


def test_the_ten_report_profiles_in_order() -> None:
    assert list(PREDEFINED_PROFILE_NAMES) == REPORT_NAMES
    assert [p.name for p in predefined_profiles()] == REPORT_NAMES


def test_uuids_are_stable_and_distinct() -> None:
    ids = [p.id for p in predefined_profiles()]
    assert len(set(ids)) == 10
    assert ids == [p.id for p in predefined_profiles()]
    assert predefined_profile("PV-Combined").id == stable_uuid("profile", "PV-Combined")
    # Pinned: stored policies refer to these UUIDs, so they must never change.
    assert str(ids[1]) == "cc2ebe41-9472-5403-9bfd-aec022e555f6"
    assert stable_uuid("profile", "x") == uuid.uuid5(XENON_NAMESPACE, "profile:x")


def test_profiles_validate_cleanly() -> None:
    policy = Policy("profiles", profiles=predefined_profiles())
    assert validate(policy) == []


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_subop_hypercall_has_a_subop_set(name: str) -> None:
    profile = predefined_profile(name)
    assert profile.description
    assert profile.guest_family
    for nr in profile.hypercalls & SUBOP_HYPERCALLS:
        assert profile.subop_map().get(nr), f"{name}: {hypercall_name(nr)} without sub-ops"
    assert set(profile.subop_map()) <= profile.hypercalls


def test_allow_all_allows_everything() -> None:
    profile = predefined_profile("AnyDomU-AllowAll")
    assert profile.guest_family == frozenset(GuestType)
    for nr, name in HYPERCALL_NAMES.items():
        assert profile.allows(nr) == (name != "unused")
    assert all(profile.allows(nr, 255) for nr in SUBOP_HYPERCALLS)


def test_pv_needs_pv_mmu_calls_and_hvm_does_not() -> None:
    pv = predefined_profile("PV-LinuxGeneric")
    pvhvm = predefined_profile("PVHVM-LinuxGeneric")
    pvh = predefined_profile("PVH-Ubuntu14")
    assert _calls(pv) >= PV_ONLY
    assert not PV_ONLY & _calls(pvhvm)
    assert not PV_ONLY & _calls(pvh)
    assert "hvm_op" in _calls(pvhvm) and "hvm_op" not in _calls(pv)
    assert {"set_param", "get_param", "pagetable_dying"} <= _subs(pvhvm, "hvm_op")
    assert {"pin_l4_table", "new_baseptr", "tlb_flush_local"} <= _subs(pv, "mmuext_op")


def test_user_domains_get_no_privileged_calls() -> None:
    for name in REPORT_NAMES[1:]:
        calls = _calls(predefined_profile(name))
        assert not {"platform_op", "kexec_op", "xsm_op", "dm_op"} & calls, name
        if name != "PV-Ubuntu14-Security":
            assert not {"domctl", "sysctl"} & calls, name


def test_front_ends_do_not_map_grants_back_ends_do() -> None:
    generic = predefined_profile("PV-LinuxGeneric")
    storage = predefined_profile("PV-Ubuntu14-Storage")
    network = predefined_profile("PVHVM-Ubuntu14-Network")
    assert {"setup_table", "query_size"} <= _subs(generic, "grant_table_op")
    assert "map_grant_ref" not in _subs(generic, "grant_table_op")
    assert {"map_grant_ref", "unmap_grant_ref", "copy"} <= _subs(storage, "grant_table_op")
    assert {"map_pirq", "unmap_pirq"} <= _subs(storage, "physdev_op")
    assert "exchange" in _subs(storage, "memory_op")
    # Linux 3.13 netback copies grants in both directions.
    assert "copy" in _subs(network, "grant_table_op")
    assert "map_grant_ref" not in _subs(network, "grant_table_op")
    assert {"bind_interdomain", "alloc_unbound", "send"} <= _subs(network, "event_channel_op")


def test_security_domain_reads_but_does_not_control() -> None:
    security = predefined_profile("PV-Ubuntu14-Security")
    domctl = _subs(security, "domctl")
    assert {"getdomaininfo", "getvcpucontext", "vm_event_op", "monitor_op"} <= domctl
    assert not {"createdomain", "destroydomain", "pausedomain", "max_mem"} & domctl
    assert {"physinfo"} <= _subs(security, "sysctl")


def test_ubuntu14_has_no_fifo_event_channels() -> None:
    assert "init_control" in _subs(predefined_profile("PV-LinuxGeneric"), "event_channel_op")
    for name in ("PVH-Ubuntu14", "PV-Ubuntu14-Storage", "PVHVM-Ubuntu14-Network"):
        assert "init_control" not in _subs(predefined_profile(name), "event_channel_op")


def test_combined_profiles_cover_their_specific_ones() -> None:
    combined = {g: predefined_profile(f"{g}-Combined") for g in ("PV", "PVHVM", "PVH")}
    for profile in predefined_profiles()[4:]:
        if profile.name == "PV-Ubuntu14-Security":
            continue  # introspection stays out of the general-purpose profiles
        big = combined[profile.name.split("-")[0]]
        assert profile.hypercalls <= big.hypercalls, profile.name
        for nr, ops in profile.subops:
            assert ops <= big.subop_map()[nr], (profile.name, hypercall_name(nr))


def test_names_match_the_native_library() -> None:
    msm = pytest.importorskip("xps.msm")
    assert dict(msm.HYPERCALL_NAMES) == dict(HYPERCALL_NAMES)
    assert msm.SUBOP_HYPERCALLS == SUBOP_HYPERCALLS


def test_name_helpers() -> None:
    assert hypercall_number("domctl") == 36 and hypercall_name(36) == "domctl"
    assert hypercall_name(60) == "hypercall_60"
    assert subop_number(29, "poll") == 3 and subop_name(29, 3) == "poll"
    assert subop_name(29, 200) == "200"
    assert subop_number(20, "map_grant_ref") == 0
    assert subop_number(32, "alloc_unbound") == 6 and subop_number(32, "bind_interdomain") == 0
    assert subop_number(12, "populate_physmap") == 6 and subop_number(12, "add_to_physmap") == 7
    with pytest.raises(KeyError):
        hypercall_number("nope")
    with pytest.raises(KeyError):
        predefined_profile("Nope")
