"""The policy what-if on XE (issue #14 §1): what a policy version would do on each host
it reaches, before it is propagated or approved.

For each host of the version, the host's slice is built as propagation builds it
(``build_slice`` of the version over the host's active policy, the host-owned parts
kept) and the host's XPS is asked ``WhatIf`` on it (read-only on the host; the host's
recorded behaviour of the last N minutes decided against the slice by its MSM's
evaluation mode). Hosts are asked concurrently (bounded), each within a deadline; a host
that cannot answer is reported as such. A host whose slice would not change is not asked.

XE keeps the newest version's policy only: the what-if is of the head, which is also the
version that waits for approval while propagation is held. An older version may be asked
for while its change of an enclave still waits for approval (pending or rejected): every
newer version holds that change (one that changed the enclave again superseded it, one that
took it back reverted it), so its what-if is the head's, reported with ``requested`` set to
the version asked for (the approver sees that newer changes are part of it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from enterprise_store._errors import InvalidInput, NotFound, XeError
from enterprise_store.model import EnterprisePolicy, Host
from enterprise_store.policy import build_slice
from enterprise_store.services._access import Principal, Role, require_role
from enterprise_store.store._approval_schema import OPEN_STATES
from enterprise_store.workers._hosts import host_error
from xps.client import RemoteError, XpsError
from xps.policy import Policy, PolicyError, policy_from_dict

if TYPE_CHECKING:
    from enterprise_store.services._compute import ComputeService
    from enterprise_store.services._policy import PolicyService

__all__ = ["HostWhatIf", "PolicyWhatIf", "WhatIfService"]

LOG = logging.getLogger("xenon.xe.whatif")
MAX_MINUTES = 1440


@dataclass(frozen=True, slots=True)
class HostWhatIf:
    """One host's what-if.

    Attributes:
        host_id, host: The host.
        state: ``answered`` (``result`` holds the host's WhatIf), ``unchanged`` (its slice
            of the version is what it enforces: nothing to ask), ``unanswered`` (``error``
            says why: unreachable, no answer in time, the slice or the host refused).
        result: The host's ``WhatIf`` answer (fixed, denied_calls, domains, channels,
            devices, rate_not_evaluated, denies_allowed).
        error: Why there is no answer.
    """

    host_id: str
    host: str
    state: str
    result: Mapping[str, Any] | None = None
    error: str | None = None

    @property
    def denies_allowed(self) -> bool:
        return bool(self.result and self.result.get("denies_allowed"))


@dataclass(frozen=True, slots=True)
class PolicyWhatIf:
    """The what-if of one policy version on every host it reaches (by host name)."""

    version: int
    minutes: int
    hosts: tuple[HostWhatIf, ...]
    requested: int | None = None
    """The older version asked for (its waiting change is part of ``version``), or None."""

    @property
    def denies_allowed(self) -> bool:
        """Whether any host would deny behaviour allowed now."""
        return any(h.denies_allowed for h in self.hosts)

    @property
    def unanswered(self) -> tuple[str, ...]:
        """Hosts that could not answer."""
        return tuple(h.host for h in self.hosts if h.state == "unanswered")


def _scoped(result: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """``result`` with only the rows about domains in ``names`` (a scoped caller's VMs)."""
    out = dict(result)
    for key in ("fixed", "denied_calls", "domains"):
        out[key] = [r for r in result.get(key) or [] if r.get("domain") in names]
    out["devices"] = [r for r in result.get("devices") or [] if r.get("domain") in names]
    out["channels"] = [
        r for r in result.get("channels") or [] if r.get("a") in names and r.get("b") in names
    ]
    out["denies_allowed"] = bool(
        out["denied_calls"]
        or out["domains"]
        or any(c.get("active") and not c.get("staged") for c in out["channels"])
        or any(d.get("active") and not d.get("staged") for d in out["devices"])
    )
    return out


def _slice(policy: EnterprisePolicy, host: Host, raw: Any, where: str) -> tuple[str, bool]:
    """The host's slice as XML text, and whether it differs from what the host enforces."""
    current: Policy | None = None
    if raw is not None:
        try:
            current = policy_from_dict(raw)
        except (PolicyError, KeyError, TypeError) as exc:
            raise XeError("host_error", f"{where}: unreadable active policy: {exc}") from exc
    made = build_slice(policy, host.id, current)
    changed = current is None or dataclasses.replace(made.policy, version=current.version) != (
        current
    )
    return made.xml.decode("utf-8"), changed


class WhatIfService:
    """Asks every host a policy version reaches what the version would do there.

    Args:
        policy: The Policy service (the version and the caller's view).
        compute: The Compute service (its host connections).
        concurrency: Hosts asked at once.
        host_timeout_s: Deadline of one host's exchange (policy read, slice, WhatIf).
    """

    def __init__(
        self,
        policy: PolicyService,
        compute: ComputeService,
        *,
        concurrency: int = 16,
        host_timeout_s: float = 20.0,
    ) -> None:
        self._policy = policy
        self._compute = compute
        self._slots = asyncio.Semaphore(concurrency)
        self.host_timeout_s = host_timeout_s

    async def what_if(
        self, caller: Principal, *, version: int | None = None, minutes: int = 10
    ) -> PolicyWhatIf:
        """The what-if of ``version`` (None: the newest, the one propagation or approval
        is about) on each host it reaches that the caller sees.

        Raises:
            RoleRequired: Below auditor.
            InvalidInput: ``minutes`` not within 1..1440.
            NotFound: ``version`` is neither the newest (XE keeps only its policy) nor
                one whose change of an enclave the caller sees waits for approval.
        """
        require_role(caller, Role.AUDITOR, "ask hosts for a policy what-if")
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise InvalidInput("minutes must be an integer within 1..1440")
        if not 1 <= minutes <= MAX_MINUTES:
            raise InvalidInput("minutes must be an integer within 1..1440")
        policy = await self._policy.current()
        requested: int | None = None
        if version is not None and version != policy.version:
            if not await self._waits(caller, version, policy.version):
                raise NotFound(
                    f"policy version {version} is not the newest ({policy.version}) and "
                    "none of its changes waits for approval: XE keeps the newest "
                    "version's policy only"
                )
            requested = version
        view = await self._policy.policy(caller)
        visible = {h.id for h in view.hosts}
        names = frozenset(vm.name for vm in view.vms) if caller.scopes is not None else None
        hosts = [h for h in policy.hosts if h.id in visible]
        answers = await asyncio.gather(*(self._ask(policy, h, minutes) for h in hosts))
        if names is not None:
            answers = [
                dataclasses.replace(a, result=_scoped(a.result, names))
                if a.result is not None
                else a
                for a in answers
            ]
        ordered = tuple(sorted(answers, key=lambda a: a.host))
        return PolicyWhatIf(policy.version, minutes, ordered, requested)

    async def _waits(self, caller: Principal, version: int, head: int) -> bool:
        """Whether ``version`` (older than ``head``) has a change the caller sees that waits
        for approval (then the head holds it)."""
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < head:
            return False
        items = await self._policy.approvals(caller, version=version)
        return any(i.state in OPEN_STATES for i in items)

    async def _ask(self, policy: EnterprisePolicy, host: Host, minutes: int) -> HostWhatIf:
        host_id = str(host.id)
        where = f"host {host.name!r} ({host.address}:{host.port})"
        try:
            async with self._slots:
                async with asyncio.timeout(self.host_timeout_s):
                    return await self._ask_host(policy, host, minutes, where)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            error = f"{where}: no answer within {self.host_timeout_s:g} s"
        except XeError as exc:
            error = exc.message if host.name in exc.message else f"{where}: {exc.message}"
        except Exception as exc:
            LOG.error("what-if on %s failed", where, exc_info=exc)
            error = f"{where}: internal error (logged)"
        return HostWhatIf(host_id, host.name, "unanswered", error=error)

    async def _ask_host(
        self, policy: EnterprisePolicy, host: Host, minutes: int, where: str
    ) -> HostWhatIf:
        client = await self._compute.pool.client(str(host.id), host.address, host.port)
        try:
            try:
                raw = (await client.get_policy("active")).get("policy")
            except RemoteError as exc:
                if exc.code != "not_found":
                    raise
                raw = None
            xml, changed = await asyncio.to_thread(_slice, policy, host, raw, where)
            if not changed:
                return HostWhatIf(str(host.id), host.name, "unchanged")
            answer = await client.what_if(xml=xml, minutes=minutes)
        except XpsError as exc:
            raise host_error(exc, where) from exc
        return HostWhatIf(str(host.id), host.name, "answered", result=dict(answer))
