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
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store._errors import TagNameTaken
from enterprise_store.model import Enclave, EnterprisePolicy, Host
from enterprise_store.policy import host_owned
from enterprise_store.policy._slice import _tag_refs
from enterprise_store.store._compute_schema import host_info
from xps.policy import PolicyError, parse_policy

__all__ = ["HostTags", "TagNameTaken"]

_CACHE_MAX = 100_000


def _owned_tags(xml: str) -> dict[str, UUID]:
    """Name -> UUID of the tags the host's own objects use (what a slice keeps)."""
    try:
        policy = parse_policy(xml.encode("utf-8"))
    except (PolicyError, ValueError, TypeError):
        return {}  # an export XE cannot read: nothing known (propagation reports it)
    owned = host_owned(policy)
    refs = _tag_refs(owned)
    return {t.name: t.id for t in owned.tags if t.id in refs}


class HostTags:
    """The tags each host owns, and the check of a policy change against them."""

    def __init__(self) -> None:
        # host id -> (export sha256, name -> tag UUID)
        self._cache: dict[str, tuple[str | None, dict[str, UUID]]] = {}

    async def owned(
        self, conn: AsyncConnection, hosts: Iterable[str]
    ) -> dict[str, dict[str, UUID]]:
        """Name -> UUID of the tags each of ``hosts`` owns (hosts XE added without
        reading them own none that XE knows of)."""
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
                tags = _owned_tags(r.prior_policy_xml) if r.prior_policy_xml else {}
                self._cache[r.host_id] = (r.prior_policy_sha256, tags)
        return {r.host_id: self._cache[r.host_id][1] for r in rows if r.host_id in self._cache}

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
