"""The report's sample XE policy (§4.2-§4.3): three enclaves over three hosts."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._jsonform import generate_mac
from ._model import (
    ConflictLevel,
    ConflictSet,
    Cpu,
    DeviceKind,
    Disk,
    DiskKind,
    DomainConfig,
    DomainDisk,
    GuestOS,
    GuestType,
    Hardware,
    InputDevice,
    MemoryInfo,
    NetworkSwitch,
    PciDevice,
    Policy,
    SecLabel,
    StorageLocation,
    StorageMode,
    SwitchMode,
    Tag,
    UsbDevice,
    Vif,
)
from ._profiles import predefined_profile, predefined_profiles, stable_uuid

__all__ = ["SAMPLE_HOST_NAMES", "sample_enterprise", "sample_policy"]

SAMPLE_HOST_NAMES = ("xenon-1", "xenon-2", "xenon-3")
"""Host names of the three-host demo (more hosts continue the pattern)."""

_PV_GRUB = "/usr/local/lib/xen/boot/pv-grub-x86_64.gz"  # Figures 26 and 39
_PV_MENU = "(hd0,0)/boot/grub/menu.lst"


@dataclass(frozen=True)
class _Enclave:
    short: str  # EA, EB, EC
    tag: str
    color: tuple[int, int, int]
    profile: str
    subnet: int  # second octet of 172.x.0.0/16
    nic: str  # the NIC tagged to it on every host
    storage_controller: str | None
    hosts: int  # serves hosts 1..n (0 = all)


@dataclass(frozen=True)
class _Vm:
    name: str
    enclave: str
    guest_type: GuestType
    os: GuestOS
    memory_mb: int
    vcpus: int


_ENCLAVES = (
    _Enclave(
        "EA", "Enclave A", (204, 37, 41), "PV-Combined", 19, "0000:03:00.0", "0000:02:00.0", 2
    ),
    _Enclave(
        "EB", "Enclave B", (57, 106, 177), "PVHVM-Combined", 20, "0000:03:00.1", "0000:04:00.0", 0
    ),
    _Enclave("EC", "Enclave C", (62, 150, 81), "PV-Combined", 21, "0000:03:00.2", None, 0),
)

_PV, _PVHVM, _HVM = GuestType.PV, GuestType.PVHVM, GuestType.HVM
_LINUX, _WINDOWS = GuestOS.LINUX, GuestOS.WINDOWS

# Enclave A has five VMs and C four (§4.2.5); a VM lands on its enclave's hosts in turn.
_VMS = (
    _Vm("EA-domu-1", "EA", _PV, _LINUX, 2048, 2),
    _Vm("EA-domu-2", "EA", _PV, _LINUX, 1024, 1),
    _Vm("EA-domu-3", "EA", _PV, _LINUX, 1024, 1),
    _Vm("EA-domu-4", "EA", _PV, _LINUX, 1024, 1),
    _Vm("EA-domu-5", "EA", _PV, _LINUX, 1024, 1),
    _Vm("EB-domu-1", "EB", _PVHVM, _LINUX, 1024, 2),
    _Vm("EB-domu-2", "EB", _PVHVM, _LINUX, 1024, 1),
    _Vm("EB-domu-3", "EB", _HVM, _WINDOWS, 2048, 2),
    _Vm("EC-domu-1", "EC", _PV, _LINUX, 1024, 1),
    _Vm("EC-domu-2", "EC", _PV, _LINUX, 1024, 1),
    _Vm("EC-domu-3", "EC", _PV, _LINUX, 1024, 1),
    _Vm("EC-domu-4", "EC", _PV, _LINUX, 1024, 1),
)

# The VIF of §4.3.2's dnsmasq example.
_KNOWN_MACS = {"EA-domu-2": "00:16:3e:f3:e2:d4"}


def _host_names(hosts: int) -> tuple[str, ...]:
    return tuple(f"xenon-{i + 1}" for i in range(hosts))


def _enclave_hosts(enclave: _Enclave, hosts: tuple[str, ...]) -> tuple[str, ...]:
    return hosts[: enclave.hosts] if enclave.hosts else hosts


def _tag(enclave: _Enclave) -> Tag:
    return Tag(stable_uuid("tag", enclave.tag), enclave.tag, enclave.color)


def _seclabel(enclave: _Enclave) -> SecLabel:
    name = f"{enclave.short}-seclabel"
    return SecLabel(
        id=stable_uuid("seclabel", name),
        name=name,
        profile=predefined_profile(enclave.profile).id,
        tag=stable_uuid("tag", enclave.tag),
        max_rate=2000,
        max_violations=50,
    )


def _hardware(host_index: int, tagged: dict[str, Tag]) -> Hardware:
    def tag_of(bdf: str) -> Tag | None:
        return tagged.get(bdf)

    def nic(bdf: str, device: int, name: str) -> PciDevice:
        tag = tag_of(bdf)
        return PciDevice(
            bdf=bdf,
            class_code=0x020000,
            class_name="Ethernet controller",
            vendor=0x8086,
            device=device,
            vendor_name="Intel Corporation",
            device_name=name,
            kind=DeviceKind.NETWORK,
            tag=None if tag is None else tag.id,
        )

    def storage(
        bdf: str, code: int, cls: str, vendor: tuple[int, str], dev: tuple[int, str]
    ) -> PciDevice:
        tag = tag_of(bdf)
        return PciDevice(
            bdf=bdf,
            class_code=code,
            class_name=cls,
            vendor=vendor[0],
            device=dev[0],
            vendor_name=vendor[1],
            device_name=dev[1],
            kind=DeviceKind.STORAGE,
            tag=None if tag is None else tag.id,
        )

    i350 = "I350 Gigabit Network Connection"
    flags = ("fpu", "vme", "pae", "apic", "sse2", "ssse3", "sse4_2", "aes", "avx", "avx2", "vmx")
    return Hardware(
        cpus=tuple(
            Cpu(
                index=i,
                model="Intel(R) Xeon(R) CPU E5-2640 v3 @ 2.60GHz",
                vendor="GenuineIntel",
                family=6,
                stepping=2,
                mhz=2600,
                flags=flags,
            )
            for i in range(8)
        ),
        memory=MemoryInfo(total_kb=16 * 1024 * 1024),
        pci=(
            PciDevice(
                bdf="0000:00:00.0",
                class_code=0x060000,
                class_name="Host bridge",
                vendor=0x8086,
                device=0x2F00,
                vendor_name="Intel Corporation",
                device_name="Xeon E7 v3/Xeon E5 v3/Core i7 DMI2",
            ),
            PciDevice(
                bdf="0000:00:14.0",
                class_code=0x0C0330,
                class_name="USB controller",
                vendor=0x8086,
                device=0x8D31,
                vendor_name="Intel Corporation",
                device_name="C610/X99 series chipset USB xHCI Host Controller",
                kind=DeviceKind.USB,
            ),
            nic("0000:03:00.0", 0x1521, i350),
            nic("0000:03:00.1", 0x1521, i350),
            nic("0000:03:00.2", 0x1521, i350),
            nic("0000:03:00.3", 0x1521, i350),
            nic("0000:05:00.0", 0x10FB, "82599ES 10-Gigabit SFI/SFP+ Network Connection"),
            storage(
                "0000:00:1f.2",
                0x010601,
                "SATA controller",
                (0x8086, "Intel Corporation"),
                (0x8D02, "C610/X99 series chipset 6-Port SATA Controller [AHCI mode]"),
            ),
            storage(
                "0000:02:00.0",
                0x010700,
                "Serial Attached SCSI controller",
                (0x1000, "Broadcom / LSI"),
                (0x0097, "SAS3008 PCI-Express Fusion-MPT SAS-3"),
            ),
            storage(
                "0000:04:00.0",
                0x010802,
                "Non-Volatile memory controller",
                (0x144D, "Samsung Electronics Co Ltd"),
                (0xA804, "NVMe SSD Controller SM961/PM961"),
            ),
        ),
        disks=(
            Disk("sda", "/dev/sda", DiskKind.DISK, 500_107_862_016),
            Disk("sda1", "/dev/sda1", DiskKind.PARTITION, 499_999_999_488),
            Disk(
                "vg0-xenon", f"/dev/mapper/vg0-xenon{host_index}", DiskKind.VOLUME, 214_748_364_800
            ),
        ),
        usb=(UsbDevice(1, 2, 0x046D, 0xC31C, "Logitech, Inc. Keyboard K120"),),
        input=(
            InputDevice("Power Button", "/dev/input/event0"),
            InputDevice("Logitech USB Keyboard", "/dev/input/event1"),
        ),
    )


def _domain(
    vm: _Vm, host: str, enclave: _Enclave, location: StorageLocation, display: int
) -> DomainConfig:
    pv = vm.guest_type is GuestType.PV
    vdev = "hda" if vm.guest_type is GuestType.HVM else "xvda"
    return DomainConfig(
        id=stable_uuid("domain", vm.name),
        name=vm.name,
        seclabel=stable_uuid("seclabel", f"{enclave.short}-seclabel"),
        guest_type=vm.guest_type,
        os=vm.os,
        kernel=_PV_GRUB if pv else None,
        cmdline=_PV_MENU if pv else None,
        memory_mb=vm.memory_mb,
        maxmem_mb=vm.memory_mb,
        vcpus=vm.vcpus,
        maxvcpus=vm.vcpus,
        vnc=not pv,
        vnc_display=None if pv else display,
        disks=(DomainDisk(location.id, f"{location.base_path}{vm.name}.qcow2", vdev=vdev),),
        extra=(("max_grant_frames", "64"),) if vm.name == "EA-domu-1" else (),
        host=host,
    )


def _host_policy(host_index: int, hosts: tuple[str, ...]) -> Policy:
    host = hosts[host_index]
    enclaves = [e for e in _ENCLAVES if host in _enclave_hosts(e, hosts)]
    tags = {e.short: _tag(e) for e in enclaves}
    tagged: dict[str, Tag] = {}
    for e in enclaves:
        tagged[e.nic] = tags[e.short]
        if e.storage_controller is not None:
            tagged[e.storage_controller] = tags[e.short]
    switches: dict[str, NetworkSwitch] = {}
    locations: dict[str, StorageLocation] = {}
    for e in enclaves:
        switches[e.short] = NetworkSwitch(
            id=stable_uuid("switch", f"{host}:{e.short}br"),
            name=f"{e.short}br",
            mode=SwitchMode.BRIDGED,
            tag=tags[e.short].id,
            controller=e.nic,
            dhcp_disabled=True,
            expose_driver_domain=True,
            ip=f"172.{e.subnet}.0.{10 + host_index}",
            netmask="255.255.0.0",
            gateway=f"172.{e.subnet}.0.1",
            dns=(f"172.{e.subnet}.0.1",),
            search=(f"{e.tag.lower().replace(' ', '-')}.xenon",),
        )
        locations[e.short] = StorageLocation(
            id=stable_uuid("storage", f"{host}:{e.short}storage"),
            name=f"{e.short}storage",
            mode=StorageMode.FILE,
            tag=tags[e.short].id,
            base_path=f"/var/lib/xenon/{e.short}/",
        )
    domains: list[DomainConfig] = []
    vifs: list[Vif] = []
    for e in enclaves:
        members = [vm for vm in _VMS if vm.enclave == e.short]
        served = _enclave_hosts(e, hosts)
        for k, vm in enumerate(members, start=1):
            if served[(k - 1) % len(served)] != host:
                continue
            domains.append(_domain(vm, host, e, locations[e.short], len(domains)))
            mac = _KNOWN_MACS.get(vm.name) or generate_mac(random.Random(f"xenon:{vm.name}"))
            ip = f"172.{e.subnet}.1.{100 + k}"
            vifs.append(Vif(domains[-1].id, switches[e.short].id, mac, ip))
    # A no-communication set only binds where both of its enclaves are present.
    conflicts: tuple[ConflictSet, ...] = ()
    if "EA" in tags and "EC" in tags:
        conflicts = (
            ConflictSet(
                stable_uuid("conflict", "EA-EC-no-communication"),
                "EA-EC-no-communication",
                ConflictLevel.NO_COMMUNICATION,
                (tags["EA"].id, tags["EC"].id),
            ),
        )
    return Policy(
        name=f"{host} sample policy",
        version=1,
        uuid=stable_uuid("policy", host),
        profiles=predefined_profiles(),
        tags=tuple(tags.values()),
        conflicts=conflicts,
        seclabels=tuple(_seclabel(e) for e in enclaves),
        domains=tuple(domains),
        switches=tuple(switches.values()),
        vifs=tuple(vifs),
        storage=tuple(locations.values()),
        hardware=_hardware(host_index + 1, tagged),
    )


def sample_enterprise(hosts: int = 3) -> dict[str, Policy]:
    """Returns the sample XE policy sliced per host: host name -> that host's policy.

    Enclave A spans hosts 1-2, B and C span all hosts (§4.2.4); each VM sits on one
    host of its enclave. Every slice validates without errors and carries one
    bridged switch and one file storage location per enclave the host serves.

    Raises:
        ValueError: ``hosts`` is not 1..64.
    """
    if not 1 <= hosts <= 64:
        raise ValueError("hosts must be 1..64")
    names = _host_names(hosts)
    return {name: _host_policy(i, names) for i, name in enumerate(names)}


def sample_policy() -> Policy:
    """Returns the report's sample host policy: host 1 of the three-host demo.

    It serves all three enclaves (switches EAbr/EBbr/ECbr on 172.19-21.0.0/16, storage
    EAstorage/EBstorage/ECstorage under /var/lib/xenon/) and six domains.
    """
    return sample_enterprise(3)[SAMPLE_HOST_NAMES[0]]
