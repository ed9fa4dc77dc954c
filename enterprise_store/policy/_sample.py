"""The report's simple XE policy (§4.2, Figures 23 and 29-31) and its hosts' own configuration.

Three hosts in panel order ``xenon-1``, ``xenon-2``, ``xenon-3``. Enclave A spans
xenon-2 and xenon-3 (§4.2.4: two hosts, to show migration); B and C span all three.
One SecLabel per enclave. VMs without a host follow the default rule (the first host
in panel order that carries the enclave): A's lands on xenon-2, B's and C's on
xenon-1. As in Figure 31, xenon-3 runs three of Enclave A's five VMs, two of
Enclave C's four and none of Enclave B's. A no-coresidence set keeps A and B apart
(no host runs both), a no-communication set A and C.

Identities match :func:`xps.policy.sample_enterprise` (uuid5 of kind and name), so a
host that already carries that demo policy keeps its switches, storage and VIFs.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass

from xps.policy import (
    ConflictLevel,
    DomainDisk,
    GuestOS,
    GuestType,
    Hardware,
    NetworkSwitch,
    Policy,
    StorageLocation,
    StorageMode,
    SwitchMode,
    Tag,
    Vif,
    generate_mac,
    predefined_profile,
    predefined_profiles,
    sample_enterprise,
    stable_uuid,
)

from ..model import (
    Assignment,
    ConflictSet,
    CpuFacts,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    Host,
    HostSwitch,
    NetworkRestrictions,
    SecLabel,
    Vm,
)
from ._slice import slice_policy

__all__ = ["SAMPLE_HOSTS", "sample_host_policies", "sample_xe_policy"]

SAMPLE_HOSTS = ("xenon-1", "xenon-2", "xenon-3")
"""The sample's hosts, in panel order."""

_PV_GRUB = "/usr/local/lib/xen/boot/pv-grub-x86_64.gz"  # Figures 26 and 39
_PV_MENU = "(hd0,0)/boot/grub/menu.lst"
_FLAGS = ("fpu", "vme", "pae", "apic", "sse2", "ssse3", "sse4_2", "aes", "avx", "avx2", "vmx")


@dataclass(frozen=True)
class _Enclave:
    short: str
    name: str
    color: tuple[int, int, int]
    profile: str
    subnet: int  # second octet of 172.x.0.0/16
    nic: str  # the NIC tagged to it on every host that carries it
    storage_controller: str | None
    hosts: tuple[str, ...]
    interface: str  # of its remote DHCP server


_ENCLAVES = (
    _Enclave(
        "EA",
        "Enclave A",
        (204, 37, 41),
        "PV-Combined",
        19,
        "0000:03:00.0",
        "0000:02:00.0",
        ("xenon-2", "xenon-3"),
        "eth3",
    ),
    _Enclave(
        "EB",
        "Enclave B",
        (57, 106, 177),
        "PVHVM-Combined",
        20,
        "0000:03:00.1",
        "0000:04:00.0",
        SAMPLE_HOSTS,
        "eth4",
    ),
    _Enclave(
        "EC",
        "Enclave C",
        (62, 150, 81),
        "PV-Combined",
        21,
        "0000:03:00.2",
        None,
        SAMPLE_HOSTS,
        "eth5",
    ),
)

_PV, _PVHVM, _HVM = GuestType.PV, GuestType.PVHVM, GuestType.HVM

# (name, enclave, guest type, OS, memory MB, VCPUs, host or None for the default rule)
_VMS: tuple[tuple[str, str, GuestType, GuestOS, int, int, str | None], ...] = (
    ("EA-domu-1", "EA", _PV, GuestOS.LINUX, 2048, 2, None),
    ("EA-domu-2", "EA", _PV, GuestOS.LINUX, 1024, 1, None),
    ("EA-domu-3", "EA", _PV, GuestOS.LINUX, 1024, 1, "xenon-3"),
    ("EA-domu-4", "EA", _PV, GuestOS.LINUX, 1024, 1, "xenon-3"),
    ("EA-domu-5", "EA", _PV, GuestOS.LINUX, 1024, 1, "xenon-3"),
    ("EB-domu-1", "EB", _PVHVM, GuestOS.LINUX, 1024, 2, None),
    ("EB-domu-2", "EB", _PVHVM, GuestOS.LINUX, 1024, 1, None),
    ("EB-domu-3", "EB", _HVM, GuestOS.WINDOWS, 2048, 2, None),
    ("EC-domu-1", "EC", _PV, GuestOS.LINUX, 1024, 1, None),
    ("EC-domu-2", "EC", _PV, GuestOS.LINUX, 1024, 1, "xenon-2"),
    ("EC-domu-3", "EC", _PV, GuestOS.LINUX, 1024, 1, "xenon-3"),
    ("EC-domu-4", "EC", _PV, GuestOS.LINUX, 1024, 1, "xenon-3"),
)

