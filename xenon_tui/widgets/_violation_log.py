"""The Policy Violations log: a line-API ScrollView over a bounded ring, instant at 100k+."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from xenon_tui._actions import bindings, check_scoped
from xenon_tui._ring import Violation, ViolationWindow
from xenon_tui.messages import ClearFilter

# (title, width, formatter); the last column takes the remaining width.
_COLUMNS: tuple[tuple[str, int], ...] = (
    ("Time", 9),
    ("Seq", 8),
    ("Domain", 16),
    ("SecLabel", 16),
    ("Kind", 8),
    ("Hypercall", 22),
    ("Count", 6),
    ("Profile", 0),
)


def _cell(text: str, width: int) -> str:
    if width <= 0:
        return text
    return text[:width].ljust(width) if len(text) <= width else text[: width - 1] + "…"


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


def header_text() -> str:
    """The column header line."""
    return " ".join(_cell(title, width) for title, width in _COLUMNS)


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
        self._width = sum(w for _, w in _COLUMNS) + len(_COLUMNS) + 40
        # Following: the cursor is on the newest row and stays there as rows arrive. Any
        # move by the user pins the selection to the *record* under the cursor instead:
        # rows arriving above shift the cursor with it, actions act on that record, and
        # ``new_above`` counts what arrived since (the "N new ↑" marker).
        self.follow = True
        self.new_above = 0
        self._pinned: Violation | None = None

    # -- data ------------------------------------------------------------------------------

    def add_violations(self, rows: Iterable[Violation]) -> int:
        """Appends a batch from the daemon (oldest first).

        Following, the newest row stays selected; pinned, the selected record and the rows
        being read stay where they are while the new ones go on top, counted in
        ``new_above``.
        """
        added = self.window.extend(rows)
        if added:
            self._sync_size()
            if not self.follow:
                # Newest rows go on top: shift so what the user is reading does not move.
                # set_reactive: this is not a user move, so no watcher and no Selected.
                self.set_reactive(
                    ViolationLog.cursor, min(self.cursor + added, len(self.window) - 1)
                )
                self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)
                self.new_above += added
            self.refresh()
        return added

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
            self.refresh()
            return
        self.window = window if window is not None else ViolationWindow(self._capacity)
        self._follow_newest()

    def _follow_newest(self) -> None:
        changed = not self.follow or self.new_above
        self.follow, self.new_above, self._pinned = True, 0, None
        self.set_reactive(ViolationLog.cursor, 0)
        self._sync_size()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()
        if changed:
            self.post_message(self.FollowChanged(True, 0))

    def selected(self) -> Violation | None:
        """The selected violation: the pinned record, else the one under the cursor."""
        if self._pinned is not None:
            return self._pinned
        if not len(self.window):
            return None
        return self.window.row(min(self.cursor, len(self.window) - 1))

    def _sync_size(self) -> None:
        self.virtual_size = Size(self._width, len(self.window))

    def on_mount(self) -> None:
        self._sync_size()

    # -- rendering -------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        # Styles are resolved once per paint, not once per line (they dominate otherwise).
        base = self.rich_style
        self._styles = {
            None: base,
            "rate": base + self.get_component_rich_style("violation-log--rate"),
            "channel": base + self.get_component_rich_style("violation-log--channel"),
            "cursor": self.get_component_rich_style("violation-log--cursor"),
        }
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        styles = self._styles
        if index >= len(self.window):
            return Strip.blank(width, styles[None])
        row = self.window.row(index)
        cells = format_row(row)
        text = " ".join(_cell(c, w) for c, (_, w) in zip(cells, _COLUMNS, strict=True))
        kind = row.get("kind")
        style: Style = styles.get(kind, styles[None])
        if index == self.cursor:
            style = style + styles["cursor"]
        strip = Strip([Segment(text, style)])
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, style)

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

    def action_clear_alert(self) -> None:
        self.post_message(self.AlertCleared())
