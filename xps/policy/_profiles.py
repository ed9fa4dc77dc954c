"""The ten pre-defined hypercall profiles of §2.2.3 and Xen's hypercall/sub-op names."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from uuid import UUID

from ._model import GuestType, HypercallProfile

__all__ = [
    "HYPERCALL_NAMES",
    "PREDEFINED_PROFILE_NAMES",
    "SUBOP_HYPERCALLS",
    "SUBOP_NAMES",
    "XENON_NAMESPACE",
    "hypercall_name",
    "hypercall_number",
    "predefined_profile",
    "predefined_profiles",
    "stable_uuid",
    "subop_name",
    "subop_number",
]

# xen/include/public/xen.h (HEAD); 11 is the long-removed set_fast_trap slot.
HYPERCALL_NAMES: Mapping[int, str] = {
    0: "set_trap_table",
    1: "mmu_update",
    2: "set_gdt",
    3: "stack_switch",
    4: "set_callbacks",
    5: "fpu_taskswitch",
    6: "sched_op_compat",
    7: "platform_op",
    8: "set_debugreg",
    9: "get_debugreg",
    10: "update_descriptor",
    11: "unused",
    12: "memory_op",
    13: "multicall",
    14: "update_va_mapping",
    15: "set_timer_op",
    16: "event_channel_op_compat",
    17: "xen_version",
    18: "console_io",
    19: "physdev_op_compat",
    20: "grant_table_op",
    21: "vm_assist",
    22: "update_va_mapping_otherdomain",
    23: "iret",
    24: "vcpu_op",
    25: "set_segment_base",
    26: "mmuext_op",
    27: "xsm_op",
    28: "nmi_op",
    29: "sched_op",
    30: "callback_op",
    31: "xenoprof_op",
    32: "event_channel_op",
    33: "physdev_op",
    34: "hvm_op",
    35: "sysctl",
    36: "domctl",
    37: "kexec_op",
    38: "tmem_op",
    39: "argo_op",
    40: "xenpmu_op",
    41: "dm_op",
    42: "hypfs_op",
    **{48 + i: f"arch_{i}" for i in range(8)},
}

# The hypercalls whose first argument is a sub-command (native/include/msm.h).
SUBOP_HYPERCALLS: frozenset[int] = frozenset(
    {7, 12, 20, 24, 26, 27, 29, 30, 32, 33, 34, 35, 36, 41}
)

# Sub-command numbers from xen/include/public/{sched,event_channel,grant_table,memory,
# vcpu,physdev,hvm/hvm_op,callback,sysctl,domctl}.h and xen.h (MMUEXT_*). Only the
# commands a profile has reason to name are listed; the rest are known by number.
SUBOP_NAMES: Mapping[int, Mapping[int, str]] = {
    29: {  # sched_op
        0: "yield",
        1: "block",
        2: "shutdown",
        3: "poll",
        4: "remote_shutdown",
        5: "shutdown_code",
        6: "watchdog",
        7: "pin_override",
    },
    32: {  # event_channel_op
        0: "bind_interdomain",
        1: "bind_virq",
        2: "bind_pirq",
        3: "close",
        4: "send",
        5: "status",
        6: "alloc_unbound",
        7: "bind_ipi",
        8: "bind_vcpu",
        9: "unmask",
        10: "reset",
        11: "init_control",
        12: "expand_array",
        13: "set_priority",
        14: "reset_cont",
    },
    20: {  # grant_table_op
        0: "map_grant_ref",
        1: "unmap_grant_ref",
        2: "setup_table",
        3: "dump_table",
        4: "transfer",
        5: "copy",
        6: "query_size",
        7: "unmap_and_replace",
        8: "set_version",
        9: "get_status_frames",
        10: "get_version",
        11: "swap_grant_ref",
        12: "cache_flush",
    },
    12: {  # memory_op
        0: "increase_reservation",
        1: "decrease_reservation",
        2: "maximum_ram_page",
        3: "current_reservation",
        4: "maximum_reservation",
        5: "machphys_mfn_list",
        6: "populate_physmap",
        7: "add_to_physmap",
        9: "memory_map",
        10: "machine_memory_map",
        11: "exchange",
        12: "machphys_mapping",
        13: "set_memory_map",
        14: "maximum_gpfn",
        15: "remove_from_physmap",
        16: "set_pod_target",
        17: "get_pod_target",
        21: "access_op",
        23: "add_to_physmap_batch",
        24: "claim_pages",
        26: "get_vnumainfo",
        28: "acquire_resource",
    },
    24: {  # vcpu_op
        0: "initialise",
        1: "up",
        2: "down",
        3: "is_up",
        4: "get_runstate_info",
        5: "register_runstate_memory_area",
        6: "set_periodic_timer",
        7: "stop_periodic_timer",
        8: "set_singleshot_timer",
        9: "stop_singleshot_timer",
        10: "register_vcpu_info",
        11: "send_nmi",
        12: "get_physid",
        13: "register_vcpu_time_memory_area",
    },
    33: {  # physdev_op
        5: "irq_status_query",
        6: "set_iopl",
        7: "set_iobitmap",
        12: "eoi",
        13: "map_pirq",
        14: "unmap_pirq",
        15: "manage_pci_add",
        16: "manage_pci_remove",
        17: "pirq_eoi_gmfn_v1",
        19: "restore_msi",
        21: "setup_gsi",
        23: "get_free_pirq",
        25: "pci_device_add",
        26: "pci_device_remove",
        28: "pirq_eoi_gmfn_v2",
    },
    34: {  # hvm_op
        0: "set_param",
        1: "get_param",
        2: "set_pci_intx_level",
        3: "set_isa_irq_level",
        4: "set_pci_link_route",
        5: "flush_tlbs",
        9: "pagetable_dying",
        10: "get_time",
        11: "xentrace",
        15: "get_mem_type",
        23: "set_evtchn_upcall_vector",
        24: "guest_request_vm_event",
        25: "altp2m",
    },
    26: {  # mmuext_op (MMUEXT_*)
        0: "pin_l1_table",
        1: "pin_l2_table",
        2: "pin_l3_table",
        3: "pin_l4_table",
        4: "unpin_table",
        5: "new_baseptr",
        6: "tlb_flush_local",
        7: "invlpg_local",
        8: "tlb_flush_multi",
        9: "invlpg_multi",
        10: "tlb_flush_all",
        11: "invlpg_all",
        12: "flush_cache",
        13: "set_ldt",
        15: "new_user_baseptr",
        16: "clear_page",
        17: "copy_page",
        18: "mark_super",
        19: "unmark_super",
        20: "flush_cache_global",
    },
    30: {0: "register", 1: "unregister"},  # callback_op
    35: {  # sysctl
        1: "readconsole",
        3: "physinfo",
        4: "sched_id",
        6: "getdomaininfolist",
        8: "getcpuinfo",
        16: "cputopoinfo",
        17: "numainfo",
    },
    36: {  # domctl
        1: "createdomain",
        2: "destroydomain",
        3: "pausedomain",
        4: "unpausedomain",
        5: "getdomaininfo",
        9: "setvcpuaffinity",
        11: "max_mem",
        13: "getvcpucontext",
        14: "getvcpuinfo",
        15: "max_vcpus",
        16: "scheduler_op",
        25: "getvcpuaffinity",
        27: "resumedomain",
        28: "sendtrigger",
        33: "gethvmcontext",
        37: "assign_device",
        46: "set_target",
        55: "gethvmcontext_partial",
        56: "vm_event_op",
        64: "set_access_required",
        77: "monitor_op",
        79: "soft_reset",
        90: "get_domain_state",
    },
}

_HC_BY_NAME = {name: nr for nr, name in HYPERCALL_NAMES.items()}
_SUBOP_BY_NAME = {nr: {n: s for s, n in table.items()} for nr, table in SUBOP_NAMES.items()}


def hypercall_name(nr: int) -> str:
    """Returns Xen's name of hypercall ``nr`` or ``"hypercall_<nr>"`` if it has none."""
    return HYPERCALL_NAMES.get(nr, f"hypercall_{nr}")


