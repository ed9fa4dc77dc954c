"""Servers panel against real daemons: connect, status colours, reconnect, add/remove."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests._support.console import console_config, wait_connected, wait_for
from xenon_tui._connection import LinkState
from xenon_tui.app import XenonConsole
from xenon_tui.widgets import ModeBand, ServersPanel


async def test_connects_and_shows_hypervisor_info(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        address = f"127.0.0.1:{running.rw_port}"
        glyph = app.query_one(ServersPanel).get_option_at_index(0).prompt.spans[0]
        # "▸ " marks the current server, then "● " in (ANSI) green.
        assert (glyph.start, glyph.end) == (2, 4) and glyph.style.color.number == 2
        info = str(app.query_one("#server-info").render())
        assert "4.19-sim" in info and "enabled" in info
        band = app.query_one(ModeBand)
        assert band.has_class("-live") and address in str(band.render())
        assert "Ready for requests" in running.log_text()


async def test_lost_server_turns_red_then_reconnects(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    from tests._support.scripted_host import ScriptedHost

    host = ScriptedHost()
    running = await start_xps(host)
    rw, ro = running.rw_port, running.ro_port
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        address = next(iter(app.servers))
        await running.server.close()
        await wait_for(pilot, lambda: app.servers[address].link is LinkState.LOST)
        assert app.query_one(ServersPanel).state_of(address) is LinkState.LOST
        # The same daemon comes back on the same ports: the console reconnects by itself.
        await start_xps(ScriptedHost(), listen=("127.0.0.1", rw), ro_listen=("127.0.0.1", ro))
        await wait_for(pilot, lambda: app.servers[address].link is LinkState.CONNECTED, wait_s=15)


async def test_add_and_remove_server_is_remembered(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, _host = scripted
    config = console_config(xps_pki, tmp=tmp_path)
    app = XenonConsole(config)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("a")
        await pilot.press(*f"127.0.0.1:{running.rw_port}/{running.ro_port}")
        await pilot.press("enter")
        address = f"127.0.0.1:{running.rw_port}"
        await wait_connected(pilot, app, address)
        saved = json.loads((tmp_path / "console.json").read_text())
        assert saved["servers"] == [
            {"host": "127.0.0.1", "port": running.rw_port, "ro_port": running.ro_port}
        ]
        assert (tmp_path / "console.json").stat().st_mode & 0o777 == 0o600
        app.query_one(ServersPanel).focus()
        await pilot.press("delete")
        await wait_for(pilot, lambda: address not in app.servers)
        saved = json.loads((tmp_path / "console.json").read_text())
        assert saved["servers"] == []


async def test_invalid_address_shows_message_next_to_field(xps_pki: Any, tmp_path: Path) -> None:
    app = XenonConsole(console_config(xps_pki, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("a")
        await pilot.press(*"bad host:99999")
        await pilot.press("enter")
        await pilot.pause()
        error = str(app.screen.query_one("#value-error").render())
        assert "invalid" in error or "port" in error
        assert app.servers == {}


async def test_a_stale_server_has_its_own_colour_and_words() -> None:
    """Stale is neither the green of a live link nor the red of a lost one: its glyph and
    word take ``$status-stale`` (set by every console theme), and the line says how long
    ago the host was last heard from; the words go when it is fresh again."""
    from textual.theme import Theme

    from themes import THEMES, VARIABLE_DEFAULTS
    from xenon_tui._config import ConsoleConfig, ServerEntry

    assert "status-stale" in VARIABLE_DEFAULTS
    assert all("status-stale" in theme.variables for theme in THEMES)
    app = XenonConsole(ConsoleConfig(servers=(ServerEntry("h1"),), autoconnect=False))
    address = "h1:8443"
    async with app.run_test(size=(160, 48)) as pilot:
        app.register_theme(
            Theme(name="test-stale", primary="#4f9de8", variables={"status-stale": "#00ffaa"})
        )
        panel = app.query_one(ServersPanel)
        panel.set_server(address, LinkState.STALE)
        panel.set_age(address, "last update 9 s ago")

        def line() -> Any:
            return panel.get_option_at_index(0).prompt

        assert str(line()).splitlines()[1:] == ["    stale", "    last update 9 s ago"]
        glyph = line().spans[0].style
        assert glyph.color.number == 5  # ANSI magenta by default: not green, not red
        app.theme = "test-stale"
        await wait_for(pilot, lambda: line().spans[0].style.color.triplet is not None)
        stale_word = next(s for s in line().spans if str(line())[s.start : s.end] == "stale")
        assert line().spans[0].style.color.triplet.hex == "#00ffaa"
        assert stale_word.style.color.triplet.hex == "#00ffaa"
        panel.set_server(address, LinkState.CONNECTED)
        panel.set_age(address, "")
        assert "stale" not in str(line()) and "last update" not in str(line())
