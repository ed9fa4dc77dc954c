"""The whole-enterprise snapshot: every XE object of one policy version, indexed once."""

from __future__ import annotations

import bisect
import dataclasses
import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from xps.policy import HypercallProfile, predefined_profiles

from .._errors import NotFound
from ._gc import collector_paused
from ._types import Assignment, ConflictSet, DhcpServer, Enclave, Host, SecLabel, Vm

__all__ = ["EnterprisePolicy", "XeObject"]

_T = TypeVar("_T")

XeObject = Host | Enclave | HypercallProfile | SecLabel | Vm | ConflictSet | DhcpServer
"""Every id-keyed object type of an enterprise policy."""

_COLLECTIONS: dict[type, str] = {
    Host: "hosts",
    Enclave: "enclaves",
    HypercallProfile: "profiles",
    SecLabel: "seclabels",
    Vm: "vms",
    ConflictSet: "conflicts",
    DhcpServer: "dhcp_servers",
}

_KIND = {
    "hosts": "host",
    "enclaves": "enclave",
    "profiles": "profile",
    "seclabels": "SecLabel",
    "vms": "VM",
    "conflicts": "conflict set",
    "dhcp_servers": "DHCP server",
}


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


# Canonical orders. UUID.int orders like the UUID, without a Python-level __lt__.
def _name_key(o: Any) -> tuple[str, int]:
    return (o.name, o.id.int)


def _host_key(h: Host) -> tuple[int, str, int]:
    return (h.order, h.name, h.id.int)


def _assignment_key(a: Assignment) -> tuple[int, int]:
    return (a.enclave.int, a.host.int)


def _key_of(attr: str) -> Callable[[Any], Any]:
    return _host_key if attr == "hosts" else _name_key


def _sorted(items: Iterable[_T], key: Callable[[_T], Any]) -> tuple[_T, ...]:
    return tuple(sorted(items, key=key))


class _LazyIndex:
    """Id index per collection, built on first use: most callers need one or two."""

    def __init__(self, policy: EnterprisePolicy) -> None:
        self._policy = policy
        self._tables: dict[str, dict[UUID, Any]] = {}

    def __getitem__(self, attr: str) -> dict[UUID, Any]:
        table = self._tables.get(attr)
        if table is None:
            with collector_paused():
                table = self._tables[attr] = {o.id: o for o in getattr(self._policy, attr)}
        return table

    def items(self) -> Iterator[tuple[str, dict[UUID, Any]]]:
        return ((attr, self[attr]) for attr in _COLLECTIONS.values())


