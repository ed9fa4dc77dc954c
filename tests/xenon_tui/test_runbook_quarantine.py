"""The runbook's quarantine step (issue #14 §2) against a real sim daemon: `q` shows the
host's what-if of the quarantine SecLabel, the confirmation moves the domain to it (the
panel and the host's record name the SecLabel before and after) and verify restores it
before the domain resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests._support.console import console_config, stopped_by_msm, wait_connected, wait_for
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import ConfirmDialog
from xenon_tui.flows import _incident
from xenon_tui.screens._runbook import RunbookScreen
from xenon_tui.widgets import ViolationLog

DOM = "EA-domu-1"


def _panel(app: XenonConsole) -> str:
    screen = app.screen
    assert isinstance(screen, RunbookScreen)
    steps = screen.query_one("#runbook-steps").render()
    detail = screen.query_one("#runbook-detail").render()
    return f"{getattr(steps, 'plain', steps)}\n{getattr(detail, 'plain', detail)}"


def _dialog_text(app: XenonConsole) -> str:
    body = app.screen.query_one("#confirm-body").render()
    return str(getattr(body, "plain", body))


async def _label_of(client: Any, domain: str) -> str:
    policy = (await client.get_policy("active"))["policy"]
    bound = next(d for d in policy["domains"] if d["name"] == domain)["seclabel"]
    return str(next(s["name"] for s in policy["seclabels"] if s["id"] == bound))


async def test_quarantine_with_its_what_if_then_verify_restores_it(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_incident, "VERIFY_S", 2)
    client = await stopped_by_msm(xps_daemon)
    generation = (await client.get_policy("active"))["generation"]
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    app.console_user = "alice"
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        log = app.query_one(ViolationLog)
        await pilot.press("5")
        await wait_for(pilot, lambda: len(log.window) > 0 and app.focused is log)
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))

        await pilot.press("q")  # asks which form: q the quarantine SecLabel, v its VIFs
        await wait_for(pilot, lambda: "v  detach its VIFs" in _panel(app))
        await pilot.press("q")  # not captured yet: q captures first, then the what-if
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), wait_s=30)
        text = _dialog_text(app)
        assert "SecLabel EA-seclabel → Enclave A-quarantine" in text
        assert "No other domain, channel or device is affected." in text
        assert await _label_of(client, DOM) == "EA-seclabel"  # nothing changed yet
        await pilot.press("tab", "enter")  # Cancel has the focus; Quarantine is next
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        await wait_for(pilot, lambda: f"{DOM} quarantined" in _panel(app), wait_s=30)
        assert "EA-seclabel → Enclave A-quarantine" in _panel(app)  # the step's row
        assert await _label_of(client, DOM) == "Enclave A-quarantine"
        assert (await client.get_policy("active"))["generation"] == generation + 1
        inc = await client.get_incident("INC-1")
        rec = next(s for s in inc["steps"] if s["step"] == "quarantine")
        assert (rec["outcome"], rec["user"], rec["label_before"], rec["label_after"]) == (
            "done",
            "alice",
            "EA-seclabel",
            "Enclave A-quarantine",
        )

        await pilot.press("q")  # a second q says so and changes nothing
        await wait_for(pilot, lambda: "verify (v) restores it" in _panel(app))

        await pilot.press("v")  # restores the SecLabel, resumes, watches 2 s
        await wait_for(pilot, lambda: "No recurrence in 2 s" in _panel(app), wait_s=30)
        assert await _label_of(client, DOM) == "EA-seclabel"
        assert "restored: Enclave A-quarantine → EA-seclabel" in _panel(app)
        steps = [s["step"] for s in (await client.get_incident("INC-1"))["steps"]]
        assert steps[-2:] == ["unquarantine", "verify"]
        states = await client.get_domain_run_states()
        assert next(d for d in states["domains"] if d["name"] == DOM)["run_state"] == "running"
    await client.close()
