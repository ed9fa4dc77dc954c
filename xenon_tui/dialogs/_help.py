"""The `?` help screen, generated from the action table and the effective keymap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NamedTuple

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from xenon_tui._actions import ACTIONS, Mode, allowed

_SCOPE_TITLES = {
    "app": "Everywhere",
    "list": "Every list",
    "servers": "Servers panel",
    "domains": "Domains (Live mode)",
    "violations": "Policy violations log",
    "perf": "Performance",
    "advanced": "Advanced tab lists (Policy Editor mode)",
}


_KEY_NAMES = {
    "question_mark": "?",
    "colon": ":",
    "slash": "/",
    "delete": "Del",
    "enter": "Enter",
    "escape": "Esc",
    "pagedown": "PgDn",
    "pageup": "PgUp",
    "home": "Home",
    "end": "End",
}


def key_display(keys: str) -> str:
    """Human form of Textual key names (``ctrl+a`` -> ``^a``, ``question_mark`` -> ``?``)."""
    shown = []
    for key in keys.split(","):
        key = key.strip()
        shown.append(_KEY_NAMES.get(key) or key.replace("ctrl+", "^"))
    return " ".join(shown)


class HelpRow(NamedTuple):
    """One action as the help lists it."""

    keys: str
    description: str
    commands: str
    id: str
    """The stable action id (for keymap files; not drawn)."""


def help_rows(keymap: Mapping[str, str], *, read_only: bool) -> dict[str, list[HelpRow]]:
    """Section title -> the available actions of that scope, in table order."""
    sections: dict[str, list[HelpRow]] = {}
    for scope, title in _SCOPE_TITLES.items():
        rows = [
            a for a in ACTIONS if a.scope == scope and allowed(a, read_only=read_only, mode=None)
        ]
        if rows:
            sections[title] = [
                HelpRow(
                    key_display(keymap.get(a.id, a.keys)) or "—",
                    a.description + ("" if a.mode is Mode.ANY else f" ({a.mode.value})"),
                    " ".join(f":{c}" for c in a.commands),
                    a.id,
                )
                for a in rows
            ]
    return sections


def help_table(keymap: Mapping[str, str], *, read_only: bool) -> Table:
    """A Rich table of every available action: keys, description, `:` commands.

    The descriptions and commands wrap rather than being cut (at 80x24 the help is about
    66 cells wide); the action ids are for keymap files and stay out of the way.
    """
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("Keys", style="bold", no_wrap=True, width=10)
    table.add_column("Action", ratio=3, min_width=16)
    table.add_column(":command", ratio=2, min_width=10)
    for title, rows in help_rows(keymap, read_only=read_only).items():
        table.add_section()
        table.add_row(f"[b]{title}[/b]", "", "")
        for row in rows:
            table.add_row(row.keys, row.description, row.commands)
    return table


class HelpScreen(ModalScreen[None]):
    """Lists keys and commands; Escape or `?` closes."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 60%; }
    HelpScreen > Vertical { width: 90%; height: 90%; border: thick $primary;
                            background: $surface; padding: 0 1; }
    HelpScreen .title { text-style: bold; color: $primary; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,question_mark,q", "close", "Close")
    ]

    def __init__(self, keymap: Mapping[str, str], *, read_only: bool) -> None:
        super().__init__()
        self._keymap, self._read_only = keymap, read_only

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Xenon console — keys and commands (Esc closes)", classes="title")
            with VerticalScroll():
                yield Static(help_table(self._keymap, read_only=self._read_only), id="help")

    def action_close(self) -> None:
        self.dismiss(None)
