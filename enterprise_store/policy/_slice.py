"""A host's slice of the XE policy, merged with the configuration the host owns (§4.2.5, §4.3).

XE owns the security policy of its hosts: the profiles, tags (enclaves), conflict sets
and SecLabels, and of each VM everything the Add domain widget sets (Figure 26) plus
its extra xl options. The host owns what §4.3 keeps local: its hardware and the tags
assigned to it, network switches, VIFs, storage locations, and each VM's disks,
passed-through devices and display. A slice takes the XE part from the enterprise
policy and the host part from the host's current policy and never overwrites the
latter; what cannot be kept (the VIFs and disks of a VM that left the host) is named
in ``released``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from xps.policy import (
    ConflictSet,
    DiskAccess,
    DiskDevtype,
    DiskFormat,
    DomainConfig,
    DomainDisk,
    Hardware,
    NetworkSwitch,
    Policy,
    PolicyXmlError,
    SecLabel,
    Severity,
    StorageLocation,
    Tag,
    Vif,
    VifModel,
    serialize_policy,
    validate,
)
from xps.policy import Finding as PolicyFinding

from .._errors import NotFound, PolicyRefused
from ..checker import Finding
from ..model import EnterprisePolicy, Host, Vm
from ..model._devices import derived_mac, disk_path

__all__ = [
    "SLICE_NAMESPACE",
    "SLICE_RULES",
    "DomainLocal",
    "HostOwned",
    "HostSlice",
    "build_slice",
    "host_owned",
    "merge_host_owned",
    "slice_policy",
]

SLICE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:xenon:enterprise:slice")
"""Namespace of the slice policies' UUIDs (uuid5 of it and the host's id)."""

SLICE_RULES: dict[str, str] = {
    "XE-SLICE-INVALID": "a host's slice merged with its own configuration validates "
    "(xps.policy's rules)",
    "XE-SLICE-NETWORK": "the host's VIFs of a VM respect the VM's network restrictions",
    "XE-SLICE-DEVICES": "the host has the switch each of XE's VIFs of a VM names, and a "
    "storage location of the VM's enclave for each of its disks (phy or file)",
}
"""The codes :func:`build_slice` refuses with."""


@dataclass(frozen=True)
class DomainLocal:
    """The host-owned part of one domain's configuration (§4.3.1, §4.3.3)."""

    disks: tuple[DomainDisk, ...] = ()
    pci: tuple[str, ...] = ()
    vnc: bool = False
    vnc_listen: str = "127.0.0.1"
    vnc_display: int | None = None


@dataclass(frozen=True)
class HostOwned:
    """Everything of a host's policy that XE must keep (§4.3).

    Attributes:
        hardware: The inventory and the tags the host gave its devices.
        switches: Network switches.
        storage: Storage locations.
        vifs: Network interfaces of domains.
        domains: Domain id -> its host-owned part.
        tags: The host's tags, to keep any a switch, location or device still uses.
    """

    hardware: Hardware = field(default_factory=Hardware)
    switches: tuple[NetworkSwitch, ...] = ()
    storage: tuple[StorageLocation, ...] = ()
    vifs: tuple[Vif, ...] = ()
    domains: tuple[tuple[UUID, DomainLocal], ...] = ()
    tags: tuple[Tag, ...] = ()

    def domain(self, key: UUID) -> DomainLocal | None:
        """Returns the host-owned part of domain ``key``, if the host has one."""
        return dict(self.domains).get(key)


def host_owned(current: Policy | None) -> HostOwned:
    """Extracts the host-owned parts of a host's current policy (None: a new host)."""
    if current is None:
        return HostOwned()
    return HostOwned(
        hardware=current.hardware,
        switches=current.switches,
        storage=current.storage,
        vifs=current.vifs,
        domains=tuple(
            (d.id, DomainLocal(d.disks, d.pci, d.vnc, d.vnc_listen, d.vnc_display))
            for d in current.domains
        ),
        tags=current.tags,
    )


def _domain(vm: Vm, host: Host) -> DomainConfig:
    return DomainConfig(
        id=vm.id,
        name=vm.name,
        seclabel=vm.seclabel,
        guest_type=vm.guest_type,
        os=vm.os,
        kernel=vm.kernel,
        ramdisk=vm.ramdisk,
        cmdline=vm.cmdline,
        bootloader=vm.bootloader,
        memory_mb=vm.memory_mb,
        maxmem_mb=vm.maxmem_mb,
        vcpus=vm.vcpus,
        maxvcpus=vm.maxvcpus,
        extra=vm.extra,
        host=host.name,
    )


