"""Small modal dialogs: confirm, typed-name confirm, text input, read-only text."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

Body = str | Text | Widget
"""A dialog's body: text, or a widget that renders it (a policy diff view)."""


def _body(body: Body, id: str) -> Widget:
    if isinstance(body, Widget):
        if body.id is None:
            body.id = id
        return body
    return Static(body, markup=False, id=id)


_DIALOG_CSS = """
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 80%; max-width: 100; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 1 2;
}}
{name} .title {{ width: 100%; text-style: bold; color: $primary; margin-bottom: 1; dock: top; }}
{name} .error {{ color: $error; }}
{name} Horizontal {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} Button {{ margin-left: 2; }}
"""


_SCROLL_KEYS: list[Binding | tuple[str, str] | tuple[str, str, str]] = [
    Binding("up,k", "scroll_body('up')", "Scroll up", show=False),
    Binding("down,j", "scroll_body('down')", "Scroll down", show=False),
    Binding("pageup", "scroll_body('page_up')", "Page up", show=False),
    Binding("pagedown", "scroll_body('page_down')", "Page down", show=False),
    Binding("home", "scroll_body('home')", "Top", show=False),
    Binding("end", "scroll_body('end')", "Bottom", show=False),
]


class ConfirmDialog(ModalScreen[bool]):
    """Yes/no confirmation; Enter on "Confirm" dismisses True, Escape False.

    The focus starts on Cancel, yet the preview scrolls at once with the arrows,
    PageUp/PageDown and Home/End (a long diff is read before it is confirmed).
    """

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmDialog") + (
        "ConfirmDialog #confirm-scroll { height: auto; max-height: 100%; }\n"
        "ConfirmDialog Horizontal { dock: bottom; }\n"
    )
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
        *_SCROLL_KEYS,
    ]

    def __init__(self, title: str, body: Body, *, confirm: str = "Confirm") -> None:
        super().__init__()
        self._title, self._body, self._confirm = title, body, confirm

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title", markup=False)
            with VerticalScroll(id="confirm-scroll"):
                yield _body(self._body, "confirm-body")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self._confirm, id="confirm", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_scroll_body(self, how: str) -> None:
        """Scrolls the preview whatever has the focus (Cancel, at first)."""
        getattr(self.query_one("#confirm-scroll", VerticalScroll), f"scroll_{how}")(animate=False)

    def action_cancel(self) -> None:
        self.dismiss(False)


class TypedConfirmDialog(ModalScreen[bool]):
    """Destructive confirmation: the user must type ``expected`` (a domain's name).

    A long body scrolls (PageUp/PageDown) above the field, which stays on screen.
    """

    DEFAULT_CSS = _DIALOG_CSS.format(name="TypedConfirmDialog") + (
        "TypedConfirmDialog #typed-scroll { height: auto; max-height: 100%; }\n"
        "TypedConfirmDialog #typed-entry { height: auto; dock: bottom; }\n"
    )
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("pageup", "scroll_body('page_up')", "Page up", show=False),
        Binding("pagedown", "scroll_body('page_down')", "Page down", show=False),
    ]

    def __init__(self, title: str, body: str, expected: str) -> None:
        super().__init__()
        self._title, self._body, self.expected = title, body, expected

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title", markup=False)
            with VerticalScroll(id="typed-scroll", can_focus=False):
                yield Static(self._body, markup=False)
            with Vertical(id="typed-entry"):
                yield Label(f"Type the domain name ({self.expected}) to confirm:", markup=False)
                yield Input(placeholder=self.expected, id="typed")
                yield Label("", id="typed-error", classes="error", markup=False)

    def action_scroll_body(self, how: str) -> None:
        """Scrolls the body while the field keeps the focus."""
        getattr(self.query_one("#typed-scroll", VerticalScroll), f"scroll_{how}")(animate=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value == self.expected:
            self.dismiss(True)
        else:
            self.query_one("#typed-error", Label).update(
                f"The name does not match {self.expected!r}; nothing was done."
            )

    def action_cancel(self) -> None:
        self.dismiss(False)


class InputDialog(ModalScreen[str | None]):
    """Asks for one line of text; ``validate`` returns an error message or None."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="InputDialog")
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
        # Enter before the field has focus (typed ahead of the dialog) still submits it.
        Binding("enter", "submit", "Submit", show=False),
    ]

    def __init__(
        self,
        title: str,
        prompt: str,
        *,
        value: str = "",
        validate: object = None,
    ) -> None:
        super().__init__()
        self._title, self._prompt, self._value = title, prompt, value
        self._validate = validate

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title", markup=False)
            yield Label(self._prompt, markup=False)
            yield Input(value=self._value, id="value")
            yield Label("", id="value-error", classes="error", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit(event.value)

    def action_submit(self) -> None:
        self._submit(self.query_one("#value", Input).value)

    def on_key(self, event: events.Key) -> None:
        """Keeps text typed before the field had focus (a fast typist, a paste over SSH).

        The field consumes the printable keys it gets, so one that reaches the dialog was
        sent while nothing had focus yet.
        """
        if event.is_printable and event.character:
            field = self.query_one("#value", Input)
            field.insert_text_at_cursor(event.character)
            field.select_on_focus = False  # selecting it would let the next key replace it
            self.set_focus(field)
            event.stop()

    def _submit(self, value: str) -> None:
        if callable(self._validate):
            problem = self._validate(value)
            if problem:
                self.query_one("#value-error", Label).update(str(problem))
                return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextDialog(ModalScreen[None]):
    """Shows read-only text (a diff, an xl config, an export path); Escape closes."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="TextDialog")
        + """
    TextDialog VerticalScroll { height: auto; max-height: 100%; }
    """
    )
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q,enter", "close", "Close")
    ]

    def __init__(self, title: str, body: Body) -> None:
        super().__init__()
        self._title, self._body = title, body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title", markup=False)
            with VerticalScroll(id="text-body"):
                yield _body(self._body, "text")

    def on_mount(self) -> None:
        self.query_one("#text-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
