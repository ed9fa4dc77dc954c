"""The Host facade: one object the XPS server calls for everything about this host.

The work is done by three services over one :class:`~._svc_state.HostState`:
:class:`~._svc_policy.PolicyService` (stage, activate, roll back, export),
:class:`~._svc_domains.DomainService` (run states, lifecycle, VNC, migration) and
:class:`~._svc_telemetry.TelemetryService` (facts, statistics, violations). The Host opens
and closes them and owns their background loops, all in one ``asyncio.TaskGroup``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from xps import msm
from xps.protocol import (
    CallCounts,
    DomainAction,
    DomainCreated,
    DomainRunStates,
    Empty,
    ExportedPolicy,
    Hardware,
    HypervisorInfo,
    Incident,
    IncidentList,
    LogMsgs,
    MigrationChunk,
    MigrationDirty,
    MigrationIn,
    MigrationInFinished,
    MigrationOut,
    MigrationOutDone,
    MigrationWritten,
    PolicyVersion,
    Staged,
    StagedDiff,
    Stats,
    StatsHistory,
    StoredPolicy,
    Violation,
    ViolationAck,
    Violations,
    ViolationsAddressed,
    VncCredentials,
    VncInfo,
    WhatIf,
)

from ._config import HostConfig
from ._convert import from_msm_error
from ._errors import ConflictError, HostStateError, InvalidArgument
from ._policystore import PolicyStore
from ._runner import CommandRunner, RecordingRunner
from ._svc_domains import DomainService
from ._svc_incidents import IncidentService
from ._svc_policy import PolicyService
from ._svc_state import HostState
from ._svc_telemetry import TelemetryService
from ._whatif import LiveDomain, what_if

__all__ = ["Host"]

log = logging.getLogger("xps.host")

#: Violation records a what-if looks back over (the newest ones kept in memory).
_WHATIF_VIOLATIONS = 100_000


class Host:
    """The host layer of XPS: policy, domains, hardware, statistics and violations.

    Open with :meth:`open`, close with :meth:`close`. Every method returns the JSON-safe
    result its protocol method names in ``xps.protocol.RESULTS`` and raises
    :class:`HostError` subclasses. All methods run on the event loop that opened the
    host; blocking file I/O goes to worker threads.
    """

    def __init__(
        self,
        config: HostConfig,
        runner: CommandRunner,
        ctx: msm.Msm | None,
        msm_status: str,
        store: PolicyStore,
    ) -> None:
        self.config = config
        self.runner = runner
        self.state = HostState(config, runner, ctx, msm_status, store)
        self.domains = DomainService(self.state)
        self.telemetry = TelemetryService(self.state, self.domains.rows)
        self.policy = PolicyService(self.state, self.telemetry.monitor.set_labels)
        self.incidents = IncidentService(
            self.state, self._kept_violations, self._history_10m, self.policy.activate_changed
        )
        self.policy.quarantines = self.incidents
        self._background: asyncio.Task[None] | None = None
        self._closed = False
        # The parts tests reach into (crash injection, MSM inspection).
        self._msm = ctx
        self._store = store
        self._migrator = self.domains.migrator

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, config: HostConfig, runner: CommandRunner | None = None) -> Host:
        """Opens the host: state directory, MSM backend, policy recovery, background tasks.

        Args:
            config: Host configuration.
            runner: Command runner; None means a :class:`RecordingRunner` for the sim
                backend and a real :class:`CommandRunner` for xen.

        Raises:
            HostError: The state directory is unusable or the stored policy is refused.
        """
        state_dir = config.state_dir
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise HostStateError(f"cannot create state dir {state_dir}: {exc.strerror}") from exc
        store = await asyncio.to_thread(PolicyStore, state_dir)
        if runner is None:
            runner = RecordingRunner() if config.backend == "sim" else CommandRunner()
        ctx: msm.Msm | None
        if config.backend == "sim":
            try:
                ctx = msm.Msm.open_sim(
                    seed=config.seed,
                    host_mem_kb=config.sim_host_mem_kb,
                    host_cpus=config.sim_cpus,
                )
            except msm.MsmError as exc:
                raise from_msm_error(exc, "cannot open the simulated hypervisor") from exc
            status = "enforcing"
        else:
            try:
                ctx = msm.Msm.open_xen()
                status = "enforcing"
            except (msm.NoXen, msm.NoMsm, msm.VersionMismatch) as exc:
                ctx, status = None, f"unavailable: {exc}"
        host = cls(config, runner, ctx, status, store)
        try:
            await host.telemetry.start()
            await asyncio.to_thread(host.incidents.load)
            await host.policy.recover()
            host._start_background()
        except BaseException:
            await host.close()
            raise
        return host

    def _start_background(self) -> None:
        loops = self.telemetry.loops()

        async def run() -> None:
            # Each loop logs its own failures and carries on; one that still ends with
            # an error cancels the others and the group's error is logged below.
            async with asyncio.TaskGroup() as group:
                for name, loop in loops:
                    group.create_task(loop(), name=f"xps-host-{name}")

        self._background = asyncio.create_task(run(), name="xps-host-background")
        self._background.add_done_callback(_report_end)

    async def close(self) -> None:
        """Stops the background tasks, saves the statistics, closes the MSM context."""
        if self._closed:
            return
        self._closed = True
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._background
            self._background = None
        await self.telemetry.close()
        if self.state.msm is not None:
            self.state.msm.close()
        self.state.events.clear()

    async def __aenter__(self) -> Host:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Registers ``callback(event)``; returns a function that unsubscribes it.

        Callbacks run on the event loop and must not block; an exception in one is
        logged and does not affect the host or other subscribers.
        """
        return self.state.events.subscribe(callback)

    # ------------------------------------------------------------------ facts, telemetry

    async def hypervisor_info(self) -> HypervisorInfo:
        """Versions, MSM status, policy generation and host resources."""
        return await self.telemetry.hypervisor_info()

    async def log_msgs(self, limit: int = 200) -> LogMsgs:
        """The most recent MSM log lines, oldest first."""
        return await self.telemetry.log_msgs(limit)

    async def hardware(self) -> Hardware:
        """Discovers the host hardware now; tags come from the active policy's inventory."""
        return await self.telemetry.hardware()

    async def stats(self) -> Stats:
        """The latest statistics sample (taken now when none exists yet)."""
        return await self.telemetry.stats()

    async def stats_history(self, range: str = "10m", domain: str | None = None) -> StatsHistory:
        """Tiered history: 10m (5 s steps), 2h (1 min), 1d and 1w (1 h)."""
        return await self.telemetry.stats_history(range, domain)

    async def call_counts(self, minutes: int = 10, domain: str | None = None) -> CallCounts:
        """Allowed calls of the last ``minutes`` per domain and (hypercall, sub-op)."""
        return await self.telemetry.call_counts(minutes, domain)

    async def what_if(
        self, xml: str | None = None, policy: dict[str, Any] | None = None, minutes: int = 10
    ) -> WhatIf:
        """What a policy would do if it were made active now, from what was recorded in
        the last ``minutes``: violations it fixes, allowed calls it denies, running
        domains it refuses, channel and device pairs that change. Changes nothing."""
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
            raise InvalidArgument("minutes must be an integer within 1..1440")
        staged, _ = self.policy.candidate(xml, policy)
        kept: list[Any] = []
        refused: str | None = None
        try:  # as an activation would: quarantines in force are kept
            staged, kept = self.incidents.keep_quarantines(staged, "staged")
        except ConflictError as exc:
            refused = exc.message
        ctx = self.state.msm
        live = (
            [LiveDomain(d.domid, d.uuid, d.name) for d in ctx.domains() if d.domid]
            if ctx is not None
            else []
        )
        self.telemetry._drain()
        monitor = self.telemetry.monitor
        since_ns = time.time_ns() - minutes * 60_000_000_000
        recorded = monitor.since(max(0, monitor.last_seq - _WHATIF_VIOLATIONS), _WHATIF_VIOLATIONS)
        violations = [v for v in recorded["violations"] if v["ts_ns"] >= since_ns]
        calls = (await self.telemetry.call_counts(minutes))["calls"]
        totals = {(c["domain"], c["hypercall"], c["subop"]): c["count"] for c in calls}
        result = what_if(staged, self.state.policy, live, violations, totals, minutes)
        if kept:
            result["quarantines_kept"] = [str(k) for k in kept]
        if refused is not None:
            result["quarantine_refused"] = refused
        return result

    async def violations(self, since_seq: int = 0, limit: int = 1000) -> Violations:
        """Violations with ``seq > since_seq`` still kept in memory, oldest first."""
        return await self.telemetry.violations(since_seq, limit)

    # ------------------------------------------------------------------ incidents

    def _kept_violations(self) -> list[Violation]:
        self.telemetry._drain()
        monitor = self.telemetry.monitor
        return monitor.since(max(0, monitor.last_seq - _WHATIF_VIOLATIONS), _WHATIF_VIOLATIONS)[
            "violations"
        ]

    async def _history_10m(self, domain: str) -> StatsHistory:
        # Every series, then the domain's: one that has not run lately has none.
        whole = await self.telemetry.stats_history("10m", None)
        mine = [s for s in whole["series"] if s["name"] == domain]
        return {"range": whole["range"], "step_s": whole["step_s"], "series": mine}

    async def open_incident(
        self, domain: str, user: str, trigger_seqs: list[int] | None = None
    ) -> Incident:
        """Opens an incident for ``domain`` and captures its record (violations, stats,
        config, SecLabel, policy version, operator, time); see ``_svc_incidents``."""
        return await self.incidents.open(domain, user, trigger_seqs)

    async def incident_step(
        self,
        id: str,
        step: str,
        outcome: str,
        user: str,
        note: str | None = None,
        form: str | None = None,
    ) -> Incident:
        """Records a runbook step of an incident (skipped needs a reason, close a note;
        a quarantine's form: seclabel or vifs)."""
        return await self.incidents.step(id, step, outcome, user, note, form)

    async def get_incident(self, id: str) -> Incident:
        """One incident in full."""
        return await self.incidents.get(id)

    async def list_incidents(self, query: str | None = None, state: str = "all") -> IncidentList:
        """Incident summaries, newest first, matching ``query`` and ``state``."""
        return await self.incidents.list(query, state)

    async def reopen_incident(self, id: str, user: str, note: str | None = None) -> Incident:
        """Opens a closed incident again."""
        return await self.incidents.reopen(id, user, note)

    # ------------------------------------------------------------------ policy

    async def get_policy(self, which: str = "active") -> StoredPolicy:
        """One stored policy as XML and as a dict (staged: NotFound when nothing is staged)."""
        return await self.policy.get_policy(which)

    async def staged_diff(self) -> StagedDiff:
        """Differences from the active policy to the staged one (empty when none staged)."""
        return await self.policy.staged_diff()

    async def export_policy(self, signed: bool = True, template: bool = False) -> ExportedPolicy:
        """The active policy (or its hardware-free template) as XML, signed on request."""
        return await self.policy.export_policy(signed, template)

    async def stage_policy(
        self, xml: str | None = None, policy: dict[str, Any] | None = None
    ) -> Staged:
        """Validates and stages a policy given as XML text or as its dict form."""
        return await self.policy.stage_policy(xml, policy)

    async def activate_policy(self) -> PolicyVersion:
        """Makes the staged policy active: one MSM transaction, atomic on disk, network applied."""
        return await self.policy.activate_policy()

    async def rollback_policy(self) -> PolicyVersion:
        """Makes the previous policy active again (the current one becomes previous)."""
        return await self.policy.rollback_policy()

    # ------------------------------------------------------------------ domains

    async def domain_run_states(self) -> DomainRunStates:
        """Live domains with their xl state; also the `xl list` text."""
        return await self.domains.domain_run_states()

    async def vnc_info(self, domain: int | str, include_password: bool = False) -> VncInfo:
        """Where a domain's VNC console listens; the password only with ``include_password``."""
        return await self.domains.vnc_info(domain, include_password)

    async def vnc_credentials(self, domain: int | str) -> VncCredentials:
        """:meth:`vnc_info` with ``"password"``: for authorized read-write clients only."""
        return await self.domains.vnc_credentials(domain)

    # ``user``: the console user who asked (the MSM log names them; the domain event's
    # origin is ``console <user>``).

    async def create_domain(self, name: str, user: str | None = None) -> DomainCreated:
        """Creates and starts the domain ``name`` configured in the active policy."""
        return await self.domains.create_domain(name, user)

    async def pause_domain(self, domain: int | str, user: str | None = None) -> DomainAction:
        """Pauses a domain (by domid or name)."""
        return await self.domains.act("pause", domain, user)

    async def unpause_domain(self, domain: int | str, user: str | None = None) -> DomainAction:
        """Unpauses a domain; refused while it has unaddressed MSM violations."""
        return await self.domains.act("unpause", domain, user)

    async def shutdown_domain(self, domain: int | str, user: str | None = None) -> DomainAction:
        """Shuts a domain down (it stays listed until destroyed)."""
        return await self.domains.act("shutdown", domain, user)

    async def reboot_domain(self, domain: int | str, user: str | None = None) -> DomainAction:
        """Reboots a domain in place."""
        return await self.domains.act("reboot", domain, user)

    async def destroy_domain(self, domain: int | str, user: str | None = None) -> DomainAction:
        """Destroys a domain and frees (scrubs) its memory."""
        return await self.domains.act("destroy", domain, user)

    async def address_violations(
        self,
        domain: int | str,
        user: str | None = None,
        note: str | None = None,
        unpause: bool = False,
    ) -> ViolationsAddressed:
        """Marks a domain's violations as addressed (count 0); ``unpause`` also resumes
        it (resolve). ``user`` and ``note`` are logged on the host."""
        return await self.domains.address_violations(domain, user, note, unpause)

    async def acknowledge_violations(
        self, up_to_seq: int, user: str, domain: str | None = None, note: str | None = None
    ) -> ViolationAck:
        """Records that ``user`` saw the violations up to ``up_to_seq`` (of ``domain`` or
        of all); kept, logged and pushed to every subscriber."""
        return await self.telemetry.acknowledge(domain, up_to_seq, user, note)

    async def set_misbehaviour(self, domain: int | str, kind: str | int, per_million: int) -> Empty:
        """Makes a sim domain misbehave (out_of_profile, rate_burst or cross_tag)."""
        return await self.domains.set_misbehaviour(domain, kind, per_million)

    # ------------------------------------------------------------------ migration (sim)

    async def migrate_out(self, domain: int | str) -> MigrationOut:
        """Source: opens a live move of a running domain (sim backend; see SimMigrator)."""
        return await self.domains.migrate_out(domain)

    async def migrate_out_read(self, migration: str, chunk: int) -> MigrationChunk:
        """Source: one chunk of the domain's memory image, as it is now."""
        return await self.domains.migrate_out_read(migration, chunk)

    async def migrate_out_dirty(self, migration: str, pause: bool = False) -> MigrationDirty:
        """Source: chunks written since read; ``pause`` stops the domain first."""
        return await self.domains.migrate_out_dirty(migration, pause)

    async def migrate_out_finish(self, migration: str, outcome: str) -> MigrationOutDone:
        """Source: ``done`` destroys the moved domain, ``abort`` unpauses it."""
        return await self.domains.migrate_out_finish(migration, outcome)

    async def migrate_in(
        self, migration: str, uuid: str, name: str, image_size: int, chunk_size: int
    ) -> MigrationIn:
        """Destination: opens the receipt of a domain the active policy configures."""
        return await self.domains.migrate_in(migration, uuid, name, image_size, chunk_size)

    async def migrate_in_write(self, migration: str, chunk: int, data: str) -> MigrationWritten:
        """Destination: one chunk (base64) of the incoming image."""
        return await self.domains.migrate_in_write(migration, chunk, data)

    async def migrate_in_finish(
        self, migration: str, digest: str | None = None, abort: bool = False
    ) -> MigrationInFinished:
        """Destination: digest check, MSM admission, image restored, domain running."""
        return await self.domains.migrate_in_finish(migration, digest, abort)


def _report_end(task: asyncio.Task[None]) -> None:
    # The loops never end on their own: an end that is not a cancellation is a fault
    # that would otherwise go unseen (statistics and violations silently stop).
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("host background tasks stopped", exc_info=exc)
    else:
        log.error("host background tasks stopped without an error")
