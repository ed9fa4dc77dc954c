"""The violation log's row cells: time in UTC from the daemon's fields, call and peer."""

from __future__ import annotations

from typing import Any

from xenon_tui.widgets._violation_log import format_row


def _row(**extra: Any) -> Any:
    base = {
        "seq": 7,
        "domain": "EA-domu-1",
        "seclabel_name": "EA-seclabel",
        "kind": "profile",
        "hypercall": 36,
        "hypercall_name": "domctl",
        "subop": 3,
        "peer": None,
        "count": 2,
        "profile": "PV-Combined",
    }
    base.update(extra)
    return base


def test_time_comes_from_ts_ns_in_utc() -> None:
    # 2026-11-27 08:09:10 UTC
    cells = format_row(_row(ts_ns=1_795_766_950_123_456_789, ts="ignored"))
    assert cells[0].strip() == "08:09:10"


def test_time_falls_back_to_the_iso_string() -> None:
    cells = format_row(_row(ts="2026-11-27T08:09:10.123Z"))
    assert cells[0].strip() == "08:09:10"


def test_no_time_fields_leave_the_cell_empty_and_the_call_is_named() -> None:
    cells = format_row(_row())
    assert cells[0].strip() == ""
    assert any("domctl/3" in c for c in cells)


def test_channel_rows_name_the_peer() -> None:
    cells = format_row(_row(kind="channel", hypercall_name="event_channel_op", subop=0, peer=5))
    assert any("event_channel_op/0 → 5" in c for c in cells)
