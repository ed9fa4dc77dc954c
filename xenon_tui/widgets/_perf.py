"""Performance (§3.2.2.3): current CPU/memory/vCPUs per domain and history charts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from xenon_tui._actions import bindings, check_scoped
from xenon_tui._work import run_flow

if TYPE_CHECKING:
    from xenon_tui._state import ServerState

RANGES = ("10m", "2h", "1d", "1w")


def current_rows(stats: dict[str, Any] | None, needle: str = "") -> list[dict[str, Any]]:
    """Per-domain rows of a ``GetStats`` result, filtered by domain name."""
    if not stats:
        return []
    rows = [d for d in stats.get("domains", []) if needle in str(d.get("name", "")).lower()]
    return sorted(rows, key=lambda d: str(d.get("name")))


class PerfView(Vertical, can_focus=True):
    """Live bar charts of the last sample plus a history chart over a chosen range."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [*bindings("perf")]

    DEFAULT_CSS = """
    PerfView { height: 1fr; }
    PerfView #perf-title { height: 1; padding: 0 1; background: $panel; }
    PerfView Horizontal { height: 1fr; }
    PerfView PlotextPlot { width: 1fr; height: 1fr; }
    """

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return check_scoped(self, "perf", action, parameters)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.range = RANGES[0]
        self.domain_filter = ""
        self._state: ServerState | None = None
        self.history: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="perf-title")
        with Horizontal():
            yield PlotextPlot(id="cpu-now")
            yield PlotextPlot(id="mem-now")
        yield PlotextPlot(id="history")

    def on_mount(self) -> None:
        self._title()

    def _title(self) -> None:
        who = f"domain ~ {self.domain_filter!r}" if self.domain_filter else "all domains"
        self.query_one("#perf-title", Static).update(
            f"Current performance and history [{self.range}] — {who}   (r: range, f or /: filter)"
        )

    def show_server(self, state: ServerState) -> None:
        """Switches to a server: redraws its last sample and reloads history."""
        self._state = state
        self.show_stats(state.stats, state.stats_log)
        if state.conn is not None and state.link.value == "connected":
            self.load_history()

    def show_stats(self, stats: dict[str, Any] | None, log: list[dict[str, Any]]) -> None:
        """Draws the current CPU %, memory and vCPU bars of one sample."""
        if not self.is_mounted:
            return
        rows = current_rows(stats, self.domain_filter)
        names = [str(r.get("name")) for r in rows]
        cpu = self.query_one("#cpu-now", PlotextPlot)
        mem = self.query_one("#mem-now", PlotextPlot)
        for plot in (cpu, mem):
            plot.plt.clear_data()
            plot.plt.clear_figure()
        if rows:
            cpu.plt.bar(
                names, [float(r.get("cpu_pct") or 0) for r in rows], orientation="horizontal"
            )
            mem.plt.bar(
                [f"{n} ({r.get('vcpus', '?')} vCPU)" for n, r in zip(names, rows, strict=True)],
                [int(r.get("mem_kb") or 0) // 1024 for r in rows],
                orientation="horizontal",
            )
        cpu.plt.title("CPU % now")
        mem.plt.title("Memory MiB now (vCPUs)")
        cpu.refresh()
        mem.refresh()

    def load_history(self) -> None:
        """Fetches ``GetStatsHistory`` for the range and filter (in a worker) and draws it."""
        run_flow(self, "perf-history", self._load_history)

    async def _load_history(self) -> None:
        state = self._state
        if state is None or state.conn is None:
            return
        self.history = await state.conn.call("GetStatsHistory", range=self.range)
        if self.is_attached:
            self._draw_history()

    def _draw_history(self) -> None:
        plot = self.query_one("#history", PlotextPlot)
        plot.plt.clear_data()
        plot.plt.clear_figure()
        series = (self.history or {}).get("series", [])
        drawn = 0
        for s in series:
            name = str(s.get("name", ""))
            if self.domain_filter and self.domain_filter not in name.lower():
                continue
            points = s.get("points", [])
            if not points:
                continue
            t0 = points[-1][0]
            xs = [(p[0] - t0) / 60.0 for p in points]
            plot.plt.plot(xs, [float(p[1]) for p in points], label=name)
            drawn += 1
        plot.plt.title(f"CPU % history, last {self.range} (x: minutes)")
        plot.refresh()

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
