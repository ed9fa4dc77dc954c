"""The Enterprise screen's `n` new… menu and `H` hosts dialog (panel order, remove)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from xenon_tui.dialogs._xe_vm import move_option

_CSS = """
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 80%; max-width: {width}; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 0 2;
}}
{name} .title {{ width: 100%; text-style: bold; color: $primary; margin: 1 0; }}
{name} OptionList {{ height: auto; max-height: 30; border: none; }}
{name} .hint {{ color: $text-muted; margin-bottom: 1; }}
"""

NEW_ITEMS: tuple[tuple[str, str], ...] = (
    ("host", "Add host…"),
    ("enclave", "Add enclave…"),
    ("tag", "Add tag to host…"),
    ("untag", "Remove tag from host…"),
    ("seclabel", "Add SecLabel…"),
    ("domain", "Add domain…"),
)
"""The `n` menu's entries: (id, title)."""

_MOVES = {"j": "down", "k": "up", "g": "first", "G": "last"}


class NewMenuDialog(ModalScreen[str | None]):
    """The `n` menu (new host, enclave, tag, SecLabel, domain); dismisses with an id.

    Args:
        context: What an entry acts on, by id (``"tag": "to xenon-1"``), drawn after it.
        disabled: Entries that make no sense here (no enclave chosen yet …).
    """

    DEFAULT_CSS = _CSS.format(name="NewMenuDialog", width=70)
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "cancel", "Cancel"),
        *(Binding(key, f"move('{how}')", how, show=False) for key, how in _MOVES.items()),
    ]

    def __init__(self, context: dict[str, str] | None = None, disabled: Sequence[str] = ()) -> None:
        super().__init__()
        self._notes, self._disabled = dict(context or {}), frozenset(disabled)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("New…", classes="title")
            options = []
            for item, title in NEW_ITEMS:
                prompt = Text(title)
                if item in self._notes:
                    prompt.append(f"  {self._notes[item]}", style="dim")
                options.append(Option(prompt, id=item, disabled=item in self._disabled))
            yield OptionList(*options, id="new-items")
            yield Label("Enter opens · Esc closes", classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = next(
            (i for i, (item, _) in enumerate(NEW_ITEMS) if item not in self._disabled), None
        )
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_move(self, how: str) -> None:
        move_option(self.query_one(OptionList), how)

    def action_cancel(self) -> None:
        self.dismiss(None)


HostsChoice = tuple[str, tuple[str, ...]]
"""What the hosts dialog ends with: ``("order", ids)`` or ``("remove", (id,))``."""


class HostsDialog(ModalScreen[HostsChoice | None]):
    """The hosts in panel order: J/K move the highlighted host, `d` removes it (after a
    typed confirm), Enter or Ctrl+S saves the order, Escape leaves it as it was.

    Args:
        hosts: ``(id, name)`` in panel order.
    """

    DEFAULT_CSS = _CSS.format(name="HostsDialog", width=80)
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "cancel", "Cancel"),
        Binding("J,shift+down", "shift(1)", "Move down"),
        Binding("K,shift+up", "shift(-1)", "Move up"),
        Binding("d,delete", "remove", "Remove host"),
        Binding("ctrl+s", "save", "Save order"),
        *(Binding(key, f"move('{how}')", how, show=False) for key, how in _MOVES.items()),
    ]

    def __init__(self, hosts: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.hosts = list(hosts)
        self._first = list(hosts)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Hosts (panel order)", classes="title")
            yield OptionList(*self._options(), id="hosts-order")
            yield Label(
                "J/K move · d removes · Enter saves the order · Esc cancels", classes="hint"
            )

    def _options(self) -> list[Option]:
        return [
            Option(Text.assemble(f"{i:>3}. ", (name, "bold")), id=host)
            for i, (host, name) in enumerate(self.hosts, 1)
        ]

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0 if self.hosts else None
        options.focus()

    def action_shift(self, step: int) -> None:
        options = self.query_one(OptionList)
        at = options.highlighted
        if at is None or not 0 <= at + step < len(self.hosts):
            return
        self.hosts[at], self.hosts[at + step] = self.hosts[at + step], self.hosts[at]
        options.clear_options()
        options.add_options(self._options())
        options.highlighted = at + step

    def action_move(self, how: str) -> None:
        move_option(self.query_one(OptionList), how)

    def action_remove(self) -> None:
        at = self.query_one(OptionList).highlighted
        if at is not None:
            self.dismiss(("remove", (self.hosts[at][0],)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        if self.hosts == self._first:
            self.dismiss(None)
        else:
            self.dismiss(("order", tuple(h for h, _ in self.hosts)))

    def action_cancel(self) -> None:
        self.dismiss(None)
