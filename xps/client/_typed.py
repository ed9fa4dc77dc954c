"""Typed wrappers over :class:`XpsClient.call`, one per protocol method."""

from __future__ import annotations

from typing import Any, cast

from xps.client._client import XpsClient
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