def hypercall_number(name: str) -> int:
    """Returns the number of a hypercall named as in Xen's table.

    Raises:
        KeyError: No hypercall has that name.
    """
    return _HC_BY_NAME[name]


def subop_name(nr: int, subop: int) -> str:
    """Returns the name of sub-command ``subop`` of hypercall ``nr`` or its number as text."""
    return SUBOP_NAMES.get(nr, {}).get(subop, str(subop))


def subop_number(nr: int, name: str) -> int:
    """Returns the number of the sub-command called ``name`` of hypercall ``nr``.

    Raises:
        KeyError: That hypercall has no sub-command of that name.
    """
    return _SUBOP_BY_NAME[nr][name]


# ------------------------------------------------------------------ stable identities

XENON_NAMESPACE: UUID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:xenon:policy")


def stable_uuid(kind: str, name: str) -> UUID:
    """Returns the deterministic UUID of a project-defined object (uuid5 of kind + name)."""
    return uuid.uuid5(XENON_NAMESPACE, f"{kind}:{name}")


# --------------------------------------------------------------- profile building blocks

# A spec maps hypercall names to the names of the sub-commands it allows (empty for
# hypercalls without sub-commands). Specs combine by union.
_Spec = Mapping[str, frozenset[str]]


def _spec(calls: Iterable[str] = (), **subops: Iterable[str]) -> _Spec:
    spec = {name: frozenset[str]() for name in calls}
    spec.update({name: frozenset(ops) for name, ops in subops.items()})
    return spec


