"""Semantic validation of a policy: every finding, each with a stable code."""

from __future__ import annotations

import enum
import ipaddress
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ._errors import PolicyValidationError
from ._model import (
    DiskAccess,
    DiskDevtype,
    DomainConfig,
    GuestRole,
    GuestType,
    HypercallProfile,
    NetworkSwitch,
    Policy,
    StorageLocation,
    StorageMode,
    Vif,
    bdf_to_int,
)
from ._profiles import HYPERCALL_NAMES, SUBOP_HYPERCALLS

__all__ = [
    "OBJECT_LABELS",
    "RULES",
    "Finding",
    "Severity",
    "describe",
    "errors_only",
    "require_valid",
    "validate",
]


class Severity(enum.StrEnum):
    """How bad a finding is: errors block activation, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem found in a policy.

    Attributes:
        code: Stable rule code (``"XP009"``); see :data:`RULES`.
        severity: Error or warning.
        message: Human-readable text that starts by naming the object by its name and
            UUID (:func:`describe`), e.g. ``SecLabel 'EA-web' (uuid …): max rate …``,
            and names every other object involved.
        object_type: ``"domain"``, ``"seclabel"``, ``"vif"``, ``"pci"`` …
        object_id: The object's UUID, or None for objects keyed otherwise.
        object_name: The object's name (a VIF's MAC, a device's BDF).
        field: The offending field, or None for the object as a whole.
    """

    code: str
    severity: Severity
    message: str
    object_type: str
    object_id: UUID | None
    object_name: str
    field: str | None = None


RULES: dict[str, str] = {
    "XP001": "every unprivileged domain has a SecLabel",
    "XP002": "a domain's SecLabel exists",
    "XP003": "a SecLabel's hypercall profile exists",
    "XP004": "every referenced tag exists",
    "XP005": "every referenced domain exists",
    "XP006": "a VIF's network switch exists",
    "XP007": "a disk's storage location exists",
    "XP008": "a referenced PCI controller exists in the hardware inventory",
    "XP009": "a VIF's domain has the tag of its switch",
    "XP010": "a disk's storage location has the tag of its domain",
    "XP011": "a switch's or storage location's controller has its tag",
    "XP012": "a conflict set names two or more distinct tags",
    "XP013": "max hypercall rate is 1..65535 per ms",
    "XP014": "max violations is 0..4294967295",
    "XP015": "a domain's guest type suits its profile's guest family",
    "XP016": "names are unique per object type",
    "XP017": "UUIDs are unique per object type",
    "XP018": "MAC addresses are valid unicast addresses",
    "XP019": "MAC addresses are unique",
    "XP020": "MAC addresses are in Xen's OUI 00:16:3e",
    "XP021": "IP addresses and netmasks are valid",
    "XP022": "VIF IPs and gateways lie inside the switch subnet",
    "XP023": "IPs are unique per switch",
    "XP024": "memory is 1..maxmem MB",
    "XP025": "vcpus is 1..maxvcpus",
    "XP026": "names are valid for xl and MSM (1..63 bytes, no quotes or control chars)",
    "XP027": "profiles name hypercalls 0..63 and sub-ops 0..255",
    "XP028": "a driver domain has the matching guest role",
    "XP029": "a PV domain has a kernel or a bootloader",
    "XP030": "tag colours are RGB 0..255",
    "XP031": "PCI addresses are valid",
    "XP032": "xl option strings carry no quotes, newlines or control characters",
    "XP033": "extra xl option keys are identifiers",
    "XP034": "a domain's virtual disk devices are unique",
    "XP035": "a passed-through PCI device exists, has the domain's tag, and has one domain",
    "XP036": "a phy storage location serves one domain and its host disk has its tag",
    "XP037": "a CD-ROM disk is read-only",
}

OBJECT_LABELS: dict[str, str] = {
    "profile": "profile",
    "tag": "tag",
    "conflict": "conflict set",
    "seclabel": "SecLabel",
    "domain": "domain",
    "switch": "switch",
    "storage": "storage location",
    "vif": "VIF",
    "pci": "PCI device",
    "disk": "disk",
    "usb": "USB device",
    "input": "input device",
}
"""How messages name each ``Finding.object_type``."""

_PLURALS = {"switch": "switches"}


def describe(kind: str, name: str, oid: UUID | None = None) -> str:
    """Names an object in a message: ``SecLabel 'EA-web' (uuid …)``."""
    label = f"{OBJECT_LABELS.get(kind, kind)} {name!r}"
    return label if oid is None else f"{label} (uuid {oid})"


