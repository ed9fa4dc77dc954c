"""Servers-panel workflows and Live extras against real daemons: colour, compare, clone,
authorization, performance charts, xl config and VNC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests._support.console import (
    clone_to_the_other_server,
    console_config,
    wait_connected,
    wait_for,
)
from tests._support.screens import view_shown
from tests._support.scripted_host import ScriptedHost, small_policy
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import InputDialog, TextDialog
from xenon_tui.dialogs._auth import AuthDialog
from xenon_tui.widgets import DomainsTable, ServersPanel


async def _two(start_xps: Any) -> tuple[Any, ScriptedHost, Any, ScriptedHost]:
    a, b = ScriptedHost(), ScriptedHost(small_policy(name="other", rate=5))
    return await start_xps(a), a, await start_xps(b), b


async def test_colour_is_assigned_and_remembered(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        await pilot.press(*"#cc3333", "enter")
        await wait_for(pilot, lambda: app.current_state.entry.color == "#cc3333")
    saved = json.loads((tmp_path / "console.json").read_text())
    assert saved["servers"][0]["color"] == "#cc3333"


async def test_compare_marks_servers_and_shows_field_diff(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    ra, _a, rb, _b = await _two(start_xps)
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, f"127.0.0.1:{ra.rw_port}")
        await wait_connected(pilot, app, f"127.0.0.1:{rb.rw_port}")
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        text = str(app.screen.query_one("#text").render())
        assert "differs" in text and "max_rate" in text
        assert app.servers[f"127.0.0.1:{rb.rw_port}"].match == "≠"
        label = ServersPanel.label(
            f"127.0.0.1:{rb.rw_port}", app.servers[f"127.0.0.1:{rb.rw_port}"].link, None, "≠"
        )
        assert label.plain.endswith("≠")


async def test_clone_previews_then_copies(start_xps: Any, xps_pki: Any, tmp_path: Path) -> None:
    ra, a, rb, b = await _two(start_xps)
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, f"127.0.0.1:{ra.rw_port}")
        await wait_connected(pilot, app, f"127.0.0.1:{rb.rw_port}")
        await clone_to_the_other_server(pilot, app, "max_rate")
        await wait_for(pilot, lambda: ("ActivatePolicy", None) in b.calls)
        assert b.active == a.active
        assert a.calls == []


async def test_authorizations_listed_and_locked_store_is_explained(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, _host = scripted
    pem = tmp_path / "client.pem"
    pem.write_bytes(xps_pki.clients["remote-admin"][0].read_bytes())
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("z")
        await wait_for(pilot, lambda: isinstance(app.screen, AuthDialog))
        await wait_for(pilot, lambda: "ListAuthorizations" in running.log_text())
        await pilot.press("a", *"admin2", "enter")
        await pilot.press(*str(pem), "enter")
        await wait_for(pilot, lambda: any("authstore" in n.message for n in app._notifications))
        note = next(n for n in app._notifications if "authstore" in n.message)
        assert note.title.startswith("Server 127.0.0.1")


async def test_performance_range_and_filter(scripted: Any, xps_pki: Any, tmp_path: Path) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("6")
        await wait_for(pilot, lambda: host.history_ranges[-1:] == ["10m"])
        perf = app.query_one("#perf-view")
        await wait_for(pilot, lambda: perf.history is not None)
        await pilot.press("r")
        await wait_for(pilot, lambda: host.history_ranges[-1:] == ["2h"])
        await pilot.press("slash", *"eb-domu", "enter")
        assert perf.domain_filter == "eb-domu"
        from xenon_tui.widgets._perf import current_rows

        assert [r["name"] for r in current_rows(app.current_state.stats, "eb-domu")] == [
            "EB-domu-1"
        ]


async def test_xl_config_and_vnc_tunnel(scripted: Any, xps_pki: Any, tmp_path: Path) -> None:
    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        await view_shown(pilot, "domains")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3 and app.focused is table)
        await pilot.press("y")
        try:
            await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        except TimeoutError:
            raise AssertionError([n.message for n in app._notifications]) from None
        assert 'name = "EA-domu-1"' in str(app.screen.query_one("#text").render())
        await pilot.press("escape", "v")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        text = str(app.screen.query_one("#text").render())
        assert "ssh -N -L 5903:127.0.0.1:5903" in text


async def test_guest_type_templates(scripted: Any, xps_pki: Any, tmp_path: Path) -> None:
    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("colon", *"guests", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        text = str(app.screen.query_one("#text").render())
        for guest in ("PV", "PVH", "PVHVM", "HVM"):
            assert f"# ---- {guest} (SecLabel" in text
        assert 'type = "pvh"' in text