def _union(*specs: _Spec) -> _Spec:
    merged: dict[str, frozenset[str]] = {}
    for spec in specs:
        for name, ops in spec.items():
            merged[name] = merged.get(name, frozenset()) | ops
    return merged


def _minus(spec: _Spec, **removed: Iterable[str]) -> _Spec:
    return {name: ops - frozenset(removed.get(name, ())) for name, ops in spec.items()}


_SCHED = {"yield", "block", "shutdown", "poll", "shutdown_code"}
_EVTCHN_FRONTEND = {
    "bind_interdomain",
    "bind_virq",
    "close",
    "send",
    "status",
    "alloc_unbound",
    "bind_ipi",
    "bind_vcpu",
    "unmask",
}
_EVTCHN_FIFO = {"init_control", "expand_array"}  # FIFO event channel ABI, Linux >= 3.14
_GNTTAB_FRONTEND = {"setup_table", "query_size", "set_version", "get_version", "get_status_frames"}
_BALLOON = {"increase_reservation", "decrease_reservation", "populate_physmap"}
_RESERVATION = {"current_reservation", "maximum_reservation"}
_VCPU_TIMERS = {
    "get_runstate_info",
    "register_runstate_memory_area",
    "stop_periodic_timer",
    "set_singleshot_timer",
    "stop_singleshot_timer",
    "register_vcpu_info",
}

# A PV guest owns its page tables and descriptor tables, so it needs the PV MMU and
# CPU-state hypercalls that hardware virtualisation makes unnecessary for HVM guests.
_PV_LINUX = _spec(
    [
        "set_trap_table",
        "mmu_update",
        "set_gdt",
        "stack_switch",
        "set_callbacks",
        "fpu_taskswitch",
        "set_debugreg",
        "get_debugreg",
        "update_descriptor",
        "multicall",
        "update_va_mapping",
        "set_timer_op",
        "xen_version",
        "vm_assist",
        "iret",
        "set_segment_base",
    ],
    memory_op=_BALLOON | _RESERVATION | {"memory_map", "machphys_mapping", "get_vnumainfo"},
    grant_table_op=_GNTTAB_FRONTEND,
    vcpu_op=_VCPU_TIMERS
    | {
        "initialise",
        "up",
        "down",
        "is_up",
        "set_periodic_timer",
        "register_vcpu_time_memory_area",
    },
    mmuext_op={
        "pin_l1_table",
        "pin_l2_table",
        "pin_l3_table",
        "pin_l4_table",
        "unpin_table",
        "new_baseptr",
        "tlb_flush_local",
        "invlpg_local",
        "tlb_flush_multi",
        "invlpg_multi",
        "tlb_flush_all",
        "invlpg_all",
        "set_ldt",
        "new_user_baseptr",
    },
    sched_op=_SCHED,
    callback_op={"register", "unregister"},
    event_channel_op=_EVTCHN_FRONTEND | _EVTCHN_FIFO,
    physdev_op={"irq_status_query", "set_iopl", "eoi", "pirq_eoi_gmfn_v2"},
)

