"""The incident timeline's two widgets: a chart (a row of bars per kind and per metric, with
the cursor's column marked) and the list of events around the cursor.

Both draw from a :class:`~xenon_tui._timeline.Timeline` and a cursor time; nothing is laid
out per event: the chart asks the timeline for one count per column, the list formats
only the rows that fit.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from xenon_tui._timeline import KIND_LABELS, KINDS, Timeline

_BARS = " ▁▂▃▄▅▆▇█"
_LABEL_W = 12


def clock(ts: float) -> str:
    """``HH:MM:SS`` (UTC) of an epoch time."""
    return time.strftime("%H:%M:%S", time.gmtime(ts))


def bar_row(counts: list[int] | list[float | None]) -> str:
    """One character per bucket, scaled to the row's largest value (a lone event shows)."""
    values = [0.0 if c is None else float(c) for c in counts]
    top = max(values, default=0.0)
    if top <= 0:
        return " " * len(values)
    out = []
    for v in values:
        out.append(_BARS[0] if v <= 0 else _BARS[max(1, round(v / top * (len(_BARS) - 1)))])
    return "".join(out)


class TimelineChart(Widget):
    """Rows of bars over [start, end]: one per event kind present, one per metric series;
    the column holding the cursor is drawn reversed, and an axis line names the times."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"timeline--cursor", "timeline--label"}
    DEFAULT_CSS = """
    TimelineChart { height: auto; padding: 0 1; }
    TimelineChart .timeline--cursor { background: $accent; color: $text; }
    TimelineChart .timeline--label { color: $text-muted; }
    """

    cursor: reactive[float] = reactive(0.0)
    span: reactive[tuple[float, float]] = reactive((0.0, 0.0))

    def __init__(self, timeline: Timeline, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.timeline = timeline

    def rows(self) -> list[str]:
        """The kinds (then metrics) drawn, in order."""
        totals = self.timeline.totals()
        return [k for k in KINDS if totals.get(k)] + [s.name for s in self.timeline.series]

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.rows()) + 1

    def cursor_column(self, width: int) -> int | None:
        """The bucket holding the cursor (None: outside the shown span)."""
        start, end = self.span
        if width <= 0 or not start <= self.cursor <= end:
            return None
        if end <= start:
            return 0
        return min(width - 1, int((self.cursor - start) / (end - start) * width))

    def render(self) -> Text:
        start, end = self.span
        width = max(1, self.content_size.width - _LABEL_W)
        cursor_style = self.get_component_rich_style("timeline--cursor")
        label_style = self.get_component_rich_style("timeline--label")
        column = self.cursor_column(width)
        text = Text(no_wrap=True, overflow="crop")
        series = {s.name: s for s in self.timeline.series}
        for name in self.rows():
            if name in series:
                label = name
                bars = bar_row(series[name].buckets(start, end, width))
            else:
                label = KIND_LABELS[name]
                bars = bar_row(self.timeline.buckets(name, start, end, width))
            text.append(f"{label[: _LABEL_W - 1]:<{_LABEL_W}}", style=label_style)
            if column is None:
                text.append(bars, style=_kind_style(name))
            else:
                text.append(bars[:column], style=_kind_style(name))
                text.append(bars[column] if bars[column] != " " else "│", style=cursor_style)
                text.append(bars[column + 1 :], style=_kind_style(name))
            text.append("\n")
        axis = f"{clock(start)}  ·  cursor {clock(self.cursor)}  ·  {clock(end)}"
        text.append(f"{'UTC':<{_LABEL_W}}{axis}", style=label_style)
        return text


def _kind_style(kind: str) -> Style | str:
    # Theme-independent colours would ignore the user's theme; the bars take the row's
    # meaning from the label, and violations alone stand out (as in the violation log).
    return "bold" if kind == "violation" else ""


class TimelineList(Widget):
    """The events around the cursor: the event at the cursor highlighted, those after it
    dimmed (during a replay they have not happened yet)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"timeline--current", "timeline--future"}
    DEFAULT_CSS = """
    TimelineList { height: 1fr; padding: 0 1; }
    TimelineList .timeline--current { background: $accent 40%; text-style: bold; }
    TimelineList .timeline--future { color: $text-disabled; }
    """

    index: reactive[int] = reactive(0)
    """Events at or before the cursor (the current one is ``index - 1``)."""

    def __init__(self, timeline: Timeline, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.timeline = timeline

    def window(self, height: int) -> range:
        """Indices shown: the current event two thirds down, so what led to it shows."""
        n = len(self.timeline)
        if n == 0 or height <= 0:
            return range(0)
        current = max(0, self.index - 1)
        first = max(0, min(current - (2 * height) // 3, n - height))
        return range(first, min(n, first + height))

    def render(self) -> Text:
        if not len(self.timeline):
            return Text("No events in this timeline.", style="italic")
        current_style = self.get_component_rich_style("timeline--current")
        future_style = self.get_component_rich_style("timeline--future")
        width = self.content_size.width
        text = Text(no_wrap=True, overflow="ellipsis")
        rows = self.window(self.content_size.height)
        for n, i in enumerate(rows):
            event = self.timeline.event(i)
            line = f"{clock(event.ts)}  {event.kind:<11} {event.summary}"
            style: Style | str = ""
            if i == self.index - 1:
                style = current_style
            elif i >= self.index:
                style = future_style
            text.append(line[:width].ljust(width) if style == current_style else line, style)
            if n < len(rows) - 1:
                text.append("\n")
        return text


__all__ = ["TimelineChart", "TimelineList", "bar_row", "clock"]
