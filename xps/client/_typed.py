"""Typed wrappers over :class:`XpsClient.call`, one per protocol method."""

from __future__ import annotations

import base64
import binascii
from typing import Any, cast

from xps.client._client import XpsClient
from xps.client._errors import ProtocolViolation
from xps.client._types import (
    Authorization,
    Authorizations,
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
    MigrationDirty,
    MigrationIn,
    MigrationInFinished,
    MigrationOut,
    MigrationOutDone,
    MigrationWritten,
    PolicyVersion,
    Pong,
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
from xps.protocol import RESULTS, mismatches

Json = dict[str, Any]
Domain = int | str


def _given(**params: Any) -> Json:
    """The optional params that were given (a daemon without them is still served)."""
    return {k: v for k, v in params.items() if v is not None}


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ProtocolViolation("MigrateOutRead: the answer has no data")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolViolation("MigrateOutRead: data is not base64") from exc


class Xps(XpsClient):
    """:class:`XpsClient` with one coroutine per protocol method (see docs/protocol.md).

    Results are typed with the shapes of ``xps.protocol.RESULTS``. With
    :attr:`check_results` set, each result is checked against its shape first (members
    the shape does not know are let through: a newer daemon may add some) and one that
    does not fit raises :class:`ProtocolViolation`.
    """

    #: Check every result against its shape (off by default: a check walks the whole
    #: result, ~1 ms for 1,000 violation records).
    check_results: bool = False

    async def _checked(self, method: str, **params: Any) -> Json:
        result = await self.call(method, **params)
        if self.check_results:
            problems = mismatches(RESULTS[method], result, strict=False)
            if problems:
                raise ProtocolViolation(f"{method}: unexpected result: {'; '.join(problems[:3])}")
        return result

    async def ping(self) -> Pong:
        """``Ping``."""
        return cast(Pong, await self._checked("Ping"))

    async def get_hypervisor_info(self) -> HypervisorInfo:
        """``GetHypervisorInfo``."""
        return cast(HypervisorInfo, await self._checked("GetHypervisorInfo"))

    async def get_domain_run_states(self) -> DomainRunStates:
        """``GetDomainRunStates``."""
        return cast(DomainRunStates, await self._checked("GetDomainRunStates"))

    async def get_log_msgs(self, limit: int = 200) -> LogMsgs:
        """``GetLogMsgs``."""
        return cast(LogMsgs, await self._checked("GetLogMsgs", limit=limit))

    async def get_hardware(self) -> Hardware:
        """``GetHardware``."""
        return cast(Hardware, await self._checked("GetHardware"))

    async def get_policy(self, which: str = "active") -> StoredPolicy:
        """``GetPolicy``."""
        return cast(StoredPolicy, await self._checked("GetPolicy", which=which))

    async def stage_policy(self, xml: str | None = None, policy: Json | None = None) -> Staged:
        """``StagePolicy``."""
        return cast(Staged, await self._checked("StagePolicy", xml=xml, policy=policy))

    async def get_staged_diff(self) -> StagedDiff:
        """``GetStagedDiff``."""
        return cast(StagedDiff, await self._checked("GetStagedDiff"))

    async def activate_policy(self) -> PolicyVersion:
        """``ActivatePolicy``."""
        return cast(PolicyVersion, await self._checked("ActivatePolicy"))

    async def rollback_policy(self) -> PolicyVersion:
        """``RollbackPolicy``."""
        return cast(PolicyVersion, await self._checked("RollbackPolicy"))

    async def export_policy(self, signed: bool = True, template: bool = False) -> ExportedPolicy:
        """``ExportPolicy``."""
        return cast(
            ExportedPolicy, await self._checked("ExportPolicy", signed=signed, template=template)
        )

    async def create_domain(self, name: str, user: str | None = None) -> DomainCreated:
        """``CreateDomain`` (``user``: who asked, for the host's log)."""
        return cast(
            DomainCreated, await self._checked("CreateDomain", name=name, **_given(user=user))
        )

    async def pause_domain(self, domain: Domain, user: str | None = None) -> DomainAction:
        """``PauseDomain`` (``user``: who asked, for the host's log)."""
        return cast(
            DomainAction, await self._checked("PauseDomain", domain=domain, **_given(user=user))
        )

    async def unpause_domain(self, domain: Domain, user: str | None = None) -> DomainAction:
        """``UnpauseDomain`` (``user``: who asked, for the host's log)."""
        return cast(
            DomainAction, await self._checked("UnpauseDomain", domain=domain, **_given(user=user))
        )

    async def shutdown_domain(self, domain: Domain, user: str | None = None) -> DomainAction:
        """``ShutdownDomain`` (``user``: who asked, for the host's log)."""
        return cast(
            DomainAction, await self._checked("ShutdownDomain", domain=domain, **_given(user=user))
        )

    async def reboot_domain(self, domain: Domain, user: str | None = None) -> DomainAction:
        """``RebootDomain`` (``user``: who asked, for the host's log)."""
        return cast(
            DomainAction, await self._checked("RebootDomain", domain=domain, **_given(user=user))
        )

    async def destroy_domain(self, domain: Domain, user: str | None = None) -> DomainAction:
        """``DestroyDomain`` (``user``: who asked, for the host's log)."""
        return cast(
            DomainAction, await self._checked("DestroyDomain", domain=domain, **_given(user=user))
        )

    async def get_vnc_info(self, domain: Domain) -> VncInfo:
        """``GetVncInfo``: where the domain's VNC console listens (never the password)."""
        return cast(VncInfo, await self._checked("GetVncInfo", domain=domain))

    async def get_vnc_credentials(self, domain: Domain) -> VncCredentials:
        """``GetVncCredentials``: :meth:`get_vnc_info` with the password (read-write only)."""
        return cast(VncCredentials, await self._checked("GetVncCredentials", domain=domain))

    async def get_stats(self) -> Stats:
        """``GetStats``."""
        return cast(Stats, await self._checked("GetStats"))

    async def get_stats_history(
        self, range: str = "10m", domain: str | None = None
    ) -> StatsHistory:
        """``GetStatsHistory``."""
        return cast(
            StatsHistory, await self._checked("GetStatsHistory", range=range, domain=domain)
        )

    async def get_violations(self, since_seq: int = 0, limit: int = 1000) -> Violations:
        """``GetViolations``."""
        return cast(
            Violations, await self._checked("GetViolations", since_seq=since_seq, limit=limit)
        )

    async def get_call_counts(self, minutes: int = 10, domain: str | None = None) -> CallCounts:
        """``GetCallCounts``: allowed calls of the last ``minutes`` (read-only role)."""
        return cast(
            CallCounts, await self._checked("GetCallCounts", minutes=minutes, domain=domain)
        )

    async def what_if(
        self, xml: str | None = None, policy: dict[str, Any] | None = None, minutes: int = 10
    ) -> WhatIf:
        """``WhatIf``: what ``xml`` (or ``policy``) would do if made active (read-only)."""
        return cast(WhatIf, await self._checked("WhatIf", xml=xml, policy=policy, minutes=minutes))

    async def open_incident(
        self, domain: str, user: str, trigger_seqs: list[int] | None = None
    ) -> Incident:
        """``OpenIncident``: the host captures the domain's record (admin role)."""
        extra = _given(trigger_seqs=trigger_seqs)
        return cast(
            Incident, await self._checked("OpenIncident", domain=domain, user=user, **extra)
        )

    async def incident_step(
        self,
        id: str,
        step: str,
        outcome: str,
        user: str,
        note: str | None = None,
        form: str | None = None,
    ) -> Incident:
        """``IncidentStep``: one runbook step, done or skipped (a reason; close: a note;
        a quarantine's form: seclabel or vifs)."""
        extra = _given(note=note, form=form)
        return cast(
            Incident,
            await self._checked(
                "IncidentStep", id=id, step=step, outcome=outcome, user=user, **extra
            ),
        )

    async def get_incident(self, id: str) -> Incident:
        """``GetIncident`` (read-only role)."""
        return cast(Incident, await self._checked("GetIncident", id=id))

    async def list_incidents(self, query: str | None = None, state: str = "all") -> IncidentList:
        """``ListIncidents``: summaries, newest first (read-only role)."""
        extra = _given(query=query)
        return cast(IncidentList, await self._checked("ListIncidents", state=state, **extra))

    async def reopen_incident(self, id: str, user: str, note: str | None = None) -> Incident:
        """``ReopenIncident`` (admin role)."""
        extra = _given(note=note)
        return cast(Incident, await self._checked("ReopenIncident", id=id, user=user, **extra))

    async def address_violations(
        self,
        domain: Domain,
        user: str | None = None,
        note: str | None = None,
        unpause: bool = False,
    ) -> ViolationsAddressed:
        """``AddressViolations``; ``unpause=True`` also resumes the domain (resolve)."""
        extra = _given(user=user, note=note, unpause=unpause or None)
        return cast(
            ViolationsAddressed,
            await self._checked("AddressViolations", domain=domain, **extra),
        )

    async def acknowledge_violations(
        self, up_to_seq: int, user: str, domain: str | None = None, note: str | None = None
    ) -> ViolationAck:
        """``AcknowledgeViolations``: violations up to ``up_to_seq`` (of ``domain`` or all)
        seen by ``user``."""
        extra = _given(domain=domain, note=note)
        return cast(
            ViolationAck,
            await self._checked("AcknowledgeViolations", up_to_seq=up_to_seq, user=user, **extra),
        )

    async def set_misbehaviour(self, domain: Domain, kind: str, per_million: int) -> Empty:
        """``SetMisbehaviour`` (sim backend only)."""
        return cast(
            Empty,
            await self._checked(
                "SetMisbehaviour", domain=domain, kind=kind, per_million=per_million
            ),
        )

    async def migrate_out(self, domain: Domain) -> MigrationOut:
        """``MigrateOut``: opens a live move of a running domain (source)."""
        return cast(MigrationOut, await self._checked("MigrateOut", domain=domain))

    async def migrate_out_read(self, migration: str, chunk: int) -> bytes:
        """``MigrateOutRead``: one chunk of the image, decoded."""
        result = await self._checked("MigrateOutRead", migration=migration, chunk=chunk)
        return _b64(result.get("data"))

    async def migrate_out_dirty(self, migration: str, pause: bool = False) -> MigrationDirty:
        """``MigrateOutDirty``: ``{round, dirty, paused, digest}``."""
        return cast(
            MigrationDirty, await self._checked("MigrateOutDirty", migration=migration, pause=pause)
        )

    async def migrate_out_finish(self, migration: str, outcome: str) -> MigrationOutDone:
        """``MigrateOutFinish``: ``outcome`` is ``done`` or ``abort``."""
        return cast(
            MigrationOutDone,
            await self._checked("MigrateOutFinish", migration=migration, outcome=outcome),
        )

    async def migrate_in(
        self, migration: str, uuid: str, name: str, image_size: int, chunk_size: int = 64 << 10
    ) -> MigrationIn:
        """``MigrateIn``: opens the receipt of a domain (destination)."""
        return cast(
            MigrationIn,
            await self._checked(
                "MigrateIn",
                migration=migration,
                uuid=uuid,
                name=name,
                image_size=image_size,
                chunk_size=chunk_size,
            ),
        )

    async def migrate_in_write(self, migration: str, chunk: int, data: bytes) -> MigrationWritten:
        """``MigrateInWrite``: one chunk of the image."""
        encoded = base64.b64encode(data).decode("ascii")
        return cast(
            MigrationWritten,
            await self._checked("MigrateInWrite", migration=migration, chunk=chunk, data=encoded),
        )

    async def migrate_in_finish(
        self, migration: str, digest: str | None = None, abort: bool = False
    ) -> MigrationInFinished:
        """``MigrateInFinish``: activate with the source's digest, or abort."""
        return cast(
            MigrationInFinished,
            await self._checked("MigrateInFinish", migration=migration, digest=digest, abort=abort),
        )

    async def list_authorizations(self) -> Authorizations:
        """``ListAuthorizations``."""
        return cast(Authorizations, await self._checked("ListAuthorizations"))

    async def add_authorization(self, alias: str, cert_pem: str) -> Authorization:
        """``AddAuthorization`` (needs a daemon started with ``--authstore-pass``)."""
        return cast(
            Authorization, await self._checked("AddAuthorization", alias=alias, cert_pem=cert_pem)
        )

    async def remove_authorization(self, alias: str) -> Authorization:
        """``RemoveAuthorization``."""
        return cast(Authorization, await self._checked("RemoveAuthorization", alias=alias))
