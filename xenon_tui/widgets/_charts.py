"""The Performance view's charts drawn as plain strips: horizontal bars in eighths of a cell
and braille history lines.

Plotext built a whole figure per draw (a bar chart ~19 ms of CPU, the history ~130 ms under
load) and again on every paint of the widget. These build the lines of a chart once per
(size, data, theme) and hand Textual the cached strips.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

if TYPE_CHECKING:
    from xenon_tui.widgets._chartdata import Line

EIGHTHS = " ▏▎▍▌▋▊▉"
"""A bar's last cell by eighths of a cell (index 1-7; 0 is an empty cell)."""

FULL = "█"

BAR_CHROME = 3
"""Lines of a bar chart that are not bars: the title, the axis and its tick labels."""

HISTORY_CHROME = 4
"""Lines of the history chart that are not the plot: title, axis, time labels, legend."""

SERIES = 6
"""Colours of history lines (chart--s0..s5, from the theme): the top 5 and ``other``."""

_BRAILLE_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
"""Braille dot bits by (column 0-1, row 0-3) within a cell."""

_COLOURS = tuple(f"chart--s{i}" for i in range(SERIES))


def bar_text(value: float, ceiling: float, cells: int) -> str:
    """A bar of ``value`` on a scale from 0 to ``ceiling`` over ``cells`` cells, in eighths
    of a cell (a value above the ceiling fills them all)."""
    if ceiling <= 0 or cells <= 0 or not math.isfinite(value) or value <= 0:
        return ""
    eighths = round(min(value, ceiling) / ceiling * cells * 8)
    full, part = divmod(eighths, 8)
    return FULL * full + (EIGHTHS[part] if part else "")


