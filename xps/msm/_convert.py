"""Conversions between the dataclasses of :mod:`xps.msm` and the C structs of ``msm.h``."""

from __future__ import annotations

import struct
import uuid
from typing import Any

from xps.msm._enums import Backend, GuestOS, GuestType, ObjType, RunState, ViolationKind
from xps.msm._errors import DOMID_INVALID
from xps.msm._lib import ffi
from xps.msm._objects import (
    NR_HYPERCALLS,
    SUBOP_HYPERCALL_NUMBERS,
    Binding,
    ConflictSet,
    Device,
    DomainConfig,
    HypercallProfile,
    PolicyObject,
    SecLabel,
    Tag,
)
from xps.msm._records import DomainInfo, Info, RunCounts, Violation
from xps.msm._validate import enum_or_int, name_bytes

__all__ = [
    "C_TYPES",
    "VIOLATION_RECORD",
    "config_to_c",
    "domain_info_from_c",
    "info_from_c",
    "object_from_c",
    "object_to_c",
    "run_counts_from_c",
    "violations_from_packed",
]

C_TYPES: dict[ObjType, str] = {
    ObjType.PROFILE: "msm_profile",
    ObjType.TAG: "msm_tag",
    ObjType.CONFLICT: "msm_conflict",
    ObjType.SECLABEL: "msm_seclabel",
    ObjType.BINDING: "msm_binding",
    ObjType.DEVICE: "msm_device",
}

VIOLATION_RECORD = struct.Struct("=QII16sIIII")
"""One packed ``msm_violation``: ts_ns, domid, kind, seclabel (16 raw bytes), nr, subop,
peer (``DOMID_INVALID`` when none), count; unpack a drained batch with ``iter_unpack``."""
if ffi.sizeof("msm_violation") != VIOLATION_RECORD.size:  # pragma: no cover - build skew
    raise ImportError("msm_violation layout differs from xps.msm's record format")

_UUIDS: dict[bytes, uuid.UUID] = {}


def _uuid(raw: bytes) -> uuid.UUID:
    # Drained records repeat a handful of SecLabel uuids; building UUIDs dominates drains.
    u = _UUIDS.get(raw)
    if u is None:
        if len(_UUIDS) > 4096:
            _UUIDS.clear()
        u = _UUIDS[raw] = uuid.UUID(bytes=raw)
    return u


def _set_uuid(dst: Any, value: uuid.UUID) -> None:
    ffi.memmove(dst.b, value.bytes, 16)


def _get_uuid(src: Any) -> uuid.UUID:
    return _uuid(bytes(ffi.buffer(src.b)))


def _get_name(field: Any) -> str:
    return str(ffi.string(field, 64).decode("utf-8", "replace"))


def object_to_c(obj: PolicyObject) -> tuple[ObjType, Any]:
    """Builds the zero-initialised C struct for a policy object."""
    if isinstance(obj, HypercallProfile):
        c = ffi.new("msm_profile *")
        _set_uuid(c.id, obj.id)
        c.name = name_bytes("name", obj.name)
        c.hypercalls = sum(1 << nr for nr in obj.hypercalls)
        for nr, subs in obj.subops.items():
            words = [0, 0, 0, 0]
            for s in subs:
                words[s >> 6] |= 1 << (s & 63)
            for w in range(4):
                c.subops[nr][w] = words[w]
        return ObjType.PROFILE, c
    if isinstance(obj, Tag):
        c = ffi.new("msm_tag *")
        _set_uuid(c.id, obj.id)
        c.name = name_bytes("name", obj.name)
        return ObjType.TAG, c
    if isinstance(obj, ConflictSet):
        c = ffi.new("msm_conflict *")
        _set_uuid(c.id, obj.id)
        c.name = name_bytes("name", obj.name)
        c.level = int(obj.level)
        c.ntags = len(obj.tags)
        for i, t in enumerate(obj.tags):
            _set_uuid(c.tags[i], t)
        return ObjType.CONFLICT, c
    if isinstance(obj, SecLabel):
        c = ffi.new("msm_seclabel *")
        _set_uuid(c.id, obj.id)
        c.name = name_bytes("name", obj.name)
        _set_uuid(c.profile, obj.profile)
        _set_uuid(c.tag, obj.tag)
        c.role = int(obj.role)
        c.max_rate = obj.max_rate
        c.max_violations = obj.max_violations
        return ObjType.SECLABEL, c
    if isinstance(obj, Binding):
        c = ffi.new("msm_binding *")
        _set_uuid(c.domain, obj.domain)
        _set_uuid(c.seclabel, obj.seclabel)
        return ObjType.BINDING, c
    c = ffi.new("msm_device *")
    c.bdf = obj.bdf
    _set_uuid(c.tag, obj.tag)
    return ObjType.DEVICE, c


