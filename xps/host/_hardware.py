"""Hardware discovery from /proc and /sys under a root prefix (report §2.3, §3.1)."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xps.policy import (
    Cpu,
    DeviceKind,
    Disk,
    DiskKind,
    Hardware,
    InputDevice,
    MemoryInfo,
    PciDevice,
    UsbDevice,
)

from ._pciids import PciIds, builtin_class_name, load_pci_ids

__all__ = ["Nic", "discover_hardware", "discover_nics", "with_policy_tags"]

_BDF_RE = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]$")
_MAX_FILE = 4 * 1024 * 1024
# Pseudo block devices that are not host hardware a policy could assign.
_SKIP_BLOCK = ("loop", "ram", "zram", "nbd", "sr")


@dataclass(frozen=True)
class Nic:
    """A network interface with its PCI parent (None for virtual interfaces)."""

    name: str
    mac: str
    pci: str | None
    virtual: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"name": self.name, "mac": self.mac, "pci": self.pci, "virtual": self.virtual}


def _read(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return fh.read(_MAX_FILE).decode("utf-8", "replace")
    except OSError:
        return None


def _read_int(path: Path, base: int = 10) -> int | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return int(text.strip(), base)
    except ValueError:
        return None


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


# ---------------------------------------------------------------------------- cpus


def _num(fields: dict[str, str], key: str) -> int:
    try:
        return int(float(fields.get(key, "0")))
    except ValueError:
        return 0


def _cpus(root: Path) -> tuple[Cpu, ...]:
    text = _read(root / "proc/cpuinfo") or ""
    cpus = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if "processor" not in fields:
            continue
        try:
            index = int(fields["processor"])
        except ValueError:
            continue

        cpus.append(
            Cpu(
                index=index,
                # ARM and others have no "model name"; fall back to what they do have.
                model=fields.get("model name") or fields.get("Processor") or fields.get("cpu", ""),
                vendor=fields.get("vendor_id", ""),
                family=_num(fields, "cpu family"),
                stepping=_num(fields, "stepping"),
                mhz=_num(fields, "cpu MHz"),
                flags=tuple(fields.get("flags", fields.get("Features", "")).split()),
            )
        )
    return tuple(cpus)


def _memory(root: Path) -> MemoryInfo:
    for line in (_read(root / "proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return MemoryInfo(total_kb=int(parts[1]))
    return MemoryInfo()


# ----------------------------------------------------------------------------- pci


def _pci_kind(class_code: int) -> DeviceKind:
    base, sub = class_code >> 16 & 0xFF, class_code >> 8 & 0xFF
    if base == 0x02:
        return DeviceKind.NETWORK
    if base == 0x01:
        return DeviceKind.STORAGE
    if base == 0x0C and sub == 0x03:
        return DeviceKind.USB
    return DeviceKind.OTHER


def _pci(root: Path, ids: PciIds | None) -> tuple[PciDevice, ...]:
    base = root / "sys/bus/pci/devices"
    out = []
    for name in _listdir(base):
        if not _BDF_RE.match(name):
            continue
        dev = base / name
        class_code = _read_int(dev / "class", 16)
        vendor = _read_int(dev / "vendor", 16)
        device = _read_int(dev / "device", 16)
        if class_code is None or vendor is None or device is None:
            continue
        class_code &= 0xFFFFFF
        out.append(
            PciDevice(
                bdf=name.lower(),
                class_code=class_code,
                class_name=ids.class_name(class_code) if ids else builtin_class_name(class_code),
                vendor=vendor & 0xFFFF,
                device=device & 0xFFFF,
                vendor_name=ids.vendors.get(vendor, "") if ids else "",
                device_name=ids.devices.get((vendor, device), "") if ids else "",
                kind=_pci_kind(class_code),
            )
        )
    return tuple(out)


def _pci_parent(path: Path) -> str | None:
    """The PCI address nearest to a sysfs device (the last BDF in its resolved path)."""
    try:
        real = path.resolve()
    except OSError:
        return None
    for part in reversed(real.parts):
        if _BDF_RE.match(part):
            return part.lower()
    return None


def discover_nics(root: Path = Path("/")) -> tuple[Nic, ...]:
    """Network interfaces from ``sys/class/net`` under ``root``, with their PCI parents."""
    base = root / "sys/class/net"
    out = []
    for name in _listdir(base):
        entry = base / name
        pci = _pci_parent(entry / "device") if (entry / "device").exists() else None
        mac = (_read(entry / "address") or "").strip().lower()
        out.append(Nic(name=name, mac=mac, pci=pci, virtual=pci is None))
    return tuple(out)


# --------------------------------------------------------------------------- block


def _disks(root: Path) -> tuple[Disk, ...]:
    out: dict[str, Disk] = {}
    sys_block = root / "sys/block"
    for name in _listdir(sys_block):
        if name.startswith(_SKIP_BLOCK):
            continue
        dev = sys_block / name
        size = (_read_int(dev / "size") or 0) * 512
        if size == 0:
            continue
        dm_name = (_read(dev / "dm/name") or "").strip()
        if dm_name:
            out[name] = Disk(dm_name, f"/dev/mapper/{dm_name}", DiskKind.VOLUME, size)
        elif name.startswith("md"):
            out[name] = Disk(name, f"/dev/{name}", DiskKind.VOLUME, size)
        else:
            out[name] = Disk(name, f"/dev/{name}", DiskKind.DISK, size)
        for part in _listdir(dev):
            if (dev / part / "partition").exists():
                psize = (_read_int(dev / part / "size") or 0) * 512
                out[part] = Disk(part, f"/dev/{part}", DiskKind.PARTITION, psize)
    # /sys/class/block lists partitions too; pick up any that /sys/block nesting missed.
    class_block = root / "sys/class/block"
    for name in _listdir(class_block):
        if name in out or name.startswith(_SKIP_BLOCK):
            continue
        if (class_block / name / "partition").exists():
            psize = (_read_int(class_block / name / "size") or 0) * 512
            if psize:
                out[name] = Disk(name, f"/dev/{name}", DiskKind.PARTITION, psize)
    return tuple(out.values())


# ----------------------------------------------------------------------- usb, input


def _usb(root: Path) -> tuple[UsbDevice, ...]:
    base = root / "sys/bus/usb/devices"
    out = []
    for name in _listdir(base):
        dev = base / name
        bus, devnum = _read_int(dev / "busnum"), _read_int(dev / "devnum")
        if bus is None or devnum is None:
            continue  # an interface (1-1:1.0), not a device
        vendor = _read_int(dev / "idVendor", 16) or 0
        product = _read_int(dev / "idProduct", 16) or 0
        label = " ".join(
            s
            for s in (
                (_read(dev / "manufacturer") or "").strip(),
                (_read(dev / "product") or "").strip(),
            )
            if s
        )
        out.append(UsbDevice(bus=bus, dev=devnum, vendor=vendor, product=product, name=label))
    return tuple(out)


def _input(root: Path) -> tuple[InputDevice, ...]:
    text = _read(root / "proc/bus/input/devices") or ""
    out = []
    for block in re.split(r"\n\s*\n", text):
        name = ""
        handlers: list[str] = []
        for line in block.splitlines():
            if line.startswith("N: Name="):
                name = line[len("N: Name=") :].strip().strip('"')
            elif line.startswith("H: Handlers="):
                handlers = line[len("H: Handlers=") :].split()
        events = [h for h in handlers if re.fullmatch(r"event\d+", h)]
        if name and events:
            out.append(InputDevice(name=name, path=f"/dev/input/{events[0]}"))
    return tuple(out)


def discover_hardware(root: Path = Path("/")) -> Hardware:
    """Discovers the host's hardware under ``root`` (``/`` on a real host).

    Reads cpus from ``proc/cpuinfo``, memory from ``proc/meminfo``, PCI devices from
    ``sys/bus/pci/devices`` (names from ``usr/share/misc/pci.ids`` if present, else the
    built-in class table), block devices from ``sys/block`` and ``sys/class/block``, USB
    devices from ``sys/bus/usb/devices`` and input devices from ``proc/bus/input/devices``.
    Missing or unreadable parts give empty collections; nothing here raises for a quirky
    /sys. Blocking file I/O: call it in a worker thread from async code.
    """
    ids = load_pci_ids(root)
    return Hardware(
        cpus=_cpus(root),
        memory=_memory(root),
        pci=_pci(root, ids),
        disks=_disks(root),
        usb=_usb(root),
        input=_input(root),
    )


def with_policy_tags(found: Hardware, policy_hw: Hardware) -> Hardware:
    """Discovered hardware with the tags the policy gives its PCI devices and disks."""
    pci_tags = {d.bdf: d.tag for d in policy_hw.pci if d.tag is not None}
    disk_tags = {d.path: d.tag for d in policy_hw.disks if d.tag is not None}
    return dataclasses.replace(
        found,
        pci=tuple(dataclasses.replace(d, tag=pci_tags.get(d.bdf)) for d in found.pci),
        disks=tuple(dataclasses.replace(d, tag=disk_tags.get(d.path)) for d in found.disks),
    )
