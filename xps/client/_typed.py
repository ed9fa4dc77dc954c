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
    DomainAction,
    DomainRunStates,
    HypervisorInfo,
    PolicyVersion,
    StoredPolicy,
    Violations,
)

Json = dict[str, Any]
Domain = int | str


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ProtocolViolation("MigrateOutRead: the answer has no data")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolViolation("MigrateOutRead: data is not base64") from exc


class Xps(XpsClient):
    """:class:`XpsClient` with one coroutine per protocol method (see docs/protocol.md)."""

    async def ping(self) -> Json:
        """``Ping``."""
        return await self.call("Ping")

    async def get_hypervisor_info(self) -> HypervisorInfo:
        """``GetHypervisorInfo``."""
        return cast(HypervisorInfo, await self.call("GetHypervisorInfo"))

    async def get_domain_run_states(self) -> DomainRunStates:
        """``GetDomainRunStates``."""
        return cast(DomainRunStates, await self.call("GetDomainRunStates"))

    async def get_log_msgs(self, limit: int = 200) -> Json:
        """``GetLogMsgs``."""
        return await self.call("GetLogMsgs", limit=limit)

    async def get_hardware(self) -> Json:
        """``GetHardware``."""
        return await self.call("GetHardware")

    async def get_policy(self, which: str = "active") -> StoredPolicy:
        """``GetPolicy``."""
        return cast(StoredPolicy, await self.call("GetPolicy", which=which))

    async def stage_policy(self, xml: str | None = None, policy: Json | None = None) -> Json:
        """``StagePolicy``."""
        return await self.call("StagePolicy", xml=xml, policy=policy)

    async def get_staged_diff(self) -> Json:
        """``GetStagedDiff``."""
        return await self.call("GetStagedDiff")

    async def activate_policy(self) -> PolicyVersion:
        """``ActivatePolicy``."""
        return cast(PolicyVersion, await self.call("ActivatePolicy"))

    async def rollback_policy(self) -> PolicyVersion:
        """``RollbackPolicy``."""
        return cast(PolicyVersion, await self.call("RollbackPolicy"))

    async def export_policy(self, signed: bool = True, template: bool = False) -> Json:
        """``ExportPolicy``."""
        return await self.call("ExportPolicy", signed=signed, template=template)

    async def create_domain(self, name: str) -> Json:
        """``CreateDomain``."""
        return await self.call("CreateDomain", name=name)

    async def pause_domain(self, domain: Domain) -> DomainAction:
        """``PauseDomain``."""
        return cast(DomainAction, await self.call("PauseDomain", domain=domain))

    async def unpause_domain(self, domain: Domain) -> DomainAction:
        """``UnpauseDomain``."""
        return cast(DomainAction, await self.call("UnpauseDomain", domain=domain))

    async def shutdown_domain(self, domain: Domain) -> DomainAction:
        """``ShutdownDomain``."""
        return cast(DomainAction, await self.call("ShutdownDomain", domain=domain))

    async def reboot_domain(self, domain: Domain) -> DomainAction:
        """``RebootDomain``."""
        return cast(DomainAction, await self.call("RebootDomain", domain=domain))

    async def destroy_domain(self, domain: Domain) -> DomainAction:
        """``DestroyDomain``."""
        return cast(DomainAction, await self.call("DestroyDomain", domain=domain))

    async def get_stats(self) -> Json:
        """``GetStats``."""
        return await self.call("GetStats")

    async def get_stats_history(self, range: str = "10m", domain: str | None = None) -> Json:
        """``GetStatsHistory``."""
        return await self.call("GetStatsHistory", range=range, domain=domain)

    async def get_violations(self, since_seq: int = 0, limit: int = 1000) -> Violations:
        """``GetViolations``."""
        return cast(Violations, await self.call("GetViolations", since_seq=since_seq, limit=limit))

    async def address_violations(self, domain: Domain) -> Json:
        """``AddressViolations``."""
        return await self.call("AddressViolations", domain=domain)

    async def set_misbehaviour(self, domain: Domain, kind: str, per_million: int) -> Json:
        """``SetMisbehaviour`` (sim backend only)."""
        return await self.call("SetMisbehaviour", domain=domain, kind=kind, per_million=per_million)

    async def migrate_out(self, domain: Domain) -> Json:
        """``MigrateOut``: opens a live move of a running domain (source)."""
        return await self.call("MigrateOut", domain=domain)

    async def migrate_out_read(self, migration: str, chunk: int) -> bytes:
        """``MigrateOutRead``: one chunk of the image, decoded."""
        result = await self.call("MigrateOutRead", migration=migration, chunk=chunk)
        return _b64(result.get("data"))

    async def migrate_out_dirty(self, migration: str, pause: bool = False) -> Json:
        """``MigrateOutDirty``: ``{round, dirty, paused, digest}``."""
        return await self.call("MigrateOutDirty", migration=migration, pause=pause)

    async def migrate_out_finish(self, migration: str, outcome: str) -> Json:
        """``MigrateOutFinish``: ``outcome`` is ``done`` or ``abort``."""
        return await self.call("MigrateOutFinish", migration=migration, outcome=outcome)

    async def migrate_in(
        self, migration: str, uuid: str, name: str, image_size: int, chunk_size: int = 64 << 10
    ) -> Json:
        """``MigrateIn``: opens the receipt of a domain (destination)."""
        return await self.call(
            "MigrateIn",
            migration=migration,
            uuid=uuid,
            name=name,
            image_size=image_size,
            chunk_size=chunk_size,
        )

    async def migrate_in_write(self, migration: str, chunk: int, data: bytes) -> Json:
        """``MigrateInWrite``: one chunk of the image."""
        encoded = base64.b64encode(data).decode("ascii")
        return await self.call("MigrateInWrite", migration=migration, chunk=chunk, data=encoded)

    async def migrate_in_finish(
        self, migration: str, digest: str | None = None, abort: bool = False
    ) -> Json:
        """``MigrateInFinish``: activate with the source's digest, or abort."""
        return await self.call("MigrateInFinish", migration=migration, digest=digest, abort=abort)

    async def list_authorizations(self) -> Authorizations:
        """``ListAuthorizations``."""
        return cast(Authorizations, await self.call("ListAuthorizations"))

    async def add_authorization(self, alias: str, cert_pem: str) -> Authorization:
        """``AddAuthorization`` (needs a daemon started with ``--authstore-pass``)."""
        return cast(
            Authorization, await self.call("AddAuthorization", alias=alias, cert_pem=cert_pem)
        )

    async def remove_authorization(self, alias: str) -> Authorization:
        """``RemoveAuthorization``."""
        return cast(Authorization, await self.call("RemoveAuthorization", alias=alias))
