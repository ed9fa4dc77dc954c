"""xl domain configuration files with the most secure defaults for each guest type (§3.2)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from .._model import (
    DiskDevtype,
    DomainConfig,
    DomainDisk,
    GuestRole,
    GuestType,
    Policy,
    StorageMode,
    VifModel,
)
from ._errors import fail
from ._text import one_line

__all__ = ["BOUNDED_EXTRA_KEYS", "FORBIDDEN_EXTRA_KEYS", "check_extra_option", "xl_config"]

FORBIDDEN_EXTRA_KEYS: frozenset[str] = frozenset(
    {
        # Identity and labels: set from the policy, never from free text.
        "name",
        "uuid",
        "type",
        "builder",
        "seclabel",
        "init_seclabel",
        "device_model_stubdomain_seclabel",
        "driver_domain",
        # Device assignment bypasses the tagging of hardware.
        "pci",
        "pci_permissive",
        "pci_seize",
        "pci_power_mgmt",
        "pci_msitranslate",
        "iomem",
        "ioports",
        "irqs",
        "dtdev",
        "rdm",
        "gfx_passthru",
        "usb",
        "usbdevice",
        "usbctrl",
        "usbdev",
        "p9",
        "vtpm",
        "channel",
        # Network and storage come from switches, VIFs and storage locations.
        "vif",
        "disk",
        # Display: VNC only on loopback with a password.
        "vnc",
        "vnclisten",
        "vncpasswd",
        "vncdisplay",
        "vncunused",
        "vfb",
        "sdl",
        "spice",
        "spicehost",
        "spicedisable_ticketing",
        "spicepasswd",
        # Lifecycle actions are part of the secure defaults.
        "on_poweroff",
        "on_reboot",
        "on_crash",
        "on_watchdog",
        "on_soft_reset",
        # CPU feature masking protects the hypervisor.
        "cpuid",
        # A dom0 bootloader parses guest-controlled data.
        "bootloader",
        "bootloader_args",
        "bootloader_restrict",
        "bootloader_user",
        "xsm",
        "flask",
    }
)
_FORBIDDEN_PREFIXES = ("device_model", "on_", "xsm_", "flask_", "pci_", "spice")
# Per-domain resource limits may only be lowered: above Xen's default caps a guest
# could exhaust hypervisor memory (grant/maptrack frames, event channels).
BOUNDED_EXTRA_KEYS: dict[str, int] = {
    "max_grant_frames": 64,
    "max_maptrack_frames": 1024,
    "max_event_channels": 1023,
}

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_NUMBER = re.compile(r"-?(0x[0-9A-Fa-f]+|[0-9]+(\.[0-9]+)?)")
_QUOTED = re.compile(r"\"[^\"\\\n\r]*\"|'[^'\\\n\r]*'")
_UNSAFE = re.compile(r"[\"\\\n\r\x00]")
_LIST_ITEM = re.compile(r"\s*(\"[^\"\\\n\r]*\"|'[^'\\\n\r]*'|-?[0-9A-Fa-fx.]+)\s*(,|$)")

_XL_TYPE = {
    GuestType.PV: "pv",
    GuestType.PVH: "pvh",
    GuestType.HVM: "hvm",
    GuestType.PVHVM: "hvm",
}


def _q(value: str, what: str) -> str:
    if _UNSAFE.search(value):
        raise fail("unsafe-value", f"{what} contains a quote, backslash or newline: {value!r}")
    return f'"{value}"'


def _item(value: str, what: str) -> str:
    # Inside vif/disk specs commas and '=' delimit fields.
    if "," in value or "'" in value:
        raise fail("unsafe-value", f"{what} may not contain ',' or quotes: {value!r}")
    _q(value, what)
    return value


def _parse_value(text: str) -> bool:
    text = text.strip()
    if _NUMBER.fullmatch(text) or _QUOTED.fullmatch(text):
        return True
    if not (text.startswith("[") and text.endswith("]")):
        return False
    inner = text[1:-1].strip()
    pos = 0
    while pos < len(inner):
        m = _LIST_ITEM.match(inner, pos)
        if not m or not (_NUMBER.fullmatch(m.group(1)) or _QUOTED.fullmatch(m.group(1))):
            return False
        pos = m.end()
    return True


def check_extra_option(key: str, value: str, generated: frozenset[str] = frozenset()) -> None:
    """Validates one extra xl option (``key = value``) of a domain.

    Args:
        key: The option name.
        value: Its value: a number, a quoted string, or a list of those.
        generated: Keys the generator already writes (they may not be repeated).

    Raises:
        GeneratorError: The key is security-relevant or already generated
            (``forbidden-option``) or the syntax is wrong (``bad-option``).
    """
    if not _KEY.fullmatch(key):
        raise fail("bad-option", f"extra option key {key!r} is not a valid xl key")
    if key in FORBIDDEN_EXTRA_KEYS or key.startswith(_FORBIDDEN_PREFIXES):
        raise fail(
            "forbidden-option",
            f"extra option {key!r} would override a security-relevant setting; "
            "change the policy instead",
        )
    if key in generated:
        raise fail(
            "forbidden-option",
            f"extra option {key!r} is generated from the policy; change the domain instead",
        )
    if key in BOUNDED_EXTRA_KEYS:
        cap = BOUNDED_EXTRA_KEYS[key]
        text = value.strip()
        if not text.isdigit() or not 1 <= int(text) <= cap:
            raise fail(
                "forbidden-option",
                f"extra option {key!r} must be an integer 1..{cap} (Xen's default cap); "
                f"got {value!r}",
            )
    if not _parse_value(value):
        raise fail(
            "bad-option",
            f"extra option {key} = {value!r}: value must be a number, a quoted string "
            "or a [list] of those, on one line",
        )


def _boot(dom: DomainConfig) -> Iterator[tuple[str, str]]:
    kind = dom.guest_type
    if dom.bootloader and kind is not GuestType.PV:
        raise fail("no-boot", f"domain {dom.name}: a bootloader is only valid for PV guests")
    if kind is GuestType.PV and not (dom.kernel or dom.bootloader):
        raise fail(
            "no-boot", f"domain {dom.name}: a PV guest needs a kernel or a bootloader (pygrub)"
        )
    if kind is GuestType.PVH and not dom.kernel:
        raise fail("no-boot", f"domain {dom.name}: a PVH guest needs a kernel to boot directly")
    if dom.kernel:
        yield "kernel", _q(dom.kernel, f"{dom.name} kernel")
        if dom.ramdisk:
            yield "ramdisk", _q(dom.ramdisk, f"{dom.name} ramdisk")
        if dom.cmdline:
            yield "cmdline", _q(dom.cmdline, f"{dom.name} cmdline")
    elif dom.bootloader:
        yield "bootloader", _q(dom.bootloader, f"{dom.name} bootloader")
    if kind in (GuestType.HVM, GuestType.PVHVM) and not dom.kernel:
        yield "boot", '"c"'


def _display(dom: DomainConfig, vnc_password: str | None) -> Iterator[tuple[str, str]]:
    hvm = dom.guest_type in (GuestType.HVM, GuestType.PVHVM)
    if not dom.vnc:
        if hvm:
            yield from (("vnc", "0"), ("sdl", "0"), ("nographic", "1"), ("vga", '"none"'))
        return
    if not vnc_password:
        raise fail(
            "vnc-password",
            f"domain {dom.name} enables VNC: a VNC password is required "
            "(none is generated, so that no unmanaged secret is created)",
        )
    try:
        loopback = ipaddress.ip_address(dom.vnc_listen).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise fail(
            "vnc-listen",
            f"domain {dom.name}: VNC may only listen on a loopback address, not {dom.vnc_listen!r}",
        )
    pw = _item(vnc_password, f"{dom.name} VNC password")
    where = (
        f"vncdisplay={dom.vnc_display},vncunused=0"
        if dom.vnc_display is not None
        else "vncunused=1"
    )
    if hvm:
        yield from (("vnc", "1"), ("vnclisten", _q(dom.vnc_listen, "vnclisten")))
        if dom.vnc_display is not None:
            yield from (("vncdisplay", str(dom.vnc_display)), ("vncunused", "0"))
        else:
            yield "vncunused", "1"
        yield from (("vncpasswd", _q(pw, "vncpasswd")), ("sdl", "0"), ("stdvga", "0"))
    else:
        yield "vfb", f"[ 'vnc=1,vnclisten={dom.vnc_listen},{where},vncpasswd={pw},sdl=0' ]"


def _vifs(policy: Policy, dom: DomainConfig) -> list[str]:
    specs = []
    for vif in policy.vifs_of(dom.id):
        switch = policy.switch(vif.switch)
        parts = [f"mac={_item(vif.mac, 'MAC')}", f"bridge={_item(switch.name, 'switch name')}"]
        if vif.ip:
            parts.append(f"ip={_item(vif.ip, 'VIF IP')}")
        if switch.driver_domain is not None:
            backend = policy.domain(switch.driver_domain).name
            parts.append(f"backend={_item(backend, 'driver domain')}")
        if dom.guest_type is GuestType.HVM:
            # No PV drivers: the guest needs an emulated NIC (e1000 unless the VIF names one).
            model = vif.model or VifModel.E1000
            parts += ["type=ioemu", f"model={model.value}"]
        elif dom.guest_type is GuestType.PVHVM:
            # PV drivers present: no emulated NIC, less device-model surface.
            parts.append("type=vif")
        specs.append("'" + ",".join(parts) + "'")
    return specs


def _disk(policy: Policy, dom: DomainConfig, disk: DomainDisk) -> str:
    loc = policy.storage_location(disk.location)
    vdev = _item(disk.vdev, "vdev")
    backend = ""
    if loc.driver_domain is not None:
        backend = f"backend={_item(policy.domain(loc.driver_domain).name, 'driver domain')},"
    if loc.mode is StorageMode.FILE:
        base = loc.base_path if loc.base_path.endswith("/") else loc.base_path + "/"
        target = disk.target if disk.target.startswith("/") else base + disk.target
        if not backend and disk.devtype is None:
            fields = (
                f"{_item(target, 'disk target')},{disk.format.value},{vdev},{disk.access.value}"
            )
            return f"'{fields}'"
        return f"'{backend}{_keyed(target, disk, vdev)}'"
    target = disk.target if disk.target.startswith("/") else (loc.base_path or disk.target)
    # phy: a whole device, always raw; keyed form so target= can come last.
    spec = f"format=raw,vdev={vdev},access={_access(disk)},{_devtype(disk)}backendtype=phy,"
    return f"'{backend}{spec}target={_item(target, 'disk target')}'"


def _devtype(disk: DomainDisk) -> str:
    return "devtype=cdrom," if disk.devtype is DiskDevtype.CDROM else ""


def _access(disk: DomainDisk) -> str:
    # A CD-ROM is read-only whatever the policy says (XP037 refuses rw): an explicit
    # rw would hand the guest a writable medium.
    return "ro" if disk.devtype is DiskDevtype.CDROM else disk.access.value


def _keyed(target: str, disk: DomainDisk, vdev: str) -> str:
    return (
        f"format={disk.format.value},vdev={vdev},access={_access(disk)},{_devtype(disk)}"
        f"target={_item(target, 'disk target')}"
    )


def _passthrough(policy: Policy, dom: DomainConfig) -> list[str]:
    # The domain's own passed-through devices (XP035: tagged like the domain), and for
    # a driver domain the tagged controllers of the switches/storage it serves.
    bdfs = set(dom.pci)
    bdfs |= {s.controller for s in policy.switches if s.driver_domain == dom.id and s.controller}
    bdfs |= {s.controller for s in policy.storage if s.driver_domain == dom.id and s.controller}
    return [f"'{_item(b, 'PCI address')}'" for b in sorted(bdfs)]


def xl_config(policy: Policy, domain_name: str, *, vnc_password: str | None = None) -> str:
    """Renders the xl configuration of one domain.

    Guests get the most secure options for their type: lifecycle actions that never
    preserve a crashed guest, no emulated devices an HVM guest does not need (no USB,
    no sound, serial on a pty, no graphics unless VNC), VNC only on loopback and only
    with a password, PV without pygrub unless a bootloader is set. Extra xl options of
    the domain are appended last, after :func:`check_extra_option`.

    Args:
        policy: The policy holding the domain.
        domain_name: Name of the domain.
        vnc_password: Password for a VNC-enabled domain (required then; the output is
            a secret and must be stored with mode 0600).

    Raises:
        GeneratorError: The domain cannot be configured safely (``no-boot``,
            ``vnc-password``, ``forbidden-option``, ``unsafe-value`` …).
        PolicyLookupError: The domain or an object it references does not exist.
    """
    dom = policy.domain_named(domain_name)
    if dom.seclabel is None:
        raise fail("no-seclabel", f"domain {dom.name} has no SecLabel and may not run")
    label = policy.seclabel(dom.seclabel)
    tag = policy.tag(label.tag)
    profile = policy.profile(label.profile)
    lines = [
        one_line(
            f"# xl configuration of {dom.name} (generated by xenon from policy "
            f"{policy.name} v{policy.version}; do not edit)"
        ),
        one_line(
            f"# SecLabel {label.name} ({label.id}): tag {tag.name}, role {label.role.value},"
            f" profile {profile.name}"
        ),
    ]
    opts: list[tuple[str, str]] = [
        ("name", _q(dom.name, "domain name")),
        ("uuid", _q(str(dom.id), "uuid")),
        ("type", _q(_XL_TYPE[dom.guest_type], "type")),
        ("seclabel", _q(label.name, "SecLabel name")),
    ]
    if label.role in (GuestRole.NETWORK_DRIVER_DOMAIN, GuestRole.STORAGE_DRIVER_DOMAIN):
        opts.append(("driver_domain", "1"))
    opts += [
        ("memory", str(dom.memory_mb)),
        ("maxmem", str(max(dom.maxmem_mb, dom.memory_mb))),
        ("vcpus", str(dom.vcpus)),
        ("maxvcpus", str(max(dom.maxvcpus, dom.vcpus))),
    ]
    opts += list(_boot(dom))
    opts += [("on_poweroff", '"destroy"'), ("on_reboot", '"restart"')]
    opts += [("on_crash", '"destroy"'), ("on_watchdog", '"destroy"')]
    if dom.guest_type in (GuestType.HVM, GuestType.PVHVM):
        opts += [("serial", '"pty"'), ("usb", "0")]
        opts.append(("xen_platform_pci", "1" if dom.guest_type is GuestType.PVHVM else "0"))
    opts += list(_display(dom, vnc_password))
    vifs = _vifs(policy, dom)
    disks = [_disk(policy, dom, d) for d in dom.disks]
    pci = _passthrough(policy, dom)
    if vifs:
        opts.append(("vif", "[ " + ", ".join(vifs) + " ]"))
    if disks:
        opts.append(("disk", "[ " + ", ".join(disks) + " ]"))
    if pci:
        opts.append(("pci", "[ " + ", ".join(pci) + " ]"))
    generated = frozenset(k for k, _ in opts)
    lines += [f"{k} = {v}" for k, v in opts]
    if dom.extra:
        lines.append("# extra xl options of the domain")
        for key, value in dom.extra:
            check_extra_option(key, value, generated)
            lines.append(f"{key} = {value.strip()}")
    return "\n".join(lines) + "\n"
