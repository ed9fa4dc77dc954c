"""A validated form dialog: each field shows its rule's message right below it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

Values = dict[str, str]
Validator = Callable[[Values], dict[str, str]]
"""Returns field name -> message ("" for a message about the whole form); empty = valid."""


@dataclass(frozen=True)
class Field:
    """One text field of a form."""

    name: str
    label: str
    value: str = ""
    hint: str = ""


class FormDialog(ModalScreen[Values | None]):
    """Edits a few text fields; Ctrl+S or the Save button validates, Escape cancels."""

    DEFAULT_CSS = """
    FormDialog { align: center middle; background: $background 60%; }
    FormDialog > Vertical { width: 90%; max-width: 110; height: auto; max-height: 95%;
                            border: thick $primary; background: $surface; padding: 0 1; }
    FormDialog .title { text-style: bold; color: $primary; }
    FormDialog VerticalScroll { height: auto; max-height: 40; }
    FormDialog .field-label { margin-top: 1; }
    FormDialog .hint { color: $text-muted; }
    FormDialog .field-error { color: $error; text-style: bold; }
    FormDialog Input.-invalid { border: tall $error; }
    FormDialog Horizontal { height: auto; align-horizontal: right; }
    FormDialog Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, title: str, fields: Sequence[Field], validate: Validator) -> None:
        super().__init__()
        self._title, self.fields, self._validate = title, tuple(fields), validate

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            yield Label("", id="form-error", classes="field-error", markup=False)
            with VerticalScroll():
                for f in self.fields:
                    yield Label(f.label, classes="field-label")
                    yield Input(value=f.value, id=f"field-{f.name}")
                    if f.hint:
                        yield Label(f.hint, classes="hint")
                    yield Label("", id=f"error-{f.name}", classes="field-error", markup=False)
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Save (Ctrl+S)", id="save", variant="primary")

    def values(self) -> Values:
        """The current text of every field."""
        return {f.name: self.query_one(f"#field-{f.name}", Input).value for f in self.fields}

    def show_errors(self, errors: dict[str, str]) -> None:
        """Puts each message next to its field (unknown fields go to the top)."""
        names = {f.name for f in self.fields}
        general = [m for k, m in errors.items() if k not in names]
        self.query_one("#form-error", Label).update("\n".join(general))
        for f in self.fields:
            message = errors.get(f.name, "")
            self.query_one(f"#error-{f.name}", Label).update(message)
            self.query_one(f"#field-{f.name}", Input).set_class(bool(message), "-invalid")

    def action_save(self) -> None:
        values = self.values()
        errors = self._validate(values)
        self.show_errors(errors)
        if not errors:
            self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)
