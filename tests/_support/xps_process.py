"""A real XPS daemon in its own process (``python -m xps.cli.xps serve``, sim backend), for
tests that kill it: ``async with xps_process(pki, state_dir, stats_interval=0.05) as d``.

The daemon listens on 127.0.0.1 port 0 (read-write only) with the session PKI
(``xps_pki``); ``d.port`` comes from its ports file, ``d.client()`` is a connected
console client, ``d.kill()`` sends SIGKILL. Whatever is still running at exit is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from xps.client import Xps

from .xps import XpsPki

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class XpsProcess:
    """One daemon process on a state directory."""

    proc: asyncio.subprocess.Process
    state_dir: Path
    port: int
    pki: XpsPki
    clients: list[Xps] = field(default_factory=list)

    async def client(self) -> Xps:
        """A connected client with the console's certificate (closed at exit)."""
        cert, key = self.pki.clients["console"]
        c = Xps("127.0.0.1", self.port, ca=self.pki.ca, cert=cert, key=key, timeout=10.0)
        await c.connect()
        self.clients.append(c)
        return c

    async def kill(self) -> None:
        """SIGKILL: no close, no save, no goodbye."""
        for c in self.clients:
            with contextlib.suppress(Exception):
                await c.close()
        self.clients.clear()
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


def _prepare(state_dir: Path) -> tuple[Path, Path]:
    state_dir.mkdir(parents=True, exist_ok=True)
    ports = state_dir / "ports"
    props = state_dir / "test.properties"
    props.write_text("")  # nothing from /etc: every setting is a flag below
    with contextlib.suppress(FileNotFoundError):
        ports.unlink()  # a killed daemon leaves its ports file behind
    return ports, props


@contextlib.asynccontextmanager
async def xps_process(
    pki: XpsPki, state_dir: Path, *, stats_interval: float = 3.0, wait_s: float = 60.0
) -> AsyncIterator[XpsProcess]:
    """Starts ``xps serve`` on ``state_dir`` and waits (a liveness bound) for its port."""
    ports, props = _prepare(state_dir)
    argv = [
        sys.executable,
        "-m",
        "xps.cli.xps",
        "serve",
        "--backend",
        "sim",
        "--state-dir",
        str(state_dir),
        "--listen",
        "127.0.0.1:0",
        "--ro-listen",
        "none",
        "--ca",
        str(pki.ca),
        "--cert",
        str(pki.server_cert),
        "--key",
        str(pki.server_key),
        "--properties-file",
        str(props),
        f"-Dxps.stats-interval={stats_interval}",
        "--quiet",
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    running = None
    try:
        async with asyncio.timeout(wait_s):
            while not ports.exists():
                if proc.returncode is not None:
                    err = await proc.stderr.read() if proc.stderr else b""
                    raise AssertionError(f"xps serve exited: {err.decode(errors='replace')}")
                await asyncio.sleep(0.05)
        port = int(json.loads(ports.read_text())["read_write"])
        running = XpsProcess(proc, state_dir, port, pki)
        yield running
    finally:
        if running is not None:
            await running.kill()
        elif proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
