"""The Enterprise screen's forms (§4.2): Add enclave (Figure 22), Add host (Figure 21) and
its CPU, Add tag to host, Add SecLabel (Figure 25) and Add domain (Figure 26).

Each form is an :class:`XeForm`: text fields and choices, each with its message right
below it, a title and the buttons docked so the fields scroll between them at 80x24.
Values are checked here (the form's rules) before XE checks them again (its findings).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static
from textual.widgets._select import NoSelection, SelectCurrent, SelectOverlay

from xenon_tui.dialogs._form import TypeAhead, check_bounds

Values = dict[str, str]
R = TypeVar("R")

GUEST_TYPES = ("pv", "pvh", "pvhvm", "hvm")
SECLABEL_ROLES = ("none", "network_driver_domain", "storage_driver_domain", "security_domain")
NO_SECLABEL = ""
"""The SecLabel choice of an enclave that has none yet (XE refuses it: Figure 24)."""
DEFAULT_HOST = ""
"""The host choice "the default rule" (the first host in panel order with the enclave)."""
MAX_COUNT = 2**31 - 1
_OPENERS = frozenset({"enter", "down", "space", "up"})
"""The keys that open a closed pull-down (Select's ``show_overlay`` binding)."""


@dataclass(frozen=True)
class XeField:
    """One field of a form: a line of text, or a choice of ``(label, value)``.

    Attributes:
        bounds: A whole number field's inclusive range ("" allowed when ``optional``).
        choices: Non-empty: a pull-down of these ``(label, value)`` pairs.
    """

    name: str
    label: str
    value: str = ""
    hint: str = ""
    bounds: tuple[int, int] | None = None
    optional: bool = False
    choices: tuple[tuple[str, str], ...] = ()


class PullDown(Select[str]):
    """Textual's Select (the same keys, looks and ``Changed``) whose option list is built
    the first time it opens.

    A Select composes its pop-up list (an OptionList) as it mounts, with an Option per
    choice: styling and laying out those made each pull-down of a form cost 15-29 ms of
    CPU as the form opened (#13), though most are never opened. Opening it (Enter, Down,
    Space, Up or a click) mounts the list first and waits for that.

    The keys typed in the same read as the Enter that opens it (``Enter p 7 Enter``: a
    fast typist, a paste, tmux) were handed to the closed pull-down before Select's Enter
    binding ran at the app, and were lost (#13): the pull-down opens on those keys itself,
    in its own queue, and hands the ones behind them to the open list, in order (type to
    search, Enter to take, Escape to close).
    """

    def __init__(
        self,
        options: Iterable[tuple[str, str]],
        *,
        value: str,
        id: str | None = None,
        classes: str | None = None,
        compact: bool = True,
    ) -> None:
        super().__init__(options, value=value, allow_blank=False, id=id, classes=classes)
        self.compact = compact
        self._list: SelectOverlay | None = None
        self._handed: weakref.WeakSet[events.Key] = weakref.WeakSet()
        """Keys handed on to the open list: one it does not take comes back here on its
        way up to the bindings (the list's Enter), and is let through."""

    def compose(self) -> ComposeResult:
        yield SelectCurrent(self.prompt)

    async def _built(self) -> SelectOverlay:
        """The pop-up list, mounted (with its options) the first time it is wanted."""
        if self._list is None:
            self._list = SelectOverlay(type_to_search=self._type_to_search)
            self._list.compact = self.compact
            await self.mount(self._list)
            self._setup_options_renderables()
            self._list.highlighted = self._index(self.value)
        return self._list

    def _index(self, value: str | NoSelection) -> int | None:
        return next((i for i, (_, v) in enumerate(self._options) if v == value), None)

    def _setup_options_renderables(self) -> None:
        if self._list is not None:
            super()._setup_options_renderables()

    def _watch_value(self, value: str | NoSelection) -> None:
        if self._list is not None:
            super()._watch_value(value)
            return
        self._value = value
        found = self.query_children(SelectCurrent)
        if not found:
            return
        index = self._index(value)
        found.first().update(self.NULL if index is None else self._options[index][0])
        self.post_message(self.Changed(self, value))

    async def action_show_overlay(self) -> None:  # type: ignore[override]
        # Async (Textual awaits an action): the keys after this one wait for the list,
        # which has the focus at once (Select focuses it after the keys of the same read:
        # a search typed behind the Enter went to the closed pull-down).
        overlay = await self._built()
        super().action_show_overlay()
        self.screen.set_focus(overlay, scroll_visible=False)

    async def _on_key(self, event: events.Key) -> None:
        if event in self._handed:
            return  # handed to the list, not taken there: on up to the bindings
        if self.expanded and self._list is not None:
            # Typed behind the key that opened the list, before it had the focus.
            event.stop()
            event.prevent_default()
            self._hand_on(self._list, event)
            return
        if event.key in _OPENERS:
            # Here rather than Select's binding, which runs at the app after the keys of
            # the same read were handed to this (closed) pull-down.
            event.stop()
            event.prevent_default()
            await self.action_show_overlay()

    def _hand_on(self, target: SelectOverlay, event: events.Key) -> None:
        again = events.Key(event.key, event.character)
        # As the app forwards a key to the focused widget (TypeAhead's way): one the list
        # does not take bubbles up to the app's bindings, not stopped at its sender.
        again._set_forwarded()
        again._sender = self.app
        self._handed.add(again)
        target.post_message(again)

    @on(SelectCurrent.Toggle)
    async def _toggle_built(self, event: SelectCurrent.Toggle) -> None:
        # Before Select's own handler, which needs the list (it is skipped).
        event.stop()
        event.prevent_default()
        await self._built()
        self.expanded = not self.expanded


class FieldRow(Widget):
    """One field: its label docked on the left, its widget, then its hint, extras and
    message under the widget.

    One container per field (three nested ones drew the same): every widget a form has is
    styled and laid out as it opens, and Add domain's 120 took 1.9 s under load (#13).
    """

    DEFAULT_CSS = """
    FieldRow { height: auto; }
    FieldRow > .field-label { dock: left; width: 22; padding-right: 1; }
    FieldRow > .under { width: 1fr; height: auto; }
    """


class TypeAheadScreen(ModalScreen[R]):
    """A dialog that keeps the keys typed before it is :attr:`ready` and hands them on in
    order once its first field has the focus (:meth:`take_typed_keys`): the forms and
    Configure domain… (one path for both).

    Until then nothing has the focus and the app hands each key to the screen: kept as the
    app reads it (every key, Enter and Ctrl+S too), it is replayed in order. Posted to the
    screen instead, a key could be handled only after the fields were ready and behind an
    Enter the app had already run as a priority binding: "127.0.0.1" went nowhere in the
    SSH walk.

    Args:
        type_ahead: Keys a flow kept for it while it read what the dialog shows.
    """

    AUTO_FOCUS = ""
    """Nothing is focused on its own: a button would be, until the first field is (keys
    typed meanwhile went to it: an Enter pressed Cancel)."""

    def __init__(self, type_ahead: TypeAhead | None = None) -> None:
        super().__init__()
        self._ahead = type_ahead or TypeAhead()
        self.ready = False
        """True once its first field has the focus (tests and typed-ahead keys wait for it)."""

    def _forward_event(self, event: events.Event) -> None:
        # Textual's private Screen._forward_event (pinned 8.2.8): how the app hands a key
        # to the screen's focused widget.
        if isinstance(event, events.Key) and not self.ready and not event.is_forwarded:
            self._ahead.feed(event)
            return
        super()._forward_event(event)

    async def take_typed_keys(self) -> None:
        """Called once the first field has the focus: ready, and the kept keys handled."""
        self.ready = True
        await self._ahead.replay(self)


class XeForm(TypeAheadScreen[Values | None]):
    """A form of text fields and choices; Ctrl+S or Save checks it, Escape cancels.

    Subclasses give :meth:`rules` (field → message) and may leave fields out with
    :meth:`shown` (those are not mounted; what was typed in them is kept for when they
    are shown again, and left out of :meth:`values`).

    A form of more than :attr:`AT_ONCE` fields draws its frame ("opening…") first and
    mounts its fields in a second step; keys typed meanwhile are kept and handed on once
    the first field has the focus, as if typed then (an Enter among them moves on).
    """

    AT_ONCE: ClassVar[int] = 4
    """The most fields mounted with the frame; a larger form mounts them after it."""

    DEFAULT_CSS = """
    XeForm { align: center middle; background: $background 60%; }
    XeForm > Vertical { width: 90%; max-width: 100; height: auto; max-height: 95%;
                        border: thick $primary; background: $surface; padding: 0 1; }
    XeForm #form-head { dock: top; height: auto; margin-bottom: 1; }
    XeForm #form-buttons { dock: bottom; height: auto; align-horizontal: right; }
    XeForm .title { text-style: bold; color: $primary; }
    XeForm #form-error { display: none; }
    XeForm #form-error.-shown { display: block; }
    XeForm #form-fields { height: auto; max-height: 100%; }
    XeForm #form-opening { color: $text-muted; }
    XeForm .field { width: 1fr; }
    XeForm .hint { color: $text-muted; }
    XeForm .field-error { color: $error; text-style: bold; display: none; }
    XeForm .field-error.-shown { display: block; }
    XeForm .-invalid { background: $error 30%; }
    XeForm Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        # Priority: run as the key is read, before the keys after it are handed to the
        # focused widget (over SSH a burst of typed keys is read at once: a field's own
        # Enter or the screen's Tab ran later and left those keys in the old field).
        Binding("tab", "move_focus(1)", "Next field", show=False, priority=True),
        Binding("shift+tab", "move_focus(-1)", "Previous field", show=False, priority=True),
        Binding("enter", "next_field", "Next field", show=False, priority=True),
        # The field's own Backspace binding runs when the key has bubbled back up to the
        # app, after the keys behind it in the same read went into the field ("9443",
        # four Backspaces and "36477" in one read left "944336477").
        Binding("backspace", "delete_left", "Delete", show=False, priority=True),
    ]

    def __init__(self, title: str, fields: Sequence[XeField], *, save: str = "Save") -> None:
        super().__init__()
        self._title, self.fields, self._save = title, tuple(fields), save
        self._initial: Values = {f.name: _chosen(f) if f.choices else f.value for f in self.fields}
        self._kept: Values = dict(self._initial)
        """The values of fields not mounted (as they opened, or as left when hidden)."""
        self._staged = len(self.fields) > self.AT_ONCE
        self._drawn: dict[str, Widget] = {}
        """The widget of each field mounted, by name (a DOM query per field and value read
        cost Add domain more than its pull-downs did: #13)."""
        self._rows_shown: set[str] = set()
        """The fields whose rows are mounted (or being mounted)."""

    # -- what subclasses say -----------------------------------------------------------------

    def rules(self, values: Values) -> dict[str, str]:
        """Field name → message for the values shown ("" key: the whole form)."""
        return {}

    def shown(self, values: Values) -> set[str]:
        """The fields shown for these values (default: all)."""
        return {f.name for f in self.fields}

    def after(self, field: XeField) -> Iterable[Widget]:
        """Widgets drawn under a field (a swatch, a preview)."""
        return ()

    def prepared(self) -> None:
        """Called once the fields are mounted and the first has the focus."""

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical():
            with Vertical(id="form-head"):
                yield Label(self._title, classes="title", markup=False)
                yield Label("", id="form-error", classes="field-error", markup=False)
            # Not focusable: the first field is what the screen focuses on its own (the
            # scroll taking it, then giving it up, restyled every field twice).
            with VerticalScroll(id="form-fields", can_focus=False):
                if self._staged:
                    yield Label("opening…", id="form-opening")
                else:
                    yield from self._rows(self.shown(self._kept))
            with Horizontal(id="form-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(f"{self._save} (Ctrl+S)", id="save", variant="primary")

    def _rows(self, shown: set[str]) -> Iterable[FieldRow]:
        return [self._row(f) for f in self.fields if f.name in shown]

    def _row(self, f: XeField) -> FieldRow:
        widget = self._widget(replace(f, value=self._kept[f.name]))
        self._drawn[f.name] = widget
        self._rows_shown.add(f.name)
        parts: list[Widget] = [Label(f.label, classes="field-label", markup=False), widget]
        if f.hint:
            parts.append(Label(f.hint, classes="hint under", markup=False))
        for extra in self.after(f):
            parts.append(extra.add_class("under"))
        parts.append(Label("", id=f"error-{f.name}", classes="field-error under", markup=False))
        return FieldRow(*parts, id=f"row-{f.name}")

    @staticmethod
    def _widget(f: XeField) -> Widget:
        if f.choices:
            return PullDown(f.choices, value=_chosen(f), id=f"field-{f.name}", classes="field")
        return Input(
            value=f.value,
            id=f"field-{f.name}",
            classes="field",
            select_on_focus=False,
            compact=True,
        )

    async def on_mount(self) -> None:
        if self._staged:
            # The frame is drawn first: mounting the fields waits for that refresh.
            self.call_after_refresh(self._mount_fields)
        else:
            await self._prepare()

    async def _mount_fields(self) -> None:
        scroll = self.query_one("#form-fields", VerticalScroll)
        with self.app.batch_update():
            await self.query_one("#form-opening").remove()
            await scroll.mount_all(self._rows(self.shown(self._kept)))
        await self._prepare()

    async def _prepare(self) -> None:
        first = self._widgets()
        if first and self.focused not in first:
            self.set_focus(first[0])
        self.prepared()
        await self.take_typed_keys()

    def _mounted(self, name: str) -> Widget | None:
        return self._drawn.get(name)

    def _widgets(self) -> list[Widget]:
        shown = self.shown(self.all_values())
        widgets = (self._mounted(f.name) for f in self.fields if f.name in shown)
        return [w for w in widgets if w is not None]

    def _show_rows(self) -> None:
        """Mounts the rows now shown (in field order) and removes the others."""
        values = self.all_values()
        shown = self.shown(values)
        if shown == self._rows_shown:
            return  # (each pull-down says its first value as the form opens)
        scroll = self.query_one("#form-fields", VerticalScroll)
        previous: Widget | None = None
        for f in self.fields:
            found = scroll.query_children(f"#row-{f.name}")
            row = found.first() if found else None
            if f.name in shown and row is None:
                self._kept[f.name] = values[f.name]
                row = self._row(f)
                if previous is None:
                    scroll.mount(row, before=0)
                else:
                    scroll.mount(row, after=previous)
            elif f.name not in shown and row is not None:
                self._kept[f.name] = values[f.name]
                del self._drawn[f.name]
                self._rows_shown.discard(f.name)
                row.remove()
                row = None
            previous = row or previous

    def on_select_changed(self, event: Select.Changed) -> None:
        if self.ready:  # (a Select says its first value while the form is drawn)
            self._show_rows()

    # -- values ------------------------------------------------------------------------------

    def all_values(self) -> Values:
        """Every field's text or chosen value, shown or not."""
        out: Values = {}
        for f in self.fields:
            widget = self._mounted(f.name)
            if widget is None or not widget.is_attached or widget.parent is None:
                out[f.name] = self._kept[f.name]
            elif isinstance(widget, Select):
                out[f.name] = str(widget.value) if widget.value is not Select.BLANK else ""
            else:
                assert isinstance(widget, Input)
                out[f.name] = widget.value
        return out

    def values(self) -> Values:
        """The values of the fields shown."""
        values = self.all_values()
        shown = self.shown(values)
        return {k: v for k, v in values.items() if k in shown}

    @property
    def changed(self) -> bool:
        """True when a field differs from what the form opened with."""
        return self.all_values() != self._initial

    def show_errors(self, errors: Mapping[str, str]) -> None:
        """Puts each message under its field (others, and those of fields not drawn
        yet, at the top)."""
        drawn = {f.name for f in self.fields if self._mounted(f.name) is not None}
        general = [m for k, m in errors.items() if k not in drawn]
        head = self.query_one("#form-error", Label)
        head.update("\n".join(general))
        head.set_class(bool(general), "-shown")
        for name in drawn:
            message = errors.get(name, "")
            label = self.query_one(f"#error-{name}", Label)
            label.update(message)
            label.set_class(bool(message), "-shown")
            self.query_one(f"#field-{name}").set_class(bool(message), "-invalid")

    def check(self) -> dict[str, str]:
        """Every problem of the values shown: number bounds first, then the form's rules."""
        values = self.values()
        errors: dict[str, str] = {}
        for f in self.fields:
            text = values.get(f.name)
            if text is None or f.bounds is None or (f.optional and not text.strip()):
                continue
            if message := check_bounds(text, f.bounds):
                errors[f.name] = message
        return errors or self.rules(values)

    # -- keys --------------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        # A key typed before any field had focus goes into the first field.
        if self.focused is not None or not (event.is_printable and event.character):
            return
        first = next(iter(self.query(Input)), None)
        if first is not None:
            first.insert_text_at_cursor(event.character)
            self.set_focus(first)
            event.stop()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._advance(event.input)

    def _advance(self, field: Widget) -> None:
        widgets = self._widgets()
        index = widgets.index(field) if field in widgets else len(widgets)
        if index + 1 < len(widgets):
            self.set_focus(widgets[index + 1])
        else:
            self.action_save()

    def action_next_field(self) -> None:
        """Enter in one of the form's fields: the next field (Save after the last)."""
        focused = self.focused
        if not self.is_current or not isinstance(focused, Input) or focused.screen is not self:
            raise SkipAction()  # a pull-down, a button: their own Enter
        self._advance(focused)

    def action_delete_left(self) -> None:
        """Backspace in one of the form's fields, as the key is read."""
        focused = self.focused
        if not self.is_active or not isinstance(focused, Input):
            raise SkipAction()
        focused.action_delete_left()

    def action_move_focus(self, step: int) -> None:
        if not self.is_current or not self.ready:  # not ready: kept with the typed keys
            raise SkipAction()
        if step > 0:
            self.focus_next()
        else:
            self.focus_previous()

    def action_save(self) -> None:
        errors = self.check()
        self.show_errors(errors)
        if not errors:
            self.dismiss(self.values())

    def action_cancel(self) -> None:
        """Closes the form; asks first when something was typed."""
        if not self.changed:
            self.dismiss(None)
            return
        from xenon_tui.dialogs._basic import ConfirmDialog

        def discard(ok: bool | None) -> None:
            if ok:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmDialog(
                "Discard your changes?",
                "Cancel keeps editing; Discard closes the form unsaved.",
                confirm="Discard",
            ),
            discard,
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()


def _chosen(f: XeField) -> str:
    values = [value for _, value in f.choices]
    return f.value if f.value in values else values[0]


# -- values ------------------------------------------------------------------------------------

_HEX = re.compile(r"^#?([0-9A-Fa-f]{6})$")


def parse_color(text: str) -> str | None:
    """``#rrggbb``, ``rrggbb`` or three 0-255 numbers (``12, 200, 7``) as ``#rrggbb``."""
    value = text.strip()
    if match := _HEX.match(value):
        return f"#{match.group(1).lower()}"
    parts = [p for p in re.split(r"[\s,]+", value) if p]
    if len(parts) == 3 and all(p.isascii() and p.isdigit() and int(p) <= 255 for p in parts):
        return "#" + "".join(f"{int(p):02x}" for p in parts)
    return None


def optional_int(text: str) -> int | None:
    """A checked whole number field, or None when left empty."""
    return int(text) if text.strip() else None


def words(text: str) -> list[str]:
    """Space or comma separated words (CPU flags, shared storage)."""
    return [w for w in re.split(r"[\s,]+", text.strip()) if w]


_UUID = re.compile(r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")
_FLAG = re.compile(r"^[A-Za-z0-9_.]{1,64}$")


def _name_problem(text: str, what: str) -> str:
    value = text.strip()
    if not value:
        return f"A {what} name is needed."
    if len(value) > 255 or any(not c.isprintable() for c in value):
        return f"A {what} name is printable and at most 255 characters."
    return ""


# -- Add enclave (Figure 22) ------------------------------------------------------------------


class AddEnclaveDialog(XeForm):
    """Name and tag colour of a new enclave; the swatch follows the colour as it is typed."""

    DEFAULT_CSS = """
    AddEnclaveDialog #swatch { height: 1; }
    """

    def __init__(self, *, name: str = "", color: str = "#3a7bd5") -> None:
        super().__init__(
            "Add enclave (a tag: XE gives it a 128-bit UUID)",
            (
                XeField("name", "Name", name),
                XeField("color", "Tag colour", color, hint="#rrggbb, or red, green, blue 0-255"),
                XeField(
                    "id",
                    "Tag UUID",
                    hint="blank: XE makes one; to keep a host's existing tag, its UUID",
                ),
            ),
            save="Add",
        )

    def after(self, field: XeField) -> Iterable[Widget]:
        if field.name == "color":
            yield Static("", id="swatch")

    def prepared(self) -> None:
        self._swatch(self.all_values()["color"])

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "field-color" and self.ready:
            self._swatch(event.value)

    def _swatch(self, text: str) -> None:
        color = parse_color(text)
        swatch = self.query_one("#swatch", Static)
        if color is None:
            swatch.update(Text("(not a colour yet)", style="dim italic"))
            return
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
        line = Text("        ", style=f"on {color}")
        line.append(f"  {color}  rgb({r}, {g}, {b})")
        swatch.update(line)

    def rules(self, values: Values) -> dict[str, str]:
        errors = {}
        if message := _name_problem(values["name"], "enclave"):
            errors["name"] = message
        if parse_color(values["color"]) is None:
            errors["color"] = "Not a colour: #rrggbb or three numbers 0-255."
        if values["id"].strip() and not _UUID.match(values["id"].strip()):
            errors["id"] = "A UUID: 8-4-4-4-12 hex digits (or blank)."
        return errors


# -- Add host (Figure 21) and its CPU -------------------------------------------------------------


def cpu_fields(
    vendor: str = "",
    family: str = "",
    model: str = "",
    stepping: str = "",
    flags: str = "",
    *,
    hint: str = "",
) -> tuple[XeField, ...]:
    """The CPU fields a migration needs (Figure 21's lower half)."""
    small = (0, 65535)
    return (
        XeField("vendor", "CPU vendor", vendor, hint=hint, optional=True),
        XeField("family", "CPU family", family, bounds=small, optional=True),
        XeField("model", "CPU model", model, bounds=small, optional=True),
        XeField("stepping", "CPU stepping", stepping, bounds=small, optional=True),
        XeField("flags", "CPU flags", flags, hint="space-separated (sse2 avx …)"),
    )


def cpu_rules(values: Values) -> dict[str, str]:
    """Vendor length and flag syntax (XE's CpuFactsIn)."""
    errors = {}
    if len(values.get("vendor", "").strip()) > 64:
        errors["vendor"] = "At most 64 characters."
    bad = [f for f in words(values.get("flags", "")) if not _FLAG.match(f)]
    if bad:
        errors["flags"] = f"Not a CPU flag: {bad[0][:40]} (letters, digits, _ and .)"
    return errors


def cpu_body(values: Values, *, keep_blank: bool) -> dict[str, object] | None:
    """The ``cpu`` of an add or a change; None when nothing was given and ``keep_blank``."""
    body: dict[str, object] = {}
    if values["vendor"].strip():
        body["vendor"] = values["vendor"].strip()
    for key in ("family", "model", "stepping"):
        if (number := optional_int(values[key])) is not None:
            body[key] = number
    if flags := words(values["flags"]):
        body["flags"] = flags
    return None if keep_blank and not body else body


class AddHostDialog(XeForm):
    """Hostname, management address and port; CPU fields left blank are read from the host."""

    def __init__(self) -> None:
        super().__init__(
            "Add host (XE connects to its XPS and reads its facts)",
            (
                XeField("name", "Hostname"),
                XeField("address", "Mgmt. IP address"),
                XeField("port", "Mgmt. port", "9443", bounds=(1, 65535)),
                XeField(
                    "ro_port",
                    "Read-only port",
                    bounds=(1, 65535),
                    optional=True,
                    hint="the one auditors' consoles reach; blank: none known",
                ),
                *cpu_fields(hint="blank: read from the host, then editable"),
                XeField("shared_storage", "Shared storage", hint="space-separated; for migration"),
                XeField(
                    "takeover",
                    "Host's own policy",
                    "no",
                    choices=(
                        ("hold it until an admin re-converges it", "no"),
                        ("take it over now (its policy is exported first)", "yes"),
                    ),
                ),
            ),
            save="Add host",
        )

    def rules(self, values: Values) -> dict[str, str]:
        errors = cpu_rules(values)
        if message := _name_problem(values["name"], "host"):
            errors["name"] = message
        address = values["address"].strip()
        if not address:
            errors["address"] = "The address of the host's XPS is needed."
        elif len(address) > 255 or any(c.isspace() or not c.isprintable() for c in address):
            errors["address"] = "An IP address or DNS name, without spaces."
        return errors


class HostCpuDialog(XeForm):
    """The CPU XE stored for a host (read from it when it joined), editable for migration."""

    def __init__(
        self,
        host: str,
        vendor: str,
        family: int | None,
        model: int | None,
        stepping: int | None,
        flags: Sequence[str],
    ) -> None:
        def text(n: int | None) -> str:
            return "" if n is None else str(n)

        super().__init__(
            f"{host}: CPU for migration (from the host; edit, or Esc keeps it)",
            cpu_fields(vendor, text(family), text(model), text(stepping), " ".join(flags)),
        )

    def rules(self, values: Values) -> dict[str, str]:
        return cpu_rules(values)


# -- Add tag to host ---------------------------------------------------------------------------


class AddTagDialog(XeForm):
    """Assigns an enclave (tag) to a host."""

    def __init__(
        self,
        hosts: Sequence[tuple[str, str]],
        enclaves: Sequence[tuple[str, str]],
        *,
        host: str = "",
        enclave: str = "",
    ) -> None:
        super().__init__(
            "Add tag to host (assign an enclave)",
            (
                XeField("host", "Host", host, choices=tuple(hosts)),
                XeField("enclave", "Enclave (tag)", enclave, choices=tuple(enclaves)),
            ),
            save="Assign",
        )


# -- Add SecLabel (Figure 25) --------------------------------------------------------------------


class AddSecLabelDialog(XeForm):
    """Create new SecLabel: every field XE's SecLabel create takes."""

    def __init__(
        self,
        enclaves: Sequence[tuple[str, str]],
        profiles: Sequence[tuple[str, str]],
        *,
        enclave: str = "",
        name: str = "",
    ) -> None:
        super().__init__(
            "Add secLabel → Create new…",
            (
                XeField("name", "Name", name),
                XeField("enclave", "Enclave", enclave, choices=tuple(enclaves)),
                XeField(
                    "profile",
                    "Hypercall profile",
                    choices=tuple(profiles),
                    hint="choose one that suits the VMs' guest type",
                ),
                XeField("max_rate", "Max. hypercall rate (per ms)", "1000", bounds=(1, 65535)),
                XeField(
                    "max_violations",
                    "Max. violations",
                    "10",
                    hint="before the VM is stopped; 0 never stops it",
                    bounds=(0, MAX_COUNT),
                ),
                XeField(
                    "role",
                    "Guest role",
                    "none",
                    hint="XE supports user domains only: leave none",
                    choices=tuple((r, r) for r in SECLABEL_ROLES),
                ),
            ),
            save="Add SecLabel",
        )

    def rules(self, values: Values) -> dict[str, str]:
        errors = {}
        if message := _name_problem(values["name"], "SecLabel"):
            errors["name"] = message
        if not values["profile"]:
            errors["profile"] = "XE has no hypercall profile to choose."
        return errors


# -- Add domain (Figure 26) ------------------------------------------------------------

_OS = (("linux", "linux"), ("windows", "windows"))
_BOOT_FIELDS = {
    "pv": {"kernel", "ramdisk", "cmdline", "bootloader"},
    "pvh": {"kernel", "ramdisk", "cmdline"},
    "pvhvm": set(),
    "hvm": set(),
}


class AddDomainDialog(XeForm):
    """Every field of XE's VM create; the boot fields follow the guest type (kernel and
    bootloader for PV, kernel for PVH, none for HVM), and the host choice shows the
    default rule with the host it picks today."""

    def __init__(
        self,
        enclave: str,
        seclabels: Sequence[tuple[str, str]],
        hosts: Sequence[tuple[str, str]],
        default_host: str | None,
        *,
        values: Mapping[str, str] | None = None,
    ) -> None:
        given = dict(values or {})
        labels = tuple(seclabels) or (("(none yet: add a SecLabel to this enclave)", NO_SECLABEL),)
        rule = f"default: first host with {enclave} ({default_host or 'none yet'})"
        fields = (
            XeField("name", "Name"),
            XeField("seclabel", "SecLabel", choices=labels),
            XeField("guest_type", "Guest type", "pvh", choices=tuple((g, g) for g in GUEST_TYPES)),
            XeField(
                "os", "Guest OS", "linux", choices=(("linux", "linux"), ("windows", "windows"))
            ),
            XeField("kernel", "Kernel", hint="a path on the host"),
            XeField("ramdisk", "Ramdisk"),
            XeField("cmdline", "Kernel command line"),
            XeField("bootloader", "Bootloader (PV)", hint="PV only (pygrub)"),
            XeField("memory_mb", "Memory (MB)", "1024", bounds=(1, MAX_COUNT)),
            XeField("maxmem_mb", "Max. memory (MB)", "1024", bounds=(1, MAX_COUNT)),
            XeField("vcpus", "VCPUs", "1", bounds=(1, 4096)),
            XeField("maxvcpus", "Max. VCPUs", "1", bounds=(1, 4096)),
            XeField("host", "Hostname", choices=((rule, DEFAULT_HOST), *hosts)),
            XeField(
                "run",
                "Meant to run",
                "yes",
                choices=(("yes", "yes"), ("no: conflict sets ignore it", "no")),
                hint="start it with Enter → Start once it is placed",
            ),
        )
        filled = tuple(replace(f, value=given.get(f.name, f.value)) for f in fields)
        super().__init__(f"Add domain to {enclave}", filled, save="Add domain")

    def shown(self, values: Values) -> set[str]:
        boot = _BOOT_FIELDS.get(values.get("guest_type", "pvh"), set())
        return {f.name for f in self.fields if f.name in boot or f.name not in _BOOT_FIELDS["pv"]}

    def rules(self, values: Values) -> dict[str, str]:
        errors = {}
        if message := _name_problem(values["name"], "domain"):
            errors["name"] = message
        kind = values["guest_type"]
        if kind == "pv" and not (values["kernel"].strip() or values["bootloader"].strip()):
            errors["kernel"] = "A PV guest needs a kernel or a bootloader."
        if kind == "pvh" and not values["kernel"].strip():
            errors["kernel"] = "A PVH guest needs a kernel."
        for key in ("kernel", "ramdisk", "cmdline", "bootloader"):
            text = values.get(key, "")
            if any(c in "\"'" or not c.isprintable() for c in text) or len(text) > 4096:
                errors[key] = "No quotes or control characters (at most 4096)."
        if int(values["memory_mb"]) > int(values["maxmem_mb"]):
            errors["memory_mb"] = "At most the max. memory."
        if int(values["vcpus"]) > int(values["maxvcpus"]):
            errors["vcpus"] = "At most the max. VCPUs."
        return errors


def domain_body(values: Values) -> dict[str, object]:
    """The fields of XE's VM create from the form (``name``, ``enclave`` and
    ``guest_type`` apart)."""
    body: dict[str, object] = {"os": values["os"], "run": values["run"] == "yes"}
    for key in ("memory_mb", "maxmem_mb", "vcpus", "maxvcpus"):
        body[key] = int(values[key])
    for key in ("kernel", "ramdisk", "cmdline", "bootloader"):
        if values.get(key, "").strip():
            body[key] = values[key].strip()
    if values["seclabel"] != NO_SECLABEL:
        body["seclabel"] = values["seclabel"]
    if values["host"] != DEFAULT_HOST:
        body["host"] = values["host"]
    return body
