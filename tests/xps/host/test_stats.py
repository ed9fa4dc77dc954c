"""The tiered statistics history: aggregation, expiry, ranges and persistence."""

from __future__ import annotations

import pytest

from xps.host import InvalidArgument, NotFound
from xps.host._stats import StatsHistory

T0 = 1_800_000_000.0  # a multiple of 3600: bucket edges are predictable


def test_five_second_means() -> None:
    h = StatsHistory()
    h.add(T0 + 0, {"host": (10.0, 100.0, 1.0), "d1": (50.0, 1000.0, 2.0)})
    h.add(T0 + 3, {"host": (30.0, 300.0, 3.0), "d1": (70.0, 1000.0, 2.0)})
    h.add(T0 + 6, {"host": (0.0, 0.0, 0.0)})  # next 5 s bucket; d1 is gone
    out = h.history("10m")
    assert out["range"] == "10m" and out["step_s"] == 5
    series = {s["name"]: s["points"] for s in out["series"]}
    assert series["host"] == [[T0, 20.0, 200, 2.0], [T0 + 5, 0.0, 0, 0.0]]
    assert series["d1"] == [[T0, 60.0, 1000, 2.0]]


def test_coarser_tiers_aggregate_means() -> None:
    h = StatsHistory()
    for i in range(40):  # 120 s of 3-second samples, cpu ramps 0..39
        h.add(T0 + 3 * i, {"host": (float(i), 10.0, 1.0)})
    minutes = {s["name"]: s["points"] for s in h.history("2h")["series"]}["host"]
    assert [p[0] for p in minutes] == [T0, T0 + 60]
    assert minutes[0][1] == pytest.approx(sum(range(20)) / 20)
    assert minutes[1][1] == pytest.approx(sum(range(20, 40)) / 20)
    hours = h.history("1w")
    assert hours["step_s"] == 3600
    assert hours["series"][0]["points"] == [[T0, pytest.approx(19.5), 10, 1.0]]
    assert h.history("1d")["step_s"] == 3600


def test_ten_minute_tier_expires_old_points() -> None:
    h = StatsHistory()
    for i in range(0, 1200, 5):  # 20 minutes
        h.add(T0 + i, {"host": (1.0, 1.0, 1.0)})
    pts = h.history("10m")["series"][0]["points"]
    assert pts[0][0] >= T0 + 1195 - 600
    assert len(pts) <= 121
    # the minute tier still covers all 20 minutes
    assert len(h.history("2h")["series"][0]["points"]) == 20


def test_domain_filter_and_errors() -> None:
    h = StatsHistory()
    h.add(T0, {"host": (1.0, 2.0, 3.0), "EA-domu-1": (4.0, 5.0, 6.0)})
    out = h.history("10m", domain="EA-domu-1")
    assert [s["name"] for s in out["series"]] == ["EA-domu-1"]
    with pytest.raises(NotFound):
        h.history("10m", domain="nope")
    with pytest.raises(InvalidArgument):
        h.history("3y")
    with pytest.raises(InvalidArgument):
        h.add(float("nan"), {})


def test_json_round_trip_keeps_partial_buckets() -> None:
    h = StatsHistory()
    for i in range(30):
        h.add(T0 + 3 * i, {"host": (float(i), 100.0 + i, 2.0), "x": (1.0, 1.0, 1.0)})
    restored = StatsHistory.from_json(h.to_json())
    for rng in ("10m", "2h", "1d", "1w"):
        assert restored.history(rng) == h.history(rng)
    # and it keeps aggregating where it stopped
    h.add(T0 + 90, {"host": (5.0, 5.0, 5.0)})
    restored.add(T0 + 90, {"host": (5.0, 5.0, 5.0)})
    assert restored.history("2h") == h.history("2h")


@pytest.mark.parametrize("bad", [b"", b"{}", b'{"version": 9}', b"[1,2]", b"\xff"])
def test_malformed_file_is_refused(bad: bytes) -> None:
    with pytest.raises(InvalidArgument):
        StatsHistory.from_json(bad)
