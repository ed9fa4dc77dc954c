"""Console test fixtures: real XPS daemons (real TLS, protocol, client) on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui._host import ScriptedHost
from tests.xps.conftest import start_xps, xps_daemon, xps_pki  # noqa: F401  (shared fixtures)
from xenon_tui._config import ConsoleConfig, ServerEntry, TlsFiles
from xenon_tui._connection import LinkState
from xenon_tui.app import XenonConsole


def console_config(pki: Any, *servers: Any, tmp: Path, **kw: Any) -> ConsoleConfig:
    """A ConsoleConfig for running daemons, remembering settings under ``tmp``."""
    cert, key = pki.clients["console"]
    entries = tuple(ServerEntry("127.0.0.1", s.rw_port, ro_port=s.ro_port) for s in servers)
    return ConsoleConfig(
        servers=entries,
        tls=TlsFiles(ca=pki.ca, cert=cert, key=key),
        config_path=tmp / "console.json",
        **kw,
    )


async def wait_for(pilot: Any, predicate: Callable[[], bool], wait_s: float = 20.0) -> None:
    """Pumps the app until ``predicate`` holds (fails the test after ``wait_s``)."""
    async with asyncio.timeout(wait_s):
        while not predicate():
            await pilot.pause(0.02)


async def wait_connected(pilot: Any, app: XenonConsole, address: str | None = None) -> None:
    """Waits until a server is connected and its first data arrived."""
    address = address or next(iter(app.servers))
    await wait_for(
        pilot,
        lambda: (
            app.servers[address].link is LinkState.CONNECTED and bool(app.servers[address].info)
        ),
    )


@pytest.fixture
async def scripted(start_xps: Any) -> tuple[Any, ScriptedHost]:  # noqa: F811
    """A real daemon serving a :class:`ScriptedHost`."""
    host = ScriptedHost()
    running = await start_xps(host)
    return running, host


async def clone_to_the_other_server(pilot: Any, app: XenonConsole, expect: str) -> None:
    """``L`` (clone the policy to…), keeps the default destination (the other server),
    checks that the confirmation mentions ``expect``, and confirms."""
    from xenon_tui.dialogs import ConfirmDialog, InputDialog

    await pilot.press("L")
    await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
    await pilot.press("enter")  # the default destination: the other server
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    assert expect in str(app.screen.query_one("#confirm-body").render())
    await pilot.press("tab", "enter")