# PVHVM: hardware paging and an emulated platform; PV drivers need only shared info,
# grant tables and event channels, set up through hvm_op params and add_to_physmap.
_PVHVM_LINUX = _spec(
    ["set_timer_op", "xen_version"],
    memory_op=_BALLOON | _RESERVATION | {"add_to_physmap", "remove_from_physmap"},
    grant_table_op=_GNTTAB_FRONTEND,
    vcpu_op=_VCPU_TIMERS | {"is_up"},
    sched_op=_SCHED,
    # Legacy and MSI interrupts of emulated devices arrive as PIRQs bound to channels.
    event_channel_op=_EVTCHN_FRONTEND | _EVTCHN_FIFO | {"bind_pirq"},
    physdev_op={
        "irq_status_query",
        "eoi",
        "map_pirq",
        "unmap_pirq",
        "get_free_pirq",
        "pirq_eoi_gmfn_v2",
    },
    hvm_op={
        "set_param",
        "get_param",
        "pagetable_dying",
        "get_mem_type",
        "set_evtchn_upcall_vector",
    },
)

# PVH: an HVM container without emulated devices; boots straight into the kernel, brings
# up vCPUs with vcpu_op and reads its memory map from memory_op.
_PVH_LINUX = _spec(
    ["set_timer_op", "xen_version"],
    memory_op=_BALLOON | _RESERVATION | {"add_to_physmap", "remove_from_physmap", "memory_map"},
    grant_table_op=_GNTTAB_FRONTEND,
    vcpu_op=_VCPU_TIMERS | {"initialise", "up", "down", "is_up"},
    sched_op=_SCHED,
    event_channel_op=_EVTCHN_FRONTEND | _EVTCHN_FIFO,
    hvm_op={"set_param", "get_param", "get_mem_type", "set_evtchn_upcall_vector"},
)

# Ubuntu 14.04 ships Linux 3.13: two-level event channels only (FIFO came in 3.14), no
# vNUMA query (3.19), no per-vCPU upcall vector (5.x). PVH there is the experimental
# PVH v1, which still drives the PV callback interface.
_UBUNTU14_REMOVED = {
    "event_channel_op": _EVTCHN_FIFO,
    "memory_op": {"get_vnumainfo"},
    "hvm_op": {"set_evtchn_upcall_vector"},
}
_PV_UBUNTU14 = _minus(_PV_LINUX, **_UBUNTU14_REMOVED)
_PVHVM_UBUNTU14 = _minus(_PVHVM_LINUX, **_UBUNTU14_REMOVED)
_PVH_UBUNTU14 = _union(
    _minus(_PVH_LINUX, **_UBUNTU14_REMOVED), _spec(callback_op={"register", "unregister"})
)

# Back ends map and copy their front ends' granted pages, and own a passed-through
# controller whose interrupts arrive as PIRQs.
_STORAGE_BACKEND = _spec(
    grant_table_op={"map_grant_ref", "unmap_grant_ref", "copy", "unmap_and_replace"},
    event_channel_op={"bind_pirq"},
    physdev_op={"map_pirq", "unmap_pirq", "set_iobitmap"},
    # Machine-contiguous DMA buffers for the controller (swiotlb-xen).
    memory_op={"exchange"},
)
# Linux 3.13 netback moves packets with grant copy in both directions (mapping for TX
# arrived in 3.18).
_NETWORK_BACKEND_UBUNTU14 = _spec(
    grant_table_op={"copy"},
    event_channel_op={"bind_pirq"},
    physdev_op={"map_pirq", "unmap_pirq"},
)
_NETWORK_BACKEND = _union(
    _NETWORK_BACKEND_UBUNTU14, _spec(grant_table_op={"map_grant_ref", "unmap_grant_ref"})
)

