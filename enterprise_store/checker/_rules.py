"""The rules, one method per object type; ``Ctx`` indexes a snapshot once for all of them."""

from __future__ import annotations

import functools
import ipaddress
import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from xps.policy import (
    HYPERCALL_NAMES,
    ConflictLevel,
    GuestRole,
    GuestType,
    HypercallProfile,
    Severity,
)
from xps.policy.generators import GeneratorError, check_extra_option

from ..model import (
    ConflictSet,
    CpuFacts,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    Host,
    NetworkRestrictions,
    SecLabel,
    Vm,
)
from ..model._devices import devices_problems
from ._findings import Finding

__all__ = ["GENERATED_XL_KEYS", "Ctx", "name_problem"]

_U32 = 0xFFFFFFFF
_NAME_BYTES = 63
# Quotes and backslashes break xl files; control characters, lone surrogates and
# U+FFFE/U+FFFF cannot be written as XML 1.0.
_BAD = re.compile(r"[\"'\\\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"(?=.{{1,253}}\.?\Z){_LABEL}(?:\.{_LABEL})*\.?\Z")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}\Z")
_DOTTED_DIGITS = re.compile(r"[0-9.]+\Z")
_IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\Z")
_VENDOR = re.compile(r"[\x21-\x7e]{1,64}\Z")
_FLAG = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
_DEFAULT_NET = NetworkRestrictions()
# The common case in one C call: 1..63 printable ASCII characters but quotes and
# backslashes, no edge spaces. Everything else takes the full name_problem().
_GOOD_NAME = re.compile(r"[!#-&(-\[\]-~](?:[ !#-&(-\[\]-~]{0,61}[!#-&(-\[\]-~])?\Z")

# Options xl_config always writes for a guest type: an extra option may not repeat
# them (tests compare this table with the generator's real output).
_COMMON_KEYS = frozenset({"name", "uuid", "type", "seclabel", "memory", "maxmem", "vcpus"})
GENERATED_XL_KEYS: dict[GuestType, frozenset[str]] = {
    GuestType.PV: _COMMON_KEYS | {"maxvcpus", "kernel", "ramdisk", "cmdline", "bootloader"},
    GuestType.PVH: _COMMON_KEYS | {"maxvcpus", "kernel", "ramdisk", "cmdline"},
    GuestType.PVHVM: _COMMON_KEYS
    | {"maxvcpus", "kernel", "ramdisk", "cmdline", "boot", "serial", "usb"}
    | {"xen_platform_pci", "nographic", "vga", "stdvga"},
    GuestType.HVM: _COMMON_KEYS
    | {"maxvcpus", "kernel", "ramdisk", "cmdline", "boot", "serial", "usb"}
    | {"xen_platform_pci", "nographic", "vga", "stdvga"},
}


def name_problem(name: str) -> str | None:
    """Returns why ``name`` is not a valid XE object name, or None if it is."""
    if not name or len(name.encode("utf-8", "surrogatepass")) > _NAME_BYTES:
        return "name must be 1..63 bytes"
    if _BAD.search(name) or name != name.strip():
        return "name has quotes, backslashes, control characters or edge spaces"
    return None


def _label(kind: str, obj: Any) -> str:
    return f"{kind} {obj.name!r} ({obj.id})"


def _rgb_ok(color: Sequence[int]) -> bool:
    return len(color) == 3 and all(type(c) is int and 0 <= c <= 255 for c in color)