# The VIF of §4.3.2's dnsmasq example.
_KNOWN_MACS = {"EA-domu-2": "00:16:3e:f3:e2:d4"}


def _host(index: int, name: str, address: str, port: int) -> Host:
    carried = [e for e in _ENCLAVES if name in e.hosts]
    return Host(
        id=stable_uuid("host", name),
        name=name,
        address=address,
        port=port,
        order=index + 1,
        color=((70, 130, 180), (218, 165, 32), (106, 90, 205))[index % 3],
        cpu=CpuFacts("GenuineIntel", 6, 63, 2, frozenset(_FLAGS)),
        shared_storage=("xenon-nfs",),
        switches=tuple(HostSwitch(f"{e.short}br", stable_uuid("tag", e.name)) for e in carried),
    )


def sample_xe_policy(addresses: Mapping[str, tuple[str, int]] | None = None) -> EnterprisePolicy:
    """Returns the report's simple XE policy (version 1) over ``SAMPLE_HOSTS``.

    Args:
        addresses: Host name -> (management address, port) of its XPS; by default
            10.0.2.101-103 on port 9443.
    """
    addresses = addresses or {n: (f"10.0.2.{101 + i}", 9443) for i, n in enumerate(SAMPLE_HOSTS)}
    hosts = [_host(i, n, *addresses[n]) for i, n in enumerate(SAMPLE_HOSTS)]
    host_id = {h.name: h.id for h in hosts}
    enclaves = {e.short: Enclave(stable_uuid("tag", e.name), e.name, e.color) for e in _ENCLAVES}
    labels = {
        e.short: SecLabel(
            id=stable_uuid("seclabel", f"{e.short}-seclabel"),
            name=f"{e.short}-seclabel",
            enclave=enclaves[e.short].id,
            profile=predefined_profile(e.profile).id,
            max_rate=2000,
            max_violations=50,
        )
        for e in _ENCLAVES
    }
    vms = []
    for name, short, kind, os, memory, vcpus, host in _VMS:
        pv = kind is GuestType.PV
        vms.append(
            Vm(
                id=stable_uuid("domain", name),
                name=name,
                enclave=enclaves[short].id,
                seclabel=labels[short].id,
                guest_type=kind,
                os=os,
                kernel=_PV_GRUB if pv else None,
                cmdline=_PV_MENU if pv else None,
                memory_mb=memory,
                maxmem_mb=memory,
                vcpus=vcpus,
                maxvcpus=vcpus,
                host=None if host is None else host_id[host],
                network=NetworkRestrictions(switches=(f"{short}br",), max_vifs=1),
                extra=(("max_grant_frames", "64"),) if name == "EA-domu-1" else (),
            )
        )
    a, b, c = (enclaves[s].id for s in ("EA", "EB", "EC"))
    return EnterprisePolicy(
        version=1,
        hosts=tuple(hosts),
        enclaves=tuple(enclaves.values()),
        assignments=tuple(
            Assignment(enclaves[e.short].id, host_id[h]) for e in _ENCLAVES for h in e.hosts
        ),
        profiles=predefined_profiles(),
        seclabels=tuple(labels.values()),
        vms=tuple(vms),
        conflicts=(
            ConflictSet(
                stable_uuid("conflict", "EA-EB-no-coresidence"),
                "EA-EB-no-coresidence",
                ConflictLevel.NO_CORESIDENCE,
                (a, b),
            ),
            ConflictSet(
                stable_uuid("conflict", "EA-EC-no-communication"),
                "EA-EC-no-communication",
                ConflictLevel.NO_COMMUNICATION,
                (a, c),
            ),
        ),
        dhcp_servers=tuple(
            DhcpServer(
                stable_uuid("dhcp", f"dhcp-{e.short.lower()}"),
                f"dhcp-{e.short.lower()}",
                enclaves[e.short].id,
                e.interface,
            )
            for e in _ENCLAVES
        ),
    )


