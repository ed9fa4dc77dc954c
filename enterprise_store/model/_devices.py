"""What a VM's VIFs and disks may hold (Figure 28's VIFs and Disks tabs, §4.3.1, §4.3.3).

Every value ends up inside an xl ``vif = [ '...' ]`` or ``disk = [ '...' ]`` item, where
commas and ``=`` separate fields and quotes end the item; so each field is held to a
narrow ASCII alphabet rather than escaped. The consistency checker reports these
problems (``XE-VM-VIF``, ``XE-VM-DISK``) with the VM's name.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from uuid import UUID

from xps.policy import VifModel

from ._types import NetworkRestrictions, VmDisk, VmVif

__all__ = [
    "DISK_FORMATS",
    "DISK_MODES",
    "MAX_DISKS",
    "VIF_MODELS",
    "derived_mac",
    "devices_problems",
    "disk_path",
    "disk_problems",
    "normal_mac",
    "vif_problems",
]

MAX_DISKS = 26
"""Most disks a VM may have in XE."""
DISK_MODES = ("r", "w")
DISK_FORMATS = ("raw", "qcow2")
VIF_MODELS = tuple(m.value for m in VifModel)
"""The NICs an HVM guest's VIF may emulate (xl ``model=``)."""

_BRIDGE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_VDEV = re.compile(r"xvd[a-z]{1,2}|hd[a-z]")
# Absolute, ASCII, no field separators (`,` `=`), quotes, spaces or backslashes.
_PATH = re.compile(r"/[A-Za-z0-9_.+@/-]{0,1023}")
_XEN_OUI = "00:16:3e"


def _shown(value: str) -> str:
    return repr(value[:40])


def normal_mac(mac: str) -> str:
    """``mac`` as XE stores it: lower case, ``:``-separated (``-`` is accepted)."""
    return mac.strip().lower().replace("-", ":")


def derived_mac(vm: UUID, index: int) -> str:
    """The MAC of a VM's VIF that gives none: Xen's OUI and three bytes of
    SHA-256(VM id, position), so each propagation sends the same address."""
    digest = hashlib.sha256(f"{vm}:{index}".encode()).digest()
    # 0x7f: the first of the three bytes below 0x80, as xl's own random MACs.
    tail = [digest[0] & 0x7F, digest[1], digest[2]]
    return _XEN_OUI + "".join(f":{b:02x}" for b in tail)


def vif_problems(vif: VmVif, index: int, network: NetworkRestrictions) -> list[str]:
    """Why VIF ``index`` (0-based) cannot be given to a VM with ``network``; [] if it can."""
    where = f"VIF {index + 1}"
    out = []
    if not _BRIDGE.fullmatch(vif.bridge):
        out.append(f"{where}: bridge {_shown(vif.bridge)} must be 1..15 of A-Z a-z 0-9 _ . -")
    elif network.switches and vif.bridge not in network.switches:
        allowed = ", ".join(network.switches)
        out.append(
            f"{where}: bridge {vif.bridge!r} is not one of the VM's allowed switches ({allowed})"
        )
    if vif.mac is not None:
        if not _MAC.fullmatch(vif.mac):
            out.append(
                f"{where}: MAC {_shown(vif.mac)} must be six hex pairs like 00:16:3e:01:02:03"
            )
        elif int(vif.mac[:2], 16) & 1:
            out.append(f"{where}: MAC {vif.mac} is a multicast address; a VIF needs a unicast one")
        elif vif.mac == "00:00:00:00:00:00":
            out.append(f"{where}: MAC 00:00:00:00:00:00 is not an interface address")
    if vif.ip is not None:
        problem = _ip_problem(vif.ip)
        if problem:
            out.append(f"{where}: ip {_shown(vif.ip)} {problem}")
    if vif.model is not None and vif.model not in VIF_MODELS:
        out.append(f"{where}: model {_shown(vif.model)} must be one of {', '.join(VIF_MODELS)}")
    return out


