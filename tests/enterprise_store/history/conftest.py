"""History fixtures: real sim XPS daemons as hosts, the report's sample XE policy in the store.

- ``history_pki`` (session): a CA made for the session, the daemons' server certificate and
  XE's client certificate ``xe-client``.
- ``sim_hosts`` (function): ``await sim_hosts.start(name)`` starts a real XPS daemon (sim
  backend, statistics every 0.2 s) on 127.0.0.1 port 0 for the sample host ``name``,
  activates that host's policy of the sample XE policy and starts its domains
  (``host.domains``); ``await host.misbehave(domain, kind, per_million)`` injects
  misbehaviour; ``await host.violations()`` reads every record the daemon holds,
  ``await host.last_seq()`` the newest one's seq;
  ``await host.restart()`` stops the daemon and starts it again on the same port and
  state directory (a new run: its violations are numbered from 1 again).
- ``xe_policy`` (function): the sample XE policy with the sample hosts at 127.0.0.1 and
  SecLabels that never stop a misbehaving domain.
- ``put_policy``, ``xps_source``, ``wait_for`` (function): helpers, described on each.
- ``ingested`` (function): the ``services`` store holding everything xenon-1 (Enclaves B and
  C) reported while one VM of each misbehaved (``profile`` and ``rate`` violations), as an
  :class:`Ingested` with the history service and the window that covers it.
- ``ingest`` (function): ``async with ingest(store, source, **config) as ingester`` runs an
  :class:`Ingester` in a task and stops it (cancelled) on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from enterprise_store.model import EnterprisePolicy
from enterprise_store.policy import sample_host_policies, sample_xe_policy
from enterprise_store.services import Services
from enterprise_store.services._history import HistoryService
from enterprise_store.store import Store
from enterprise_store.store._history_schema import history_violations
from enterprise_store.store._policy_schema import enclaves, hosts, seclabels, vms
from enterprise_store.workers import (
    HostEndpoint,
    HostEventSource,
    IngestConfig,
    Ingester,
    XpsHostsSource,
)
from xps.client import XpsClient
from xps.pki import TlsMaterial, client_context, init_ca, issue
from xps.policy import serialize_policy
from xps.server import ServerConfig, XpsServer, host_handlers, remove_logging, setup_logging


@dataclass(frozen=True)
class HistoryPki:
    """The session's CA, the daemons' certificate and XE's client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_context(self) -> ssl.SSLContext:
        """XE's client TLS context for the daemons."""
        return client_context(TlsMaterial(ca=self.ca, cert=self.client_cert, key=self.client_key))


@pytest.fixture(scope="session")
def history_pki(tmp_path_factory: pytest.TempPathFactory) -> HistoryPki:
    root = tmp_path_factory.mktemp("history-pki")
    init_ca(root / "ca", common_name="History Test CA")
    server = issue(root / "ca", "xps-server", "server")
    client = issue(root / "ca", "xe-client", "client")
    return HistoryPki(server.ca_cert, server.cert, server.key, client.cert, client.key)


