"""The XE policy in its tables: load a whole snapshot, write the difference between two.

A write never rewrites the policy: :meth:`PolicyRepo.apply` compares the snapshot before a
change with the one after, collection by collection, and touches only the rows of objects
that differ. Snapshots made with ``with_*``/``without`` share every untouched tuple and
object with their parent, so the comparison is an identity test (``is``) for all but the
changed collection, and inside it for all but the changed objects.

Order of the statements: inserts and updates parents first (enclaves, hosts, assignments,
profiles, SecLabels, VMs, conflict sets, DHCP servers), then deletes children first. A
snapshot the checker accepted has no dangling reference, so every foreign key holds after
each statement; a reference an update drops is gone before the delete of its target.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store.model import (
    Assignment,
    ConflictSet,
    CpuFacts,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    Host,
    HostSwitch,
    NetworkRestrictions,
    SecLabel,
    Vm,
    VmDisk,
    VmVif,
    policy_from_dict,
    policy_to_dict,
)
from enterprise_store.model._gc import collector_paused
from enterprise_store.store._policy_schema import (
    conflict_members,
    conflict_sets,
    dhcp_servers,
    enclave_hosts,
    enclaves,
    host_storage,
    host_switches,
    hosts,
    policy_head,
    policy_versions,
    profiles,
    seclabels,
    vm_disks,
    vm_extra,
    vm_switches,
    vm_vifs,
    vms,
)
from xps.policy import HypercallProfile, predefined_profiles

if TYPE_CHECKING:
    from enterprise_store.store._store import Store

__all__ = ["PolicyHead", "PolicyRepo", "VersionRow", "color_hex", "color_rgb"]


def color_hex(rgb: Sequence[int]) -> str:
    """``#rrggbb`` of an RGB triple (each 0..255)."""
    r, g, b = rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def color_rgb(text: str) -> tuple[int, int, int]:
    """The RGB triple of ``#rrggbb``."""
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


