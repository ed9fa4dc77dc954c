"""Visible filters (issue #12 §4, first point): an active `/` filter is shown on the view's
title line, belongs to its host, and Esc on the view or `:nofilter` clears it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._support.console import console_config, wait_connected, wait_for
from tests._support.scripted_host import ScriptedHost
from xenon_tui.app import XenonConsole
from xenon_tui.widgets import DomainsTable, ViolationLog
from xenon_tui.widgets._viewtabs import ViewTabs


async def test_filter_is_shown_per_host_and_cleared_with_escape(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    a, b = ScriptedHost(), ScriptedHost()
    ra, rb = await start_xps(a), await start_xps(b)
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    first, second = (f"127.0.0.1:{r.rw_port}" for r in (ra, rb))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, first)
        await wait_connected(pilot, app, second)
        a.emit_violations(4, domain="EA-domu-1")
        a.emit_violations(2, domain="EB-domu-1")
        b.emit_violations(3, domain="EA-domu-2")
        log = app.query_one(ViolationLog)
        tabs = app.query_one(ViewTabs)
        await wait_for(pilot, lambda: len(log.window) == 6)
        await pilot.press("5", "slash", *"eb-domu", "enter")
        await wait_for(pilot, lambda: len(log.window) == 2)
        # The other host: its own (unfiltered) rows and no filter shown.
        await pilot.press("1", "j", "enter")
        await wait_for(pilot, lambda: app.current == second and len(log.window) == 3)
        assert "filter" not in tabs.status()
        # Back: the first host's filter is still there, and said.
        await pilot.press("1", "k", "enter")
        await wait_for(pilot, lambda: app.current == first)
        assert len(log.window) == 2 and "filter /eb-domu" in tabs.status()
        await pilot.press("5")
        await wait_for(pilot, lambda: app.focused is log)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(log.window) == 6)
        assert "filter" not in tabs.status()


async def test_domains_filter_per_host_and_nofilter(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    ra, rb = await start_xps(ScriptedHost()), await start_xps(ScriptedHost())
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    first, second = (f"127.0.0.1:{r.rw_port}" for r in (ra, rb))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, first)
        await wait_connected(pilot, app, second)
        await pilot.press("4")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3 and app.focused is table)
        await pilot.press("slash", *"EB", "enter")
        await wait_for(pilot, lambda: table.row_count == 1)
        tabs = app.query_one(ViewTabs)
        assert "filter /EB" in tabs.status()
        await pilot.press("1", "j", "enter", "4")
        await wait_for(pilot, lambda: app.current == second and table.row_count == 3)
        assert "filter" not in tabs.status()
        await pilot.press("1", "k", "enter", "4")
        await wait_for(pilot, lambda: app.current == first and table.row_count == 1)
        await pilot.press("colon", *"nofilter", "enter")
        await wait_for(pilot, lambda: table.row_count == 3)
        assert "filter" not in tabs.status()