def _plural(kind: str) -> str:
    return _PLURALS.get(kind, f"{OBJECT_LABELS.get(kind, kind)}s")


_NAME_BAD = re.compile(r"[\"'\\\x00-\x1f\x7f]")
_XL_BAD = re.compile(r"[\"'\\\x00-\x1f\x7f]")
_XL_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
_MSM_NAME_BYTES = 63


class _Check:
    """Accumulates findings; one instance per validate() call."""

    def __init__(self, policy: Policy) -> None:
        self.p = policy
        self.out: list[Finding] = []
        self.tags = {t.id: t for t in policy.tags}
        self.profiles = {p.id: p for p in policy.profiles}
        self.labels = {s.id: s for s in policy.seclabels}
        self.domains = {d.id: d for d in policy.domains}
        self.switches = {s.id: s for s in policy.switches}
        self.storage = {s.id: s for s in policy.storage}
        self.pci = {d.bdf: d for d in policy.hardware.pci}

    def add(
        self,
        code: str,
        kind: str,
        oid: UUID | None,
        name: str,
        message: str,
        field: str | None = None,
        severity: Severity = Severity.ERROR,
        *,
        subject: str | None = None,
    ) -> None:
        text = f"{subject or describe(kind, name, oid)}: {message}"
        self.out.append(Finding(code, severity, text, kind, oid, name, field))

    def tag_ref(
        self,
        kind: str,
        oid: UUID | None,
        name: str,
        tag: UUID | None,
        field: str,
        subject: str | None = None,
    ) -> None:
        if tag is not None and tag not in self.tags:
            msg = f"names a tag that does not exist in {field} (uuid {tag})"
            self.add("XP004", kind, oid, name, msg, field, subject=subject)

    def tag(self, tag: UUID | None) -> str:
        """A tag as messages name it: ``tag 'Enclave A'``."""
        if tag is None:
            return "no tag"
        found = self.tags.get(tag)
        return f"tag {found.name!r}" if found is not None else f"unknown tag {tag}"

    def domain(self, domain: UUID) -> str:
        """A referenced domain as messages name it: ``domain 'EA-domu-1' (uuid …)``."""
        found = self.domains.get(domain)
        if found is None:
            return f"a domain that does not exist (uuid {domain})"
        return describe("domain", found.name, found.id)

    def vif(self, vif: Vif) -> str:
        """A VIF as messages name it: its MAC and its domain."""
        found = self.domains.get(vif.domain)
        owner = "" if found is None else f" of {describe('domain', found.name, found.id)}"
        return f"VIF {vif.mac!r}{owner}"

    def add_vif(
        self, vif: Vif, code: str, message: str, field: str, severity: Severity = Severity.ERROR
    ) -> None:
        self.add(code, "vif", None, vif.mac, message, field, severity, subject=self.vif(vif))

    def domain_tag(self, domain: DomainConfig) -> UUID | None:
        label = self.labels.get(domain.seclabel) if domain.seclabel else None
        return None if label is None else label.tag


def _unique(check: _Check, kind: str, items: Iterable[Any]) -> None:
    by_name: dict[str, list[Any]] = defaultdict(list)
    by_id: dict[UUID, list[Any]] = defaultdict(list)
    for obj in items:
        by_name[obj.name].append(obj)
        by_id[obj.id].append(obj)
    for name, objs in by_name.items():
        if len(objs) > 1:
            ids = ", ".join(str(o.id) for o in objs[1:])
            msg = f"name used by {len(objs)} {_plural(kind)} (also uuid {ids})"
            check.add("XP016", kind, objs[0].id, name, msg, "name")
    for oid, objs in by_id.items():
        if len(objs) > 1:
            names = ", ".join(repr(o.name) for o in objs)
            msg = f"UUID used by {len(objs)} {_plural(kind)}: {names}"
            check.add("XP017", kind, oid, objs[0].name, msg, "id")


def _name(check: _Check, kind: str, oid: UUID, name: str) -> None:
    if not name or len(name.encode("utf-8")) > _MSM_NAME_BYTES:
        check.add("XP026", kind, oid, name, "name must be 1..63 bytes", "name")
    elif _NAME_BAD.search(name) or name != name.strip():
        msg = "name has quotes, control characters or edge spaces"
        check.add("XP026", kind, oid, name, msg, "name")
    elif kind == "domain" and name == "Domain-0":
        check.add("XP026", kind, oid, name, "Domain-0 is reserved for the control domain", "name")


