"""The Enterprise screen's VM table: an enclave's VMs across hosts (Figure 29)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowKey

from xenon_tui._xe import FIRST_PAGE, VmRow
from xenon_tui.widgets._xe_keys import xe_bindings

COLUMNS = ("Name", "Host", "State", "SecLabel")

PAGE_ROWS = FIRST_PAGE
"""Rows drawn at a time: moving past the last drawn row draws the next page (a DataTable
of 10,000 rows takes about a second to build; a page, milliseconds)."""

STATE_WIDTH = 7
"""Width of the State column (``stopped``, ``running``, ``unknown``: the 80-column layout)."""

VISIBLE_GUESS = 50
"""Rows taken as visible before the table has a size."""

REST_S = 0.2
"""Quiet time after which the rest of a page (the rows below the visible ones) is drawn.
A `/` filter key redraws the table: drawing only the visible rows at once keeps each key
to ~50 rows instead of a 200-row page (each row's cells are measured for the column
widths), and the rest follows when the keys pause (or at once when the cursor needs it)."""


def _cells(vm: VmRow) -> tuple[Text, ...]:
    # Text, not markup: names come from XE and may hold brackets.
    return (Text(vm.name), Text(vm.host), Text(vm.state), Text(vm.seclabel))


def _plain(cell: object) -> str | None:
    """The text of a cell the fast path may draw: an unstyled one-line ``Text`` of printable
    ASCII (one cell per character); None for any other (drawn by the DataTable itself);
    "" for an empty one (drawn by the DataTable too)."""
    if type(cell) is not Text or cell.spans or cell.style:
        return None
    plain = cell.plain
    return plain if plain.isascii() and plain.isprintable() else None


def search_key(vm: VmRow) -> str:
    """What a `/` filter looks in: the VM's columns, casefolded, apart (no match across)."""
    return "\0".join((vm.name, vm.host, vm.state, vm.seclabel)).casefold()


def matches(vm: VmRow, text: str) -> bool:
    """Whether a `/` filter keeps ``vm`` (case-insensitive, any of its columns)."""
    return text.casefold() in search_key(vm)


