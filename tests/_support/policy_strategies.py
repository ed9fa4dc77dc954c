"""Hypothesis strategies for random *valid* policies (shared with the generator tests)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from hypothesis import strategies as st

from xps.policy import (
    ConflictLevel,
    ConflictSet,
    Cpu,
    DeviceKind,
    Disk,
    DiskAccess,
    DiskDevtype,
    DiskFormat,
    DiskKind,
    DomainConfig,
    DomainDisk,
    GuestOS,
    GuestRole,
    GuestType,
    Hardware,
    HypercallProfile,
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
    VifModel,
    bdf_from_int,
    predefined_profiles,
)

__all__ = [
    "names",
    "policies",
    "profiles",
    "uuids",
    "xl_text",
    "xml_text",
]

uuids = st.uuids()

# Names valid for xl and MSM: 1..63 bytes, no quotes/backslashes/control chars, no edge spaces.
_NAME_CHARS = st.characters(categories=("L", "N"), include_characters="-_. +", max_codepoint=0x2FFF)
names = st.text(_NAME_CHARS, min_size=1, max_size=20).filter(
    lambda s: s == s.strip() and len(s.encode()) <= 63 and s != "Domain-0"
)

# Anything XML 1.0 can carry (tab, newline, CR included), for free-text fields.
xml_text = st.text(
    st.characters(
        exclude_categories=("Cs", "Cc", "Cn"), include_characters="\t\n\r", max_codepoint=0x10FFFF
    ),
    max_size=40,
)

# Strings allowed in xl options (paths, command lines): no quotes or control characters.
xl_text = st.text(
    st.characters(
        exclude_categories=("Cs", "Cc", "Cn"),
        exclude_characters="\"'\\",
        max_codepoint=0x2FFF,
    ),
    max_size=30,
)


@st.composite
def profiles(draw: Any, family: frozenset[GuestType] | None = None) -> HypercallProfile:
    """A random profile whose sub-op hypercalls each allow at least one sub-op."""
    from xps.policy import HYPERCALL_NAMES, SUBOP_HYPERCALLS

    valid = sorted(nr for nr, n in HYPERCALL_NAMES.items() if n != "unused")
    calls = draw(st.frozensets(st.sampled_from(valid), max_size=12))
    subops = {
        nr: draw(st.frozensets(st.integers(0, 255), min_size=1, max_size=6))
        for nr in sorted(calls & SUBOP_HYPERCALLS)
    }
    fam = family if family is not None else draw(st.frozensets(st.sampled_from(list(GuestType))))
    return HypercallProfile(
        id=draw(uuids),
        name=draw(names),
        hypercalls=calls,
        subops=tuple(subops.items()),
        description=draw(xml_text),
        guest_family=fam,
    )


def _label(prefix: str, draw: Any) -> str:
    # A unique prefix keeps names unique per type whatever hypothesis draws.
    text = f"{prefix}-{draw(names)}"
    while len(text.encode()) > 60:
        text = text[:-1]
    return text.strip()


def _unique_names(draw: Any, n: int, prefix: str) -> list[str]:
    return [_label(f"{prefix}{i}", draw) for i in range(n)]


class _Ids:
    """Distinct UUIDs within one drawn policy (hypothesis may repeat st.uuids())."""

    def __init__(self, salt: int) -> None:
        self.salt = salt
        self.n = 0

    def __call__(self) -> uuid.UUID:
        self.n += 1
        return uuid.UUID(int=(self.salt << 64) | self.n, version=4)


def _mac(i: int, salt: int) -> str:
    tail = (salt * 7919 + i) & 0x7FFFFF
    return f"00:16:3e:{tail >> 16 & 0x7F:02x}:{tail >> 8 & 0xFF:02x}:{tail & 0xFF:02x}"


@st.composite
def policies(draw: Any, max_domains: int = 6) -> Policy:
    """A random policy that validates without errors (and without warnings)."""
    new_id = _Ids(draw(st.integers(0, 2**64 - 1)))
    n_tags = draw(st.integers(1, 4))
    tag_names = _unique_names(draw, n_tags, "T")
    tags = [
        Tag(
            new_id(),
            name,
            draw(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))),
        )
        for name in tag_names
    ]
    profs = [
        dataclasses.replace(p, id=new_id(), name=_label(f"P{i}", draw))
        for i, p in enumerate(draw(st.lists(profiles(), max_size=2)))
    ]
    if draw(st.booleans()):
        profs.extend(predefined_profiles()[:3])
    if not profs:
        profs = [dataclasses.replace(draw(profiles(frozenset())), id=new_id(), name="P")]

    labels = []
    for i, tag in enumerate(tags):
        labels.append(
            SecLabel(
                id=new_id(),
                name=_label(f"L{i}", draw),
                profile=draw(st.sampled_from(profs)).id,
                tag=tag.id,
                role=draw(st.sampled_from(list(GuestRole))),
                max_rate=draw(st.integers(1, 65535)),
                max_violations=draw(st.integers(0, 2**32 - 1)),
            )
        )
    conflicts = []
    if n_tags >= 2 and draw(st.booleans()):
        picked = draw(st.lists(st.sampled_from(tags), min_size=2, max_size=n_tags, unique=True))
        conflicts.append(
            ConflictSet(
                new_id(),
                _label("C", draw),
                draw(st.sampled_from(list(ConflictLevel))),
                tuple(t.id for t in picked),
            )
        )
    # Hardware: one NIC and one storage controller per tag, plus untagged odds and ends.
    pci = []
    for i, tag in enumerate(tags):
        pci.append(
            PciDevice(
                bdf_from_int((3 << 8) | (i << 3)),
                0x020000,
                "Ethernet",
                0x8086,
                0x1521,
                draw(xml_text),
                draw(xml_text),
                DeviceKind.NETWORK,
                tag.id,
            )
        )
        pci.append(
            PciDevice(
                bdf_from_int((4 << 8) | (i << 3)),
                0x010601,
                "SATA",
                0x8086,
                0x8D02,
                "",
                "",
                DeviceKind.STORAGE,
                tag.id,
            )
        )
    passthrough = [
        PciDevice(
            bdf_from_int((6 << 8) | (i << 3)),
            0x0C0330,
            "USB",
            0x8086,
            0x8D31,
            "",
            "",
            DeviceKind.USB,
            tag.id,
        )
        for i, tag in enumerate(tags)
    ]
    pci.extend(passthrough)
    hardware = Hardware(
        cpus=tuple(
            Cpu(
                i,
                draw(xml_text),
                draw(xml_text),
                draw(st.integers(0, 30)),
                1,
                2600,
                tuple(draw(st.lists(st.sampled_from(["fpu", "vmx", "sse2", "aes"]), unique=True))),
            )
            for i in range(draw(st.integers(0, 3)))
        ),
        memory=MemoryInfo(draw(st.integers(0, 2**40))),
        pci=tuple(pci),
        disks=(
            Disk(
                "sda",
                "/dev/sda",
                DiskKind.DISK,
                draw(st.integers(0, 2**50)),
                draw(st.sampled_from([None, tags[0].id])),
            ),
        ),
        usb=(UsbDevice(1, 2, 0x046D, 0xC31C, draw(xml_text)),),
        input=(InputDevice(draw(xml_text), "/dev/input/event0"),),
    )
    switches, storage = [], []
    for i, tag in enumerate(tags):
        switches.append(
            NetworkSwitch(
                id=new_id(),
                name=f"S{i}br",
                mode=draw(st.sampled_from(list(SwitchMode))),
                tag=tag.id,
                controller=draw(st.sampled_from([None, pci[2 * i].bdf])),
                dhcp_disabled=draw(st.booleans()),
                expose_driver_domain=draw(st.booleans()),
                ip=f"10.{i}.0.1",
                netmask="255.255.0.0",
                gateway=draw(st.sampled_from([None, f"10.{i}.0.254"])),
                dns=tuple(draw(st.lists(st.just(f"10.{i}.0.2"), max_size=1))),
                search=tuple(
                    draw(st.lists(st.sampled_from(["a.example", "b.example"]), max_size=2))
                ),
            )
        )
        storage.append(
            StorageLocation(
                id=new_id(),
                name=f"S{i}storage",
                mode=draw(st.sampled_from(list(StorageMode))),
                tag=tag.id,
                controller=draw(st.sampled_from([None, pci[2 * i + 1].bdf])),
                base_path=f"/var/lib/xenon/{i}/",
            )
        )
    domains, vifs = [], []
    salt = draw(st.integers(0, 1000))
    n_domains = draw(st.integers(0, max_domains))
    given_away: set[int] = set()
    for i in range(n_domains):
        k = draw(st.integers(0, n_tags - 1))
        label = labels[k]
        profile = next(p for p in profs if p.id == label.profile)
        family = sorted(profile.guest_family) or list(GuestType)
        gtype = draw(st.sampled_from(family))
        memory = draw(st.integers(1, 4096))
        vcpus = draw(st.integers(1, 8))
        n_disks = draw(st.integers(0, 2))
        domains.append(
            DomainConfig(
                id=new_id(),
                name=_label(f"D{i}", draw),
                seclabel=label.id,
                guest_type=gtype,
                os=draw(st.sampled_from(list(GuestOS))),
                kernel=draw(st.one_of(st.none(), xl_text))
                if gtype is not GuestType.PV
                else "/boot/vmlinuz",
                ramdisk=draw(st.one_of(st.none(), xl_text)),
                cmdline=draw(st.one_of(st.none(), xl_text)),
                bootloader=draw(st.one_of(st.none(), st.just("pygrub"))),
                memory_mb=memory,
                maxmem_mb=memory + draw(st.integers(0, 1024)),
                vcpus=vcpus,
                maxvcpus=vcpus + draw(st.integers(0, 4)),
                vnc=draw(st.booleans()),
                vnc_display=draw(st.one_of(st.none(), st.integers(0, 99))),
                disks=tuple(
                    DomainDisk(
                        storage[k].id,
                        f"/var/lib/xenon/{k}/d{i}-{j}.img",
                        draw(st.sampled_from(list(DiskFormat))),
                        f"xvd{'ab'[j]}",
                        *draw(
                            st.sampled_from(
                                [
                                    *((a, None) for a in DiskAccess),
                                    (DiskAccess.RO, DiskDevtype.CDROM),
                                ]
                            )
                        ),
                    )
                    for j in range(n_disks)
                ),
                extra=tuple(
                    draw(
                        st.lists(
                            st.tuples(st.sampled_from(["on_crash", "max_grant_frames"]), xl_text),
                            max_size=2,
                        )
                    )
                ),
                host=draw(st.one_of(st.none(), st.just("xenon-1"))),
                pci=(passthrough[k].bdf,) if k not in given_away and draw(st.booleans()) else (),
            )
        )
        given_away.update({k} if domains[-1].pci else set())
        if draw(st.booleans()):
            vifs.append(
                Vif(
                    domains[-1].id,
                    switches[k].id,
                    _mac(i, salt),
                    draw(st.sampled_from([None, f"10.{k}.1.{i + 1}"])),
                    draw(st.sampled_from([None, *VifModel])),
                )
            )
    # A phy location serves one domain; shared ones fall back to image files.
    users: dict[uuid.UUID, int] = {}
    for d in domains:
        for loc in {disk.location for disk in d.disks}:
            users[loc] = users.get(loc, 0) + 1
    storage = [
        dataclasses.replace(s, mode=StorageMode.FILE) if users.get(s.id, 0) > 1 else s
        for s in storage
    ]
    # Driver domains must carry the matching role; keep switches/storage on dom0.
    return Policy(
        name=draw(names),
        version=draw(st.integers(0, 2**32)),
        uuid=draw(uuids),
        profiles=tuple(profs),
        tags=tuple(tags),
        conflicts=tuple(conflicts),
        seclabels=tuple(labels),
        domains=tuple(domains),
        switches=tuple(switches),
        vifs=tuple(vifs),
        storage=tuple(storage),
        hardware=hardware,
    )


def fresh_uuid() -> uuid.UUID:
    """A new random UUID (for hand-built test objects)."""
    return uuid.uuid4()