@dataclass
class SimHost:
    """One running sim XPS daemon playing a sample host."""

    name: str
    host_id: str
    state_dir: Path
    pki: HistoryPki
    policy: EnterprisePolicy
    port: int = 0
    keep: int = 200_000
    server: XpsServer | None = None
    host: Any = None
    log_handlers: list[Any] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> HostEndpoint:
        return HostEndpoint(self.host_id, "127.0.0.1", self.port)

    def client(self) -> XpsClient:
        return XpsClient(
            "127.0.0.1",
            self.port,
            ca=self.pki.ca,
            cert=self.pki.client_cert,
            key=self.pki.client_key,
            timeout=30.0,
        )

    async def start(self) -> None:
        from xps.host import Host, HostConfig

        config = ServerConfig(
            state_dir=self.state_dir,
            tls=TlsMaterial(ca=self.pki.ca, cert=self.pki.server_cert, key=self.pki.server_key),
            listen=("127.0.0.1", self.port),
            ro_listen=("127.0.0.1", 0),
            log_stderr=False,
            stats_interval_s=0.2,
        )
        self.log_handlers.extend(setup_logging(config.resolved_log_file, stderr=False))
        self.host = await Host.open(
            HostConfig(
                state_dir=self.state_dir,
                backend="sim",
                stats_interval_s=0.2,
                hostname=self.name,
                max_violations_kept=self.keep,
            )
        )
        self.server = XpsServer(config, host_handlers(self.host), event_source=self.host.subscribe)
        await self.server.start()
        self.port = self.server.ports["read_write"]

    async def seed(self) -> list[str]:
        """Activates the host's sample policy and starts its domains; returns their names."""
        policy = sample_host_policies(self.policy)[self.name]
        async with self.client() as c:
            await c.call("StagePolicy", xml=serialize_policy(policy).decode())
            await c.call("ActivatePolicy")
            for dom in policy.domains:
                if dom.seclabel is not None:
                    await c.call("CreateDomain", name=dom.name)
            states = await c.call("GetDomainRunStates")
        return [d["name"] for d in states["domains"] if d["domid"]]

    async def misbehave(self, domain: str, kind: str = "out_of_profile", ppm: int = 2000) -> None:
        async with self.client() as c:
            await c.call("SetMisbehaviour", domain=domain, kind=kind, per_million=ppm)

    async def violations(self, since_seq: int = 0) -> list[dict[str, Any]]:
        """Every record the daemon still holds after ``since_seq``."""
        out: list[dict[str, Any]] = []
        async with self.client() as c:
            while True:
                page = await c.call("GetViolations", since_seq=since_seq, limit=10_000)
                out.extend(page["violations"])
                if not page["violations"]:
                    return out
                since_seq = page["violations"][-1]["seq"]

    async def last_seq(self) -> int:
        """The newest record's seq (0: none yet)."""
        async with self.client() as c:
            return int((await c.call("GetViolations", since_seq=2**62, limit=1))["last_seq"])

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None
        if self.host is not None:
            await self.host.close()
            self.host = None
        remove_logging(self.log_handlers)
        self.log_handlers.clear()

    async def restart(self) -> None:
        await self.stop()
        await self.start()


class SimHosts:
    """Factory of :class:`SimHost` daemons; all are stopped at teardown."""

    def __init__(self, pki: HistoryPki, root: Path, policy: EnterprisePolicy) -> None:
        self.pki = pki
        self.root = root
        self.policy = policy
        self.running: list[SimHost] = []

    async def start(self, name: str, *, keep: int = 200_000) -> SimHost:
        """Starts and seeds sample host ``name``; ``keep``: violations its window holds."""
        host = next(h for h in self.policy.hosts if h.name == name)
        state = self.root / name
        state.mkdir()
        sim = SimHost(name, str(host.id), state, self.pki, self.policy, keep=keep)
        await sim.start()
        self.running.append(sim)
        sim.domains = await sim.seed()
        return sim


@pytest.fixture
def xe_policy() -> EnterprisePolicy:
    policy = sample_xe_policy({n: ("127.0.0.1", 9443 + i) for i, n in enumerate(_SAMPLE)})
    # Never stop a misbehaving domain (the sample stops it at 50): violations keep coming.
    labels = tuple(dataclasses.replace(s, max_violations=0) for s in policy.seclabels)
    return dataclasses.replace(policy, seclabels=labels)


_SAMPLE = ("xenon-1", "xenon-2", "xenon-3")


@pytest.fixture
async def sim_hosts(
    history_pki: HistoryPki, tmp_path: Path, xe_policy: EnterprisePolicy
) -> AsyncIterator[SimHosts]:
    hosts_ = SimHosts(history_pki, tmp_path / "hosts", xe_policy)
    (tmp_path / "hosts").mkdir()
    yield hosts_
    for sim in hosts_.running:
        await sim.stop()


async def _put_policy(store: Store, policy: EnterprisePolicy) -> None:
    async with store.atomic() as conn:
        for h in policy.hosts:
            await conn.execute(
                hosts.insert().values(
                    id=str(h.id), name=h.name, address=h.address, port=h.port,
                    position=h.order, color="#808080",
                )
            )  # fmt: skip
        for e in policy.enclaves:
            await conn.execute(enclaves.insert().values(id=str(e.id), name=e.name, color="#808080"))
        for s in policy.seclabels:
            await conn.execute(
                seclabels.insert().values(
                    id=str(s.id), name=s.name, enclave_id=str(s.enclave),
                    profile_id=str(s.profile), max_rate=s.max_rate,
                    max_violations=s.max_violations, role=str(s.role.value),
                )
            )  # fmt: skip
        for v in policy.vms:
            await conn.execute(
                vms.insert().values(
                    id=str(v.id), name=v.name, enclave_id=str(v.enclave),
                    seclabel_id=None if v.seclabel is None else str(v.seclabel),
                    guest_type=str(v.guest_type.value), os=str(v.os.value),
                    memory_mb=v.memory_mb, maxmem_mb=v.maxmem_mb, vcpus=v.vcpus,
                    maxvcpus=v.maxvcpus, host_id=None, run=v.run, allow_network=True,
                )
            )  # fmt: skip


