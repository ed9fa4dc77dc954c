"""The {method: handler} table that binds protocol methods to the host facade."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

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
    ViolationAck,
    Violations,
    ViolationsAddressed,
    VncCredentials,
    VncInfo,
    WhatIf,
)

#: A handler receives the validated params as keyword arguments.
Handler = Callable[..., Awaitable[dict[str, Any]]]


class HostApi(Protocol):
    """What the daemon calls on a host: ``xps.host.Host`` (mypy checks it where it is served).

    Parameter names are the protocol's (``xps.protocol.METHODS``; a test compares them)
    and each result is the method's shape in ``xps.protocol.RESULTS``.
    """

    async def hypervisor_info(self) -> HypervisorInfo: ...
    async def domain_run_states(self) -> DomainRunStates: ...
    async def log_msgs(self, limit: int = 200) -> LogMsgs: ...
    async def hardware(self) -> Hardware: ...
    async def get_policy(self, which: str = "active") -> StoredPolicy: ...
    async def stage_policy(
        self, xml: str | None = None, policy: dict[str, Any] | None = None
    ) -> Staged: ...
    async def staged_diff(self) -> StagedDiff: ...
    async def activate_policy(self) -> PolicyVersion: ...
    async def rollback_policy(self) -> PolicyVersion: ...
    async def export_policy(
        self, signed: bool = True, template: bool = False
    ) -> ExportedPolicy: ...
    async def create_domain(self, name: str, user: str | None = None) -> DomainCreated: ...
    async def pause_domain(self, domain: int | str, user: str | None = None) -> DomainAction: ...
    async def unpause_domain(self, domain: int | str, user: str | None = None) -> DomainAction: ...
    async def shutdown_domain(self, domain: int | str, user: str | None = None) -> DomainAction: ...
    async def reboot_domain(self, domain: int | str, user: str | None = None) -> DomainAction: ...
    async def destroy_domain(self, domain: int | str, user: str | None = None) -> DomainAction: ...
    async def vnc_info(self, domain: int | str) -> VncInfo: ...
    async def vnc_credentials(self, domain: int | str) -> VncCredentials: ...
    async def stats(self) -> Stats: ...
    async def stats_history(
        self, range: str = "10m", domain: str | None = None
    ) -> StatsHistory: ...
    async def violations(self, since_seq: int = 0, limit: int = 1000) -> Violations: ...
    async def call_counts(self, minutes: int = 10, domain: str | None = None) -> CallCounts: ...
    async def what_if(
        self, xml: str | None = None, policy: dict[str, Any] | None = None, minutes: int = 10
    ) -> WhatIf: ...
    async def open_incident(
        self, domain: str, user: str, trigger_seqs: list[int] | None = None
    ) -> Incident: ...
    async def incident_step(
        self,
        id: str,
        step: str,
        outcome: str,
        user: str,
        note: str | None = None,
        form: str | None = None,
    ) -> Incident: ...
    async def get_incident(self, id: str) -> Incident: ...
    async def list_incidents(
        self, query: str | None = None, state: str = "all"
    ) -> IncidentList: ...
    async def reopen_incident(self, id: str, user: str, note: str | None = None) -> Incident: ...
    async def address_violations(
        self,
        domain: int | str,
        user: str | None = None,
        note: str | None = None,
        unpause: bool = False,
    ) -> ViolationsAddressed: ...
    async def acknowledge_violations(
        self, up_to_seq: int, user: str, domain: str | None = None, note: str | None = None
    ) -> ViolationAck: ...
    async def set_misbehaviour(self, domain: int | str, kind: str, per_million: int) -> Empty: ...
    async def migrate_out(self, domain: int | str) -> MigrationOut: ...
    async def migrate_out_read(self, migration: str, chunk: int) -> MigrationChunk: ...
    async def migrate_out_dirty(self, migration: str, pause: bool = False) -> MigrationDirty: ...
    async def migrate_out_finish(self, migration: str, outcome: str) -> MigrationOutDone: ...
    async def migrate_in(
        self, migration: str, uuid: str, name: str, image_size: int, chunk_size: int
    ) -> MigrationIn: ...
    async def migrate_in_write(self, migration: str, chunk: int, data: str) -> MigrationWritten: ...
    async def migrate_in_finish(
        self, migration: str, digest: str | None = None, abort: bool = False
    ) -> MigrationInFinished: ...


#: Protocol method -> the :class:`HostApi` coroutine that serves it (params pass through
#: as keywords). The entries are the functions themselves: a name that is not a method
#: of HostApi is an error for mypy and at import, not an ``unknown_method`` at run time.
HOST_METHODS: Mapping[str, Callable[..., Awaitable[Mapping[str, Any]]]] = {
    "GetHypervisorInfo": HostApi.hypervisor_info,
    "GetDomainRunStates": HostApi.domain_run_states,
    "GetLogMsgs": HostApi.log_msgs,
    "GetHardware": HostApi.hardware,
    "GetPolicy": HostApi.get_policy,
    "StagePolicy": HostApi.stage_policy,
    "GetStagedDiff": HostApi.staged_diff,
    "ActivatePolicy": HostApi.activate_policy,
    "RollbackPolicy": HostApi.rollback_policy,
    "ExportPolicy": HostApi.export_policy,
    "CreateDomain": HostApi.create_domain,
    "PauseDomain": HostApi.pause_domain,
    "UnpauseDomain": HostApi.unpause_domain,
    "ShutdownDomain": HostApi.shutdown_domain,
    "RebootDomain": HostApi.reboot_domain,
    "DestroyDomain": HostApi.destroy_domain,
    "GetVncInfo": HostApi.vnc_info,
    "GetVncCredentials": HostApi.vnc_credentials,
    "GetStats": HostApi.stats,
    "GetStatsHistory": HostApi.stats_history,
    "GetViolations": HostApi.violations,
    "GetCallCounts": HostApi.call_counts,
    "WhatIf": HostApi.what_if,
    "OpenIncident": HostApi.open_incident,
    "IncidentStep": HostApi.incident_step,
    "GetIncident": HostApi.get_incident,
    "ListIncidents": HostApi.list_incidents,
    "ReopenIncident": HostApi.reopen_incident,
    "AddressViolations": HostApi.address_violations,
    "AcknowledgeViolations": HostApi.acknowledge_violations,
    "SetMisbehaviour": HostApi.set_misbehaviour,
    "MigrateOut": HostApi.migrate_out,
    "MigrateOutRead": HostApi.migrate_out_read,
    "MigrateOutDirty": HostApi.migrate_out_dirty,
    "MigrateOutFinish": HostApi.migrate_out_finish,
    "MigrateIn": HostApi.migrate_in,
    "MigrateInWrite": HostApi.migrate_in_write,
    "MigrateInFinish": HostApi.migrate_in_finish,
}


def host_handlers(host: HostApi) -> dict[str, Handler]:
    """Binds :data:`HOST_METHODS` to a host: ``{method: bound coroutine method}``.

    A stand-in (a test's partial host) may lack methods: those are left out and the
    server answers them ``unknown_method``.
    """
    table: dict[str, Handler] = {}
    for method, func in HOST_METHODS.items():
        bound = getattr(host, func.__name__, None)
        if callable(bound):
            table[method] = bound
    return table
