"""The Enterprise screen's VM list: an enclave's VMs across hosts (Figure 29), drawn with
Textual's line API (only the lines on screen are drawn, each kept per row until it changes)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from operator import attrgetter
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from xenon_tui._xe import VmRow
from xenon_tui.widgets._xe_keys import xe_bindings

COLUMNS = ("Name", "Host", "State", "SecLabel")

STATE_WIDTH = 7
"""Width of the State column (``stopped``, ``running``, ``unknown``: the 80-column layout;
it is drawn ``…`` first, then the host's answer, and must not move the SecLabels)."""

PADDING = 1
"""Blank cells on each side of a column (as Textual's DataTable draws them)."""

VISIBLE_GUESS = 50
"""Rows taken as visible before the list has a size."""


def search_key(vm: VmRow) -> str:
    """What a `/` filter looks in: the VM's columns, casefolded, apart (no match across)."""
    return "\0".join((vm.name, vm.host, vm.state, vm.seclabel)).casefold()


def matches(vm: VmRow, text: str) -> bool:
    """Whether a `/` filter keeps ``vm`` (case-insensitive, any of its columns)."""
    return text.casefold() in search_key(vm)


def _printable(text: str) -> str:
    # Names come from XE: a control character must not reach the terminal.
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def _width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def _cells(vm: VmRow) -> tuple[str, str, str, str]:
    return (_printable(vm.name), _printable(vm.host), _printable(vm.state),
            _printable(vm.seclabel))  # fmt: skip


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One row's text: each cell padded to its column (cut to it if wider)."""
    pad = " " * PADDING
    parts = []
    for text, width in zip(cells, widths, strict=True):
        if text.isascii() and len(text) <= width:
            parts.append(pad + text.ljust(width) + pad)
        else:
            parts.append(pad + set_cell_size(text, width) + pad)
    return "".join(parts)


class XeVmTable(ScrollView, can_focus=True):
    """VMs of the selected enclave: name, host, state, SecLabel; one row per VM id.

    :meth:`show` takes the enclave's VMs (a poll redraws only the lines of rows that
    changed); ``filter`` narrows them to the matching rows, in memory over a casefolded
    index built as rows arrive. Every matching row is in the list: a row count change
    sets the scroll size only (no layout of the screen), and only the lines on screen
    are drawn, each kept until its VM, its place (cursor, stripe) or the styles change.
    """

    DEFAULT_CSS = """
    XeVmTable {
        height: 1fr; border: round $primary 40%; background: $surface; color: $foreground;
    }
    XeVmTable:focus { border: round $primary; background-tint: $foreground 5%; }
    XeVmTable > .xe-vms--header { text-style: bold; background: $panel; color: $foreground; }
    XeVmTable:ansi > .xe-vms--header { background: ansi_bright_blue; color: ansi_default; }
    XeVmTable:focus > .xe-vms--header { background-tint: $foreground 5%; }
    XeVmTable > .xe-vms--even-row { background: $surface-lighten-1 50%; }
    XeVmTable:dark > .xe-vms--even-row { background: $surface-darken-1 40%; }
    XeVmTable > .xe-vms--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    XeVmTable:focus > .xe-vms--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    XeVmTable > .xe-vms--hover { background: $block-hover-background; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "xe-vms--header",
        "xe-vms--even-row",
        "xe-vms--cursor",
        "xe-vms--hover",
    }
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First", show=False),
        Binding("end,ctrl+end", "last", "Last", show=False),
        *xe_bindings("list"),
        *xe_bindings("vms"),
    ]

    class Chosen(Message):
        """Enter or `.` on a VM: open its context actions."""

        def __init__(self, vm: VmRow) -> None:
            super().__init__()
            self.vm = vm

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._vms: dict[str, VmRow] = {}
        self._index: list[tuple[str, str]] = []  # (id, search key) in order
        self._keys: dict[str, str] = {}  # id -> search key (reused while the row is equal)
        self._rows: list[str] = []  # ids of the matching rows, in order
        self._widths: tuple[int, ...] = tuple(_width(c) for c in COLUMNS)
        self.cursor_row = 0
        self._hover = -1  # the row under the mouse (-1: none)
        self._show_hover = False  # the mouse moved since the last key
        self.matching = 0  # rows the filter keeps
        self.filter = ""
        self.lines_drawn = 0  # row lines built (not taken from the cache): tests count them
        # Styles resolved once per theme and focus (see render_lines), and each row's line
        # (id -> row, flags, strip) for one width, sideways scroll, columns and styles.
        self._theme_count = 0
        self._styled_for: tuple[int, bool] = (-1, False)
        self._styles: dict[str, Style] = {}
        self._lines: dict[str, tuple[VmRow, int, Strip]] = {}
        self._header: Strip | None = None
        self._lines_for: tuple[Any, ...] = ()

    def on_mount(self) -> None:
        self._sync_size()
        # Published once the new theme's CSS is applied (the theme's name changes before).
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        self._theme_count += 1
        self.refresh()

    # -- data ------------------------------------------------------------------------------

    @property
    def rows_shown(self) -> list[VmRow]:
        """The VMs in the list (those the filter keeps), in order."""
        return [self._vms[k] for k in self._rows]

    @property
    def row_count(self) -> int:
        """Rows in the list."""
        return len(self._rows)

    def show(self, vms: Sequence[VmRow]) -> None:
        """Shows ``vms`` (already sorted), keeping the cursor on the same VM."""
        old = self._vms
        self._vms = {v.id: v for v in vms}
        keys = {}
        for v in vms:
            key = self._keys.get(v.id)
            keys[v.id] = key if key is not None and old.get(v.id) == v else search_key(v)
        self._keys = keys
        self._index = list(keys.items())
        widths = self._measure(vms)
        if widths != self._widths:
            self._widths = widths
            self._lines, self._header = {}, None
        self._draw()

    def set_filter(self, text: str) -> None:
        """Keeps only the VMs matching ``text`` (empty: all)."""
        self.filter = text.strip()
        self._draw()

    def on_screen(self, fallback: Sequence[VmRow] = ()) -> list[VmRow]:
        """The rows on screen now (before the first show: the first of ``fallback``)."""
        if not self._rows:
            return list(fallback[:VISIBLE_GUESS])
        top = int(self.scroll_y)
        return [self._vms[k] for k in self._rows[top : top + self._body_height()]]

    def current_vm(self) -> VmRow | None:
        """The VM under the cursor."""
        if not self._rows or self.cursor_row >= len(self._rows):
            return None
        return self._vms.get(self._rows[self.cursor_row])

    def vm_row(self, key: str) -> VmRow | None:
        """The VM of an id."""
        return self._vms.get(key)

    def _measure(self, vms: Sequence[VmRow]) -> tuple[int, ...]:
        # Every VM of the enclave, not only the matching ones: the columns stay put while
        # a filter is typed.
        widths = [_width(c) for c in COLUMNS]
        widths[2] = STATE_WIDTH
        if vms:
            for column, field in ((0, "name"), (1, "host"), (3, "seclabel")):
                texts = list(map(attrgetter(field), vms))
                # One pass over the lot when it is ASCII (10,000 names: a millisecond).
                width = max(map(len if "".join(texts).isascii() else _width, texts))
                widths[column] = max(widths[column], width)
        return tuple(widths)

    def _draw(self) -> None:
        needle = self.filter.casefold()
        if needle:
            rows = [vm_id for vm_id, key in self._index if needle in key]
        else:
            rows = [vm_id for vm_id, _ in self._index]
        self.matching = len(rows)
        if rows == self._rows:
            # A poll: the same rows; the lines on screen whose VM changed are drawn again.
            self._sync_size()
            self._caption()
            self._refresh_changed()
            return
        current = self.current_vm()
        self._rows = rows
        self._sync_size()
        self._caption()
        at = 0
        if current is not None:
            # The cursor stays on its VM while the filter keeps it (else: the first row).
            with contextlib.suppress(ValueError):
                at = rows.index(current.id)
        self.cursor_row = at
        self._show_hover = False
        self._scroll_to_cursor()
        self.refresh()

    def _refresh_changed(self) -> None:
        top, height = int(self.scroll_y), self._body_height()
        for index in range(top, min(top + height, len(self._rows))):
            vm_id = self._rows[index]
            drawn = self._lines.get(vm_id)
            if drawn is not None and drawn[0] != self._vms[vm_id]:
                self._refresh_row(index)

    def _sync_size(self) -> None:
        """The scroll size follows the rows (one line each, and the header's)."""
        width = sum(self._widths) + 2 * PADDING * len(self._widths)
        size = Size(width, len(self._rows) + 1)
        if size == self.virtual_size:
            return
        # Not the reactive's own setter: it lays the whole screen out again (every panel)
        # for each filter key, while the list's height is fixed (1fr) and only its
        # scrollbars follow the row count. A scrollbar that appears or goes still asks
        # for a layout (its own reactive does).
        self.set_reactive(XeVmTable.virtual_size, size)
        if self.is_mounted:
            self._scroll_update(size)

    def _caption(self) -> None:
        total = len(self._vms)
        if self.filter:
            self.border_subtitle = f"{self.matching:,} of {total:,} match"
        elif total > self._body_height():
            self.border_subtitle = f"{total:,} VMs · / narrows"
        else:
            self.border_subtitle = None

    def on_resize(self) -> None:
        self._caption()
        self._scroll_to_cursor()

    # -- drawing ---------------------------------------------------------------------------

    def _body_height(self) -> int:
        height = self.scrollable_content_region.height
        return height - 1 if height > 1 else VISIBLE_GUESS

    def render_lines(self, crop: Region) -> list[Strip]:
        styled_for = (self._theme_count, self.has_focus)
        if styled_for != self._styled_for:
            self._styled_for = styled_for
            base = self.rich_style
            get = self.get_component_rich_style
            self._styles = {
                "base": base,
                "header": base + get("xe-vms--header"),
                "even": base + get("xe-vms--even-row"),
                "cursor": get("xe-vms--cursor"),
                "hover": get("xe-vms--hover"),
            }
        lines_for = (self.scroll_offset.x, self.size.width, self._widths, styled_for)
        if lines_for != self._lines_for or len(self._lines) > 4 * max(crop.height, 64):
            self._lines_for = lines_for
            self._lines = {}
            self._header = None
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_y = self.scroll_offset.y
        width = self.size.width
        styles = self._styles
        if y == 0:
            if self._header is None:
                self._header = self._strip(_line(COLUMNS, self._widths), styles["header"])
            return self._header
        index = scroll_y + y - 1
        if index >= len(self._rows):
            return Strip.blank(width, styles["base"])
        vm_id = self._rows[index]
        vm = self._vms[vm_id]
        cursor = index == self.cursor_row
        hover = self._show_hover and index == self._hover
        flags = (index % 2 == 0) | cursor << 1 | hover << 2
        known = self._lines.get(vm_id)
        if known is not None and known[1] == flags and (known[0] is vm or known[0] == vm):
            return known[2]
        style = styles["even"] if index % 2 == 0 else styles["base"]
        if hover:
            style += styles["hover"]
        if cursor:
            style += styles["cursor"]
        strip = self._strip(_line(_cells(vm), self._widths), style)
        self._lines[vm_id] = (vm, flags, strip)
        self.lines_drawn += 1
        return strip

    def _strip(self, text: str, style: Style) -> Strip:
        """One line: ``text`` in ``style`` scrolled sideways, the rest of the width blank in
        the same style (a row's stripe and cursor go across, as the DataTable's did)."""
        scroll_x, width = self.scroll_offset.x, self.size.width
        if text.isascii():
            # One segment, one Strip: each Strip operation (crop, extend) builds another
            # with its caches, a cost paid per line on screen for every filter key.
            shown = text[scroll_x : scroll_x + width].ljust(width)
            return Strip([Segment(shown, style)], width)
        strip = Strip([Segment(text, style)], cell_len(text)).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, style)

    def _refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_y) + 1
        if 0 < y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # -- cursor ----------------------------------------------------------------------------

    def move_cursor(self, *, row: int) -> None:
        """Puts the cursor on ``row`` (clamped), scrolled into view."""
        if self._show_hover:  # a key: the mouse's row is not marked any more
            self._show_hover = False
            self._refresh_row(self._hover)
        old = self.cursor_row
        self.cursor_row = max(0, min(row, len(self._rows) - 1))
        if not self._scroll_to_cursor():
            self._refresh_row(old)
            self._refresh_row(self.cursor_row)

    def _scroll_to_cursor(self) -> bool:
        """Scrolls so the cursor's row is on screen; whether it scrolled."""
        top, height = int(self.scroll_y), self._body_height()
        row = self.cursor_row
        if row < top:
            target = row
        elif row >= top + height:
            target = row - height + 1
        else:
            return False
        self.scroll_to(y=target, animate=False, immediate=True)
        return True

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self._body_height())

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self._body_height())

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self._rows) - 1)

    def action_context(self) -> None:
        vm = self.current_vm()
        if vm is not None:
            self.post_message(self.Chosen(vm))

    # -- mouse -----------------------------------------------------------------------------

    def _row_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return None
        index = int(self.scroll_y) + offset.y - 1
        return index if index < len(self._rows) else None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        row = self._row_at(event)
        old, self._hover = self._hover, -1 if row is None else row
        self._show_hover = True
        if old != self._hover:
            self._refresh_row(old)
            self._refresh_row(self._hover)

    def on_leave(self, _event: events.Leave) -> None:
        if self._hover >= 0:
            old, self._hover = self._hover, -1
            self._refresh_row(old)

    def on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is not None:
            self.move_cursor(row=row)
            self._show_hover = True