def _ip_problem(text: str) -> str | None:
    if not text.isascii():
        return "must be an IPv4 or IPv6 address"
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return "must be an IPv4 or IPv6 address"
    if str(addr) != text:
        return f"must be written as {addr}"
    if addr.is_multicast or addr.is_unspecified or addr.is_loopback:
        return "must be a unicast address of the VM (not multicast, loopback or unspecified)"
    return None


def disk_path(target: str) -> tuple[str, str]:
    """``(mode, path)`` of a disk target: ``phy:`` a device, else (``file:`` or a
    plain absolute path) an image file."""
    if target.startswith("phy:"):
        return "phy", target[4:]
    if target.startswith("file:"):
        return "file", target[5:]
    return "file", target


def disk_problems(disk: VmDisk, index: int) -> list[str]:
    """Why disk ``index`` (0-based) cannot be given to a VM; [] if it can."""
    where = f"disk {index + 1}"
    out = []
    mode, path = disk_path(disk.target)
    if not _PATH.fullmatch(path):
        out.append(
            f"{where}: target {_shown(disk.target)} must be an absolute path "
            "(or phy:/dev/… or file:/…) of A-Z a-z 0-9 _ . + @ - / only"
        )
    elif any(part in (".", "..") for part in path.split("/")):
        out.append(f"{where}: target {_shown(disk.target)} may not contain . or .. components")
    elif path.endswith("/"):
        out.append(f"{where}: target {_shown(disk.target)} names a directory, not a disk")
    elif mode == "phy" and not path.startswith("/dev/"):
        out.append(f"{where}: a phy: target must be a device under /dev/, not {_shown(path)}")
    if not _VDEV.fullmatch(disk.vdev):
        out.append(f"{where}: vdev {_shown(disk.vdev)} must be xvd[a-z] (up to xvdzz) or hd[a-z]")
    if disk.mode not in DISK_MODES:
        out.append(f"{where}: mode {_shown(disk.mode)} must be r or w")
    if disk.format not in DISK_FORMATS:
        out.append(f"{where}: format {_shown(disk.format)} must be raw or qcow2")
    if mode == "phy" and disk.format != "raw":
        out.append(f"{where}: a phy: device is raw, not {disk.format}")
    if disk.cdrom and disk.mode != "r":
        out.append(f"{where}: a CD-ROM is read-only: its mode must be r, not {_shown(disk.mode)}")
    return out


def devices_problems(
    vifs: Sequence[VmVif], disks: Sequence[VmDisk], network: NetworkRestrictions
) -> list[tuple[str, str]]:
    """Every problem of a VM's VIFs and disks as ``(field, text)``, field ``vifs`` or
    ``disks``: each item's own, the network restrictions (off, ``max_vifs``) and
    duplicates (MAC, vdev)."""
    out = [("vifs", p) for i, v in enumerate(vifs) for p in vif_problems(v, i, network)]
    if vifs and not network.allow_network:
        out.append(("vifs", f"has {len(vifs)} VIF(s) although its network is off"))
    elif network.max_vifs is not None and len(vifs) > network.max_vifs:
        out.append(("vifs", f"has {len(vifs)} VIFs, at most {network.max_vifs} allowed"))
    macs = [v.mac for v in vifs if v.mac is not None]
    for mac in sorted({m for m in macs if macs.count(m) > 1}):
        out.append(("vifs", f"MAC {mac} is given to more than one VIF"))
    out += [("disks", p) for i, d in enumerate(disks) for p in disk_problems(d, i)]
    if len(disks) > MAX_DISKS:
        out.append(("disks", f"has {len(disks)} disks, at most {MAX_DISKS}"))
    vdevs = [d.vdev for d in disks]
    for vdev in sorted({v for v in vdevs if vdevs.count(v) > 1}):
        out.append(("disks", f"vdev {vdev[:40]!r} is given to more than one disk"))
    return out
