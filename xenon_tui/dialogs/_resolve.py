"""Resolve a domain the MSM stopped: its name typed as confirmation, and a required note."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from xenon_tui.dialogs._basic import _DIALOG_CSS

NOTE_MAX = 500
"""The host's limit on a note (``AddressViolations``)."""


def note_problem(note: str) -> str | None:
    """Why a note cannot be sent (the host refuses the same), or None."""
    if not note.strip():
        return "A note is required: say why it is safe to resume."
    if len(note) > NOTE_MAX:
        return f"The note is longer than {NOTE_MAX} characters."
    if not note.isprintable():
        return "The note must not contain control characters."
    return None


class ResolveDialog(ModalScreen[str | None]):
    """Dismisses with the note once the name matches and a note is given; None cancels."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ResolveDialog")
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel")
    ]

    def __init__(self, title: str, body: str, expected: str) -> None:
        super().__init__()
        self._title, self._body, self.expected = title, body, expected

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title", markup=False)
            yield Static(self._body, markup=False)
            yield Label(f"Type the domain name ({self.expected}) to confirm:", markup=False)
            # Never select on focus: coming back to a field, the next key must not replace it.
            yield Input(placeholder=self.expected, id="typed", select_on_focus=False)
            yield Label("Note (required; logged on the host with your name):", markup=False)
            yield Input(
                placeholder="why it is safe to resume",
                id="note",
                max_length=NOTE_MAX,
                select_on_focus=False,
            )
            yield Label("", id="resolve-error", classes="error", markup=False)
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Resolve", id="resolve", variant="error")

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "typed" and not self.query_one("#note", Input).value:
            self.query_one("#note", Input).focus()
            return
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "resolve":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        error = self.query_one("#resolve-error", Label)
        if self.query_one("#typed", Input).value != self.expected:
            error.update(f"The name does not match {self.expected!r}; nothing was done.")
            self.query_one("#typed", Input).focus()
            return
        note = self.query_one("#note", Input).value
        problem = note_problem(note)
        if problem is not None:
            error.update(problem)
            self.query_one("#note", Input).focus()
            return
        self.dismiss(note.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
