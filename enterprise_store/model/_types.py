"""The objects of an XE policy as immutable dataclasses: hosts, enclaves, SecLabels, VMs."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from xps.policy import ConflictLevel, GuestOS, GuestRole, GuestType

__all__ = [
    "DEFAULT_XPS_PORT",
    "RGB",
    "Assignment",
    "ConflictSet",
    "CpuFacts",
    "DhcpServer",
    "Enclave",
    "Host",
    "HostSwitch",
    "NetworkRestrictions",
    "SecLabel",
    "Vm",
    "VmDisk",
    "VmVif",
]

RGB = tuple[int, int, int]
"""A colour as (red, green, blue), each 0..255."""

DEFAULT_XPS_PORT = 9443
"""The read-write port an XPS listens on unless told otherwise."""


def _set(obj: object, name: str, value: object) -> None:
    # Frozen dataclasses normalise their own fields once, in __post_init__.
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class CpuFacts:
    """What VM migration needs to know of a host's CPU (Figure 21).

    Read from the host's XPS when it joins; an operator may supply or override them.
    Unknown facts are empty / None; a host without a vendor has no CPU facts at all.

    Attributes:
        vendor: ``GenuineIntel``, ``AuthenticAMD`` …
        family: CPUID family.
        model: CPUID model number.
        stepping: CPUID stepping.
        flags: The CPU feature flags (``/proc/cpuinfo`` names), as a sorted set.
    """

    vendor: str = ""
    family: int | None = None
    model: int | None = None
    stepping: int | None = None
    flags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _set(self, "flags", frozenset(self.flags))

    @property
    def known(self) -> bool:
        """True when the vendor is known (the minimum a migration check needs)."""
        return bool(self.vendor)


@dataclass(frozen=True)
class HostSwitch:
    """A network switch known on a host, and the enclave it serves (None: untagged).

    Switches are host-owned (§4.3.1); XE keeps this list to tell, before a migration,
    whether the target host has a network for the VM's enclave.
    """

    name: str
    enclave: UUID | None = None


@dataclass(frozen=True)
class Host:
    """A Xenon host of the enterprise (§4.2.2).

    Attributes:
        id: XE's id of the host.
        name: Host name (Figure 21 "Hostname"); unique in the enterprise.
        address: Management address of its XPS (IP address or DNS name).
        port: Read-write port of its XPS.
        ro_port: Read-only port of its XPS, if XE knows it (an auditor's console
            reaches only these).
        order: Position in the Hosts panel; the default placement of a VM is the
            first host in this order that carries the VM's enclave.
        color: Colour of the host in the console.
        cpu: CPU facts for migration.
        shared_storage: Names of shared storage the host reaches (NFS, iSCSI …);
            a VM may migrate between hosts that share storage.
        switches: Network switches known on the host.
    """

    id: UUID
    name: str
    address: str
    port: int = DEFAULT_XPS_PORT
    order: int = 0
    color: RGB = (128, 128, 128)
    cpu: CpuFacts = CpuFacts()
    shared_storage: tuple[str, ...] = ()
    switches: tuple[HostSwitch, ...] = ()
    ro_port: int | None = None

    def __post_init__(self) -> None:
        _set(self, "color", tuple(self.color))
        _set(self, "shared_storage", tuple(sorted(set(self.shared_storage))))
        _set(
            self,
            "switches",
            tuple(sorted(set(self.switches), key=lambda s: (s.name, str(s.enclave)))),
        )


@dataclass(frozen=True)
class Enclave:
    """An enclave: everything of one tag (§4.2.3); its id is the tag's 128-bit UUID."""

    id: UUID
    name: str
    color: RGB = (128, 128, 128)

    def __post_init__(self) -> None:
        _set(self, "color", tuple(self.color))


@dataclass(frozen=True)
class Assignment:
    """Enclave ``enclave`` is assigned to host ``host`` (§4.2.4); an enclave may span hosts."""

    enclave: UUID
    host: UUID


@dataclass(frozen=True)
class SecLabel:
    """A SecLabel of one enclave (§4.2.5, Figure 25).

    Attributes:
        enclave: The enclave (tag) it belongs to.
        profile: The hypercall profile (one of the policy's profiles).
        max_rate: Hypercalls per millisecond, 1..65535.
        max_violations: Violations before the VM is stopped; 0 never stops it.
        role: Guest role; XE supports user domains only, so ``none``.
    """

    id: UUID
    name: str
    enclave: UUID
    profile: UUID
    max_rate: int = 1000
    max_violations: int = 10
    role: GuestRole = GuestRole.NONE

    def __post_init__(self) -> None:
        _set(self, "role", GuestRole(self.role))


