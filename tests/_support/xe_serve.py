"""A real ``xenon xe serve`` (SQLite file) over sim XPS hosts, for console pilots that
connect the way ``xenon console --xe URL`` does (tests/e2e/test_xe_flows_serve.py).

- :func:`start_hosts`: sim XPS daemons on 127.0.0.1 (real TLS, the session CA), each
  with its host-local policy of the report's sample (as the ``xps_hosts`` fixture starts
  them, but on a directory and loop the caller chooses: a module's).
- :func:`start_xe_serve` -> :class:`XeServe`: ``xenon xe init`` (XE's certificates from
  the session CA, so the hosts trust XE) + ``xenon xe serve``, the users of :data:`USERS`,
  and the §4.2 policy over the hosts built through XE's REST client (what ``xenon demo``
  builds) and propagated.
- :meth:`XeServe.link`: an XE session as the console's login dialog makes it (XE's
  password login over TLS, the CA file kept for the console's own client);
  :meth:`XeServe.console`: ``XenonConsole(config, xe=link)`` as ``xenon console --xe``
  runs it (XE's real client, no transport injected), its host console holding the test
  PKI's console certificate.
"""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enterprise_store.client import XeClient
from enterprise_store.policy import SAMPLE_HOSTS, sample_host_policies
from enterprise_store.schemas import RoleName
from tests._support.xe_cli import serve_xe, xenon
from tests._support.xe_hosts import XpsHost
from tests._support.xps import XpsPki
from xenon_tui._config import ConsoleConfig, ServerEntry, TlsFiles
from xenon_tui._xe import XeLink
from xenon_tui.app import XenonConsole
from xps.policy import serialize_policy

USERS: dict[str, tuple[RoleName, str]] = {
    "root": ("admin", "xe-serve-root-password-1"),
    "oper": ("operator", "xe-serve-oper-password-1"),
    "alice": ("admin", "xe-serve-alice-password-1"),
    "bob": ("admin", "xe-serve-bob-password-1"),
}
"""XE's users: name -> (role, password). ``root`` is the admin ``xenon xe init`` makes."""


async def start_hosts(directory: Path, pki: XpsPki, n: int = 3) -> list[XpsHost]:
    """``n`` running sim XPS daemons (``xenon-1``…), state under ``directory``."""
    local = sample_host_policies()
    hosts: list[XpsHost] = []
    try:
        for i in range(n):
            name = SAMPLE_HOSTS[i]
            state = directory / f"xps-{i}"
            state.mkdir(parents=True)
            (state / "initial-policy.xml").write_bytes(serialize_policy(local[name]))
            host = XpsHost(name, state, pki)
            await host.start()
            hosts.append(host)
    except BaseException:
        await stop_hosts(hosts)
        raise
    return hosts


async def stop_hosts(hosts: list[XpsHost]) -> None:
    for host in hosts:
        await host.stop()


@dataclass
class XeServe:
    """``xenon xe serve`` running, its users made and its policy propagated."""

    url: str
    ca: Path
    state: Path
    proc: subprocess.Popen[bytes]
    hosts: list[XpsHost]
    pki: XpsPki
    clients: list[XeClient] = field(default_factory=list)

    async def client(self, user: str) -> XeClient:
        """An API client logged in as ``user`` (closed by :meth:`stop`)."""
        client = XeClient(self.url, ca=self.ca, timeout=60)
        self.clients.append(client)
        await client.login(user, USERS[user][1])
        return client

    async def link(self, user: str) -> XeLink:
        """The session the console's login dialog makes for ``user`` (its ``_ask_xe``)."""
        async with XeClient(self.url, ca=self.ca, timeout=60) as xe:
            session = await xe.login(user, USERS[user][1])
        return XeLink(self.url, session.token, session.user.name, str(session.user.role), self.ca)

    def console(self, link: XeLink, tmp: Path, servers: tuple[ServerEntry, ...] = ()) -> Any:
        """The console ``xenon console --xe URL`` runs after its login, with ``servers``
        configured and the test PKI's console certificate (it reaches the sim hosts)."""
        cert, key = self.pki.clients["console"]
        config = ConsoleConfig(
            config_path=tmp / "console.json",
            tls=TlsFiles(ca=self.pki.ca, cert=cert, key=key),
            servers=servers,
        )
        return XenonConsole(config, xe=link)

    def host(self, name: str) -> XpsHost:
        return next(h for h in self.hosts if h.name == name)

    async def stop(self) -> None:
        for client in self.clients:
            await client.aclose()
        self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


async def start_xe_serve(directory: Path, pki: XpsPki, hosts: list[XpsHost]) -> XeServe:
    """``xenon xe init`` + ``serve`` on ``directory/xe``, :data:`USERS`, and the §4.2
    policy over ``hosts`` built through the REST client and propagated."""
    from xenon_tui.demo._xe import _build

    state = directory / "xe"
    root_password = USERS["root"][1]
    code, _, err = await xenon(
        "xe", "init", "--state-dir", str(state), "--admin", "root", "--password-stdin",
        "--ca-dir", str(pki.ca_dir), "--san", "127.0.0.1", "--san", "localhost",
        stdin=root_password + "\n",
    )  # fmt: skip
    assert code == 0, err
    proc, url = await serve_xe(state)
    xe = XeServe(url, state / "pki" / "ca-cert.pem", state, proc, hosts, pki)
    try:
        root = await xe.client("root")
        for name, (role, password) in USERS.items():
            if name != "root":
                await root.create_user(name, role=role, password=password)
        await _build(root, [{"name": h.name, "port": h.port} for h in hosts])
        task = await root.compute.wait_task((await root.compute.propagate()).task_id, 120)
        assert task.state == "succeeded", task.error
    except BaseException:
        await xe.stop()
        raise
    return xe