def _retag(hardware: Hardware, tags: Mapping[str, Tag]) -> Hardware:
    pci = tuple(
        dataclasses.replace(d, tag=tags[d.bdf].id if d.bdf in tags else None) for d in hardware.pci
    )
    return dataclasses.replace(hardware, pci=pci)


def _local(policy: EnterprisePolicy, index: int, name: str, hardware: Hardware) -> Policy:
    host = policy.host_named(name)
    base = slice_policy(policy, host.id)
    carried = [e for e in _ENCLAVES if name in e.hosts]
    tags = {t.id: t for t in base.tags}
    controllers: dict[str, Tag] = {}
    switches, storage = {}, {}
    for e in carried:
        tag = tags[stable_uuid("tag", e.name)]
        controllers[e.nic] = tag
        if e.storage_controller is not None:
            controllers[e.storage_controller] = tag
        switches[e.short] = NetworkSwitch(
            id=stable_uuid("switch", f"{name}:{e.short}br"),
            name=f"{e.short}br",
            mode=SwitchMode.BRIDGED,
            tag=tag.id,
            controller=e.nic,
            dhcp_disabled=True,
            expose_driver_domain=True,
            ip=f"172.{e.subnet}.0.{10 + index}",
            netmask="255.255.0.0",
            gateway=f"172.{e.subnet}.0.1",
            dns=(f"172.{e.subnet}.0.1",),
            search=(f"{e.name.lower().replace(' ', '-')}.xenon",),
        )
        storage[e.short] = StorageLocation(
            id=stable_uuid("storage", f"{name}:{e.short}storage"),
            name=f"{e.short}storage",
            mode=StorageMode.FILE,
            tag=tag.id,
            base_path=f"/var/lib/xenon/{e.short}/",
        )
    domains, vifs = [], []
    for d in base.domains:
        short = d.name[:2]
        e = next(x for x in _ENCLAVES if x.short == short)
        members = [v[0] for v in _VMS if v[1] == short]
        k = members.index(d.name) + 1
        loc = storage[short]
        vdev = "hda" if d.guest_type is GuestType.HVM else "xvda"
        disk = DomainDisk(loc.id, f"{loc.base_path}{d.name}.qcow2", vdev=vdev)
        domains.append(dataclasses.replace(d, disks=(disk,)))
        mac = _KNOWN_MACS.get(d.name) or generate_mac(random.Random(f"xenon:{d.name}"))
        vifs.append(Vif(d.id, switches[short].id, mac, f"172.{e.subnet}.1.{100 + k}"))
    return dataclasses.replace(
        base,
        domains=tuple(domains),
        switches=tuple(switches.values()),
        storage=tuple(storage.values()),
        vifs=tuple(vifs),
        hardware=_retag(hardware, controllers),
    )


def sample_host_policies(policy: EnterprisePolicy | None = None) -> dict[str, Policy]:
    """Returns each sample host's policy after its local set-up of §4.3, by host name.

    On top of its slice, each host has tagged one NIC (and a storage controller) per
    enclave, a bridged switch ``EAbr``/``EBbr``/``ECbr`` with local DHCP disabled
    (a remote DHCP server per enclave, §4.3.1), a file storage location per enclave
    (§4.3.3), and one VIF and one disk per VM. The dnsmasq example of §4.3.2
    (``00:16:3e:f3:e2:d4`` = 172.19.1.102, EA-domu-2) is on xenon-2.

    Args:
        policy: The sample XE policy (default: :func:`sample_xe_policy`).
    """
    policy = policy or sample_xe_policy()
    hardware = {n: p.hardware for n, p in sample_enterprise(3).items()}
    return {
        name: _local(policy, index, name, hardware[name]) for index, name in enumerate(SAMPLE_HOSTS)
    }
