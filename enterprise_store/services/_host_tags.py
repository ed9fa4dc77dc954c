"""XE's enclaves versus the tags a host owns: one host never carries two tags of one name.

In the report's model an enclave *is* a tag (one UUID, the same on every host that
carries it). A host XE takes over may already tag its own switches, storage locations or
devices (§4.3) with tags XE does not know; propagation keeps those (``merge_host_owned``
retains a tag a host-owned object still uses). An XE enclave with the *name* of such a
tag but another UUID would make the host's slice carry two tags of one name, which XPS
refuses ("name used by 2 tags"): propagation to that host failed on every retry.

So the Policy service refuses the mistake where it is made, with both objects named:
creating an enclave named like a tag a host owns (with another UUID), renaming an
enclave to such a name while it is assigned to that host, and assigning an enclave to a
host that owns a tag of its name. The fix the message offers is the model's: create the
enclave with the host's tag's UUID (``id``), so XE's enclave *is* that tag (as importing
a host's tag does), or choose another name.

The tags a host owns are read from the policy it enforced when XE added it (its export
in ``host_info``; the host keeps its own objects, and XE keeps them in every slice),
parsed once per host and export hash.

The same export says which tag each of the host's own switches carries. XE adds a host
before the enclaves of its tags may exist (§4.2: hosts first, then enclaves, then
assignments), so it stores the host's switches unbound; ``bind`` binds a switch to the
enclave whose UUID is the switch's own tag once that enclave exists *and* is assigned to
the host, inside the write that creates or assigns it (one version, one audit record).
Nothing new is stored: the switch's own tag stays in the host's export, and the policy
document (and its hash) changes only by the binding itself.

``unbind`` is its inverse: unassigning an enclave from a host (the enclave still exists)
unbinds the host's switches bound to it, in the same write. A host must not keep a switch
of an enclave it no longer carries (the enclave could not be deleted for it, and a slice
would name a network the host no longer serves); while a VM of the enclave placed on the
host has an XE VIF on such a switch the write is refused (``XE-HOST-SWITCH-IN-USE``)
naming the VMs, the switch and the host. Re-assigning binds the switch again (``bind``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import NamedTuple
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store._errors import TagNameTaken
from enterprise_store.checker import Finding, Severity
from enterprise_store.model import Enclave, EnterprisePolicy, Host
from enterprise_store.policy import host_owned
from enterprise_store.policy._slice import _tag_refs
from enterprise_store.store._compute_schema import host_info
from xps.policy import PolicyError, parse_policy

__all__ = ["IN_USE", "Bound", "HostTags", "TagNameTaken", "unbind"]

IN_USE = "XE-HOST-SWITCH-IN-USE"
"""The code of an unassignment refused because VMs still use the host's switch."""

_CACHE_MAX = 100_000


class _Own(NamedTuple):
    """What a host's own policy says: its tags (name -> UUID) and its switches' tags
    (switch name -> tag UUID)."""

    tags: dict[str, UUID]
    switches: dict[str, UUID]


_NOTHING = _Own({}, {})


class Bound(NamedTuple):
    """A host's switch that a write bound to an enclave (the switch's own tag)."""

    host: str
    switch: str
    enclave: str


def unbind(
    before: EnterprisePolicy, after: EnterprisePolicy
) -> tuple[EnterprisePolicy, list[Bound], list[Finding]]:
    """Unbinds the switches of hosts from the enclaves ``after`` no longer assigns to them
    (an enclave ``after`` deletes keeps its bindings: its deletion is refused for them).

    Returns:
        ``after`` with the switches unbound (``after`` itself when there are none), what
        was unbound (host and switch name order), and an error finding per switch that
        VMs of the enclave placed on the host (in ``after``) still use through an XE VIF;
        such a switch stays bound.
    """
    if before.assignments is after.assignments:
        return after, [], []
    kept = set(after.assignments)
    gone = [a for a in before.assignments if a not in kept]
    enclaves = after.ids("enclaves")
    hosts = after.ids("hosts")
    removed: dict[UUID, set[UUID]] = {}
    for a in gone:
        if a.enclave in enclaves and a.host in hosts:
            removed.setdefault(a.host, set()).add(a.enclave)
    unbound: list[Bound] = []
    refused: list[Finding] = []
    for host in sorted((hosts[k] for k in removed), key=lambda h: h.name):
        users: dict[tuple[str, UUID], list[str]] = {}
        for vm in after.vms_on(host.id):
            if vm.enclave in removed[host.id]:
                for bridge in {v.bridge for v in vm.vifs}:
                    users.setdefault((bridge, vm.enclave), []).append(vm.name)
        switches = []
        for s in host.switches:
            if s.enclave is not None and s.enclave in removed[host.id]:
                enc = enclaves[s.enclave]
                vms = sorted(users.get((s.name, s.enclave), ()))
                if vms:
                    refused.append(_in_use(host, s.name, enc, vms))
                else:
                    unbound.append(Bound(host.name, s.name, enc.name))
                    s = dataclasses.replace(s, enclave=None)
            switches.append(s)
        if tuple(switches) != host.switches:
            after = after.with_host(dataclasses.replace(host, switches=tuple(switches)))
    return after, unbound, refused


