"""Never act on the wrong row (issue #12 §1): a selection stays on its record while events
arrive, refreshes run and the order changes; End/G follows the newest rows again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._support.console import console_config, wait_connected, wait_for
from xenon_tui.app import XenonConsole
from xenon_tui.widgets import DomainsTable, ViolationLog
from xenon_tui.widgets._viewtabs import ViewTabs


async def _select_old_violation(pilot: Any, app: XenonConsole, host: Any) -> ViolationLog:
    """Seq 1-5 from EA-domu-2, 6-15 from EB-domu-1; Down x12 selects seq 3 (EA-domu-2)."""
    await wait_connected(pilot, app)
    host.emit_violations(5, domain="EA-domu-2")
    host.emit_violations(10, domain="EB-domu-1")
    log = app.query_one(ViolationLog)
    await wait_for(pilot, lambda: len(log.window) == 15)
    await pilot.press("5", *["down"] * 12)
    await wait_for(pilot, lambda: log.selected() is not None and log.selected()["seq"] == 3)
    return log


async def _push_with_refreshes(pilot: Any, host: Any, log: ViolationLog, count: int) -> None:
    """``count`` violations of another domain in batches, with a policy re-read (the
    screen redraws the server) and a domain event (a domains refresh) among them."""
    before = len(log.window)
    for batch in range(10):
        host.emit_violations(count // 10, domain="EB-domu-1")
        if batch == 3:
            host.emit({"event": "policy", "data": {"generation": 1, "sha256": "x"}})
        if batch == 6:
            host.emit({"event": "domain", "data": {"domid": 3, "name": "EB-domu-1"}})
    await wait_for(pilot, lambda: len(log.window) == before + count)
    await pilot.pause(0.3)  # the refreshes' answers and the marker's 0.2 s redraw


async def test_selected_violation_stays_under_1000_events_and_pause_hits_it(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        log = await _select_old_violation(pilot, app, host)
        await _push_with_refreshes(pilot, host, log, 1000)
        assert log.selected()["seq"] == 3
        # The highlighted line is that record too, not only what the actions read.
        assert log.window.row(log.cursor)["seq"] == 3
        await pilot.press("p")
        await wait_for(pilot, lambda: any(c[0] == "PauseDomain" for c in host.calls))
        assert host.calls == [("PauseDomain", "EA-domu-2")]
        assert not log.follow and log.new_above == 1000
        assert "1000 new ↑" in app.query_one(ViewTabs).status()


async def test_end_and_G_resume_following_the_newest(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        log = await _select_old_violation(pilot, app, host)
        await _push_with_refreshes(pilot, host, log, 100)
        await pilot.press("end")
        assert log.follow and log.new_above == 0
        assert log.selected()["seq"] == 115
        assert "new ↑" not in app.query_one(ViewTabs).status()
        host.emit_violations(20, domain="EA-domu-1")
        await wait_for(pilot, lambda: len(log.window) == 135)
        assert log.selected()["seq"] == 135 and log.cursor == 0
        # k pins the newest row; G follows again.
        await pilot.press("k")
        host.emit_violations(5, domain="EA-domu-1")
        await wait_for(pilot, lambda: len(log.window) == 140)
        assert log.selected()["seq"] == 135 and not log.follow
        await pilot.press("G")
        assert log.follow and log.selected()["seq"] == 140
        # g/Home: the oldest row kept (the log is newest first).
        await pilot.press("g")
        assert log.selected()["seq"] == 1 and not log.follow


async def test_domain_selection_survives_sorting_and_refreshes(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3 and app.focused is table)
        await pilot.press("j", "j")  # EB-domu-1: domid 3, the most CPU time
        assert table.selected()["name"] == "EB-domu-1"
        await pilot.press("N")  # by name: EA-domu-1, EA-domu-2, EB-domu-1
        assert [d["name"] for d in table.domains] == ["EA-domu-1", "EA-domu-2", "EB-domu-1"]
        assert table.selected()["name"] == "EB-domu-1" and table.cursor_row == 2
        await pilot.press("C")  # by CPU, biggest first: EB-domu-1 moves to the top
        assert table.domains[0]["name"] == "EB-domu-1"
        assert table.selected()["name"] == "EB-domu-1" and table.cursor_row == 0
        host.emit({"event": "domain", "data": {"domid": 1, "name": "EA-domu-1"}})
        await pilot.pause(0.5)
        assert table.selected()["name"] == "EB-domu-1"
        await pilot.press("p")
        await wait_for(pilot, lambda: bool(host.calls))
        assert host.calls == [("PauseDomain", "EB-domu-1")]
