"""The readable diff of every policy version (issue #14 §3), recorded in the write that
makes the version and read back by ``GET /policy/versions/{version}/diff``.

XE keeps no whole document per version. What it keeps of each version instead is, per
part of the policy the version changed, the unified diff (``n=2``) of that part's text
from the version before to this one:

- each enclave's part: :func:`~enterprise_store.policy.enclave_text` (the enclave, the
  hosts that carry it, its SecLabels and their profile, its VMs with placement, the
  conflict sets naming it, its DHCP servers): the text a two-person approval reviews;
- the enterprise part (scope ``enterprise``): :func:`enterprise_text`, what no enclave's
  text holds: each host's own lines (panel order, address, colour, CPU facts, shared
  storage, switches) and every hypercall profile (its hypercalls and sub-ops).

Enclaves a write cannot have changed are skipped by object identity
(:func:`~enterprise_store.services._approval_diff.unchanged`: snapshots share the
objects a write did not make), so a write of one VM renders two texts of one enclave.
A row is cut at :data:`MAX_LINES` lines (``… N more lines``). A version that changed no
text keeps one empty marker row; a version made before store migration 0010 has no row
at all, and the API answers an empty list with the reason.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Set
from dataclasses import dataclass
from itertools import compress
from operator import is_not
from typing import TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store.model import (
    Assignment,
    ConflictSet,
    DhcpServer,
    EnterprisePolicy,
    Host,
    SecLabel,
    Vm,
)
from enterprise_store.policy import enclave_text
from enterprise_store.services._approval_diff import unified
from enterprise_store.store._version_diff_repo import VersionDiffRepo, VersionDiffRow
from enterprise_store.store._version_diff_schema import ENTERPRISE, NOTHING
from xps.policy import HypercallProfile

__all__ = [
    "BEFORE_DIFFS",
    "ENTERPRISE",
    "MAX_LINES",
    "ScopeDiff",
    "VersionDiff",
    "bounded",
    "enterprise_text",
    "read_version_diffs",
    "record_version_diffs",
    "version_diff_rows",
]

MAX_LINES = 2000
"""Lines of one scope's diff kept; the rest is said as ``… N more lines``."""

BEFORE_DIFFS = (
    "made before XE kept the diff of every version (store migration 0010): "
    "only its SHA-256 identifies it"
)
"""The reason a version has no diffs at all."""

#: Above this many enclaves a write renders its texts in a thread (an import).
_WHOLE = 64

_REPO = VersionDiffRepo()
T = TypeVar("T")


# C0/C1 controls and bidirectional overrides (as enclave_text): names reach terminals.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _hex(rgb: tuple[int, ...]) -> str:
    if len(rgb) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in rgb):
        return "#{:02x}{:02x}{:02x}".format(*rgb)
    return str(rgb)


def _host_lines(policy: EnterprisePolicy, host: Host, names: dict[UUID, str]) -> list[str]:
    lines = [f"  {host.order:>3}  {host.name}  {host.address}:{host.port}  {_hex(host.color)}"]
    lines[0] += f"  {host.id}"
    cpu = host.cpu
    if cpu.known:
        known = (("family", cpu.family), ("model", cpu.model), ("stepping", cpu.stepping))
        facts = [f"{k} {v}" for k, v in known if v is not None]
        lines.append(f"       CPU {cpu.vendor}{', ' + ', '.join(facts) if facts else ''}")
        if cpu.flags:
            lines.append(f"       CPU flags {' '.join(sorted(cpu.flags))}")
    if host.shared_storage:
        lines.append(f"       shared storage {', '.join(host.shared_storage)}")
    for s in host.switches:
        tag = names.get(s.enclave, str(s.enclave)) if s.enclave else "untagged"
        lines.append(f"       switch {s.name} ({tag})")
    return lines


def _profile_lines(profile: HypercallProfile) -> list[str]:
    family = ", ".join(sorted(g.value for g in profile.guest_family)) or "any"
    calls = " ".join(str(n) for n in sorted(profile.hypercalls)) or "none"
    lines = [f"  {profile.name}  {profile.id}: for {family}; hypercalls {calls}"]
    for nr, subs in profile.subops:
        allowed = " ".join(str(s) for s in sorted(subs)) or "none"
        lines.append(f"       sub-ops of {nr}: {allowed}")
    return lines


def enterprise_text(
    policy: EnterprisePolicy,
    hosts: Set[int] | None = None,
    profiles: Set[int] | None = None,
) -> str:
    """The enterprise part of the policy as plain text, deterministic, without the version:
    each host's own lines (panel order, name, address, colour, CPU facts, shared storage,
    switches and the enclave each is tagged for) and every hypercall profile (hypercalls,
    sub-ops, guest family). Which enclaves a host carries and which VMs it runs are each
    enclave's text, not this one. ``hosts``/``profiles`` (``UUID.int``) keep only those
    (a write's diff is of the objects it made)."""
    names = {e.id: e.name for e in policy.enclaves}
    lines = []
    shown = [h for h in policy.hosts if hosts is None or h.id.int in hosts]
    if shown:
        lines.append("Hosts (panel order)")
        for h in shown:
            lines += _host_lines(policy, h, names)
    kept = [p for p in policy.profiles if profiles is None or p.id.int in profiles]
    if kept:
        lines.append("Hypercall profiles")
        for p in kept:
            lines += _profile_lines(p)
    return "".join(_clean(line) + "\n" for line in lines)


