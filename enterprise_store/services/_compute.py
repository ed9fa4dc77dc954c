"""The Compute service (report §4.1.2): hosts through their XPS, VM lifecycle, propagation, tasks.

Plain async Python like the other services: every method takes the caller's
:class:`Principal` and checks role and scope itself. Roles: auditors read (hosts'
propagation state, live domains, tasks); operators run the VM lifecycle of their
enclaves and follow propagation; admins add and remove hosts and re-converge a drifted
one. A scoped caller sees the hosts of their enclaves, their enclaves' VMs and domains,
and the tasks they started or that concern only their enclaves.

Adding a host is a task (it talks to the host): XE connects to the host's XPS with its
own client certificate, reads ``GetHypervisorInfo``, ``GetHardware`` (CPU vendor,
family, stepping and flags — XPS does not report the CPUID model number, so an operator
supplies it, and may override every CPU field) and the policy it enforces, then stores
the host through the Policy service. A host that already enforces a policy keeps it
until an admin says so (``held``; ``takeover`` says so at once): its export is kept for
the operator first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from typing import Any
from uuid import UUID

from enterprise_store._errors import (
    Conflict,
    HostUnreachable,
    InvalidInput,
    NotFound,
    OutOfScope,
    XeError,
)
from enterprise_store.audit import AuditLog
from enterprise_store.model import DEFAULT_XPS_PORT, CpuFacts, EnterprisePolicy, Host, HostSwitch
from enterprise_store.services._access import Principal, Role, require_role, visible
from enterprise_store.services._audit import audited
from enterprise_store.services._compute_types import (
    VM_ACTIONS,
    ComputeConfig,
    DomainState,
    HostFacts,
    HostPropagation,
    MigrationTarget,
    VmState,
)
from enterprise_store.services._migration import Migrator
from enterprise_store.services._policy import PolicyService
from enterprise_store.services._types import from_us
from enterprise_store.store import Store
from enterprise_store.store._compute_repo import ComputeRepo, HostInfoRow, PropagationRow, TaskRow
from enterprise_store.workers._hosts import HostPool, host_error
from enterprise_store.workers._propagation import Propagator
from enterprise_store.workers._slices import SliceMaker
from enterprise_store.workers._tasks import TaskContext, TaskRunner
from xps.client import RemoteError, Xps, XpsError
from xps.policy import policy_from_dict

__all__ = ["ComputeService"]

LOG = logging.getLogger("xenon.xe.compute")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_CPU_FIELDS = ("vendor", "family", "model", "stepping", "flags")
_XPS_CALL = {
    "pause": "pause_domain",
    "unpause": "unpause_domain",
    "shutdown": "shutdown_domain",
    "reboot": "reboot_domain",
    "destroy": "destroy_domain",
}


def _address(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("address: a host name or IP address is required")
    text = value.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not _HOSTNAME.match(text):
        raise InvalidInput(f"address: {value[:64]!r} is neither an IP address nor a DNS name")
    return text.lower()


def _port(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise InvalidInput("port: an integer 1..65535 is required")
    return value


def _cpu_override(value: Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput("cpu: an object with vendor, family, model, stepping, flags")
    unknown = sorted(set(value) - set(_CPU_FIELDS))
    if unknown:
        raise InvalidInput(f"cpu: unknown fields {unknown}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if key == "vendor":
            if not isinstance(item, str) or len(item) > 64 or not item.isprintable():
                raise InvalidInput("cpu.vendor: printable text of at most 64 characters")
            out[key] = item
        elif key == "flags":
            if not isinstance(item, list | tuple) or len(item) > 4096:
                raise InvalidInput("cpu.flags: a list of at most 4096 flags")
            flags = [f for f in item if isinstance(f, str) and re.fullmatch(r"[A-Za-z0-9_.]+", f)]
            if len(flags) != len(item):
                raise InvalidInput("cpu.flags: each flag is letters, digits, '_' or '.'")
            out[key] = sorted(set(flags))
        else:
            if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= 65535:
                raise InvalidInput(f"cpu.{key}: an integer 0..65535")
            out[key] = item
    return out


def cpu_from_hardware(hardware: Mapping[str, Any]) -> dict[str, Any]:
    """The CPU facts XPS's ``GetHardware`` reports (its first CPU): vendor, family,
    stepping and flags. The CPUID model number is not among them (``model`` there is the
    model *name*)."""
    cpus = hardware.get("cpus") if isinstance(hardware, Mapping) else None
    if not isinstance(cpus, list) or not cpus or not isinstance(cpus[0], Mapping):
        return {}
    first = cpus[0]
    out: dict[str, Any] = {}
    vendor = first.get("vendor")
    if isinstance(vendor, str) and vendor:
        out["vendor"] = vendor[:64]
        for key in ("family", "stepping"):
            number = first.get(key)
            if isinstance(number, int) and not isinstance(number, bool) and 0 <= number <= 65535:
                out[key] = number
        flags = first.get("flags")
        if isinstance(flags, list):
            out["flags"] = sorted(
                {f for f in flags if isinstance(f, str) and re.fullmatch(r"[A-Za-z0-9_.]+", f)}
            )
    return out


class ComputeService:
    """Hosts through XPS, VM lifecycle, propagation state, tasks.

    Args:
        store: The store.
        audit: Its audit log.
        policy: The Policy service (hosts are stored through it).
        config: Identity, node id and worker tunables.
        clock: Wall-clock seconds.
    """

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        policy: PolicyService,
        *,
        config: ComputeConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or ComputeConfig()
        self._store = store
        self._audit = audit
        self._policy = policy
        self._clock = clock
        self._repo = ComputeRepo()
        # id(host) -> (the host, its id, its propagation row, the state built from them):
        # see propagation_lookup (the host is kept, so that its id is not reused).
        self._state_memo: dict[int, tuple[Host, str, PropagationRow, HostPropagation]] = {}
        self.pool = HostPool(self.config.identity, timeout_s=self.config.host_timeout_s)
        maker = SliceMaker(self.config.identity, processes=self.config.propagation.slice_processes)
        if maker.signer_problem is not None:
            LOG.error("propagation cannot sign slices: %s", maker.signer_problem.message)
        self.tasks = TaskRunner(
            store,
            node_id=self.config.node_id,
            clock=clock,
            heartbeat_s=self.config.task_heartbeat_s,
        )
        self.propagator = Propagator(
            store,
            policy,
            self.pool,
            maker,
            node_id=self.config.node_id,
            clock=clock,
            config=self.config.propagation,
        )
        self.tasks.register(
            "host.add", self._add_host_task, timeout_s=self.config.add_host_timeout_s
        )
        self.tasks.register(
            "propagate",
            self._propagate_task,
            timeout_s=self.config.propagate_timeout_s,
            resumable=True,
        )
        self._migrator = Migrator(
            policy,
            self.pool,
            self.propagator,
            self.tasks,
            self._live_domains,
            converge_timeout_s=self.config.propagation.host_timeout_s * 3,
        )

    def workers(self) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
        """The background work to run while the service is open, by name."""
        return {"tasks": self.tasks.run, "propagation": self.propagator.run}

    async def close(self) -> None:
        """Stops host work in flight and closes the host connections."""
        await self.propagator.close()
        await self.pool.close()

    # -- audit -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _audited(
        self,
        caller: Principal,
        action: str,
        obj: str,
        *,
        enclaves: Sequence[str] = (),
        details: dict[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Records the call (ok, or ``refused:<code>``) after it ran; yields its details."""
        info: dict[str, Any] = dict(details or {})
        async with audited(self._audit, caller, action, obj, details=info, enclaves=enclaves):
            yield info

    # -- hosts -------------------------------------------------------------------------------

    async def add_host(
        self,
        caller: Principal,
        *,
        name: str,
        address: str,
        port: int = DEFAULT_XPS_PORT,
        color: Sequence[int] | str | None = None,
        order: int | None = None,
        cpu: Mapping[str, Any] | None = None,
        shared_storage: Sequence[str] | None = None,
        takeover: bool = False,
        ro_port: int | None = None,
    ) -> TaskRow:
        """Starts the "Add host" task (Figure 21). Admins, unscoped.

        Args:
            cpu: CPU facts that override what the host reports (``vendor``, ``family``,
                ``model``, ``stepping``, ``flags``).
            shared_storage: Names of the shared storage the host reaches.
            takeover: Propagate to the host at once even if it enforces a policy now
                (default: it is ``held`` until an admin re-converges it).

        Returns:
            The queued task; its result names the host, its facts and any policy it had.

        Raises:
            RoleRequired, OutOfScope: Not an unscoped admin.
            InvalidInput: A malformed name, address, port or CPU field.
        """
        async with self._audited(caller, "compute.host.add", f"host:{str(name)[:64]}") as info:
            require_role(caller, Role.ADMIN, "add a host")
            if not caller.is_global:
                raise OutOfScope("add a host: enterprise-wide, outside your scope")
            if not isinstance(name, str) or not name or len(name) > 255:
                raise InvalidInput("name: 1..255 characters")
            params: dict[str, Any] = {
                "name": name,
                "address": _address(address),
                "port": _port(port),
                "cpu": _cpu_override(cpu),
                "shared_storage": sorted(set(shared_storage or ())),
                "takeover": bool(takeover),
            }
            if color is not None:
                params["color"] = color if isinstance(color, str) else list(color)
            if order is not None:
                params["order"] = order
            if ro_port is not None:
                params["ro_port"] = _port(ro_port)  # the XPS's read-only port (auditors)
            row = await self.tasks.submit(
                "host.add",
                params=params,
                object=f"host:{name}",
                created_by=caller.name,
                principal=caller,
            )
            info["task"] = row.id
            return row

    async def _read_host(
        self, ctx: TaskContext, address: str, port: int
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, str | None]:
        where = f"host {address}:{port}"
        await ctx.progress(0.1, f"connecting to {address}:{port}")
        client: Xps = self.pool.new_client(address, port)
        try:
            try:
                await client.connect()
                await ctx.progress(0.3, "reading hypervisor information and hardware")
                info = dict(await client.get_hypervisor_info())
                hardware = (await client.get_hardware()).get("hardware") or {}
                await ctx.progress(0.5, "reading the policy the host enforces")
                try:
                    stored: dict[str, Any] | None = dict(await client.get_policy("active"))
                except RemoteError as exc:
                    if exc.code != "not_found":
                        raise
                    stored = None
                export: str | None = None
                if stored is not None:
                    try:
                        export = str((await client.export_policy(signed=False))["xml"])
                    except RemoteError:
                        export = str(stored.get("xml") or "") or None
            except XpsError as exc:
                raise host_error(exc, where) from exc
        finally:
            await client.close()
        return info, dict(hardware), stored, export

    async def _add_host_task(self, ctx: TaskContext) -> dict[str, Any]:
        caller = ctx.principal
        if not isinstance(caller, Principal):
            raise Conflict("the task was interrupted; add the host again")
        p = ctx.params
        info, hardware, stored, export = await self._read_host(ctx, p["address"], p["port"])
        reported = cpu_from_hardware(hardware)
        given: dict[str, Any] = dict(p.get("cpu") or {})
        facts = {**reported, **given}
        source = "+".join(s for s, d in (("xps", reported), ("operator", given)) if d) or "none"
        current = None
        if stored is not None:
            with contextlib.suppress(Exception):
                current = policy_from_dict(stored["policy"])
        # A new host is assigned no enclave yet: its switches join unbound. Each switch's
        # own tag stays in the host's export (host_info), and the policy service binds the
        # switch when the enclave of that tag is assigned to the host (_host_tags.bind).
        switches = [HostSwitch(s.name) for s in (current.switches if current is not None else ())]
        held = stored is not None and not p.get("takeover")
        await ctx.progress(0.7, "storing the host")
        now = int(self._clock() * 1_000_000)
        async with self._store.atomic() as conn:
            written = await self._policy.add_host(
                caller,
                name=p["name"],
                address=p["address"],
                port=p["port"],
                order=p.get("order"),
                color=p.get("color"),
                cpu=CpuFacts(
                    vendor=facts.get("vendor", ""),
                    family=facts.get("family"),
                    model=facts.get("model"),
                    stepping=facts.get("stepping"),
                    flags=frozenset(facts.get("flags", ())),
                ),
                shared_storage=p.get("shared_storage") or (),
                switches=switches,
                ro_port=p.get("ro_port"),
            )
            host = written.value
            host_id = str(host.id)
            await self._repo.put_host_info(
                conn,
                HostInfoRow(
                    host_id=host_id,
                    hypervisor=info,
                    cpu_source=source,
                    prior_policy_name=None if current is None else current.name,
                    prior_policy_sha256=None if stored is None else str(stored.get("sha256")),
                    prior_policy_xml=export,
                    added_at_us=now,
                ),
            )
            await self._repo.add_hosts(
                conn,
                [host_id],
                version=written.version,
                since_us=now,
                now_us=now,
                held=[host_id] if held else [],
            )
        self.propagator.poke()
        result: dict[str, Any] = {
            "host_id": host_id,
            "name": host.name,
            "version": written.version,
            "cpu": {
                "vendor": host.cpu.vendor,
                "family": host.cpu.family,
                "model": host.cpu.model,
                "stepping": host.cpu.stepping,
                "flags": sorted(host.cpu.flags),
            },
            "cpu_source": source,
            "hypervisor": {
                k: info.get(k)
                for k in ("xen_version", "backend", "hostname", "cpus", "mem_kb", "msm_status")
            },
            "enforced_policy": None,
            "propagation": "held" if held else "pending",
        }
        if stored is not None:
            result["enforced_policy"] = {
                "name": None if current is None else current.name,
                "generation": stored.get("generation"),
                "sha256": stored.get("sha256"),
                "export": f"/api/v1/hosts/{host_id}/prior-policy" if export else None,
            }
        if "model" not in facts:
            result["note"] = "XPS does not report the CPUID model number: supply cpu.model"
        message = f"host {host.name!r} added"
        if held:
            message += ": it enforces its own policy; re-converge it to let XE take over"
        await ctx.progress(1.0, message)
        return result

    async def host_facts(self, caller: Principal, ref: str | UUID) -> HostFacts:
        """What the host's XPS told XE when it joined. Auditors, in scope."""
        host = await self._policy.get_host(caller, ref)
        async with self._store.read() as conn:
            row = await self._repo.host_info(conn, str(host.id))
        if row is None:
            raise NotFound(f"host {host.name!r} was added without its XPS (no facts recorded)")
        return HostFacts(
            host_id=row.host_id,
            hypervisor=row.hypervisor,
            cpu_source=row.cpu_source,
            prior_policy_name=row.prior_policy_name,
            prior_policy_sha256=row.prior_policy_sha256,
            has_prior_export=row.prior_policy_xml is not None,
            added_at=from_us(row.added_at_us) or from_us(0),  # type: ignore[arg-type]
        )

    async def prior_policy(self, caller: Principal, ref: str | UUID) -> str:
        """The export of the policy the host enforced before XE took over (XML).
        Unscoped auditors (it is the whole host's policy)."""
        require_role(caller, Role.AUDITOR, "read a host's prior policy")
        if not caller.is_global:
            raise OutOfScope("a host's own policy is enterprise-wide, outside your scope")
        host = await self._policy.get_host(caller, ref)
        async with self._store.read() as conn:
            row = await self._repo.host_info(conn, str(host.id))
        if row is None or row.prior_policy_xml is None:
            raise NotFound(f"host {host.name!r} enforced no policy of its own when it joined")
        return row.prior_policy_xml

    async def _live_domains(self, host: Host) -> list[dict[str, Any]] | None:
        """The host's live domains (connecting first if needed); None if unreachable."""
        try:
            await self.pool.client(str(host.id), host.address, host.port)
        except XeError:
            return None
        link = self.pool.link_of(str(host.id))
        if link is not None and not link.refreshed.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.host_timeout_s):
                    await link.refreshed.wait()
        return self.pool.domains(str(host.id))

    async def _running_vms(self, policy: EnterprisePolicy, host: Host) -> list[str] | None:
        """Names of XE's VMs with a live domain on ``host`` (None: the host cannot tell)."""
        domains = await self._live_domains(host)
        if domains is None:
            return None
        names = {vm.name for vm in policy.vms}
        return sorted(
            d["name"]
            for d in domains
            if d.get("name") in names and d.get("run_state") not in ("shutdown", "destroyed")
        )

    async def remove_host(self, caller: Principal, ref: str | UUID, *, force: bool = False) -> int:
        """Removes a host (admins, unscoped). Refused while XE's VMs run there, or while
        the host cannot say whether they do, unless ``force``; the Policy service then
        refuses while VMs are *placed* there, unless ``force`` (they are re-placed).

        Returns:
            The policy version the removal made.
        """
        async with self._audited(caller, "compute.host.remove", f"host:{str(ref)[:64]}") as info:
            require_role(caller, Role.ADMIN, "remove a host")
            if not caller.is_global:
                raise OutOfScope("remove a host: enterprise-wide, outside your scope")
            host = await self._policy.get_host(caller, ref)
            policy = await self._policy.current()
            running = await self._running_vms(policy, host)
            info.update(host=host.name, force=force)
            if not force:
                if running is None:
                    raise Conflict(
                        f"host {host.name!r} is unreachable, so XE cannot tell whether its VMs "
                        "run there: remove it with force"
                    )
                if running:
                    shown = ", ".join(running[:5]) + (" …" if len(running) > 5 else "")
                    raise Conflict(
                        f"host {host.name!r} runs {len(running)} XE VMs ({shown}): stop them "
                        "first, or force"
                    )
            written = await self._policy.remove_host(caller, host.id, force=force)
            await self.pool.drop(str(host.id))
            info["version"] = written.version
            return written.version

    async def host_domains(self, caller: Principal, ref: str | UUID) -> list[DomainState]:
        """The domains a host runs now (live). Auditors; a scoped caller sees the domains
        of their enclaves' VMs only."""
        require_role(caller, Role.AUDITOR, "list a host's domains")
        host = await self._policy.get_host(caller, ref)
        full = await self._policy.current()
        domains = await self._live_domains(full.host(host.id))
        if domains is None:
            raise HostUnreachable(f"host {host.name!r} cannot be reached now")
        vms = {vm.name: vm for vm in full.vms}
        out = []
        for d in domains:
            vm = vms.get(str(d.get("name")))
            if not caller.is_global and (
                vm is None or not visible(caller, frozenset({str(vm.enclave)}))
            ):
                continue
            out.append(
                DomainState(
                    domid=int(d["domid"]),
                    name=str(d.get("name", "")),
                    run_state=str(d.get("run_state", "")),
                    vm_id=None if vm is None else str(vm.id),
                )
            )
        return out

    # -- VMs ---------------------------------------------------------------------------------

    async def _vm_and_host(self, caller: Principal, ref: str | UUID) -> tuple[Any, Host]:
        vm = await self._policy.get_vm(caller, ref)
        full = await self._policy.current()
        host = full.host_of(full.vm(vm.id))
        if host is None:
            raise Conflict(f"VM {vm.name!r} is placed on no host (no host carries its enclave)")
        return vm, host

    async def vm_state(self, caller: Principal, ref: str | UUID) -> VmState:
        """Where a VM is placed and what its host says it does. Auditors, in scope."""
        require_role(caller, Role.AUDITOR, "read a VM's state")
        vm, host = await self._vm_and_host(caller, ref)
        domains = await self._live_domains(host)
        if domains is None:
            raise HostUnreachable(f"host {host.name!r} cannot be reached now")
        live = next((d for d in domains if d.get("name") == vm.name), None)
        return VmState(
            vm_id=str(vm.id),
            name=vm.name,
            host_id=str(host.id),
            host=host.name,
            domid=None if live is None else int(live["domid"]),
            run_state="stopped" if live is None else str(live.get("run_state", "")),
        )

    async def vm_action(self, caller: Principal, ref: str | UUID, action: str) -> VmState:
        """Runs a lifecycle action on a VM through its host's XPS (``start`` creates the
        domain from the host's active policy). Operators, in scope.

        Raises:
            InvalidInput: Unknown action.
            NotFound: No such VM visible to the caller.
            Conflict: The host refused (the VM is not in its policy yet, the MSM refused
                it, it is not running …).
            HostUnreachable: The host cannot be reached.
        """
        if action not in VM_ACTIONS:
            raise InvalidInput(f"action must be one of {', '.join(VM_ACTIONS)}")
        async with self._audited(caller, f"compute.vm.{action}", f"vm:{str(ref)[:64]}") as info:
            require_role(caller, Role.OPERATOR, f"{action} a VM")
            vm, host = await self._vm_and_host(caller, ref)
            info.update(vm=vm.name, host=host.name)
            where = f"host {host.name!r}"
            client = await self.pool.client(str(host.id), host.address, host.port)
            try:
                if action == "start":
                    answer: dict[str, Any] = dict(await client.create_domain(vm.name))
                    run_state = "running"
                else:
                    answer = dict(await getattr(client, _XPS_CALL[action])(vm.name))
                    run_state = str(answer.get("run_state", ""))
            except RemoteError as exc:
                if exc.code in ("not_found", "conflict", "no_seclabel", "state") or (
                    exc.code == "violations_unaddressed"
                ):
                    raise Conflict(
                        f"{where} refused to {action} VM {vm.name!r}: {exc.message}"
                    ) from exc
                raise host_error(exc, where) from exc
            except XpsError as exc:
                raise host_error(exc, where) from exc
            domid = answer.get("domid")
            info["domid"] = domid
            return VmState(
                vm_id=str(vm.id),
                name=vm.name,
                host_id=str(host.id),
                host=host.name,
                domid=domid if isinstance(domid, int) else None,
                run_state=run_state,
            )

    async def migration_targets(self, caller: Principal, ref: str | UUID) -> list[MigrationTarget]:
        """The migration precheck (report §4.4): every other host the caller sees, allowed
        or with every reason it may not take the VM now (target carries the enclave; CPU
        vendor and flags; shared storage; the enclave's switch; the Chinese Wall on what
        runs there now; the caller's role; the VM running; hosts reachable). Auditors, in
        scope."""
        return await self._migrator.targets(caller, ref)

    async def migrate(self, caller: Principal, ref: str | UUID, target: str | UUID) -> TaskRow:
        """Starts the live migration of a running VM to ``target`` (a task; see
        :mod:`enterprise_store.services._migration`). Operators, in the VM's scope.

        Raises:
            RoleRequired, NotFound: Below operator; VM or host not visible.
            PolicyRefused: The precheck's every reason (``findings``).
        """
        async with self._audited(
            caller, "compute.vm.migrate", f"vm:{str(ref)[:64]}", details={"to": str(target)[:64]}
        ) as info:
            require_role(caller, Role.OPERATOR, "migrate a VM")
            row = await self._migrator.submit(caller, ref, target)
            info.update(task=row.id, vm=row.params["name"])
            return row

    # -- propagation -------------------------------------------------------------------------

    def _state(self, host: Host, row: PropagationRow | None, now_us: int) -> HostPropagation:
        if row is None:
            return HostPropagation(
                host_id=str(host.id),
                host=host.name,
                state="pending",
                desired_version=0,
                desired_sha256=None,
                observed_version=None,
                enforced_hash=None,
                attempts=0,
                last_error=None,
                since=from_us(now_us),  # type: ignore[arg-type]
                lag_s=0.0,
                next_attempt=None,
                connection=self.pool.state(str(host.id)),
            )
        return HostPropagation(
            host_id=row.host_id,
            host=host.name,
            state=row.state,
            desired_version=row.desired_version,
            desired_sha256=row.desired_sha256,
            observed_version=row.observed_version,
            enforced_hash=row.enforced_hash,
            attempts=row.attempts,
            last_error=row.last_error,
            since=from_us(row.since_us),  # type: ignore[arg-type]
            lag_s=round(self.propagator.lag_s(row, now_us), 3),
            next_attempt=from_us(row.next_attempt_us) if row.state == "retrying" else None,
            connection=self.pool.state(row.host_id),
        )

    async def propagation(self, caller: Principal) -> list[HostPropagation]:
        """Every visible host's propagation state, in panel order. Auditors."""
        view = await self._policy.policy(caller)
        rows = await self.propagator.states()
        now = int(self._clock() * 1_000_000)
        return [self._state(h, rows.get(str(h.id)), now) for h in view.hosts]

    async def propagation_lookup(
        self, caller: Principal
    ) -> Callable[[Host], HostPropagation | None]:
        """``state_of(host)`` for hosts the caller already read (a host list's page): the
        state comes from this server's last pass while its worker runs (at most a pass
        interval old), else from the table read once here; each is built only when asked.
        Auditors."""
        require_role(caller, Role.AUDITOR, "read the propagation state")
        if self.propagator.fresh:
            rows = self.propagator.rows
        else:
            rows = await self.propagator.states()
        now = int(self._clock() * 1_000_000)
        memo = self._state_memo
        if len(memo) > 2 * len(rows) + 64:
            memo.clear()  # hosts removed since, hosts of older snapshots
        pool_state = self.pool.state

        def state_of(host: Host) -> HostPropagation | None:
            # Not behind, a host's state is a function of the host (snapshot objects are
            # immutable), its row (immutable, replaced on change) and its connection: the
            # same object again, so the API finds its JSON by identity (a page of 100 built
            # them anew each request, ~1.5 ms at 1,000 hosts).
            found = memo.get(id(host))
            if found is not None and found[0] is host:
                host_id = found[1]
                row = rows.get(host_id)
                if row is found[2] and pool_state(host_id) == found[3].connection:
                    return found[3]
            else:
                host_id = str(host.id)
                row = rows.get(host_id)
            if row is None:
                return None
            state = self._state(host, row, now)
            if row.observed_version is not None and row.observed_version >= row.desired_version:
                memo[id(host)] = (host, host_id, row, state)  # else its lag grows with the clock
            return state

        return state_of

    async def host_propagation(self, caller: Principal, ref: str | UUID) -> HostPropagation:
        """One host's propagation state. Auditors, in scope."""
        host = await self._policy.get_host(caller, ref)
        async with self._store.read() as conn:
            row = await self._repo.propagation_of(conn, str(host.id))
        return self._state(host, row, int(self._clock() * 1_000_000))

    async def reconverge(self, caller: Principal, ref: str | UUID) -> HostPropagation:
        """An admin's word: send the host its slice again — ends DRIFTED (the host's change
        behind XE's back is overwritten; its host-owned parts are kept) and lets XE take
        over a HELD host. Admins, unscoped."""
        async with self._audited(
            caller, "compute.host.reconverge", f"host:{str(ref)[:64]}"
        ) as info:
            require_role(caller, Role.ADMIN, "re-converge a host")
            if not caller.is_global:
                raise OutOfScope("re-converge a host: enterprise-wide, outside your scope")
            host = await self._policy.get_host(caller, ref)
            row = await self.propagator.reconverge(str(host.id))
            if row is None:
                raise Conflict(f"host {host.name!r} has no propagation state yet: try again")
            info.update(host=host.name, was=row.state)
            return self._state(host, row, int(self._clock() * 1_000_000))

    async def propagate(self, caller: Principal) -> TaskRow:
        """Starts a task that propagates the current version now and ends when every host
        enforces it (or is drifted or held). Operators, unscoped."""
        async with self._audited(caller, "compute.propagate", "policy") as info:
            require_role(caller, Role.OPERATOR, "propagate the policy")
            if not caller.is_global:
                raise OutOfScope("propagate the policy: enterprise-wide, outside your scope")
            policy = await self._policy.current()
            held = await self._policy.approval_hold()
            if held is not None:
                info.update(version=policy.version, held_by=held.version)
                raise held
            row = await self.tasks.submit(
                "propagate",
                params={"version": policy.version},
                object=f"policy:v{policy.version}",
                created_by=caller.name,
                principal=caller,
            )
            info.update(task=row.id, version=policy.version)
            self.propagator.poke()
            return row

    async def _propagate_task(self, ctx: TaskContext) -> dict[str, Any]:
        version = int(ctx.params.get("version", 0))
        self.propagator.poke()
        last = ""
        while True:
            policy = await self._policy.current()
            rows = await self.propagator.states()
            hosts = [str(h.id) for h in policy.hosts]
            done = [
                h for h in hosts if (rows.get(h) and (rows[h].observed_version or 0) >= version)
            ]
            stuck = {
                h: rows[h].state
                for h in hosts
                if h in rows and h not in done and rows[h].state in ("drifted", "held")
            }
            retrying = [h for h in hosts if h in rows and rows[h].state == "retrying"]
            total = max(len(hosts), 1)
            message = f"{len(done)}/{len(hosts)} hosts enforce version {version} or later"
            if retrying:
                message += f", {len(retrying)} retrying"
            if stuck:
                message += f", {len(stuck)} drifted or held"
            if message != last:
                last = message
                await ctx.progress(len(done) / total, message)
            if len(done) + len(stuck) >= len(hosts):
                names = {str(h.id): h.name for h in policy.hosts}
                return {
                    "version": version,
                    "hosts": len(hosts),
                    "converged": len(done),
                    "drifted": sorted(names[h] for h, s in stuck.items() if s == "drifted"),
                    "held": sorted(names[h] for h, s in stuck.items() if s == "held"),
                }
            await self.propagator.wait_changed(0.5)

    # -- tasks -------------------------------------------------------------------------------

    @staticmethod
    def _sees(caller: Principal, row: TaskRow) -> bool:
        if row.created_by == caller.name:
            return True
        return visible(caller, None if row.enclaves is None else frozenset(row.enclaves))

    async def get_task(self, caller: Principal, task_id: str) -> TaskRow:
        """A task (auditors: those they may see; anyone: their own)."""
        require_role(caller, Role.AUDITOR, "read a task")
        row = await self.tasks.get(_task_id(task_id))
        if row is None or not self._sees(caller, row):
            raise NotFound(f"no task {task_id[:64]}")
        return row

    async def wait_task(self, caller: Principal, task_id: str, wait_s: float) -> TaskRow:
        """The task once it ended, or after ``wait_s`` seconds."""
        await self.get_task(caller, task_id)
        row = await self.tasks.wait(_task_id(task_id), wait_s)
        if row is None:
            raise NotFound(f"no task {task_id[:64]}")
        return row

    async def watch_task(self, caller: Principal, task_id: str) -> AsyncIterator[TaskRow]:
        """The task now and at every change, until it ends."""
        await self.get_task(caller, task_id)
        return self.tasks.watch(_task_id(task_id))

    async def list_tasks(
        self,
        caller: Principal,
        *,
        kind: str | None = None,
        state: str | None = None,
        before: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> tuple[list[TaskRow], tuple[int, str] | None]:
        """Tasks the caller may see, newest first, and the paging key of the next page."""
        require_role(caller, Role.AUDITOR, "list tasks")
        limit = max(1, min(limit, 1000))
        out: list[TaskRow] = []
        cursor = before
        while len(out) < limit:
            rows = await self.tasks.list(kind=kind, state=state, before=cursor, limit=limit)
            if not rows:
                return out, None
            for row in rows:
                cursor = (row.created_at_us, row.id)
                if self._sees(caller, row):
                    out.append(row)
                    if len(out) == limit:
                        return out, cursor
            if len(rows) < limit:
                return out, None
        return out, cursor

    async def cancel_task(self, caller: Principal, task_id: str) -> TaskRow:
        """Cancels a queued or running task: its starter (operator or above) or an admin."""
        async with self._audited(caller, "compute.task.cancel", f"task:{task_id[:64]}"):
            require_role(caller, Role.OPERATOR, "cancel a task")
            row = await self.get_task(caller, task_id)
            if row.created_by != caller.name and caller.role is not Role.ADMIN:
                raise NotFound(f"no task {task_id[:64]} of yours")
            return await self.tasks.cancel(row.id)


def _task_id(value: str) -> str:
    try:
        return str(UUID(str(value)))
    except ValueError:
        raise NotFound(f"no task {str(value)[:64]}") from None
