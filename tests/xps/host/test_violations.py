"""The violations monitor: numbering, the in-memory window, the log file, batches, drops."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from xps.host import InvalidArgument
from xps.host._violations import Labels, ViolationMonitor
from xps.msm import Violation, ViolationKind

LABEL = UUID("43821506-6bc8-5771-bead-ac96a6dead2f")
EPOCH = 1_795_000_000_000_000_000


def _monitor(tmp_path: Path, keep: int = 100) -> tuple[ViolationMonitor, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    names = {1: "EA-domu-1", 2: "EB-domu-1"}
    mon = ViolationMonitor(
        tmp_path / "xenon-msm-violations.log",
        keep,
        EPOCH,
        lambda domid: names.get(domid, f"domain-{domid}"),
        events.append,
    )
    mon.set_labels({LABEL: Labels("EA-seclabel", "PV-Combined")})
    return mon, events


def _rec(i: int, domid: int = 1, kind: ViolationKind = ViolationKind.PROFILE) -> Violation:
    peer = 2 if kind is ViolationKind.CHANNEL else None
    return Violation(i * 1_000_000, domid, kind, LABEL, 1 if peer is None else 32, 0, peer, i)


def test_batch_is_numbered_logged_and_published_once(tmp_path: Path) -> None:
    mon, events = _monitor(tmp_path)
    out = mon.ingest([_rec(1), _rec(2), _rec(3, kind=ViolationKind.CHANNEL)])
    assert [v["seq"] for v in out] == [1, 2, 3]
    assert len(events) == 1 and events[0]["violations"] == out
    assert events[0]["last_seq"] == 3 and events[0]["dropped"] == 0
    first = out[0]
    assert first["domain"] == "EA-domu-1" and first["seclabel_name"] == "EA-seclabel"
    assert first["profile"] == "PV-Combined" and first["kind"] == "profile"
    assert first["hypercall"] == 1 and first["hypercall_name"] == "mmu_update"
    assert first["ts_ns"] == EPOCH + 1_000_000 and first["seclabel"] == str(LABEL)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert out[2]["kind"] == "channel" and out[2]["peer"] == 2
    mon.close()
    log = tmp_path / "xenon-msm-violations.log"
    lines = log.read_text().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(first["ts"] + " seq=1 domid=1 domain=EA-domu-1")
    assert "seclabel=EA-seclabel kind=profile hypercall=mmu_update(1) subop=0" in lines[0]
    assert lines[0].endswith("peer=- count=1") and lines[2].endswith("peer=2 count=3")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_since_and_window(tmp_path: Path) -> None:
    mon, _ = _monitor(tmp_path, keep=5)
    mon.ingest([_rec(i) for i in range(1, 9)])  # 8 records, only the last 5 kept
    got = mon.since(0, 100)
    assert [v["seq"] for v in got["violations"]] == [4, 5, 6, 7, 8]
    assert got["last_seq"] == 8
    assert [v["seq"] for v in mon.since(6, 100)["violations"]] == [7, 8]
    assert [v["seq"] for v in mon.since(4, 2)["violations"]] == [5, 6]
    assert mon.since(8)["violations"] == []
    for bad in ({"since_seq": -1}, {"limit": 0}, {"limit": True}, {"since_seq": "1"}):
        with pytest.raises(InvalidArgument):
            mon.since(**bad)  # type: ignore[arg-type]
    mon.close()


def test_dropped_records_are_counted(tmp_path: Path) -> None:
    mon, events = _monitor(tmp_path)
    mon.ingest([_rec(1)], dropped=7)
    mon.ingest([], dropped=3)  # a drop alone is still reported
    assert mon.since()["dropped"] == 10
    assert [e["dropped"] for e in events] == [7, 10]
    assert mon.ingest([]) == [] and len(events) == 2  # nothing new: no event
    mon.close()


def test_unknown_label_and_hypercall(tmp_path: Path) -> None:
    mon, _ = _monitor(tmp_path)
    other = Violation(5, 9, ViolationKind.RATE, UUID(int=7), 99, 0, None, 1)
    (v,) = mon.ingest([other])
    assert v["domain"] == "domain-9" and v["seclabel_name"] == "" and v["kind"] == "rate"
    assert v["hypercall_name"] == "hypercall_99"
    mon.close()
