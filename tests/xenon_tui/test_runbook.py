"""The guided incident (issue #14 §2) in the host console, against a real sim daemon: `I`
on a violation opens the runbook; pause, capture, skip with a reason, verify (resume and
watch), close with a note; every step is kept by the host and in its MSM log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests._support.console import console_config, stopped_by_msm, wait_connected, wait_for
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import ConfirmDialog, InputDialog
from xenon_tui.flows import _incident
from xenon_tui.screens._runbook import RunbookScreen
from xenon_tui.widgets import DomainsTable, ViolationLog

DOM = "EA-domu-1"


def _console(pki: Any, daemon: Any, tmp: Path, user: str, **kw: Any) -> XenonConsole:
    app = XenonConsole(console_config(pki, daemon, tmp=tmp, **kw))
    app.console_user = user
    return app


def _notes(app: XenonConsole) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def _panel(app: XenonConsole) -> str:
    screen = app.screen
    assert isinstance(screen, RunbookScreen)
    steps = screen.query_one("#runbook-steps").render()
    detail = screen.query_one("#runbook-detail").render()
    return f"{getattr(steps, 'plain', steps)}\n{getattr(detail, 'plain', detail)}"


async def _step_of(client: Any, iid: str, step: str) -> dict[str, Any] | None:
    inc = await client.get_incident(iid)
    return next((s for s in reversed(inc["steps"]) if s["step"] == step), None)


async def _answer(pilot: Any, app: XenonConsole, text: str) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))


async def test_a_violation_to_a_closed_incident(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_incident, "VERIFY_S", 2)
    client = await stopped_by_msm(xps_daemon)
    app = _console(xps_pki, xps_daemon, tmp_path, "alice")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        log = app.query_one(ViolationLog)
        await pilot.press("5")
        await wait_for(pilot, lambda: len(log.window) > 0 and app.focused is log)
        chosen = log.selected()
        assert chosen is not None and chosen["domain"] == DOM
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        assert "not captured yet" in str(app.screen.query_one("#runbook-title").render())

        await pilot.press("p")  # the MSM paused it already: recorded, not sent again
        await wait_for(pilot, lambda: "paused already" in _panel(app))
        await pilot.press("c")
        await wait_for(pilot, lambda: "INC-1 opened by alice" in _panel(app))
        inc = await client.get_incident("INC-1")
        assert inc["trigger_seqs"] == [chosen["seq"]] and inc["opened_by"] == "alice"
        assert [(s["step"], s["outcome"]) for s in inc["steps"]] == [
            ("capture", "done"),
            ("pause", "done"),
        ]

        await pilot.press("q")  # which form? Esc cancels the question
        await wait_for(pilot, lambda: "Quarantine EA-domu-1 how?" in _panel(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Quarantine cancelled" in _panel(app))
        assert isinstance(app.screen, RunbookScreen)  # Esc answered, the panel stays
        await pilot.press("q", "q")  # the what-if first; cancelled, only a skip records it
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Quarantine cancelled" in _panel(app))
        assert (await _step_of(client, "INC-1", "quarantine")) is None
        await pilot.press("s")
        await _answer(pilot, app, "no quarantine label yet")
        await wait_for(pilot, lambda: "no quarantine label yet" in _panel(app))
        assert (await _step_of(client, "INC-1", "quarantine")) is not None

        await wait_for(pilot, lambda: "▶ f  fix" in _panel(app))  # on to the next step
        await pilot.press("s")  # fix: skipped with its reason
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        await pilot.press("enter")  # an empty reason is refused
        assert isinstance(app.screen, InputDialog)
        await pilot.press(*"profile already allows it", "enter")
        await wait_for(pilot, lambda: "fix skipped" in _panel(app))

        await pilot.press("v")  # resumes, watches 2 s, no recurrence
        await wait_for(pilot, lambda: "No recurrence in 2 s" in _panel(app), wait_s=30)
        assert (await _step_of(client, "INC-1", "verify")) is not None
        states = await client.get_domain_run_states()
        assert next(d for d in states["domains"] if d["name"] == DOM)["run_state"] == "running"

        await pilot.press("x")
        await _answer(pilot, app, "guest bug fixed")
        await wait_for(pilot, lambda: "closed: guest bug fixed" in _panel(app))
        closed = await client.get_incident("INC-1")
        assert closed["state"] == "closed"
        assert closed["steps"][-1] == {**closed["steps"][-1], "note": "guest bug fixed"}
        lines = (await client.get_log_msgs())["lines"]
        assert any("incident INC-1 opened for EA-domu-1 by alice" in ln for ln in lines)
        assert any('quarantine skipped by alice: "no quarantine label yet"' in ln for ln in lines)
        assert any('close done by alice: "guest bug fixed"' in ln for ln in lines)

        # `I` on the domain again: a new incident (the closed one stays listed).
        await pilot.press("escape", "4")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: app.focused is table and bool(table.domains))
        names = [d["name"] for d in table.domains]
        table.move_cursor(row=names.index(DOM))
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        assert "not captured yet" in str(app.screen.query_one("#runbook-title").render())
    await client.close()


async def test_a_read_only_console_sees_the_runbook_but_takes_no_step(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await stopped_by_msm(xps_daemon)
    opened = await client.open_incident(DOM, "alice")
    app = _console(xps_pki, xps_daemon, tmp_path, "auditor", read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.focused, DomainsTable))
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: bool(table.domains))
        table.move_cursor(row=[d["name"] for d in table.domains].index(DOM))
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        assert opened["id"] in str(app.screen.query_one("#runbook-title").render())
        assert "INC-1 opened by alice" in _panel(app)
        await pilot.press("p")
        await wait_for(pilot, lambda: any("read" in n.lower() for n in _notes(app)))
    assert [s["step"] for s in (await client.get_incident(opened["id"]))["steps"]] == ["capture"]
    await client.close()


async def test_incidents_are_listed_searched_and_reopened(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    from textual.widgets import DataTable

    from xenon_tui.screens._runbook import IncidentsScreen

    client = xps_daemon.client()
    await client.connect()
    first = await client.open_incident(DOM, "alice")
    await client.incident_step(first["id"], "close", "done", "alice", "Guest Kernel patched")
    second = await client.open_incident("EB-domu-1", "bob")
    app = _console(xps_pki, xps_daemon, tmp_path, "carol")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("colon", *"incidents", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentsScreen))
        screen = app.screen
        assert isinstance(screen, IncidentsScreen)
        await wait_for(pilot, lambda: [r["id"] for r in screen.rows] == [second["id"], first["id"]])
        assert screen.query_one(DataTable).row_count == 2

        await pilot.press("slash", *"KERNEL", "enter")  # any case, in the notes
        await wait_for(pilot, lambda: [r["id"] for r in screen.rows] == [first["id"]])
        await pilot.press("o")  # open only: the closed one is not among them
        await wait_for(pilot, lambda: screen.state == "open" and screen.rows == [])
        await pilot.press("o", "o")  # back to all
        await wait_for(pilot, lambda: [r["id"] for r in screen.rows] == [first["id"]])

        await pilot.press("r")
        await _answer_on(pilot, app, IncidentsScreen, "it came back")
        await wait_for(pilot, lambda: screen.rows and screen.rows[0]["state"] == "open")
        again = await client.get_incident(first["id"])
        assert again["state"] == "open"
        assert again["steps"][-1] == {**again["steps"][-1], "step": "reopen", "user": "carol"}

        await pilot.press("enter")  # its runbook, as the host keeps it
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        assert first["id"] in str(app.screen.query_one("#runbook-title").render())
        assert "INC-1 opened by alice" in _panel(app)
        assert "open" in str(app.screen.query_one("#runbook-title").render())
    await client.close()


async def _answer_on(pilot: Any, app: XenonConsole, back: type, text: str) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, back))


async def test_fix_opens_the_profile_with_the_call_then_the_what_if(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    from xenon_tui.dialogs._form import FormDialog

    client = await stopped_by_msm(xps_daemon)
    app = _console(xps_pki, xps_daemon, tmp_path, "alice")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        log = app.query_one(ViolationLog)
        await pilot.press("5")
        await wait_for(pilot, lambda: len(log.window) > 0 and app.focused is log)
        chosen = log.selected()
        assert chosen is not None
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        await pilot.press("c")
        await wait_for(pilot, lambda: "INC-1 opened by alice" in _panel(app))
        await pilot.press("f")
        # The dialog is the screen before it is composed: wait for its field.
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, FormDialog) and bool(app.screen.query("#field-hypercalls"))
            ),
        )
        calls = app.screen.query_one("#field-hypercalls").value
        assert chosen["hypercall_name"].split("/")[0] in calls
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen), wait_s=30)
        await wait_for(pilot, lambda: "What-if of the staged policy" in _panel(app), wait_s=30)
        staged = await client.get_policy("staged")
        label = next(
            s for s in staged["policy"]["seclabels"] if s["name"] == chosen["seclabel_name"]
        )
        profile = next(p for p in staged["policy"]["profiles"] if p["id"] == label["profile"])
        assert chosen["hypercall"] in profile["hypercalls"]
        assert (await _step_of(client, "INC-1", "fix")) is not None
    await client.close()


async def test_a_step_key_during_verifys_watch_does_not_end_it(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The steps share one worker: `x` (or `s`) pressed while verify watched used to end
    the watch, and verify was never recorded (found in the demo: close done, verify to do).
    Now they are refused with a notice and the watch goes on counting down."""
    monkeypatch.setattr(_incident, "VERIFY_S", 600)  # still watching whatever the load
    client = await stopped_by_msm(xps_daemon)
    await client.open_incident(DOM, "alice")
    app = _console(xps_pki, xps_daemon, tmp_path, "alice")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: app.focused is table and bool(table.domains))
        table.move_cursor(row=[d["name"] for d in table.domains].index(DOM))
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        await wait_for(pilot, lambda: "INC-1 opened by alice" in _panel(app))
        await pilot.press("v")
        await wait_for(pilot, lambda: "Watching EA-domu-1" in _panel(app), wait_s=30)
        await pilot.press("x", "s")
        await wait_for(pilot, lambda: any("Verify is watching" in n for n in _notes(app)))
        assert isinstance(app.screen, RunbookScreen)  # no close or skip dialog
        left = _left(app)
        await wait_for(pilot, lambda: _left(app) < left, wait_s=30)  # the watch goes on
        assert isinstance(app.screen, RunbookScreen)
    await client.close()


def _left(app: XenonConsole) -> int:
    found = re.search(r"Watching EA-domu-1: (\d+) s left", _panel(app))
    assert found is not None, _panel(app)
    return int(found.group(1))
