"""The runbook's quarantine in its other form (issue #14 §2, "or detach its VIFs") against
a real sim daemon: `q` asks which form, `v` shows each VIF (MAC, switch, IP) in the
confirmation, the host's active policy then has no VIF of the domain and the incident
record lists them; verify attaches exactly those again, and refuses (saying why, nothing
resumed) when a MAC was since given to another domain."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Label

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


def _text(widget: Any) -> str:
    rendered = widget.render()
    return str(getattr(rendered, "plain", rendered))


def _dialog_text(app: XenonConsole) -> str:
    body = app.screen.query_one("#confirm-body").render()
    return str(getattr(body, "plain", body))


def _vifs(policy: dict[str, Any], domain: str) -> list[dict[str, Any]]:
    dom = next(d for d in policy["domains"] if d["name"] == domain)
    return [v for v in policy["vifs"] if v["domain"] == dom["id"]]


async def _detach_from_the_runbook(pilot: Any, app: XenonConsole) -> str:
    """Opens the runbook from the violation log, detaches the VIFs; the confirmation's text."""
    log = app.query_one(ViolationLog)
    await pilot.press("5")
    await wait_for(pilot, lambda: len(log.window) > 0 and app.focused is log)
    await pilot.press("I")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
    await pilot.press("q")
    await wait_for(pilot, lambda: "q  move to the quarantine SecLabel" in _panel(app))
    assert "v  detach its VIFs" in _panel(app)
    await pilot.press("v")  # not verify: the form's answer while quarantine asks
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), wait_s=30)
    text = _dialog_text(app)
    await wait_for(pilot, lambda: getattr(app.focused, "id", None) == "cancel")
    await pilot.press("tab")  # Cancel has the focus; Detach VIFs is next
    await wait_for(pilot, lambda: getattr(app.focused, "id", None) == "confirm")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
    try:
        await wait_for(pilot, lambda: f"{DOM}'s VIFs detached" in _panel(app), wait_s=60)
    except TimeoutError:
        raise AssertionError(_panel(app) + repr([n.message for n in app._notifications])) from None
    return text


async def test_detach_its_vifs_then_verify_attaches_them_again(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_incident, "VERIFY_S", 2)
    client = await stopped_by_msm(xps_daemon)
    before = await client.get_policy("active")
    mine = _vifs(before["policy"], DOM)
    assert mine
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    app.console_user = "alice"
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)

        text = await _detach_from_the_runbook(pilot, app)

        assert f"{DOM}: detach {len(mine)} VIF(s) (its SecLabel stays):" in text
        for v in mine:
            assert v["mac"] in text and f"IP {v['ip']}" in text
        assert "switch " in text and "No other domain, channel or device is affected." in text
        after = await client.get_policy("active")
        assert _vifs(after["policy"], DOM) == []
        assert after["generation"] == before["generation"] + 1
        inc = await client.get_incident("INC-1")
        rec = next(s for s in inc["steps"] if s["step"] == "quarantine")
        assert (rec["outcome"], rec["user"], rec["form"]) == ("done", "alice", "vifs")
        assert [v["mac"] for v in rec["vifs"]] == [v["mac"] for v in mine]
        assert inc["quarantine"] is not None and inc["quarantine"]["vifs"] == rec["vifs"]
        assert f"VIFs detached: {mine[0]['mac']}" in _panel(app)  # the step's row

        await pilot.press("q")  # held already: it says so, asks nothing
        await wait_for(pilot, lambda: "verify (v) attaches them again" in _panel(app))

        await pilot.press("v")
        await wait_for(pilot, lambda: "No recurrence in 2 s" in _panel(app), wait_s=30)
        assert _vifs((await client.get_policy("active"))["policy"], DOM) == mine
        assert f"restored: VIFs attached: {mine[0]['mac']}" in _panel(app)
        steps = (await client.get_incident("INC-1"))["steps"]
        assert [s["step"] for s in steps][-2:] == ["unquarantine", "verify"]
        assert steps[-2]["form"] == "vifs"
    await client.close()


async def test_verify_refuses_to_attach_a_mac_taken_meanwhile(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_incident, "VERIFY_S", 2)
    client = await stopped_by_msm(xps_daemon)
    mac = _vifs((await client.get_policy("active"))["policy"], DOM)[0]["mac"]
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    app.console_user = "alice"
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await _detach_from_the_runbook(pilot, app)
        # Meanwhile an operator gives that MAC to another domain's VIF, and activates it.
        taken = copy.deepcopy((await client.get_policy("active"))["policy"])
        other = next(
            d["name"] for d in taken["domains"] if d["name"] != DOM and _vifs(taken, d["name"])
        )
        _vifs(taken, other)[0]["mac"] = mac
        await client.stage_policy(policy=taken)
        await client.activate_policy()

        await pilot.press("v")

        await wait_for(pilot, lambda: "Cannot attach" in _panel(app), wait_s=30)
        assert f"MAC {mac} is now used by {other}" in _panel(app)
        assert "is not resumed" in _panel(app)
        inc = await client.get_incident("INC-1")
        assert inc["quarantine"] is not None  # still kept: nothing is lost
        assert [s["step"] for s in inc["steps"]][-1] == "quarantine"
        states = await client.get_domain_run_states()
        assert next(d for d in states["domains"] if d["name"] == DOM)["run_state"] != "running"
    await client.close()