def _xl_string(check: _Check, kind: str, oid: UUID, name: str, field: str, value: str) -> None:
    if _XL_BAD.search(value):
        check.add("XP032", kind, oid, name, f"{field} has quotes or control characters", field)


def _profile(check: _Check, p: HypercallProfile) -> None:
    for nr in sorted(p.hypercalls):
        if not 0 <= nr <= 63:
            check.add("XP027", "profile", p.id, p.name, f"hypercall {nr} is outside 0..63")
        elif nr not in HYPERCALL_NAMES or HYPERCALL_NAMES[nr] == "unused":
            msg = f"hypercall {nr} is not in Xen's table"
            check.add("XP027", "profile", p.id, p.name, msg, "hypercalls", Severity.WARNING)
    subops = p.subop_map()
    for nr, ops in p.subops:
        if any(not 0 <= op <= 255 for op in ops):
            check.add("XP027", "profile", p.id, p.name, f"sub-ops of {nr} outside 0..255", "subops")
        if nr not in SUBOP_HYPERCALLS:
            msg = f"hypercall {nr} has no sub-commands; its sub-op set is ignored"
            check.add("XP027", "profile", p.id, p.name, msg, "subops", Severity.WARNING)
    for nr in sorted(p.hypercalls & SUBOP_HYPERCALLS):
        if not subops.get(nr):
            msg = f"hypercall {nr} ({HYPERCALL_NAMES[nr]}) is allowed with no sub-command"
            check.add("XP027", "profile", p.id, p.name, msg, "subops", Severity.WARNING)


def _security(check: _Check) -> None:
    p = check.p
    for prof in p.profiles:
        _name(check, "profile", prof.id, prof.name)
        _profile(check, prof)
    for tag in p.tags:
        _name(check, "tag", tag.id, tag.name)
        if len(tag.color) != 3 or any(not 0 <= c <= 255 for c in tag.color):
            check.add("XP030", "tag", tag.id, tag.name, f"colour {tag.color} is not RGB", "color")
    for c in p.conflicts:
        _name(check, "conflict", c.id, c.name)
        for t in c.tags:
            check.tag_ref("conflict", c.id, c.name, t, "tags")
        if len(set(c.tags)) < 2 or len(set(c.tags)) != len(c.tags):
            named = ", ".join(check.tag(t) for t in c.tags) or "none"
            msg = (
                f"needs two or more distinct tags, has {len(set(c.tags))} of {len(c.tags)}"
                f" ({named})"
            )
            check.add("XP012", "conflict", c.id, c.name, msg, "tags")
    for s in p.seclabels:
        _name(check, "seclabel", s.id, s.name)
        if s.profile not in check.profiles:
            msg = f"names a profile that does not exist (uuid {s.profile})"
            check.add("XP003", "seclabel", s.id, s.name, msg, "profile")
        check.tag_ref("seclabel", s.id, s.name, s.tag, "tag")
        if not 1 <= s.max_rate <= 65535:
            msg = f"max rate {s.max_rate} outside 1..65535"
            check.add("XP013", "seclabel", s.id, s.name, msg, "max_rate")
        if not 0 <= s.max_violations <= 0xFFFFFFFF:
            msg = f"max violations {s.max_violations} outside 0..4294967295"
            check.add("XP014", "seclabel", s.id, s.name, msg, "max_violations")
    for kind, items in (
        ("profile", p.profiles),
        ("tag", p.tags),
        ("conflict", p.conflicts),
        ("seclabel", p.seclabels),
        ("domain", p.domains),
        ("switch", p.switches),
        ("storage", p.storage),
    ):
        _unique(check, kind, items)


def _hardware(check: _Check) -> None:
    hw = check.p.hardware
    for dev in hw.pci:
        try:
            bdf_to_int(dev.bdf)
        except ValueError:
            check.add("XP031", "pci", None, dev.bdf, "not a PCI address SSSS:BB:DD.F", "bdf")
        check.tag_ref("pci", None, dev.bdf, dev.tag, "tag")
    for disk in hw.disks:
        subject = f"{describe('disk', disk.path)} ({disk.name})" if disk.name else None
        check.tag_ref("disk", None, disk.path, disk.tag, "tag", subject)
    for usb in hw.usb:
        name = f"{usb.bus}-{usb.dev}"
        subject = f"{describe('usb', name)} ({usb.name})" if usb.name else None
        check.tag_ref("usb", None, name, usb.tag, "tag", subject)
    for inp in hw.input:
        subject = f"{describe('input', inp.path)} ({inp.name})" if inp.name else None
        check.tag_ref("input", None, inp.path, inp.tag, "tag", subject)


