"""The Enterprise screen's VM table: an enclave's VMs across hosts (Figure 29)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
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


def _cells(vm: VmRow) -> tuple[Text, ...]:
    # Text, not markup: names come from XE and may hold brackets.
    return (Text(vm.name), Text(vm.host), Text(vm.state), Text(vm.seclabel))


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
        self._shown: list[str] = []
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
        if wanted != self._shown:
            drawn = len(self._shown)
            if drawn and wanted[:drawn] == self._shown:
                for vm_id in wanted[drawn:]:  # the next page: appended
                    self.add_row(*_cells(self._vms[vm_id]), key=vm_id)
                self._shown = wanted
                self._update_cells(wanted[:drawn])
                return
            self.clear()
            for vm_id in wanted:
                self.add_row(*_cells(self._vms[vm_id]), key=vm_id)
            self._shown = wanted
            if current is not None and current.id in self._vms and current.id in wanted:
                self.move_cursor(row=wanted.index(current.id))
            return
        self._update_cells(wanted)

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
        """Draws the next page of matching rows (if any)."""
        if len(self._shown) < self.matching:
            self.limit += PAGE_ROWS
            self._draw()

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
        # The last row of what is drawn (one more page each time: G on 10,000 rows would
        # build them all at once).
        self.move_cursor(row=max(0, self.row_count - 1))

    def action_context(self) -> None:
        vm = self.current_vm()
        if vm is not None:
            self.post_message(self.Chosen(vm))