async def test_a_vm_without_vifs_is_offered_the_seclabel_form_again(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    """`v` on a VM that has no VIF says so and asks again with the form that is left:
    `q` then moves it to the quarantine SecLabel (the old panel said "Skip it (s)" and a
    `q` started the question over)."""
    client = await stopped_by_msm(xps_daemon)
    bare = copy.deepcopy((await client.get_policy("active"))["policy"])
    dom_id = next(d["id"] for d in bare["domains"] if d["name"] == DOM)
    bare["vifs"] = [v for v in bare["vifs"] if v["domain"] != dom_id]
    await client.stage_policy(policy=bare)
    await client.activate_policy()
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    app.console_user = "alice"
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        log = app.query_one(ViolationLog)
        await pilot.press("5")
        await wait_for(pilot, lambda: len(log.window) > 0 and app.focused is log)
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        await pilot.press("q")
        await wait_for(pilot, lambda: "v  detach its VIFs" in _panel(app))
        await pilot.press("v")
        try:
            await wait_for(pilot, lambda: f"{DOM} has no VIF to detach" in _panel(app), wait_s=30)
        except TimeoutError:
            raise AssertionError(_panel(app)) from None
        await wait_for(pilot, lambda: screen.choosing)
        panel = _panel(app)
        assert f"Quarantine {DOM} how, then?" in panel
        assert "q  move to the quarantine SecLabel" in panel and "v  detach" not in panel
        assert screen.check_action("choose", ("vifs",)) is False  # not offered (nor in ?)
        assert screen.check_action("choose", ("seclabel",)) is True

        await pilot.press("q")  # the SecLabel form: its confirmation, not the question
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), wait_s=30)
        assert f"{DOM}: SecLabel " in _dialog_text(app)
        await wait_for(pilot, lambda: getattr(app.focused, "id", None) == "cancel")
        await pilot.press("tab")
        await wait_for(pilot, lambda: getattr(app.focused, "id", None) == "confirm")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(pilot, lambda: f"{DOM} quarantined" in _panel(app), wait_s=60)
        inc = await client.get_incident("INC-1")
        rec = next(s for s in inc["steps"] if s["step"] == "quarantine")
        assert rec["outcome"] == "done" and rec.get("form") in (None, "seclabel")
        assert str(rec["label_after"]).endswith("-quarantine")
    await client.close()


async def test_question_mark_lists_the_quarantine_forms_while_it_asks() -> None:
    from typing import cast

    from textual.app import App

    from tests._support.runbook import INCIDENT
    from xenon_tui.dialogs._xe_help import XeHelpScreen
    from xenon_tui.flows._incident import Runbook

    class _PanelApp(App[None]):
        def on_mount(self) -> None:
            book = Runbook("xenon-host-1:8443", DOM, None, INCIDENT | {"steps": []})
            self.push_screen(RunbookScreen(cast(Any, None), book))

    app = _PanelApp()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        screen.show_help()
        await wait_for(pilot, lambda: isinstance(app.screen, XeHelpScreen))
        # On a host console (no XE) the help is the runbook's, not Xenon Enterprise's.
        await wait_for(pilot, lambda: bool(app.screen.query(".title")))
        heading = _text(app.screen.query_one(".title", Label))
        assert heading == "Runbook — keys (Esc closes)", heading
        rows = {(r[1], r[2]) for r in app.screen._rows}  # type: ignore[attr-defined]
        assert ("q", "Quarantine (asks: q SecLabel / v detach VIFs)") in rows
        assert ("v", "Quarantine: detach its VIFs") not in rows  # not asking yet
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("q")
        await wait_for(pilot, lambda: screen.choosing)
        screen.show_help()
        await wait_for(pilot, lambda: isinstance(app.screen, XeHelpScreen))
        rows = {(r[1], r[2]) for r in app.screen._rows}  # type: ignore[attr-defined]
        assert ("q", "Quarantine: move to the quarantine SecLabel") in rows
        assert ("v", "Quarantine: detach its VIFs") in rows
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("escape")  # answers the question, the panel stays
        await wait_for(pilot, lambda: not screen.choosing)
        assert app.screen is screen and "Quarantine cancelled" in _panel(app)