def _controller(check: _Check, kind: str, obj: NetworkSwitch | StorageLocation) -> None:
    if obj.controller is None:
        return
    dev = check.pci.get(obj.controller)
    if dev is None:
        msg = f"controller {obj.controller} is not in the hardware inventory"
        check.add("XP008", kind, obj.id, obj.name, msg, "controller")
    elif dev.tag != obj.tag:
        msg = (
            f"controller {obj.controller} has {check.tag(dev.tag)}, not the "
            f"{OBJECT_LABELS[kind]}'s {check.tag(obj.tag)}"
        )
        check.add("XP011", kind, obj.id, obj.name, msg, "controller")


def _driver(
    check: _Check, kind: str, obj: NetworkSwitch | StorageLocation, role: GuestRole
) -> None:
    if obj.driver_domain is None:
        return
    dom = check.domains.get(obj.driver_domain)
    if dom is None:
        msg = f"its driver domain does not exist (uuid {obj.driver_domain})"
        check.add("XP005", kind, obj.id, obj.name, msg, "driver_domain")
        return
    label = check.labels.get(dom.seclabel) if dom.seclabel else None
    if label is not None and label.role is not role:
        msg = (
            f"driver domain {dom.name!r} has role {label.role} (SecLabel {label.name!r}), "
            f"needs {role}"
        )
        check.add("XP028", kind, obj.id, obj.name, msg, "driver_domain")


def _net(value: str | None) -> ipaddress.IPv4Address | None:
    if value is None:
        return None
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        return None


def _networks(check: _Check) -> dict[UUID, ipaddress.IPv4Network | None]:
    nets: dict[UUID, ipaddress.IPv4Network | None] = {}
    for sw in check.p.switches:
        _name(check, "switch", sw.id, sw.name)
        check.tag_ref("switch", sw.id, sw.name, sw.tag, "tag")
        _controller(check, "switch", sw)
        _driver(check, "switch", sw, GuestRole.NETWORK_DRIVER_DOMAIN)
        nets[sw.id] = None
        for field, value in (("ip", sw.ip), ("gateway", sw.gateway)):
            if value is not None and _net(value) is None:
                check.add(
                    "XP021", "switch", sw.id, sw.name, f"{field} {value!r} is not IPv4", field
                )
        for dns in sw.dns:
            if _net(dns) is None:
                check.add("XP021", "switch", sw.id, sw.name, f"DNS {dns!r} is not IPv4", "dns")
        if sw.ip is not None and sw.netmask is None:
            check.add("XP021", "switch", sw.id, sw.name, "has an IP but no netmask", "netmask")
        if sw.netmask is not None and _net(sw.ip) is not None:
            try:
                iface = ipaddress.IPv4Interface(f"{sw.ip}/{sw.netmask}")
            except ValueError:
                msg = f"netmask {sw.netmask!r} is not valid"
                check.add("XP021", "switch", sw.id, sw.name, msg, "netmask")
            else:
                nets[sw.id] = iface.network
                gw = _net(sw.gateway)
                if gw is not None and gw not in iface.network:
                    msg = f"gateway {gw} is outside {iface.network}"
                    check.add("XP022", "switch", sw.id, sw.name, msg, "gateway")
    return nets