def _host(policy: EnterprisePolicy, host: UUID) -> Host:
    found = policy.ids("hosts").get(host)
    if found is None:
        raise NotFound(f"no host with id {host}")
    result: Host = found
    return result


def slice_policy(policy: EnterprisePolicy, host: UUID) -> Policy:
    """Returns XE's part of a host's policy, without anything the host owns.

    Its enclaves as tags, their SecLabels and the profiles these use, the conflict
    sets restricted to its enclaves (a set binds a host only where two or more of
    its enclaves are), and its VMs (placed there explicitly or by the default rule)
    as domains with their extra xl options. This is also what "View domain config"
    shows before the host allocates network, disks and display (Figure 27).

    Raises:
        NotFound: No host has id ``host``.
    """
    target = _host(policy, host)
    enclaves = policy.enclaves_of(host)
    carried = {e.id for e in enclaves}
    labels = [s for e in enclaves for s in policy.seclabels_of(e.id)]
    profiles = policy.ids("profiles")
    used = {s.profile for s in labels if s.profile in profiles}
    conflicts = []
    for c in policy.conflicts:
        present = tuple(e for e in c.enclaves if e in carried)
        if len(set(present)) >= 2:
            conflicts.append(ConflictSet(c.id, c.name, c.level, present))
    return Policy(
        name=f"XE slice of {target.name}",
        version=policy.version,
        uuid=uuid.uuid5(SLICE_NAMESPACE, str(target.id)),
        profiles=tuple(p for p in policy.profiles if p.id in used),
        tags=tuple(Tag(e.id, e.name, e.color) for e in enclaves),
        conflicts=tuple(conflicts),
        seclabels=tuple(
            SecLabel(s.id, s.name, s.profile, s.enclave, s.role, s.max_rate, s.max_violations)
            for s in labels
        ),
        domains=tuple(_domain(vm, target) for vm in policy.vms_on(host)),
    )


def _tag_refs(owned: HostOwned) -> set[UUID]:
    refs = {s.tag for s in owned.switches} | {s.tag for s in owned.storage}
    hw = owned.hardware
    for items in (hw.pci, hw.disks, hw.usb, hw.input):
        refs |= {d.tag for d in items if d.tag is not None}
    return refs


def merge_host_owned(
    xe_part: Policy, owned: HostOwned, enterprise: EnterprisePolicy | None = None
) -> tuple[Policy, tuple[str, ...], tuple[str, ...]]:
    """Merges XE's part of a host policy with what the host owns.

    Every host-owned object survives: hardware and its tags, switches, storage
    locations, the VIFs of the slice's domains, each domain's disks, devices and
    display. A tag the host still uses but XE no longer assigns to it is retained
    (with XE's name and colour if XE knows the enclave, else the host's own): no
    SecLabel of it reaches the host, so nothing can run under it, and its devices
    stay isolated. The VIFs of domains that left the host are released.

    Args:
        xe_part: :func:`slice_policy` output.
        owned: :func:`host_owned` of the host's current policy.
        enterprise: The enterprise policy, for the names of retained enclaves.

    Returns:
        (merged policy, names of retained tags, descriptions of released objects).
    """
    domains = {d.id for d in xe_part.domains}
    merged_domains = []
    local = dict(owned.domains)
    for d in xe_part.domains:
        part = local.get(d.id)
        if part is not None:
            d = dataclasses.replace(
                d,
                disks=part.disks,
                pci=part.pci,
                vnc=part.vnc,
                vnc_listen=part.vnc_listen,
                vnc_display=part.vnc_display,
            )
        merged_domains.append(d)
    kept_vifs = tuple(v for v in owned.vifs if v.domain in domains)
    released = tuple(
        f"VIF {v.mac} of domain {v.domain} (no longer on this host)"
        for v in owned.vifs
        if v.domain not in domains
    ) + tuple(
        f"disks of domain {key} (no longer on this host)"
        for key, part in owned.domains
        if key not in domains and part.disks
    )
    have = {t.id for t in xe_part.tags}
    host_tags = {t.id: t for t in owned.tags}
    xe_enclaves = enterprise.ids("enclaves") if enterprise is not None else {}
    retained: list[Tag] = []
    for ref in sorted(_tag_refs(owned) - have):
        enclave = xe_enclaves.get(ref)
        if enclave is not None:
            retained.append(Tag(enclave.id, enclave.name, enclave.color))
        elif ref in host_tags:
            retained.append(host_tags[ref])
    merged = dataclasses.replace(
        xe_part,
        tags=(*xe_part.tags, *retained),
        domains=tuple(merged_domains),
        hardware=owned.hardware,
        switches=owned.switches,
        storage=owned.storage,
        vifs=kept_vifs,
    )
    return merged, tuple(sorted(t.name for t in retained)), released


