"""A validated form dialog: each field shows its rule's message right below it.

It never loses what was typed: fields do not select their text on focus (Tab then a key
would replace it), a key typed before the first field had focus goes into that field, keys
that arrive in one read (a typist over SSH, ``tmux send-keys 'web' Enter '12' Enter``) land
in the field each Enter moved to, and Escape or Cancel on a changed form asks before the
changes are thrown away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
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
    bounds: tuple[int, int] | None = None
    """A whole number field's inclusive range, checked before the form's validator."""


class TypeAhead:
    """Keys typed while a dialog is read for and opened, handed to it in order once it
    has put the focus where they belong.

    Configure domain… reads the VM before its dialog exists: keys typed meanwhile went to
    the Enterprise screen (its bindings: ``m`` opened Migrate) or, before the dialog's
    editor had focus, nowhere. The flow feeds the keys its screen gets while it reads; the
    dialog (as every form) feeds the ones it gets before its first field has focus, then
    replays them all (:meth:`replay`).
    """

    LIMIT = 4096
    """Keys kept before the dialog is ready (a paste into a slow link); more are dropped."""
    HANDLED_WAIT = 10.0
    """Seconds a replayed key given to a widget is waited for (see :meth:`_handed`)."""

    def __init__(self) -> None:
        self._keys: list[tuple[str, str | None]] = []

    def feed(self, event: events.Key) -> None:
        """Takes a key (it goes no further where it arrived)."""
        event.stop()
        event.prevent_default()
        if len(self._keys) < self.LIMIT:
            self._keys.append((event.key, event.character))

    async def replay(self, screen: Screen[Any]) -> None:
        """Handles the keys kept so far on ``screen``, whose first field has the focus now,
        one at a time, each to its end before the next.

        The focus may move between keys: a printable key goes into the focused
        :class:`Input`, any other runs the binding it has where the focus is then (Enter
        and Tab move to the next field, Backspace edits, Ctrl+S saves) and one that no
        binding takes (or that the focused widget consumes: text in a TextArea) is given
        to the focused widget, which handles it before the next key is. Posted to the app
        at once instead, Textual reorders them (a field's own
        binding, Backspace, bubbles up to the app and runs after the printable keys
        behind it: a form's "9443" took "36477" after four Backspaces as "944336477").
        Keys after one that closed or covered the screen (Ctrl+S, Escape) are dropped.
        """
        keys, self._keys = self._keys, []
        for key, character in keys:
            if not screen.is_active:
                return
            focused = screen.focused
            printable = character is not None and len(character) == 1 and character.isprintable()
            if isinstance(focused, Input) and printable:
                assert character is not None
                focused.insert_text_at_cursor(character)
                continue
            active = screen.active_bindings.get(key)
            if (
                active is not None
                and active.enabled
                and await screen.app.run_action(active.binding.action, active.node)
            ):
                continue
            if focused is not None:
                await self._handed(focused, key, character)

    @classmethod
    async def _handed(cls, target: Widget, key: str, character: str | None) -> None:
        """Gives ``target`` the key and waits until it has handled it (posted only, it was
        overtaken by the bindings the keys behind it ran: Configure domain…'s Ctrl+S
        saved before the text typed ahead of it was in the editor)."""
        cls._give(target, key, character)
        handled = asyncio.Event()
        if target.call_later(handled.set):  # after the key, in the widget's own queue
            # Bounded: a widget removed meanwhile never runs the callback.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(handled.wait(), cls.HANDLED_WAIT)

    @staticmethod
    def _give(target: Widget, key: str, character: str | None) -> None:
        event = events.Key(key, character)
        # As the app forwards a key to the focused widget: one the field does not take
        # bubbles up to the app's bindings (Ctrl+S). Sent by the app, not by the dialog
        # that is running now (a message stops bubbling at its sender).
        event._set_forwarded()
        event._sender = target.app
        target.post_message(event)


def check_bounds(text: str, bounds: tuple[int, int]) -> str:
    """The message for a whole number outside ``bounds`` ("" when it fits)."""
    low, high = bounds
    value = text.strip()
    digits = value[1:] if value[:1] in "+-" else value
    if not digits.isascii() or not digits.isdigit():
        return f"must be a whole number in {low}..{high}"
    if not low <= int(value) <= high:
        return f"{value} is outside {low}..{high}"
    return ""


class FormDialog(ModalScreen[Values | None]):
    """Edits a few text fields; Ctrl+S or the Save button validates, Escape cancels."""

    DEFAULT_CSS = """
    FormDialog { align: center middle; background: $background 60%; }
    FormDialog > Vertical { width: 90%; max-width: 110; height: auto; max-height: 95%;
                            border: thick $primary; background: $surface; padding: 0 1; }
    FormDialog .title { text-style: bold; color: $primary; }
    FormDialog VerticalScroll { height: auto; max-height: 100%; }
    FormDialog #form-head { dock: top; height: auto; }
    FormDialog #form-buttons { dock: bottom; }
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
        # A priority binding runs while the app hands out the keys, so the keys of the same
        # read go to the field it moved to; a field's own Enter (Input.Submitted) would
        # move the focus only after they had gone into the field it leaves.
        Binding("enter", "enter_key", "Next field", show=False, priority=True),
    ]

    def __init__(self, title: str, fields: Sequence[Field], validate: Validator) -> None:
        super().__init__()
        self._title, self.fields, self._validate = title, tuple(fields), validate

    def compose(self) -> ComposeResult:
        with Vertical():
            # Docked like the buttons: the fields scroll in what the two leave free.
            with Vertical(id="form-head"):
                yield Label(self._title, classes="title")
                yield Label("", id="form-error", classes="field-error", markup=False)
            with VerticalScroll():
                for f in self.fields:
                    yield Label(f.label, classes="field-label")
                    yield Input(value=f.value, id=f"field-{f.name}", select_on_focus=False)
                    if f.hint:
                        yield Label(f.hint, classes="hint", id=f"hint-{f.name}", markup=False)
                    yield Label("", id=f"error-{f.name}", classes="field-error", markup=False)
            with Horizontal(id="form-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save (Ctrl+S)", id="save", variant="primary")

    def on_mount(self) -> None:
        first = next(iter(self.query(Input)), None)
        if first is not None:
            first.focus()

    def on_key(self, event: events.Key) -> None:
        """Keeps a key typed before the first field had focus (a fast typist, SSH lag).

        A field consumes the printable keys it gets, so one that reaches the dialog was
        sent while no field had focus yet: it goes into the focused field or the first one.
        """
        if not (event.is_printable and event.character):
            return
        target = self.focused if isinstance(self.focused, Input) else None
        target = target or next(iter(self.query(Input)), None)
        if target is not None:
            target.insert_text_at_cursor(event.character)
            self.set_focus(target)
            event.stop()

    @property
    def changed(self) -> bool:
        """True when a field differs from the value the form opened with."""
        return self.values() != {f.name: f.value for f in self.fields}

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
        errors = {
            f.name: message
            for f in self.fields
            if f.bounds is not None and (message := check_bounds(values[f.name], f.bounds))
        }
        errors = errors or self._validate(values)
        self.show_errors(errors)
        if not errors:
            self.dismiss(values)

    def action_cancel(self) -> None:
        """Closes the form; asks first when something was typed."""
        if not self.changed:
            self.dismiss(None)
            return
        from xenon_tui.dialogs._basic import ConfirmDialog

        def discard(ok: bool | None) -> None:
            if ok:
                self.dismiss(None)

        names = ", ".join(f.label for f in self.fields if self.values()[f.name] != f.value)
        self.app.push_screen(
            ConfirmDialog(
                "Discard your changes?",
                f"Changed: {names}.\nCancel keeps editing; Discard closes the form unsaved.",
                confirm="Discard",
            ),
            discard,
        )

    def action_enter_key(self) -> None:
        """Enter: presses a focused button, moves to the next field, saves on the last."""
        focused = self.focused
        if isinstance(focused, Button):
            focused.press()
            return
        inputs = list(self.query(Input))
        if isinstance(focused, Input) and focused in inputs:
            index = inputs.index(focused)
            if index + 1 < len(inputs):
                self.set_focus(inputs[index + 1])
                return
            # Saved once the field has taken the keys already queued for it.
            focused.call_later(self.action_save)
            return
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()
