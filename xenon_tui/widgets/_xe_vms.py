"""The Enterprise screen's VM table: an enclave's VMs across hosts (Figure 29)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowKey

from xenon_tui._xe import VmRow
from xenon_tui.widgets._xe_keys import xe_bindings

COLUMNS = ("Name", "Host", "State", "SecLabel")


def _cells(vm: VmRow) -> tuple[Text, ...]:
    # Text, not markup: names come from XE and may hold brackets.
    return (Text(vm.name), Text(vm.host), Text(vm.state), Text(vm.seclabel))


def matches(vm: VmRow, text: str) -> bool:
    """Whether a `/` filter keeps ``vm`` (case-insensitive, any of its columns)."""
    needle = text.casefold()
    return any(needle in value.casefold() for value in (vm.name, vm.host, vm.state, vm.seclabel))


class XeVmTable(DataTable[Text]):
    """VMs of the selected enclave: name, host, state, SecLabel; one row per VM id.

    :meth:`show` redraws only rows that changed (a poll every few seconds must not
    rebuild a table of thousands of rows); ``filter`` narrows it to matching rows.
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
        self._shown: list[str] = []
        self.filter = ""

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name.lower())

    @property
    def rows_shown(self) -> list[VmRow]:
        """The VMs drawn now, in order."""
        return [self._vms[k] for k in self._shown]

    def show(self, vms: Sequence[VmRow]) -> None:
        """Draws ``vms`` (already sorted), keeping the cursor on the same VM."""
        self._vms = {v.id: v for v in vms}
        self._draw()

    def set_filter(self, text: str) -> None:
        """Keeps only the VMs matching ``text`` (empty: all)."""
        self.filter = text.strip()
        self._draw()

    def _draw(self) -> None:
        wanted = [v.id for v in self._vms.values() if not self.filter or matches(v, self.filter)]
        current = self.current_vm()
        if wanted != self._shown:
            self.clear()
            for vm_id in wanted:
                self.add_row(*_cells(self._vms[vm_id]), key=vm_id)
            self._shown = wanted
            if current is not None and current.id in self._vms and current.id in wanted:
                self.move_cursor(row=wanted.index(current.id))
            return
        for vm_id in wanted:
            vm = self._vms[vm_id]
            for column, cell in zip(COLUMNS, _cells(vm), strict=True):
                try:
                    old = self.get_cell(vm_id, column.lower())
                except CellDoesNotExist:
                    old = None
                if old != cell:
                    self.update_cell(vm_id, column.lower(), cell)

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
        self.move_cursor(row=max(0, self.row_count - 1))

    def action_context(self) -> None:
        vm = self.current_vm()
        if vm is not None:
            self.post_message(self.Chosen(vm))