def _vifs(check: _Check) -> None:
    nets = _networks(check)
    by_mac: dict[str, list[Vif]] = defaultdict(list)
    for v in check.p.vifs:
        by_mac[v.mac].append(v)
    for mac, same in by_mac.items():
        if len(same) > 1:
            owners = ", ".join(check.domain(v.domain) for v in same)
            msg = f"MAC used by {len(same)} VIFs, of {owners}"
            check.add("XP019", "vif", None, mac, msg, "mac", subject=f"VIF {mac!r}")
    # Owners are named only when an address is taken twice.
    used: dict[UUID, dict[ipaddress.IPv4Address, NetworkSwitch | Vif]] = defaultdict(dict)
    for switch in check.p.switches:
        own = _net(switch.ip)
        if own is not None:
            used[switch.id][own] = switch
    for vif in check.p.vifs:
        if not _MAC.match(vif.mac) or int(vif.mac[:2], 16) & 1 or vif.mac == "00:00:00:00:00:00":
            check.add_vif(vif, "XP018", "not a unicast MAC address", "mac")
        elif not vif.mac.startswith("00:16:3e:"):
            check.add_vif(
                vif, "XP020", "MAC is outside Xen's OUI 00:16:3e", "mac", Severity.WARNING
            )
        dom = check.domains.get(vif.domain)
        sw = check.switches.get(vif.switch)
        if dom is None:
            check.add_vif(vif, "XP005", f"its domain does not exist (uuid {vif.domain})", "domain")
        if sw is None:
            check.add_vif(vif, "XP006", f"its switch does not exist (uuid {vif.switch})", "switch")
        if dom is not None and sw is not None:
            tag = check.domain_tag(dom)
            if tag is not None and tag != sw.tag:
                msg = (
                    f"its domain has {check.tag(tag)} but "
                    f"{describe('switch', sw.name, sw.id)} has {check.tag(sw.tag)}"
                )
                check.add_vif(vif, "XP009", msg, "switch")
        if vif.ip is None:
            continue
        addr = _net(vif.ip)
        if addr is None:
            check.add_vif(vif, "XP021", f"IP {vif.ip!r} is not IPv4", "ip")
            continue
        net = nets.get(vif.switch)
        if net is not None and (
            addr not in net
            or (net.prefixlen < 31 and addr in (net.network_address, net.broadcast_address))
        ):
            where = f" of switch {sw.name!r}" if sw is not None else ""
            check.add_vif(vif, "XP022", f"IP {addr} is not a host of {net}{where}", "ip")
        owner = used[vif.switch].get(addr)
        if owner is None:
            used[vif.switch][addr] = vif
        else:
            named = (
                check.vif(owner)
                if isinstance(owner, Vif)
                else describe("switch", owner.name, owner.id)
            )
            check.add_vif(vif, "XP023", f"IP {addr} is already used by {named}", "ip")


def _storage(check: _Check) -> None:
    for loc in check.p.storage:
        _name(check, "storage", loc.id, loc.name)
        check.tag_ref("storage", loc.id, loc.name, loc.tag, "tag")
        _controller(check, "storage", loc)
        _driver(check, "storage", loc, GuestRole.STORAGE_DRIVER_DOMAIN)
        _xl_string(check, "storage", loc.id, loc.name, "base_path", loc.base_path)


def _domain(check: _Check, d: DomainConfig) -> None:
    _name(check, "domain", d.id, d.name)
    label = None
    if d.seclabel is None:
        check.add("XP001", "domain", d.id, d.name, "has no SecLabel and may not run", "seclabel")
    else:
        label = check.labels.get(d.seclabel)
        if label is None:
            msg = f"names a SecLabel that does not exist (uuid {d.seclabel})"
            check.add("XP002", "domain", d.id, d.name, msg, "seclabel")
    profile = check.profiles.get(label.profile) if label else None
    if profile is not None and profile.guest_family and d.guest_type not in profile.guest_family:
        fam = ", ".join(sorted(profile.guest_family))
        msg = f"guest type {d.guest_type} does not suit profile {profile.name!r} ({fam})"
        check.add("XP015", "domain", d.id, d.name, msg, "guest_type")
    if not 1 <= d.memory_mb <= d.maxmem_mb:
        msg = f"memory {d.memory_mb} MB must be 1..maxmem ({d.maxmem_mb} MB)"
        check.add("XP024", "domain", d.id, d.name, msg, "memory_mb")
    if not 1 <= d.vcpus <= d.maxvcpus:
        msg = f"vcpus {d.vcpus} must be 1..maxvcpus ({d.maxvcpus})"
        check.add("XP025", "domain", d.id, d.name, msg, "vcpus")
    if d.guest_type is GuestType.PV and not d.kernel and not d.bootloader:
        check.add("XP029", "domain", d.id, d.name, "PV needs a kernel or a bootloader", "kernel")
    for field in ("kernel", "ramdisk", "cmdline", "bootloader", "vnc_listen", "host"):
        value = getattr(d, field)
        if value is not None:
            _xl_string(check, "domain", d.id, d.name, field, value)
    tag = label.tag if label else None
    for disk in d.disks:
        _xl_string(check, "domain", d.id, d.name, "disks.target", disk.target)
        _xl_string(check, "domain", d.id, d.name, "disks.vdev", disk.vdev)
        if disk.devtype is DiskDevtype.CDROM and disk.access is not DiskAccess.RO:
            msg = f"disk {disk.vdev} is a CD-ROM and must be read-only (access ro)"
            check.add("XP037", "domain", d.id, d.name, msg, "disks")
        loc = check.storage.get(disk.location)
        if loc is None:
            msg = (
                f"disk {disk.vdev} uses a storage location that does not exist "
                f"(uuid {disk.location})"
            )
            check.add("XP007", "domain", d.id, d.name, msg, "disks")
        elif tag is not None and loc.tag != tag:
            msg = (
                f"disk {disk.vdev} is on {describe('storage', loc.name, loc.id)}, which has "
                f"{check.tag(loc.tag)}, not the domain's {check.tag(tag)}"
            )
            check.add("XP010", "domain", d.id, d.name, msg, "disks")
    for vdev, n in Counter(disk.vdev for disk in d.disks).items():
        if n > 1:
            check.add("XP034", "domain", d.id, d.name, f"vdev {vdev} used by {n} disks", "disks")
    for key, value in d.extra:
        if not _XL_KEY.match(key):
            check.add("XP033", "domain", d.id, d.name, f"extra key {key!r} is not valid", "extra")
        if "\n" in value or "\r" in value or "\x00" in value:
            check.add("XP032", "domain", d.id, d.name, f"extra {key!r} spans lines", "extra")


