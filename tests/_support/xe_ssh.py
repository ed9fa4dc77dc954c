"""The enterprise console over SSH, from its real parts: a real ``xenon xe serve`` (SQLite
file, XE's certificates issued by the session CA the hosts trust), sim XPS hosts
(``xps_hosts``, in-process on the test's loop), ``xenon console serve --xe`` running the
real console, and OpenSSH in tmux (``Terminal``).

Tests using it are ``async``: the XPS hosts answer XE on the test's event loop, so waiting
on a tmux screen polls with ``asyncio.sleep`` (:func:`shows`), never ``time.sleep``.

- :func:`start_xe_console` -> :class:`XeConsoleStack`: XE (its admin ``root`` and an auditor
  ``aud``, each with an SSH key of their own), the SSH server, and the hosts (not yet in XE).
- :func:`populate` gives XE the report's simple policy over those hosts (what
  ``xenon demo`` builds), through XE's REST client.
- :class:`Tty`: one OpenSSH login in a tmux window, waited on by screen text.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from enterprise_store.client import XeClient
from tests._support.ssh import ServerProc, Terminal, start_server
from tests._support.xe_cli import serve_xe, xenon
from tests._support.xps import XpsPki

ADMIN = "root"
AUDITOR = "aud"
PASSWORD = "xe-walk-admin-password-1"
PASSWORDS = {ADMIN: PASSWORD, AUDITOR: "xe-walk-auditor-password-1"}
"""Each user's password (the tests' own XE logins; the console logs in by SSH key)."""
WAIT_S = 30.0
"""Liveness bound for a screen to show what it should (a shared, loaded 2-core box)."""


@dataclass
class XeConsoleStack:
    """XE, its SSH console server and the hosts, all running."""

    url: str
    ca: Path
    state: Path
    keys: dict[str, Path]
    hosts: list[Any]
    server: ServerProc
    xe_proc: subprocess.Popen[bytes]
    clients: list[XeClient] = field(default_factory=list)

    async def admin(self) -> XeClient:
        """A logged-in client of XE's admin (closed by :meth:`stop`)."""
        return await self.login(ADMIN)

    async def login(self, user: str) -> XeClient:
        """A client logged in as ``user`` (``root`` or ``aud``) by password, as a person
        reaching XE's API directly would be (closed by :meth:`stop`)."""
        client = XeClient(self.url, ca=self.ca, timeout=60)
        self.clients.append(client)
        await client.login(user, PASSWORDS[user])
        return client

    def ssh_argv(self, user: str) -> list[str]:
        return self.server.ssh_argv(user, self.keys[user])

    async def stop(self) -> None:
        for client in self.clients:
            await client.aclose()
        await asyncio.to_thread(self.server.stop)
        self.xe_proc.terminate()
        try:
            await asyncio.to_thread(self.xe_proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.xe_proc.kill()
            await asyncio.to_thread(self.xe_proc.wait)


def _keypair(directory: Path, name: str) -> Path:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=f"xe-walk-{name}")
    path = directory / name
    key.write_private_key(str(path))
    path.chmod(0o600)  # OpenSSH ignores a private key others can read
    key.write_public_key(f"{path}.pub")
    return path


