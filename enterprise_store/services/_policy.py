"""The Policy service (report §4.1.3, §4.2, §4.3): the federated XE policy, checked in the write.

Plain async Python over the store, like the User service: every method takes the caller's
:class:`Principal` and checks role and scope itself. Roles: auditors read; operators edit
the policy of their enclaves (enclaves, assignments, SecLabels, VMs, conflict sets, DHCP
servers) and, unscoped, the hosts' order, colours and facts; admins add and remove hosts
and import a whole policy. A scoped caller sees and names only their part (``_policy_scope``).
How a write runs (one transaction: head lock, ``check_change``, rows, version, audit) is
``_policy_core``'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from enterprise_store._errors import (
    Conflict,
    InvalidInput,
)
from enterprise_store.checker import check, refuse_errors
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
from enterprise_store.services._access import Principal, Role, require_role
from enterprise_store.services._policy_approvals import ApprovalsMixin
from enterprise_store.services._policy_core import (
    KIND,
    Note,
    PolicyCore,
    audit_text,
)
from enterprise_store.services._policy_fields import Refs
from enterprise_store.services._policy_types import (
    CheckReport,
    PolicyFormat,
    PolicyQuery,
    PolicyVersion,
    Written,
)
from enterprise_store.services._policy_version_diffs import VersionDiffsMixin
from enterprise_store.services._types import Page

__all__ = ["PolicyService"]


class PolicyService(ApprovalsMixin, VersionDiffsMixin, PolicyCore):
    """The XE policy: reads, checked writes, versions, views.

    Args:
        store: The open store.
        audit: The audit log of that store.
        clock: Wall-clock seconds (tests pass a fake one).
    """

    # -- snapshots -----------------------------------------------------------------------

    async def current(self) -> EnterprisePolicy:
        """The whole policy as last committed, for in-process workers (propagation,
        compute); no caller, no scope. Callers on behalf of a user use :meth:`policy`."""
        return (await self._state())[0]

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
            for attr in KIND:
                seen.update(view.ids(attr))
            seen.update(view.ids("profiles"))
            findings = [f for f in findings if f.ids and all(i in seen for i in f.ids)]
        return CheckReport(policy.version, sha, tuple(findings))

    # -- reads of one collection ---------------------------------------------------------

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
        if before is not None and not 0 <= before <= 2**62:
            raise InvalidInput("before is a policy version")
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
        async with self._store.read() as conn:
            row = await self._visible_version(conn, caller, number)
        return self._version(row)

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
        """Renames or recolours an enclave; ``requires_approval`` (admins) turns two-person
        approval of its policy versions on, or asks / confirms turning it off (see
        :meth:`set_requires_approval`), before the other changes are made."""
        if isinstance(changes, Mapping) and "requires_approval" in changes:
            rest = {k: v for k, v in changes.items() if k != "requires_approval"}
            flag = await self.set_requires_approval(caller, ref, changes["requires_approval"])
            if not rest:
                enclave = await self.get_enclave(caller, flag.enclave_id)
                return Written(enclave, (await self.current()).version)
            return await self._update(caller, "enclaves", flag.enclave_id, rest)
        return await self._update(caller, "enclaves", ref, changes)

    async def delete_enclave(self, caller: Principal, ref: str | UUID) -> Written[None]:
        """Deletes an enclave and its assignments; refused (every finding) while SecLabels,
        VMs, conflict sets, DHCP servers or host switches still refer to it."""
        return await self._delete(caller, "enclaves", ref)

    async def _assignment(
        self, caller: Principal, enclave: str | UUID, host: str | UUID, *, assign: bool
    ) -> Written[None]:
        def mutate(before: EnterprisePolicy, refs: Refs, note: Note) -> tuple[Any, None]:
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
        shown = f"enclave:{audit_text(enclave)}@host:{audit_text(host)}"
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

    async def set_vm_vifs(
        self, caller: Principal, ref: str | UUID, vifs: Sequence[Any]
    ) -> Written[Vm]:
        """Sets a VM's VIFs (Figure 28's VIFs tab), ``[{bridge, mac?, ip?}, …]`` in order;
        each becomes the VM's VIF on its host's switch ``bridge`` at propagation."""
        return await self._update(caller, "vms", ref, {"vifs": vifs}, action="vifs")

    async def set_vm_disks(
        self, caller: Principal, ref: str | UUID, disks: Sequence[Any]
    ) -> Written[Vm]:
        """Sets a VM's disks (Figure 28's Disks tab), ``[{target, vdev, mode?, format?},
        …]`` in order; each is placed on its host's storage location of the VM's enclave."""
        return await self._update(caller, "vms", ref, {"disks": disks}, action="disks")

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
        ro_port: int | None = None,
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
        if ro_port is not None:
            fields["ro_port"] = ro_port
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

        def mutate(before: EnterprisePolicy, refs: Refs, note: Note) -> tuple[Any, None]:
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
            f"host:{audit_text(ref)}",
            mutate,
            role=Role.ADMIN,
            everywhere=True,
        )

    async def reorder_hosts(
        self, caller: Principal, refs_in_order: Sequence[str | UUID]
    ) -> Written[tuple[Host, ...]]:
        """Sets the Hosts panel order (every host once); VMs already placed stay where
        they are (they are pinned), new VMs follow the new order. Operators, unscoped."""

        def mutate(before: EnterprisePolicy, refs: Refs, note: Note) -> tuple[Any, Any]:
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

        def mutate(before: EnterprisePolicy, refs: Refs, note: Note) -> tuple[Any, None]:
            refuse_errors(check(policy))
            note.summary = (
                f"imported {len(policy.hosts)} hosts, {len(policy.enclaves)} enclaves, "
                f"{len(policy.vms)} VMs"
            )
            # A different object even when equal: the write below replaces every row.
            return policy.with_version(before.version), None

        return await self._replace(caller, mutate)
