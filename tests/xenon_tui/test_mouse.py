"""The mouse works (never required): click a violation row, a tab and a server line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._support.console import console_config, wait_connected, wait_for
from tests._support.scripted_host import ScriptedHost, small_policy
from xenon_tui.app import XenonConsole
from xenon_tui.widgets import ServersPanel, ViolationLog
from xenon_tui.widgets._viewtabs import TabLine


async def test_clicks_select_violation_tab_and_server(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    host_a, host_b = ScriptedHost(), ScriptedHost(small_policy(name="other"))
    a, b = await start_xps(host_a), await start_xps(host_b)
    app = XenonConsole(console_config(xps_pki, a, b, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        first = f"127.0.0.1:{a.rw_port}"
        second = f"127.0.0.1:{b.rw_port}"
        await wait_connected(pilot, app, first)
        await wait_connected(pilot, app, second)
        assert app.current == first
        views = app.query_one("#views")

        # Tabs: each click shows its view, built on first show, and focuses it.
        assert views.active == "violations"
        tabs = app.query_one(TabLine)
        for view, widget in (("domains", "#domains-table"), ("policy", "#policy-view")):
            column = tabs.column_of(view)
            assert column is not None
            assert await pilot.click(TabLine, offset=(column + 1, 0))
            await wait_for(pilot, lambda view=view: views.active == view)
            await wait_for(pilot, lambda widget=widget: app.query(widget).first().has_focus_within)
        assert await pilot.click(TabLine, offset=(tabs.column_of("violations") or 0, 0))
        await wait_for(pilot, lambda: views.active == "violations")
        # Between titles nothing happens.
        gap = (tabs.column_of("perf") or 1) - 1
        assert await pilot.click(TabLine, offset=(gap, 0))
        await pilot.pause()
        assert views.active == "violations"

        # A violation row: the cursor moves to the clicked line (newest first).
        host_a.emit_violations(5)
        log = app.query_one(ViolationLog)
        await wait_for(pilot, lambda: len(log.window) == 5)
        assert log.cursor == 0
        assert await pilot.click(ViolationLog, offset=(10, 3))
        await wait_for(pilot, lambda: log.cursor == 3)
        selected = log.selected()
        assert selected is not None and selected == log.window.row(3)

        # A server line: the second server becomes the console's current one.
        panel = app.query_one(ServersPanel)
        line = next(
            y
            for y in range(panel.size.height)
            if str(b.rw_port) in "".join(s.text for s in panel.render_line(y))
        )
        top = panel.content_region.y - panel.region.y  # render_line counts inside the border
        assert await pilot.click(ServersPanel, offset=(5, top + line))
        await wait_for(pilot, lambda: app.current == second)
        assert panel.highlighted == 1


async def test_footer_lists_the_keys_that_work_and_a_click_presses_one(tmp_path: Path) -> None:
    from xenon_tui._config import ConsoleConfig
    from xenon_tui.dialogs import HelpScreen
    from xenon_tui.widgets._keyline import KeyLine

    app = XenonConsole(ConsoleConfig(config_path=tmp_path / "console.json"))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        line = app.query_one(KeyLine)
        keys, palette = line.items()
        shown = {key for key, *_ in keys}
        assert {"question_mark", "colon", "ctrl+q"} <= shown
        assert palette is not None and palette[0] == "ctrl+p"
        # Editor-only keys are not listed in a console with no server.
        assert "ctrl+a" not in shown
        start, end, _key = next(span for span in line._spans if span[2] == "question_mark")
        await pilot.click(KeyLine, offset=((start + end) // 2, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), wait_s=10)
