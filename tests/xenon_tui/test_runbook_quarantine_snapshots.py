"""SVG snapshots of the runbook's quarantine step (160x48 and 80x24): the what-if
confirmation before it, and the panel after it (the quarantine row names the SecLabel
before and after). Drawn over an empty app, as the runbook panel's snapshots are."""

from __future__ import annotations

from typing import Any, cast

import pytest
from textual.app import App

from tests._support.runbook import INCIDENT, STEP
from tests._support.screens import ADDRESS, dialog_open, run_steps
from tests._support.snapshots import SIZES
from xenon_tui.flows._incident import Runbook, quarantine_preview

DOM = "EA-domu-1"
QUARANTINED: dict[str, Any] = {
    **INCIDENT,
    "steps": [
        *INCIDENT["steps"][:2],
        {
            **STEP,
            "step": "quarantine",
            "label_before": "EA-PV",
            "label_after": "Enclave A-quarantine",
            "generation": 4,
        },
    ],
    "quarantine": {
        "label_id": "00000000-0000-0000-0000-000000000001",
        "label": "EA-PV",
        "quarantine_label": "Enclave A-quarantine",
        "since": 1_700_000_000.0,
    },
}
WHAT_IF: dict[str, Any] = {
    "policy_name": "enterprise",
    "minutes": 10,
    "fixed": [],
    "denied_calls": [
        {"domain": DOM, "calls": 12_840, "text": f"{DOM} made 12,840 mmu_update/0 calls"},
        {"domain": DOM, "calls": 1_204, "text": f"{DOM} made 1,204 grant_table_op/0 calls"},
    ],
    "domains": [],
    "channels": [{"a": DOM, "b": "EA-domu-3", "active": True, "staged": False}],
    "devices": [],
    "rate_not_evaluated": 0,
    "denies_allowed": True,
}


class _PanelApp(App[None]):
    def __init__(self, confirm: bool) -> None:
        super().__init__()
        self.confirm = confirm

    def on_mount(self) -> None:
        from xenon_tui.dialogs import ConfirmDialog
        from xenon_tui.screens._runbook import RunbookScreen

        detail = [
            f"{DOM} quarantined: SecLabel EA-PV → Enclave A-quarantine (policy generation 4).",
            "Verify (v) restores its SecLabel, then resumes it.",
        ]
        book = Runbook(ADDRESS, DOM, None, QUARANTINED, detail=detail)
        if self.confirm:
            book = Runbook(ADDRESS, DOM, None, INCIDENT | {"steps": INCIDENT["steps"][:2]})
        # No step is run here: the panel only draws, it needs no console.
        self.push_screen(RunbookScreen(cast(Any, None), book))
        if self.confirm:
            lines = quarantine_preview(DOM, "EA-PV", "Enclave A-quarantine", WHAT_IF)
            self.push_screen(
                ConfirmDialog(f"Quarantine {DOM}?", "\n".join(lines), confirm="Quarantine")
            )


@pytest.mark.parametrize("size", SIZES)
def test_quarantine_done(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(dialog_open("RunbookScreen"))  # pushed by the app's on_mount
    assert snap_compare(_PanelApp(confirm=False), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_quarantine_what_if(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(dialog_open("ConfirmDialog"))  # over the runbook, from on_mount
    assert snap_compare(_PanelApp(confirm=True), press=[], terminal_size=size, run_before=run)


DETACHED_VIFS = [
    {"mac": "00:16:3e:0a:01:65", "switch": "5d7c", "switch_name": "EA-switch",
     "ip": "172.16.1.101", "model": None},
]  # fmt: skip
DETACHED: dict[str, Any] = {
    **INCIDENT,
    "steps": [
        *INCIDENT["steps"][:2],
        {**STEP, "step": "quarantine", "form": "vifs", "vifs": DETACHED_VIFS, "generation": 4},
    ],
    "quarantine": {
        "form": "vifs",
        "vifs": DETACHED_VIFS,
        "label_id": "00000000-0000-0000-0000-000000000002",
        "label": "EA-PV",
        "quarantine_label": "VIFs detached",
        "since": 1_700_000_000.0,
    },
}


class _ChoiceApp(App[None]):
    """The runbook before quarantine (pause done): `q` asks which form."""

    def __init__(self, incident: dict[str, Any], detail: list[str]) -> None:
        super().__init__()
        self.incident, self.detail = incident, detail

    def on_mount(self) -> None:
        from xenon_tui.screens._runbook import RunbookScreen

        book = Runbook(ADDRESS, DOM, None, self.incident, detail=self.detail)
        self.push_screen(RunbookScreen(cast(Any, None), book))


@pytest.mark.parametrize("size", SIZES)
def test_quarantine_asks_which_form(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(dialog_open("RunbookScreen"))
    app = _ChoiceApp(INCIDENT | {"steps": INCIDENT["steps"][:2]}, [])
    assert snap_compare(app, press=["q"], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_vifs_detached(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(dialog_open("RunbookScreen"))
    detail = [
        f"{DOM}'s VIFs detached: 00:16:3e:0a:01:65 (EA-switch, 172.16.1.101) "
        "(policy generation 4).",
        "Verify (v) attaches them again, then resumes it.",
    ]
    assert snap_compare(_ChoiceApp(DETACHED, detail), press=[], terminal_size=size, run_before=run)