@dataclass(frozen=True, slots=True)
class PolicyHead:
    """The newest committed version and its canonical SHA-256 (``""`` before the first)."""

    version: int
    sha256: str


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One committed change of the policy."""

    version: int
    sha256: str
    ts_us: int
    author: str
    action: str
    object: str
    enclaves: tuple[str, ...]
    summary: str


def _version(r: Any) -> VersionRow:
    return VersionRow(
        version=int(r.version),
        sha256=r.sha256,
        ts_us=int(r.ts_us),
        author=r.author,
        action=r.action,
        object=r.object,
        enclaves=tuple(json.loads(r.enclaves)),
        summary=r.summary,
    )


# ------------------------------------------------------------------ objects <-> rows


def _host_row(h: Host) -> dict[str, Any]:
    return {
        "id": str(h.id),
        "name": h.name,
        "address": h.address,
        "port": h.port,
        "position": h.order,
        "color": color_hex(h.color),
        "cpu_vendor": h.cpu.vendor,
        "cpu_family": h.cpu.family,
        "cpu_model": h.cpu.model,
        "cpu_stepping": h.cpu.stepping,
        "cpu_flags": " ".join(sorted(h.cpu.flags)),
        "ro_port": h.ro_port,
    }


def _host_children(h: Host) -> dict[Table, list[dict[str, Any]]]:
    key = str(h.id)
    return {
        host_storage: [{"host_id": key, "name": s} for s in h.shared_storage],
        host_switches: [
            {
                "host_id": key,
                "name": s.name,
                "enclave_id": None if s.enclave is None else str(s.enclave),
            }
            for s in h.switches
        ],
    }


def _enclave_row(e: Enclave) -> dict[str, Any]:
    return {"id": str(e.id), "name": e.name, "color": color_hex(e.color)}


def _profile_body(p: HypercallProfile) -> str:
    body = policy_to_dict(EnterprisePolicy(profiles=(p,)))["profiles"][0]
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _profile_row(p: HypercallProfile) -> dict[str, Any]:
    return {"id": str(p.id), "name": p.name, "body": _profile_body(p)}


def _seclabel_row(s: SecLabel) -> dict[str, Any]:
    return {
        "id": str(s.id),
        "name": s.name,
        "enclave_id": str(s.enclave),
        "profile_id": str(s.profile),
        "max_rate": s.max_rate,
        "max_violations": s.max_violations,
        "role": s.role.value,
    }


def _vm_row(v: Vm) -> dict[str, Any]:
    return {
        "id": str(v.id),
        "name": v.name,
        "enclave_id": str(v.enclave),
        "seclabel_id": None if v.seclabel is None else str(v.seclabel),
        "guest_type": v.guest_type.value,
        "os": v.os.value,
        "kernel": v.kernel,
        "ramdisk": v.ramdisk,
        "cmdline": v.cmdline,
        "bootloader": v.bootloader,
        "memory_mb": v.memory_mb,
        "maxmem_mb": v.maxmem_mb,
        "vcpus": v.vcpus,
        "maxvcpus": v.maxvcpus,
        "host_id": None if v.host is None else str(v.host),
        "run": v.run,
        "allow_network": v.network.allow_network,
        "max_vifs": v.network.max_vifs,
    }


def _vm_children(v: Vm) -> dict[Table, list[dict[str, Any]]]:
    key = str(v.id)
    return {
        vm_switches: [{"vm_id": key, "name": s} for s in v.network.switches],
        vm_extra: [
            {"vm_id": key, "position": i, "key": k, "value": val}
            for i, (k, val) in enumerate(v.extra)
        ],
        vm_vifs: [
            {
                "vm_id": key,
                "position": i,
                "bridge": f.bridge,
                "mac": f.mac,
                "ip": f.ip,
                "model": f.model,
            }
            for i, f in enumerate(v.vifs)
        ],
        vm_disks: [
            {
                "vm_id": key,
                "position": i,
                "target": d.target,
                "vdev": d.vdev,
                "mode": d.mode,
                "format": d.format,
                "cdrom": d.cdrom,
            }
            for i, d in enumerate(v.disks)
        ],
    }


def _conflict_row(c: ConflictSet) -> dict[str, Any]:
    return {"id": str(c.id), "name": c.name, "level": c.level.value}


def _conflict_children(c: ConflictSet) -> dict[Table, list[dict[str, Any]]]:
    key = str(c.id)
    # A set of enclaves: a duplicate is the checker's finding, not a second row.
    members = sorted({str(e) for e in c.enclaves})
    return {conflict_members: [{"conflict_id": key, "enclave_id": e} for e in members]}


def _dhcp_row(d: DhcpServer) -> dict[str, Any]:
    return {
        "id": str(d.id),
        "name": d.name,
        "enclave_id": str(d.enclave),
        "interface": d.interface,
    }


def _none(_: Any) -> dict[Table, list[dict[str, Any]]]:
    return {}


@dataclass(frozen=True)
class _Kind:
    attr: str
    table: Table
    row: Callable[[Any], dict[str, Any]]
    children: Callable[[Any], dict[Table, list[dict[str, Any]]]]
    child_key: str  # the children's column that names the owner


# Parents first: the order of inserts and updates; deletes run in reverse.
_KINDS = (
    _Kind("enclaves", enclaves, _enclave_row, _none, ""),
    _Kind("hosts", hosts, _host_row, _host_children, "host_id"),
    _Kind("profiles", profiles, _profile_row, _none, ""),
    _Kind("seclabels", seclabels, _seclabel_row, _none, ""),
    _Kind("vms", vms, _vm_row, _vm_children, "vm_id"),
    _Kind("conflicts", conflict_sets, _conflict_row, _conflict_children, "conflict_id"),
    _Kind("dhcp_servers", dhcp_servers, _dhcp_row, _none, ""),
)

_PREDEFINED = {p.id.int: p for p in predefined_profiles()}


def _stored_profiles(items: Iterable[HypercallProfile]) -> list[HypercallProfile]:
    """The profiles the table holds: those that are not a pre-defined one as shipped."""
    return [p for p in items if _PREDEFINED.get(p.id.int) != p]


class _Uuids:
    """UUID of a string, each distinct string parsed once (enclave ids repeat 100,000 times)."""

    def __init__(self) -> None:
        self._seen: dict[str, UUID] = {}

    def __call__(self, text: str) -> UUID:
        found = self._seen.get(text)
        if found is None:
            found = self._seen[text] = UUID(text)
        return found

    def opt(self, text: str | None) -> UUID | None:
        return None if text is None else self(text)


# Columns each table is read with, in the order _build unpacks them.
_LOAD: dict[Table, tuple[str, ...]] = {
    hosts: ("id", "name", "address", "port", "position", "color", "cpu_vendor", "cpu_family",
            "cpu_model", "cpu_stepping", "cpu_flags", "ro_port"),
    host_storage: ("host_id", "name"),
    host_switches: ("host_id", "name", "enclave_id"),
    enclaves: ("id", "name", "color"),
    enclave_hosts: ("enclave_id", "host_id"),
    profiles: ("body",),
    seclabels: ("id", "name", "enclave_id", "profile_id", "max_rate", "max_violations", "role"),
    vms: ("id", "name", "enclave_id", "seclabel_id", "guest_type", "os", "kernel", "ramdisk",
          "cmdline", "bootloader", "memory_mb", "maxmem_mb", "vcpus", "maxvcpus", "host_id",
          "run", "allow_network", "max_vifs"),
    vm_switches: ("vm_id", "name"),
    vm_extra: ("vm_id", "position", "key", "value"),
    vm_vifs: ("vm_id", "position", "bridge", "mac", "ip", "model"),
    vm_disks: ("vm_id", "position", "target", "vdev", "mode", "format", "cdrom"),
    conflict_sets: ("id", "name", "level"),
    conflict_members: ("conflict_id", "enclave_id"),
    dhcp_servers: ("id", "name", "enclave_id", "interface"),
}  # fmt: skip


def _first(item: tuple[int, Any]) -> int:
    return item[0]


def _build(version: int, rows: Mapping[str, list[tuple[Any, ...]]]) -> EnterprisePolicy:
    """The snapshot from the rows of :data:`_LOAD` (by table name)."""
    uid = _Uuids()
    storage: dict[str, list[str]] = {}
    for host_id, name in rows["host_storage"]:
        storage.setdefault(host_id, []).append(name)
    switches: dict[str, list[HostSwitch]] = {}
    for host_id, name, enclave_id in rows["host_switches"]:
        switches.setdefault(host_id, []).append(HostSwitch(name, uid.opt(enclave_id)))
    host_list = []
    for row in rows["hosts"]:
        (key, name, address, port, position, color, vendor, family, model, stepping, flags,
         ro_port) = row  # fmt: skip
        cpu = CpuFacts(vendor, family, model, stepping, frozenset(flags.split()))
        host_list.append(
            Host(
                id=uid(key),
                name=name,
                address=address,
                port=int(port),
                order=int(position),
                color=color_rgb(color),
                cpu=cpu,
                shared_storage=tuple(storage.get(key, ())),
                switches=tuple(switches.get(key, ())),
                ro_port=None if ro_port is None else int(ro_port),
            )
        )
    enclave_list = [
        Enclave(uid(key), name, color_rgb(color)) for key, name, color in rows["enclaves"]
    ]
    assignments = [Assignment(uid(e), uid(h)) for e, h in rows["enclave_hosts"]]
    profile_map = {p.id.int: p for p in predefined_profiles()}
    if rows["profiles"]:
        bodies = [json.loads(body) for (body,) in rows["profiles"]]
        profile_map.update((p.id.int, p) for p in policy_from_dict({"profiles": bodies}).profiles)
    label_list = [
        SecLabel(uid(key), name, uid(enclave), uid(profile), int(rate), int(violations), role)
        for key, name, enclave, profile, rate, violations, role in rows["seclabels"]
    ]
    vm_switch_map: dict[str, list[str]] = {}
    for vm_id, name in rows["vm_switches"]:
        vm_switch_map.setdefault(vm_id, []).append(name)
    extra_map: dict[str, list[tuple[int, str, str]]] = {}
    for vm_id, position, key, value in rows["vm_extra"]:
        extra_map.setdefault(vm_id, []).append((int(position), key, value))
    vif_map: dict[str, list[tuple[int, VmVif]]] = {}
    for vm_id, position, bridge, mac, ip, model in rows["vm_vifs"]:
        vif_map.setdefault(vm_id, []).append((int(position), VmVif(bridge, mac, ip, model)))
    disk_map: dict[str, list[tuple[int, VmDisk]]] = {}
    for vm_id, position, target, vdev, mode, fmt, cdrom in rows["vm_disks"]:
        disk = VmDisk(target, vdev, mode, fmt, bool(cdrom))
        disk_map.setdefault(vm_id, []).append((int(position), disk))
    # One NetworkRestrictions object for every VM without restrictions (immutable).
    unrestricted = NetworkRestrictions()
    vm_list = []
    for (key, name, enclave, seclabel, guest_type, os, kernel, ramdisk, cmdline, bootloader,
         memory, maxmem, vcpus, maxvcpus, host, run, allow, max_vifs) in rows["vms"]:  # fmt: skip
        extra = extra_map.get(key)
        vm_vif_rows = vif_map.get(key)
        vm_disk_rows = disk_map.get(key)
        net_switches = vm_switch_map.get(key)
        network = (
            unrestricted
            if allow and net_switches is None and max_vifs is None
            else NetworkRestrictions(
                allow_network=bool(allow),
                switches=tuple(net_switches or ()),
                max_vifs=None if max_vifs is None else int(max_vifs),
            )
        )
        vm_list.append(
            Vm(
                id=uid(key),
                name=name,
                enclave=uid(enclave),
                seclabel=uid.opt(seclabel),
                guest_type=guest_type,
                os=os,
                kernel=kernel,
                ramdisk=ramdisk,
                cmdline=cmdline,
                bootloader=bootloader,
                memory_mb=int(memory),
                maxmem_mb=int(maxmem),
                vcpus=int(vcpus),
                maxvcpus=int(maxvcpus),
                host=uid.opt(host),
                run=bool(run),
                network=network,
                extra=tuple((k, v) for _, k, v in sorted(extra)) if extra else (),
                vifs=tuple(f for _, f in sorted(vm_vif_rows, key=_first)) if vm_vif_rows else (),
                disks=tuple(d for _, d in sorted(vm_disk_rows, key=_first)) if vm_disk_rows else (),
            )
        )
    members: dict[str, list[UUID]] = {}
    for conflict_id, enclave_id in rows["conflict_members"]:
        members.setdefault(conflict_id, []).append(uid(enclave_id))
    conflict_list = [
        ConflictSet(uid(key), name, level, tuple(members.get(key, ())))
        for key, name, level in rows["conflict_sets"]
    ]
    dhcp_list = [
        DhcpServer(uid(key), name, uid(enclave), interface)
        for key, name, enclave, interface in rows["dhcp_servers"]
    ]
    return EnterprisePolicy(
        version=version,
        hosts=tuple(host_list),
        enclaves=tuple(enclave_list),
        assignments=tuple(assignments),
        profiles=tuple(profile_map.values()),
        seclabels=tuple(label_list),
        vms=tuple(vm_list),
        conflicts=tuple(conflict_list),
        dhcp_servers=tuple(dhcp_list),
    )


class PolicyRepo:
    """Reads and writes the XE policy tables on a connection of the store.

    Every method runs on the connection it is given: the caller owns the transaction
    (``Store.atomic()`` for writes, ``Store.read()`` for reads).
    """

    # -- head and versions ---------------------------------------------------------------

    async def head(self, conn: AsyncConnection, *, lock: bool = False) -> PolicyHead:
        """The newest version; ``lock`` takes the head row's lock (PostgreSQL ``FOR
        UPDATE``: concurrent writers of other processes wait; SQLite's ``BEGIN IMMEDIATE``
        has already serialised them)."""
        query = select(policy_head.c.version, policy_head.c.sha256).where(policy_head.c.id == 1)
        if lock:
            query = query.with_for_update()
        row = (await conn.execute(query)).one()
        return PolicyHead(int(row.version), str(row.sha256))

    async def quick_head(self, store: Store) -> PolicyHead:
        """The newest version by :meth:`Store.quick_fetch` (every policy read checks it)."""
        rows = await store.quick_fetch("SELECT version, sha256 FROM policy_head WHERE id = 1")
        version, sha256 = rows[0]
        return PolicyHead(int(version), str(sha256))

    async def record_version(self, conn: AsyncConnection, row: VersionRow) -> None:
        """Appends a version and moves the head to it (same transaction as the change)."""
        await conn.execute(
            insert(policy_versions).values(
                version=row.version,
                sha256=row.sha256,
                ts_us=row.ts_us,
                author=row.author,
                action=row.action,
                object=row.object,
                enclaves=json.dumps(sorted(row.enclaves)),
                summary=row.summary,
            )
        )
        await conn.execute(
            update(policy_head)
            .where(policy_head.c.id == 1)
            .values(version=row.version, sha256=row.sha256)
        )

    async def versions(
        self, conn: AsyncConnection, *, before: int | None = None, limit: int = 100
    ) -> list[VersionRow]:
        """Versions, newest first, older than ``before`` when given."""
        query = select(policy_versions).order_by(policy_versions.c.version.desc()).limit(limit)
        if before is not None:
            query = query.where(policy_versions.c.version < before)
        rows = (await conn.execute(query)).all()
        return [_version(r) for r in rows]

    async def version(self, conn: AsyncConnection, number: int) -> VersionRow | None:
        """One version (None if there is no such version)."""
        r = (
            await conn.execute(select(policy_versions).where(policy_versions.c.version == number))
        ).one_or_none()
        return None if r is None else _version(r)

    # -- load ----------------------------------------------------------------------------

    async def load(self, conn: AsyncConnection) -> EnterprisePolicy:
        """The whole policy as committed (the head's version), in one read transaction.

        Rows come through the driver as plain tuples (no per-row type processing), and the
        objects are built with the cyclic collector paused: at 10,000 hosts and 100,000
        VMs both halve the load (see ``benchmarks/xe``, part ``policy-store``).
        """
        head = await self.head(conn)
        quote = conn.dialect.identifier_preparer.quote
        fetched: dict[str, list[tuple[Any, ...]]] = {}
        for table, columns in _LOAD.items():
            sql = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)}"  # noqa: S608
            fetched[table.name] = [tuple(r) for r in (await conn.exec_driver_sql(sql)).all()]
        with collector_paused():
            return _build(head.version, fetched)

    # -- write ---------------------------------------------------------------------------

    async def apply(
        self, conn: AsyncConnection, before: EnterprisePolicy, after: EnterprisePolicy
    ) -> int:
        """Writes what differs between ``before`` (as stored) and ``after``.

        Returns:
            The number of objects and assignments written or deleted.
        """
        count = 0
        removed: list[tuple[_Kind, list[Any]]] = []
        for kind in _KINDS:
            old_items = getattr(before, kind.attr)
            new_items = getattr(after, kind.attr)
            if old_items is not new_items:
                if kind.attr == "profiles":
                    old_items = _stored_profiles(old_items)
                    new_items = _stored_profiles(new_items)
                old = {o.id.int: o for o in old_items}
                for obj in new_items:
                    prev = old.pop(obj.id.int, None)
                    if prev is obj or prev == obj:
                        continue
                    await self._put(conn, kind, obj, new=prev is None)
                    count += 1
                if old:
                    removed.append((kind, list(old.values())))
            if kind.attr == "hosts":  # enclaves and hosts are written: both ends exist
                count += await self._assign(conn, before.assignments, after.assignments)
        for kind, objs in reversed(removed):
            await conn.execute(
                delete(kind.table).where(kind.table.c.id.in_([str(o.id) for o in objs]))
            )
            count += len(objs)
        return count

    async def _put(self, conn: AsyncConnection, kind: _Kind, obj: Any, *, new: bool) -> None:
        row = kind.row(obj)
        key = row.pop("id")
        if new:
            await conn.execute(insert(kind.table).values(id=key, **row))
        else:
            await conn.execute(update(kind.table).where(kind.table.c.id == key).values(**row))
        for child, child_rows in kind.children(obj).items():
            if not new:
                await conn.execute(delete(child).where(child.c[kind.child_key] == key))
            if child_rows:
                await conn.execute(insert(child), child_rows)

    async def _assign(
        self,
        conn: AsyncConnection,
        before: tuple[Assignment, ...],
        after: tuple[Assignment, ...],
    ) -> int:
        if before is after:
            return 0
        old, new = set(before), set(after)
        added = [{"enclave_id": str(a.enclave), "host_id": str(a.host)} for a in new - old]
        if added:
            await conn.execute(insert(enclave_hosts), added)
        # Assignments of a removed host or enclave go with it (ON DELETE CASCADE); deleting
        # them here as well is harmless and keeps a removed assignment of live ends exact.
        for a in old - new:
            await conn.execute(
                delete(enclave_hosts).where(
                    enclave_hosts.c.enclave_id == str(a.enclave),
                    enclave_hosts.c.host_id == str(a.host),
                )
            )
        return len(added) + len(old - new)

    async def insert_all(
        self,
        conn: AsyncConnection,
        policy: EnterprisePolicy,
        *,
        bulk: Callable[[Table, Sequence[str], list[tuple[Any, ...]]], Any] | None = None,
    ) -> None:
        """Writes every object of ``policy`` into empty tables (import, benchmarks).

        Args:
            bulk: ``(table, columns, rows)`` → awaitable: a driver-level batch insert
                (``Store.insert_sql`` + ``exec_driver_sql``); default: Core ``insert``.
        """
        batches: dict[Table, list[dict[str, Any]]] = {}

        def add(table: Table, row: Mapping[str, Any]) -> None:
            batches.setdefault(table, []).append(dict(row))

        for kind in _KINDS:
            items = getattr(policy, kind.attr)
            if kind.attr == "profiles":
                items = _stored_profiles(items)
            for obj in items:
                add(kind.table, kind.row(obj))
                for child, child_rows in kind.children(obj).items():
                    for child_row in child_rows:
                        add(child, child_row)
            if kind.attr == "hosts":
                for a in policy.assignments:
                    add(enclave_hosts, {"enclave_id": str(a.enclave), "host_id": str(a.host)})
        order = [enclaves, hosts, host_storage, host_switches, enclave_hosts, profiles]
        order += [seclabels, vms, vm_switches, vm_extra, vm_vifs, vm_disks]
        order += [conflict_sets, conflict_members]
        order += [dhcp_servers]
        for table in order:
            table_rows = batches.get(table)
            if not table_rows:
                continue
            if bulk is None:
                for start in range(0, len(table_rows), 1000):
                    await conn.execute(insert(table), table_rows[start : start + 1000])
            else:
                columns = list(table_rows[0])
                await bulk(table, columns, [tuple(r[c] for c in columns) for r in table_rows])

    async def delete_all(self, conn: AsyncConnection) -> None:
        """Empties every policy table (children first); versions and the head stay."""
        for table in (
            dhcp_servers,
            conflict_members,
            conflict_sets,
            vm_disks,
            vm_vifs,
            vm_extra,
            vm_switches,
            vms,
            seclabels,
            profiles,
            enclave_hosts,
            host_switches,
            host_storage,
            hosts,
            enclaves,
        ):
            await conn.execute(delete(table))