@dataclass(frozen=True)
class HostSlice:
    """What XE sends one host: its slice merged with what it owns, serialized.

    Attributes:
        host: The host.
        policy: The merged policy; it validates with :func:`xps.policy.validate`.
        xml: Its canonical XML (``xps.policy.serialize_policy``), unsigned.
        slice_sha256: Hex SHA-256 of ``xml``: the desired state of the host.
        retained: Names of tags kept only because host-owned objects use them.
        released: Host-owned objects of VMs that left the host (not kept).
        warnings: Warnings of the validation (errors refuse the slice).
    """

    host: Host
    policy: Policy
    xml: bytes
    slice_sha256: str
    retained: tuple[str, ...]
    released: tuple[str, ...]
    warnings: tuple[PolicyFinding, ...]

    @property
    def version(self) -> int:
        """The enterprise policy version the slice was built from."""
        return self.policy.version

    @functools.cached_property
    def content_sha256(self) -> str:
        """SHA-256 of the slice with its version zeroed: equal when only the number moved.

        A propagation worker may skip a host whose content hash did not change.
        """
        data = serialize_policy(dataclasses.replace(self.policy, version=0))
        return hashlib.sha256(data).hexdigest()


def _refusal(host: Host, code: str, message: str, names: Iterable[str], field: str) -> Finding:
    return Finding(
        code,
        Severity.ERROR,
        f"host {host.name!r} ({host.id}): {message}",
        (host.name, *names),
        (host.id,),
        "host",
        field,
    )


def _network_findings(policy: EnterprisePolicy, host: Host, merged: Policy) -> list[Finding]:
    out = []
    switches = {s.id: s.name for s in merged.switches}
    vms = policy.ids("vms")
    for d in merged.domains:
        vm = vms.get(d.id)
        vifs = merged.vifs_of(d.id)
        if vm is None or not vifs:
            continue
        net = vm.network
        problems = []
        if not net.allow_network:
            problems.append(f"has {len(vifs)} VIF(s) although its network is off")
        if net.max_vifs is not None and len(vifs) > net.max_vifs:
            problems.append(f"has {len(vifs)} VIFs, at most {net.max_vifs} allowed")
        if net.switches:
            outside = sorted(
                {switches.get(v.switch, str(v.switch)) for v in vifs} - set(net.switches)
            )
            if outside:
                problems.append(f"is attached to switches {', '.join(outside)} it may not use")
        for problem in problems:
            text = f"VM {vm.name!r} ({vm.id}) {problem}"
            out.append(_refusal(host, "XE-SLICE-NETWORK", text, [vm.name], "vifs"))
    return out


