"""The incident timeline: one time axis with violations, operator actions, domain events,
policy versions, propagation and metrics; scrub (`[` `]`), replay (space), zoom (`+` `-`),
and export as HTML + JSON + Markdown (`x`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from xenon_tui._incident_report import ReportMeta, export
from xenon_tui._timeline import Timeline
from xenon_tui.widgets._keyline import KeyLine
from xenon_tui.widgets._timeline import TimelineChart, TimelineList, clock

PLAY_TICK_S = 0.1
"""A replay moves the cursor ten times a second while it plays (no timer otherwise)."""
PLAY_SPAN_S = 20.0
"""A replay crosses the shown span in this many seconds, whatever its length."""
MIN_SPAN_S = 1.0


class TimelineScreen(Screen[None]):
    """A timeline to scrub, replay and export.

    Args:
        timeline: The events (built by the caller from the host's or XE's records).
        meta: Title and operator, for the header and the exported report.
        export_dir: Where `x` writes the report files.
    """

    DEFAULT_CSS = """
    TimelineScreen #timeline-title { dock: top; height: 1; background: $panel; padding: 0 1; }
    TimelineScreen TimelineChart { border-bottom: solid $panel-lighten-2; }
    TimelineScreen #timeline-status { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "step(-1)", "Prev event", id="timeline.prev"),
        Binding("right_square_bracket", "step(1)", "Next event", id="timeline.next"),
        Binding("space", "play", "Play/pause", id="timeline.play"),
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", id="timeline.zoom_in"),
        Binding("minus", "zoom(2)", "Zoom out", id="timeline.zoom_out"),
        Binding("g,home", "jump(0)", "First", show=False, id="timeline.first"),
        Binding("G,end", "jump(1)", "Last", show=False, id="timeline.last"),
        Binding("x", "export", "Export report", id="timeline.export"),
        Binding("escape,q", "close", "Back", id="timeline.close"),
        # Its own, not only the app's: shown as a dialog (over the Enterprise view) the
        # app's typed keys are the dialog's, and ? would do nothing.
        Binding("question_mark", "keys_help", "Help", show=False, id="timeline.help"),
    ]

    def __init__(self, timeline: Timeline, meta: ReportMeta, export_dir: Path) -> None:
        super().__init__()
        self.timeline = timeline
        self.meta = meta
        self.export_dir = export_dir
        self._player: Timer | None = None
        self.exported: list[Path] = []  # the last export's files (tests read them)

    def compose(self) -> ComposeResult:
        title = Text("⏱ Timeline", style="bold")
        title.append(f" — {self.meta.title}")
        yield Static(title, id="timeline-title")
        yield TimelineChart(self.timeline, id="timeline-chart")
        yield Static("", id="timeline-status")
        yield TimelineList(self.timeline, id="timeline-list")
        yield KeyLine()

    def on_mount(self) -> None:
        start, end = self.timeline.start, self.timeline.end
        chart = self.query_one(TimelineChart)
        chart.span = (start, max(end, start + MIN_SPAN_S))
        self._move_to(len(self.timeline) - 1 if len(self.timeline) else None, end)

    # -- the cursor -------------------------------------------------------------------------

    @property
    def cursor(self) -> float:
        """The cursor's time."""
        return self.query_one(TimelineChart).cursor

    @property
    def index(self) -> int:
        """Events at or before the cursor."""
        return self.query_one(TimelineList).index

    def _move_to(self, event: int | None, ts: float) -> None:
        """Puts the cursor at ``ts`` (on event ``event`` when given), keeping it in view."""
        chart, listing = self.query_one(TimelineChart), self.query_one(TimelineList)
        if event is not None:
            ts = self.timeline.ts(event)
        chart.cursor = ts
        listing.index = self.timeline.index_at(ts)
        start, end = chart.span
        if not start <= ts <= end:  # scrolled out of the zoomed span: follow it
            half = (end - start) / 2
            chart.span = (ts - half, ts + half)
        self._show_status()

    def _show_status(self) -> None:
        n, index = len(self.timeline), self.index
        totals = self.timeline.totals()
        parts = [f"{index}/{n} events at {clock(self.cursor)}"]
        parts += [f"{k} {v}" for k, v in totals.items()]
        if self._player is not None:
            parts.append("▶ playing")
        self.query_one("#timeline-status", Static).update("  ·  ".join(parts))

    def action_step(self, delta: int) -> None:
        """`[` / `]`: the previous / next event."""
        if not len(self.timeline):
            return
        current = self.index - 1
        target = min(len(self.timeline) - 1, max(0, current + delta))
        self._move_to(target, 0.0)

    def action_jump(self, where: int) -> None:
        """`g` / `G`: the first / last event."""
        if len(self.timeline):
            self._move_to(0 if where == 0 else len(self.timeline) - 1, 0.0)

    def action_zoom(self, factor: float) -> None:
        """`+` / `-`: halve / double the shown span around the cursor."""
        chart = self.query_one(TimelineChart)
        start, end = chart.span
        span = max(MIN_SPAN_S, (end - start) * factor)
        full = max(MIN_SPAN_S, self.timeline.end - self.timeline.start)
        if span >= full:
            chart.span = (self.timeline.start, self.timeline.start + full)
        else:
            chart.span = (self.cursor - span / 2, self.cursor + span / 2)

    # -- replay -----------------------------------------------------------------------------

    def action_play(self) -> None:
        """Space: replays from the cursor, events appearing as the cursor passes them."""
        if self._player is not None:
            self._stop()
            return
        if self.index >= len(self.timeline):  # at the end: replay from the start
            self._move_to(0, 0.0)
        self._player = self.set_interval(PLAY_TICK_S, self._tick)
        self._show_status()

    def _tick(self) -> None:
        start, end = self.query_one(TimelineChart).span
        step = (end - start) / (PLAY_SPAN_S / PLAY_TICK_S)
        ts = self.cursor + step
        if ts >= self.timeline.end:
            self._move_to(None, self.timeline.end)
            self._stop()
            return
        self._move_to(None, ts)

    def _stop(self) -> None:
        if self._player is not None:
            self._player.stop()
            self._player = None
        self._show_status()

    # -- export and close -------------------------------------------------------------------

    def action_export(self) -> None:
        """`x`: writes the report (HTML, JSON, Markdown) and says where."""
        stem = "timeline-" + clock(self.timeline.end).replace(":", "")
        try:
            self.exported = export(self.timeline, self.meta, self.export_dir, stem)
        except (OSError, ValueError) as exc:
            self.app.notify(f"Export failed: {exc}", title="Timeline", severity="error")
            return
        names = ", ".join(p.name for p in self.exported)
        self.app.notify(f"{names} in {self.export_dir}", title="Report written", timeout=8)

    def action_keys_help(self) -> None:
        self.show_help()

    def show_help(self) -> None:
        """`?`: this screen's keys, from its bindings."""
        from xenon_tui.dialogs._xe_help import keys_help

        self.app.push_screen(keys_help(self, "Timeline"))

    def action_close(self) -> None:
        self._stop()
        self.app.pop_screen()


__all__ = ["TimelineScreen"]
