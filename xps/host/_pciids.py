"""PCI names: a pci.ids parser and a built-in table of class names for hosts without one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PciIds", "builtin_class_name", "load_pci_ids"]

# (base class, subclass) -> name, from the PCI Code and ID Assignment Specification;
# subclass None is the base class name.
_CLASSES: dict[tuple[int, int | None], str] = {
    (0x00, None): "Unclassified device",
    (0x01, None): "Mass storage controller",
    (0x01, 0x00): "SCSI storage controller",
    (0x01, 0x01): "IDE interface",
    (0x01, 0x04): "RAID bus controller",
    (0x01, 0x05): "ATA controller",
    (0x01, 0x06): "SATA controller",
    (0x01, 0x07): "Serial Attached SCSI controller",
    (0x01, 0x08): "Non-Volatile memory controller",
    (0x01, 0x80): "Mass storage controller",
    (0x02, None): "Network controller",
    (0x02, 0x00): "Ethernet controller",
    (0x02, 0x80): "Network controller",
    (0x03, None): "Display controller",
    (0x03, 0x00): "VGA compatible controller",
    (0x04, None): "Multimedia controller",
    (0x04, 0x03): "Audio device",
    (0x05, None): "Memory controller",
    (0x06, None): "Bridge",
    (0x06, 0x00): "Host bridge",
    (0x06, 0x01): "ISA bridge",
    (0x06, 0x04): "PCI bridge",
    (0x06, 0x80): "Bridge",
    (0x07, None): "Communication controller",
    (0x07, 0x00): "Serial controller",
    (0x08, None): "Generic system peripheral",
    (0x08, 0x05): "SD Host controller",
    (0x08, 0x06): "IOMMU",
    (0x09, None): "Input device controller",
    (0x0A, None): "Docking station",
    (0x0B, None): "Processor",
    (0x0C, None): "Serial bus controller",
    (0x0C, 0x03): "USB controller",
    (0x0C, 0x05): "SMBus",
    (0x0D, None): "Wireless controller",
    (0x0E, None): "Intelligent controller",
    (0x0F, None): "Satellite communications controller",
    (0x10, None): "Encryption controller",
    (0x11, None): "Signal processing controller",
    (0x12, None): "Processing accelerators",
    (0x13, None): "Non-Essential Instrumentation",
    (0x40, None): "Coprocessor",
    (0xFF, None): "Unassigned class",
}

# pci.ids is ~1.5 MB; refuse anything far larger than a real one.
_MAX_IDS_BYTES = 16 * 1024 * 1024


def builtin_class_name(class_code: int) -> str:
    """Name of a 24-bit PCI class code from the built-in table."""
    base, sub = class_code >> 16 & 0xFF, class_code >> 8 & 0xFF
    return _CLASSES.get((base, sub)) or _CLASSES.get((base, None)) or f"Class {base:02x}{sub:02x}"


@dataclass
class PciIds:
    """Vendor, device and class names parsed from a pci.ids file."""

    vendors: dict[int, str] = field(default_factory=dict)
    devices: dict[tuple[int, int], str] = field(default_factory=dict)
    classes: dict[tuple[int, int | None], str] = field(default_factory=dict)

    def class_name(self, class_code: int) -> str:
        """Name of a class code; falls back to the built-in table."""
        base, sub = class_code >> 16 & 0xFF, class_code >> 8 & 0xFF
        return (
            self.classes.get((base, sub))
            or self.classes.get((base, None))
            or builtin_class_name(class_code)
        )


def parse_pci_ids(text: str) -> PciIds:
    """Parses the pci.ids format (vendors, devices, classes; subsystems are skipped)."""
    ids = PciIds()
    vendor: int | None = None
    klass: int | None = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith("C "):
                code, _, name = line[2:].partition(" ")
                klass, vendor = int(code, 16), None
                ids.classes[(klass, None)] = name.strip()
            elif line.startswith("\t\t"):
                continue  # subsystems / programming interfaces
            elif line.startswith("\t"):
                code, _, name = line[1:].partition(" ")
                if vendor is not None:
                    ids.devices[(vendor, int(code, 16))] = name.strip()
                elif klass is not None:
                    ids.classes[(klass, int(code, 16))] = name.strip()
            else:
                code, _, name = line.partition(" ")
                vendor, klass = int(code, 16), None
                ids.vendors[vendor] = name.strip()
        except ValueError:
            continue  # a malformed line is skipped, not fatal
    return ids


def load_pci_ids(root: Path) -> PciIds | None:
    """Loads ``usr/share/misc/pci.ids`` (or ``usr/share/hwdata/pci.ids``) under ``root``."""
    for rel in ("usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids"):
        path = root / rel
        try:
            if path.stat().st_size > _MAX_IDS_BYTES:
                continue
            return parse_pci_ids(path.read_text("utf-8", "replace"))
        except OSError:
            continue
    return None