def _xe_devices(
    policy: EnterprisePolicy, host: Host, merged: Policy
) -> tuple[Policy, list[Finding]]:
    """Puts XE's VIFs and disks of the slice's VMs (Figure 28) in place of the host's own.

    A VIF goes on the host's switch named by its bridge; a disk on the host's storage
    location of the VM's enclave whose mode its target names (``phy:`` a device, else
    an image file). A VM without XE VIFs (disks) keeps the host's. Each VIF or disk
    the host has no place for is a finding naming the VM and what is missing.
    """
    vms = policy.ids("vms")
    ours: list[tuple[DomainConfig, Vm]] = []
    for d in merged.domains:
        vm = vms.get(d.id)
        if vm is not None and (vm.vifs or vm.disks):
            ours.append((d, vm))
    if not ours:
        return merged, []
    switches = {s.name: s for s in merged.switches}
    problems: list[Finding] = []
    replaced_vifs = {vm.id for _, vm in ours if vm.vifs}
    vifs = [v for v in merged.vifs if v.domain not in replaced_vifs]
    domains = {d.id: d for d in merged.domains}
    for d, vm in ours:
        for index, vif in enumerate(vm.vifs):
            switch = switches.get(vif.bridge)
            if switch is None:
                text = (
                    f"VM {vm.name!r} ({vm.id}) VIF {index + 1}: the host has no network "
                    f"switch {vif.bridge!r}"
                )
                problems.append(_refusal(host, "XE-SLICE-DEVICES", text, [vm.name], "vifs"))
                continue
            mac = vif.mac or derived_mac(vm.id, index)
            try:
                model = VifModel(vif.model) if vif.model else None
            except ValueError:  # the checker refuses it first (XE-VM-VIF); never sent
                text = f"VM {vm.name!r} ({vm.id}) VIF {index + 1}: no NIC model {vif.model!r}"
                problems.append(_refusal(host, "XE-SLICE-DEVICES", text, [vm.name], "vifs"))
                continue
            vifs.append(Vif(vm.id, switch.id, mac, vif.ip, model))
        if not vm.disks:
            continue
        disks = []
        for index, disk in enumerate(vm.disks):
            mode, path = disk_path(disk.target)
            where = [s for s in merged.storage if s.tag == vm.enclave and s.mode.value == mode]
            if not where:
                text = (
                    f"VM {vm.name!r} ({vm.id}) disk {index + 1}: the host has no {mode} "
                    f"storage location of the VM's enclave for {disk.target!r}"
                )
                problems.append(_refusal(host, "XE-SLICE-DEVICES", text, [vm.name], "disks"))
                continue
            loc = sorted(where, key=lambda s: (s.name, str(s.id)))[0]
            disks.append(
                DomainDisk(
                    loc.id,
                    path,
                    DiskFormat(disk.format),
                    disk.vdev,
                    DiskAccess.RO if disk.mode == "r" else DiskAccess.RW,
                    DiskDevtype.CDROM if disk.cdrom else None,
                )
            )
        domains[d.id] = dataclasses.replace(d, disks=tuple(disks))
    merged = dataclasses.replace(
        merged,
        domains=tuple(domains[d.id] for d in merged.domains),
        vifs=tuple(vifs),
    )
    return merged, problems


def build_slice(policy: EnterprisePolicy, host: UUID, current: Policy | None = None) -> HostSlice:
    """Builds the policy XE sends one host (§4.2.5: each host enforces only its slice).

    The result is deterministic: the same enterprise policy and current host policy
    give the same bytes and ``slice_sha256``.

    Args:
        policy: The enterprise policy.
        host: The host's id.
        current: The policy the host enforces now (its host-owned parts are kept);
            None for a host without a policy.

    Raises:
        NotFound: No host has id ``host``.
        PolicyRefused: The merged policy does not validate (``XE-SLICE-INVALID``, one
            finding per xps.policy error), the host's VIFs break a VM's network
            restrictions (``XE-SLICE-NETWORK``) or the host has no switch or storage
            location for XE's VIFs and disks of a VM (``XE-SLICE-DEVICES``).
    """
    target = _host(policy, host)
    merged, retained, released = merge_host_owned(
        slice_policy(policy, host), host_owned(current), policy
    )
    merged, problems = _xe_devices(policy, target, merged)
    problems += _network_findings(policy, target, merged)
    found = validate(merged)
    for f in found:
        if f.severity is Severity.ERROR:
            text = f"{f.code} {f.message}"
            problems.append(_refusal(target, "XE-SLICE-INVALID", text, [f.object_name], "policy"))
    xml = b""
    if not problems:
        try:
            xml = serialize_policy(merged)
        except PolicyXmlError as exc:
            problems.append(_refusal(target, "XE-SLICE-INVALID", exc.message, [], "policy"))
    if problems:
        raise PolicyRefused(problems)
    return HostSlice(
        host=target,
        policy=merged,
        xml=xml,
        slice_sha256=hashlib.sha256(xml).hexdigest(),
        retained=retained,
        released=released,
        warnings=tuple(f for f in found if f.severity is not Severity.ERROR),
    )
