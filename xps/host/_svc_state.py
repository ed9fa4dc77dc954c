"""What the host's services share: config, MSM context, policy store, events, lock, names."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from uuid import UUID

from xps import msm
from xps.policy import Policy
from xps.protocol import DomainEvent

from ._config import HostConfig
from ._errors import NotFound, NotSupported
from ._events import EventHub
from ._hardware import Nic
from ._policystore import PolicyStore
from ._runner import CommandRunner

__all__ = ["HostState", "name_of"]


def name_of(policy: Policy | None, key: UUID | None) -> str:
    """The name of a policy object (``""`` when there is no policy, key or object)."""
    if policy is None or key is None:
        return ""
    found = policy.find(key)
    return str(getattr(found, "name", "")) if found is not None else ""


class HostState:
    """The state one host's policy, domain and telemetry services read and change together.

    Everything runs on the event loop that opened the host: no locking beyond
    :attr:`lock`, which serialises the changes that touch the MSM and the store
    (staging, activation, domain creation, migration admission).
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
        self.msm = ctx
        self.msm_status = msm_status
        self.store = store
        self.events = EventHub()
        self.lock = asyncio.Lock()
        #: The policy in force (set by the policy service only).
        self.policy: Policy | None = None
        self.nics: tuple[Nic, ...] = ()
        #: domid -> name, as last seen; names violation records of domains gone since.
        self.names: dict[int, str] = {0: "Domain-0"}
        #: Domains the MSM stopped at their maximum violations, already reported.
        self.stopped: set[int] = set()
        self.msm_log: deque[str] = deque(maxlen=2000)
        if ctx is not None:
            # MSM timestamps are sim clock (sim) or monotonic (xen) ns: map to epoch ns.
            base = ctx.info().now_ns if config.backend == "sim" else time.monotonic_ns()
            self.wall_offset = time.time_ns() - base
        else:
            self.wall_offset = 0

    def log_msm(self, text: str) -> None:
        """Appends a line to the MSM log that ``GetLogMsgs`` returns."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        self.msm_log.append(f"{stamp} MSM: {text}")

    def require_msm(self) -> msm.Msm:
        """The MSM context; NotSupported when this host has none."""
        if self.msm is None:
            raise NotSupported(f"the MSM module is {self.msm_status}")
        return self.msm

    def require_policy(self) -> Policy:
        """The active policy; NotFound when none is."""
        if self.policy is None:
            raise NotFound("no policy is active")
        return self.policy

    def domain_name(self, domid: int) -> str:
        """The last name seen for a domid."""
        return self.names.get(domid, f"domain-{domid}")

    def domain_event(
        self, domid: int, name: str, run_state: str, reason: str, origin: str = "xps"
    ) -> None:
        """Publishes a ``domain`` event; ``origin`` says who caused it (DomainEvent)."""
        data: DomainEvent = {
            "domid": domid,
            "name": name,
            "run_state": run_state,
            "reason": reason,
            "origin": origin,
        }
        self.events.publish({"event": "domain", "data": data})