def bounded(text: str, limit: int = MAX_LINES) -> str:
    """A diff cut to ``limit`` lines, the rest said as ``… N more lines``."""
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    return "\n".join([*lines[:limit], f"… {len(lines) - limit} more lines"]) + "\n"


def _diff(old: str, new: str, name: str, version: int) -> str:
    return bounded(unified(old, new, f"{name} (v{version - 1})", f"{name} (v{version})"))


def _changed(before: tuple[T, ...], after: tuple[T, ...]) -> list[T]:
    """The objects of one collection a write made or dropped, by identity (snapshots share
    the objects a write did not make). The shared head and tail are skipped in C
    (``map(is_not)``): a write of one object costs a scan, not a set of 10,000 ids."""
    if before is after:
        return []
    n = min(len(before), len(after))
    head = next(compress(range(n), map(is_not, before, after)), n)
    left = n - head
    tail = next(compress(range(left), map(is_not, reversed(before), reversed(after))), left)
    old, new = before[head : len(before) - tail], after[head : len(after) - tail]
    was, now = set(map(id, old)), set(map(id, new))
    return [o for o in new if id(o) not in was] + [o for o in old if id(o) not in now]


@dataclass(frozen=True, slots=True)
class _Touched:
    """What a write may have changed the text of (``UUID.int``s)."""

    enclaves: set[int]
    hosts: set[int]
    profiles: set[int]


def touched(before: EnterprisePolicy, after: EnterprisePolicy) -> _Touched:
    """The enclaves whose ``enclave_text`` and the hosts and profiles whose enterprise
    lines may differ between two snapshots, found from the objects that differ by
    identity (a write of one VM: that VM's enclave, nothing else)."""
    enclaves: set[int] = set()
    profiles = {p.id.int for p in _changed(before.profiles, after.profiles)}
    hosts = {h.id.int for h in _changed(before.hosts, after.hosts)}
    for v in _changed(before.vms, after.vms):
        enclaves.add(v.enclave.int)
    for d in _changed(before.dhcp_servers, after.dhcp_servers):
        enclaves.add(d.enclave.int)
    for c in _changed(before.conflicts, after.conflicts):
        enclaves.update(e.int for e in c.enclaves)
    for a in _changed(before.assignments, after.assignments):
        enclaves.add(a.enclave.int)
    labels = _changed(before.seclabels, after.seclabels)
    enclaves.update(s.enclave.int for s in labels)
    renamed = {e.id.int for e in _changed(before.enclaves, after.enclaves)}
    if renamed:
        # its name is in the conflict sets naming it and the switches tagged for it
        enclaves |= renamed
        for policy in (before, after):
            for c in policy.conflicts:
                if any(e.int in renamed for e in c.enclaves):
                    enclaves.update(e.int for e in c.enclaves)
            for h in policy.hosts:
                if any(s.enclave is not None and s.enclave.int in renamed for s in h.switches):
                    hosts.add(h.id.int)
    if profiles:  # a SecLabel's line names its profile and counts its hypercalls
        for policy in (before, after):
            enclaves.update(s.enclave.int for s in policy.seclabels if s.profile.int in profiles)
    if labels:  # a VM's line names its SecLabel
        ids = {s.id.int for s in labels}
        for policy in (before, after):
            enclaves.update(
                v.enclave.int for v in policy.vms if v.seclabel and v.seclabel.int in ids
            )
    if hosts:  # a host's name is in the text of the enclaves it carries and VMs it runs
        for policy in (before, after):
            enclaves.update(a.enclave.int for a in policy.assignments if a.host.int in hosts)
            enclaves.update(v.enclave.int for v in policy.vms if v.host and v.host.int in hosts)
    return _Touched(enclaves, hosts, profiles)