@dataclass
class Ingested:
    services: Services
    history: HistoryService
    host_id: str
    enclave: dict[str, str]  # enclave name -> id
    vm: dict[str, Any]  # VM name -> Vm
    since_us: int
    until_us: int


@pytest.fixture
async def ingested(
    services: Services, sim_hosts: Any, xe_policy: Any, put_policy: Any, xps_source: Any,
    ingest: Any, wait_for: Any,
) -> Ingested:  # fmt: skip
    """xenon-1 (Enclaves B and C) with one misbehaving VM of each, fully ingested."""
    store = services.store
    await put_policy(store, xe_policy)
    sim = await sim_hosts.start("xenon-1")
    by_enclave = {v.name: v for v in xe_policy.vms}
    b = next(d for d in sim.domains if d.startswith("EB"))
    c = next(d for d in sim.domains if d.startswith("EC"))
    await sim.misbehave(b, ppm=20_000)
    await sim.misbehave(c, "rate_burst", ppm=100)  # bursts (20,000 ppm: 160,000 a second)

    async def count(domain: str) -> int:
        async with store.read() as conn:
            q = select(func.count()).where(history_violations.c.domain == domain)
            return int((await conn.execute(q)).scalar() or 0)

    async with xps_source(sim) as source, ingest(store, source):

        async def both() -> bool:
            return await count(b) >= 20 and await count(c) >= 20

        await wait_for(both)
        for domain in sim.domains:
            await sim.misbehave(domain, ppm=0)
        await asyncio.sleep(0.5)  # the host's last drain
        last = await sim.last_seq()

        async def settled() -> bool:
            async with store.read() as conn:
                n = (await conn.execute(select(func.max(history_violations.c.seq)))).scalar()
            return n == last

        await wait_for(settled)
    async with store.read() as conn:
        lo, hi = (
            await conn.execute(
                select(func.min(history_violations.c.ts_us), func.max(history_violations.c.ts_us))
            )
        ).one()
    return Ingested(
        services=services,
        history=HistoryService(store),
        host_id=sim.host_id,
        enclave={e.name: str(e.id) for e in xe_policy.enclaves},
        vm=by_enclave,
        since_us=lo,
        until_us=hi + 1,
    )


@pytest.fixture
def ingest() -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def run(store: Store, source: HostEventSource, **config: Any) -> AsyncIterator[Ingester]:
        ingester = Ingester(store, source, config=IngestConfig(**config))
        task = asyncio.create_task(ingester.run())
        try:
            await asyncio.wait_for(ingester.started.wait(), 30)
            yield ingester
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return run


@pytest.fixture
def put_policy() -> Callable[[Store, EnterprisePolicy], Awaitable[None]]:
    """``await put_policy(store, policy)``: the rows attribution reads (hosts, enclaves,
    SecLabels, VMs), written straight to the tables."""
    return _put_policy


@pytest.fixture
def xps_source(history_pki: HistoryPki) -> Callable[..., Any]:
    """``async with xps_source(*sims, **kw) as source``: XE's own connections to ``sims``."""

    @contextlib.asynccontextmanager
    async def open_(*sims: SimHost, **kw: Any) -> AsyncIterator[XpsHostsSource]:
        endpoints = [s.endpoint for s in sims]
        async with XpsHostsSource(endpoints, history_pki.client_context(), **kw) as source:
            yield source

    return open_


async def _wait_for(predicate: Callable[[], Awaitable[bool]], limit_s: float = 60.0) -> None:
    async with asyncio.timeout(limit_s):
        while not await predicate():  # noqa: ASYNC110 (polls the database and a daemon)
            await asyncio.sleep(0.1)


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[None]]:
    """``await wait_for(async_predicate, limit_s=60)``: polls until true (a generous
    liveness bound, not a timing assertion)."""
    return _wait_for
