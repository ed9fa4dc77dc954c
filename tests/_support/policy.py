"""A small hand-built host policy for the generator, template and CLI tests (no tests here)."""

from __future__ import annotations

from uuid import UUID, uuid5

from xps.policy import (
    ConflictLevel,
    ConflictSet,
    DeviceKind,
    Disk,
    DomainConfig,
    DomainDisk,
    GuestRole,
    GuestType,
    Hardware,
    HypercallProfile,
    NetworkSwitch,
    PciDevice,
    Policy,
    SecLabel,
    StorageLocation,
    StorageMode,
    SwitchMode,
    Tag,
    Vif,
)

_NS = UUID("5f1c7d1e-0000-4000-8000-00000000a5a5")


def uid(name: str) -> UUID:
    """A stable UUID per test object name."""
    return uuid5(_NS, name)


def make_policy() -> Policy:
    """Two enclaves (A, B), one switch per mode, domains of every guest type.

    - EAbr: bridged on controller 0000:03:00.0, DHCP served remotely (§4.3.1).
    - EBnat: NAT with local DHCP. - EAint: internal switch of enclave A.
    - EA-net: a network driver domain serving EAint.
    """
    prof = HypercallProfile(uid("p"), "AnyDomU-AllowAll", frozenset(range(64)))
    ta, tb = Tag(uid("ta"), "Enclave A", (220, 40, 40)), Tag(uid("tb"), "EnclaveB", (40, 40, 220))
    la = SecLabel(uid("la"), "EA-seclabel", prof.id, ta.id, max_rate=500, max_violations=5)
    lb = SecLabel(uid("lb"), "EB-seclabel", prof.id, tb.id)
    lnet = SecLabel(uid("lnet"), "EA-net-seclabel", prof.id, ta.id, GuestRole.NETWORK_DRIVER_DOMAIN)
    hw = Hardware(
        pci=(
            PciDevice("0000:03:00.0", kind=DeviceKind.NETWORK, tag=ta.id, device_name="I350"),
            PciDevice("0000:04:00.0", kind=DeviceKind.NETWORK, tag=tb.id, device_name="I350"),
            PciDevice("0000:05:00.0", kind=DeviceKind.STORAGE, tag=ta.id, device_name="AHCI"),
            PciDevice("0000:06:00.0", kind=DeviceKind.NETWORK, tag=ta.id, device_name="X710"),
        ),
        disks=(Disk("sdb", "/dev/sdb", size_bytes=10**12, tag=tb.id),),
    )
    net_dom = DomainConfig(
        uid("dnet"),
        "EA-net",
        lnet.id,
        GuestType.PV,
        kernel="/boot/vmlinuz",
        memory_mb=512,
        maxmem_mb=512,
    )
    switches = (
        NetworkSwitch(
            uid("sa"),
            "EAbr",
            SwitchMode.BRIDGED,
            ta.id,
            controller="0000:03:00.0",
            dhcp_disabled=True,
            expose_driver_domain=True,
            ip="172.19.1.3",
            netmask="255.255.0.0",
            gateway="172.19.0.1",
            dns=("172.19.0.1",),
            search=("ea.example",),
        ),
        NetworkSwitch(
            uid("sb"),
            "EBnat",
            SwitchMode.NAT,
            tb.id,
            controller="0000:04:00.0",
            ip="10.20.0.1",
            netmask="255.255.255.0",
            gateway="10.20.0.1",
            dns=("10.20.0.1",),
        ),
        NetworkSwitch(
            uid("si"),
            "EAint",
            SwitchMode.INTERNAL,
            ta.id,
            controller="0000:06:00.0",
            ip="192.168.50.1",
            netmask="255.255.255.0",
            driver_domain=net_dom.id,
        ),
    )
    storage = (
        StorageLocation(
            uid("sta"),
            "EAstorage",
            StorageMode.FILE,
            ta.id,
            controller="0000:05:00.0",
            base_path="/var/lib/xenon/EA/",
        ),
        StorageLocation(uid("stb"), "EBdisk", StorageMode.PHY, tb.id, base_path="/dev/sdb"),
    )
    domains = (
        net_dom,
        DomainConfig(
            uid("d1"),
            "EA-domu-1",
            la.id,
            GuestType.PV,
            kernel="/boot/vmlinuz-6.1",
            ramdisk="/boot/initrd-6.1",
            cmdline="root=/dev/xvda1 ro",
            memory_mb=2048,
            maxmem_mb=2048,
            vcpus=2,
            maxvcpus=2,
            disks=(DomainDisk(storage[0].id, "EA-domu-1.qcow2"),),
        ),
        DomainConfig(
            uid("d2"),
            "EA-domu-2",
            la.id,
            GuestType.PVHVM,
            memory_mb=1024,
            maxmem_mb=2048,
            disks=(DomainDisk(storage[0].id, "EA-domu-2.img", "raw"),),
            extra=(("viridian", "1"), ("cpus", '"2-3"')),
        ),
        DomainConfig(
            uid("d3"),
            "EB-domu-1",
            lb.id,
            GuestType.HVM,
            vnc=True,
            vnc_display=3,
            disks=(DomainDisk(storage[1].id, "/dev/sdb", "raw", "hda"),),
        ),
        DomainConfig(uid("d4"), "EB-domu-2", lb.id, GuestType.PVH, kernel="/boot/vmlinuz"),
    )
    vifs = (
        Vif(uid("d1"), uid("sa"), "00:16:3e:f3:e2:d1", "172.19.1.101"),
        Vif(uid("d2"), uid("sa"), "00:16:3e:f3:e2:d4", "172.19.1.102"),
        Vif(uid("d1"), uid("si"), "00:16:3e:00:50:01", "192.168.50.11"),
        Vif(uid("d3"), uid("sb"), "00:16:3e:0b:00:01", "10.20.0.11"),
        Vif(uid("d4"), uid("sb"), "00:16:3e:0b:00:02"),
    )
    return Policy(
        name="gen-test",
        version=3,
        uuid=uid("policy"),
        profiles=(prof,),
        tags=(ta, tb),
        conflicts=(
            ConflictSet(uid("c"), "A-vs-B", ConflictLevel.NO_COMMUNICATION, (ta.id, tb.id)),
        ),
        seclabels=(la, lb, lnet),
        domains=domains,
        switches=switches,
        vifs=vifs,
        storage=storage,
        hardware=hw,
    )
