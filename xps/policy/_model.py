"""The Xenon Security Policy and host configuration as immutable dataclasses."""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID, uuid4

from ._errors import PolicyLookupError

__all__ = [
    "ConflictLevel",
    "ConflictSet",
    "Cpu",
    "DeviceKind",
    "Disk",
    "DiskAccess",
    "DiskDevtype",
    "DiskFormat",
    "DiskKind",
    "DomainConfig",
    "DomainDisk",
    "GuestOS",
    "GuestRole",
    "GuestType",
    "Hardware",
    "HypercallProfile",
    "InputDevice",
    "MemoryInfo",
    "NetworkSwitch",
    "PciDevice",
    "Policy",
    "SecLabel",
    "StorageLocation",
    "StorageMode",
    "SwitchMode",
    "Tag",
    "UsbDevice",
    "Vif",
    "VifModel",
    "bdf_from_int",
    "bdf_to_int",
]

_T = TypeVar("_T")


class GuestType(enum.StrEnum):
    """Virtualization spectrum of a guest (§2.2.1)."""

    PVH = "pvh"
    PVHVM = "pvhvm"
    HVM = "hvm"
    PV = "pv"


class GuestRole(enum.StrEnum):
    """Role of a guest domain (§2.2.2); everything but NONE is a service domain."""

    NONE = "none"
    NETWORK_DRIVER_DOMAIN = "network_driver_domain"
    STORAGE_DRIVER_DOMAIN = "storage_driver_domain"
    SECURITY_DOMAIN = "security_domain"


class GuestOS(enum.StrEnum):
    """Operating system family of a guest."""

    LINUX = "linux"
    WINDOWS = "windows"


class ConflictLevel(enum.StrEnum):
    """Restriction a conflict set puts between its tags (§2.1.3)."""

    NO_CORESIDENCE = "no-coresidence"
    NO_COMMUNICATION = "no-communication"


class DeviceKind(enum.StrEnum):
    """What a PCI device is used for when assigning it to an enclave."""

    NETWORK = "network"
    STORAGE = "storage"
    USB = "usb"
    OTHER = "other"


class DiskKind(enum.StrEnum):
    """Kind of a block device found on the host."""

    DISK = "disk"
    PARTITION = "partition"
    VOLUME = "volume"


class SwitchMode(enum.StrEnum):
    """Mode of a virtual network switch (§2.3.1)."""

    INTERNAL = "internal"
    BRIDGED = "bridged"
    NAT = "nat"


class StorageMode(enum.StrEnum):
    """Mode of a storage location: a whole device or image files in a directory."""

    PHY = "phy"
    FILE = "file"


class DiskFormat(enum.StrEnum):
    """Format of a domain disk image."""

    QCOW2 = "qcow2"
    RAW = "raw"


class DiskAccess(enum.StrEnum):
    """Access mode of a domain disk."""

    RO = "ro"
    RW = "rw"


class DiskDevtype(enum.StrEnum):
    """What a domain disk is to its guest, when not a plain disk (xl ``devtype=``)."""

    CDROM = "cdrom"


class VifModel(enum.StrEnum):
    """The NIC an HVM guest's VIF emulates (xl ``model=`` with ``type=ioemu``)."""

    E1000 = "e1000"
    RTL8139 = "rtl8139"
    VIRTIO_NET = "virtio-net"


def bdf_to_int(bdf: str) -> int:
    """Encodes ``"SSSS:BB:DD.F"`` (or ``"BB:DD.F"``) as MSM's ``seg<<16|bus<<8|dev<<3|fn``.

    Raises:
        ValueError: The string is not a PCI address.
    """
    parts = bdf.split(":")
    if len(parts) == 2:
        parts = ["0000", *parts]
    if len(parts) != 3 or "." not in parts[2]:
        raise ValueError(f"not a PCI address: {bdf!r}")
    dev_s, fn_s = parts[2].split(".", 1)
    try:
        seg, bus, dev, fn = (int(parts[0], 16), int(parts[1], 16), int(dev_s, 16), int(fn_s, 16))
    except ValueError:
        raise ValueError(f"not a PCI address: {bdf!r}") from None
    if not (0 <= seg <= 0xFFFF and 0 <= bus <= 0xFF and 0 <= dev <= 0x1F and 0 <= fn <= 7):
        raise ValueError(f"PCI address out of range: {bdf!r}")
    return seg << 16 | bus << 8 | dev << 3 | fn


