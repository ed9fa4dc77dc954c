"""Views of a whole XE policy (§4.2.5, Figures 23 and 30): a tree and a plain-text listing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from xps.policy import GuestType, PolicyLookupError
from xps.policy.generators import GeneratorError, xl_config

from .._errors import InvalidInput, NotFound
from ..model import RGB, EnterprisePolicy, Host, SecLabel, Vm
from ._slice import slice_policy

__all__ = [
    "TreeNode",
    "domain_config_text",
    "enclave_text",
    "policy_text",
    "policy_tree",
    "render_tree",
]

# C0/C1 controls and bidirectional overrides: names reach terminals and logs.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass(frozen=True)
class TreeNode:
    """One node of the policy tree; the console draws it collapsible.

    Attributes:
        label: What to show (control characters escaped).
        kind: ``policy``, ``section``, ``host``, ``enclave``, ``seclabel``, ``vm``,
            ``conflict``, ``dhcp``, ``profile`` or ``note``.
        id: The object's UUID, for objects.
        color: The colour to draw it in (hosts and enclaves), or None.
        children: Child nodes, in display order.
    """

    label: str
    kind: str
    id: UUID | None = None
    color: RGB | None = None
    children: tuple[TreeNode, ...] = ()


def _section(label: str, children: Iterable[TreeNode]) -> TreeNode:
    kids = tuple(children)
    return TreeNode(f"{label} ({len(kids)})", "section", children=kids)


def _vm_label(policy: EnterprisePolicy, vm: Vm, *, with_host: bool) -> str:
    parts = [vm.guest_type.value, f"{vm.memory_mb} MB", f"{vm.vcpus} VCPU{'s' * (vm.vcpus != 1)}"]
    if with_host:
        host = policy.host_of(vm)
        where = "no host" if host is None else host.name
        parts.append(f"on {where}{' (default)' if vm.host is None and host else ''}")
    if not vm.run:
        parts.append("not meant to run")
    return _clean(f"{vm.name} ({', '.join(parts)})")


def _label_label(policy: EnterprisePolicy, label: SecLabel) -> str:
    prof = policy.ids("profiles").get(label.profile)
    profile = prof.name if prof is not None else f"unknown profile {label.profile}"
    return _clean(f"{label.name} ({profile}, max rate {label.max_rate}/ms)")


def _host_node(policy: EnterprisePolicy, host: Host) -> TreeNode:
    vms = policy.vms_on(host.id)
    enclaves = []
    for enc in policy.enclaves_of(host.id):
        members = tuple(
            TreeNode(_vm_label(policy, vm, with_host=False), "vm", vm.id)
            for vm in vms
            if vm.enclave == enc.id
        )
        enclaves.append(TreeNode(_clean(enc.name), "enclave", enc.id, enc.color, members))
    label = _clean(f"{host.name} ({host.address}:{host.port})")
    return TreeNode(label, "host", host.id, host.color, tuple(enclaves))


def _enclave_node(policy: EnterprisePolicy, enclave_id: UUID) -> TreeNode:
    enc = policy.enclave(enclave_id)
    labels = [
        TreeNode(_label_label(policy, s), "seclabel", s.id) for s in policy.seclabels_of(enc.id)
    ]
    hosts = [TreeNode(_clean(h.name), "host", h.id, h.color) for h in policy.hosts_of(enc.id)]
    vms = [
        TreeNode(_vm_label(policy, vm, with_host=True), "vm", vm.id) for vm in policy.vms_in(enc.id)
    ]
    kids = (_section("SecLabels", labels), _section("Hosts", hosts), _section("VMs", vms))
    return TreeNode(_clean(enc.name), "enclave", enc.id, enc.color, kids)


def policy_tree(policy: EnterprisePolicy) -> TreeNode:
    """Returns the policy as a tree (Figure 30), hosts first as in the Hosts panel (Figure 23).

    Hosts (panel order) -> their enclaves -> the VMs placed there; Enclaves -> SecLabels,
    hosts, VMs (with where they are placed); conflict sets; DHCP servers; the hypercall
    profiles SecLabels use.
    """
    hosts = _section("Hosts", (_host_node(policy, h) for h in policy.hosts))
    enclaves = _section("Enclaves", (_enclave_node(policy, e.id) for e in policy.enclaves))
    names = {e.id: e.name for e in policy.enclaves}
    conflicts = _section(
        "Conflict sets",
        (
            TreeNode(
                _clean(
                    f"{c.name} ({c.level.value}: "
                    f"{', '.join(sorted(names.get(e, str(e)) for e in c.enclaves))})"
                ),
                "conflict",
                c.id,
            )
            for c in policy.conflicts
        ),
    )
    servers = _section(
        "DHCP servers",
        (
            TreeNode(
                _clean(f"{s.name} ({names.get(s.enclave, str(s.enclave))} on {s.interface})"),
                "dhcp",
                s.id,
            )
            for s in policy.dhcp_servers
        ),
    )
    used = {s.profile for s in policy.seclabels}
    profiles = _section(
        "Hypercall profiles in use",
        (
            TreeNode(_clean(f"{p.name} ({len(p.hypercalls)} hypercalls)"), "profile", p.id)
            for p in policy.profiles
            if p.id in used
        ),
    )
    return TreeNode(
        f"XE policy version {policy.version}",
        "policy",
        children=(hosts, enclaves, conflicts, servers, profiles),
    )


def render_tree(node: TreeNode) -> str:
    """Draws a tree with box-drawing characters, one node per line."""
    lines = [node.label]

    def walk(children: tuple[TreeNode, ...], prefix: str) -> None:
        for i, child in enumerate(children):
            last = i == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{child.label}")
            walk(child.children, prefix + ("    " if last else "│   "))

    walk(node.children, "")
    return "\n".join(lines) + "\n"


def _hex(rgb: RGB) -> str:
    if len(rgb) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in rgb):
        return "#{:02x}{:02x}{:02x}".format(*rgb)
    return str(rgb)


def _host_lines(policy: EnterprisePolicy, host: Host) -> list[str]:
    lines = [f"  {host.order:>3}  {host.name}  {host.address}:{host.port}  {_hex(host.color)}"]
    cpu = host.cpu
    if cpu.known:
        facts = ", ".join(
            f"{what} {value}"
            for what, value in (
                ("family", cpu.family),
                ("model", cpu.model),
                ("stepping", cpu.stepping),
            )
            if value is not None
        )
        lines.append(f"       CPU {cpu.vendor}{', ' + facts if facts else ''}")
        if cpu.flags:
            lines.append(f"       CPU flags {' '.join(sorted(cpu.flags))}")
    else:
        lines.append("       CPU facts unknown")
    names = {e.id: e.name for e in policy.enclaves}
    if host.shared_storage:
        lines.append(f"       shared storage {', '.join(host.shared_storage)}")
    if host.switches:
        known = ", ".join(
            f"{s.name} ({names.get(s.enclave, 'untagged') if s.enclave else 'untagged'})"
            for s in host.switches
        )
        lines.append(f"       switches {known}")
    carried = ", ".join(e.name for e in policy.enclaves_of(host.id)) or "none"
    lines.append(f"       enclaves {carried}")
    lines.append(f"       VMs {len(policy.vms_on(host.id))}")
    return lines


def _vm_lines(policy: EnterprisePolicy, vm: Vm) -> list[str]:
    host = policy.host_of(vm)
    where = "no host" if host is None else host.name
    default = " (default placement)" if vm.host is None and host is not None else ""
    labels = policy.ids("seclabels")
    label = labels.get(vm.seclabel) if vm.seclabel is not None else None
    seclabel = "no SecLabel" if vm.seclabel is None else label.name if label else str(vm.seclabel)
    lines = [
        f"    VM {vm.name}  {vm.id}",
        f"       {vm.guest_type.value} {vm.os.value}, SecLabel {seclabel}, on {where}{default}"
        f"{'' if vm.run else ', not meant to run'}",
        f"       memory {vm.memory_mb}/{vm.maxmem_mb} MB, VCPUs {vm.vcpus}/{vm.maxvcpus}",
    ]
    boot = [
        f"{what} {value}"
        for what, value in (
            ("kernel", vm.kernel),
            ("ramdisk", vm.ramdisk),
            ("cmdline", vm.cmdline),
            ("bootloader", vm.bootloader),
        )
        if value
    ]
    if boot:
        lines.append(f"       {'; '.join(boot)}")
    net = vm.network
    if not net.allow_network:
        lines.append("       network: none allowed")
    elif net.switches or net.max_vifs is not None:
        parts = []
        if net.switches:
            parts.append(f"switches {', '.join(net.switches)}")
        if net.max_vifs is not None:
            parts.append(f"at most {net.max_vifs} VIF{'s' * (net.max_vifs != 1)}")
        lines.append(f"       network: {'; '.join(parts)}")
    for key, value in vm.extra:
        lines.append(f"       extra {key} = {value}")
    for vif in vm.vifs:
        pairs = (("mac", vif.mac), ("ip", vif.ip), ("model", vif.model))
        more = "".join(f" {k} {v}" for k, v in pairs if v)
        lines.append(f"       vif bridge {vif.bridge}{more}")
    for disk in vm.disks:
        cdrom = " cdrom" if disk.cdrom else ""
        lines.append(f"       disk {disk.target} {disk.vdev} {disk.mode} {disk.format}{cdrom}")
    return lines


def enclave_text(policy: EnterprisePolicy, enclave: UUID) -> str:
    """Returns one enclave's part of the policy as plain text, deterministic and without the
    policy's version: what a two-person approval reviews (two versions give equal text
    exactly when nothing of the enclave differs).

    The enclave (name, colour), the hosts that carry it, its SecLabels (with their
    profile), its VMs (placement, boot, resources, network, extra xl options), the
    conflict sets that name it and its DHCP servers. An enclave ``policy`` does not hold
    is one line saying so. Control characters in names are escaped.
    """
    enc = policy.ids("enclaves").get(enclave)
    if enc is None:
        return f"Enclave {enclave}: not in the policy\n"
    profiles = policy.ids("profiles")
    hosts = ", ".join(h.name for h in policy.hosts_of(enc.id)) or "none"
    lines = [f"Enclave {enc.name}  {_hex(enc.color)}  {enc.id}", f"    hosts {hosts}"]
    for s in policy.seclabels_of(enc.id):
        prof = profiles.get(s.profile)
        what = f"{prof.name} ({len(prof.hypercalls)} hypercalls)" if prof else str(s.profile)
        lines.append(
            f"    SecLabel {s.name}  {s.id}: profile {what}, max rate {s.max_rate}/ms, "
            f"max violations {s.max_violations}, role {s.role.value}"
        )
    for vm in policy.vms_in(enc.id):
        lines += _vm_lines(policy, vm)
    names = {e.id: e.name for e in policy.enclaves}
    for c in policy.conflicts:
        if enc.id in c.enclaves:
            members = ", ".join(sorted(names.get(e, str(e)) for e in c.enclaves))
            lines.append(f"    conflict set {c.name} ({c.level.value}): {members}")
    for d in policy.dhcp_servers:
        if d.enclave == enc.id:
            lines.append(f"    DHCP server {d.name} on {d.interface}")
    return "\n".join(_clean(line) for line in lines) + "\n"


def policy_text(policy: EnterprisePolicy) -> str:
    """Returns the whole policy as plain text (§4.2.5 "text format"), deterministic.

    Hosts in panel order with their CPU facts, storage, switches and enclaves; each
    enclave with its hosts, SecLabels and VMs (with placement, boot, resources,
    network restrictions and extra xl options); conflict sets; DHCP servers; the
    profiles in use. Control characters in names are escaped.
    """
    lines = [f"Xenon Enterprise policy, version {policy.version}", "", "Hosts (panel order)"]
    for host in policy.hosts:
        lines += _host_lines(policy, host)
    lines += ["", "Enclaves"]
    profiles = policy.ids("profiles")
    for enc in policy.enclaves:
        hosts = ", ".join(h.name for h in policy.hosts_of(enc.id)) or "none"
        lines += [f"  {enc.name}  {_hex(enc.color)}  {enc.id}", f"    hosts {hosts}"]
        for s in policy.seclabels_of(enc.id):
            prof = profiles.get(s.profile)
            lines.append(
                f"    SecLabel {s.name}  {s.id}: profile "
                f"{prof.name if prof else s.profile}, max rate {s.max_rate}/ms, "
                f"max violations {s.max_violations}, role {s.role.value}"
            )
        for vm in policy.vms_in(enc.id):
            lines += _vm_lines(policy, vm)
    names = {e.id: e.name for e in policy.enclaves}
    lines += ["", "Conflict sets"]
    for c in policy.conflicts:
        members = ", ".join(sorted(names.get(e, str(e)) for e in c.enclaves))
        lines.append(f"  {c.name} ({c.level.value}): {members}")
    lines += ["", "DHCP servers"]
    for d in policy.dhcp_servers:
        lines.append(f"  {d.name}: {names.get(d.enclave, str(d.enclave))} on {d.interface}")
    lines += ["", "Hypercall profiles in use"]
    used = {s.profile for s in policy.seclabels}
    for p in policy.profiles:
        if p.id in used:
            family = ", ".join(sorted(p.guest_family)) or "any"
            lines.append(f"  {p.name}  {p.id}: {len(p.hypercalls)} hypercalls, for {family}")
    return "\n".join(_clean(line) for line in lines) + "\n"


def domain_config_text(policy: EnterprisePolicy, vm: UUID) -> str:
    """Returns the xl configuration XE generates for a VM ("View domain config", Figure 27).

    Rendered by ``xps.policy.generators.xl_config`` from XE's part of the VM's host
    policy: network, disks and display are host-specific and not configured here
    (§4.3). With no extra options this is the guest type's secure template, which is
    what "reset to the guest type's template" restores. XE's own VIFs and disks of the
    VM (Figure 28) follow as comments: the host places them on its switch and storage
    location at propagation, and its xl configuration has them as ``vif``/``disk``.

    Raises:
        NotFound: No such VM, or the VM is placed on no host.
        InvalidInput: The generator refuses the VM (``policy.generator.*`` reason).
    """
    found = policy.vm(vm)
    host = policy.host_of(found)
    if host is None:
        raise NotFound(f"VM {found.name!r} ({found.id}) is placed on no host")
    try:
        text = xl_config(slice_policy(policy, host.id), found.name)
    except (GeneratorError, PolicyLookupError) as exc:
        raise InvalidInput(f"VM {found.name!r} ({found.id}): {exc.message}") from exc
    if found.vifs or found.disks:
        text += "# VIFs and disks of XE, placed by the host at propagation (§4.3)\n"
        hvm = found.guest_type is GuestType.HVM
        for n, vif in enumerate(found.vifs, 1):
            pairs = (("mac", vif.mac), ("ip", vif.ip))
            more = "".join(f",{k}={v}" for k, v in pairs if v)
            if vif.model:
                # Only an HVM guest emulates a NIC; the others' xl lines leave it out.
                more += f",model={vif.model}" if hvm else f" (model {vif.model}: HVM only)"
            text += f"# vif {n}: bridge={vif.bridge}{more}\n"
        for n, disk in enumerate(found.disks, 1):
            cdrom = ",devtype=cdrom" if disk.cdrom else ""
            text += f"# disk {n}: {disk.target},{disk.format},{disk.vdev},{disk.mode}{cdrom}\n"
    return text