class XeVmTable(DataTable[Text]):
    """VMs of the selected enclave: name, host, state, SecLabel; one row per VM id.

    :meth:`show` redraws only rows that changed (a poll every few seconds must not
    rebuild a table of thousands of rows); ``filter`` narrows it to matching rows, in memory
    over a casefolded index built as rows arrive. At most ``limit`` rows are drawn (a page
    at first; moving past the last one draws the next page).
    """

    DEFAULT_CSS = """
    XeVmTable { height: 1fr; border: round $primary 40%; background: $surface; }
    XeVmTable:focus { border: round $primary; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *xe_bindings("list"),
        *xe_bindings("vms"),
    ]

    class Chosen(Message):
        """Enter or `.` on a VM: open its context actions."""

        def __init__(self, vm: VmRow) -> None:
            super().__init__()
            self.vm = vm

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._vms: dict[str, VmRow] = {}
        self._index: list[tuple[str, str]] = []  # (id, search key) in order
        self._keys: dict[str, str] = {}  # id -> search key (reused while the row is equal)
        self._shown: list[str] = []  # drawn rows: a prefix of the page
        self._page: list[str] = []  # the page the filter and limit ask for
        self._rest: Timer | None = None
        self.rows_added = 0  # rows ever added to the DataTable (tests count redraws)
        self.matching = 0  # rows the filter keeps (drawn or not)
        self.limit = PAGE_ROWS
        self.filter = ""

    def on_mount(self) -> None:
        for name in COLUMNS:
            # State has a fixed width: it is drawn "…" first, then the host's answer.
            self.add_column(name, key=name.lower(), width=STATE_WIDTH if name == "State" else None)

    @property
    def rows_shown(self) -> list[VmRow]:
        """The VMs drawn now, in order."""
        return [self._vms[k] for k in self._shown]

    def show(self, vms: Sequence[VmRow]) -> None:
        """Draws ``vms`` (already sorted), keeping the cursor on the same VM."""
        old = self._vms
        self._vms = {v.id: v for v in vms}
        keys = {}
        for v in vms:
            key = self._keys.get(v.id)
            keys[v.id] = key if key is not None and old.get(v.id) == v else search_key(v)
        self._keys = keys
        self._index = list(keys.items())
        self._draw()

    def set_filter(self, text: str) -> None:
        """Keeps only the VMs matching ``text`` (empty: all); the first page is drawn."""
        self.filter = text.strip()
        self.limit = PAGE_ROWS
        self._draw()

    def on_screen(self, fallback: Sequence[VmRow] = ()) -> list[VmRow]:
        """The rows on screen now (before the first draw: the first of ``fallback``)."""
        if not self._shown:
            return list(fallback[:VISIBLE_GUESS])
        top = int(self.scroll_y)
        height = self.size.height or VISIBLE_GUESS
        return [self._vms[k] for k in self._shown[top : top + height] if k in self._vms]

    @property
    def pending(self) -> int:
        """Rows of the page not drawn yet (they follow after :data:`REST_S` of quiet)."""
        return len(self._page) - len(self._shown)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        # A `/` filter key redraws every visible row: the DataTable renders each cell through
        # Rich (a Padding of the Text, styled, cut into lines), most of the key's time under
        # load. Our cells are one-line plain Texts: the same segments are built directly
        # (checked against the DataTable's own in the tests); any other cell goes its way.
        # Textual is pinned (8.2.8): _render_cell is private.
        padding = self.cell_padding
        inner = width - 2 * padding
        if row_index >= 0 and column_index >= 0 and inner >= 0:
            row_key = self._row_locations.get_key(row_index)
            row = self.rows.get(row_key) if row_key is not None else None
            cells = self._data.get(row_key) if row_key is not None else None
            column_key = self._column_locations.get_key(column_index)
            if (
                row is not None
                and row.height == 1
                and cells is not None
                and column_key is not None
                and row_index >= self.fixed_rows
                and column_index >= self.fixed_columns
            ):
                text = _plain(cells.get(column_key))
                if text and len(text) <= inner:
                    return [self._fast_cell(row_index, column_index, base_style, text, inner,
                                            cursor, hover)]  # fmt: skip
        return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)

    def _fast_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        text: str,
        inner: int,
        cursor: bool,
        hover: bool,
    ) -> list[Segment]:
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        meta = Style.from_meta({"row": row_index, "column": column_index})
        style = base_style + meta + component_style + post_style
        pad = " " * self.cell_padding
        line = [Segment(pad, style)] if pad else []
        line.append(Segment(text, style))
        if inner > len(text):
            line.append(Segment(" " * (inner - len(text)), style))
        if pad:
            line.append(Segment(pad, style))
        return line

    def _visible_rows(self) -> int:
        # Rows that fit (the header takes one); a margin for a scroll of a row or two.
        height = self.size.height - 1 if self.size.height > 1 else VISIBLE_GUESS
        return height + 2

    def _add(self, ids: Sequence[str]) -> None:
        for vm_id in ids:
            self.add_row(*_cells(self._vms[vm_id]), key=vm_id)
        self.rows_added += len(ids)

    def _draw(self) -> None:
        needle = self.filter.casefold()
        if needle:
            keep = [vm_id for vm_id, key in self._index if needle in key]
        else:
            keep = [vm_id for vm_id, _ in self._index]
        self.matching = len(keep)
        wanted = keep[: self.limit]
        self._caption()
        current = self.current_vm()
        drawn = len(self._shown)
        if drawn and wanted[:drawn] == self._shown:
            # The same rows on top (a poll, or the next page): the cells that changed; the
            # rows below them follow as after a filter key (the next page: at once).
            self._page = wanted
            self._update_cells(self._shown)
            self._draw_later()
            return
        self.clear()
        self._page = wanted
        eager = self._visible_rows()
        if current is not None and current.id in wanted:
            at = wanted.index(current.id)
            eager = max(eager, at + eager)
        self._shown = wanted[:eager]
        self._add(self._shown)
        if current is not None and current.id in self._shown:
            self.move_cursor(row=self._shown.index(current.id))
        if self._rest is not None:  # a key: the pause starts again
            self._rest.stop()
            self._rest = None
        self._draw_later()

    def _draw_later(self) -> None:
        if self.pending and self._rest is None:
            self._rest = self.set_timer(REST_S, self.draw_rest, name="xe-vms-rest")

    def draw_rest(self) -> None:
        """Draws the rows of the page not drawn yet (none: nothing to do)."""
        if self._rest is not None:
            self._rest.stop()
            self._rest = None
        if self.pending > 0:
            rest = self._page[len(self._shown) :]
            self._add(rest)
            self._shown = self._shown + rest

    def _update_cells(self, ids: Sequence[str]) -> None:
        for vm_id in ids:
            vm = self._vms[vm_id]
            for column, cell in zip(COLUMNS, _cells(vm), strict=True):
                try:
                    old = self.get_cell(vm_id, column.lower())
                except CellDoesNotExist:
                    old = None
                if old != cell:
                    self.update_cell(vm_id, column.lower(), cell)

    def _caption(self) -> None:
        drawn = min(self.limit, self.matching)
        if drawn < self.matching:
            self.border_subtitle = f"{drawn:,} of {self.matching:,} · ↓ more · / narrows"
        elif self.filter:
            self.border_subtitle = f"{self.matching:,} of {len(self._vms):,} match"
        else:
            self.border_subtitle = None

    def more(self) -> None:
        """Draws the rest of this page, or the next page of matching rows (if any)."""
        if self.pending:
            self.draw_rest()
        elif len(self._shown) < self.matching:
            self.limit += PAGE_ROWS
            self._draw()
            self.draw_rest()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= len(self._shown) - 1:
            self.more()

    def current_vm(self) -> VmRow | None:
        """The VM under the cursor."""
        if not self._shown or self.cursor_row >= len(self._shown):
            return None
        return self._vms.get(self._shown[self.cursor_row])

    def vm_row(self, key: RowKey | str) -> VmRow | None:
        """The VM of a row key."""
        value = key.value if isinstance(key, RowKey) else key
        return self._vms.get(value or "")

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        # The last row of the page (one more page each time: G on 10,000 rows would
        # build them all at once).
        self.draw_rest()
        self.move_cursor(row=max(0, self.row_count - 1))

    def action_context(self) -> None:
        vm = self.current_vm()
        if vm is not None:
            self.post_message(self.Chosen(vm))
