"""A stored incident for the runbook panel's pictures (tests/xenon_tui/test_runbook_*snapshots.py):
captured from a violation, paused, quarantine skipped with a reason, fix and verify still to
do. ``STEP`` is one step's common fields (done by alice at a fixed time)."""

from __future__ import annotations

from typing import Any

STEP: dict[str, Any] = {"outcome": "done", "user": "alice", "note": None, "ts": 1_700_000_000.0}
INCIDENT: dict[str, Any] = {
    "id": "INC-7",
    "domain": "EA-domu-1",
    "state": "open",
    "opened_by": "alice",
    "opened_at": 1_700_000_000.0,
    "closed_at": None,
    "trigger_seqs": [1042],
    "triggers": [{"seq": 1042}],
    "violations": [{"seq": s} for s in range(1000, 1043)],
    "stats": {"range": "10m", "step_s": 5, "series": [{"name": "EA-domu-1", "points": [[0]] * 12}]},
    "config": {"name": "EA-domu-1"},
    "seclabel": {"name": "EA-PV"},
    "policy_name": "enterprise",
    "policy_generation": 3,
    "policy_sha256": "9f2c4e1a7b3d5f60" + "0" * 48,
    "steps": [
        {**STEP, "step": "capture"},
        {**STEP, "step": "pause"},
        {**STEP, "step": "quarantine", "outcome": "skipped", "note": "no quarantine label yet"},
    ],
}
