"""Live mode against a real daemon: violation log, alert, responses, domain lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.screen import ModalScreen

from tests._support.console import console_config, wait_connected, wait_for
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import TypedConfirmDialog
from xenon_tui.widgets import DomainsTable, ModeBand, ViolationLog


async def test_violations_arrive_with_alert_and_filter(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("1")  # stay away from the log so the alert is not acknowledged
        host.emit_violations(30, domain="EA-domu-1")
        host.emit_violations(5, domain="EB-domu-1", kind="rate")
        log = app.query_one(ViolationLog)
        await wait_for(pilot, lambda: len(log.window) == 35)
        band = app.query_one(ModeBand)
        await wait_for(pilot, lambda: band.alert == 35)
        assert "35 new violations" in str(band.render())
        assert "⚠ 35" in str(app.query_one("#views").label("violations"))
        assert log.selected()["seq"] == 35  # newest first
        await pilot.press("5")
        assert band.alert == 0
        await pilot.press("slash", *"eb-domu", "enter")
        assert len(log.window) == 5
        assert all(log.window.row(i)["domain"] == "EB-domu-1" for i in range(5))
        lines = [log.render_line(y).text for y in range(5)]
        assert all("EB-domu-1" in line for line in lines)
        await pilot.press("slash", "enter")
        assert len(log.window) == 35


async def test_pause_from_violation_row(scripted: Any, xps_pki: Any, tmp_path: Path) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        host.emit_violations(3, domain="EA-domu-2")
        await pilot.press("5")
        await wait_for(pilot, lambda: len(app.query_one(ViolationLog).window) == 3)
        await pilot.press("p")
        await wait_for(pilot, lambda: ("PauseDomain", "EA-domu-2") in host.calls)
        await pilot.press("4")  # the Domains view is built when first shown
        table = app.query_one(DomainsTable)
        await wait_for(
            pilot,
            lambda: any(
                d["name"] == "EA-domu-2" and d["run_state"] == "paused" for d in table.domains
            ),
        )


async def test_destroy_needs_the_typed_name(scripted: Any, xps_pki: Any, tmp_path: Path) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        assert table.selected()["name"] == "EA-domu-1"
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmDialog))
        await pilot.press(*"EA-domu-2", "enter")  # the wrong name: refused, dialog stays
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmDialog)
        assert "does not match" in str(app.screen.query_one("#typed-error").render())
        await pilot.press("escape")
        await pilot.pause()
        assert not any(c[0] == "DestroyDomain" for c in host.calls)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmDialog))
        await pilot.press(*"EA-domu-1", "enter")
        await wait_for(pilot, lambda: ("DestroyDomain", "EA-domu-1") in host.calls)
        # Pause needs no typed confirmation.
        await pilot.press("down", "p")
        await wait_for(pilot, lambda: ("PauseDomain", "EA-domu-2") in host.calls)


async def test_read_only_console_uses_ro_socket_and_hides_mutations(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path, read_only=True))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await wait_for(pilot, lambda: "ReadOnly socket" in running.log_text())
        await pilot.press("4")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        shown = {b.binding.id for b in app.active_bindings.values()}
        assert "domain.pause" not in shown and "domain.destroy" not in shown
        assert "domain.config" in shown
        await pilot.press("p", "D", "m")
        await pilot.pause(0.2)
        assert host.calls == []
        assert not isinstance(app.screen, ModalScreen)  # D opened no confirmation dialog
        assert app.servers[next(iter(app.servers))].mode.value == "live"
        assert "(read-only)" in str(app.query_one(ModeBand).render())