def object_from_c(objtype: ObjType, c: Any) -> PolicyObject:
    """Reads a policy object back from its C struct."""
    if objtype is ObjType.PROFILE:
        mask = int(c.hypercalls)
        subops = {}
        for nr in SUBOP_HYPERCALL_NUMBERS:
            row = c.subops[nr]
            subs = frozenset(
                w * 64 + b for w in range(4) if row[w] for b in range(64) if row[w] >> b & 1
            )
            if subs:
                subops[nr] = subs
        return HypercallProfile(
            _get_uuid(c.id),
            _get_name(c.name),
            frozenset(n for n in range(NR_HYPERCALLS) if mask >> n & 1),
            subops,
        )
    if objtype is ObjType.TAG:
        return Tag(_get_uuid(c.id), _get_name(c.name))
    if objtype is ObjType.CONFLICT:
        n = min(int(c.ntags), 64)
        return ConflictSet(
            _get_uuid(c.id),
            _get_name(c.name),
            c.level,
            tuple(_get_uuid(c.tags[i]) for i in range(n)),
        )
    if objtype is ObjType.SECLABEL:
        return SecLabel(
            _get_uuid(c.id),
            _get_name(c.name),
            _get_uuid(c.profile),
            _get_uuid(c.tag),
            c.role,
            int(c.max_rate),
            int(c.max_violations),
        )
    if objtype is ObjType.BINDING:
        return Binding(_get_uuid(c.domain), _get_uuid(c.seclabel))
    return Device(int(c.bdf), _get_uuid(c.tag))


def config_to_c(cfg: DomainConfig) -> Any:
    """Builds an ``msm_domain_config`` from a :class:`DomainConfig`."""
    c = ffi.new("msm_domain_config *")
    _set_uuid(c.uuid, cfg.uuid)
    c.name = name_bytes("name", cfg.name)
    c.guest_type = int(cfg.guest_type)
    c.os = int(cfg.os)
    c.mem_kb = cfg.mem_kb
    c.maxmem_kb = cfg.maxmem_kb
    c.vcpus = cfg.vcpus
    c.max_vcpus = cfg.max_vcpus
    c.load_permille = cfg.load_permille
    c.flags = 1 if cfg.paused else 0
    return c


def domain_info_from_c(c: Any) -> DomainInfo:
    """Reads one ``msm_domain_info``."""
    return DomainInfo(
        domid=int(c.domid),
        state=enum_or_int(RunState, int(c.state)),
        uuid=_get_uuid(c.uuid),
        name=_get_name(c.name),
        seclabel=_get_uuid(c.seclabel),
        tag=_get_uuid(c.tag),
        guest_type=enum_or_int(GuestType, int(c.guest_type)),
        os=enum_or_int(GuestOS, int(c.os)),
        shutdown_reason=int(c.shutdown_reason),
        stopped_by_msm=bool(c.stopped_by_msm),
        cpu_ns=int(c.cpu_ns),
        cur_mem_kb=int(c.cur_mem_kb),
        max_mem_kb=int(c.max_mem_kb),
        vcpus_online=int(c.vcpus_online),
        max_vcpus=int(c.max_vcpus),
        violations=int(c.violations),
        hypercalls=int(c.hypercalls),
        created_ns=int(c.created_ns),
    )


def info_from_c(c: Any) -> Info:
    """Reads an ``msm_info``."""
    return Info(
        interface_version=int(c.interface_version),
        backend=enum_or_int(Backend, int(c.backend)),
        generation=int(c.generation),
        n_profiles=int(c.n_profiles),
        n_tags=int(c.n_tags),
        n_conflicts=int(c.n_conflicts),
        n_seclabels=int(c.n_seclabels),
        n_bindings=int(c.n_bindings),
        n_devices=int(c.n_devices),
        n_domains=int(c.n_domains),
        host_cpus=int(c.host_cpus),
        host_mem_kb=int(c.host_mem_kb),
        free_mem_kb=int(c.free_mem_kb),
        now_ns=int(c.now_ns),
        ring_capacity=int(c.ring_capacity),
        ring_used=int(c.ring_used),
        ring_dropped=int(c.ring_dropped),
        hypercalls_checked=int(c.hypercalls_checked),
        hypercalls_denied=int(c.hypercalls_denied),
        channels_checked=int(c.channels_checked),
        channels_denied=int(c.channels_denied),
        pages_scrubbed=int(c.pages_scrubbed),
        txn_open=bool(c.txn_open),
    )


def run_counts_from_c(c: Any) -> RunCounts:
    """Reads an ``msm_run_counts``."""
    return RunCounts(
        hypercalls=int(c.hypercalls),
        allowed=int(c.allowed),
        denied_profile=int(c.denied_profile),
        denied_rate=int(c.denied_rate),
        denied_channel=int(c.denied_channel),
        channels=int(c.channels),
        domains_stopped=int(c.domains_stopped),
        ring_dropped=int(c.ring_dropped),
        elapsed_ns=int(c.elapsed_ns),
    )


_KINDS = {int(k): k for k in ViolationKind}


def violations_from_packed(data: bytes) -> list[Violation]:
    """Decodes back-to-back :data:`VIOLATION_RECORD` structs (a drained batch)."""
    kinds = _KINDS
    uuids = _UUIDS
    out: list[Violation] = []
    append = out.append
    for ts, domid, kind, sl, nr, subop, peer, count in VIOLATION_RECORD.iter_unpack(data):
        u = uuids.get(sl)
        append(
            Violation(
                ts,
                domid,
                kinds.get(kind, kind),
                _uuid(sl) if u is None else u,
                nr,
                subop,
                None if peer == DOMID_INVALID else peer,
                count,
            )
        )
    return out
