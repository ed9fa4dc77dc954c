"""Driving the console in tests: its config for running daemons, waits and key sequences."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


async def enter_editor(pilot: Any, app: XenonConsole) -> None:
    """Waits for the first server, then switches it to Policy Editor mode (``m``)."""
    from xenon_tui.widgets import ModeBand

    await wait_connected(pilot, app)
    await pilot.press("m")
    await wait_for(pilot, lambda: app.query_one(ModeBand).has_class("-editor"))


async def edit_first_seclabel(pilot: Any, app: XenonConsole) -> None:
    """``:seclabels``, waits for its list to take the focus, then Enter: the edit form of
    the first SecLabel (EA-seclabel) is open when this returns."""
    from xenon_tui.dialogs._form import FormDialog

    await pilot.press("colon", *"seclabels", "enter")
    try:
        await wait_for(pilot, lambda: getattr(app.focused, "tab", None) == "seclabels")
    except TimeoutError:
        from xenon_tui.widgets._viewtabs import ViewTabs

        views = app.query_one("#views", ViewTabs).active
        raise AssertionError(f"seclabels never focused: {app.focused} in {views}") from None
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))


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


async def stopped_by_msm(daemon: Any, domain: str = "EA-domu-1") -> Any:
    """A connected client on ``daemon`` after the MSM stopped ``domain`` (started here,
    made to misbehave) at its violation limit; it behaves again."""
    client = daemon.client()
    await client.connect()
    await client.subscribe(["domain"])
    await client.create_domain(domain)
    await client.set_misbehaviour(domain, "out_of_profile", 200_000)
    async with asyncio.timeout(30):  # a liveness bound only
        while (await client.next_event(10)).data.get("reason") != "max_violations":
            pass
    await client.set_misbehaviour(domain, "out_of_profile", 0)
    await client.unsubscribe()
    return client
