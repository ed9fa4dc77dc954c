"""The field specs of the policy model: one per class, for its XML and its JSON form."""

from __future__ import annotations

from ._fields import (
    BOOL,
    COLOR,
    INT,
    INTS,
    LOWER,
    STR,
    UUID_,
    WORDS,
    Spec,
    attr,
    child,
    each,
    enum_of,
    enum_set,
    json_only,
    keyed,
    many,
    objects,
    one,
    optional,
)
from ._model import (
    ConflictLevel,
    ConflictSet,
    Cpu,
    DeviceKind,
    Disk,
    DiskAccess,
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
)

__all__ = [
    "CONFLICT",
    "CPU",
    "DISK",
    "DOMAIN",
    "DOMAIN_DISK",
    "HARDWARE",
    "INPUT",
    "MEMORY",
    "PCI",
    "POLICY",
    "PROFILE",
    "SECLABEL",
    "STORAGE",
    "SWITCH",
    "TAG",
    "USB",
    "VIF",
]

_OPT_UUID = optional(UUID_)
_OPT_STR = optional(STR)

PROFILE = Spec(
    HypercallProfile,
    "profile",
    attr("id", UUID_),
    attr("name", STR),
    attr("guest_family", enum_set(GuestType)),
    child("description", STR),
    child("hypercalls", INTS),
    keyed("subops", INT, INTS, "subops", key_attr="nr"),
)
TAG = Spec(Tag, "tag", attr("id", UUID_), attr("name", STR), attr("color", COLOR))
CONFLICT = Spec(
    ConflictSet,
    "conflict",
    attr("id", UUID_),
    attr("name", STR),
    attr("level", enum_of(ConflictLevel)),
    each("tags", UUID_, "tag", in_attr="ref"),
)
SECLABEL = Spec(
    SecLabel,
    "seclabel",
    attr("id", UUID_),
    attr("name", STR),
    attr("profile", UUID_),
    attr("tag", UUID_),
    attr("role", enum_of(GuestRole)),
    attr("max_rate", INT),
    attr("max_violations", INT),
)
CPU = Spec(
    Cpu,
    "cpu",
    attr("index", INT),
    attr("model", STR),
    attr("vendor", STR),
    attr("family", INT),
    attr("stepping", INT),
    attr("mhz", INT),
    attr("flags", WORDS),
)
MEMORY = Spec(MemoryInfo, "memory", attr("total_kb", INT))
PCI = Spec(
    PciDevice,
    "pci",
    attr("bdf", LOWER),
    attr("class_code", INT),
    attr("class_name", STR),
    attr("vendor", INT),
    attr("device", INT),
    attr("vendor_name", STR),
    attr("device_name", STR),
    attr("kind", enum_of(DeviceKind)),
    attr("tag", _OPT_UUID),
)
DISK = Spec(
    Disk,
    "disk",
    attr("name", STR),
    attr("path", STR),
    attr("kind", enum_of(DiskKind)),
    attr("size_bytes", INT),
    attr("tag", _OPT_UUID),
)
USB = Spec(
    UsbDevice,
    "usb",
    attr("bus", INT),
    attr("dev", INT),
    attr("vendor", INT),
    attr("product", INT),
    attr("name", STR),
    attr("tag", _OPT_UUID),
)
INPUT = Spec(InputDevice, "input", attr("name", STR), attr("path", STR), attr("tag", _OPT_UUID))
HARDWARE = Spec(
    Hardware,
    "hardware",
    one("memory", MEMORY),
    objects("cpus", CPU),
    objects("pci", PCI),
    objects("disks", DISK),
    objects("usb", USB),
    objects("input", INPUT),
)
SWITCH = Spec(
    NetworkSwitch,
    "switch",
    attr("id", UUID_),
    attr("name", STR),
    attr("mode", enum_of(SwitchMode)),
    attr("tag", UUID_),
    attr("controller", optional(LOWER)),
    attr("driver_domain", _OPT_UUID),
    attr("dhcp_disabled", BOOL),
    attr("expose_driver_domain", BOOL),
    attr("ip", _OPT_STR),
    attr("netmask", _OPT_STR),
    attr("gateway", _OPT_STR),
    each("dns", STR, "dns"),
    each("search", STR, "search"),
)
STORAGE = Spec(
    StorageLocation,
    "storage-location",
    attr("id", UUID_),
    attr("name", STR),
    attr("mode", enum_of(StorageMode)),
    attr("tag", UUID_),
    attr("driver_domain", _OPT_UUID),
    attr("controller", optional(LOWER)),
    attr("base_path", STR),
)
DOMAIN_DISK = Spec(
    DomainDisk,
    "disk",
    attr("location", UUID_),
    attr("target", STR),
    attr("format", enum_of(DiskFormat)),
    attr("vdev", STR),
    attr("access", enum_of(DiskAccess)),
)
DOMAIN = Spec(
    DomainConfig,
    "domain",
    attr("id", UUID_),
    attr("name", STR),
    attr("seclabel", _OPT_UUID),
    attr("guest_type", enum_of(GuestType)),
    attr("os", enum_of(GuestOS)),
    attr("memory_mb", INT),
    attr("maxmem_mb", INT),
    attr("vcpus", INT),
    attr("maxvcpus", INT),
    attr("vnc", BOOL),
    attr("vnc_listen", STR),
    attr("vnc_display", optional(INT)),
    attr("host", _OPT_STR),
    child("kernel", _OPT_STR),
    child("ramdisk", _OPT_STR),
    child("cmdline", _OPT_STR),
    child("bootloader", _OPT_STR),
    objects("disks", DOMAIN_DISK),
    each("pci", STR, "pci", in_attr="bdf"),
    keyed("extra", STR, STR, "extra", key_attr="key"),
)
VIF = Spec(
    Vif, "vif", attr("domain", UUID_), attr("switch", UUID_), attr("mac", STR), attr("ip", _OPT_STR)
)
# The policy's XML groups its collections in wrapper elements and a <host> element:
# written by hand in _xml.py, where that layout reads as the schema does.
POLICY = Spec(
    Policy,
    "policy",
    json_only("name", STR),
    json_only("version", INT),
    json_only("uuid", UUID_),
    json_only("profiles", many(PROFILE.json)),
    json_only("tags", many(TAG.json)),
    json_only("conflicts", many(CONFLICT.json)),
    json_only("seclabels", many(SECLABEL.json)),
    json_only("domains", many(DOMAIN.json)),
    json_only("switches", many(SWITCH.json)),
    json_only("vifs", many(VIF.json)),
    json_only("storage", many(STORAGE.json)),
    json_only("hardware", HARDWARE.json),
)