async def start_xe_console(tmp_path: Path, pki: XpsPki, hosts: list[Any]) -> XeConsoleStack:
    """``xenon xe init`` + ``serve`` (its CA the session's: the hosts trust XE), users
    ``root`` (admin) and ``aud`` (auditor) with SSH keys, a service credential, and
    ``xenon console serve --xe`` running the real console (spawn mode)."""
    state = tmp_path / "xe"
    code, _, err = await xenon(
        "xe", "init", "--state-dir", str(state), "--admin", ADMIN, "--password-stdin",
        "--ca-dir", str(pki.ca_dir), "--san", "127.0.0.1", "--san", "localhost",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    proc, url = await serve_xe(state)
    try:
        ca = state / "pki" / "ca-cert.pem"
        keydir = tmp_path / "ssh-keys"
        keydir.mkdir()
        keys = {name: _keypair(keydir, name) for name in (ADMIN, AUDITOR)}
        async with XeClient(url, ca=ca, timeout=60) as admin:
            await admin.login(ADMIN, PASSWORD)
            await admin.create_user(AUDITOR, role="auditor", password=PASSWORDS[AUDITOR])
            for name, key in keys.items():
                await admin.add_ssh_key(name, key.with_suffix(".pub").read_text(), name)
            made = await admin.create_token("xe walk SSH server", kind="service")
        credential = tmp_path / "ssh-credential"
        fd = os.open(credential, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, made.token.encode() + b"\n")
        os.close(fd)
        ssh_state = tmp_path / "ssh"
        ssh_state.mkdir()
        console = ssh_state / "console.json"
        cert, key = pki.clients["console"]
        console.write_text(
            json.dumps({"servers": [], "ca": str(pki.ca), "cert": str(cert), "key": str(key)})
        )
        argv = [sys.executable, "-m", "xenon_tui.ssh", "--listen", "127.0.0.1:0",
                "--state-dir", str(ssh_state), "--mode", "spawn",
                "--console-file", str(console), "--xe", url, "--xe-ca", str(ca),
                "--xe-credential", str(credential)]  # fmt: skip
        server = await asyncio.to_thread(start_server, argv, ssh_state, 90.0)
    except BaseException:
        proc.kill()
        proc.wait(timeout=30)
        raise
    return XeConsoleStack(url, ca, state, keys, hosts, server, proc)


async def populate(stack: XeConsoleStack) -> int:
    """The report's simple XE policy over the stack's hosts, built as ``xenon demo`` builds
    it (through XE's REST client), and propagated; returns the policy version."""
    from xenon_tui.demo._xe import _build

    xe = await stack.admin()
    version = await _build(xe, [{"name": h.name, "port": h.port} for h in stack.hosts])
    task = await xe.compute.wait_task((await xe.compute.propagate()).task_id, 120)
    assert task.state == "succeeded", task.error
    return version


class Tty:
    """One OpenSSH login in its own tmux session of ``terminal``."""

    def __init__(self, terminal: Terminal, window: str) -> None:
        self.terminal = terminal
        self.window = window
        self.trail: list[str] = []  # every screen waited on, for a failure's message

    @classmethod
    def open(cls, terminal: Terminal, window: str, argv: list[str], cols: int, rows: int) -> Tty:
        terminal.open(window, argv, cols=cols, rows=rows)
        return cls(terminal, window)

    def screen(self) -> str:
        return self.terminal.screen(self.window)

    def keys(self, *keys: str) -> None:
        """tmux key names (``Enter``, ``Escape``, ``C-s``, ``Tab``, ``Down``…)."""
        self.terminal.send(self.window, *keys)

    def type(self, text: str) -> None:
        """Literal text."""
        self.terminal.send(self.window, "-l", text)

    async def shows(self, pattern: str, wait_s: float = WAIT_S, gone: bool = False) -> str:
        """Polls the screen until ``pattern`` is on it (or, with ``gone``, is not); returns
        the screen. Fails with the last screen seen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            text = self.screen()
            found = re.search(pattern, text, re.MULTILINE) is not None
            if found != gone:
                self.trail.append(text)
                return text
            if loop.time() > deadline:
                what = "still on" if gone else "not on"
                raise AssertionError(f"{pattern!r} {what} {self.window} after {wait_s}s:\n{text}")
            await asyncio.sleep(0.1)

    async def until(self, predicate: Callable[[str], object], wait_s: float = WAIT_S) -> str:
        """Polls the screen until ``predicate(screen)`` holds; returns that screen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while not predicate(text := self.screen()):
            if loop.time() > deadline:
                raise AssertionError(f"{self.window} after {wait_s}s:\n{text}")
            await asyncio.sleep(0.1)
        self.trail.append(text)
        return text

    async def quiet(self, wait_s: float = WAIT_S, settle_s: float = 0.6) -> str:
        """Waits until the screen stops changing for ``settle_s`` (a liveness bound)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        last, since = self.screen(), time.monotonic()
        while time.monotonic() - since < settle_s:
            assert loop.time() < deadline, f"{self.window} kept changing:\n{last}"
            await asyncio.sleep(0.1)
            now = self.screen()
            if now != last:
                last, since = now, time.monotonic()
        return last


class CountingForwarder:
    """A TCP forwarder on 127.0.0.1 (port 0) to ``target``, counting the connections it
    accepts: what a client reuses and what it opens anew shows on a real server. Use
    ``async with CountingForwarder(port) as fwd`` and connect to ``fwd.port``."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.accepted = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> CountingForwarder:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        pipes = [
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes.difference_update(pipes)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
