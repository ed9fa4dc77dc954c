"""Performance (§3.2.2.3): current CPU/memory/vCPUs per domain and history charts."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from xenon_tui._actions import bindings, check_scoped
from xenon_tui._work import run_flow
from xenon_tui.widgets._chartdata import (
    METRICS,
    OTHER,
    RANGE_SECONDS,
    TOP_N,
    Line,
    bar_ceiling,
    clock,
    domain_series,
    finer_range,
    first_ts,
    last_ts,
    rank,
    scale_ticks,
    single_line,
    time_ticks,
    top_lines,
    x_span,
)
from xenon_tui.widgets._charts import BAR_CHROME, BarChart, HistoryChart
from xenon_tui.widgets._shown import displayed

if TYPE_CHECKING:
    from xenon_tui._state import ServerState

RANGES = ("10m", "2h", "1d", "1w")

SPARSE_POINTS = 10
"""Below this many points in every series, a finer tier holding the same data is used."""


@dataclass(frozen=True)
class Chart:
    """The history chart as drawn: title, lines, x bounds and wall-clock tick labels."""

    title: str = ""
    lines: list[Line] = field(default_factory=list)
    xlim: tuple[float, float] | None = None
    ticks: list[float] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def _sparse(history: dict[str, Any] | None) -> bool:
    series = (history or {}).get("series", []) or []
    return max((len(s.get("points") or []) for s in series), default=0) < SPARSE_POINTS


def current_rows(stats: dict[str, Any] | None, needle: str = "") -> list[dict[str, Any]]:
    """Per-domain rows of a ``GetStats`` result, filtered by domain name."""
    if not stats:
        return []
    rows = [d for d in stats.get("domains", []) if needle in str(d.get("name", "")).lower()]
    return sorted(rows, key=lambda d: str(d.get("name")))


def top_rows(rows: list[dict[str, Any]], key: str, room: int) -> list[dict[str, Any]]:
    """The ``room`` rows with the biggest ``key`` (all when they fit), in name order.

    A bar chart shorter than its domains merges or drops bars (the busiest domain went
    missing at 80x24): it gets only as many as it has lines, the biggest ones.
    """
    if room <= 0 or len(rows) <= room:
        return rows
    biggest = sorted(rows, key=lambda r: float(r.get(key) or 0), reverse=True)[:room]
    return [r for r in rows if any(r is b for b in biggest)]


def bar_cells(width: int, names: list[str]) -> int:
    """Cells a horizontal bar chart ``width`` wide has for its bars (left of them: the
    names and the axis; one cell of margin on the right)."""
    return max(1, width - max((len(n) for n in names), default=0) - 2)


def visible_bars(
    values: list[float] | list[int], width: int, names: list[str], ceiling: float
) -> tuple[int, ...]:
    """What a horizontal bar chart ``width`` cells wide, scaled from 0 to ``ceiling``,
    shows of ``values``: each bar's length in cells (at most the cells left of the names;
    more is finer, never coarser). With the scale fixed between samples (``bar_ceiling``),
    jitter that moves no bar by a cell draws nothing."""
    cells = bar_cells(width, names)
    return tuple(round(min(float(v), ceiling) / ceiling * cells) for v in values)


BAR_SLACK = 25
"""A bar may lag its value by up to 1/BAR_SLACK of its chart's cells (at least one cell)
until the chart is drawn again (``looks_the_same``)."""

BAR_CATCH_UP_S = 10.0
"""A chart whose bars lag their values at all is drawn again after this many seconds."""


def bar_slack(cells: int) -> int:
    """Cells a bar may be off in a chart with ``cells`` cells for its bars."""
    return max(1, cells // BAR_SLACK)


def looks_the_same(drawn: tuple[int, ...], bars: tuple[int, ...], slack: int = 1) -> bool:
    """Bars ``bars`` are close enough to the ``drawn`` ones not to draw the chart again
    now: none moved by more than ``slack`` cells, and none appeared or went (a bar of 0
    cells).

    The demo's domains moved some bar by a cell or two every few seconds (a CPU on a
    cell's edge, 49.6 <-> 50.4 %, at every other sample), and each move was a plotext draw
    of the whole chart, 20-60 ms (then the Performance view's main idle cost; the strips
    now cost a few ms, and each repaint still goes out over SSH). A bar now shows its
    value to within ``slack`` cells (4 % of the chart), and any lag at all is drawn within
    ``BAR_CATCH_UP_S``.
    """
    return len(drawn) == len(bars) and all(
        abs(a - b) <= slack and (a == 0) == (b == 0) for a, b in zip(drawn, bars, strict=True)
    )


def _finite(value: Any) -> float:
    """A sample's number for a bar: a missing, malformed or non-finite one is 0."""
    try:
        number = float(value or 0)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


