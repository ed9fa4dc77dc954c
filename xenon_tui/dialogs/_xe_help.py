"""The Enterprise screen's `?` help, generated from its key table's rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from xenon_tui.dialogs._help import key_display


def xe_help_table(rows: Sequence[tuple[str, str, str, str]]) -> Table:
    """A Rich table of ``(section, keys, description, id)`` rows, one section per title."""
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("Keys", style="bold", no_wrap=True, width=12)
    table.add_column("Action", ratio=3)
    table.add_column("id", style="dim", no_wrap=True)
    section = None
    for title, keys, description, action_id in rows:
        if title != section:
            table.add_section()
            table.add_row("", f"[b]{title}[/b]", "")
            section = title
        shown = key_display(keys).replace("full_stop", ".")
        table.add_row(shown or "—", description, action_id)
    return table


class XeHelpScreen(ModalScreen[None]):
    """Lists the Enterprise screen's keys; Escape or `?` closes."""

    DEFAULT_CSS = """
    XeHelpScreen { align: center middle; background: $background 60%; }
    XeHelpScreen > Vertical { width: 90%; height: 90%; border: thick $primary;
                              background: $surface; padding: 0 1; }
    XeHelpScreen .title { text-style: bold; color: $primary; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,question_mark,q", "close", "Close")
    ]

    def __init__(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        super().__init__()
        self._rows = tuple(rows)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Xenon Enterprise — keys (Esc closes)", classes="title")
            with VerticalScroll():
                yield Static(xe_help_table(self._rows), id="xe-help")

    def action_close(self) -> None:
        self.dismiss(None)


def keys_help(screen: Screen[None], title: str) -> XeHelpScreen:
    """The `?` help of a screen: its own keys (those it offers now), from its bindings."""
    rows = []
    for binding in screen.BINDINGS:
        assert isinstance(binding, Binding)
        if screen.check_action(binding.action, ()) is False:
            continue
        rows.append((title, binding.key, binding.description, binding.id or ""))
    return XeHelpScreen(rows)
