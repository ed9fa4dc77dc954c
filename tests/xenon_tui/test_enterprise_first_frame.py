"""An XE session's first frame is the Enterprise view's alone (issue #13): the host console
under it composes only after the view's first VMs are drawn, or at once when it is wanted
first (ctrl+e), and a console that closes before either still ends."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support.console import wait_for
from tests._support.xe_console import World, ready
from xenon_tui._config import ConsoleConfig
from xenon_tui._xe import XeLink
from xenon_tui.app import XenonConsole
from xenon_tui.widgets import ServersPanel
from xenon_tui.widgets._xe_vms import XeVmTable


def host_widgets(app: XenonConsole) -> int:
    """How many of the host console's widgets are in place (0: not composed yet)."""
    return len(app.host.query(ServersPanel)) + len(app.host.query("#command-line"))


@pytest.fixture
def silent_xe() -> Iterator[str]:
    """An XE URL on 127.0.0.1 that takes connections (backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def silent_console(url: str, tmp: Path) -> XenonConsole:
    link = XeLink(url, "token-not-used", "oper", "operator", None)
    return XenonConsole(ConsoleConfig(config_path=tmp / "console.json"), xe=link)


async def test_the_host_console_composes_after_the_first_vms_are_drawn(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    seen: list[int] = []  # the host console's widgets at each table.show with VMs
    show = XeVmTable.show

    def spy(table: XeVmTable, vms: Any, *args: Any, **kwargs: Any) -> Any:
        if vms:
            seen.append(host_widgets(app))
        return show(table, vms, *args, **kwargs)

    monkeypatch.setattr(XeVmTable, "show", spy)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        assert seen and seen[0] == 0, seen  # the first VMs drawn: no host console yet
        assert app.screen is app.enterprise
        # Then it composes by itself (no key), with its widgets in place.
        await wait_for(pilot, lambda: app.host.is_mounted and host_widgets(app) == 2, 30)
        assert app.screen is app.enterprise
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: app.screen is app.host)
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: app.screen is app.enterprise)


async def test_ctrl_e_at_once_reaches_a_working_host_console(
    silent_xe: str, tmp_path: Path
) -> None:
    # XE never answers: the first poll never ends, so only the key releases the host console.
    app = silent_console(silent_xe, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.enterprise is not None and app.screen is app.enterprise)
        assert host_widgets(app) == 0
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: app.screen is app.host, 30)
        assert host_widgets(app) == 2
        await wait_for(pilot, lambda: isinstance(app.focused, ServersPanel), 30)
        # Its keys work: `:` opens its command line, Esc closes it, Esc again goes back.
        await pilot.press(":")
        await wait_for(pilot, lambda: app.focused is app.host.query_one("#command-line"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.focused is not app.host.query_one("#command-line"))
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: app.screen is app.enterprise)


async def test_a_console_closed_before_its_first_poll_ends(silent_xe: str, tmp_path: Path) -> None:
    app = silent_console(silent_xe, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.enterprise is not None and app.screen is app.enterprise)
        assert host_widgets(app) == 0
    # Textual's shutdown waits for every screen: the held-back host console let it end.
    assert app.return_code in (None, 0)
    assert host_widgets(app) == 0


async def test_esc_on_a_host_list_without_a_filter_goes_back_to_enterprise(
    silent_xe: str, tmp_path: Path
) -> None:
    # Esc where the host console has no use for it returns to the Enterprise view (found
    # by B1: on the Servers panel the list's own Esc, "clear the filter", took it).
    app = silent_console(silent_xe, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.enterprise is not None and app.screen is app.enterprise)
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: app.screen is app.host, 30)
        await wait_for(pilot, lambda: isinstance(app.focused, ServersPanel), 30)
        # A filter is cleared first; only an Esc with nothing to clear leaves.
        app.host._apply_filter("xenon")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.host._shown_filters.get("violations"))
        assert app.screen is app.host
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise, 30)