def _passthrough(check: _Check) -> None:
    owners: dict[str, str] = {}
    for d in check.p.domains:
        tag = check.domain_tag(d)
        for bdf in d.pci:
            dev = check.pci.get(bdf)
            if dev is None:
                msg = f"passed-through device {bdf} is not in the hardware inventory"
                check.add("XP035", "domain", d.id, d.name, msg, "pci")
            elif tag is not None and dev.tag != tag:
                msg = (
                    f"passed-through device {bdf} has {check.tag(dev.tag)}, not the domain's "
                    f"{check.tag(tag)}"
                )
                check.add("XP035", "domain", d.id, d.name, msg, "pci")
            if bdf in owners:
                msg = f"device {bdf} is already passed through to {owners[bdf]!r}"
                check.add("XP035", "domain", d.id, d.name, msg, "pci")
            else:
                owners[bdf] = d.name


def _phy(check: _Check) -> None:
    users: dict[UUID, list[str]] = defaultdict(list)
    for d in check.p.domains:
        for loc_id in {disk.location for disk in d.disks}:
            users[loc_id].append(d.name)
    disks = {disk.path: disk for disk in check.p.hardware.disks}
    for loc in check.p.storage:
        if loc.mode is not StorageMode.PHY:
            continue
        if len(users[loc.id]) > 1:
            names = ", ".join(repr(n) for n in sorted(users[loc.id]))
            msg = f"phy storage serves one domain, not {names}"
            check.add("XP036", "storage", loc.id, loc.name, msg, "mode")
        disk = disks.get(loc.base_path)
        if disk is not None and disk.tag is not None and disk.tag != loc.tag:
            msg = f"host disk {disk.path} has {check.tag(disk.tag)}, not {check.tag(loc.tag)}"
            check.add("XP036", "storage", loc.id, loc.name, msg, "base_path")


def _walk(policy: Policy) -> Iterator[Finding]:
    check = _Check(policy)
    _security(check)
    _hardware(check)
    _vifs(check)
    _storage(check)
    _phy(check)
    for domain in policy.domains:
        _domain(check, domain)
    _passthrough(check)
    yield from check.out


def validate(policy: Policy) -> list[Finding]:
    """Checks every semantic rule of :data:`RULES` and returns all findings.

    The order is deterministic (policy sections, then canonical object order). An
    empty list, or only warnings, means the policy may be activated.
    """
    return list(_walk(policy))


def errors_only(findings: Iterable[Finding]) -> list[Finding]:
    """Returns the findings of severity ERROR."""
    return [f for f in findings if f.severity is Severity.ERROR]


def require_valid(policy: Policy) -> list[Finding]:
    """Validates and raises if any error is found; returns the warnings otherwise.

    Raises:
        PolicyValidationError: With the error findings in ``findings``.
    """
    findings = validate(policy)
    errors = errors_only(findings)
    if errors:
        summary = "; ".join(f"{f.code} {f.message}" for f in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        raise PolicyValidationError(f"policy is not valid: {summary}{more}", tuple(errors))
    return findings