# Introspection reads other domains' state and subscribes to their events; it may not
# create, destroy, pause or re-size them, so only read and monitoring sub-ops are listed.
_INTROSPECTION = _spec(
    domctl={
        "getdomaininfo",
        "getvcpucontext",
        "getvcpuinfo",
        "getvcpuaffinity",
        "gethvmcontext",
        "gethvmcontext_partial",
        "vm_event_op",
        "set_access_required",
        "monitor_op",
        "get_domain_state",
    },
    sysctl={"physinfo", "getdomaininfolist"},
    memory_op={"maximum_gpfn", "access_op", "acquire_resource"},
    hvm_op={"get_param", "get_mem_type", "altp2m"},
)

# Xen's console (early printk, hvc_xen) and watchdog, for the "Combined" profiles.
_COMBINED_EXTRAS = _spec(["console_io"], sched_op={"watchdog"})
# Windows PV drivers read Xen time and have Xen flush remote TLBs through hvm_op.
_WINDOWS_PV_DRIVERS = _spec(hvm_op={"get_time", "flush_tlbs"})
# PVH driver domains own passed-through devices whose interrupts arrive as PIRQs.
_PVH_PASSTHROUGH = _spec(
    physdev_op={"irq_status_query", "eoi", "map_pirq", "unmap_pirq", "pirq_eoi_gmfn_v2"},
    event_channel_op={"bind_pirq"},
)


def _build(
    name: str, family: Iterable[GuestType], description: str, spec: _Spec
) -> HypercallProfile:
    hypercalls = frozenset(hypercall_number(call) for call in spec)
    subops = {
        hypercall_number(call): frozenset(subop_number(hypercall_number(call), op) for op in ops)
        for call, ops in spec.items()
        if hypercall_number(call) in SUBOP_HYPERCALLS
    }
    return HypercallProfile(
        id=stable_uuid("profile", name),
        name=name,
        hypercalls=hypercalls,
        subops=tuple(subops.items()),
        description=description,
        guest_family=frozenset(family),
    )


def _allow_all() -> HypercallProfile:
    name = "AnyDomU-AllowAll"
    every_subop = frozenset(range(256))
    return HypercallProfile(
        id=stable_uuid("profile", name),
        name=name,
        hypercalls=frozenset(nr for nr, n in HYPERCALL_NAMES.items() if n != "unused"),
        subops=tuple((nr, every_subop) for nr in sorted(SUBOP_HYPERCALLS)),
        description=(
            "Every hypercall and sub-command in Xen's table: for bring-up and for "
            "recording what an unknown guest needs; never for production enclaves."
        ),
        guest_family=frozenset(GuestType),
    )


_PV, _PVH, _PVHVM, _HVM = GuestType.PV, GuestType.PVH, GuestType.PVHVM, GuestType.HVM

