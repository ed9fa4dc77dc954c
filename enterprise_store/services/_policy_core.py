"""The Policy service's machinery: the cached snapshot, the checked, versioned, audited write.

A write, in one transaction:

1. lock the policy head (PostgreSQL: ``SELECT … FOR UPDATE``, so a second server waits;
   SQLite: ``BEGIN IMMEDIATE`` already did) and take the snapshot it names — the cached
   one when its hash matches the head, else a reload (another server wrote);
2. make the new snapshot with ``with_*``/``without`` and run ``check_change`` on it: an
   error finding refuses the write with *every* finding (:class:`PolicyRefused`) and
   nothing is written;
3. write the rows that differ, a ``policy_versions`` row (version + 1, the canonical
   SHA-256 of the new snapshot) and the head;
4. the audit record (``ok``, or ``refused:<code>`` after the change's savepoint rolled
   back) commits with it.

The snapshot is cached after the commit and checked against the head on every read (one
indexed row), so reads cost no reload while nobody writes, and a write by another process
is seen at the next read.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from enterprise_store._errors import (
    Conflict,
    InvalidInput,
    OutOfScope,
    PolicyRefused,
    XeError,
)
from enterprise_store.audit import AuditEntry, AuditLog
from enterprise_store.checker import check_change, refuse_errors
from enterprise_store.model import (
    EnterprisePolicy,
)
from enterprise_store.services._access import Principal, Role, require_role, require_scope
from enterprise_store.services._approval_diff import record_approvals
from enterprise_store.services._host_tags import Bound, HostTags, unbind
from enterprise_store.services._policy_digest import Digester
from enterprise_store.services._policy_fields import Refs, build, parse_uuid
from enterprise_store.services._policy_scope import ScopedViews
from enterprise_store.services._policy_types import (
    PolicyQuery,
    PolicyVersion,
    Written,
)
from enterprise_store.services._types import Page, from_us
from enterprise_store.services._version_diffs import record_version_diffs
from enterprise_store.store import Store
from enterprise_store.store._approval_repo import ApprovalRepo
from enterprise_store.store._policy_repo import PolicyHead, PolicyRepo, VersionRow

__all__ = ["KIND", "LABEL", "Note", "PolicyCore", "audit_text", "enclaves_of", "sort_key"]

T = TypeVar("T")

KIND = {
    "enclaves": "enclave",
    "hosts": "host",
    "seclabels": "seclabel",
    "vms": "vm",
    "conflicts": "conflict",
    "dhcp_servers": "dhcp",
}
LABEL = {
    "enclaves": "enclave",
    "hosts": "host",
    "seclabels": "SecLabel",
    "vms": "VM",
    "conflicts": "conflict set",
    "dhcp_servers": "DHCP server",
}


@dataclass
class Note:
    """What a write tells its audit record and its version row (filled while it runs)."""

    object: str
    summary: str = ""
    enclaves: set[str] = field(default_factory=set)
    details: dict[str, Any] = field(default_factory=dict)


def enclaves_of(attr: str, obj: Any) -> frozenset[str]:
    """The enclaves an object belongs to (empty for hosts: enterprise-wide)."""
    if attr == "enclaves":
        return frozenset({str(obj.id)})
    if attr == "conflicts":
        return frozenset(str(e) for e in obj.enclaves)
    if attr in ("seclabels", "vms", "dhcp_servers"):
        return frozenset({str(obj.enclave)})
    return frozenset()


def audit_text(value: Any) -> str:
    """Caller-given text for an audit record, before it is validated: at most 64 characters,
    lone surrogates escaped (the audit chain hashes UTF-8)."""
    text = str(value)[:64] if isinstance(value, str | UUID) else "?"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def sort_key(attr: str, obj: Any) -> list[Any]:
    if attr == "hosts":
        return [obj.order, obj.name, str(obj.id)]
    return [obj.name, str(obj.id)]


def _note_switches(note: Note, verb: str, preposition: str, switches: Sequence[Bound]) -> None:
    """Records in the audit note the host switches a write ``verb`` ("bound"/"unbound")
    ``preposition`` their enclaves: every one in the details, the first five in the summary."""
    if not switches:
        return
    note.details[f"{verb}_switches"] = [
        {"host": b.host, "switch": b.switch, "enclave": b.enclave} for b in switches
    ]
    note.summary += f"; {verb} " + ", ".join(
        f"switch {b.switch!r} of host {b.host!r} {preposition} enclave {b.enclave!r}"
        for b in switches[:5]
    )
    if len(switches) > 5:
        note.summary += f" and {len(switches) - 5} more"


class PolicyCore:
    """Snapshot cache, reads of one collection and the write protocol; the public methods
    are :class:`~enterprise_store.services.PolicyService`'s.

    Args:
        store: The open store.
        audit: The audit log of that store.
        clock: Wall-clock seconds (tests pass a fake one).
    """

    def __init__(
        self, store: Store, audit: AuditLog, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._repo = PolicyRepo()
        self._approval_repo = ApprovalRepo()
        self._host_tags = HostTags()  # enclave names vs the tags hosts own (_host_tags)
        self._digester = Digester()
        self._views = ScopedViews()
        # head sha256 -> snapshot; the newest two (the committed one and the one a write
        # is about to commit) are enough.
        self._known: dict[str, EnterprisePolicy] = {}
        self._load_lock = asyncio.Lock()

    def _remember(self, policy: EnterprisePolicy, sha256: str) -> None:
        self._known[sha256] = policy
        while len(self._known) > 2:
            del self._known[next(iter(self._known))]

    def _cached(self, head: PolicyHead) -> EnterprisePolicy | None:
        hit = self._known.get(head.sha256)
        return hit if hit is not None and hit.version == head.version else None

    async def _state(self) -> tuple[EnterprisePolicy, str]:
        head = await self._repo.quick_head(self._store)
        hit = self._cached(head)
        if hit is not None:
            return hit, head.sha256
        # One reload at a time: the readers behind it find the snapshot cached.
        async with self._load_lock:
            async with self._store.read() as conn:
                head = await self._repo.head(conn)
                hit = self._cached(head)
                if hit is not None:
                    return hit, head.sha256
                policy = await self._repo.load(conn)
            self._remember(policy, head.sha256)
            return policy, head.sha256

    async def _view(self, caller: Principal, action: str) -> tuple[EnterprisePolicy, str]:
        require_role(caller, Role.AUDITOR, action)
        policy, sha = await self._state()
        return self._views.get(policy, sha, caller.scopes), sha

    async def _list(self, caller: Principal, attr: str, query: PolicyQuery) -> Page[Any]:
        view, _ = await self._view(caller, f"list {LABEL[attr]}s")
        if not 1 <= query.limit <= 1000:
            raise InvalidInput("limit is 1 to 1000")
        refs = Refs(caller, view)

        def ref(kind: str, value: str) -> UUID:
            found = refs.find(kind, value)
            if found is None:
                raise InvalidInput(f"no {LABEL[kind]} {value[:80]!r}")
            key: UUID = found.id
            return key

        items: Sequence[Any] = getattr(view, attr)
        # The snapshot's own indexes first (placement, members), then plain filters; every
        # step keeps the canonical order, so paging is a binary search.
        if query.enclave is not None:
            enclave = ref("enclaves", query.enclave)
            if attr == "hosts":
                items = view.hosts_of(enclave)
            elif attr == "vms":
                items = view.vms_in(enclave)
            elif attr == "seclabels":
                items = view.seclabels_of(enclave)
            elif attr == "enclaves":
                items = [e for e in items if e.id == enclave]
            elif attr == "conflicts":
                items = [c for c in items if enclave in c.enclaves]
            else:
                items = [o for o in items if o.enclave == enclave]
        if query.host is not None:
            host = ref("hosts", query.host)
            if attr == "vms":
                on = {v.id.int for v in view.vms_on(host)}
                items = [v for v in items if v.id.int in on]
            elif attr == "enclaves":
                carried = view.enclave_ids_of(host)
                items = [e for e in items if e.id in carried]
            elif attr == "hosts":
                items = [h for h in items if h.id == host]
            else:
                raise InvalidInput(f"{LABEL[attr]}s cannot be filtered by host")
        if query.seclabel is not None:
            if attr != "vms":
                raise InvalidInput("only VMs can be filtered by SecLabel")
            label = ref("seclabels", query.seclabel)
            items = [v for v in items if v.seclabel == label]
        if query.text:
            needle = query.text.casefold()
            items = [o for o in items if needle in o.name.casefold()]
        start = 0
        if query.after is not None:
            try:
                after = json.loads(query.after)
            except ValueError:
                raise InvalidInput("invalid paging key") from None
            if not isinstance(after, list) or len(after) != (3 if attr == "hosts" else 2):
                raise InvalidInput("invalid paging key")
            try:
                start = bisect.bisect_right(items, after, key=lambda o: sort_key(attr, o))
            except TypeError:
                raise InvalidInput("invalid paging key") from None
        out = list(items[start : start + query.limit])
        more = start + query.limit < len(items)
        nxt = json.dumps(sort_key(attr, out[-1])) if more and out else None
        return Page(tuple(out), nxt)

    async def _get(self, caller: Principal, attr: str, ref: str | UUID) -> Any:
        view, _ = await self._view(caller, f"read {LABEL[attr]}s")
        return Refs(caller, view).target(attr, ref)

    @staticmethod
    def _version(row: VersionRow) -> PolicyVersion:
        at = from_us(row.ts_us)
        assert at is not None
        return PolicyVersion(
            version=row.version,
            sha256=row.sha256,
            at=at,
            author=row.author,
            action=row.action,
            object=row.object,
            enclaves=row.enclaves,
            summary=row.summary,
        )

    # -- the write -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _audited(self, caller: Principal, action: str, note: Note) -> AsyncIterator[None]:
        """The change and its audit record commit together; a refusal (``XeError``)
        rolls the change back and commits the record of the refusal."""
        refused: XeError | None = None
        async with self._store.atomic() as conn:
            try:
                async with self._store.atomic():
                    yield
            except XeError as exc:
                refused = exc
                if isinstance(exc, PolicyRefused):
                    note.details["findings"] = sorted({f.code for f in exc.findings})
            details = dict(note.details)
            if caller.via != "session":
                details.setdefault("via", caller.via)
            await self._audit.append(
                conn,
                [
                    AuditEntry(
                        actor=caller.name,
                        source=caller.source,
                        action=action,
                        object=note.object,
                        result="ok" if refused is None else f"refused:{refused.code}",
                        enclaves=sorted(note.enclaves),
                        details=details,
                    )
                ],
            )
        if refused is not None:
            raise refused

    async def _write(
        self,
        caller: Principal,
        action: str,
        obj: str,
        mutate: Callable[[EnterprisePolicy, Refs, Note], tuple[EnterprisePolicy, T]],
        *,
        role: Role = Role.OPERATOR,
        everywhere: bool = False,
    ) -> Written[T]:
        """Runs one checked, versioned, audited change.

        Args:
            mutate: ``(before, refs, note) -> (after, value)``: the new snapshot (``before``
                itself when nothing changes) and what the caller gets back.
            role: The role the change needs.
            everywhere: The change is enterprise-wide: scoped callers are refused.
        """
        note = Note(object=obj)
        pending: tuple[EnterprisePolicy, str] | None = None
        result: Written[T] | None = None
        async with self._audited(caller, action, note):
            require_role(caller, role, action)
            if everywhere and not caller.is_global:
                raise OutOfScope(f"{action}: enterprise-wide, outside your scope")
            async with self._store.atomic() as conn:
                head = await self._repo.head(conn, lock=True)
                before = self._cached(head)
                if before is None:
                    before = await self._repo.load(conn)
                    self._remember(before, head.sha256)
                view = self._views.get(before, head.sha256, caller.scopes)
                after, value = mutate(before, Refs(caller, view), note)
                if after is before:
                    note.details["unchanged"] = True
                    result = Written(value, before.version)
                else:
                    after, bound = await self._host_tags.bind(conn, before, after)
                    _note_switches(note, "bound", "to", bound)
                    after, unbound, in_use = unbind(before, after)
                    _note_switches(note, "unbound", "from", unbound)
                    warnings = refuse_errors([*in_use, *check_change(before, after)])
                    await self._host_tags.check(conn, before, after)
                    after = after.with_version(before.version + 1)
                    sha = self._digester.sha256(after)
                    now_us = int(self._clock() * 1_000_000)
                    await self._repo.apply(conn, before, after)
                    await self._approvals_of(conn, caller, note, before, after, now_us)
                    await self._repo.record_version(
                        conn,
                        VersionRow(
                            version=after.version,
                            sha256=sha,
                            ts_us=now_us,
                            author=caller.name[:80],
                            action=action,
                            object=note.object[:300],
                            enclaves=tuple(sorted(note.enclaves)),
                            summary=note.summary,
                        ),
                    )
                    note.details["version"] = after.version
                    pending = (after, sha)
                    result = Written(value, after.version, tuple(warnings))
        # Committed: later reads find the new snapshot by the head's hash.
        if pending is not None:
            self._remember(*pending)
        assert result is not None
        return result

    async def _approvals_of(
        self,
        conn: Any,
        caller: Principal,
        note: Note,
        before: EnterprisePolicy,
        after: EnterprisePolicy,
        now_us: int,
    ) -> None:
        """Records the version's changes of enclaves that require two-person approval (see
        ``_approval_diff``) and every version's diff (``_version_diffs``); the audit record
        names the enclaves that now wait."""
        waiting = await record_approvals(
            self._approval_repo,
            conn,
            before,
            after,
            author=caller.name[:80],
            version=after.version,
            now_us=now_us,
        )
        # Every version's readable diff too (_version_diffs; identity shortcut as here).
        await record_version_diffs(conn, before, after)
        if waiting:
            note.details["awaits_approval"] = waiting
            note.summary += f" (awaits approval: {', '.join(waiting[:5])})"

    def _scope(self, caller: Principal, note: Note, enclaves: frozenset[str], what: str) -> None:
        note.enclaves |= enclaves
        require_scope(caller, enclaves or None, what)

    # -- generic create / update / delete ------------------------------------------------

    async def _create(
        self, caller: Principal, attr: str, fields: Mapping[str, Any], key: str | UUID | None
    ) -> Written[Any]:
        shown = audit_text(fields.get("name") if isinstance(fields, Mapping) else None)

        def mutate(before: EnterprisePolicy, refs: Refs, note: Note) -> tuple[Any, Any]:
            obj = build(attr, fields, refs)
            if key is not None:
                given = parse_uuid(key)
                if given is None:
                    raise InvalidInput(f"{key!s:.64} is not a UUID")
                obj = dataclasses.replace(obj, id=given)
            if obj.id in before.ids(attr):
                raise Conflict(f"a {LABEL[attr]} with id {obj.id} exists already")
            self._scope(caller, note, enclaves_of(attr, obj), f"create a {LABEL[attr]}")
            if attr == "vms":
                # Figure 26: no host means the default one, which is pinned and shown.
                obj = before.pinned(obj)
            note.summary = f"created {LABEL[attr]} {obj.name!r} ({obj.id})"
            if attr == "vms" and obj.host is not None:
                note.summary += f" on host {before.host(obj.host).name!r}"
            note.details["id"] = str(obj.id)
            return before.with_object(obj), obj

        return await self._write(
            caller,
            f"policy.{KIND[attr]}.create",
            f"{KIND[attr]}:{shown}",
            mutate,
            role=Role.ADMIN if attr == "hosts" else Role.OPERATOR,
            everywhere=attr == "hosts",
        )

    async def _update(
        self,
        caller: Principal,
        attr: str,
        ref: str | UUID,
        changes: Mapping[str, Any],
        *,
        action: str = "update",
    ) -> Written[Any]:
        def mutate(before: EnterprisePolicy, refs: Refs, note: Note) -> tuple[Any, Any]:
            target = refs.target(attr, ref)
            note.object = f"{KIND[attr]}:{target.name}"
            self._scope(caller, note, enclaves_of(attr, target), f"change a {LABEL[attr]}")
            if attr == "hosts":
                target = before.host(target.id)  # the whole host, not a view's part
            new = build(attr, changes, refs, base=target)
            self._scope(caller, note, enclaves_of(attr, new), f"change a {LABEL[attr]}")
            if new == target:
                return before, target
            fields = sorted(str(k) for k in changes)
            note.summary = f"changed {', '.join(fields)} of {LABEL[attr]} {new.name!r}"
            note.details.update(id=str(new.id), fields=fields)
            return before.with_object(new), new

        return await self._write(
            caller,
            f"policy.{KIND[attr]}.{action}",
            f"{KIND[attr]}:{audit_text(ref)}",
            mutate,
            everywhere=attr == "hosts",
        )

    async def _delete(self, caller: Principal, attr: str, ref: str | UUID) -> Written[None]:
        def mutate(before: EnterprisePolicy, refs: Refs, note: Note) -> tuple[Any, None]:
            target = refs.target(attr, ref)
            note.object = f"{KIND[attr]}:{target.name}"
            self._scope(caller, note, enclaves_of(attr, target), f"delete a {LABEL[attr]}")
            note.summary = f"deleted {LABEL[attr]} {target.name!r} ({target.id})"
            note.details["id"] = str(target.id)
            return before.without(target.id, kinds=(attr,)), None

        return await self._write(
            caller, f"policy.{KIND[attr]}.delete", f"{KIND[attr]}:{audit_text(ref)}", mutate
        )

    async def _replace(
        self,
        caller: Principal,
        mutate: Callable[[EnterprisePolicy, Refs, Note], tuple[EnterprisePolicy, None]],
    ) -> Written[None]:
        note = Note(object="policy")
        pending: tuple[EnterprisePolicy, str] | None = None
        async with self._audited(caller, "policy.import", note):
            require_role(caller, Role.ADMIN, "import a policy")
            if not caller.is_global:
                raise OutOfScope("import a policy: enterprise-wide, outside your scope")
            async with self._store.atomic() as conn:
                head = await self._repo.head(conn, lock=True)
                before = self._cached(head) or await self._repo.load(conn)
                after, _ = mutate(before, Refs(caller, before), note)
                after = after.with_version(before.version + 1)
                sha = await asyncio.to_thread(self._digester.sha256, after)
                now_us = int(self._clock() * 1_000_000)
                await self._repo.delete_all(conn)
                await self._repo.insert_all(conn, after, bulk=self._bulk(conn))
                await self._approvals_of(conn, caller, note, before, after, now_us)
                await self._repo.record_version(
                    conn,
                    VersionRow(
                        version=after.version,
                        sha256=sha,
                        ts_us=now_us,
                        author=caller.name[:80],
                        action="policy.import",
                        object="policy",
                        enclaves=(),
                        summary=note.summary,
                    ),
                )
                note.details["version"] = after.version
                pending = (after, sha)
        assert pending is not None
        self._remember(*pending)
        return Written(None, pending[0].version)

    def _bulk(self, conn: Any) -> Callable[[Any, Sequence[str], list[tuple[Any, ...]]], Any]:
        async def insert(table: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
            sql = self._store.insert_sql(table, columns)
            for start in range(0, len(rows), 1000):
                await conn.exec_driver_sql(sql, rows[start : start + 1000])

        return insert
