"""XPS test support: a per-session CA with certificates, and real daemons on port 0.

A pytest plugin (registered in ``tests/conftest.py``), so every test directory has these
fixtures without importing them; the classes are imported from here:

- ``xps_pki`` (session): an :class:`XpsPki` with a CA, a server certificate
  ``xps-server`` (SANs localhost, 127.0.0.1, ::1), client certificates ``console`` and
  ``remote-admin`` from that CA, and ``rogue`` from a second, untrusted CA.
- ``start_xps`` (function): ``await start_xps(handlers=None, **config_overrides)`` starts
  an in-process :class:`xps.server.XpsServer` on 127.0.0.1 port 0 (read-write and
  read-only sockets) logging to ``<state_dir>/xenon-policy-server.log``; with
  ``handlers=None`` it serves the real ``xps.host.Host`` (sim backend). It returns a
  :class:`RunningXps` (``rw_port``, ``ro_port``, ``log_text()``, ``client()``); every
  server is closed at teardown.
- ``xps_daemon`` (function): ``start_xps()`` with the real sim Host, ready to use.
- ``fake_host`` (function): a :class:`FakeHost` handler table for protocol tests.
- ``sim_host`` (function): an open sim ``xps.host.Host`` (no server) on ``tmp_path/state``.

Local vs remote: by default every loopback address is local. Pass
``local_addresses=frozenset({"127.0.0.1"})`` and connect with
``client(local_addr=("127.0.0.2", 0))`` to be a *remote* client over loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from xps.client import Xps
from xps.pki import TlsMaterial, init_ca, issue
from xps.server import (
    Handler,
    ServerConfig,
    XpsServer,
    host_handlers,
    remove_logging,
    setup_logging,
)


@dataclass(frozen=True)
class XpsPki:
    """Paths of the session's PKI material."""

    ca_dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path]]  # name -> (cert, key)
    rogue_ca: Path

    def client_material(self, name: str = "console") -> TlsMaterial:
        """TLS material of a client certificate."""
        cert, key = self.clients[name]
        return TlsMaterial(ca=self.ca, cert=cert, key=key)

    def server_material(self) -> TlsMaterial:
        """TLS material of the daemon."""
        return TlsMaterial(ca=self.ca, cert=self.server_cert, key=self.server_key)


@pytest.fixture(scope="session")
def xps_pki(tmp_path_factory: pytest.TempPathFactory) -> XpsPki:
    """A CA made for this test session, with server and client certificates."""
    root = tmp_path_factory.mktemp("xps-pki")
    ca_dir = root / "ca"
    init_ca(ca_dir, common_name="Xenon Test CA")
    server = issue(ca_dir, "xps-server", "server")
    clients = {}
    for name in ("console", "remote-admin"):
        issued = issue(ca_dir, name, "client")
        clients[name] = (issued.cert, issued.key)
    rogue_dir = root / "rogue-ca"
    init_ca(rogue_dir, common_name="Rogue CA")
    rogue = issue(rogue_dir, "rogue", "client")
    clients["rogue"] = (rogue.cert, rogue.key)
    return XpsPki(
        ca_dir=ca_dir,
        ca=server.ca_cert,
        server_cert=server.cert,
        server_key=server.key,
        clients=clients,
        rogue_ca=rogue.ca_cert,
    )


class FakeHost:
    """A small in-test handler table standing in for ``xps.host.Host``."""

    def __init__(self) -> None:
        self.paused: list[object] = []
        self.callbacks: list[Callable[[dict[str, Any]], None]] = []

    async def hypervisor_info(self) -> dict[str, Any]:
        return {"xen_version": "4.19-sim", "backend": "sim", "policy_generation": 1}

    async def pause_domain(self, domain: int | str, user: str | None = None) -> dict[str, Any]:
        if domain == "missing":
            from xps.host import NotFound

            raise NotFound(f"no domain {domain!r}")
        self.paused.append(domain)
        return {"domid": 1, "run_state": "paused"}

    async def log_msgs(self, limit: int = 200) -> dict[str, Any]:
        return {"lines": [f"line {i}" for i in range(min(limit, 3))]}

    async def violations(self, since_seq: int = 0, limit: int = 1000) -> dict[str, Any]:
        raise RuntimeError("boom")  # an unexpected failure: must become "internal"

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def emit(self, event: dict[str, Any]) -> None:
        for callback in list(self.callbacks):
            callback(event)