_DEFINITIONS: tuple[tuple[str, frozenset[GuestType], str, _Spec], ...] = (
    (
        "PV-Combined",
        frozenset({_PV}),
        "Any PV guest or PV service domain: the PV Linux calls (PV MMU, trap/GDT/LDT "
        "tables, iret, stack_switch, callbacks) plus back-end grant mapping, PIRQs and "
        "DMA exchange for driver domains, watchdog and console.",
        _union(_PV_LINUX, _STORAGE_BACKEND, _NETWORK_BACKEND, _COMBINED_EXTRAS),
    ),
    (
        "PVHVM-Combined",
        frozenset({_PVHVM, _HVM}),
        "Any HVM guest with or without PV drivers (Linux, Windows): hvm_op params, "
        "add_to_physmap for shared info and grant frames, PIRQ-routed interrupts, "
        "back-end grant mapping for driver domains, the Windows PV drivers' time and "
        "TLB-flush calls; no PV MMU calls.",
        _union(
            _PVHVM_LINUX,
            _PVHVM_UBUNTU14,
            _STORAGE_BACKEND,
            _NETWORK_BACKEND,
            _WINDOWS_PV_DRIVERS,
            _COMBINED_EXTRAS,
        ),
    ),
    (
        "PVH-Combined",
        frozenset({_PVH}),
        "Any PVH guest (v1 and v2): vCPU bring-up through vcpu_op, hvm_op params, "
        "memory map from memory_op, the PVH v1 callback interface; for PVH driver "
        "domains back-end grant mapping and PIRQs of passed-through devices.",
        _union(
            _PVH_LINUX,
            _PVH_UBUNTU14,
            _spec(grant_table_op={"map_grant_ref", "unmap_grant_ref", "copy"}),
            _PVH_PASSTHROUGH,
            _COMBINED_EXTRAS,
        ),
    ),
    (
        "PV-LinuxGeneric",
        frozenset({_PV}),
        "A PV Linux user domain (x86-64, Linux >= 3.14): it manages its own page "
        "tables (mmu_update, update_va_mapping, mmuext_op pin/unpin/flush), descriptor "
        "tables (set_trap_table, set_gdt, update_descriptor), kernel stack and return "
        "(stack_switch, iret, set_segment_base), lazy FPU (fpu_taskswitch), FIFO "
        "event channels and grant-table front ends.",
        _PV_LINUX,
    ),
    (
        "PVHVM-LinuxGeneric",
        frozenset({_PVHVM}),
        "A PVHVM Linux user domain: hardware paging replaces every PV MMU call; "
        "hvm_op set/get_param for the callback and xenstore rings, pagetable_dying, "
        "add_to_physmap for shared info and grant frames, PIRQs for emulated devices.",
        _PVHVM_LINUX,
    ),
    (
        "PVH-Ubuntu14",
        frozenset({_PVH}),
        "An Ubuntu 14.04 (Linux 3.13) PVH v1 user domain: vcpu_op bring-up, callback_op "
        "registration, two-level event channels only, no vNUMA or upcall-vector calls.",
        _PVH_UBUNTU14,
    ),
    (
        "PV-Ubuntu14-Security",
        frozenset({_PV}),
        "An Ubuntu 14.04 PV security (introspection) domain: the PV Linux calls plus "
        "read-only and monitoring domctl sub-ops (getdomaininfo, getvcpucontext, "
        "gethvmcontext, vm_event_op, monitor_op), sysctl physinfo, memory access and "
        "altp2m views; nothing that creates, pauses or resizes another domain.",
        _union(_PV_UBUNTU14, _INTROSPECTION),
    ),
    (
        "PV-Ubuntu14-Storage",
        frozenset({_PV}),
        "An Ubuntu 14.04 PV storage driver domain: blkback maps, copies and unmaps "
        "its front ends' grants; the passed-through controller's interrupts are PIRQs "
        "and its DMA buffers need machine-contiguous memory (memory_op exchange).",
        _union(_PV_UBUNTU14, _STORAGE_BACKEND),
    ),
    (
        "PVHVM-Ubuntu14-Network",
        frozenset({_PVHVM}),
        "An Ubuntu 14.04 PVHVM network driver domain: netback of Linux 3.13 moves "
        "packets with grant copy; the NIC's MSI interrupts are mapped as PIRQs.",
        _union(_PVHVM_UBUNTU14, _NETWORK_BACKEND_UBUNTU14),
    ),
)

PREDEFINED_PROFILE_NAMES: tuple[str, ...] = (
    "AnyDomU-AllowAll",
    *(name for name, *_ in _DEFINITIONS),
)


def predefined_profiles() -> tuple[HypercallProfile, ...]:
    """Returns the ten hypercall profiles that ship with Xenon (§2.2.3), in report order.

    Their UUIDs are stable across releases (uuid5 of the project namespace and name).
    """
    return (_allow_all(), *(_build(*definition) for definition in _DEFINITIONS))


def predefined_profile(name: str) -> HypercallProfile:
    """Returns one pre-defined profile by name.

    Raises:
        KeyError: No pre-defined profile has that name.
    """
    for profile in predefined_profiles():
        if profile.name == name:
            return profile
    raise KeyError(name)
