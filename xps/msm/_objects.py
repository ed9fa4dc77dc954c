"""Immutable Python forms of the policy objects and the domain configuration of ``msm.h``."""

from __future__ import annotations

import types
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from xps.msm._enums import ConflictLevel, GuestOS, GuestType, ObjType, Role
from xps.msm._errors import InvalidArgument, OutOfRange
from xps.msm._validate import U32_MAX, U64_MAX, a_uuid, member, name_bytes, uint

__all__ = [
    "SUBOP_HYPERCALL_NUMBERS",
    "Binding",
    "ConflictSet",
    "Device",
    "DomainConfig",
    "HypercallProfile",
    "PolicyObject",
    "SecLabel",
    "Tag",
    "objtype_of",
]

NR_HYPERCALLS = 64
SUBOP_BITS = 256
MAX_SET_TAGS = 64

# The MSM_HC_* numbers of msm.h; the import-time self-test compares them with the library.
SUBOP_HYPERCALL_NUMBERS = frozenset({7, 12, 20, 24, 26, 27, 29, 30, 32, 33, 34, 35, 36, 41})


def _numbers(field_name: str, values: Iterable[object], limit: int) -> frozenset[int]:
    out = set()
    for v in values:
        out.add(uint(field_name, v, limit - 1))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class HypercallProfile:
    """A hypercall profile: the hypercalls (0..63) and sub-ops (0..255) a SecLabel allows.

    Attributes:
        id: The profile's UUID.
        name: Unique name, 1..63 UTF-8 bytes.
        hypercalls: Allowed hypercall numbers.
        subops: For hypercalls with sub-commands only: the allowed sub-op numbers. An allowed
            sub-op hypercall without an entry allows no sub-op at all. Empty entries are
            dropped, so two equal profiles compare equal.
    """

    id: uuid.UUID
    name: str
    hypercalls: frozenset[int]
    subops: Mapping[int, frozenset[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        a_uuid("profile id", self.id)
        name_bytes("profile name", self.name)
        object.__setattr__(
            self, "hypercalls", _numbers("hypercall", self.hypercalls, NR_HYPERCALLS)
        )
        rows: dict[int, frozenset[int]] = {}
        for nr, subs in sorted(dict(self.subops).items()):
            uint("sub-op hypercall", nr, NR_HYPERCALLS - 1)
            if nr not in SUBOP_HYPERCALL_NUMBERS:
                raise InvalidArgument(f"hypercall {nr} has no sub-ops")
            row = _numbers("sub-op", subs, SUBOP_BITS)
            if row:
                rows[nr] = row
        object.__setattr__(self, "subops", types.MappingProxyType(rows))

    def __hash__(self) -> int:
        return hash((self.id, self.name, self.hypercalls, tuple(self.subops.items())))

    def allows(self, nr: int, subop: int = 0) -> bool:
        """Whether the profile part of the decision allows hypercall ``nr``/``subop``."""
        if nr not in self.hypercalls:
            return False
        if nr in SUBOP_HYPERCALL_NUMBERS:
            return subop in self.subops.get(nr, frozenset())
        return True


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag (enclave type) that SecLabels, conflict sets and devices refer to."""

    id: uuid.UUID
    name: str

    def __post_init__(self) -> None:
        a_uuid("tag id", self.id)
        name_bytes("tag name", self.name)


@dataclass(frozen=True, slots=True)
class ConflictSet:
    """A set of 2..64 distinct tags that may not co-reside or may not communicate."""

    id: uuid.UUID
    name: str
    level: ConflictLevel
    tags: tuple[uuid.UUID, ...]

    def __post_init__(self) -> None:
        a_uuid("conflict id", self.id)
        name_bytes("conflict name", self.name)
        object.__setattr__(self, "level", member("conflict level", ConflictLevel, self.level))
        tags = tuple(a_uuid("conflict tag", t) for t in self.tags)
        if len(tags) > MAX_SET_TAGS:
            raise OutOfRange(f"a conflict set holds at most {MAX_SET_TAGS} tags")
        object.__setattr__(self, "tags", tags)


@dataclass(frozen=True, slots=True)
class SecLabel:
    """A security label: profile + tag + role + rate limit + violation limit.

    Attributes:
        max_rate: Hypercalls per millisecond, 1..65535 (checked by the module).
        max_violations: Violations before the module stops the domain; 0 = never.
    """

    id: uuid.UUID
    name: str
    profile: uuid.UUID
    tag: uuid.UUID
    role: Role = Role.NONE
    max_rate: int = 1000
    max_violations: int = 0

    def __post_init__(self) -> None:
        a_uuid("seclabel id", self.id)
        name_bytes("seclabel name", self.name)
        a_uuid("seclabel profile", self.profile)
        a_uuid("seclabel tag", self.tag)
        object.__setattr__(self, "role", member("role", Role, self.role))
        uint("max_rate", self.max_rate)
        uint("max_violations", self.max_violations)


@dataclass(frozen=True, slots=True)
class Binding:
    """Binds a domain (by its UUID) to a SecLabel."""

    domain: uuid.UUID
    seclabel: uuid.UUID

    def __post_init__(self) -> None:
        a_uuid("binding domain", self.domain)
        a_uuid("binding seclabel", self.seclabel)


@dataclass(frozen=True, slots=True)
class Device:
    """Binds a PCI device (``segment<<16 | bus<<8 | device<<3 | function``) to a tag."""

    bdf: int
    tag: uuid.UUID

    def __post_init__(self) -> None:
        uint("bdf", self.bdf)
        a_uuid("device tag", self.tag)


PolicyObject = HypercallProfile | Tag | ConflictSet | SecLabel | Binding | Device

_TYPES: dict[type, ObjType] = {
    HypercallProfile: ObjType.PROFILE,
    Tag: ObjType.TAG,
    ConflictSet: ObjType.CONFLICT,
    SecLabel: ObjType.SECLABEL,
    Binding: ObjType.BINDING,
    Device: ObjType.DEVICE,
}


def objtype_of(obj: object) -> ObjType:
    """The :class:`ObjType` of a policy object (``InvalidArgument`` for anything else)."""
    try:
        return _TYPES[type(obj)]
    except KeyError:
        raise InvalidArgument(f"not a policy object: {type(obj).__name__}") from None


@dataclass(frozen=True, slots=True)
class DomainConfig:
    """What ``msm_domain_create`` needs to build and start a sim domain.

    Attributes:
        uuid: The domain's UUID; a Binding for it must exist in the active policy.
        name: Unique among live domains.
        mem_kb: Initial memory, > 0 (rounded up to 2 MiB extents by the sim).
        maxmem_kb: Maximum memory, >= ``mem_kb``.
        vcpus: Online vCPUs, 1..``max_vcpus``.
        max_vcpus: 1..128.
        load_permille: Workload intensity (CPU busy share), 0..1000.
        paused: Create the domain paused.
    """

    uuid: uuid.UUID
    name: str
    guest_type: GuestType = GuestType.PVH
    os: GuestOS = GuestOS.LINUX
    mem_kb: int = 512 * 1024
    maxmem_kb: int = 512 * 1024
    vcpus: int = 1
    max_vcpus: int = 1
    load_permille: int = 500
    paused: bool = False

    def __post_init__(self) -> None:
        a_uuid("domain uuid", self.uuid)
        name_bytes("domain name", self.name)
        object.__setattr__(self, "guest_type", member("guest_type", GuestType, self.guest_type))
        object.__setattr__(self, "os", member("os", GuestOS, self.os))
        uint("mem_kb", self.mem_kb, U64_MAX)
        uint("maxmem_kb", self.maxmem_kb, U64_MAX)
        uint("vcpus", self.vcpus, U32_MAX)
        uint("max_vcpus", self.max_vcpus, U32_MAX)
        uint("load_permille", self.load_permille, U32_MAX)
        if not isinstance(self.paused, bool):
            raise InvalidArgument("paused must be a bool")