CPU_FLOOR = 10.0
"""The CPU chart's smallest scale (%): idle domains of 0-1 % are not drawn full width."""


def _bars_title(title: str, shown: int, of: int) -> str:
    # Short: the 80x24 bar charts are ~26 wide (a longer title is cut).
    return title if shown == of else f"{title} top {shown}/{of}"


LAYOUT_TRIES = 20
"""Refreshes a sample waits for the plots' first layout before it is dropped (the next
sample draws)."""


class PerfView(Vertical, can_focus=True):
    """Live bar charts of the last sample plus a history chart over a chosen range."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *bindings("perf"),
    ]

    DEFAULT_CSS = """
    PerfView { height: 1fr; }
    PerfView #perf-title { height: auto; padding: 0 1; background: $panel; }
    PerfView Horizontal { height: 1fr; }
    PerfView BarChart, PerfView HistoryChart { width: 1fr; height: 1fr; }
    """

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return check_scoped(self, "perf", action, parameters)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.range = RANGES[0]
        self.domain_filter = ""
        self._state: ServerState | None = None
        self.history: dict[str, Any] | None = None
        self.history_tier = self.range
        """The range whose tier ``history`` came from (finer than ``range`` when sparse)."""
        self.metric = "cpu"
        self.single = False
        """False: the host (top domains + other); True: ``selected`` alone."""
        self.selected = ""
        self.chart = Chart()
        self._stats: dict[str, Any] | None = None
        # Plot id -> what its bars show (size, names, cells, scale, title), to skip a redraw.
        self._bars: dict[str | None, tuple[Any, ...]] = {}
        self._drawn_at: dict[str | None, float] = {}  # plot id -> when its bars were drawn
        # Plot id -> its scale's top: it moves in steps (bar_ceiling), not with each sample.
        self.ceilings: dict[str | None, float] = {}
        # A sample arrived while the view was hidden: drawn when it is shown.
        self._behind = False
        # A sample waits for the plots' first layout (tries so far; drawn when laid out).
        self._layout_tries = 0
        self._repaint_due = False

    def compose(self) -> ComposeResult:
        yield Static("", id="perf-title")
        with Horizontal():
            yield BarChart(id="cpu-now")
            yield BarChart(id="mem-now")
        yield HistoryChart(id="history")

    def on_mount(self) -> None:
        self._title()
        self._draw_history()  # its title says there is no data yet

    def on_resize(self) -> None:
        self._title()
        # The bars that fit depend on the height: draw the last sample again.
        self.call_after_refresh(self.show_stats, self._stats, [])

    def _title(self) -> None:
        who = f"domain ~ {self.domain_filter!r}" if self.domain_filter else "all domains"
        scope = "one domain" if self.single else "host"
        text = f"Current performance and history [{self.range}] — {who}, history of {scope}"
        keys = "   (r: range, f or /: filter, t: host/domain, x: CPU/memory)"
        # The keys are also in the footer and `?`: on a narrow screen the title keeps its
        # first line for what is shown (it wraps, rather than cutting the scope off).
        wide = self.size.width - 2 >= len(text) + len(keys)
        self.query_one("#perf-title", Static).update(text + keys if wide else text)

    def show_server(self, state: ServerState) -> None:
        """Switches to a server: redraws its last sample and reloads history."""
        self._state = state
        self.show_stats(state.stats, state.stats_log)
        if state.conn is not None and state.link.value == "connected":
            self.load_history()

    def show_stats(self, stats: dict[str, Any] | None, log: list[dict[str, Any]]) -> None:
        """Draws the current CPU %, memory and vCPU bars of one sample.

        A chart whose bars are the same as drawn (values at the chart's resolution) is not
        drawn again, and a hidden view draws the last sample once it is shown.
        """
        if not self.is_mounted:
            return
        self._stats = stats
        if not displayed(self):
            self._behind = True
            return
        rows = current_rows(stats, self.domain_filter)
        cpu = self.query_one("#cpu-now", BarChart)
        mem = self.query_one("#mem-now", BarChart)
        if not (cpu.size.area and mem.size.area):
            # Not laid out yet: the bars that fit depend on the plots' size. Drawn after the
            # next refresh (a bounded number of times): under load the view could be laid
            # out without a Resize and kept empty bars until the next sample.
            self._repaint_due = self._layout_tries < LAYOUT_TRIES
            if self._repaint_due:
                self._layout_tries += 1
                self.call_after_refresh(self.show_stats, stats, log)
            return
        self._layout_tries = 0
        self._repaint_due = False
        # Names read top down.
        cpu_rows = top_rows(rows, "cpu_pct", cpu.size.height - BAR_CHROME)
        mem_rows = top_rows(rows, "mem_kb", mem.size.height - BAR_CHROME)
        self._draw_bars(
            cpu,
            [str(r.get("name")) for r in cpu_rows],
            # Whole percents: a bar is ~50 cells for 100 %, and the samples jitter by
            # hundredths (40.01, 40.0…) that would redraw an unchanged chart every time.
            [float(round(_finite(r.get("cpu_pct")))) for r in cpu_rows],
            _bars_title("CPU %", len(cpu_rows), len(rows)),
            floor=CPU_FLOOR,
        )
        self._draw_bars(
            mem,
            [f"{r.get('name')} ({r.get('vcpus', '?')} vCPU)" for r in mem_rows],
            [int(_finite(r.get("mem_kb"))) // 1024 for r in mem_rows],
            _bars_title("MiB (vCPUs)", len(mem_rows), len(rows)),
            binary=True,
        )

    def _draw_bars(
        self,
        plot: BarChart,
        names: list[str],
        values: list[float] | list[int],
        title: str,
        *,
        binary: bool = False,
        floor: float = 1.0,
    ) -> None:
        """One horizontal bar chart from 0 to a scale top that moves in steps, unless the
        one drawn looks the same: the same bars on the same scale, each within its slack,
        drawn less than ``BAR_CATCH_UP_S`` ago (``looks_the_same``; plotext scaled to the
        biggest value, so a percent of jitter moved every bar). A draw is a repaint of
        that chart alone."""
        top = max((float(v) for v in values), default=0.0)
        ceiling = bar_ceiling(top, self.ceilings.get(plot.id), binary=binary, floor=floor)
        self.ceilings[plot.id] = ceiling
        bars = visible_bars(values, plot.size.width, names, ceiling)
        drawn = (plot.size, tuple(names), bars, ceiling, title)
        before = self._bars.get(plot.id)
        now = time.monotonic()
        if before is not None and before[:2] + before[3:] == drawn[:2] + drawn[3:]:
            if before[2] == bars:
                return
            slack = bar_slack(bar_cells(plot.size.width, names))
            recent = now - self._drawn_at.get(plot.id, now) < BAR_CATCH_UP_S
            if recent and looks_the_same(before[2], bars, slack):
                return
        self._bars[plot.id] = drawn
        self._drawn_at[plot.id] = now
        ticks = scale_ticks(ceiling, bar_cells(plot.size.width, names)) if names else ([], [])
        plot.show(title, names, values, ceiling, list(zip(*ticks, strict=True)))

    def on_show(self) -> None:
        if self._behind:
            self._behind = False
            self.show_stats(self._stats, [])

    def load_history(self) -> None:
        """Fetches ``GetStatsHistory`` for the range (in a worker) and draws it."""
        run_flow(self, "perf-history", self._load_history)

    async def _load_history(self) -> None:
        state = self._state
        if state is None or state.conn is None:
            return
        wanted = self.range
        history = await state.conn.call("GetStatsHistory", range=wanted)
        # A history younger than a finer tier's window is all in that tier, at a finer step:
        # 7 minutes asked for at "1d" is one hourly point, but 84 points of "10m".
        tier = wanted
        while _sparse(history):
            first = first_ts(history)
            if first is None:
                break
            finer = finer_range(tier, first, self._now(history))
            if finer is None:
                break
            history = await state.conn.call("GetStatsHistory", range=finer)
            tier = finer
        if wanted != self.range:
            return  # the range changed meanwhile; its own load draws it
        self.history, self.history_tier = history, tier
        if self.is_attached:
            self._draw_history()

    def _now(self, history: dict[str, Any] | None) -> float:
        """The host's latest sample time (its clock), else the newest point."""
        stats = self._state.stats if self._state is not None else None
        times = [last_ts(history) or 0.0]
        ts = (stats or {}).get("ts")
        if isinstance(ts, int | float) and math.isfinite(ts):
            times.append(float(ts))
        return max(times)

    def _chart(self) -> Chart:
        """What the history chart shows now (kept on ``self.chart`` for tests and titles)."""
        series = domain_series(self.history, self.metric, self.domain_filter)
        step = float((self.history or {}).get("step_s") or 0)
        if self.single:
            ranked = rank(series)
            self.selected = self.selected if self.selected in series else (ranked or [""])[0]
            lines = single_line(series, self.selected)
            who = f"domain {self.selected}" if self.selected else "no domain"
        else:
            lines = top_lines(series)
            who = f"host: top {TOP_N} domains" + (f" + {OTHER}" if len(series) > TOP_N else "")
        span = x_span(lines, step)
        title = f"{METRICS[self.metric][1]} history [{self.range}] — {who}"
        ticks: list[float] = []
        labels: list[str] = []
        if span is not None:
            ticks, labels = time_ticks(*span)
            first = min(x for line in lines for x in line.xs)
            if first > self._now(self.history) - RANGE_SECONDS.get(self.range, 0) + step:
                title += f" — data since {clock(first, seconds=span[1] - span[0] < 900)}"
            if self.history_tier != self.range:
                title += f" ({self.history_tier} detail, {int(step)} s steps)"
        else:
            title += " — no data yet"
        return Chart(title=title, lines=lines, xlim=span, ticks=ticks, labels=labels)

    def _draw_history(self) -> None:
        """The history chart; one the same as drawn draws nothing."""
        self.chart = chart = self._chart()
        self.query_one("#history", HistoryChart).show(
            chart.title,
            chart.lines,
            chart.xlim,
            list(zip(chart.ticks, chart.labels, strict=True)),
            binary=self.metric == "mem",
        )

    def action_toggle_scope(self) -> None:
        """Host total (top domains + other) <-> the selected domain alone."""
        self.single = not self.single
        self._title()
        self._draw_history()

    def action_next_metric(self) -> None:
        self.metric = "mem" if self.metric == "cpu" else "cpu"
        self._title()
        self._draw_history()

    def action_next_range(self) -> None:
        self.range = RANGES[(RANGES.index(self.range) + 1) % len(RANGES)]
        self._title()
        self.load_history()

    def action_filter(self) -> None:
        self.call_later(self.app.run_action, "filter_list")

    def set_domain_filter(self, text: str) -> None:
        """Shows only domains whose name contains ``text``."""
        self.domain_filter = text.strip().lower()
        self._title()
        if self._state is not None:
            self.show_stats(self._state.stats, self._state.stats_log)
        self._draw_history()
