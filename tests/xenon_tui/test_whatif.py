"""Make active shows the host's policy what-if first (issue #14 §1): against a real sim
daemon, a staged policy that denies a call the running domain makes needs the host's
name typed; one that denies nothing stays one key; a what-if that fails says so."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests._support.console import console_config, enter_editor, wait_for
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs._whatif import WhatIfConfirmDialog, WhatIfReport, whatif_lines
from xenon_tui.flows import _policy
from xps.msm import SUBOP_HYPERCALLS
from xps.policy import Policy, parse_policy, serialize_policy

DOM = "EA-domu-1"


async def _client(daemon: Any) -> Any:
    client = daemon.client()
    await client.connect()
    return client


async def _busiest_call(client: Any) -> tuple[int, int, int]:
    """(hypercall, subop, count) of the call ``DOM`` makes most (waits: a liveness bound)."""
    async with asyncio.timeout(20):
        while True:
            got = await client.call("GetCallCounts", minutes=10, domain=DOM)
            if got["calls"]:
                row = max(got["calls"], key=lambda c: c["count"])
                return row["hypercall"], row["subop"], row["count"]
            await asyncio.sleep(0.05)


def _without_call(policy: Policy, nr: int, subop: int) -> tuple[Policy, str]:
    """``policy`` with (nr, subop) dropped from the profile of ``DOM``'s SecLabel."""
    dom = next(d for d in policy.domains if d.name == DOM)
    assert dom.seclabel is not None
    profile = policy.profile(policy.seclabel(dom.seclabel).profile)
    if nr in SUBOP_HYPERCALLS:
        subops = tuple((n, ops - {subop} if n == nr else ops) for n, ops in profile.subops)
        changed = dataclasses.replace(profile, subops=subops)
    else:
        changed = dataclasses.replace(profile, hypercalls=profile.hypercalls - {nr})
    return policy.with_profile(changed), profile.name


async def _stage_a_denying_policy(client: Any) -> str:
    """Starts ``DOM``, stages a policy denying its busiest call; the expected denial text
    prefix (the count grows, so only up to 'made')."""
    await client.call("CreateDomain", name=DOM)
    nr, subop, _ = await _busiest_call(client)
    active = parse_policy((await client.call("GetPolicy", which="active"))["xml"].encode())
    staged, profile = _without_call(active, nr, subop)
    await client.call("StagePolicy", xml=serialize_policy(staged).decode())
    return profile


def _report(app: XenonConsole) -> str:
    """The what-if report's text ("" while the dialog is still being built)."""
    found = app.screen.query("#whatif").results(WhatIfReport)
    return next((r.text for r in found), "")


async def test_a_denial_needs_the_host_name_typed(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await _client(xps_daemon)
    profile = await _stage_a_denying_policy(client)
    before = (await client.call("GetPolicy", which="active"))["generation"]
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await wait_for(pilot, lambda: app.current_state.staged is not None)
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfConfirmDialog), wait_s=30)
        await xps_daemon.wait_log("Received request WhatIf", wait_s=10)
        dialog = app.screen
        assert isinstance(dialog, WhatIfConfirmDialog)
        # The dialog is the screen before it is composed, and the host's answer comes after
        # its log line: wait for the report's two first lines (failed under two workers).
        await wait_for(pilot, lambda: len(_report(app).splitlines()) >= 2, wait_s=30)
        report = _report(app)
        first, second = report.splitlines()[:2]
        assert first == "⚠ Would deny behaviour allowed now (last 10 min):"
        assert second.startswith(f"  {DOM} made ")
        assert second.endswith(
            f"calls in the last 10 min; the staged {profile} profile denies them"
        )
        headline = dialog.query_one("#whatif").children[0]
        assert headline.has_class("deny")
        name = app.current_state.info.get("hostname") or app.current_state.address
        assert dialog.expected == name
        # One key is not enough: Tab/Enter on Make active with no name typed does nothing.
        await pilot.press("tab", "tab", "enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, WhatIfConfirmDialog)
        # A wrong name is refused.
        dialog = app.screen
        dialog.query_one("#typed").focus()
        await pilot.press(*"wrong-host", "enter")
        await wait_for(
            pilot, lambda: "does not match" in str(dialog.query_one("#typed-error").render())
        )
        assert app.screen is dialog
        assert "request ActivatePolicy" not in xps_daemon.log_text()
        # The host's name makes it active.
        app.screen.query_one("#typed").value = ""
        await pilot.press(*name, "enter")
        await xps_daemon.wait_log("Received request ActivatePolicy", wait_s=10)
    assert (await client.call("GetPolicy", which="active"))["generation"] == before + 1


async def test_escape_leaves_the_policy_staged(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await _client(xps_daemon)
    await _stage_a_denying_policy(client)
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await enter_editor(pilot, app)
        await wait_for(pilot, lambda: app.current_state.staged is not None)
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfConfirmDialog), wait_s=30)
        # At 80x24 the typed field and the buttons stay on screen; the body scrolls.
        for widget in ("#typed", "#confirm", "#cancel"):
            region = app.screen.query_one(widget).region
            assert region.height > 0 and region.bottom <= 24, widget
        await pilot.press("pagedown")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, WhatIfConfirmDialog))
    assert "request ActivatePolicy" not in xps_daemon.log_text()
    assert (await client.call("GetStagedDiff"))["staged"] is True