def _place(row: list[str], text: str, centre: int) -> bool:
    """Writes ``text`` into ``row`` centred on column ``centre`` (kept inside the row, not
    over another label: False when it did not fit)."""
    width = len(row)
    start = max(0, min(centre - len(text) // 2, width - len(text)))
    end = start + len(text)
    if end > width or any(c != " " for c in row[max(0, start - 1) : min(width, end + 1)]):
        return False
    row[start:end] = list(text)
    return True


def _centred(text: str, width: int) -> str:
    if len(text) > width:
        text = text[: max(0, width - 1)] + "…" if width > 0 else ""
    return text.center(width)


class _Chart(Widget):
    """Lines built once per size, data and theme; paints read them (``render_line``)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"chart--title", "chart--axis"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._cache: tuple[object, list[Strip]] | None = None
        self._styles: dict[str, Style] = {}
        self._painting: list[Strip] | None = None
        self.builds = 0
        """How many times the lines were built (tests: a paint builds nothing)."""

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        self._styles = {}
        self._cache = None
        self.refresh()

    def _style(self, name: str) -> Style:
        """The widget's style with a component class over it, resolved once per theme."""
        styles = self._styles
        if name not in styles:
            base = self.rich_style
            styles[name] = (
                base if name == "" else base + self.get_component_rich_style(name, partial=True)
            )
        return styles[name]

    def _key(self) -> object:
        raise NotImplementedError

    def _build(self, width: int, height: int) -> list[list[tuple[str, str]]]:
        """Each line as (text, component class) runs."""
        raise NotImplementedError

    def _strips(self) -> list[Strip]:
        width, height = self.size
        key = (width, height, self._key())
        if self._cache is None or self._cache[0] != key:
            self.builds += 1
            strips = []
            for runs in self._build(width, height):
                segments = [Segment(text, self._style(name)) for text, name in runs if text]
                strips.append(Strip(segments).adjust_cell_length(width, self._style("")))
            self._cache = (key, strips)
        return self._cache[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        self._painting = self._strips()  # once per paint, not per line
        try:
            return super().render_lines(crop)
        finally:
            self._painting = None

    def render_line(self, y: int) -> Strip:
        strips = self._painting if self._painting is not None else self._strips()
        if 0 <= y < len(strips):
            return strips[y]
        return Strip.blank(self.size.width, self._style(""))

    def render(self) -> Text:
        """The chart as text (what the lines say, for tests; the screen paints the strips)."""
        return Text("\n".join(strip.text for strip in self._strips()))


class BarChart(_Chart):
    """Horizontal bars, one per name top down, from 0 to a ceiling with tick labels."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"chart--title", "chart--axis", "chart--bar"}
    DEFAULT_CSS = """
    BarChart {
        width: 1fr;
        height: 1fr;
        background: $surface;
        color: $foreground;
        .chart--title { text-style: bold; }
        .chart--axis { color: $foreground-muted; }
        .chart--bar { color: $primary; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = ""
        self.names: tuple[str, ...] = ()
        self.values: tuple[float, ...] = ()
        self.ceiling = 1.0
        self.ticks: tuple[tuple[float, str], ...] = ()

    def show(
        self,
        title: str,
        names: Sequence[str],
        values: Sequence[float],
        ceiling: float,
        ticks: Sequence[tuple[float, str]],
    ) -> None:
        """Draws these bars (top down) on a scale to ``ceiling`` with ``ticks``: a repaint of
        this widget alone."""
        self.title, self.names, self.ceiling = title, tuple(names), float(ceiling)
        self.values = tuple(float(v) for v in values)
        self.ticks = tuple(ticks)
        self.refresh()

    def _key(self) -> object:
        return (self.title, self.names, self.values, self.ceiling, self.ticks)

    def _build(self, width: int, height: int) -> list[list[tuple[str, str]]]:
        lines: list[list[tuple[str, str]]] = [[(_centred(self.title, width), "chart--title")]]
        if height < BAR_CHROME or width < 4:
            return lines[:height]
        names = self.names
        name_width = max((len(n) for n in names), default=0)
        cells = max(1, width - name_width - 2)
        room = height - BAR_CHROME
        shown = list(zip(names, self.values, strict=True))[:room]
        per = room // len(shown) if shown else 0
        thick = min(3, per - 1) if per >= 2 else 1
        for name, value in shown:
            bar = bar_text(value, self.ceiling, cells)
            for row in range(thick if per >= 2 else 1):
                label = row == (thick - 1) // 2
                lines.append(
                    [
                        ((name if label else "").rjust(name_width), ""),
                        ("┤" if label else "│", "chart--axis"),
                        (bar, "chart--bar"),
                    ]
                )
            if per >= 2:
                lines.append([(" " * name_width, ""), ("│", "chart--axis")])
        while len(lines) < height - 2:
            lines.append([(" " * name_width, ""), ("│", "chart--axis")])
        lines = lines[: height - 2]
        axis = ["─"] * cells
        labels = [" "] * width
        for value, text in self.ticks:
            at = round(value / self.ceiling * cells) if self.ceiling > 0 else 0
            if 0 < at <= cells:
                axis[at - 1] = "┬"
            _place(labels, text, name_width + at)
        lines.append([(" " * name_width, ""), ("└" + "".join(axis), "chart--axis")])
        lines.append([("".join(labels), "chart--axis")])
        return lines


def _scale_top(top: float, binary: bool) -> float:
    from xenon_tui.widgets._chartdata import nice_above

    return nice_above(top, binary=binary)


def _label(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


class HistoryChart(_Chart):
    """Braille lines of up to six series over time, a y scale from 0, wall-clock ticks and
    a legend."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chart--title",
        "chart--axis",
        *(f"chart--s{i}" for i in range(SERIES)),
    }
    DEFAULT_CSS = """
    HistoryChart {
        width: 1fr;
        height: 1fr;
        background: $surface;
        color: $foreground;
        .chart--title { text-style: bold; }
        .chart--axis { color: $foreground-muted; }
        .chart--s0 { color: $primary; }
        .chart--s1 { color: $success; }
        .chart--s2 { color: $error; }
        .chart--s3 { color: $warning; }
        .chart--s4 { color: $accent; }
        .chart--s5 { color: $secondary; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = ""
        self.lines: tuple[Line, ...] = ()
        self.xlim: tuple[float, float] | None = None
        self.xticks: tuple[tuple[float, str], ...] = ()
        self.binary = False

    def show(
        self,
        title: str,
        lines: Sequence[Line],
        xlim: tuple[float, float] | None,
        xticks: Sequence[tuple[float, str]],
        *,
        binary: bool = False,
    ) -> None:
        """Draws these lines; the same chart again draws nothing."""
        state = (title, tuple(lines), xlim, tuple(xticks), binary)
        if state == (self.title, self.lines, self.xlim, self.xticks, self.binary):
            return
        self.title, self.lines, self.xlim, self.xticks, self.binary = state
        self.refresh()

    def _key(self) -> object:
        return (self.title, self.lines, self.xlim, self.xticks, self.binary)

    def _build(self, width: int, height: int) -> list[list[tuple[str, str]]]:
        out: list[list[tuple[str, str]]] = [[(_centred(self.title, width), "chart--title")]]
        rows = height - HISTORY_CHROME
        top = max((max(line.ys, default=0.0) for line in self.lines), default=0.0)
        ceiling = _scale_top(top, self.binary)
        marks = {0: _label(ceiling), rows // 2: _label(ceiling / 2)} if rows >= 3 else {}
        if rows >= 1:
            marks[rows - 1] = "0"
        label_width = max((len(t) for t in marks.values()), default=1)
        cols = width - label_width - 2
        if rows < 1 or cols < 2:
            return out[:height]
        grid = self._plot(rows, cols, ceiling)
        for row in range(rows):
            runs: list[tuple[str, str]] = [
                (marks.get(row, "").rjust(label_width), "chart--axis"),
                ("┤" if row in marks else "│", "chart--axis"),
            ]
            for char, colour in grid[row]:
                if runs and runs[-1][1] == colour:
                    runs[-1] = (runs[-1][0] + char, colour)
                else:
                    runs.append((char, colour))
            out.append(runs)
        axis = ["─"] * cols
        labels = [" "] * width
        lo, hi = self.xlim or (0.0, 1.0)
        span = hi - lo or 1.0
        for value, text in self.xticks:
            at = round((value - lo) / span * (cols - 1))
            if 0 <= at < cols:
                axis[at] = "┬"
                _place(labels, text, label_width + 1 + at)
        out.append([(" " * label_width, ""), ("└" + "".join(axis), "chart--axis")])
        out.append([("".join(labels), "chart--axis")])
        legend: list[tuple[str, str]] = [(" " * (label_width + 1), "")]
        for index, line in enumerate(self.lines):
            legend.append(("▬▬ ", f"chart--s{index % SERIES}"))
            legend.append((f"{line.name}   ", ""))
        out.append(legend)
        return out[:height]

    def _plot(self, rows: int, cols: int, ceiling: float) -> list[list[tuple[str, str]]]:
        """Each plot cell's braille character and the colour of the first series in it."""
        bits = [[0] * cols for _ in range(rows)]
        owner: list[list[int]] = [[-1] * cols for _ in range(rows)]
        lo, hi = self.xlim or (0.0, 1.0)
        span = hi - lo or 1.0
        dots_x, dots_y = cols * 2 - 1, rows * 4 - 1
        # The first series (the biggest) is drawn last: its colour wins a shared cell.
        for index in range(len(self.lines) - 1, -1, -1):
            line = self.lines[index]
            points = [
                (round((x - lo) / span * dots_x), round((1 - y / ceiling) * dots_y))
                for x, y in zip(line.xs, line.ys, strict=True)
            ]
            dots: set[tuple[int, int]] = set()
            for (x0, y0), (x1, y1) in itertools.pairwise(points):
                steps = max(abs(x1 - x0), abs(y1 - y0), 1)
                for step in range(steps + 1):
                    dots.add((x0 + (x1 - x0) * step // steps, y0 + (y1 - y0) * step // steps))
            if len(points) == 1:
                dots.add(points[0])
            for x, y in dots:
                if 0 <= x <= dots_x and 0 <= y <= dots_y:
                    row, col = y // 4, x // 2
                    bits[row][col] |= _BRAILLE_BITS[x % 2][y % 4]
                    owner[row][col] = index
        colours = (*_COLOURS, "")  # owner -1: no series
        return [
            [
                (chr(0x2800 + b) if b else " ", colours[o % SERIES if o >= 0 else SERIES])
                for b, o in zip(bits[row], owner[row], strict=True)
            ]
            for row in range(rows)
        ]
