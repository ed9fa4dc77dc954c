"""SVG snapshots of the host's incidents list (``:incidents``, 160x48 and 80x24): four
incidents, newest first, open and closed, one with a note longer than the column shows.

The rows are fixed records in the host's ``ListIncidents`` form (their UTC times do not
move), drawn by the real screen over an empty app; only the host read is left out."""

from __future__ import annotations

from typing import Any, cast

import pytest
from textual.app import App

from tests._support.screens import dialog_open, run_steps
from tests._support.snapshots import SIZES
from xenon_tui.screens._runbook import IncidentsScreen

T0 = 1_700_000_000.0
ROWS: list[dict[str, Any]] = [
    {"id": "INC-12", "state": "open", "domain": "EB-domu-1", "opened_by": "bob",
     "opened_at": T0 + 7_260.0, "closed_at": None, "triggers": 1, "last_step": "pause",
     "last_note": None},
    {"id": "INC-11", "state": "open", "domain": "EA-domu-1", "opened_by": "alice",
     "opened_at": T0 + 3_600.0, "closed_at": None, "triggers": 3, "last_step": "quarantine",
     "last_note": "no quarantine label yet: the enclave has none for PV guests"},
    {"id": "INC-9", "state": "closed", "domain": "EC-domu-4", "opened_by": "carol",
     "opened_at": T0 + 600.0, "closed_at": T0 + 1_800.0, "triggers": 1, "last_step": "close",
     "last_note": "Guest kernel patched"},
    {"id": "INC-7", "state": "closed", "domain": "EA-domu-1", "opened_by": "alice",
     "opened_at": T0, "closed_at": T0 + 900.0, "triggers": 2, "last_step": "verify",
     "last_note": None},
]  # fmt: skip


class _FixedIncidents(IncidentsScreen):
    """The incidents list over fixed records instead of the host's answer."""

    def reload(self) -> None:
        self.rows = [r for r in ROWS if self.state in ("all", r["state"])]
        self._draw()


class _ListApp(App[None]):
    def on_mount(self) -> None:
        # No host is asked: the list only draws, it needs no console.
        self.push_screen(_FixedIncidents(cast(Any, None), "xenon-1:9443"))


@pytest.mark.parametrize("size", SIZES)
def test_incidents_list(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(dialog_open("_FixedIncidents"))  # pushed by the app's on_mount
    assert snap_compare(_ListApp(), press=[], terminal_size=size, run_before=run)