@dataclass(frozen=True)
class EnterprisePolicy:
    """One version of the federated XE policy (§4.2): what the consistency checker judges.

    Every collection is kept in canonical order — hosts in panel order (``order``,
    name, id), assignments by (enclave, host), everything else by (name, id) — so two
    snapshots with the same objects are equal and encode to the same JSON. Lookups by
    id and name and the placement of VMs are indexed once per snapshot; ``with_*`` and
    ``without`` return a new snapshot and never modify this one. References are not
    checked here: a dangling one is a finding of :mod:`enterprise_store.checker`.

    Attributes:
        version: The policy version; each committed change makes a new one.
        profiles: Hypercall profiles SecLabels may use (default: the ten pre-defined).
    """

    version: int = 0
    hosts: tuple[Host, ...] = ()
    enclaves: tuple[Enclave, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    profiles: tuple[HypercallProfile, ...] = field(default_factory=predefined_profiles)
    seclabels: tuple[SecLabel, ...] = ()
    vms: tuple[Vm, ...] = ()
    conflicts: tuple[ConflictSet, ...] = ()
    dhcp_servers: tuple[DhcpServer, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "hosts", _sorted(self.hosts, _host_key))
        for attr in ("enclaves", "profiles", "seclabels", "vms", "conflicts", "dhcp_servers"):
            _set(self, attr, _sorted(getattr(self, attr), _name_key))
        unique = {_assignment_key(a): a for a in self.assignments}
        _set(self, "assignments", tuple(unique[k] for k in sorted(unique)))

    # -- lookups ----------------------------------------------------------------

    @functools.cached_property
    def _ids(self) -> _LazyIndex:
        return _LazyIndex(self)

    @functools.cached_property
    def _names(self) -> dict[str, dict[str, Any]]:
        # Reversed so that, with duplicate names, the first in canonical order wins.
        return {
            attr: {o.name: o for o in reversed(getattr(self, attr))}
            for attr in _COLLECTIONS.values()
        }

    def _get(self, attr: str, key: UUID) -> Any:
        try:
            return self._ids[attr][key]
        except KeyError:
            raise NotFound(f"no {_KIND[attr]} with id {key}") from None

    def _named(self, attr: str, name: str) -> Any:
        try:
            return self._names[attr][name]
        except KeyError:
            raise NotFound(f"no {_KIND[attr]} named {name!r}") from None

    def ids(self, attr: str) -> dict[UUID, Any]:
        """Returns the id index of one collection (``"vms"``, ``"hosts"`` …); do not modify."""
        return self._ids[attr]

    def host(self, key: UUID) -> Host:
        """Returns the host with id ``key`` (NotFound if absent)."""
        result: Host = self._get("hosts", key)
        return result

    def enclave(self, key: UUID) -> Enclave:
        """Returns the enclave with id ``key``."""
        result: Enclave = self._get("enclaves", key)
        return result

    def profile(self, key: UUID) -> HypercallProfile:
        """Returns the hypercall profile with id ``key``."""
        result: HypercallProfile = self._get("profiles", key)
        return result

    def seclabel(self, key: UUID) -> SecLabel:
        """Returns the SecLabel with id ``key``."""
        result: SecLabel = self._get("seclabels", key)
        return result

    def vm(self, key: UUID) -> Vm:
        """Returns the VM with id ``key``."""
        result: Vm = self._get("vms", key)
        return result

    def conflict(self, key: UUID) -> ConflictSet:
        """Returns the conflict set with id ``key``."""
        result: ConflictSet = self._get("conflicts", key)
        return result

    def dhcp_server(self, key: UUID) -> DhcpServer:
        """Returns the DHCP server with id ``key``."""
        result: DhcpServer = self._get("dhcp_servers", key)
        return result

    def host_named(self, name: str) -> Host:
        """Returns the host called ``name``."""
        result: Host = self._named("hosts", name)
        return result

    def enclave_named(self, name: str) -> Enclave:
        """Returns the enclave called ``name``."""
        result: Enclave = self._named("enclaves", name)
        return result

    def profile_named(self, name: str) -> HypercallProfile:
        """Returns the hypercall profile called ``name``."""
        result: HypercallProfile = self._named("profiles", name)
        return result

    def seclabel_named(self, name: str) -> SecLabel:
        """Returns the SecLabel called ``name``."""
        result: SecLabel = self._named("seclabels", name)
        return result

    def vm_named(self, name: str) -> Vm:
        """Returns the VM called ``name``."""
        result: Vm = self._named("vms", name)
        return result

    def conflict_named(self, name: str) -> ConflictSet:
        """Returns the conflict set called ``name``."""
        result: ConflictSet = self._named("conflicts", name)
        return result

    def dhcp_server_named(self, name: str) -> DhcpServer:
        """Returns the DHCP server called ``name``."""
        result: DhcpServer = self._named("dhcp_servers", name)
        return result

    # -- enclaves, hosts and placement -------------------------------------------
    #
    # The indexes below key by UUID.int: a UUID hashes in Python, an int in C, and a
    # 100,000-VM snapshot builds them in one pass each (see benchmarks/xe_check).

    @functools.cached_property
    def _host_ints(self) -> dict[int, Host]:
        return {h.id.int: h for h in self.hosts}

    @functools.cached_property
    def _spans(self) -> tuple[dict[int, tuple[Host, ...]], dict[int, frozenset[UUID]]]:
        hosts = self._host_ints
        enclaves = {e.id.int for e in self.enclaves}
        by_enclave: dict[int, list[Host]] = defaultdict(list)
        by_host: dict[int, set[UUID]] = defaultdict(set)
        for a in self.assignments:
            host = hosts.get(a.host.int)
            if host is None or a.enclave.int not in enclaves:
                continue
            by_enclave[a.enclave.int].append(host)
            by_host[a.host.int].add(a.enclave)
        spans = {e: _sorted(hs, _host_key) for e, hs in by_enclave.items()}
        return spans, {h: frozenset(es) for h, es in by_host.items()}

    def hosts_of(self, enclave: UUID) -> tuple[Host, ...]:
        """Returns the hosts an enclave is assigned to, in panel order."""
        return self._spans[0].get(enclave.int, ())

    def enclave_ids_of(self, host: UUID) -> frozenset[UUID]:
        """Returns the ids of the (existing) enclaves assigned to a host."""
        return self._spans[1].get(host.int, frozenset())

    def enclaves_of(self, host: UUID) -> tuple[Enclave, ...]:
        """Returns the enclaves assigned to a host, in canonical order."""
        ids = self.enclave_ids_of(host)
        return tuple(e for e in self.enclaves if e.id in ids)

    def carries(self, host: UUID, enclave: UUID) -> bool:
        """Tells whether ``enclave`` is assigned to ``host``."""
        return enclave in self.enclave_ids_of(host)

    def default_host(self, enclave: UUID) -> Host | None:
        """The default placement of a VM of ``enclave``: the first host in panel order
        that carries the enclave (§4.2.5), or None if no host does."""
        hosts = self.hosts_of(enclave)
        return hosts[0] if hosts else None

    @functools.cached_property
    def _placement(self) -> dict[int, tuple[Vm, ...]]:
        with collector_paused():
            return self._place()

    def _place(self) -> dict[int, tuple[Vm, ...]]:
        hosts, spans = self._host_ints, self._spans[0]
        defaults: dict[int, int | None] = {}
        on: dict[int, list[Vm]] = defaultdict(list)
        for vm in self.vms:
            if vm.host is not None:
                key = vm.host.int
                if key in hosts:
                    on[key].append(vm)
                continue
            enclave = vm.enclave.int
            target = defaults.get(enclave, -1)
            if target == -1:
                first = spans.get(enclave)
                target = defaults[enclave] = first[0].id.int if first else None
            if target is not None:
                on[target].append(vm)
        return {h: tuple(vms) for h, vms in on.items()}

    def host_of(self, vm: Vm) -> Host | None:
        """Returns the host a VM is placed on: its own ``host`` (None if that host does
        not exist), else the default rule (None if no host carries its enclave)."""
        if vm.host is not None:
            return self._host_ints.get(vm.host.int)
        return self.default_host(vm.enclave)

    def vms_on(self, host: UUID) -> tuple[Vm, ...]:
        """Returns the VMs placed on a host (explicitly or by default), in canonical order."""
        return self._placement.get(host.int, ())

    @functools.cached_property
    def _members(self) -> tuple[dict[int, tuple[SecLabel, ...]], dict[int, tuple[Vm, ...]]]:
        labels: dict[int, list[SecLabel]] = defaultdict(list)
        vms: dict[int, list[Vm]] = defaultdict(list)
        with collector_paused():
            for label in self.seclabels:
                labels[label.enclave.int].append(label)
            for vm in self.vms:
                vms[vm.enclave.int].append(vm)
        return (
            {e: tuple(ls) for e, ls in labels.items()},
            {e: tuple(vs) for e, vs in vms.items()},
        )

    def seclabels_of(self, enclave: UUID) -> tuple[SecLabel, ...]:
        """Returns the SecLabels of an enclave, in canonical order."""
        return self._members[0].get(enclave.int, ())

    def vms_in(self, enclave: UUID) -> tuple[Vm, ...]:
        """Returns the VMs of an enclave, in canonical order."""
        return self._members[1].get(enclave.int, ())

    def pinned(self, vm: Vm) -> Vm:
        """Returns ``vm`` with ``host`` set to where the default rule places it now.

        A service calls this when it creates a VM, so that a later change of the Hosts
        panel order does not move the VM. A VM that cannot be placed is returned as is.
        """
        if vm.host is not None:
            return vm
        first = self.default_host(vm.enclave)
        return vm if first is None else dataclasses.replace(vm, host=first.id)

    # -- evolve -----------------------------------------------------------------
    #
    # An evolved snapshot keeps its collections canonical itself (bisect insert, slice
    # out) instead of re-sorting them in __post_init__: with 100,000 VMs that is the
    # difference between ~5 ms and ~250 ms per write.

    def _evolved(self, **changes: Any) -> EnterprisePolicy:
        new = object.__new__(EnterprisePolicy)
        for f in dataclasses.fields(self):
            _set(new, f.name, changes[f.name] if f.name in changes else getattr(self, f.name))
        return new

    def with_object(self, obj: XeObject) -> EnterprisePolicy:
        """Returns a snapshot where ``obj`` replaces the object(s) with its id, or is added."""
        attr = _COLLECTIONS[type(obj)]
        items: tuple[Any, ...] = getattr(self, attr)
        wanted = obj.id.int
        kept = [o for o in items if o.id.int != wanted]
        key = _key_of(attr)
        at = bisect.bisect_left(kept, key(obj), key=key)
        kept.insert(at, obj)
        return self._evolved(**{attr: tuple(kept)})

    def with_host(self, host: Host) -> EnterprisePolicy:
        """Adds or replaces a host."""
        return self.with_object(host)

    def with_enclave(self, enclave: Enclave) -> EnterprisePolicy:
        """Adds or replaces an enclave."""
        return self.with_object(enclave)

    def with_profile(self, profile: HypercallProfile) -> EnterprisePolicy:
        """Adds or replaces a hypercall profile."""
        return self.with_object(profile)

    def with_seclabel(self, seclabel: SecLabel) -> EnterprisePolicy:
        """Adds or replaces a SecLabel."""
        return self.with_object(seclabel)

    def with_vm(self, vm: Vm) -> EnterprisePolicy:
        """Adds or replaces a VM."""
        return self.with_object(vm)

    def with_conflict(self, conflict: ConflictSet) -> EnterprisePolicy:
        """Adds or replaces a conflict set."""
        return self.with_object(conflict)

    def with_dhcp_server(self, server: DhcpServer) -> EnterprisePolicy:
        """Adds or replaces a DHCP server."""
        return self.with_object(server)

    def with_assignment(self, enclave: UUID, host: UUID) -> EnterprisePolicy:
        """Assigns an enclave to a host (no-op if it already is)."""
        new = Assignment(enclave, host)
        key = _assignment_key(new)
        at = bisect.bisect_left(self.assignments, key, key=_assignment_key)
        if at < len(self.assignments) and _assignment_key(self.assignments[at]) == key:
            return self
        kept = (*self.assignments[:at], new, *self.assignments[at:])
        return self._evolved(assignments=kept)

    def without_assignment(self, enclave: UUID, host: UUID) -> EnterprisePolicy:
        """Unassigns an enclave from a host (NotFound if it is not assigned)."""
        key = (enclave.int, host.int)
        at = bisect.bisect_left(self.assignments, key, key=_assignment_key)
        if at == len(self.assignments) or _assignment_key(self.assignments[at]) != key:
            raise NotFound(f"enclave {enclave} is not assigned to host {host}")
        return self._evolved(assignments=(*self.assignments[:at], *self.assignments[at + 1 :]))

    def without(self, key: UUID, kinds: Collection[str] | None = None) -> EnterprisePolicy:
        """Removes the object with id ``key``; references to it are left for the checker.

        Removing a host or an enclave also removes its assignments.

        Args:
            key: The id.
            kinds: Collections to look in (``"vms"``, ``"hosts"`` …; default: all).

        Raises:
            NotFound: No object has that id.
        """
        wanted = key.int
        for attr in _COLLECTIONS.values():
            if kinds is not None and attr not in kinds:
                continue
            items: tuple[Any, ...] = getattr(self, attr)
            kept = tuple(o for o in items if o.id.int != wanted)
            if len(kept) == len(items):
                continue
            changes: dict[str, Any] = {attr: kept}
            if attr in ("hosts", "enclaves"):
                changes["assignments"] = tuple(
                    a for a in self.assignments if wanted not in (a.host.int, a.enclave.int)
                )
            return self._evolved(**changes)
        raise NotFound(f"no object with id {key}")

    def with_version(self, version: int) -> EnterprisePolicy:
        """Returns the snapshot with another version number."""
        return self._evolved(version=version)

    def bumped(self) -> EnterprisePolicy:
        """Returns the snapshot with its version incremented by one."""
        return self.with_version(self.version + 1)
