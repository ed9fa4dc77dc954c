"""VM migration (report §4.4): every host's verdict, and the move itself as a task.

The move, in the order that keeps the VM running on exactly one host:

1. precheck again (the policy or the hosts may have changed since the request);
2. the policy places the VM on the target: a new version. Propagation gives the target a
   slice that configures the VM (its XPS must know the VM before it can receive it); the
   source's MSM refuses the new slice while the VM still runs there (a running domain
   may not lose its label), so the source keeps the old one and retries;
3. the live move through both hosts' XPS (:func:`xps.client.move_domain`): pre-copy
   rounds while the VM runs, stop-and-copy, activation on the target through its MSM —
   same UUID, the memory image's digest checked — then the source's paused copy is
   destroyed. Downtime is measured from the pause to the target's answer;
4. the source, rid of the domain, now takes the new version (it is retried at once).

A refusal anywhere before the target runs the VM (its MSM's Chinese Wall, a host that
cannot be reached, a cancel) aborts the move — the source unpauses the VM — and a
second version places the VM back on the source. A task cut off by a restart of XE is
resumed (and one that lost the target's answer to the activation goes on the same way,
once both hosts answer): it looks where the VM runs, destroys a stale paused copy on
the source if the target runs it, unpauses it on the source otherwise, and makes the
policy say so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

from enterprise_store._errors import (
    Conflict,
    HostUnreachable,
    NotFound,
    PolicyRefused,
    XeError,
)
from enterprise_store.checker import check_migration, migration_targets
from enterprise_store.model import EnterprisePolicy, Host, Vm
from enterprise_store.services._access import Principal, Role, require_role
from enterprise_store.services._compute_types import MigrationReason, MigrationTarget
from enterprise_store.services._policy import PolicyService
from enterprise_store.store._compute_repo import TaskRow
from enterprise_store.workers._hosts import HostPool, host_error
from enterprise_store.workers._propagation import Propagator
from enterprise_store.workers._tasks import TaskContext, TaskRunner
from xps.client import MigrationInDoubt, RemoteError, XpsError, move_domain

__all__ = ["TASK_KIND", "Migrator"]

LOG = logging.getLogger("xenon.xe.migration")
TASK_KIND = "vm.migrate"
_PROGRESS = {"pre-copy": 0.3, "stop-and-copy": 0.7, "activate": 0.8, "finish": 0.9}
_HOST_CODES_REFUSED = ("conflict", "no_seclabel", "not_found", "state", "invalid_argument")

LiveDomains = Callable[[Host], Awaitable[list[dict[str, Any]] | None]]


def _reason(finding: Any) -> MigrationReason:
    return MigrationReason(
        str(finding.code), str(finding.message), tuple(finding.objects), str(finding.hint or "")
    )


class Migrator:
    """The precheck and the migration task of the Compute service.

    Args:
        policy: The Policy service (placement is a policy write).
        pool: XE's host connections.
        propagator: The propagation worker (waited on; poked).
        tasks: The task runner (the ``vm.migrate`` kind is registered here).
        live_domains: A host's live domains (None: it cannot be reached).
        converge_timeout_s: How long a host may take to enforce a version.
    """

    def __init__(
        self,
        policy: PolicyService,
        pool: HostPool,
        propagator: Propagator,
        tasks: TaskRunner,
        live_domains: LiveDomains,
        *,
        converge_timeout_s: float = 60.0,
        timeout_s: float = 600.0,
    ) -> None:
        self._policy = policy
        self._pool = pool
        self._propagator = propagator
        self._live_domains = live_domains
        self._converge_timeout_s = converge_timeout_s
        self._tasks = tasks
        tasks.register(TASK_KIND, self._task, timeout_s=timeout_s, resumable=True)

    # -- precheck ----------------------------------------------------------------------------

    async def _live(
        self, policy: EnterprisePolicy, hosts: list[Host]
    ) -> tuple[dict[UUID, list[UUID]], set[UUID], dict[UUID, dict[str, Any]]]:
        """Per reachable host of ``hosts`` the XE VMs with a live domain there; the
        unreachable ones; each VM's live domain (by VM id, with ``host``)."""
        by_name = {vm.name: vm.id for vm in policy.vms}
        answers = await asyncio.gather(*(self._live_domains(h) for h in hosts))
        running: dict[UUID, list[UUID]] = {}
        unreachable: set[UUID] = set()
        where: dict[UUID, dict[str, Any]] = {}
        for host, domains in zip(hosts, answers, strict=True):
            if domains is None:
                unreachable.add(host.id)
                continue
            running[host.id] = []
            for d in domains:
                vm_id = by_name.get(str(d.get("name")))
                if vm_id is not None and d.get("run_state") not in ("destroyed", None):
                    running[host.id].append(vm_id)
                    where[vm_id] = {**d, "host": host.id}
        return running, unreachable, where

    def _common(
        self, caller: Principal, vm: Vm, source: Host | None, live: dict[str, Any] | None
    ) -> list[MigrationReason]:
        out: list[MigrationReason] = []
        role = caller.role
        if role is None or role < Role.OPERATOR:
            out.append(
                MigrationReason(
                    "XE-MIG-ROLE",
                    f"vm {vm.name!r} ({vm.id}): migrating needs the operator role; "
                    f"{caller.name!r} is {role.value if role else 'a service'}",
                    (vm.name,),
                    "ask an operator or an admin of its enclave",
                )
            )
        if source is not None and (live is None or live.get("host") != source.id):
            out.append(
                MigrationReason(
                    "XE-MIG-NOT-RUNNING",
                    f"vm {vm.name!r} ({vm.id}) does not run on {source.name!r} now: "
                    "only a running VM is migrated (a stopped one is re-placed in the policy)",
                    (vm.name, source.name),
                    "start it first, or change its host",
                )
            )
        return out

    async def targets(self, caller: Principal, ref: str | UUID) -> list[MigrationTarget]:
        """Every other host the caller sees, in panel order, allowed or with every reason
        it may not take the VM now (the policy's reasons on live state, the caller's role,
        the VM not running, a host that cannot be reached). Auditors, in scope."""
        require_role(caller, Role.AUDITOR, "read a VM's migration targets")
        vm = await self._policy.get_vm(caller, ref)
        full = await self._policy.current()
        view = await self._policy.policy(caller)
        seen = {h.id for h in view.hosts}
        source = full.host_of(full.vm(vm.id))
        asked = [h for h in full.hosts if h.id in seen or (source and h.id == source.id)]
        running, unreachable, where = await self._live(full, asked)
        common = self._common(caller, vm, source, where.get(vm.id))
        if source is not None and source.id in unreachable:
            common.append(
                MigrationReason(
                    "XE-MIG-UNREACHABLE",
                    f"host {source.name!r} (the VM's) cannot be reached now",
                    (vm.name, source.name),
                )
            )
        out = []
        for host, findings in migration_targets(full, vm.id, running=running):
            if host.id not in seen:
                continue
            reasons = [_reason(f) for f in findings] + common
            if host.id in unreachable:
                reasons.append(
                    MigrationReason(
                        "XE-MIG-UNREACHABLE",
                        f"host {host.name!r} cannot be reached now",
                        (vm.name, host.name),
                    )
                )
            out.append(MigrationTarget(str(host.id), host.name, not reasons, tuple(reasons)))
        return out

    async def _verdict(
        self, caller: Principal, vm: Vm, target: Host
    ) -> tuple[EnterprisePolicy, Host, list[MigrationReason]]:
        full = await self._policy.current()
        source = full.host_of(full.vm(vm.id))
        asked = [h for h in (source, full.ids("hosts").get(target.id)) if h is not None]
        running, unreachable, where = await self._live(full, asked)
        reasons = [_reason(f) for f in check_migration(full, vm.id, target.id, running=running)]
        if source is None:
            return full, target, reasons  # XE-MIG-UNKNOWN says why
        if not any(r.code == "XE-MIG-SAME-HOST" for r in reasons):
            reasons += self._common(caller, vm, source, where.get(vm.id))
        for host in (source, target):
            if host.id in unreachable:
                reasons.append(
                    MigrationReason(
                        "XE-MIG-UNREACHABLE",
                        f"host {host.name!r} cannot be reached now",
                        (vm.name, host.name),
                    )
                )
        return full, source, reasons

    # -- the request -------------------------------------------------------------------------

    async def submit(self, caller: Principal, ref: str | UUID, target_ref: str | UUID) -> TaskRow:
        """Checks and queues the move (the caller has the role; the service audits)."""
        vm = await self._policy.get_vm(caller, ref)
        target = await self._policy.get_host(caller, target_ref)
        _, source, reasons = await self._verdict(caller, vm, target)
        if reasons:
            raise PolicyRefused(
                reasons,
                f"VM {vm.name!r} may not migrate to {target.name!r}: "
                + "; ".join(r.message for r in reasons),
            )
        return await self._tasks.submit(
            TASK_KIND,
            params={
                "vm": str(vm.id),
                "name": vm.name,
                "source": str(source.id),
                "target": str(target.id),
            },
            object=f"vm:{vm.name}",
            created_by=caller.name,
            enclaves=(str(vm.enclave),),
            principal=caller,
        )

    # -- the task ----------------------------------------------------------------------------

    async def _enforces(self, host: Host, version: int) -> None:
        """Waits until ``host`` enforces ``version`` or later (pokes propagation)."""
        self._propagator.poke()
        row = None
        try:
            async with asyncio.timeout(self._converge_timeout_s):
                while True:
                    row = (await self._propagator.states()).get(str(host.id))
                    if row is not None and (row.observed_version or 0) >= version:
                        return
                    if row is not None and row.state in ("drifted", "held"):
                        raise Conflict(
                            f"host {host.name!r} is {row.state}: it does not take XE's policy "
                            "now, so the VM cannot be placed there"
                        )
                    await self._propagator.wait_changed(0.5)
        except TimeoutError:
            why = f" ({row.last_error})" if row is not None and row.last_error else ""
            raise HostUnreachable(
                f"host {host.name!r} did not enforce policy version {version} within "
                f"{self._converge_timeout_s:g} s{why}"
            ) from None

    async def _place(self, caller: Principal, vm: Vm, host: Host) -> int:
        written = await self._policy.update_vm(caller, vm.id, {"host": str(host.id)})
        self._propagator.poke()
        return written.version

    async def _task(self, ctx: TaskContext) -> Mapping[str, Any]:
        p = ctx.params
        full = await self._policy.current()
        try:
            vm = full.vm(UUID(p["vm"]))
            source = full.host(UUID(p["source"]))
            target = full.host(UUID(p["target"]))
        except (LookupError, ValueError, XeError):
            raise Conflict(
                f"VM {p.get('name')!r} or one of its hosts left the policy meanwhile"
            ) from None
        caller = ctx.principal
        if not isinstance(caller, Principal):
            return await self._settle(ctx, vm, source, target)
        await ctx.progress(0.02, f"precheck: {vm.name} from {source.name} to {target.name}")
        _, now_on, reasons = await self._verdict(caller, vm, target)
        if now_on.id != source.id:
            raise Conflict(f"VM {vm.name!r} was placed on {now_on.name!r} meanwhile")
        if reasons:
            raise PolicyRefused(reasons)
        src = await self._pool.client(str(source.id), source.address, source.port)
        dst = await self._pool.client(str(target.id), target.address, target.port)
        version = await self._place(caller, vm, target)
        await ctx.progress(
            0.1, f"policy version {version} places {vm.name} on {target.name}: propagating"
        )
        phases: list[dict[str, Any]] = []
        started = time.monotonic()
        try:
            await self._enforces(target, version)

            async def report(phase: str, details: dict[str, Any]) -> None:
                # Watchers see the latest message only; the result keeps every phase.
                at_ms = round((time.monotonic() - started) * 1000, 3)
                phases.append({"phase": phase, "at_ms": at_ms, **details})
                text = ", ".join(f"{k} {v}" for k, v in details.items())
                await ctx.progress(
                    _PROGRESS.get(phase, 0.5), f"{phase}{': ' if text else ''}{text}"
                )

            moved = await move_domain(src, dst, vm.name, progress=report)
        except MigrationInDoubt:
            # Never two copies: the source keeps the VM paused until the target can say
            # whether it runs it (the task's deadline bounds the wait).
            await ctx.progress(0.85, "the target's answer was lost: settling where the VM runs")
            return await self._settle(ctx, vm, source, target)
        except BaseException as exc:
            if not isinstance(exc, RemoteError) and await self._runs_on(dst, vm.name):
                raise  # cancelled after the target took it over: it stays placed there
            back = await asyncio.shield(self._place(caller, vm, source))
            LOG.info("migration of %s aborted; version %d places it back", vm.name, back)
            if isinstance(exc, RemoteError) and exc.code in _HOST_CODES_REFUSED:
                raise Conflict(
                    f"host {target.name!r} refused VM {vm.name!r}: {exc.message}; it runs on "
                    f"{source.name!r} again and policy version {back} places it there"
                ) from exc
            if isinstance(exc, XpsError):
                raise host_error(exc, f"migration of {vm.name!r}") from exc
            raise
        await ctx.progress(0.92, f"{vm.name} runs on {target.name}; {source.name} drops it")
        source_state = await self._settle_source(source, version)
        return {
            "vm": vm.name,
            "vm_id": str(vm.id),
            "uuid": moved.uuid,
            "source": source.name,
            "target": target.name,
            "version": version,
            "source_domid": moved.source_domid,
            "target_domid": moved.target_domid,
            "downtime_ms": moved.downtime_ms,
            "rounds": moved.rounds,
            "chunks_sent": moved.chunks_sent,
            "image_bytes": moved.image_size,
            "image_sha256": moved.digest,
            "phases": phases,
            "source_policy": source_state,
        }

    @staticmethod
    async def _runs_on(client: Any, name: str) -> bool:
        try:
            states = await client.get_domain_run_states()
        except XpsError:
            return False
        return any(
            d.get("name") == name and d.get("run_state") == "running" for d in states["domains"]
        )

    async def _settle_source(self, source: Host, version: int) -> str:
        """Lets the source take the version it refused while it ran the VM; its state."""
        row = (await self._propagator.states()).get(str(source.id))
        if row is not None and row.state == "retrying":
            await self._propagator.reconverge(str(source.id))  # retry now, not after back-off
        try:
            await self._enforces(source, version)
        except XeError as exc:
            LOG.warning("after a migration: %s", exc.message)
            return f"pending: {exc.message}"
        return "converged"

    async def _settle(self, ctx: TaskContext, vm: Vm, source: Host, target: Host) -> dict[str, Any]:
        """:meth:`_recover`, again every second while a host cannot be reached."""
        while True:
            try:
                return await self._recover(ctx, vm, source, target)
            except HostUnreachable as exc:
                await ctx.progress(0.85, f"waiting for the hosts to settle {vm.name}: {exc}")
                await asyncio.sleep(1.0)

    async def _recover(
        self, ctx: TaskContext, vm: Vm, source: Host, target: Host
    ) -> dict[str, Any]:
        """A move cut off by a restart: the VM keeps running where it runs (one copy)."""
        await ctx.progress(0.05, f"settling {vm.name} after an interruption")
        system = Principal.system(source=f"task:{ctx.id}")
        copies: dict[str, dict[str, Any]] = {}
        clients = {}
        for host in (source, target):
            try:
                client = await self._pool.client(str(host.id), host.address, host.port)
                states = await client.get_domain_run_states()
            except XpsError as exc:
                raise host_error(exc, f"host {host.name!r}") from exc
            clients[host.name] = client
            live = next((d for d in states["domains"] if d.get("name") == vm.name), None)
            if live is not None:
                copies[host.name] = dict(live)
        on_target = copies.get(target.name)
        on_source = copies.get(source.name)
        if on_target is not None and on_target.get("run_state") == "running":
            if on_source is not None:
                try:
                    await clients[source.name].destroy_domain(int(on_source["domid"]))
                except XpsError as exc:
                    raise host_error(exc, f"host {source.name!r}") from exc
            where = target
        elif on_source is not None:
            if on_source.get("run_state") == "paused":
                try:
                    await clients[source.name].unpause_domain(int(on_source["domid"]))
                except XpsError as exc:
                    raise host_error(exc, f"host {source.name!r}") from exc
            where = source
        else:
            raise NotFound(f"VM {vm.name!r} runs on neither {source.name!r} nor {target.name!r}")
        full = await self._policy.current()
        placed = full.host_of(full.vm(vm.id))
        version = full.version
        if placed is None or placed.id != where.id:
            version = await self._place(system, vm, where)
        if where.id == target.id:
            await self._settle_source(source, version)
        await ctx.progress(1.0, f"{vm.name} runs on {where.name} (version {version})")
        return {
            "vm": vm.name,
            "vm_id": str(vm.id),
            "source": source.name,
            "target": target.name,
            "recovered": True,
            "runs_on": where.name,
            "version": version,
        }
