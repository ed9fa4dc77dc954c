"""XE test support (a pytest plugin registered in ``tests/conftest.py``): real XPS daemons
(sim backend) as XE's hosts, and XE services with XE's identity.

- ``xe_identity`` (session): XE's client certificate, issued by the XPS session CA
  (``xps_pki``), so the daemons trust it and XE trusts their server certificates.
- ``xps_hosts`` (function): ``await xps_hosts(3)`` starts that many in-process XPS daemons
  on 127.0.0.1 port 0 (real TLS, real sim Host, policy trust = the session CA), each
  enforcing its host-local policy of the report's sample (``sample_host_policies``:
  switches, storage, VIFs, disks, tagged hardware). Each :class:`XpsHost` can be stopped
  and started again on the same port; all are stopped at teardown.
- ``xe_services`` (function): ``await xe_services(node_id="node-a", start=False,
  url=None, **tunables)`` opens :class:`Services` on the test's database with XE's
  identity (workers started with ``start=True``); all are closed at teardown.
- ``xe_services`` uses the requesting directory's ``db_url`` (tests/enterprise_store/workers pins
  it to SQLite).
- ``TEST_HASHER``: a fast password hasher for tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from enterprise_store.policy import SAMPLE_HOSTS, sample_host_policies
from enterprise_store.services import PasswordHasher, ServiceConfig, Services
from enterprise_store.services._compute_types import ComputeConfig
from enterprise_store.workers._hosts import XeIdentity
from enterprise_store.workers._propagation import PropagationConfig
from tests._support.xps import XpsPki, make_config
from xps.client import Xps
from xps.pki import issue
from xps.policy import serialize_policy
from xps.server import XpsServer, host_handlers, remove_logging, setup_logging

TEST_HASHER = PasswordHasher(n=2**12)
"""scrypt with a small cost: tests hash many passwords."""


@dataclass
class XpsHost:
    """One XPS daemon standing for a Xenon host."""

    name: str
    state_dir: Path
    pki: XpsPki
    delays: dict[str, float] = field(default_factory=dict)
    port: int = 0
    server: XpsServer | None = None
    host: Any = None
    log_handlers: list[Any] = field(default_factory=list)
    clients: list[Xps] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.server is not None

    async def start(self) -> None:
        """Starts the daemon (again, on the same port once it has one)."""
        from xps.host import Host, HostConfig

        config = make_config(self.pki, self.state_dir, listen=("127.0.0.1", self.port))
        self.log_handlers = setup_logging(config.resolved_log_file, stderr=False)
        initial = self.state_dir / "initial-policy.xml"
        self.host = await Host.open(
            HostConfig(
                state_dir=self.state_dir,
                backend="sim",
                stats_interval_s=0.5,
                hostname=self.name,
                initial_policy=initial,
                policy_trust=self.pki.ca,
            )
        )
        table = host_handlers(self.host)
        for method, delay in self.delays.items():
            table[method] = _slowed(table[method], delay)
        self.server = XpsServer(config, table, event_source=self.host.subscribe)
        await self.server.start()
        self.port = self.server.ports["read_write"]

    async def stop(self) -> None:
        """Stops the daemon (its state directory stays)."""
        for c in self.clients:
            await c.close()
        self.clients.clear()
        if self.server is not None:
            await self.server.close()
            self.server = None
        if self.host is not None:
            await self.host.close()
            self.host = None
        remove_logging(self.log_handlers)
        self.log_handlers = []

    def log_text(self) -> str:
        """The daemon's log so far."""
        path = self.state_dir / "xenon-policy-server.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    async def console(self) -> Xps:
        """A connected client with the console's certificate (someone other than XE)."""
        cert, key = self.pki.clients["console"]
        c = Xps("127.0.0.1", self.port, ca=self.pki.ca, cert=cert, key=key, timeout=10.0)
        await c.connect()
        self.clients.append(c)
        return c


def _slowed(handler: Any, delay: float) -> Any:
    async def slow(**params: Any) -> Any:
        await asyncio.sleep(delay)
        return await handler(**params)

    return slow


@pytest.fixture
async def xps_hosts(
    xps_pki: XpsPki,
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``await xps_hosts(n=3, stage_delay_s=0.0, delays=None)`` → running
    :class:`XpsHost` list (``delays``: seconds added to each named method's answers)."""
    started: list[XpsHost] = []
    local = sample_host_policies()

    async def start(
        n: int = 3, *, stage_delay_s: float = 0.0, delays: dict[str, float] | None = None
    ) -> list[XpsHost]:
        slow = dict(delays or {})
        if stage_delay_s:
            slow["StagePolicy"] = stage_delay_s
        hosts = []
        for i in range(n):
            name = SAMPLE_HOSTS[i] if i < len(SAMPLE_HOSTS) else f"xenon-{i + 1}"
            state = tmp_path / f"xps-{len(started)}"
            state.mkdir()
            policy = local[SAMPLE_HOSTS[i % len(SAMPLE_HOSTS)]]
            (state / "initial-policy.xml").write_bytes(serialize_policy(policy))
            h = XpsHost(name, state, xps_pki, delays=slow)
            await h.start()
            started.append(h)
            hosts.append(h)
        return hosts

    yield start
    for h in started:
        await h.stop()


@pytest.fixture(scope="session")
def xe_identity(
    xps_pki: XpsPki,
    tmp_path_factory: pytest.TempPathFactory,
) -> XeIdentity:
    """XE's client certificate from the XPS session CA."""
    out = tmp_path_factory.mktemp("xe-pki")
    issued = issue(xps_pki.ca_dir, "xe-client", "client", out_dir=out)
    return XeIdentity(ca=xps_pki.ca, cert=issued.cert, key=issued.key)


# backoff_cap_s: a host that was down through many failed attempts (a loaded machine makes
# that many) is retried within a second of its return, not after a 1000 s back-off.
FAST = PropagationConfig(
    interval_s=0.2, lease_s=30.0, host_timeout_s=15.0, verify_every_s=3600, backoff_cap_s=1.0
)


@pytest.fixture
async def xe_services(db_url: str, xe_identity: XeIdentity) -> AsyncIterator[Callable[..., Any]]:
    """Factory of XE services on the test's database (closed at teardown)."""
    opened: list[Services] = []

    async def open_(
        *,
        node_id: str = "node-a",
        start: bool = False,
        url: str | None = None,
        propagation: PropagationConfig = FAST,
        **tunables: Any,
    ) -> Services:
        compute = ComputeConfig(
            identity=xe_identity, node_id=node_id, propagation=propagation, **tunables
        )
        services = await Services.open(
            url or db_url,
            config=ServiceConfig(hasher=TEST_HASHER),
            compute=compute,
            start_workers=start,
        )
        opened.append(services)
        return services

    yield open_
    for services in opened:
        await services.close()


def fast(**changes: Any) -> PropagationConfig:
    """The tests' propagation tunables with ``changes``."""
    return replace(FAST, **changes)
