"""Staged changes you can see, discard and not lose (issue #12 §4), against a real daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from tests._support.console import (
    clone_to_the_other_server,
    console_config,
    edit_first_seclabel,
    enter_editor,
    wait_connected,
    wait_for,
)
from tests._support.scripted_host import ScriptedHost, small_policy
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import ConfirmDialog
from xenon_tui.screens._views import info_text
from xenon_tui.widgets import ServersPanel
from xps.host._errors import CommandFailed, NotFound


def _title(app: XenonConsole) -> str:
    return str(app.query_one("#policy-title", Static).render())


async def _stage_one_change(pilot: Any, app: XenonConsole, host: Any) -> None:
    await enter_editor(pilot, app)
    await edit_first_seclabel(pilot, app)
    app.screen.query_one("#field-max_rate").value = "250"
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: any(c[0] == "StagePolicy" for c in host.calls))


async def test_badge_counts_staged_changes_and_generation_wording(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    """The Policy view said 'v1' where the side panel said 'gen 2', and nothing said that
    changes were staged."""
    running, host = scripted
    host.generation = 2
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await _stage_one_change(pilot, app, host)
        await pilot.press("colon", *"policy", "enter")
        await wait_for(pilot, lambda: "staged: 1 change" in _title(app))
        title = _title(app)
        assert "generation 2" in title and " v1" not in title
        state = app.current_state
        assert state is not None
        assert "Policy: " in info_text(state) and "generation 2" in info_text(state)
        assert " gen " not in info_text(state)
        # The host's line in the servers panel carries the badge too.
        line = str(app.query_one(ServersPanel).get_option_at_index(0).prompt)
        assert "simhost" in line and "staged: 1" in line


async def test_discard_asks_then_drops_the_staged_changes(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    """There was no way to drop staged edits but to edit them back by hand."""
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await _stage_one_change(pilot, app, host)
        await pilot.press("colon", *"policy", "enter")
        await wait_for(pilot, lambda: "staged: 1 change" in _title(app))
        await pilot.press("colon", *"discard", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Discard 1 change staged on simhost?" in app.screen._title
        await pilot.press("escape")  # No: the staged change stays.
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert host.staged.seclabel_named("EA-seclabel").max_rate == 250
        await pilot.press("colon", *"discard", "enter")
        await wait_for(pilot, lambda: bool(app.screen.query("#confirm")))
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: "change" not in _title(app))
        line = str(app.query_one(ServersPanel).get_option_at_index(0).prompt)
        assert "staged" not in line
        assert host.staged == host.active


async def test_quit_with_staged_changes_asks_first(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    """Ctrl+Q quit at once, whatever was staged."""
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await _stage_one_change(pilot, app, host)
        await wait_for(pilot, lambda: "250" in (app.current_state.staged or {}).get("xml", ""))
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert app.screen._title == "simhost has 1 staged change: quit anyway?"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: bool(app.screen.query("#confirm")))
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: not app.is_running)


async def test_host_switch_with_staged_changes_asks_first(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    a, b = ScriptedHost(), ScriptedHost(small_policy(name="other", rate=5))
    ra, rb = await start_xps(a), await start_xps(b)
    first, second = f"127.0.0.1:{ra.rw_port}", f"127.0.0.1:{rb.rw_port}"
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, second)
        await _stage_one_change(pilot, app, a)
        assert app.current == first
        await wait_for(pilot, lambda: "250" in (app.current_state.staged or {}).get("xml", ""))
        app.host.call_later(app.host.switch_server, second)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert app.screen._title == "simhost has 1 staged change: switch anyway?"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert app.current == first
        app.host.call_later(app.host.switch_server, second)
        # Clicked once laid out: a click before the layout lands where the button is not.
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ConfirmDialog)
                and any(b.size.area > 0 for b in app.screen.query("#confirm"))
            ),
        )
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: app.current == second)


class _RefusingHost(ScriptedHost):
    """A host whose XPS refuses every activation (as a failing xl command would)."""

    async def activate_policy(self) -> dict[str, Any]:
        self.calls.append(("ActivatePolicy", None))
        raise CommandFailed("xl: cannot apply the policy")

    async def get_policy(self, which: str = "active") -> dict[str, Any]:
        if which == "staged" and self.staged is None:
            raise NotFound("no staged policy")  # as XPS answers
        return await super().get_policy(which)


@pytest.mark.parametrize("staged_rate", [7, None])
async def test_refused_clone_stages_the_previous_state_back(
    start_xps: Any, xps_pki: Any, tmp_path: Path, staged_rate: int | None
) -> None:
    """A refused Clone left the whole source policy staged on the target."""
    a, b = ScriptedHost(), _RefusingHost(small_policy(name="other", rate=5))
    if staged_rate is not None:
        b.staged = small_policy(name="other", rate=staged_rate)  # b's own edit, kept
    ra, rb = await start_xps(a), await start_xps(b)
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, f"127.0.0.1:{ra.rw_port}")
        await wait_connected(pilot, app, f"127.0.0.1:{rb.rw_port}")
        await clone_to_the_other_server(pilot, app, "")
        await wait_for(pilot, lambda: ("ActivatePolicy", None) in b.calls)
        await wait_for(pilot, lambda: [c[0] for c in b.calls].count("StagePolicy") == 2)
        # b's own staged edit, or (nothing was staged) the active policy: no changes.
        assert b.staged == small_policy(name="other", rate=staged_rate or 5)
        assert b.active == small_policy(name="other", rate=5)
