"""The Policy Violations log: a line-API ScrollView over a bounded ring, instant at 100k+."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Static

from xenon_tui._acks import Acks
from xenon_tui._actions import bindings, check_scoped
from xenon_tui._ring import Violation, ViolationWindow
from xenon_tui.messages import ClearFilter
from xenon_tui.widgets._shown import displayed


class Column(NamedTuple):
    """One column of the log: its preferred and smallest width, and its priority."""

    title: str
    width: int
    """Preferred width; 0: the column takes what remains of the line."""
    least: int
    priority: int
    """0 is kept longest: as the line narrows, the highest numbers go first."""


# What an operator acts on (which domain, which hypercall and sub-op, how often) stays at
# every width, the hypercall never cut ("event_channel_op/3 → 5"); the profile, sequence
# number, SecLabel, kind (also the row's colour) and time give way, in that order.
_COLUMNS: tuple[Column, ...] = (
    Column("Time", 9, 8, 3),
    Column("Seq", 8, 6, 6),
    Column("Domain", 16, 10, 0),
    Column("SecLabel", 16, 10, 5),
    Column("Kind", 8, 7, 4),
    Column("Hypercall", 30, 22, 1),
    Column("Count", 6, 5, 2),
    Column("Profile", 0, 8, 7),
)


_KEPT = 1
"""Columns of this priority or lower are shown at every width (the domain, the hypercall)."""


def layout(width: int) -> list[tuple[int, int]]:
    """The columns shown in ``width`` cells: (index into the row's cells, width), in order.

    Columns are taken by priority while their smallest widths fit (the kept ones always,
    however narrow: the line then scrolls sideways, header included); what is left widens
    them, by priority, up to their preferred width; a flexible last column takes the rest.
    """
    chosen: list[int] = []
    used = -1  # n columns need n - 1 separators
    for index in sorted(range(len(_COLUMNS)), key=lambda i: _COLUMNS[i].priority):
        need = _COLUMNS[index].least + 1
        if _COLUMNS[index].priority > _KEPT and used + need > width:
            break
        chosen.append(index)
        used += need
    widths = {i: _COLUMNS[i].least for i in chosen}
    spare = max(0, width - used)
    for index in chosen:  # by priority
        column = _COLUMNS[index]
        if column.width:
            grow = min(spare, column.width - column.least)
            widths[index] += grow
            spare -= grow
    for index in chosen:
        if not _COLUMNS[index].width:
            widths[index] += spare
    return [(i, widths[i]) for i in sorted(chosen)]


def _cell(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def layout_line(cells: list[str], columns: list[tuple[int, int]]) -> str:
    """One line of the log (a row's cells, or the titles) in a :func:`layout`."""
    return " ".join(_cell(cells[i], w) for i, w in columns)


def _clock(row: Violation) -> str:
    """HH:MM:SS in UTC, the zone of the daemon's violation log (ts is ISO 8601 UTC)."""
    ts_ns = row.get("ts_ns")
    if isinstance(ts_ns, int):
        return time.strftime("%H:%M:%S", time.gmtime(ts_ns // 1_000_000_000))
    ts = row.get("ts")
    if isinstance(ts, str) and "T" in ts:
        return ts.split("T", 1)[1][:8]
    if isinstance(ts, int | float):
        return time.strftime("%H:%M:%S", time.gmtime(ts))
    return ""


def format_row(row: Violation) -> list[str]:
    """The visible cells of one violation (also used by tests and the header)."""
    clock = _clock(row)
    call = str(row.get("hypercall_name") or row.get("hypercall") or "")
    subop = row.get("subop")
    if subop not in (None, -1):
        call = f"{call}/{subop}"
    if row.get("kind") == "channel" and row.get("peer") is not None:
        call = f"{call} → {row['peer']}"
    return [
        clock,
        str(row.get("seq", "")),
        str(row.get("domain") or row.get("domid", "")),
        str(row.get("seclabel_name") or row.get("seclabel") or ""),
        str(row.get("kind", "")),
        call,
        str(row.get("count", 1)),
        str(row.get("profile") or ""),
    ]


def header_text(width: int = 0) -> str:
    """The column header line for a log ``width`` cells wide (0: every column)."""
    titles = [c.title for c in _COLUMNS]
    return layout_line(titles, layout(width or 10_000)).rstrip()


REPAINT_S = 0.25
"""A shown log repaints for arriving rows at most this often (the first batch after a quiet
spell at once). Once a second (tried in session 9) made the Violations view cheaper at idle
but showed a burst up to a second late, and a 100k-row batch took 800 ms to appear
(``violation_log_100k_ms``, goal 100): an operator watching an incident sees rows within
a quarter of a second."""


TRICKLE_S = 1.0
"""A shown log repaints for a trickle (fewer than ``TRICKLE_ROWS`` rows waiting) at most
this often; more rows waiting repaint at ``REPAINT_S``, and the first row after a quiet
spell at once. The demo's trickle (one or two rows, 1.5 times a second) repainted the
whole log each time: each new row on top moves every shown row down a line, and over SSH
that is every line of the log sent again. A 100k-row burst still shows within
``REPAINT_S`` (``violation_log_100k_ms``), which a plain 1 s interval did not."""

TRICKLE_ROWS = 10


class ViolationLog(ScrollView, can_focus=True):
    """Renders only the visible rows of a :class:`ViolationWindow` (Textual's line API)."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        *bindings("list"),
        *bindings("violations"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "violation-log--cursor",
        "violation-log--rate",
        "violation-log--channel",
        "violation-log--acked",
    }

    DEFAULT_CSS = """
    ViolationLog { height: 1fr; background: $surface; }
    ViolationLog > .violation-log--cursor {
        background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground;
        text-style: bold;
    }
    ViolationLog:focus > .violation-log--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
    }
    ViolationLog > .violation-log--rate { color: $warning; }
    ViolationLog > .violation-log--channel { color: $error; }
    ViolationLog > .violation-log--acked { text-style: dim; }
    """

    cursor: reactive[int] = reactive(0)

    class Selected(Message):
        """The cursor moved to a violation."""

        def __init__(self, violation: Violation) -> None:
            super().__init__()
            self.violation = violation

    class PauseRequested(Message):
        """The user asked to pause the domain of a violation."""

        def __init__(self, violation: Violation) -> None:
            super().__init__()
            self.violation = violation

    class ProfileRequested(Message):
        """The user asked to open the SecLabel's profile with the missing hypercall."""

        def __init__(self, violation: Violation) -> None:
            super().__init__()
            self.violation = violation

    class AlertCleared(Message):
        """The user acknowledged the violation alert."""

    class AckRequested(Message):
        """The user asked to acknowledge the violations up to ``violation`` (of its
        domain only with ``domain_only``)."""

        def __init__(self, violation: Violation, domain_only: bool) -> None:
            super().__init__()
            self.violation = violation
            self.domain_only = domain_only

    class ResolveRequested(Message):
        """The user asked to resolve the domain of a violation (reset and resume)."""

        def __init__(self, violation: Violation) -> None:
            super().__init__()
            self.violation = violation

    class FollowChanged(Message):
        """The log started or stopped following the newest rows (``new`` rows above)."""

        def __init__(self, follow: bool, new: int) -> None:
            super().__init__()
            self.follow = follow
            self.new = new

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return check_scoped(self, "violations", action, parameters)

    def __init__(self, *, capacity: int = 200_000, id: str | None = None) -> None:
        super().__init__(id=id)
        self._capacity = capacity
        self._styles: dict[str | None, Style] = {None: Style()}
        self.window = ViolationWindow(capacity)
        # The columns fitted to the width the log has (see ``layout``), and the length of
        # a line in them: the log scrolls sideways only when its first columns do not fit.
        self._fitted_to = -1
        self._columns = layout(0)
        self._width = 0
        # Following: the cursor is on the newest row and stays there as rows arrive. Any
        # move by the user pins the selection to the *record* under the cursor instead:
        # rows arriving above shift the cursor with it, actions act on that record, and
        # ``new_above`` counts what arrived since (the "N new ↑" marker).
        self.follow = True
        self.new_above = 0
        self._pinned: Violation | None = None
        #: The shown server's acknowledgements (acked rows are dimmed).
        self.acks = Acks()
        # Rows arrived while the log was hidden: scrollbars and paint are brought up to
        # date when it is shown again (see ``on_show``).
        self._behind = False
        # Repaints for batches of rows: at most one per REPAINT_S (see _repaint).
        self._painted_at = -1e9
        self._repaint_due = False
        self._repaint_at = 0.0  # when the timed repaint comes
        self._repaint_timer: Timer | None = None
        self._due_rows = 0  # rows arrived since the last repaint
        self._size_due = False  # the scrollbars wait for that repaint
        # Each row's drawn line (id of the row -> row, cursor on it, acked, line), for one
        # set of columns, styles, width and sideways scroll (``_lines_for``). Rows arrive
        # on top and push the others down: a repaint then draws one new line and takes
        # the rest from here (formatting every visible row was the log's idle cost).
        self._lines: dict[int, tuple[Violation, bool, bool, Strip]] = {}
        self._lines_for: tuple[Any, ...] = ()
        self._styled_for: tuple[int, bool] = (-1, False)
        self._theme_count = 0  # themes applied since mount (the styles follow them)

    # -- data ------------------------------------------------------------------------------

    def add_violations(self, rows: Iterable[Violation]) -> int:
        """Appends a batch from the daemon (oldest first).

        Following, the newest row stays selected; pinned, the selected record and the rows
        being read stay where they are while the new ones go on top, counted in
        ``new_above``.
        """
        added = self.window.extend(rows)
        if added:
            # Following, the scrollbars follow the row count with the next repaint (each
            # update repaints both bars: a screen update per batch of its own); pinned, at
            # once, as the rows being read are scrolled down by the ones added.
            self._sync_size(deferred=self.follow)
            if not self.follow:
                # Newest rows go on top: shift so what the user is reading does not move.
                # set_reactive: this is not a user move, so no watcher and no Selected.
                self.set_reactive(
                    ViolationLog.cursor, min(self.cursor + added, len(self.window) - 1)
                )
                self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)
                self.new_above += added
            self._repaint(added)
        return added

    def _repaint(self, rows: int = TRICKLE_ROWS) -> None:
        """Repaints for ``rows`` new rows (or another change: as many as a burst) if the
        log is shown, else once it is: at most once per ``REPAINT_S``, or per
        ``TRICKLE_S`` while fewer than ``TRICKLE_ROWS`` rows wait (the first batch after a
        quiet spell at once, the ones that follow it within the interval together at its
        end)."""
        if not displayed(self):
            self._behind = True
            return
        self._due_rows += rows
        interval = REPAINT_S if self._due_rows >= TRICKLE_ROWS else TRICKLE_S
        now = time.monotonic()
        wait = interval - (now - self._painted_at)
        if self._repaint_due and self._repaint_at <= now + max(wait, 0.0):
            return  # already timed, as soon or sooner
        if self._repaint_timer is not None:
            self._repaint_timer.stop()  # a burst came: sooner than timed for a trickle
            self._repaint_timer = None
        if wait <= 0:
            self._flush_repaint()
        else:
            self._repaint_due = True
            self._repaint_at = now + wait
            self._repaint_timer = self.set_timer(wait, self._flush_repaint)

    def _flush_repaint(self) -> None:
        self._repaint_due = False
        self._repaint_timer = None
        self._due_rows = 0
        if not displayed(self):
            # Hidden since the repaint was timed (another view shown): drawn when shown.
            self._behind = True
            return
        self._painted_at = time.monotonic()
        if self._size_due:
            self._size_due = False
            self._scroll_update(self.virtual_size)
        self.refresh()

    def on_show(self) -> None:
        if self._behind:
            self._behind = False
            self._scroll_update(self.virtual_size)
            self.refresh()

    def set_filter(self, text: str) -> None:
        """Applies a `/` filter and goes back to following the newest row."""
        self.window.set_filter(text)
        self._follow_newest()

    def use_window(self, window: ViolationWindow | None) -> None:
        """Shows a server's window (None: an empty one), with its own filter.

        The same window again (a server's data refreshed) keeps the selection as it is.
        """
        if window is not None and window is self.window:
            self._sync_size()
            self._repaint()
            return
        self.window = window if window is not None else ViolationWindow(self._capacity)
        self._follow_newest()

    def _follow_newest(self) -> None:
        changed = not self.follow or self.new_above
        self.follow, self.new_above, self._pinned = True, 0, None
        self.set_reactive(ViolationLog.cursor, 0)
        self._sync_size()
        self.scroll_to(y=0, animate=False, immediate=True)
        self._repaint()
        if changed:
            self.post_message(self.FollowChanged(True, 0))

    def selected(self) -> Violation | None:
        """The selected violation: the pinned record, else the one under the cursor."""
        if self._pinned is not None:
            return self._pinned
        if not len(self.window):
            return None
        return self.window.row(min(self.cursor, len(self.window) - 1))

    def _sync_size(self, *, deferred: bool = False) -> None:
        """The virtual size follows the rows; the scrollbars at once, or with the next
        repaint when ``deferred`` (which the caller then asks for)."""
        size = Size(self._width, len(self.window))
        if size == self.virtual_size:
            return
        # Not the reactive's own setter: it asks for a layout pass of the whole screen
        # (every view, the trees of the Policy view too) for each batch of rows, while the
        # log's height is fixed (1fr) and only its scrollbars follow the row count. A
        # scrollbar that appears or goes still asks for one (its own reactive does).
        self.set_reactive(ViolationLog.virtual_size, size)
        if not displayed(self):
            self._behind = True
        elif deferred:
            self._size_due = True
        else:
            self._size_due = False
            self._scroll_update(size)

    def _fit(self) -> None:
        """Fits the columns to the width the rows have now (a resize, a scrollbar)."""
        width = self.scrollable_content_region.width
        if width == self._fitted_to or width <= 0:
            return
        self._fitted_to = width
        self._columns = layout(width)
        self._width = max(width, sum(w for _, w in self._columns) + len(self._columns) - 1)
        self._sync_size()
        self._show_header()

    def _show_header(self) -> None:
        """Draws the titles in the header line above the log, scrolled as the rows are.

        The header is the ``#violations-header`` Static the host screen composes right
        above the log; the log owns its text so titles and cells always share columns.
        """
        parent = self.parent
        if parent is None:
            return
        header = next(iter(parent.query_children("#violations-header")), None)
        if not isinstance(header, Static):
            return
        line = layout_line([c.title for c in _COLUMNS], self._columns).ljust(self._width)
        left = self.scroll_offset.x  # rounded as the rows are
        header.update(Text(line[left : left + self._fitted_to], no_wrap=True, end=""))

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_x(old_value, new_value)
        if round(old_value) != round(new_value):
            self._show_header()

    def on_resize(self) -> None:
        self._fit()

    def on_mount(self) -> None:
        self._sync_size()
        # Published once the new theme's CSS is applied (the theme's name changes before).
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        self._theme_count += 1
        self.refresh()

    # -- rendering -------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        self._fit()
        # Styles are resolved once per theme and focus (the cursor's depends on it), not
        # once per line or paint (each costs a walk of the CSS and the ancestors).
        styled_for = (self._theme_count, self.has_focus)
        if styled_for != self._styled_for:
            self._styled_for = styled_for
            base = self.rich_style
            self._styles = {
                None: base,
                "rate": base + self.get_component_rich_style("violation-log--rate"),
                "channel": base + self.get_component_rich_style("violation-log--channel"),
                "cursor": self.get_component_rich_style("violation-log--cursor"),
                "acked": self.get_component_rich_style("violation-log--acked", partial=True),
            }
        drawn_for = (self.scroll_offset.x, self.size.width, tuple(self._columns), styled_for)
        if drawn_for != self._lines_for or len(self._lines) > 4 * max(crop.height, 64):
            self._lines_for = drawn_for
            self._lines = {}
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        styles = self._styles
        if index >= len(self.window):
            return Strip.blank(width, styles[None])
        row = self.window.row(index)
        acked = bool(self.acks.items) and self.acks.covering(row) is not None
        cursor = index == self.cursor
        known = self._lines.get(id(row))
        if known is not None and known[0] is row and known[1] == cursor and known[2] == acked:
            return known[3]
        cells = format_row(row)
        text = layout_line(cells, self._columns)
        kind = row.get("kind")
        style: Style = styles.get(kind, styles[None])
        if acked:
            style = style + styles["acked"]
        if cursor:
            style = style + styles["cursor"]
        strip = Strip([Segment(text, style)])
        line = strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, style)
        self._lines[id(row)] = (row, cursor, acked, line)
        return line

    # -- cursor ----------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_y)
        height = max(1, self.scrollable_content_region.height)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False, immediate=True)
        self.refresh()
        row = self.selected()
        if row is not None:
            self.post_message(self.Selected(row))

    def _move(self, to: int) -> None:
        """A user move: pins the selection to the record it lands on."""
        count = len(self.window)
        if not count:
            return
        to = max(0, min(to, count - 1))
        self._pinned = self.window.row(to)
        if self.follow:
            self.follow = False
            self.post_message(self.FollowChanged(False, self.new_above))
        if to == self.cursor:
            self.refresh()
        self.cursor = to

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_cursor_down(self) -> None:
        self._move(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self._move(self.cursor - 1)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self.action_page(1)

    def action_page_up(self) -> None:
        self.action_page(-1)

    def action_list_first(self) -> None:
        """Home/g: the oldest row kept (the log is newest first)."""
        self._move(len(self.window) - 1)

    def action_list_last(self) -> None:
        """End/G: the newest row, following the ones that arrive."""
        self._follow_newest()
        row = self.selected()
        if row is not None:
            self.post_message(self.Selected(row))

    def action_clear_filter(self) -> None:
        self.post_message(ClearFilter())

    def on_click(self, event: Any) -> None:
        self._move(int(self.scroll_y) + event.y)

    # -- actions from the table ------------------------------------------------------------

    def action_pause_domain(self) -> None:
        row = self.selected()
        if row is not None:
            self.post_message(self.PauseRequested(row))

    def action_open_profile(self) -> None:
        row = self.selected()
        if row is not None:
            self.post_message(self.ProfileRequested(row))

    def set_acks(self, acks: Acks) -> None:
        """Shows a server's acknowledgements (the same object again: redraws)."""
        self.acks = acks
        self._repaint()

    def action_clear_alert(self) -> None:
        """Ctrl+L: acknowledges every violation up to the selected one (on the host)."""
        self.post_message(self.AlertCleared())
        row = self.selected()
        if row is not None:
            self.post_message(self.AckRequested(row, domain_only=False))

    def action_ack_domain(self) -> None:
        row = self.selected()
        if row is not None:
            self.post_message(self.AckRequested(row, domain_only=True))

    def action_resolve(self) -> None:
        row = self.selected()
        if row is not None:
            self.post_message(self.ResolveRequested(row))
