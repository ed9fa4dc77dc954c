"""Performance history charts that read at every range (issue #12 §9)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._support.console import console_config, wait_connected, wait_for
from tests._support.scripted_host import ScriptedHost
from xenon_tui.app import XenonConsole
from xenon_tui.widgets import PerfView
from xenon_tui.widgets._chartdata import (
    CEILING_SLACK,
    OTHER,
    bar_ceiling,
    domain_series,
    finer_range,
    nice_above,
    rank,
    scale_ticks,
    single_line,
    time_ticks,
    top_lines,
    x_span,
)
from xps.host._stats import HOST_SERIES, StatsHistory

DOMAINS = [f"dom-{i}" for i in range(1, 9)]


def _seven_minutes(now: float) -> StatsHistory:
    """The host's real tiered history after 7 minutes of 5 s samples of 8 domains:
    dom-i uses i % CPU and i GiB."""
    history = StatsHistory()
    for k in range(84, -1, -1):
        samples: dict[str, tuple[float, float, float]] = {
            name: (float(i), float(i << 20), 1.0) for i, name in enumerate(DOMAINS, start=1)
        }
        samples[HOST_SERIES] = (9.0, float(40 << 20), 8.0)
        history.add(now - 5 * k, samples)
    return history


class HistoryHost(ScriptedHost):
    """The scripted host answering GetStatsHistory from a real ``StatsHistory``."""

    def __init__(self) -> None:
        super().__init__()
        self.real = _seven_minutes(time.time())

    async def stats_history(self, range: str = "10m", domain: str | None = None) -> dict[str, Any]:
        self.history_ranges.append(range)
        return dict(self.real.history(range, domain))


@pytest.fixture
async def history_host(start_xps: Any) -> tuple[Any, HistoryHost]:
    host = HistoryHost()
    return await start_xps(host), host


# ---------------------------------------------------------------- pure functions


def _series(n: int) -> dict[str, list[tuple[float, float]]]:
    return {f"d{i}": [(100.0, float(i)), (105.0, float(i) + 1)] for i in range(1, n + 1)}


def test_top_five_and_other_is_the_sum_of_the_rest() -> None:
    series = _series(8)
    series["d1"] = [(100.0, 1.0)]  # a domain gone before the second sample
    lines = top_lines(series)
    assert [line.name for line in lines] == ["d8", "d7", "d6", "d5", "d4", OTHER]
    other = lines[-1]
    assert other.xs == (100.0, 105.0)
    assert other.ys == (1.0 + 2.0 + 3.0, 3.0 + 4.0)


def test_five_or_fewer_have_no_other_and_single_is_one_line() -> None:
    assert [line.name for line in top_lines(_series(5))] == ["d5", "d4", "d3", "d2", "d1"]
    assert [line.name for line in single_line(_series(8), "d3")] == ["d3"]
    assert single_line(_series(8), "gone") == []


def test_series_skip_the_host_filter_and_rank_by_metric() -> None:
    history = {
        "series": [
            {"name": HOST_SERIES, "points": [[1.0, 99.0, 1 << 30, 8]]},
            {"name": "Web-1", "points": [[1.0, 5.0, 2048, 1]]},
            {"name": "db-1", "points": [[1.0, 50.0, 1024, 1], ["bad"]]},
        ]
    }
    cpu = domain_series(history, "cpu")
    assert rank(cpu) == ["db-1", "Web-1"]
    mem = domain_series(history, "mem")
    assert rank(mem) == ["Web-1", "db-1"] and mem["Web-1"] == [(1.0, 2.0)]
    assert list(domain_series(history, "cpu", "web")) == ["Web-1"]


def test_axis_spans_the_data_and_a_lone_point_is_padded() -> None:
    lines = top_lines({"a": [(1000.0, 1.0), (1420.0, 2.0)], "b": [(1100.0, 1.0)]})
    assert x_span(lines, 5) == (1000.0, 1420.0)
    assert x_span(top_lines({"a": [(3600.0, 1.0)]}), 3600) == (0.0, 7200.0)
    assert x_span([], 5) is None


def test_ticks_are_wall_clock() -> None:
    lo = 1_800_000_000.0
    ticks, labels = time_ticks(lo, lo + 420)
    assert ticks[0] == lo and ticks[-1] == lo + 420
    assert labels[0] == time.strftime("%H:%M:%S", time.localtime(lo))
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", label) for label in labels)
    _, labels = time_ticks(lo, lo + 7200)
    assert all(re.fullmatch(r"\d\d:\d\d", label) for label in labels)
    _, labels = time_ticks(lo, lo + 3 * 86400)
    assert labels[0] == time.strftime("%a %H:%M", time.localtime(lo))


def test_finer_range_only_when_the_data_fits_its_window() -> None:
    now = 1_800_000_000.0
    assert finer_range("1d", now - 420, now) == "2h"
    assert finer_range("2h", now - 420, now) == "10m"
    assert finer_range("10m", now - 420, now) is None
    assert finer_range("1d", now - 3 * 3600, now) is None
    assert finer_range("1w", now - 3 * 3600, now) == "1d"


# ---------------------------------------------------------------- the console


async def test_seven_minutes_in_the_day_range(
    history_host: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = history_host
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("6")
        perf = app.query_one("#perf-view", PerfView)
        await wait_for(pilot, lambda: perf.history is not None)
        await pilot.press("r", "r")
        await wait_for(pilot, lambda: host.history_ranges[-3:] == ["1d", "2h", "10m"])
        await wait_for(pilot, lambda: perf.history_tier == "10m" and perf.range == "1d")
        fine = host.real.history("10m")
        xs = [p[0] for s in fine["series"] for p in s["points"]]
        chart = perf.chart
        assert chart.xlim == (min(xs), max(xs))
        assert 410 <= chart.xlim[1] - chart.xlim[0] <= 425  # 7 minutes, not a day nor ±1 min
        assert chart.labels[0] == time.strftime("%H:%M:%S", time.localtime(min(xs)))
        assert all(re.fullmatch(r"\d\d:\d\d:\d\d", label) for label in chart.labels)
        assert "data since" in chart.title and "[1d]" in chart.title
        # 8 domains: the top 5 by CPU and "other", the sum of the other 3.
        assert [line.name for line in chart.lines] == [
            "dom-8",
            "dom-7",
            "dom-6",
            "dom-5",
            "dom-4",
            OTHER,
        ]
        assert set(chart.lines[-1].ys) == {1.0 + 2.0 + 3.0}
        # x: memory ranks the same way, in MiB.
        await pilot.press("x")
        assert perf.chart.title.startswith("Memory MiB")
        assert perf.chart.lines[0].ys[0] == 8 * 1024.0
        await pilot.press("x")


async def test_toggle_host_and_one_domain(history_host: Any, xps_pki: Any, tmp_path: Path) -> None:
    running, _host = history_host
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("6")
        perf = app.query_one("#perf-view", PerfView)
        await wait_for(pilot, lambda: perf.history is not None and bool(perf.chart.lines))
        assert len(perf.chart.lines) == 6
        await pilot.press("t")
        assert [line.name for line in perf.chart.lines] == ["dom-8"]
        assert "domain dom-8" in perf.chart.title
        await pilot.press("t")
        assert len(perf.chart.lines) == 6 and "host" in perf.chart.title
        # The filter selects the domain shown alone.
        await pilot.press("slash", *"dom-2", "enter")
        await pilot.press("t")
        assert [line.name for line in perf.chart.lines] == ["dom-2"]


def test_bar_scales_are_round_steps() -> None:
    assert [nice_above(v) for v in (0, 0.4, 1, 9.5, 11, 97, 100, 101, 151)] == [
        1,
        1,
        1,
        10,
        15,
        100,
        100,
        150,
        200,
    ]
    assert [nice_above(v, binary=True) for v in (1000, 1024, 1025, 1537, 4096)] == [
        1024,
        1024,
        1536,
        2048,
        4096,
    ]
    assert nice_above(0.3, floor=10) == 10
    with pytest.raises(ValueError):
        nice_above(float("inf"))


def test_a_bar_scale_rises_at_once_and_comes_down_with_slack() -> None:
    assert bar_ceiling(97, None) == 100
    assert bar_ceiling(101, 100) == 150  # past the top: raised at once
    assert bar_ceiling(81, 150) == 150  # 81 + 25 % is over 100: kept
    assert bar_ceiling(79, 150) == 100  # fits under 100 with room: lowered
    assert bar_ceiling(1500, 4096, binary=True) == 2048
    assert bar_ceiling(0, None, floor=10) == 10


@given(
    top=st.floats(min_value=0, max_value=1e7, allow_nan=False),
    binary=st.booleans(),
    moves=st.lists(st.floats(min_value=1 / (1 + CEILING_SLACK), max_value=1.0), max_size=20),
)
def test_jitter_under_a_scale_never_moves_it(top: float, binary: bool, moves: list[float]) -> None:
    ceiling = bar_ceiling(top, None, binary=binary)
    assert ceiling >= top
    for move in moves:  # anything between the top / (1 + slack) and the top
        assert bar_ceiling(ceiling * move, ceiling, binary=binary) == ceiling


@given(
    values=st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), max_size=30),
    binary=st.booleans(),
)
def test_a_bar_scale_always_holds_the_biggest_value(values: list[float], binary: bool) -> None:
    ceiling: float | None = None
    for value in values:
        ceiling = bar_ceiling(value, ceiling, binary=binary)
        assert value <= ceiling <= nice_above(value * (1 + CEILING_SLACK), binary=binary)


def test_scale_ticks_end_on_the_top_and_fit() -> None:
    assert scale_ticks(100, 47) == ([0, 25, 50, 75, 100], ["0", "25", "50", "75", "100"])
    assert scale_ticks(150, 47)[1] == ["0", "50", "100", "150"]
    assert scale_ticks(4096, 24)[1] == ["0", "2048", "4096"]
    assert scale_ticks(4096, 12)[1] == ["0", "4096"]
    assert scale_ticks(1536, 4)[1] == ["1536"]  # no room for two: the top still shown
    for ceiling in (1, 1.5, 10, 15, 60, 3072, 6144, 1e9):
        ticks, labels = scale_ticks(ceiling, 30)
        assert ticks[-1] == ceiling and float(labels[-1]) == ceiling
        assert ticks[0] == 0 or len(ticks) == 1


def _chart_text(chart: Any, width: int, height: int) -> list[str]:
    """The lines of a chart at this size, as its strips draw them (padded to the width)."""
    lines = ["".join(text for text, _style in runs) for runs in chart._build(width, height)]
    assert all(len(line) <= width for line in lines)
    return [line.ljust(width) for line in lines]


def test_bars_in_eighths_and_the_scales_top_at_every_width() -> None:
    # Plotext dropped a tick label with too little room about it (the scale's top at 80x24
    # under some hash seeds); the strips draw every label scale_ticks gives, the top last.
    from xenon_tui.widgets._charts import BarChart, bar_text
    from xenon_tui.widgets._perf import bar_cells

    assert bar_text(50, 100, 10) == "█████"
    assert bar_text(51, 100, 10) == "█████▏"  # 5.1 cells: an eighth more
    assert bar_text(1000, 100, 4) == "████" and bar_text(0, 100, 4) == ""
    assert bar_text(float("nan"), 100, 4) == ""
    for names in (["dom-c (1 vCPU)", "dom-e (1 vCPU)"], ["dom-a", "Domain-0"]):
        for top in (10, 150, 1536, 4096, 12288):
            for width in range(max(map(len, names)) + 4, 90):
                ticks, labels = scale_ticks(top, bar_cells(width, names))
                chart = BarChart()
                chart.show("t", names, [top, top / 3], top, list(zip(ticks, labels, strict=True)))
                lines = _chart_text(chart, width, 8)
                assert lines[-1].split() == labels, (top, width, lines)
                assert all(len(line) == width for line in lines)
                bars = [line for line in lines if "┤" in line]
                assert [b.split("┤")[0].strip() for b in bars] == names
                cells = bar_cells(width, names)
                assert bars[0].split("┤")[1].rstrip() == "█" * cells  # the top: full width


def test_history_lines_are_drawn_in_braille_with_time_labels_and_a_legend() -> None:
    from xenon_tui.widgets._chartdata import Line
    from xenon_tui.widgets._charts import HistoryChart

    chart = HistoryChart()
    lines = [Line("dom-2", (0.0, 60.0), (8.0, 8.0)), Line("dom-1", (0.0, 60.0), (0.0, 4.0))]
    chart.show("CPU % history", lines, (0.0, 60.0), [(0.0, "12:00:00"), (60.0, "12:01:00")])
    text = _chart_text(chart, 60, 12)
    assert text[0].strip() == "CPU % history"
    assert text[1].startswith("8┤") and set(text[1][2:].rstrip()) == {"⠉"}  # 8 on the top
    assert text[-4].startswith("0┤")  # the scale from 0 (rising dom-1 starts at its bottom)
    assert text[-2].split() == ["12:00:00", "12:01:00"]
    assert "▬▬ dom-2" in text[-1] and "▬▬ dom-1" in text[-1]
    assert any(0x2800 < ord(c) <= 0x28FF for c in "".join(text[2:-4]))  # dom-1's slope
    assert all(len(line) == 60 for line in text)
