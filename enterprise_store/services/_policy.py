"""The Policy service (report §4.1.3, §4.2, §4.3): the federated XE policy, checked in the write.

Plain async Python over the store, like the User service: every method takes the caller's
:class:`Principal` and checks role and scope itself. Roles: auditors read; operators edit
the policy of their enclaves (enclaves, assignments, SecLabels, VMs, conflict sets, DHCP
servers) and, unscoped, the hosts' order, colours and facts; admins add and remove hosts
and import a whole policy. A scoped caller sees and names only their part (``_policy_scope``).

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
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from enterprise_store._errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OutOfScope,
    PolicyRefused,
    XeError,
)
from enterprise_store.audit import AuditEntry, AuditLog
from enterprise_store.checker import check, check_change, refuse_errors
from enterprise_store.model import (
    DEFAULT_XPS_PORT,
    ConflictSet,
    CpuFacts,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    Host,
    HostSwitch,
    SecLabel,
    Vm,
    policy_to_json,
)
from enterprise_store.policy import (
    domain_config_text,
    policy_text,
    policy_tree,
    render_tree,
    serialize_enterprise,
)
from enterprise_store.services._access import Principal, Role, require_role, require_scope
from enterprise_store.services._policy_digest import Digester
from enterprise_store.services._policy_fields import Refs, build, parse_uuid
from enterprise_store.services._policy_scope import ScopedViews
from enterprise_store.services._policy_types import (
    CheckReport,
    PolicyFormat,
    PolicyQuery,
    PolicyVersion,
    Written,
)
from enterprise_store.services._types import Page, from_us
from enterprise_store.store import Store
from enterprise_store.store._policy_repo import PolicyHead, PolicyRepo, VersionRow

__all__ = ["PolicyService"]

T = TypeVar("T")

_KIND = {
    "enclaves": "enclave",
    "hosts": "host",
    "seclabels": "seclabel",
    "vms": "vm",
    "conflicts": "conflict",
    "dhcp_servers": "dhcp",
}
_LABEL = {
    "enclaves": "enclave",
    "hosts": "host",
    "seclabels": "SecLabel",
    "vms": "VM",
    "conflicts": "conflict set",
    "dhcp_servers": "DHCP server",
}


@dataclass
class _Note:
    """What a write tells its audit record and its version row (filled while it runs)."""

    object: str
    summary: str = ""
    enclaves: set[str] = field(default_factory=set)
    details: dict[str, Any] = field(default_factory=dict)


def _enclaves_of(attr: str, obj: Any) -> frozenset[str]:
    """The enclaves an object belongs to (empty for hosts: enterprise-wide)."""
    if attr == "enclaves":
        return frozenset({str(obj.id)})
    if attr == "conflicts":
        return frozenset(str(e) for e in obj.enclaves)
    if attr in ("seclabels", "vms", "dhcp_servers"):
        return frozenset({str(obj.enclave)})
    return frozenset()


def _shown(value: Any) -> str:
    """Caller-given text for an audit record, before it is validated: at most 64 characters,
    lone surrogates escaped (the audit chain hashes UTF-8)."""
    text = str(value)[:64] if isinstance(value, str | UUID) else "?"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _sort_key(attr: str, obj: Any) -> list[Any]:
    if attr == "hosts":
        return [obj.order, obj.name, str(obj.id)]
    return [obj.name, str(obj.id)]


class PolicyService:
    """The XE policy: reads, checked writes, versions, views.

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
        self._digester = Digester()
        self._views = ScopedViews()
        # head sha256 -> snapshot; the newest two (the committed one and the one a write
        # is about to commit) are enough.
        self._known: dict[str, EnterprisePolicy] = {}
        self._load_lock = asyncio.Lock()

    # -- snapshots -----------------------------------------------------------------------

    def _remember(self, policy: EnterprisePolicy, sha256: str) -> None:
        self._known[sha256] = policy
        while len(self._known) > 2:
            del self._known[next(iter(self._known))]

    def _cached(self, head: PolicyHead) -> EnterprisePolicy | None:
        hit = self._known.get(head.sha256)
        return hit if hit is not None and hit.version == head.version else None

    async def _state(self) -> tuple[EnterprisePolicy, str]:
        async with self._store.read() as conn:
            head = await self._repo.head(conn)
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

    async def current(self) -> EnterprisePolicy:
        """The whole policy as last committed, for in-process workers (propagation,
        compute); no caller, no scope. Callers on behalf of a user use :meth:`policy`."""
        return (await self._state())[0]

    async def _view(self, caller: Principal, action: str) -> tuple[EnterprisePolicy, str]:
        require_role(caller, Role.AUDITOR, action)
        policy, sha = await self._state()
        return self._views.get(policy, sha, caller.scopes), sha

    async def policy(self, caller: Principal) -> EnterprisePolicy:
        """The policy as ``caller`` sees it (all of it, or their enclaves' part).

        Raises:
            RoleRequired: Below auditor.
        """
        return (await self._view(caller, "read the policy"))[0]

    async def render(self, caller: Principal, fmt: PolicyFormat | str) -> str:
        """A view of the caller's policy: ``tree`` (Figures 23/30), ``xml`` (the XE
        extension of xps.policy's schema), ``text`` (§4.2.5) or canonical ``json``.

        Raises:
            RoleRequired: Below auditor.
            InvalidInput: Unknown format.
        """
        try:
            kind = PolicyFormat(fmt)
        except ValueError:
            raise InvalidInput("format is tree, xml, text or json") from None
        view, _ = await self._view(caller, "read the policy")
        if kind is PolicyFormat.TREE:
            return render_tree(policy_tree(view))
        if kind is PolicyFormat.TEXT:
            return policy_text(view)
        if kind is PolicyFormat.XML:
            return serialize_enterprise(view).decode("utf-8")
        return policy_to_json(view).decode("utf-8")

    async def check(self, caller: Principal) -> CheckReport:
        """The consistency checker over the whole stored policy (``xenon xe check``).

        A scoped caller gets the findings whose objects all lie in their view.

        Raises:
            RoleRequired: Below auditor.
        """
        require_role(caller, Role.AUDITOR, "check the policy")
        policy, sha = await self._state()
        findings = check(policy)
        if caller.scopes is not None:
            view = self._views.get(policy, sha, caller.scopes)
            seen: set[UUID] = set()
            for attr in _KIND:
                seen.update(view.ids(attr))
            seen.update(view.ids("profiles"))
            findings = [f for f in findings if f.ids and all(i in seen for i in f.ids)]
        return CheckReport(policy.version, sha, tuple(findings))

    # -- reads of one collection ---------------------------------------------------------

    async def _list(self, caller: Principal, attr: str, query: PolicyQuery) -> Page[Any]:
        view, _ = await self._view(caller, f"list {_LABEL[attr]}s")
        if not 1 <= query.limit <= 1000:
            raise InvalidInput("limit is 1 to 1000")
        refs = Refs(caller, view)

        def ref(kind: str, value: str) -> UUID:
            found = refs.find(kind, value)
            if found is None:
                raise InvalidInput(f"no {_LABEL[kind]} {value[:80]!r}")
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
                raise InvalidInput(f"{_LABEL[attr]}s cannot be filtered by host")
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
                start = bisect.bisect_right(items, after, key=lambda o: _sort_key(attr, o))
            except TypeError:
                raise InvalidInput("invalid paging key") from None
        out = list(items[start : start + query.limit])
        more = start + query.limit < len(items)
        nxt = json.dumps(_sort_key(attr, out[-1])) if more and out else None
        return Page(tuple(out), nxt)

    async def _get(self, caller: Principal, attr: str, ref: str | UUID) -> Any:
        view, _ = await self._view(caller, f"read {_LABEL[attr]}s")
        return Refs(caller, view).target(attr, ref)

    async def list_enclaves(self, caller: Principal, query: PolicyQuery) -> Page[Enclave]:
        """Enclaves (by name); ``host`` filters to those assigned to a host."""
        return await self._list(caller, "enclaves", query)

    async def get_enclave(self, caller: Principal, ref: str | UUID) -> Enclave:
        """One enclave by UUID or name (NotFound when scope hides it)."""
        result: Enclave = await self._get(caller, "enclaves", ref)
        return result

    async def list_hosts(self, caller: Principal, query: PolicyQuery) -> Page[Host]:
        """Hosts in panel order; a scoped caller sees hosts carrying their enclaves."""
        return await self._list(caller, "hosts", query)

    async def get_host(self, caller: Principal, ref: str | UUID) -> Host:
        """One host by UUID or name."""
        result: Host = await self._get(caller, "hosts", ref)
        return result

    async def list_seclabels(self, caller: Principal, query: PolicyQuery) -> Page[SecLabel]:
        """SecLabels (by name); ``enclave`` filters."""
        return await self._list(caller, "seclabels", query)

    async def get_seclabel(self, caller: Principal, ref: str | UUID) -> SecLabel:
        """One SecLabel by UUID or name."""
        result: SecLabel = await self._get(caller, "seclabels", ref)
        return result

    async def list_vms(self, caller: Principal, query: PolicyQuery) -> Page[Vm]:
        """VMs (by name); ``enclave``, ``host`` (placement) and ``seclabel`` filter."""
        return await self._list(caller, "vms", query)

    async def get_vm(self, caller: Principal, ref: str | UUID) -> Vm:
        """One VM by UUID or name."""
        result: Vm = await self._get(caller, "vms", ref)
        return result

    async def vm_host(self, caller: Principal, ref: str | UUID) -> Host | None:
        """The host a VM is placed on (None if none carries its enclave)."""
        view, _ = await self._view(caller, "read VMs")
        return view.host_of(Refs(caller, view).target("vms", ref))

    async def domain_config(self, caller: Principal, ref: str | UUID) -> str:
        """The xl configuration XE generates for a VM (Figure 27, "View domain config").

        Raises:
            NotFound: No such VM visible to the caller, or it is placed on no host.
            InvalidInput: The generator refuses the VM.
        """
        view, _ = await self._view(caller, "read VMs")
        vm = Refs(caller, view).target("vms", ref)
        return domain_config_text(view, vm.id)

    async def list_conflicts(self, caller: Principal, query: PolicyQuery) -> Page[ConflictSet]:
        """Conflict sets (by name); a scoped caller sees those of their enclaves only."""
        return await self._list(caller, "conflicts", query)

    async def get_conflict(self, caller: Principal, ref: str | UUID) -> ConflictSet:
        """One conflict set by UUID or name."""
        result: ConflictSet = await self._get(caller, "conflicts", ref)
        return result

    async def list_dhcp_servers(self, caller: Principal, query: PolicyQuery) -> Page[DhcpServer]:
        """Remote DHCP servers (by name); ``enclave`` filters."""
        return await self._list(caller, "dhcp_servers", query)

    async def get_dhcp_server(self, caller: Principal, ref: str | UUID) -> DhcpServer:
        """One DHCP server by UUID or name."""
        result: DhcpServer = await self._get(caller, "dhcp_servers", ref)
        return result

    # -- versions ------------------------------------------------------------------------

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

    async def versions(
        self, caller: Principal, *, before: int | None = None, limit: int = 100
    ) -> Page[PolicyVersion]:
        """Committed versions, newest first; ``Page.next`` is the ``before`` of the next
        page. A scoped caller sees the versions of changes within their enclaves.

        Raises:
            RoleRequired: Below auditor.
        """
        require_role(caller, Role.AUDITOR, "read policy versions")
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit is 1 to 1000")
        scopes = caller.scopes
        out: list[PolicyVersion] = []
        cursor = before
        async with self._store.read() as conn:
            while len(out) < limit:
                rows = await self._repo.versions(conn, before=cursor, limit=limit)
                for row in rows:
                    if scopes is None or (row.enclaves and set(row.enclaves) <= scopes):
                        out.append(self._version(row))
                        if len(out) == limit:
                            break
                if len(rows) < limit:
                    break
                cursor = rows[-1].version
        more = len(out) == limit and out[-1].version > 1
        return Page(tuple(out), str(out[-1].version) if more else None)

    async def version(self, caller: Principal, number: int) -> PolicyVersion:
        """One version (NotFound when absent or outside the caller's scope)."""
        require_role(caller, Role.AUDITOR, "read policy versions")
        async with self._store.read() as conn:
            row = await self._repo.version(conn, number)
        scopes = caller.scopes
        if row is None or (
            scopes is not None and not (row.enclaves and set(row.enclaves) <= scopes)
        ):
            raise NotFound(f"no policy version {number}")
        return self._version(row)

    # -- the write -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _audited(self, caller: Principal, action: str, note: _Note) -> AsyncIterator[None]:
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
        mutate: Callable[[EnterprisePolicy, Refs, _Note], tuple[EnterprisePolicy, T]],
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
        note = _Note(object=obj)
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
                    warnings = refuse_errors(check_change(before, after))
                    after = after.with_version(before.version + 1)
                    sha = self._digester.sha256(after)
                    await self._repo.apply(conn, before, after)
                    await self._repo.record_version(
                        conn,
                        VersionRow(
                            version=after.version,
                            sha256=sha,
                            ts_us=int(self._clock() * 1_000_000),
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

    def _scope(self, caller: Principal, note: _Note, enclaves: frozenset[str], what: str) -> None:
        note.enclaves |= enclaves
        require_scope(caller, enclaves or None, what)

    # -- generic create / update / delete ------------------------------------------------

    async def _create(
        self, caller: Principal, attr: str, fields: Mapping[str, Any], key: str | UUID | None
    ) -> Written[Any]:
        shown = _shown(fields.get("name") if isinstance(fields, Mapping) else None)

        def mutate(before: EnterprisePolicy, refs: Refs, note: _Note) -> tuple[Any, Any]:
            obj = build(attr, fields, refs)
            if key is not None:
                given = parse_uuid(key)
                if given is None:
                    raise InvalidInput(f"{key!s:.64} is not a UUID")
                obj = dataclasses.replace(obj, id=given)
            if obj.id in before.ids(attr):
                raise Conflict(f"a {_LABEL[attr]} with id {obj.id} exists already")
            self._scope(caller, note, _enclaves_of(attr, obj), f"create a {_LABEL[attr]}")
            if attr == "vms":
                # Figure 26: no host means the default one, which is pinned and shown.
                obj = before.pinned(obj)
            note.summary = f"created {_LABEL[attr]} {obj.name!r} ({obj.id})"
            if attr == "vms" and obj.host is not None:
                note.summary += f" on host {before.host(obj.host).name!r}"
            note.details["id"] = str(obj.id)
            return before.with_object(obj), obj

        return await self._write(
            caller,
            f"policy.{_KIND[attr]}.create",
            f"{_KIND[attr]}:{shown}",
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
        def mutate(before: EnterprisePolicy, refs: Refs, note: _Note) -> tuple[Any, Any]:
            target = refs.target(attr, ref)
            note.object = f"{_KIND[attr]}:{target.name}"
            self._scope(caller, note, _enclaves_of(attr, target), f"change a {_LABEL[attr]}")
            if attr == "hosts":
                target = before.host(target.id)  # the whole host, not a view's part
            new = build(attr, changes, refs, base=target)
            self._scope(caller, note, _enclaves_of(attr, new), f"change a {_LABEL[attr]}")
            if new == target:
                return before, target
            fields = sorted(str(k) for k in changes)
            note.summary = f"changed {', '.join(fields)} of {_LABEL[attr]} {new.name!r}"
            note.details.update(id=str(new.id), fields=fields)
            return before.with_object(new), new

        return await self._write(
            caller,
            f"policy.{_KIND[attr]}.{action}",
            f"{_KIND[attr]}:{_shown(ref)}",
            mutate,
            everywhere=attr == "hosts",
        )

    async def _delete(self, caller: Principal, attr: str, ref: str | UUID) -> Written[None]:
        def mutate(before: EnterprisePolicy, refs: Refs, note: _Note) -> tuple[Any, None]:
            target = refs.target(attr, ref)
            note.object = f"{_KIND[attr]}:{target.name}"
            self._scope(caller, note, _enclaves_of(attr, target), f"delete a {_LABEL[attr]}")
            note.summary = f"deleted {_LABEL[attr]} {target.name!r} ({target.id})"
            note.details["id"] = str(target.id)
            return before.without(target.id, kinds=(attr,)), None

        return await self._write(
            caller, f"policy.{_KIND[attr]}.delete", f"{_KIND[attr]}:{_shown(ref)}", mutate
        )

    # -- enclaves and assignments --------------------------------------------------------

    async def create_enclave(
        self, caller: Principal, fields: Mapping[str, Any], *, id: str | UUID | None = None
    ) -> Written[Enclave]:
        """Creates an enclave (Figure 22): ``name``, ``color``; a generated 128-bit UUID
        unless ``id`` gives one (importing a host's tag). Operators; a scoped operator only
        with an ``id`` inside their scope.

        Raises:
            RoleRequired, OutOfScope, InvalidInput, Conflict, PolicyRefused.
        """
        return await self._create(caller, "enclaves", fields, id)

    async def update_enclave(
        self, caller: Principal, ref: str | UUID, changes: Mapping[str, Any]
    ) -> Written[Enclave]:
        """Renames or recolours an enclave."""
        return await self._update(caller, "enclaves", ref, changes)

    async def delete_enclave(self, caller: Principal, ref: str | UUID) -> Written[None]:
        """Deletes an enclave and its assignments; refused (every finding) while SecLabels,
        VMs, conflict sets, DHCP servers or host switches still refer to it."""
        return await self._delete(caller, "enclaves", ref)

    async def _assignment(
        self, caller: Principal, enclave: str | UUID, host: str | UUID, *, assign: bool
    ) -> Written[None]:
        def mutate(before: EnterprisePolicy, refs: Refs, note: _Note) -> tuple[Any, None]:
            enc = refs.target("enclaves", enclave)
            where = refs.target("hosts", host)
            note.object = f"enclave:{enc.name}@host:{where.name}"
            self._scope(caller, note, frozenset({str(enc.id)}), "assign an enclave")
            verb = "assigned" if assign else "unassigned"
            note.summary = f"{verb} enclave {enc.name!r} to host {where.name!r}"
            note.details.update(enclave=str(enc.id), host=str(where.id))
            if assign:
                return before.with_assignment(enc.id, where.id), None
            return before.without_assignment(enc.id, where.id), None

        action = "policy.enclave.assign" if assign else "policy.enclave.unassign"
        shown = f"enclave:{_shown(enclave)}@host:{_shown(host)}"
        return await self._write(caller, action, shown, mutate)

    async def assign(
        self, caller: Principal, enclave: str | UUID, host: str | UUID
    ) -> Written[None]:
        """Assigns an enclave to a host (Figure 23; no new version if it already is)."""
        return await self._assignment(caller, enclave, host, assign=True)

    async def unassign(
        self, caller: Principal, enclave: str | UUID, host: str | UUID
    ) -> Written[None]:
        """Unassigns an enclave from a host; refused while VMs of it are placed there.

        Raises:
            NotFound: The enclave is not assigned to that host.
        """
        return await self._assignment(caller, enclave, host, assign=False)

    # -- SecLabels, VMs, conflict sets, DHCP servers -------------------------------------

    async def create_seclabel(
        self, caller: Principal, fields: Mapping[str, Any], *, id: str | UUID | None = None
    ) -> Written[SecLabel]:
        """Creates a SecLabel (Figure 25): ``name``, ``enclave``, ``profile`` (UUID or
        name), ``max_rate`` (1..65535 per ms), ``max_violations``, ``role`` (``none``)."""
        return await self._create(caller, "seclabels", fields, id)

    async def update_seclabel(
        self, caller: Principal, ref: str | UUID, changes: Mapping[str, Any]
    ) -> Written[SecLabel]:
        """Changes a SecLabel (its VMs are re-checked against it)."""
        return await self._update(caller, "seclabels", ref, changes)

    async def delete_seclabel(self, caller: Principal, ref: str | UUID) -> Written[None]:
        """Deletes a SecLabel; refused while VMs use it."""
        return await self._delete(caller, "seclabels", ref)

    async def create_vm(
        self, caller: Principal, fields: Mapping[str, Any], *, id: str | UUID | None = None
    ) -> Written[Vm]:
        """Creates a VM with every field of Figure 26: ``name``, ``enclave``, ``seclabel``,
        ``guest_type``, ``os``, ``kernel``/``ramdisk``/``cmdline``/``bootloader``,
        ``memory_mb``/``maxmem_mb``, ``vcpus``/``maxvcpus``, ``host``, ``run``,
        ``network``, ``extra``. Without ``host`` the VM is placed on the first host in
        panel order that carries its enclave, and pinned there (``value.host``).

        Raises:
            PolicyRefused: E.g. the enclave has no SecLabel yet (Figure 24), with every
                finding and its hint.
        """
        return await self._create(caller, "vms", fields, id)

    async def update_vm(
        self, caller: Principal, ref: str | UUID, changes: Mapping[str, Any]
    ) -> Written[Vm]:
        """Changes fields of a VM (moving it to another host is a policy change; the live
        migration itself is the Compute service's)."""
        return await self._update(caller, "vms", ref, changes)

    async def set_vm_network(
        self, caller: Principal, ref: str | UUID, network: Mapping[str, Any]
    ) -> Written[Vm]:
        """Sets a VM's network restrictions (Figure 28): ``allow_network``, ``switches``,
        ``max_vifs``."""
        return await self._update(caller, "vms", ref, {"network": network}, action="network")

    async def set_vm_extra(
        self, caller: Principal, ref: str | UUID, extra: Sequence[Sequence[str]]
    ) -> Written[Vm]:
        """Sets a VM's extra xl options (§4.3.4), ``[[key, value], …]`` in order."""
        return await self._update(caller, "vms", ref, {"extra": extra}, action="extra")

    async def reset_vm_extra(self, caller: Principal, ref: str | UUID) -> Written[Vm]:
        """Resets a VM's xl configuration to its guest type's secure template."""
        return await self._update(caller, "vms", ref, {"extra": ()}, action="extra")

    async def delete_vm(self, caller: Principal, ref: str | UUID) -> Written[None]:
        """Deletes a VM from the policy."""
        return await self._delete(caller, "vms", ref)

    async def create_conflict(
        self, caller: Principal, fields: Mapping[str, Any], *, id: str | UUID | None = None
    ) -> Written[ConflictSet]:
        """Creates an enterprise conflict set: ``name``, ``level`` (``no-coresidence`` or
        ``no-communication``), ``enclaves`` (two or more, all in the caller's scope)."""
        return await self._create(caller, "conflicts", fields, id)

    async def update_conflict(
        self, caller: Principal, ref: str | UUID, changes: Mapping[str, Any]
    ) -> Written[ConflictSet]:
        """Changes a conflict set (placements are re-checked against it)."""
        return await self._update(caller, "conflicts", ref, changes)

    async def delete_conflict(self, caller: Principal, ref: str | UUID) -> Written[None]:
        """Deletes a conflict set."""
        return await self._delete(caller, "conflicts", ref)

    async def create_dhcp_server(
        self, caller: Principal, fields: Mapping[str, Any], *, id: str | UUID | None = None
    ) -> Written[DhcpServer]:
        """Creates a remote DHCP server of an enclave (§4.3.2): ``name``, ``enclave``,
        ``interface``."""
        return await self._create(caller, "dhcp_servers", fields, id)

    async def update_dhcp_server(
        self, caller: Principal, ref: str | UUID, changes: Mapping[str, Any]
    ) -> Written[DhcpServer]:
        """Changes a DHCP server."""
        return await self._update(caller, "dhcp_servers", ref, changes)

    async def delete_dhcp_server(self, caller: Principal, ref: str | UUID) -> Written[None]:
        """Deletes a DHCP server."""
        return await self._delete(caller, "dhcp_servers", ref)

    # -- hosts: the policy's part (the Compute service adds the XPS side) ----------------

    async def add_host(
        self,
        caller: Principal,
        *,
        name: str,
        address: str,
        port: int = DEFAULT_XPS_PORT,
        order: int | None = None,
        color: Sequence[int] | str | None = None,
        cpu: CpuFacts | Mapping[str, Any] | None = None,
        shared_storage: Iterable[str] = (),
        switches: Iterable[HostSwitch | Mapping[str, Any]] = (),
        id: str | UUID | None = None,
    ) -> Written[Host]:
        """Adds a host to the enterprise (Figure 21), with the facts its XPS reported or
        an operator supplied. Admins, unscoped. The Compute service calls this after it
        has read the host's CPU facts and switches through ``xps.client``.

        Args:
            order: Position in the Hosts panel (default: after the last host).
            cpu: CPU facts for migration (vendor, family, model, stepping, flags).
            shared_storage: Names of the shared storage the host reaches.
            switches: Network switches known on the host, each ``HostSwitch`` or
                ``{"name", "enclave"}``.
            id: The host's UUID (default: generated).

        Raises:
            RoleRequired: Not an admin. OutOfScope: A scoped admin.
            InvalidInput: Malformed facts. Conflict: The id exists.
            PolicyRefused: E.g. a name or management endpoint in use.
        """
        fields: dict[str, Any] = {
            "name": name,
            "address": address,
            "port": port,
            "shared_storage": list(shared_storage),
            "switches": [
                {"name": s.name, "enclave": s.enclave} if isinstance(s, HostSwitch) else s
                for s in switches
            ],
        }
        if cpu is not None:
            fields["cpu"] = cpu
        if color is not None:
            fields["color"] = color
        if order is not None:
            fields["order"] = order
        else:
            current = await self.current()
            fields["order"] = (max((h.order for h in current.hosts), default=0)) + 1
        return await self._create(caller, "hosts", fields, id)

    async def update_host(
        self, caller: Principal, ref: str | UUID, changes: Mapping[str, Any]
    ) -> Written[Host]:
        """Changes a host's policy part: ``name``, ``address``, ``port``, ``order``,
        ``color``, ``cpu``, ``shared_storage``, ``switches``. Operators, unscoped."""
        return await self._update(caller, "hosts", ref, changes)

    async def set_host_facts(
        self,
        caller: Principal,
        ref: str | UUID,
        *,
        cpu: CpuFacts | Mapping[str, Any] | None = None,
        shared_storage: Iterable[str] | None = None,
        switches: Iterable[HostSwitch | Mapping[str, Any]] | None = None,
    ) -> Written[Host]:
        """Replaces the facts given (None: keep): what the Compute service refreshes from
        the host's XPS, or an operator overrides for migration."""
        changes: dict[str, Any] = {}
        if cpu is not None:
            changes["cpu"] = cpu
        if shared_storage is not None:
            changes["shared_storage"] = list(shared_storage)
        if switches is not None:
            changes["switches"] = [
                {"name": s.name, "enclave": s.enclave} if isinstance(s, HostSwitch) else s
                for s in switches
            ]
        return await self._update(caller, "hosts", ref, changes, action="facts")

    async def remove_host(
        self, caller: Principal, ref: str | UUID, *, force: bool = False
    ) -> Written[None]:
        """Removes a host and its assignments (admins, unscoped).

        Refused (:class:`Conflict`) while VMs are placed on it, unless ``force``: then each
        of them is placed on its enclave's next host in panel order (the checker refuses
        if there is none).
        """

        def mutate(before: EnterprisePolicy, refs: Refs, note: _Note) -> tuple[Any, None]:
            host = refs.target("hosts", ref)
            note.object = f"host:{host.name}"
            placed = before.vms_on(host.id)
            after = before.without(host.id, kinds=("hosts",))
            if placed and not force:
                names = ", ".join(repr(v.name) for v in placed[:5])
                more = f" and {len(placed) - 5} more" if len(placed) > 5 else ""
                raise Conflict(
                    f"host {host.name!r} has {len(placed)} VMs placed on it ({names}{more}): "
                    "move them first, or force"
                )
            for vm in placed:
                after = after.with_vm(after.pinned(dataclasses.replace(vm, host=None)))
                note.enclaves.add(str(vm.enclave))
            note.summary = f"removed host {host.name!r} ({host.id})"
            if placed:
                note.summary += f", re-placing {len(placed)} VMs"
            note.details.update(id=str(host.id), moved=len(placed))
            return after, None

        return await self._write(
            caller,
            "policy.host.delete",
            f"host:{_shown(ref)}",
            mutate,
            role=Role.ADMIN,
            everywhere=True,
        )

    async def reorder_hosts(
        self, caller: Principal, refs_in_order: Sequence[str | UUID]
    ) -> Written[tuple[Host, ...]]:
        """Sets the Hosts panel order (every host once); VMs already placed stay where
        they are (they are pinned), new VMs follow the new order. Operators, unscoped."""

        def mutate(before: EnterprisePolicy, refs: Refs, note: _Note) -> tuple[Any, Any]:
            if isinstance(refs_in_order, str | bytes):
                raise InvalidInput("give the hosts as a list")
            chosen = [refs.target("hosts", r) for r in refs_in_order]
            if len({h.id for h in chosen}) != len(chosen) or len(chosen) != len(before.hosts):
                raise InvalidInput("list every host exactly once")
            after = before
            for position, host in enumerate(chosen, start=1):
                if host.order != position:
                    after = after.with_host(dataclasses.replace(host, order=position))
            note.summary = "reordered the hosts: " + ", ".join(h.name for h in chosen[:20])
            return after, after.hosts

        return await self._write(caller, "policy.host.reorder", "hosts", mutate, everywhere=True)

    # -- whole policy --------------------------------------------------------------------

    async def import_policy(self, caller: Principal, policy: EnterprisePolicy) -> Written[None]:
        """Replaces the whole stored policy with ``policy`` (checked in full), as one new
        version: the demo's §4.2 policy, a restore, a benchmark. Admins, unscoped.

        Raises:
            PolicyRefused: ``policy`` has error findings (every one of them).
        """

        def mutate(before: EnterprisePolicy, refs: Refs, note: _Note) -> tuple[Any, None]:
            refuse_errors(check(policy))
            note.summary = (
                f"imported {len(policy.hosts)} hosts, {len(policy.enclaves)} enclaves, "
                f"{len(policy.vms)} VMs"
            )
            # A different object even when equal: the write below replaces every row.
            return policy.with_version(before.version), None

        return await self._replace(caller, mutate)

    async def _replace(
        self,
        caller: Principal,
        mutate: Callable[[EnterprisePolicy, Refs, _Note], tuple[EnterprisePolicy, None]],
    ) -> Written[None]:
        note = _Note(object="policy")
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
                await self._repo.delete_all(conn)
                await self._repo.insert_all(conn, after, bulk=self._bulk(conn))
                await self._repo.record_version(
                    conn,
                    VersionRow(
                        version=after.version,
                        sha256=sha,
                        ts_us=int(self._clock() * 1_000_000),
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
