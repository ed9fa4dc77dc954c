"""The console against the real daemon with the real sim Host (MSM in C, sim backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._support.console import console_config, wait_connected, wait_for
from tests._support.screens import view_shown
from xenon_tui.app import XenonConsole
from xenon_tui.widgets import DomainsTable, ModeBand, ViolationLog


def _row(table: DomainsTable, name: str) -> dict[str, Any] | None:
    return next((dict(d) for d in table.domains if d.get("name") == name), None)


async def test_start_misbehave_alert_and_pause(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        assert app.current_state.info["backend"] == "sim"
        await pilot.press("4")
        await view_shown(pilot, "domains")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: _row(table, "EA-domu-1") is not None)
        assert _row(table, "EA-domu-1")["run_state"] == "shutdown"
        # Start it from its row.
        names = [d["name"] for d in table.domains]
        table.move_cursor(row=names.index("EA-domu-1"))
        await pilot.press("s")
        await wait_for(
            pilot, lambda: (_row(table, "EA-domu-1") or {}).get("run_state") == "running", wait_s=15
        )
        # The guest misbehaves (a second client plays the demo's part).
        other = xps_daemon.client()
        await other.connect()
        await other.call(
            "SetMisbehaviour", domain="EA-domu-1", kind="out_of_profile", per_million=200_000
        )
        await pilot.press("1")
        log = app.query_one(ViolationLog)
        await wait_for(pilot, lambda: len(log.window) > 0, wait_s=15)
        await wait_for(pilot, lambda: app.query_one(ModeBand).alert > 0)
        row = log.window.row(0)
        assert row["domain"] == "EA-domu-1" and row["kind"] == "profile"
        await other.call(
            "SetMisbehaviour", domain="EA-domu-1", kind="out_of_profile", per_million=0
        )
        # Respond from the log: one key pauses the domain.
        assert "PauseDomain" not in xps_daemon.log_text()
        await pilot.press("5", "p")
        await xps_daemon.wait_log("Received request PauseDomain")
        await wait_for(
            pilot,
            lambda: (_row(table, "EA-domu-1") or {}).get("run_state") in ("paused",),
            wait_s=15,
        )