@dataclass(frozen=True)
class NetworkRestrictions:
    """Limits on a VM's network interfaces, enforced on every host slice (Figure 28).

    VIFs are host-owned (§4.3.1): XE does not create them, but it refuses to send a
    host a slice whose VIFs for the VM break these limits.

    Attributes:
        allow_network: False: the VM may have no VIF at all.
        switches: Names of the switches the VM may attach to (empty: any switch of
            its enclave).
        max_vifs: Most VIFs the VM may have on a host (None: no limit).
    """

    allow_network: bool = True
    switches: tuple[str, ...] = ()
    max_vifs: int | None = None

    def __post_init__(self) -> None:
        _set(self, "switches", tuple(sorted(set(self.switches))))


@dataclass(frozen=True)
class VmVif:
    """A network interface XE gives a VM (Figure 28's VIFs tab, §4.3.1).

    On propagation it becomes the VM's VIF on the host's switch named ``bridge``
    (the host owns its switches); see :mod:`enterprise_store.model._devices` for what
    each field may hold.

    Attributes:
        bridge: Name of the host's network switch (the xl ``bridge=``).
        mac: Unicast MAC address, lower case; None: derived from the VM's id and the
            VIF's position (Xen's OUI ``00:16:3e``), stable across propagations.
        ip: The VM's address on that network (xl ``ip=``), or None.
        model: The NIC an HVM guest emulates (xl ``model=``: ``e1000``, ``rtl8139``,
            ``virtio-net``), or None (e1000); guests with PV drivers ignore it.
    """

    bridge: str
    mac: str | None = None
    ip: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class VmDisk:
    """A disk XE gives a VM (Figure 28's Disks tab, §4.3.3).

    On propagation it is placed on the host's storage location of the VM's enclave
    whose mode the target names (``phy:`` a device, a plain path or ``file:`` an image
    file); see :mod:`enterprise_store.model._devices`.

    Attributes:
        target: ``/path/image``, ``file:/path/image`` or ``phy:/dev/...``.
        vdev: The guest's device name: ``xvd[a-z]+`` or ``hd[a-z]``.
        mode: ``r`` (read-only) or ``w`` (read-write).
        format: ``raw`` or ``qcow2`` (xl's default is raw).
        cdrom: The guest sees a CD-ROM drive holding the image (an ISO; xl
            ``devtype=cdrom``); it must be read-only (``mode`` ``r``).
    """

    target: str
    vdev: str
    mode: str = "w"
    format: str = "raw"
    cdrom: bool = False


@dataclass(frozen=True)
class Vm:
    """A VM of the enterprise: every field of the Add domain widget (Figure 26).

    Attributes:
        enclave: The one enclave it belongs to (§4.2.1).
        seclabel: A SecLabel of that enclave; None is refused by the checker (the
            "policy service warning" of Figure 24).
        guest_type: Must suit the SecLabel's hypercall profile.
        kernel: Kernel (PV, PVH) — a PV guest needs a kernel or a bootloader.
        bootloader: Bootloader (PV only).
        host: The host it is placed on; None means the default rule (the first
            host in panel order that carries the enclave). Services pin the host
            when they create a VM, so reordering the Hosts panel never moves it.
        run: Whether the VM is meant to run (conflict sets only bind running VMs).
        network: Network restrictions.
        extra: Extra xl options (``key``, ``value``) that XE stores and propagates
            (§4.3.4); empty means the guest type's secure template.
        vifs: XE's VIFs of the VM, in order (empty: the hosts' own VIFs are kept).
        disks: XE's disks of the VM, in order (empty: the hosts' own disks are kept).
    """

    id: UUID
    name: str
    enclave: UUID
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
    host: UUID | None = None
    run: bool = True
    network: NetworkRestrictions = NetworkRestrictions()
    extra: tuple[tuple[str, str], ...] = ()
    vifs: tuple[VmVif, ...] = ()
    disks: tuple[VmDisk, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "guest_type", GuestType(self.guest_type))
        _set(self, "os", GuestOS(self.os))
        _set(self, "extra", tuple((str(k), str(v)) for k, v in self.extra))
        if self.vifs:
            _set(self, "vifs", tuple(self.vifs))
        if self.disks:
            _set(self, "disks", tuple(self.disks))


@dataclass(frozen=True)
class ConflictSet:
    """Two or more enclaves whose VMs may not co-reside or communicate (enterprise-wide)."""

    id: UUID
    name: str
    level: ConflictLevel
    enclaves: tuple[UUID, ...]

    def __post_init__(self) -> None:
        _set(self, "level", ConflictLevel(self.level))
        # Set semantics: order is irrelevant, so it must not affect equality.
        _set(self, "enclaves", tuple(sorted(self.enclaves)))


@dataclass(frozen=True)
class DhcpServer:
    """A dedicated remote DHCP server of one enclave's bridged network (§4.3.1-§4.3.2).

    It serves every switch of its enclave that disables local DHCP, on every host;
    XE generates its dnsmasq file from the hosts' switches and VIFs.

    Attributes:
        interface: The server's interface facing the enclave network (``eth3``).
    """

    id: UUID
    name: str
    enclave: UUID
    interface: str