async def test_a_harmless_change_stays_one_key(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await _client(xps_daemon)
    policy = (await client.call("GetPolicy"))["policy"]
    label = next(s for s in policy["seclabels"] if s["name"] == "EA-seclabel")
    label["max_rate"] = int(label["max_rate"]) + 5
    await client.call("StagePolicy", policy=policy)
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await wait_for(pilot, lambda: app.current_state.staged is not None)
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfConfirmDialog), wait_s=30)
        await wait_for(pilot, lambda: bool(_report(app)))  # composed
        assert app.screen.expected is None
        assert not app.screen.query("#typed")
        assert _report(app).splitlines()[0] == "Denies nothing allowed in the last 10 min."
        await pilot.press("tab", "enter")
        await xps_daemon.wait_log("Received request ActivatePolicy", wait_s=10)


async def test_a_failed_what_if_says_so_and_still_lets_the_operator_decide(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await _client(xps_daemon)
    policy = (await client.call("GetPolicy"))["policy"]
    label = next(s for s in policy["seclabels"] if s["name"] == "EA-seclabel")
    label["max_rate"] = int(label["max_rate"]) + 9
    await client.call("StagePolicy", policy=policy)
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await wait_for(pilot, lambda: app.current_state.staged is not None)
        # The host's answer is refused: a what-if of an unparseable policy.
        real_call = app.host.call if hasattr(app, "host") else None
        assert real_call is not None

        async def broken(address: str, method: str, **params: Any) -> dict[str, Any]:
            if method == "WhatIf":
                params = {"xml": "<not-a-policy/>", "minutes": params.get("minutes", 10)}
            return await real_call(address, method, **params)

        monkeypatch.setattr(app.host, "call", broken)
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfConfirmDialog), wait_s=30)
        await wait_for(pilot, lambda: bool(_report(app)))  # composed
        report = _report(app)
        assert report.startswith("What-if unavailable: ")
        assert app.screen.expected is None
        await pilot.press("tab", "enter")
        await xps_daemon.wait_log("Received request ActivatePolicy", wait_s=10)


def test_lines_put_the_denials_first_and_count_the_rest() -> None:
    denied = [
        {"text": f"d{i} made {i:,} x/0 calls in the last 10 min; the staged P profile denies them"}
        for i in range(25)
    ]
    result = {
        "minutes": 10,
        "denies_allowed": True,
        "denied_calls": denied,
        "domains": [{"domain": "B", "outcome": "unlabelled", "text": "B would lose its SecLabel"}],
        "channels": [{"a": "A", "b": "B", "active": True, "staged": False}],
        "devices": [{"device": "0000:00:1f.2", "domain": "A", "active": False, "staged": True}],
        "fixed": [
            {
                "domain": "A",
                "kind": "profile",
                "hypercall_name": "grant_table_op",
                "subop": 3,
                "hypercall": 20,
                "peer": None,
                "count": 7,
            },
            {
                "domain": "A",
                "kind": "profile",
                "hypercall_name": "sysctl",
                "subop": 0,
                "hypercall": 35,
                "peer": None,
                "count": 70,
            },
        ],
        "rate_not_evaluated": 2,
    }
    lines = whatif_lines(result)
    kinds = [k for k, _ in lines]
    texts = [t for _, t in lines]
    assert texts[0].startswith("⚠ Would deny")
    assert kinds[:22] == ["deny"] * 21 + ["item"]
    assert texts[21] == "  … and 5 more denied calls"
    assert "  B would lose its SecLabel" in texts
    assert "  channel A ↔ B would be denied" in texts
    fixed_at = texts.index("Fixes 77 recorded violations:")
    assert texts[fixed_at + 1] == "  A: profile sysctl/0: 70"  # the most frequent first
    assert "  0000:00:1f.2 → A: denied → allowed" in texts
    assert texts[-1].startswith("2 rate violations not evaluated")
    assert whatif_lines(None, "no answer from the host in 20 s")[0] == (
        "warn",
        "What-if unavailable: no answer from the host in 20 s",
    )
    assert _policy.WHATIF_MINUTES == 10


async def test_a_cut_report_says_how_much_is_below_and_which_key_shows_it() -> None:
    """At 80x24 the report is taller than the dialog: a line above the buttons says how
    many lines are below (PgDn); at the end it says what is above; when everything shows
    (160x48, a short report) there is no such line. The old dialog showed a scrollbar only."""
    from textual.app import App
    from textual.widgets import Static

    result = {
        "minutes": 10,
        "denies_allowed": True,
        "denied_calls": [{"text": f"{DOM} made {n:,} grant_table_op/{n} calls"} for n in range(30)],
        "domains": [],
        "channels": [],
        "devices": [],
        "fixed": [],
    }

    def dialog(lines: Any) -> WhatIfConfirmDialog:
        return WhatIfConfirmDialog("Make it active?", lines, Static("", id="confirm-body"))

    def more(app: App[None]) -> str:
        found = app.screen.query("#whatif-more")
        line = found.first(Static) if found else None
        return str(line.render()) if line is not None and line.display else ""

    app: App[None] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(dialog(whatif_lines(result)))
        await wait_for(pilot, lambda: more(app).startswith("↓ "))
        assert more(app).endswith("more lines below (PgDn, ↓)"), more(app)
        first = int(more(app).split()[1])
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: more(app) != f"↓ {first} more lines below (PgDn, ↓)")
        while more(app).startswith("↓ "):
            await pilot.press("pagedown")
            await pilot.pause()
        await wait_for(pilot, lambda: more(app).startswith("↑ "))
        assert more(app).endswith("lines above (PgUp, ↑)"), more(app)
    app = App()
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(
            dialog(whatif_lines({**result, "denied_calls": result["denied_calls"][:2]}))
        )
        await wait_for(pilot, lambda: bool(app.screen.query("#whatif-more")))
        await pilot.pause()
        await pilot.pause()
        assert more(app) == ""