class Ctx:
    """Indexes of one snapshot and the findings gathered so far."""

    def __init__(self, policy: EnterprisePolicy) -> None:
        self.p = policy
        self.out: list[Finding] = []
        self._cpu_seen: dict[CpuFacts, str | None] = {}
        # Keyed by UUID.int: a UUID hashes in Python, an int in C (3x faster at 100k VMs).
        self.hosts: dict[int, Host] = {h.id.int: h for h in policy.hosts}
        self.enclaves: dict[int, Enclave] = {e.id.int: e for e in policy.enclaves}
        self.profiles: dict[int, HypercallProfile] = {p.id.int: p for p in policy.profiles}
        self.labels: dict[int, SecLabel] = {s.id.int: s for s in policy.seclabels}
        # Only assignments whose host and enclave exist carry an enclave to a host.
        self.assigned = {
            (a.host.int, a.enclave.int)
            for a in policy.assignments
            if a.host.int in self.hosts and a.enclave.int in self.enclaves
        }

    def add(
        self,
        code: str,
        kind: str,
        objs: Sequence[Any],
        text: str,
        field: str | None = None,
        hint: str = "",
        severity: Severity = Severity.ERROR,
    ) -> None:
        """Records a finding about ``objs`` (the offending object first)."""
        first = objs[0]
        self.out.append(
            Finding(
                code=code,
                severity=severity,
                message=f"{_label(kind, first)}: {text}",
                objects=tuple(o.name for o in objs),
                ids=tuple(o.id for o in objs if hasattr(o, "id")),
                kind=kind,
                field=field,
                hint=hint,
            )
        )

    # -- shared helpers -----------------------------------------------------------

    def name(self, kind: str, obj: Any) -> None:
        problem = name_problem(obj.name)
        if problem is not None:
            self.add("XE-NAME-INVALID", kind, [obj], problem, "name")

    def unique(self, kind: str, items: Sequence[Any], sorted_by_name: bool) -> None:
        """Reports duplicate names and UUIDs in one collection."""
        if sorted_by_name:
            groups = _runs(items)
        else:
            by_name: dict[str, list[Any]] = defaultdict(list)
            for obj in items:
                by_name[obj.name].append(obj)
            groups = [objs for objs in by_name.values() if len(objs) > 1]
        for objs in groups:
            self.dup_name(kind, objs)
        if len({o.id.int for o in items}) != len(items):
            by_id: dict[UUID, list[Any]] = defaultdict(list)
            for obj in items:
                by_id[obj.id].append(obj)
            for objs in by_id.values():
                if len(objs) > 1:
                    self.dup_id(kind, objs)

    def dup_name(self, kind: str, objs: Sequence[Any]) -> None:
        self.add("XE-DUP-NAME", kind, objs, f"name used by {len(objs)} {kind}s", "name")

    def dup_id(self, kind: str, objs: Sequence[Any]) -> None:
        text = f"UUID used by {len(objs)} {kind}s"
        self.add("XE-DUP-ID", kind, objs, text, "id", "give each one a new UUID")

    def enclave_name(self, enclave: UUID) -> str:
        found = self.enclaves.get(enclave.int)
        return repr(found.name) if found is not None else f"{enclave} (unknown)"

    @functools.cached_property
    def default_hosts(self) -> dict[int, Host | None]:
        return {k: self.p.default_host(e.id) for k, e in self.enclaves.items()}

    # -- profiles, enclaves, hosts, assignments ---------------------------------

    def profile(self, prof: HypercallProfile) -> None:
        self.name("profile", prof)
        bad = sorted(nr for nr in prof.hypercalls if not 0 <= nr <= 63)
        if bad:
            text = f"hypercalls {bad[:5]} are outside 0..63"
            self.add("XE-PROFILE-INVALID", "profile", [prof], text, "hypercalls")
        for nr, ops in prof.subops:
            if not 0 <= nr <= 63 or any(not 0 <= op <= 255 for op in ops):
                text = f"sub-ops of hypercall {nr} are outside 0..255 (or {nr} outside 0..63)"
                self.add("XE-PROFILE-INVALID", "profile", [prof], text, "subops")
        unused = sorted(n for n in prof.hypercalls if HYPERCALL_NAMES.get(n) == "unused")
        if unused:
            text = f"hypercalls {unused} are not in Xen's table"
            self.add("XE-PROFILE-INVALID", "profile", [prof], text, "hypercalls")
        if _XML_BAD.search(prof.description):
            text = "description has characters XML cannot carry"
            self.add("XE-PROFILE-INVALID", "profile", [prof], text, "description")

    def enclave(self, enc: Enclave) -> None:
        self.name("enclave", enc)
        if not _rgb_ok(enc.color):
            self.add("XE-COLOR", "enclave", [enc], f"colour {enc.color} is not RGB", "color")
        if not self.p.hosts_of(enc.id):
            self.add(
                "XE-ENCLAVE-NO-HOST",
                "enclave",
                [enc],
                "is assigned to no host",
                hint=f"assign {enc.name} to a host (Add tag on the host)",
                severity=Severity.WARNING,
            )

    def host(self, host: Host) -> None:
        self.name("host", host)
        if not _address_ok(host.address):
            text = f"management address {host.address[:80]!r} is no IP address or DNS name"
            self.add("XE-HOST-ADDRESS", "host", [host], text, "address")
        if type(host.port) is not int or not 1 <= host.port <= 65535:
            self.add("XE-HOST-PORT", "host", [host], f"port {host.port} is not 1..65535", "port")
        if not _rgb_ok(host.color):
            self.add("XE-COLOR", "host", [host], f"colour {host.color} is not RGB", "color")
        problem = self.cpu_problem(host.cpu)
        if problem is not None:
            self.add("XE-HOST-CPU", "host", [host], problem, "cpu")
        for storage in host.shared_storage:
            problem = name_problem(storage)
            if problem is not None:
                text = f"shared storage {storage[:80]!r}: {problem}"
                self.add("XE-NAME-INVALID", "host", [host], text, "shared_storage")
        for switch in host.switches:
            problem = name_problem(switch.name)
            if problem is not None:
                text = f"switch {switch.name[:80]!r}: {problem}"
                self.add("XE-NAME-INVALID", "host", [host], text, "switches")
            if switch.enclave is not None and switch.enclave.int not in self.enclaves:
                text = f"switch {switch.name!r} serves unknown enclave {switch.enclave}"
                self.add("XE-HOST-SWITCH-ENCLAVE", "host", [host], text, "switches")

    def cpu_problem(self, cpu: CpuFacts) -> str | None:
        # Hosts of one model share their CPU facts: check each distinct set once.
        if cpu in self._cpu_seen:
            return self._cpu_seen[cpu]
        problem = self._cpu_seen[cpu] = _cpu_problem(cpu)
        return problem

    def host_sets(self, hosts: Sequence[Host]) -> None:
        """Rules over all hosts together: endpoints and panel positions."""
        endpoints: dict[tuple[str, int], list[Host]] = defaultdict(list)
        orders: dict[int, list[Host]] = defaultdict(list)
        for host in hosts:
            endpoints[(host.address.lower().rstrip("."), host.port)].append(host)
            orders[host.order].append(host)
        for (address, port), same in endpoints.items():
            if len(same) > 1:
                text = f"management endpoint {address}:{port} is also used by " + ", ".join(
                    repr(h.name) for h in same[1:]
                )
                self.add("XE-HOST-ENDPOINT", "host", same, text, "address")
        for order, same in orders.items():
            if len(same) > 1:
                self.add(
                    "XE-HOST-ORDER",
                    "host",
                    same,
                    f"panel position {order} is shared by {len(same)} hosts",
                    "order",
                    hint="give each host its own position in the Hosts panel",
                    severity=Severity.WARNING,
                )

    def assignments(self) -> None:
        for a in self.p.assignments:
            enc, host = self.enclaves.get(a.enclave.int), self.hosts.get(a.host.int)
            if enc is not None and host is not None:
                continue
            if host is not None:
                text = f"is assigned unknown enclave {a.enclave}"
                self.add("XE-ASSIGN-UNKNOWN", "host", [host], text, "enclaves")
            elif enc is not None:
                text = f"is assigned to unknown host {a.host}"
                self.add("XE-ASSIGN-UNKNOWN", "enclave", [enc], text, "hosts")
            else:
                self.out.append(
                    Finding(
                        "XE-ASSIGN-UNKNOWN",
                        Severity.ERROR,
                        f"assignment of unknown enclave {a.enclave} to unknown host {a.host}",
                        (str(a.enclave), str(a.host)),
                        (a.enclave, a.host),
                        "assignment",
                    )
                )

    # -- SecLabels, conflict sets, DHCP servers ---------------------------------

    def seclabel(self, label: SecLabel) -> None:
        self.name("seclabel", label)
        if label.enclave.int not in self.enclaves:
            text = f"belongs to unknown enclave {label.enclave}"
            self.add("XE-SECLABEL-ENCLAVE", "seclabel", [label], text, "enclave")
        if label.profile.int not in self.profiles:
            text = f"hypercall profile {label.profile} does not exist"
            self.add("XE-SECLABEL-PROFILE", "seclabel", [label], text, "profile")
        if type(label.max_rate) is not int or not 1 <= label.max_rate <= 65535:
            text = f"max hypercall rate {label.max_rate} is not 1..65535"
            self.add("XE-SECLABEL-RATE", "seclabel", [label], text, "max_rate")
        if type(label.max_violations) is not int or not 0 <= label.max_violations <= _U32:
            text = f"max violations {label.max_violations} is not 0..4294967295"
            self.add("XE-SECLABEL-VIOLATIONS", "seclabel", [label], text, "max_violations")
        if label.role is not GuestRole.NONE:
            self.add(
                "XE-SECLABEL-ROLE",
                "seclabel",
                [label],
                f"guest role {label.role.value} is a service domain, which XE does not support",
                "role",
                hint="leave the guest role at none",
            )

    def conflict(self, c: ConflictSet) -> None:
        self.name("conflict", c)
        distinct = set(c.enclaves)
        if len(distinct) < 2 or len(distinct) != len(c.enclaves):
            text = f"needs two or more distinct enclaves, has {len(distinct)} of {len(c.enclaves)}"
            self.add("XE-CONFLICT-ENCLAVES", "conflict", [c], text, "enclaves")
        unknown = sorted(e for e in distinct if e.int not in self.enclaves)
        if unknown:
            text = f"names unknown enclaves {', '.join(map(str, unknown))}"
            self.add("XE-CONFLICT-UNKNOWN", "conflict", [c], text, "enclaves")

    def dhcp(self, server: DhcpServer) -> None:
        self.name("dhcp server", server)
        if server.enclave.int not in self.enclaves:
            text = f"serves unknown enclave {server.enclave}"
            self.add("XE-DHCP-ENCLAVE", "dhcp server", [server], text, "enclave")
        if not _IFNAME.match(server.interface):
            text = f"interface {server.interface[:40]!r} is not a valid interface name"
            self.add("XE-DHCP-INTERFACE", "dhcp server", [server], text, "interface")

    # -- VMs ----------------------------------------------------------------------

    @functools.cached_property
    def label_facts(self) -> dict[int, tuple[SecLabel, int, frozenset[GuestType]]]:
        """SecLabel id -> (SecLabel, its enclave's id.int, its profile's guest family)."""
        out = {}
        for key, label in self.labels.items():
            prof = self.profiles.get(label.profile.int)
            family = prof.guest_family if prof is not None else frozenset()
            out[key] = (label, label.enclave.int, family)
        return out

    def vms(self, items: Iterable[Vm]) -> None:
        """Applies every VM rule to each VM.

        The hot loop of a 100,000-VM check: a VM that passes a cheap test of every rule
        (int keys, cached strings, locals) costs about a microsecond; any other goes
        through :meth:`vm`, which applies the rules one by one and explains.
        """
        enclaves, facts_of, assigned = self.enclaves, self.label_facts, self.assigned
        defaults = self.default_hosts
        ok_strings: set[str] = set()
        bad, good_name = _BAD.search, _GOOD_NAME.match
        pv, default_net, slow = GuestType.PV, _DEFAULT_NET, self.vm

        def xl_ok(value: str | None) -> bool:
            if value is None or value in ok_strings:
                return True
            if bad(value):
                return False
            ok_strings.add(value)
            return True

        for vm in items:
            enclave = vm.enclave.int
            label = vm.seclabel
            facts = None if label is None else facts_of.get(label.int)
            host = vm.host
            if (
                facts is not None
                and facts[1] == enclave
                and enclave in enclaves
                and good_name(vm.name)
                and vm.name != "Domain-0"
                and (not facts[2] or vm.guest_type in facts[2])
                and vm.guest_type is pv
                and (vm.kernel or vm.bootloader)
                and 1 <= vm.memory_mb <= vm.maxmem_mb <= _U32
                and 1 <= vm.vcpus <= vm.maxvcpus <= _U32
                and xl_ok(vm.kernel)
                and xl_ok(vm.cmdline)
                and xl_ok(vm.ramdisk)
                and xl_ok(vm.bootloader)
                and (
                    (host.int, enclave) in assigned
                    if host is not None
                    else defaults.get(enclave) is not None
                )
                and not vm.extra
                and not vm.vifs
                and not vm.disks
                and (vm.network is default_net or vm.network == default_net)
            ):
                continue
            slow(vm)

    def vm(self, vm: Vm) -> None:
        """Applies every VM rule to one VM, one rule at a time."""
        name = vm.name
        problem = name_problem(name)
        if problem is not None:
            self.add("XE-NAME-INVALID", "vm", [vm], problem, "name")
        if name == "Domain-0":
            self.add("XE-NAME-INVALID", "vm", [vm], "Domain-0 is the control domain", "name")
        enclave = vm.enclave.int
        enc = self.enclaves.get(enclave)
        if enc is None:
            text = f"belongs to unknown enclave {vm.enclave}"
            self.add("XE-VM-ENCLAVE", "vm", [vm], text, "enclave")
        if vm.seclabel is None:
            self._no_seclabel(vm, enc)
        else:
            facts = self.label_facts.get(vm.seclabel.int)
            if facts is None:
                text = f"SecLabel {vm.seclabel} does not exist"
                self.add("XE-VM-SECLABEL-UNKNOWN", "vm", [vm], text, "seclabel")
            else:
                label, label_enclave, family = facts
                if label_enclave != enclave:
                    self._foreign_label(vm, label, enc)
                if family and vm.guest_type not in family:
                    self._guest_type(vm, label, family)
        self._boot(vm)
        if not (1 <= vm.memory_mb <= vm.maxmem_mb <= _U32):
            text = f"memory {vm.memory_mb} MB must be 1..max memory ({vm.maxmem_mb} MB)"
            self.add("XE-VM-MEMORY", "vm", [vm], text, "memory_mb")
        if not (1 <= vm.vcpus <= vm.maxvcpus <= _U32):
            text = f"VCPUs {vm.vcpus} must be 1..max VCPUs ({vm.maxvcpus})"
            self.add("XE-VM-VCPUS", "vm", [vm], text, "vcpus")
        self._xl_strings(vm)
        self._placement(vm, enc)
        if vm.extra:
            self._extra(vm)
        if vm.network != _DEFAULT_NET:
            self._network(vm)
        if vm.vifs or vm.disks:
            for field, problem in devices_problems(vm.vifs, vm.disks, vm.network):
                code = "XE-VM-VIF" if field == "vifs" else "XE-VM-DISK"
                self.add(code, "vm", [vm], problem, field)

    def _guest_type(self, vm: Vm, label: SecLabel, family: frozenset[GuestType]) -> None:
        prof = self.profiles[label.profile.int]
        fam = ", ".join(sorted(family))
        self.add(
            "XE-VM-GUEST-TYPE",
            "vm",
            [vm, label, prof],
            f"guest type {vm.guest_type.value} does not suit profile "
            f"{prof.name!r} ({fam}) of SecLabel {label.name!r}",
            "guest_type",
            hint=f"choose guest type {fam}, or a SecLabel with a matching profile",
        )

    def _xl_strings(self, vm: Vm) -> None:
        for field in ("kernel", "ramdisk", "cmdline", "bootloader"):
            value = getattr(vm, field)
            if value is not None and _BAD.search(value):
                text = f"{field} has quotes, backslashes or control characters"
                self.add("XE-VM-XL-STRING", "vm", [vm], text, field)

    def _no_seclabel(self, vm: Vm, enc: Enclave | None) -> None:
        if enc is None:
            hint = "choose an existing enclave, then one of its SecLabels"
        else:
            labels = self.p.seclabels_of(enc.id)
            if labels:
                names = ", ".join(label.name for label in labels[:5])
                hint = f"choose one of {enc.name}'s SecLabels: {names}"
            else:
                hint = f"create a SecLabel in {enc.name} first"
        objs: list[Any] = [vm] if enc is None else [vm, enc]
        text = f"has no SecLabel (enclave {self.enclave_name(vm.enclave)})"
        self.add("XE-VM-NO-SECLABEL", "vm", objs, text, "seclabel", hint)

    def _foreign_label(self, vm: Vm, label: SecLabel, enc: Enclave | None) -> None:
        own = self.enclave_name(vm.enclave)
        text = (
            f"SecLabel {label.name!r} is of enclave {self.enclave_name(label.enclave)}, "
            f"not of the VM's enclave {own}"
        )
        hint = f"choose a SecLabel of {enc.name}" if enc is not None else ""
        self.add("XE-VM-SECLABEL-ENCLAVE", "vm", [vm, label], text, "seclabel", hint)

    def _boot(self, vm: Vm) -> None:
        kind = vm.guest_type
        if kind is GuestType.PV:
            if not vm.kernel and not vm.bootloader:
                text = "a PV guest needs a kernel or a bootloader"
                self.add("XE-VM-BOOT", "vm", [vm], text, "kernel")
            return
        if vm.bootloader:
            text = f"a bootloader is only valid for PV guests, not {kind.value}"
            self.add("XE-VM-BOOT", "vm", [vm], text, "bootloader")
        if kind is GuestType.PVH and not vm.kernel:
            self.add("XE-VM-BOOT", "vm", [vm], "a PVH guest needs a kernel", "kernel")

    def _placement(self, vm: Vm, enc: Enclave | None) -> None:
        if vm.host is not None:
            host = self.hosts.get(vm.host.int)
            if host is None:
                text = f"is placed on unknown host {vm.host}"
                self.add("XE-VM-HOST-UNKNOWN", "vm", [vm], text, "host")
            elif enc is not None and (vm.host.int, vm.enclave.int) not in self.assigned:
                self.add(
                    "XE-VM-HOST-ENCLAVE",
                    "vm",
                    [vm, host, enc],
                    f"is placed on host {host.name!r}, which does not carry its enclave "
                    f"{enc.name!r}",
                    "host",
                    hint=f"assign {enc.name} to {host.name}, or place the VM on "
                    f"a host of {enc.name}",
                )
        elif enc is not None and self.default_hosts.get(enc.id.int) is None:
            self.add(
                "XE-VM-NO-HOST",
                "vm",
                [vm, enc],
                f"has no host and no host carries its enclave {enc.name!r}",
                "host",
                hint=f"assign {enc.name} to a host first",
            )

    def _extra(self, vm: Vm) -> None:
        generated = GENERATED_XL_KEYS[vm.guest_type]
        for key, value in vm.extra:
            if _XML_BAD.search(key) or _XML_BAD.search(value):
                text = f"extra option {key[:40]!r} has control characters"
                self.add("XE-VM-EXTRA-INVALID", "vm", [vm], text, "extra")
                continue
            try:
                check_extra_option(key, value, generated)
            except GeneratorError as exc:
                code = (
                    "XE-VM-EXTRA-FORBIDDEN"
                    if exc.code.endswith("forbidden-option")
                    else "XE-VM-EXTRA-INVALID"
                )
                hint = (
                    "devices and passthrough are assigned on the host (XPS editor mode)"
                    if code == "XE-VM-EXTRA-FORBIDDEN"
                    else ""
                )
                self.add(code, "vm", [vm], exc.message, "extra", hint)

    def _network(self, vm: Vm) -> None:
        net = vm.network
        problems = []
        if net.max_vifs is not None and not 0 <= net.max_vifs <= 64:
            problems.append(f"max VIFs {net.max_vifs} is not 0..64")
        if not net.allow_network and (net.switches or net.max_vifs):
            problems.append("switches or VIFs are allowed although the network is off")
        for switch in net.switches:
            if name_problem(switch) is not None:
                problems.append(f"switch name {switch[:40]!r} is not valid")
        for problem in problems:
            self.add("XE-VM-NETWORK", "vm", [vm], problem, "network")

    def vm_names(self, vms: Sequence[Vm]) -> None:
        """Reports duplicate VM names and UUIDs over the whole (name-sorted) collection."""
        self.unique("vm", vms, sorted_by_name=True)

    def vm_name_group(self, vm: Vm) -> list[Vm]:
        """Returns every VM of the snapshot with ``vm``'s name (bisect on the sorted tuple)."""
        vms = self.p.vms
        i = bisect_left(vms, (vm.name,), key=lambda v: (v.name,))
        group = []
        while i < len(vms) and vms[i].name == vm.name:
            group.append(vms[i])
            i += 1
        return group

    # -- co-residence ---------------------------------------------------------------

    @functools.cached_property
    def no_coresidence(self) -> list[ConflictSet]:
        return [
            c
            for c in self.p.conflicts
            if c.level is ConflictLevel.NO_CORESIDENCE and len(set(c.enclaves)) >= 2
        ]

    def coresidence(self, hosts: Iterable[UUID] | None = None) -> None:
        """Reports no-coresidence sets with running VMs of two enclaves on one host.

        One pass over the VMs, skipping at once those of enclaves no set names.

        Args:
            hosts: Only these hosts (default: all).
        """
        sets = self.no_coresidence
        if not sets:
            return
        relevant = {e.int for c in sets for e in c.enclaves}
        wanted = None if hosts is None else {h.int for h in hosts}
        known, defaults = self.hosts, self.default_hosts
        per_host: dict[int, dict[int, list[Vm]]] = defaultdict(lambda: defaultdict(list))
        for vm in self.p.vms:
            enclave = vm.enclave.int
            if not vm.run or enclave not in relevant:
                continue
            if vm.host is not None:
                target: int | None = vm.host.int if vm.host.int in known else None
            else:
                first = defaults.get(enclave)
                target = None if first is None else first.id.int
            if target is not None and (wanted is None or target in wanted):
                per_host[target][enclave].append(vm)
        for host_key in sorted(per_host, key=lambda h: _host_rank(self.hosts[h])):
            present = per_host[host_key]
            if len(present) < 2:
                continue
            for c in sets:
                clash = [e.int for e in c.enclaves if e.int in present]
                if len(clash) >= 2:
                    self._clash(c, self.hosts[host_key], [present[e] for e in clash])

    def _clash(self, c: ConflictSet, host: Host, groups: list[list[Vm]]) -> None:
        firsts = [g[0] for g in groups]
        named = " and ".join(f"{vm.name!r} ({self.enclave_name(vm.enclave)})" for vm in firsts)
        more = sum(len(g) for g in groups) - len(firsts)
        extra = f" (and {more} more of these enclaves)" if more else ""
        self.add(
            "XE-CONFLICT-CORESIDENT",
            "conflict",
            [c, host, *firsts],
            f"no-coresidence: VMs {named}{extra} are placed on host {host.name!r} "
            "and meant to run at the same time",
            "enclaves",
            hint="place one of them on another host, or mark it as not meant to run",
        )


