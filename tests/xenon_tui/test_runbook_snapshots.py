"""SVG snapshots of the runbook panel (160x48 and 80x24): an incident captured from a
violation, paused, quarantine skipped with a reason, fix and verify still to do.

The panel is shown over an empty app: over the injected console its background (the
violation log's rows under the servers panel) differed from run to run at 80x24."""

from __future__ import annotations

from typing import Any, cast

import pytest
from textual.app import App

from tests._support.runbook import INCIDENT
from tests._support.screens import ADDRESS, dialog_open, run_steps
from tests._support.snapshots import SIZES
from xenon_tui.flows._incident import Runbook, _captured


class _PanelApp(App[None]):
    def on_mount(self) -> None:
        from xenon_tui.screens._runbook import RunbookScreen

        book = Runbook(ADDRESS, "EA-domu-1", None, INCIDENT, detail=_captured(INCIDENT))
        # No step is run here: the panel only draws, it needs no console.
        self.push_screen(RunbookScreen(cast(Any, None), book))


@pytest.mark.parametrize("size", SIZES)
def test_runbook_panel(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(dialog_open("RunbookScreen"))  # pushed by the app's on_mount
    assert snap_compare(_PanelApp(), press=[], terminal_size=size, run_before=run)
