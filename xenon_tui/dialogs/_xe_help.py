"""The Enterprise screen's `?` help, generated from its key table's rows; the same
screen lists another screen's own keys (:func:`keys_help`) under that screen's title."""

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
    """Lists a screen's keys (by default the Enterprise screen's); Escape or `?` closes.

    Args:
        rows: ``(section, keys, description, id)`` rows.
        title: What the keys are of (the heading says ``<title> — keys``).
    """

    DEFAULT_CSS = """
    XeHelpScreen { align: center middle; background: $background 60%; }
    XeHelpScreen > Vertical { width: 90%; height: 90%; border: thick $primary;
                              background: $surface; padding: 0 1; }
    XeHelpScreen .title { text-style: bold; color: $primary; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,question_mark,q", "close", "Close")
    ]

    def __init__(
        self, rows: Sequence[tuple[str, str, str, str]], title: str = "Xenon Enterprise"
    ) -> None:
        super().__init__()
        self._rows = tuple(rows)
        self.title_text = f"{title} — keys (Esc closes)"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title", markup=False)
            with VerticalScroll():
                yield Static(xe_help_table(self._rows), id="xe-help")

    def action_close(self) -> None:
        self.dismiss(None)


def keys_help(screen: Screen[None], title: str, heading: str | None = None) -> XeHelpScreen:
    """The `?` help of a screen: its own keys (those it offers now), from its bindings,
    in a section ``title``, headed ``<heading or title> — keys`` (a screen shown on a
    host console without XE, like the runbook or the timeline, is not Xenon Enterprise's)."""
    rows = []
    for binding in screen.BINDINGS:
        assert isinstance(binding, Binding)
        if screen.check_action(binding.action, ()) is False:
            continue
        rows.append((title, binding.key, binding.description, binding.id or ""))
    return XeHelpScreen(rows, heading or title)