@pytest.fixture
def fake_host() -> FakeHost:
    """A fresh :class:`FakeHost`."""
    return FakeHost()


@dataclass
class RunningXps:
    """A daemon started by ``start_xps``."""

    server: XpsServer
    config: ServerConfig
    pki: XpsPki
    host: Any = None
    clients: list[Xps] = field(default_factory=list)

    @property
    def rw_port(self) -> int:
        return self.server.ports["read_write"]

    @property
    def ro_port(self) -> int:
        return self.server.ports["read_only"]

    def log_text(self) -> str:
        return self.config.resolved_log_file.read_text(encoding="utf-8")

    def client(self, name: str = "console", *, read_only: bool = False, **kwargs: Any) -> Xps:
        """An unconnected client (closed at teardown); ``await c.connect()`` it."""
        cert, key = self.pki.clients[name]
        kwargs.setdefault("timeout", 5.0)
        c = Xps(
            "127.0.0.1",
            self.ro_port if read_only else self.rw_port,
            ca=self.pki.ca,
            cert=cert,
            key=key,
            **kwargs,
        )
        self.clients.append(c)
        return c

    async def wait_log(self, text: str, wait_s: float = 5.0) -> str:
        """Waits until ``text`` appears in the log; returns the whole log."""
        async with asyncio.timeout(wait_s):
            while text not in (log := self.log_text()):  # noqa: ASYNC110 (a file, not an event)
                await asyncio.sleep(0.02)
        return log


def make_config(pki: XpsPki, state_dir: Path, **overrides: Any) -> ServerConfig:
    """A config listening on 127.0.0.1 port 0 (both sockets) with the session PKI."""
    config = ServerConfig(
        state_dir=state_dir,
        tls=pki.server_material(),
        listen=("127.0.0.1", 0),
        ro_listen=("127.0.0.1", 0),
        log_stderr=False,
        stats_interval_s=0.2,
    )
    return replace(config, **overrides)


@pytest.fixture
async def start_xps(xps_pki: XpsPki, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``await start_xps(handlers=None, event_source=None, **overrides)``."""
    running: list[RunningXps] = []
    hosts: list[Any] = []
    log_handlers: list[Any] = []

    async def start(
        handlers: dict[str, Handler] | FakeHost | None = None, **overrides: Any
    ) -> RunningXps:
        state_dir = tmp_path / f"xps-{len(running)}"
        state_dir.mkdir()
        config = make_config(xps_pki, state_dir, **overrides)
        log_handlers.extend(setup_logging(config.resolved_log_file, stderr=False))
        host: Any = None
        event_source = None
        if handlers is None:
            from xps.host import Host, HostConfig

            host = await Host.open(
                HostConfig(state_dir=state_dir, backend="sim", stats_interval_s=0.2)
            )
            hosts.append(host)
            table = host_handlers(host)
            event_source = host.subscribe
        elif not isinstance(handlers, dict):  # a host-like object (FakeHost)
            host = handlers
            table = host_handlers(handlers)
            event_source = handlers.subscribe
        else:
            table = handlers
        server = XpsServer(config, table, event_source=event_source)
        await server.start()
        rx = RunningXps(server, config, xps_pki, host)
        running.append(rx)
        return rx

    yield start
    for rx in running:
        for c in rx.clients:
            await c.close()
        await rx.server.close()
    for host in hosts:
        await host.close()
    remove_logging(log_handlers)


@pytest.fixture
async def xps_daemon(start_xps: Callable[..., Any]) -> RunningXps:
    """A running daemon with the real sim Host."""
    result: RunningXps = await start_xps()
    return result


def sim_config(state: Path, **kw: Any) -> Any:
    """The ``xps.host.HostConfig`` of :func:`sim_host` on ``state`` (statistics every 0.05 s,
    a 10 ms simulation slice), ``kw`` replacing or adding fields: for a test that opens the
    host itself (a restart on the same state, a root prefix)."""
    from xps.host import HostConfig

    return HostConfig(**{"state_dir": state, "stats_interval_s": 0.05, "sim_slice_ms": 10, **kw})


@pytest.fixture
async def sim_host(tmp_path: Path) -> AsyncIterator[Any]:
    """An open sim ``xps.host.Host`` on ``tmp_path / "state"`` (no server): statistics every
    0.05 s, a 10 ms simulation slice; closed at teardown."""
    from xps.host import Host

    host = await Host.open(sim_config(tmp_path / "state"))
    try:
        yield host
    finally:
        await host.close()