def _in_use(host: Host, switch: str, enc: Enclave, vms: list[str]) -> Finding:
    named = ", ".join(repr(v) for v in vms[:10]) + (
        f" and {len(vms) - 10} more" if len(vms) > 10 else ""
    )
    return Finding(
        IN_USE,
        Severity.ERROR,
        f"host {host.name!r} ({host.id}): switch {switch!r} serves enclave {enc.name!r} "
        f"({enc.id}), and VM(s) {named} of that enclave placed on the host still use it",
        (host.name, switch, enc.name, *vms),
        (host.id, enc.id),
        "host",
        "switches",
        f"move the VMs off host {host.name!r} or remove their VIFs on {switch!r} first",
    )


def _read_own(xml: str) -> _Own:
    """The tags the host's own objects use (what a slice keeps) and its switches' tags."""
    try:
        policy = parse_policy(xml.encode("utf-8"))
    except (PolicyError, ValueError, TypeError):
        return _NOTHING  # an export XE cannot read: nothing known (propagation reports it)
    owned = host_owned(policy)
    refs = _tag_refs(owned)
    return _Own(
        {t.name: t.id for t in owned.tags if t.id in refs},
        {s.name: s.tag for s in owned.switches},
    )


class HostTags:
    """The tags each host owns, and the check of a policy change against them."""

    def __init__(self) -> None:
        # host id -> (export sha256, what the export says)
        self._cache: dict[str, tuple[str | None, _Own]] = {}

    async def owned(
        self, conn: AsyncConnection, hosts: Iterable[str]
    ) -> dict[str, dict[str, UUID]]:
        """Name -> UUID of the tags each of ``hosts`` owns (hosts XE added without
        reading them own none that XE knows of)."""
        return {k: v.tags for k, v in (await self._own(conn, hosts)).items()}

    async def switch_tags(
        self, conn: AsyncConnection, hosts: Iterable[str]
    ) -> dict[str, dict[str, UUID]]:
        """Switch name -> the tag UUID the switch carries in each host's own policy."""
        return {k: v.switches for k, v in (await self._own(conn, hosts)).items()}

    async def _own(self, conn: AsyncConnection, hosts: Iterable[str]) -> dict[str, _Own]:
        wanted = sorted(set(hosts))
        if not wanted:
            return {}
        rows = (
            await conn.execute(
                select(host_info.c.host_id, host_info.c.prior_policy_sha256).where(
                    host_info.c.host_id.in_(wanted)
                )
            )
        ).all()
        stale = [
            r.host_id
            for r in rows
            if r.host_id not in self._cache or self._cache[r.host_id][0] != r.prior_policy_sha256
        ]
        if stale:
            fresh = await conn.execute(
                select(
                    host_info.c.host_id,
                    host_info.c.prior_policy_sha256,
                    host_info.c.prior_policy_xml,
                ).where(host_info.c.host_id.in_(stale))
            )
            if len(self._cache) > _CACHE_MAX:
                self._cache.clear()
            for r in fresh:
                own = _read_own(r.prior_policy_xml) if r.prior_policy_xml else _NOTHING
                self._cache[r.host_id] = (r.prior_policy_sha256, own)
        return {r.host_id: self._cache[r.host_id][1] for r in rows if r.host_id in self._cache}

    async def bind(
        self, conn: AsyncConnection, before: EnterprisePolicy, after: EnterprisePolicy
    ) -> tuple[EnterprisePolicy, list[Bound]]:
        """Binds the unbound switches of hosts that ``after`` newly assigns an enclave
        (or assigns a newly created enclave) whose UUID is the switch's own tag.

        A switch is bound only to an enclave its host is assigned to; a switch already
        bound is left as it is.

        Returns:
            ``after`` with the bindings made (``after`` itself when there are none), and
            what was bound, in host and switch name order.
        """
        if before.enclaves is after.enclaves and before.assignments is after.assignments:
            return after, []
        was = before.ids("enclaves")
        old = set(before.assignments)
        fresh: dict[UUID, set[UUID]] = {}
        for a in after.assignments:
            if a not in old or a.enclave not in was:
                fresh.setdefault(a.host, set()).add(a.enclave)
        if not fresh:
            return after, []
        hosts = after.ids("hosts")
        candidates = [
            h
            for key in fresh
            if (h := hosts.get(key)) is not None and any(s.enclave is None for s in h.switches)
        ]
        if not candidates:
            return after, []
        own = await self.switch_tags(conn, [str(h.id) for h in candidates])
        enclaves = after.ids("enclaves")
        bound: list[Bound] = []
        for host in sorted(candidates, key=lambda h: h.name):
            tags = own.get(str(host.id), {})
            changed = False
            switches = []
            for s in host.switches:
                tag = tags.get(s.name)
                if s.enclave is None and tag in fresh[host.id] and tag in enclaves:
                    s = dataclasses.replace(s, enclave=tag)
                    bound.append(Bound(host.name, s.name, enclaves[tag].name))
                    changed = True
                switches.append(s)
            if changed:
                after = after.with_host(dataclasses.replace(host, switches=tuple(switches)))
        return after, bound

    async def check(
        self, conn: AsyncConnection, before: EnterprisePolicy, after: EnterprisePolicy
    ) -> None:
        """Refuses ``after`` when an enclave it creates, renames or assigns would share its
        name with a tag a host owns under another UUID.

        Raises:
            TagNameTaken: Naming the enclave, the host and the host's tag (with UUIDs).
        """
        if before.enclaves is after.enclaves and before.assignments is after.assignments:
            return
        known = after.ids("enclaves")
        was = before.ids("enclaves")
        pairs: list[tuple[Enclave, Host | None]] = []
        for enc in after.enclaves:
            old = was.get(enc.id)
            if old is None:
                pairs.append((enc, None))  # created: every host that owns a tag of its name
            elif old.name != enc.name:
                pairs.extend((enc, h) for h in after.hosts_of(enc.id))
        if before.assignments is not after.assignments:
            hosts = after.ids("hosts")
            for a in set(after.assignments) - set(before.assignments):
                target, on = known.get(a.enclave), hosts.get(a.host)
                if target is not None and on is not None:
                    pairs.append((target, on))
        if not pairs:
            return
        every = any(h is None for _, h in pairs)
        ids = [str(h.id) for h in after.hosts] if every else [str(h.id) for _, h in pairs if h]
        owned = await self.owned(conn, ids)
        if not owned:
            return
        names = {str(h.id): h for h in after.hosts}
        for enc, host in pairs:
            targets = [host] if host is not None else list(after.hosts)
            for h in targets:
                tag = owned.get(str(h.id), {}).get(enc.name)
                if tag is None or tag == enc.id or tag in known:
                    continue
                raise TagNameTaken(_message(enc, names[str(h.id)], tag, created=host is None))


def _message(enc: Enclave, host: Host, tag: UUID, *, created: bool) -> str:
    clash = (
        f"host {host.name!r} owns a tag named {enc.name!r} (UUID {tag}; its own switches, "
        f"storage or devices use it), and enclave {enc.name!r} has UUID {enc.id}: one host "
        "cannot carry two tags of one name"
    )
    fix = (
        f"create the enclave with id {tag} to take the host's tag over (XE's enclave is "
        "then that tag), or choose another name"
    )
    if not created:
        fix = (
            f"delete enclave {enc.name!r} and create it with id {tag} to take the host's "
            "tag over, or choose another name"
        )
    return f"{clash}: {fix}"
