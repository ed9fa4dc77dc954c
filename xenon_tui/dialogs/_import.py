"""Template import mode (§3.2.3): bind each placeholder to hardware, then import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from xenon_tui.dialogs._basic import InputDialog

if TYPE_CHECKING:
    from xps.policy import Hardware


class ImportScreen(ModalScreen[Any]):
    """Placeholders with a yellow "!" while missing and a green mark once bound.

    Enter binds the highlighted placeholder; ``i`` imports once the consistency check
    passes (every placeholder bound, no validation error); Escape abandons the import.
    """

    DEFAULT_CSS = """
    ImportScreen { align: center middle; background: $background 60%; }
    ImportScreen > Vertical { width: 95%; height: 90%; border: thick $warning;
                              background: $surface; padding: 0 1; }
    ImportScreen .title { text-style: bold; color: $warning; }
    ImportScreen Label { width: 100%; }
    ImportScreen DataTable { height: 1fr; }
    ImportScreen #import-report { height: auto; max-height: 10; }
    ImportScreen > .import-screen--missing {
        color: $status-text; background: $status-warn; text-style: bold;
    }
    ImportScreen > .import-screen--bound {
        color: $status-text; background: $status-ok; text-style: bold;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"import-screen--missing", "import-screen--bound"}
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Abandon import"),
        Binding("enter", "bind", "Assign hardware"),
        Binding("i", "import_policy", "Import"),
    ]

    def __init__(self, template: Any, hardware: Hardware, source: str) -> None:
        super().__init__()
        self.template, self.hardware, self.source = template, hardware, source
        self.mapping: dict[str, str] = {}
        self.result: Any = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"IMPORT MODE — template {self.source}", classes="title", markup=False)
            yield Label(
                "Enter: assign hardware to the highlighted placeholder   i: import   Esc: abandon",
                markup=False,
            )
            yield DataTable(id="placeholders", cursor_type="row")
            yield Static("", id="import-report", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "Placeholder", "Kind", "Bound to", "Hint")
        self.check()

    def check(self) -> None:
        """Re-runs the consistency check with the current mapping and redraws."""
        from xps.policy import instantiate_template

        self.result = instantiate_template(self.template, self.hardware, self.mapping)
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        hints = {p.name: p.description for p in self.template.placeholders}
        missing_style = self.get_component_rich_style("import-screen--missing", partial=True)
        bound_style = self.get_component_rich_style("import-screen--bound", partial=True)
        for state in self.result.placeholders:
            mark = (
                Text(" ! ", style=missing_style)
                if state.bound_to is None
                else Text(" ✓ ", style=bound_style)
            )
            table.add_row(
                mark,
                state.name,
                str(state.kind),
                state.bound_to or "",
                hints.get(state.name, ""),
                key=state.name,
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        missing = len(self.result.missing)
        errors = [f"{f.code}: {f.message}" for f in self.result.errors][:6]
        verdict = (
            "Consistent: press i to import."
            if self.result.complete
            else f"{missing} placeholder(s) missing; {len(self.result.errors)} error(s)."
        )
        self.query_one("#import-report", Static).update("\n".join([verdict, *errors]))

    def states(self) -> Mapping[str, str]:
        """Placeholder name -> ``missing`` / ``bound``."""
        return {p.name: p.state for p in self.result.placeholders}

    @work(group="import-bind", exclusive=True)
    async def action_bind(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        name = self.result.placeholders[table.cursor_row].name
        value = await self.app.push_screen_wait(
            InputDialog(
                f"Assign {name}",
                "PCI address, device path or BUS:DEV of this host (empty unbinds):",
                value=self.mapping.get(name, ""),
            )
        )
        if value is None:
            return
        if value.strip():
            self.mapping[name] = value.strip()
        else:
            self.mapping.pop(name, None)
        try:
            self.check()
        except Exception as exc:  # a value the template cannot use: say why, keep going
            self.mapping.pop(name, None)
            self.check()
            self.notify(str(exc), title="Cannot bind", severity="error")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # The table takes Enter itself; a selected row means "assign this one".
        event.stop()
        self.action_bind()

    def action_import_policy(self) -> None:
        if self.result is None or not self.result.complete:
            self.notify(
                "Assign every placeholder and fix the errors first.",
                title="Not consistent",
                severity="warning",
            )
            return
        self.dismiss(self.result.policy)

    def action_cancel(self) -> None:
        self.dismiss(None)
