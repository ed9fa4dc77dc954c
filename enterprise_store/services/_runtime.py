"""The services of one XE process, opened together on one store; what ``/readyz`` asks."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from enterprise_store._errors import StoreUnavailable
from enterprise_store.audit import AuditLog
from enterprise_store.services._audit import AuditService
from enterprise_store.services._compute import ComputeService
from enterprise_store.services._compute_types import ComputeConfig
from enterprise_store.services._history import HistoryService
from enterprise_store.services._incidents import IncidentService
from enterprise_store.services._passwords import PasswordHasher
from enterprise_store.services._policy import PolicyService
from enterprise_store.services._users import LockoutPolicy, UserService
from enterprise_store.services._whatif import WhatIfService
from enterprise_store.store import Store, StoreConfig

__all__ = ["ServiceConfig", "Services"]

LOG = logging.getLogger("xenon.xe.services")


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Tunables of the services (defaults are the production values)."""

    session_ttl_s: int = 3600
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)


class Services:
    """Store + audit log + services, opened and closed together.

    Attributes:
        store: The store.
        audit_log: Its audit log.
        users: The User service.
        policy: The Policy service (the federated XE policy).
        compute: The Compute service (hosts through XPS, VM lifecycle, propagation, tasks).
        audit: Audit queries and verification.
        history: Every host's violations and statistics as XE stored them.
        whatif: The policy what-if on every host a version reaches.
        incidents: Host incidents' steps performed through XE, audited.
        ingester: The history ingester once started (``/metrics`` reads it), else None.
        workers: Long-running background tasks by name (``/readyz`` reports each).
    """

    def __init__(
        self,
        store: Store,
        *,
        config: ServiceConfig | None = None,
        clock: Callable[[], float] = time.time,
        compute: ComputeConfig | None = None,
    ) -> None:
        config = config or ServiceConfig()
        self.store = store
        self.audit_log = AuditLog(store, clock=clock)
        self.users = UserService(
            store,
            self.audit_log,
            hasher=config.hasher,
            lockout=config.lockout,
            session_ttl_s=config.session_ttl_s,
            clock=clock,
        )
        self.policy = PolicyService(store, self.audit_log, clock=clock)
        self.compute = ComputeService(
            store, self.audit_log, self.policy, config=compute, clock=clock
        )
        self.audit = AuditService(self.audit_log)
        self.history = HistoryService(store, clock=clock)
        self.whatif = WhatIfService(self.policy, self.compute)
        self.incidents = IncidentService(self.policy, self.compute, self.audit_log)
        # Set by start_workers when XE has a host identity (``/metrics`` reads it).
        self.ingester: object | None = None
        self._compute_config = compute
        self.workers: dict[str, asyncio.Task[None]] = {}

    @classmethod
    async def open(
        cls,
        db: StoreConfig | str,
        *,
        config: ServiceConfig | None = None,
        clock: Callable[[], float] = time.time,
        migrate: bool = True,
        compute: ComputeConfig | None = None,
        start_workers: bool = False,
    ) -> Services:
        """Opens the store (migrating it) and the services on it.

        Args:
            compute: XE's host identity, node id and worker tunables.
            start_workers: Start the background workers (what ``xenon xe serve`` does).

        Raises:
            InvalidInput: The database URL is not usable.
            StoreUnavailable: The database cannot be reached.
        """
        store = await Store.open(db, migrate=migrate)
        services = cls(store, config=config, clock=clock, compute=compute)
        if start_workers:
            services.start_workers()
        return services

    def start_workers(self) -> None:
        """Starts the background workers on the running loop: tasks, and propagation and
        history ingestion when XE has a host identity; each is reported by ``/readyz`` and
        stopped by :meth:`close`."""
        identity = self._compute_config.identity if self._compute_config else None
        for name, work in self.compute.workers().items():
            if name == "propagation" and identity is None:
                # Without a client certificate every attempt fails before it reaches a host,
                # yet each one claims the host's row: beside a node that has the identity
                # (one PostgreSQL store), this node would lease hosts away from it, record
                # failures and push their back-off towards its cap.
                LOG.warning("no XE client certificate: the propagation worker is not started")
                continue
            if name not in self.workers:
                # A fresh context: a worker must not inherit a caller's store unit.
                self.workers[name] = asyncio.create_task(
                    work(), name=f"xe-{name}", context=contextvars.Context()
                )
        if identity is not None and "ingest" not in self.workers:
            # Imported here: the workers import the services' types at run time.
            from enterprise_store.workers import start_ingestion

            contextvars.Context().run(start_ingestion, self, identity.ssl_context())

    async def close(self) -> None:
        """Stops the workers and closes the store."""
        for task in self.workers.values():
            task.cancel()
        # A worker's own failure was reported while it ran; here it only has to end.
        await asyncio.gather(*self.workers.values(), return_exceptions=True)
        self.workers.clear()
        await self.compute.close()
        await self.store.close()

    async def readiness(self) -> dict[str, str]:
        """``{"store": "ok" | reason, "worker:NAME": "ok" | reason}``; ready when all are ok."""
        checks: dict[str, str] = {}
        try:
            await self.store.ping()
            checks["store"] = "ok"
        except StoreUnavailable as exc:
            checks["store"] = exc.message
        for name, task in self.workers.items():
            if not task.done():
                checks[f"worker:{name}"] = "ok"
            elif task.cancelled():
                checks[f"worker:{name}"] = "cancelled"
            else:
                failure = task.exception()
                checks[f"worker:{name}"] = f"stopped: {failure!r}" if failure else "stopped"
        return checks