def bdf_from_int(value: int) -> str:
    """Formats an MSM bdf integer as the canonical ``"SSSS:BB:DD.F"``."""
    return f"{value >> 16 & 0xFFFF:04x}:{value >> 8 & 0xFF:02x}:{value >> 3 & 0x1F:02x}.{value & 7}"


def _set(obj: object, name: str, value: object) -> None:
    # Frozen dataclasses normalise their own fields once, in __post_init__.
    object.__setattr__(obj, name, value)


def _by_name(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(sorted(items, key=lambda o: (getattr(o, "name"), str(getattr(o, "id")))))  # noqa: B009


# ----------------------------------------------------------------- policy components


@dataclass(frozen=True)
class HypercallProfile:
    """A white list of hypercalls and, for sub-op hypercalls, of their sub-commands.

    Attributes:
        id: Stable UUID.
        name: Unique name, at most 63 bytes (MSM limit).
        hypercalls: Allowed hypercall numbers (0..63, Xen's ``__HYPERVISOR_*``).
        subops: ``(nr, allowed sub-ops)`` pairs sorted by nr; only meaningful for
            hypercalls that carry a sub-command. A sub-op hypercall without an entry
            allows no sub-command at all.
        description: Why the profile allows what it allows.
        guest_family: Guest types the profile is meant for (empty = any).
    """

    id: UUID
    name: str
    hypercalls: frozenset[int] = frozenset()
    subops: tuple[tuple[int, frozenset[int]], ...] = ()
    description: str = ""
    guest_family: frozenset[GuestType] = frozenset()

    def __post_init__(self) -> None:
        _set(self, "hypercalls", frozenset(self.hypercalls))
        pairs = self.subops.items() if isinstance(self.subops, Mapping) else self.subops
        _set(self, "subops", tuple(sorted((int(n), frozenset(s)) for n, s in pairs)))
        _set(self, "guest_family", frozenset(GuestType(g) for g in self.guest_family))

    def subop_map(self) -> dict[int, frozenset[int]]:
        """Returns the sub-op sets as a dict keyed by hypercall number."""
        return dict(self.subops)

    def allows(self, nr: int, subop: int | None = None) -> bool:
        """Tells whether the profile allows hypercall ``nr`` (with ``subop`` if given)."""
        if nr not in self.hypercalls:
            return False
        if subop is None:
            return True
        allowed = self.subop_map().get(nr)
        return allowed is not None and subop in allowed


@dataclass(frozen=True)
class Tag:
    """A system-wide unique tag; an enclave is everything of one tag (§2.1.2)."""

    id: UUID
    name: str
    color: tuple[int, int, int] = (128, 128, 128)

    def __post_init__(self) -> None:
        _set(self, "color", tuple(self.color))


@dataclass(frozen=True)
class ConflictSet:
    """Two or more tags whose domains may not co-reside or communicate (§2.1.3)."""

    id: UUID
    name: str
    level: ConflictLevel
    tags: tuple[UUID, ...]

    def __post_init__(self) -> None:
        _set(self, "level", ConflictLevel(self.level))
        # Set semantics: order is irrelevant, so it must not affect equality.
        _set(self, "tags", tuple(sorted(self.tags, key=str)))


@dataclass(frozen=True)
class SecLabel:
    """Profile + tag + role + hypercall rate limit: what a domain runs under (§2.1.4).

    Attributes:
        max_rate: Hypercalls per millisecond, 1..65535.
        max_violations: Violations before the domain is stopped; 0 never stops it.
    """

    id: UUID
    name: str
    profile: UUID
    tag: UUID
    role: GuestRole = GuestRole.NONE
    max_rate: int = 1000
    max_violations: int = 10

    def __post_init__(self) -> None:
        _set(self, "role", GuestRole(self.role))


# ------------------------------------------------------------------------- hardware


@dataclass(frozen=True)
class Cpu:
    """One physical CPU (logical processor) of the host."""

    index: int
    model: str
    vendor: str = ""
    family: int = 0
    stepping: int = 0
    mhz: int = 0
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemoryInfo:
    """Host memory."""

    total_kb: int = 0


@dataclass(frozen=True)
class PciDevice:
    """A PCI device; network and storage controllers are tagged to an enclave."""

    bdf: str
    class_code: int = 0
    class_name: str = ""
    vendor: int = 0
    device: int = 0
    vendor_name: str = ""
    device_name: str = ""
    kind: DeviceKind = DeviceKind.OTHER
    tag: UUID | None = None

    def __post_init__(self) -> None:
        _set(self, "kind", DeviceKind(self.kind))


@dataclass(frozen=True)
class Disk:
    """A host block device (disk, partition or logical volume)."""

    name: str
    path: str
    kind: DiskKind = DiskKind.DISK
    size_bytes: int = 0
    tag: UUID | None = None

    def __post_init__(self) -> None:
        _set(self, "kind", DiskKind(self.kind))


@dataclass(frozen=True)
class UsbDevice:
    """A USB device found on the host."""

    bus: int
    dev: int
    vendor: int = 0
    product: int = 0
    name: str = ""
    tag: UUID | None = None


@dataclass(frozen=True)
class InputDevice:
    """An input device (keyboard, mouse) found on the host."""

    name: str
    path: str
    tag: UUID | None = None


@dataclass(frozen=True)
class Hardware:
    """The host's hardware inventory, each collection in canonical order."""

    cpus: tuple[Cpu, ...] = ()
    memory: MemoryInfo = MemoryInfo()
    pci: tuple[PciDevice, ...] = ()
    disks: tuple[Disk, ...] = ()
    usb: tuple[UsbDevice, ...] = ()
    input: tuple[InputDevice, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "cpus", tuple(sorted(self.cpus, key=lambda c: c.index)))
        _set(self, "pci", tuple(sorted(self.pci, key=lambda d: d.bdf)))
        _set(self, "disks", tuple(sorted(self.disks, key=lambda d: (d.path, d.name))))
        _set(self, "usb", tuple(sorted(self.usb, key=lambda u: (u.bus, u.dev))))
        _set(self, "input", tuple(sorted(self.input, key=lambda i: (i.path, i.name))))

    def pci_device(self, bdf: str) -> PciDevice | None:
        """Returns the PCI device at ``bdf`` or None."""
        return next((d for d in self.pci if d.bdf == bdf), None)


# ----------------------------------------------------------------- host configuration


@dataclass(frozen=True)
class NetworkSwitch:
    """A virtual network switch of one enclave, served by dom0 or a network driver domain.

    Attributes:
        controller: BDF of the tagged physical NIC (bridged/NAT), or None.
        driver_domain: Network driver domain providing it; None means dom0.
    """

    id: UUID
    name: str
    mode: SwitchMode
    tag: UUID
    controller: str | None = None
    dhcp_disabled: bool = False
    expose_driver_domain: bool = False
    ip: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    dns: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    driver_domain: UUID | None = None

    def __post_init__(self) -> None:
        _set(self, "mode", SwitchMode(self.mode))
        _set(self, "dns", tuple(self.dns))
        _set(self, "search", tuple(self.search))


@dataclass(frozen=True)
class Vif:
    """A domain's network interface on a switch; keyed by its MAC address.

    Attributes:
        model: The emulated NIC of an HVM guest (None: e1000); other guest types
            have no emulated NIC and ignore it.
    """

    domain: UUID
    switch: UUID
    mac: str
    ip: str | None = None
    model: VifModel | None = None

    def __post_init__(self) -> None:
        _set(self, "mac", self.mac.lower())
        if self.model is not None:
            _set(self, "model", VifModel(self.model))


@dataclass(frozen=True)
class StorageLocation:
    """Pre-allocated storage of one enclave (§2.3.1, §4.3.3).

    Attributes:
        driver_domain: Storage driver domain serving it; None means dom0.
        mode: ``phy`` (one device for one domain) or ``file`` (image files).
        controller: BDF of a tagged storage controller, or None.
        base_path: Directory of the image files (``file``) or device path (``phy``).
    """

    id: UUID
    name: str
    mode: StorageMode
    tag: UUID
    driver_domain: UUID | None = None
    controller: str | None = None
    base_path: str = ""

    def __post_init__(self) -> None:
        _set(self, "mode", StorageMode(self.mode))


@dataclass(frozen=True)
class DomainDisk:
    """A disk of a domain on a storage location (xl ``target,format,vdev,access``).

    Attributes:
        devtype: ``cdrom``: the guest sees a CD-ROM drive (an ISO image; read-only,
            XP037); None: a disk.
    """

    location: UUID
    target: str
    format: DiskFormat = DiskFormat.QCOW2
    vdev: str = "xvda"
    access: DiskAccess = DiskAccess.RW
    devtype: DiskDevtype | None = None

    def __post_init__(self) -> None:
        _set(self, "format", DiskFormat(self.format))
        _set(self, "access", DiskAccess(self.access))
        if self.devtype is not None:
            _set(self, "devtype", DiskDevtype(self.devtype))


@dataclass(frozen=True)
class DomainConfig:
    """The configuration of one unprivileged domain (§2.3.2, §4.2.5).

    Attributes:
        seclabel: The SecLabel it runs under; None is a validation error.
        extra: Extra xl options as ``(key, value)`` pairs, in order.
        host: Host name the domain is placed on (XE), or None for "this host".
        pci: BDFs of PCI devices passed through to the domain (their tag must be
            the domain's tag).
    """

    id: UUID
    name: str
    seclabel: UUID | None
    guest_type: GuestType
    os: GuestOS = GuestOS.LINUX
    kernel: str | None = None
    ramdisk: str | None = None
    cmdline: str | None = None
    bootloader: str | None = None
    memory_mb: int = 1024
    maxmem_mb: int = 1024
    vcpus: int = 1
    maxvcpus: int = 1
    vnc: bool = False
    vnc_listen: str = "127.0.0.1"
    vnc_display: int | None = None
    disks: tuple[DomainDisk, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    host: str | None = None
    pci: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "guest_type", GuestType(self.guest_type))
        _set(self, "pci", tuple(b.lower() for b in self.pci))
        _set(self, "os", GuestOS(self.os))
        _set(self, "disks", tuple(self.disks))
        _set(self, "extra", tuple((str(k), str(v)) for k, v in self.extra))


# --------------------------------------------------------------------------- policy

_COLLECTIONS = {
    HypercallProfile: "profiles",
    Tag: "tags",
    ConflictSet: "conflicts",
    SecLabel: "seclabels",
    DomainConfig: "domains",
    NetworkSwitch: "switches",
    StorageLocation: "storage",
}

PolicyObject = (
    HypercallProfile | Tag | ConflictSet | SecLabel | DomainConfig | NetworkSwitch | StorageLocation
)


@dataclass(frozen=True)
class Policy:
    """A Xenon Security Policy plus the host configuration it governs.

    Every collection is kept in canonical order (by name, then UUID; VIFs by
    domain, switch, MAC), so two policies with the same objects are equal.
    Lookups by id and name are dict-backed; ``with_*``/``without`` return a new
    policy and never modify this one.
    """

    name: str
    version: int = 1
    uuid: UUID = field(default_factory=uuid4)
    profiles: tuple[HypercallProfile, ...] = ()
    tags: tuple[Tag, ...] = ()
    conflicts: tuple[ConflictSet, ...] = ()
    seclabels: tuple[SecLabel, ...] = ()
    domains: tuple[DomainConfig, ...] = ()
    switches: tuple[NetworkSwitch, ...] = ()
    vifs: tuple[Vif, ...] = ()
    storage: tuple[StorageLocation, ...] = ()
    hardware: Hardware = Hardware()

    def __post_init__(self) -> None:
        for attr in _COLLECTIONS.values():
            _set(self, attr, _by_name(getattr(self, attr)))
        _set(
            self,
            "vifs",
            tuple(sorted(self.vifs, key=lambda v: (str(v.domain), str(v.switch), v.mac))),
        )

    # -- lookups ----------------------------------------------------------------

    @functools.cached_property
    def _ids(self) -> dict[str, dict[UUID, Any]]:
        return {attr: {o.id: o for o in getattr(self, attr)} for attr in _COLLECTIONS.values()}

    @functools.cached_property
    def _names(self) -> dict[str, dict[str, Any]]:
        # Reversed so that, with duplicate names, the first in canonical order wins.
        return {
            attr: {o.name: o for o in reversed(getattr(self, attr))}
            for attr in _COLLECTIONS.values()
        }

    def _get(self, attr: str, key: UUID) -> Any:
        try:
            return self._ids[attr][key]
        except KeyError:
            raise PolicyLookupError(f"no {attr} object with id {key}") from None

    def _named(self, attr: str, name: str) -> Any:
        try:
            return self._names[attr][name]
        except KeyError:
            raise PolicyLookupError(f"no {attr} object named {name!r}") from None

    def profile(self, key: UUID) -> HypercallProfile:
        """Returns the hypercall profile with id ``key`` (PolicyLookupError if absent)."""
        result: HypercallProfile = self._get("profiles", key)
        return result

    def tag(self, key: UUID) -> Tag:
        """Returns the tag with id ``key``."""
        result: Tag = self._get("tags", key)
        return result

    def conflict(self, key: UUID) -> ConflictSet:
        """Returns the conflict set with id ``key``."""
        result: ConflictSet = self._get("conflicts", key)
        return result

    def seclabel(self, key: UUID) -> SecLabel:
        """Returns the SecLabel with id ``key``."""
        result: SecLabel = self._get("seclabels", key)
        return result

    def domain(self, key: UUID) -> DomainConfig:
        """Returns the domain with id ``key``."""
        result: DomainConfig = self._get("domains", key)
        return result

    def switch(self, key: UUID) -> NetworkSwitch:
        """Returns the network switch with id ``key``."""
        result: NetworkSwitch = self._get("switches", key)
        return result

    def storage_location(self, key: UUID) -> StorageLocation:
        """Returns the storage location with id ``key``."""
        result: StorageLocation = self._get("storage", key)
        return result

    def profile_named(self, name: str) -> HypercallProfile:
        """Returns the hypercall profile called ``name``."""
        result: HypercallProfile = self._named("profiles", name)
        return result

    def tag_named(self, name: str) -> Tag:
        """Returns the tag called ``name``."""
        result: Tag = self._named("tags", name)
        return result

    def conflict_named(self, name: str) -> ConflictSet:
        """Returns the conflict set called ``name``."""
        result: ConflictSet = self._named("conflicts", name)
        return result

    def seclabel_named(self, name: str) -> SecLabel:
        """Returns the SecLabel called ``name``."""
        result: SecLabel = self._named("seclabels", name)
        return result

    def domain_named(self, name: str) -> DomainConfig:
        """Returns the domain called ``name``."""
        result: DomainConfig = self._named("domains", name)
        return result

    def switch_named(self, name: str) -> NetworkSwitch:
        """Returns the network switch called ``name``."""
        result: NetworkSwitch = self._named("switches", name)
        return result

    def storage_named(self, name: str) -> StorageLocation:
        """Returns the storage location called ``name``."""
        result: StorageLocation = self._named("storage", name)
        return result

    def find(self, key: UUID) -> PolicyObject | None:
        """Returns the object of any id-keyed type with id ``key``, or None."""
        for table in self._ids.values():
            if key in table:
                found: PolicyObject = table[key]
                return found
        return None

    def domain_tag(self, domain: DomainConfig) -> UUID | None:
        """Returns the tag a domain gets through its SecLabel, or None if unresolved."""
        if domain.seclabel is None:
            return None
        label = self._ids["seclabels"].get(domain.seclabel)
        return None if label is None else label.tag

    def vifs_of(self, domain: UUID) -> tuple[Vif, ...]:
        """Returns the VIFs of one domain."""
        return tuple(v for v in self.vifs if v.domain == domain)

    # -- evolve -----------------------------------------------------------------

    def with_object(self, obj: PolicyObject) -> Policy:
        """Returns a policy where ``obj`` replaces the object with its id, or is added."""
        attr = _COLLECTIONS[type(obj)]
        kept = [o for o in getattr(self, attr) if o.id != obj.id]
        changes: dict[str, Any] = {attr: (*kept, obj)}
        return dataclasses.replace(self, **changes)

    def with_profile(self, profile: HypercallProfile) -> Policy:
        """Adds or replaces a hypercall profile."""
        return self.with_object(profile)

    def with_tag(self, tag: Tag) -> Policy:
        """Adds or replaces a tag."""
        return self.with_object(tag)

    def with_conflict(self, conflict: ConflictSet) -> Policy:
        """Adds or replaces a conflict set."""
        return self.with_object(conflict)

    def with_seclabel(self, seclabel: SecLabel) -> Policy:
        """Adds or replaces a SecLabel."""
        return self.with_object(seclabel)

    def with_domain(self, domain: DomainConfig) -> Policy:
        """Adds or replaces a domain."""
        return self.with_object(domain)

    def with_switch(self, switch: NetworkSwitch) -> Policy:
        """Adds or replaces a network switch."""
        return self.with_object(switch)

    def with_storage(self, location: StorageLocation) -> Policy:
        """Adds or replaces a storage location."""
        return self.with_object(location)

    def with_vif(self, vif: Vif) -> Policy:
        """Adds a VIF, replacing any VIF with the same MAC."""
        kept = tuple(v for v in self.vifs if v.mac != vif.mac)
        return dataclasses.replace(self, vifs=(*kept, vif))

    def without_vif(self, mac: str) -> Policy:
        """Removes the VIF with MAC ``mac`` (PolicyLookupError if absent)."""
        kept = tuple(v for v in self.vifs if v.mac != mac.lower())
        if len(kept) == len(self.vifs):
            raise PolicyLookupError(f"no VIF with MAC {mac}")
        return dataclasses.replace(self, vifs=kept)

    def with_hardware(self, hardware: Hardware) -> Policy:
        """Replaces the hardware inventory."""
        return dataclasses.replace(self, hardware=hardware)

    def without(self, key: UUID) -> Policy:
        """Removes the object with id ``key``; references to it are left for validation.

        Raises:
            PolicyLookupError: No object has that id.
        """
        for attr, table in self._ids.items():
            if key in table:
                changes: dict[str, Any] = {
                    attr: tuple(o for o in getattr(self, attr) if o.id != key)
                }
                return dataclasses.replace(self, **changes)
        raise PolicyLookupError(f"no object with id {key}")

    def bumped(self) -> Policy:
        """Returns the policy with its version incremented by one."""
        return dataclasses.replace(self, version=self.version + 1)
