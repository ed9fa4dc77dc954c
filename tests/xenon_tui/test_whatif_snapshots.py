"""SVG snapshots of Make active with the host's what-if (160x48 and 80x24): a staged
policy that would deny calls made now (the typed host name), and one that denies nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests._support.screens import ADDRESS, DATA, dialog_open, injected_app, prepare, run_steps
from tests._support.snapshots import SIZES, staged_policies

DENYING: dict[str, Any] = {
    "policy_name": "small",
    "minutes": 10,
    "denies_allowed": True,
    "denied_calls": [
        {
            "text": "EA-domu-1 made 1,204 grant_table_op/0 calls in the last 10 min; "
            "the staged PV-Combined profile denies them"
        },
        {
            "text": "EA-domu-1 made 88 event_channel_op/6 calls in the last 10 min; "
            "the staged PV-Combined profile denies them"
        },
    ],
    "domains": [
        {
            "domain": "EB-domu-1",
            "domid": 3,
            "outcome": "unlabelled",
            "text": "EB-domu-1 would lose its SecLabel (no binding in small)",
        }
    ],
    "channels": [{"a": "EA-domu-1", "b": "EB-domu-1", "active": True, "staged": False}],
    "devices": [],
    "fixed": [
        {
            "domain": "EA-domu-1",
            "domid": 2,
            "kind": "profile",
            "hypercall": 35,
            "hypercall_name": "sysctl",
            "subop": 1,
            "peer": None,
            "count": 42,
        }
    ],
    "rate_not_evaluated": 0,
}
HARMLESS: dict[str, Any] = {**DENYING, "denies_allowed": False, "denied_calls": [], "domains": []}
HARMLESS["channels"] = []


def _dialog(result: dict[str, Any], expected: str | None) -> Any:
    from xenon_tui.dialogs._whatif import WhatIfConfirmDialog, whatif_lines
    from xenon_tui.widgets._diffview import DiffView

    active, staged = staged_policies()
    return WhatIfConfirmDialog(
        f"Make this policy & host configuration active on {ADDRESS}?",
        whatif_lines(result),
        DiffView(active, staged, DATA["domains"]),
        expected=expected,
    )


def _before(result: dict[str, Any], expected: str | None) -> Any:
    return run_steps(prepare(editor=True), dialog_open(lambda: _dialog(result, expected)))


@pytest.mark.parametrize("size", SIZES)
def test_whatif_denying(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        injected_app(), press=[], terminal_size=size, run_before=_before(DENYING, "xenon-1")
    )


@pytest.mark.parametrize("size", SIZES)
def test_whatif_harmless(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        injected_app(), press=[], terminal_size=size, run_before=_before(HARMLESS, None)
    )
