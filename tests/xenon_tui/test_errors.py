"""Errors are shown in one place: what a worker of the app ends with, and Failed messages."""

from __future__ import annotations

from pathlib import Path

from tests._support.console import wait_for
from xenon_tui._config import ConsoleConfig, ServerEntry
from xenon_tui._errors import ConsoleError, ServerError
from xenon_tui.app import XenonConsole
from xenon_tui.messages import Failed


def _app(tmp_path: Path) -> XenonConsole:
    servers = (ServerEntry("h1"),)
    return XenonConsole(
        ConsoleConfig(servers=servers, autoconnect=False, config_path=tmp_path / "c.json")
    )


async def test_a_failed_flow_is_shown_once_with_its_title(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:

        async def refused() -> None:
            raise ServerError("h1:8443", "the store is locked", code="store_locked")

        app.host.run_flow("test", refused)
        await wait_for(pilot, lambda: any("locked" in n.message for n in app._notifications))
        await pilot.pause(0.1)
        notes = [n for n in app._notifications if "locked" in n.message]
        assert [(n.title, n.severity) for n in notes] == [("Server h1:8443", "error")]


async def test_an_unexpected_failure_is_shown_not_lost(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:

        async def broken() -> None:
            raise RuntimeError("a bug")

        app.host.run_flow("test", broken)
        await wait_for(pilot, lambda: any(n.message == "a bug" for n in app._notifications))
        assert next(n for n in app._notifications if n.message == "a bug").title == "Error"


async def test_flows_need_no_try_except(tmp_path: Path) -> None:
    """A flow calling a server that is not connected just raises; the app says why."""
    from xenon_tui import flows

    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.host.run_flow("test", flows.compare_servers, app.host, "h1:8443")
        await wait_for(pilot, lambda: any(n.title == "Compare" for n in app._notifications))
        app.host.run_flow("test", app.host.fleet.refresh_domains, "h1:8443")
        await wait_for(pilot, lambda: any("not connected" in n.message for n in app._notifications))


async def test_failed_messages_are_shown_like_worker_errors(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.host.post_message(Failed(ConsoleError("cannot do that", code="nope")))
        await wait_for(
            pilot, lambda: any(n.message == "cannot do that" for n in app._notifications)
        )
        note = next(n for n in app._notifications if n.message == "cannot do that")
        assert (note.message, note.severity) == ("cannot do that", "error")