def _parts(policy: EnterprisePolicy, keys: Set[int]) -> dict[int, EnterprisePolicy]:
    """Per enclave of ``keys``, the part of ``policy`` that ``enclave_text`` reads, as a
    small snapshot: ``enclave_text(_parts(p, ks)[k], k) == enclave_text(p, k)``. One pass
    over each collection, never the whole snapshot's indexes (tens of ms at 10,000
    assignments) nor ``enclave_text``'s table of every enclave's name per enclave (an
    import of 1,000 enclaves would hash a million UUIDs)."""
    vms: dict[int, list[Vm]] = defaultdict(list)
    for v in policy.vms:
        if v.enclave.int in keys:
            vms[v.enclave.int].append(v)
    assigned: dict[int, list[Assignment]] = defaultdict(list)
    for a in policy.assignments:
        if a.enclave.int in keys:
            assigned[a.enclave.int].append(a)
    labels: dict[int, list[SecLabel]] = defaultdict(list)
    for s in policy.seclabels:
        if s.enclave.int in keys:
            labels[s.enclave.int].append(s)
    conflicts: dict[int, list[ConflictSet]] = defaultdict(list)
    for c in policy.conflicts:
        for e in {e.int for e in c.enclaves} & keys:
            conflicts[e].append(c)
    servers: dict[int, list[DhcpServer]] = defaultdict(list)
    for d in policy.dhcp_servers:
        if d.enclave.int in keys:
            servers[d.enclave.int].append(d)
    on: dict[int, set[int]] = {}
    named: dict[int, set[int]] = {}
    other: dict[int, set[int]] = {}  # SecLabels of another enclave its VMs name
    for key in keys:
        mine = vms.get(key, ())
        on[key] = {a.host.int for a in assigned.get(key, ())}
        on[key].update(v.host.int for v in mine if v.host is not None)
        named[key] = {key}.union(*({e.int for e in c.enclaves} for c in conflicts.get(key, ())))
        other[key] = {v.seclabel.int for v in mine if v.seclabel is not None}
        other[key].difference_update(s.id.int for s in labels.get(key, ()))
    need = set().union(*on.values())
    hosts = {h.id.int: h for h in policy.hosts if h.id.int in need}
    need = set().union(*named.values())
    enclaves = {e.id.int: e for e in policy.enclaves if e.id.int in need}
    need = set().union(*other.values())
    label_ids = {s.id.int: s for s in policy.seclabels if s.id.int in need} if need else {}
    out = {}
    for key in keys:
        out[key] = EnterprisePolicy(
            version=policy.version,
            hosts=tuple(hosts[h] for h in on[key] if h in hosts),
            enclaves=tuple(enclaves[e] for e in named[key] if e in enclaves),
            assignments=tuple(assigned.get(key, ())),
            profiles=policy.profiles,
            seclabels=(*labels.get(key, ()), *(label_ids[s] for s in other[key] if s in label_ids)),
            vms=tuple(vms.get(key, ())),
            conflicts=tuple(conflicts.get(key, ())),
            dhcp_servers=tuple(servers.get(key, ())),
        )
    return out


def version_diff_rows(
    before: EnterprisePolicy, after: EnterprisePolicy, version: int
) -> list[VersionDiffRow]:
    """The rows version ``version`` (``before`` → ``after``) gets: one for the enterprise
    part, one per enclave whose text changed (by UUID), or the empty marker row."""
    rows: list[VersionDiffRow] = []
    t = touched(before, after)
    if t.hosts or t.profiles:
        old = enterprise_text(before, t.hosts, t.profiles)
        new = enterprise_text(after, t.hosts, t.profiles)
        if old != new:
            text = _diff(old, new, "enterprise", version)
            rows.append(VersionDiffRow(version, ENTERPRISE, "enterprise", text))
    if t.enclaves:
        was, now = _parts(before, t.enclaves), _parts(after, t.enclaves)
        for key in sorted(t.enclaves):
            uid = UUID(int=key)
            old, new = enclave_text(was[key], uid), enclave_text(now[key], uid)
            if old == new:
                continue
            enc = now[key].ids("enclaves").get(uid) or was[key].ids("enclaves").get(uid)
            name = _clean(enc.name) if enc is not None else str(uid)
            rows.append(VersionDiffRow(version, str(uid), name, _diff(old, new, name, version)))
    return rows or [VersionDiffRow(version, NOTHING, "", "")]


async def record_version_diffs(
    conn: AsyncConnection, before: EnterprisePolicy, after: EnterprisePolicy
) -> None:
    """Records the diffs of version ``after.version`` in the write's transaction; a change
    of many enclaves (an import) renders its texts in a thread, off the event loop."""
    if len(touched(before, after).enclaves) > _WHOLE:
        rows = await asyncio.to_thread(version_diff_rows, before, after, after.version)
    else:
        rows = version_diff_rows(before, after, after.version)
    await _REPO.add(conn, rows)


@dataclass(frozen=True, slots=True)
class ScopeDiff:
    """One part's change in one version: ``scope`` is an enclave UUID or ``enterprise``."""

    scope: str
    name: str
    diff: str


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """What XE keeps of one version's change.

    Attributes:
        recorded: False for a version made before XE kept diffs (``diffs`` is empty and
            ``reason`` says why).
        diffs: The parts it changed that the caller may read, enterprise first, then
            enclaves by UUID.
    """

    version: int
    recorded: bool
    reason: str | None
    diffs: tuple[ScopeDiff, ...]


async def read_version_diffs(conn: AsyncConnection, version: int) -> list[VersionDiffRow]:
    """The rows of one version (none: made before store migration 0010)."""
    return await _REPO.of_version(conn, version)
