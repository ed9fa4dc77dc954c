"""One time axis per incident (issue #14 §3), against a real sim daemon: `T` in the
incidents list and in an incident's runbook shows that incident's timeline (its captured
violations and statistics, its steps with their notes, the host's log of its domain and of
policy versions in its time, nothing of other domains); a policy version on a host's
timeline carries its SHA-256 and the diff from the version before, so the exported report
shows the diffs and hashes the issue asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests._support.console import console_config, stopped_by_msm, wait_connected, wait_for
from xenon_tui import flows
from xenon_tui.app import XenonConsole
from xenon_tui.screens._runbook import IncidentsScreen, RunbookScreen
from xenon_tui.screens._timeline import TimelineScreen
from xps.policy import policy_to_dict, sample_policy

DOM = "EA-domu-1"


def _changed() -> dict[str, Any]:
    doc = policy_to_dict(sample_policy())
    doc["seclabels"][0]["max_rate"] = 4321
    return doc


async def test_an_incidents_timeline_is_its_record_and_its_hosts_log_of_its_time(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # reports go to ./xenon-reports
    client = await stopped_by_msm(xps_daemon)
    await client.create_domain("EB-domu-1")  # another domain's log lines: not this incident's
    opened = await client.open_incident(DOM, "alice")
    iid = opened["id"]
    await client.incident_step(iid, "quarantine", "skipped", "alice", "no label <yet>")
    await client.stage_policy(policy=_changed())
    await client.activate_policy()
    active = await client.get_policy("active")
    previous = await client.get_policy("previous")
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    app.console_user = "carol"
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("colon", *"incidents", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentsScreen))
        listing = app.screen
        assert isinstance(listing, IncidentsScreen)
        await wait_for(pilot, lambda: [r["id"] for r in listing.rows] == [iid], 60)
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), 60)
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        assert screen.timeline.title == f"{iid}: {DOM} on {active_host(app)}"
        events = list(screen.timeline.events())
        kinds = {e.kind for e in events}
        assert {"violation", "action", "domain", "policy"} <= kinds
        assert all(e.subject == DOM for e in events if e.kind in ("violation", "domain"))
        assert not any("EB-domu-1" in e.summary for e in events)
        steps = [e.summary for e in events if e.kind == "action"]
        assert steps == [
            f"alice: {iid} capture done",
            f"alice: {iid} quarantine skipped: no label <yet>",
        ]  # from the record, each once (the host's log lines of the steps are not repeated)
        assert any("maximum violations reached" in e.summary for e in events)
        assert screen.timeline.series and screen.timeline.series[0].name == f"{DOM} CPU"
        assert screen.timeline.start < opened["opened_at"]  # the violations before it
        policy = [e for e in events if e.kind == "policy"]
        assert policy and policy[-1].detail["sha256"] == active["sha256"]
        diff = str(policy[-1].detail["diff"])
        assert "4321" in diff and diff.startswith(
            f"generation {previous['generation']} → {active['generation']}"
        )
        await pilot.press("x")
        page = next(p for p in screen.exported if p.suffix == ".html").read_text()
        assert active["sha256"] in page and "4321" in page and previous["sha256"] in page
        assert "no label &lt;yet&gt;" in page
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is listing)

        # The same from the incident's runbook.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), 60)
        assert app.screen.timeline.title == screen.timeline.title  # type: ignore[attr-defined]

        # The host's own timeline: its policy version carries the hash and the diff too.
        made = await flows.incident_timeline(app.host)
        assert made is not None
        versions = [e for e in made[0].events(["policy"]) if e.detail.get("sha256")]
        assert versions and versions[-1].detail["sha256"] == active["sha256"]
        assert "4321" in str(versions[-1].detail["diff"])
    await client.close()


def active_host(app: XenonConsole) -> str:
    state = app.current_state
    assert state is not None
    return str(state.info.get("hostname") or state.entry.host)


async def test_a_runbook_before_its_capture_has_no_timeline_yet(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await stopped_by_msm(xps_daemon)
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        from xenon_tui.widgets import DomainsTable

        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: app.focused is table and bool(table.domains))
        table.move_cursor(row=[d["name"] for d in table.domains].index(DOM))
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        await pilot.press("T")
        await wait_for(
            pilot, lambda: any("Capture (c) first" in str(n.message) for n in app._notifications)
        )
        assert isinstance(app.screen, RunbookScreen)
    await client.close()