def _host_rank(host: Host) -> tuple[int, str, UUID]:
    return (host.order, host.name, host.id)


def _runs(items: Sequence[Any]) -> list[list[Any]]:
    # Items sorted by name: duplicates are neighbours.
    groups: list[list[Any]] = []
    prev: Any = None
    run: list[Any] = []
    for obj in items:
        if prev is not None and obj.name == prev.name:
            if not run:
                run = [prev]
            run.append(obj)
        elif run:
            groups.append(run)
            run = []
        prev = obj
    if run:
        groups.append(run)
    return groups


def _address_ok(address: str) -> bool:
    if not address or len(address) > 253:
        return False
    if _IPV4.match(address):
        return True
    if _DOTTED_DIGITS.match(address):
        return False  # "10.0.2.256" is a broken IPv4 address, not a DNS name
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return _DNS_NAME.match(address) is not None
    return True


def _cpu_problem(cpu: CpuFacts) -> str | None:
    numbers = (("family", cpu.family), ("model", cpu.model), ("stepping", cpu.stepping))
    if not cpu.vendor:
        if any(v is not None for _, v in numbers) or cpu.flags:
            return "CPU facts without a vendor"
        return None
    if not _VENDOR.match(cpu.vendor):
        return f"CPU vendor {cpu.vendor[:40]!r} is not printable ASCII without spaces"
    for what, value in numbers:
        if value is not None and (type(value) is not int or not 0 <= value <= _U32):
            return f"CPU {what} {value} is not 0..4294967295"
    bad = sorted(f for f in cpu.flags if not _FLAG.match(f))
    if bad:
        return f"CPU flags {', '.join(repr(f[:20]) for f in bad[:3])} are not flag names"
    return None
