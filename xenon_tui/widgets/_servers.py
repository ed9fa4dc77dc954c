"""The Xenon servers panel: one line per daemon, coloured by link state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from xenon_tui._actions import bindings, check_scoped
from xenon_tui._connection import LinkState
from xenon_tui.messages import ClearFilter

# Link state -> (glyph, component class naming its colour).
_STATE_MARK = {
    LinkState.CONNECTED: ("●", "connected"),
    LinkState.STALE: ("●", "stale"),
    LinkState.LOST: ("●", "lost"),
    LinkState.CONNECTING: ("◌", "connecting"),
    LinkState.DISCONNECTED: ("○", "disconnected"),
}
_MARKS = ("connected", "stale", "lost", "connecting", "disconnected", "same", "differs")


class ServersPanel(OptionList):
    """Servers with their link state. Moving highlights a line (its commands act on it);
    Enter makes it the console's current server, marked ``▸``."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *bindings("list"),
        *bindings("servers"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = OptionList.COMPONENT_CLASSES | {
        f"servers-panel--{mark}" for mark in _MARKS
    }

    DEFAULT_CSS = """
    ServersPanel { height: 1fr; border: round $panel; background: $surface; }
    ServersPanel:focus { border: round $primary; }
    /* A tinted, not solid, cursor: the link-state glyph must keep its red/green. */
    ServersPanel > .option-list--option-highlighted,
    ServersPanel:focus > .option-list--option-highlighted {
        background: $primary 25%; color: $foreground; text-style: bold;
    }
    ServersPanel > .servers-panel--connected { color: $status-ok; text-style: bold; }
    ServersPanel > .servers-panel--stale { color: $status-stale; text-style: bold; }
    ServersPanel > .servers-panel--lost { color: $status-bad; text-style: bold; }
    ServersPanel > .servers-panel--connecting { color: $status-warn; }
    ServersPanel > .servers-panel--disconnected { text-style: dim; }
    ServersPanel > .servers-panel--same { color: $status-ok; text-style: bold; }
    ServersPanel > .servers-panel--differs { color: $status-warn; text-style: bold; }
    """

    class Command(Message):
        """A servers-panel action on one server (``address`` None when the list is empty)."""

        def __init__(self, action: str, address: str | None) -> None:
            super().__init__()
            self.action = action
            self.address = address

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return check_scoped(self, "servers", action, parameters)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Xenon servers"
        self._rows: dict[str, tuple[LinkState, str | None, str | None]] = {}
        self._names: dict[str, str] = {}
        self._staged: dict[str, int] = {}
        self._ages: dict[str, str] = {}
        self._marks: dict[str, Style] = {}
        self._current: str | None = None

    def _mark_styles(self) -> dict[str, Style]:
        """The theme's style of each mark (component classes, so theme variables)."""
        return {
            mark: self.get_component_rich_style(f"servers-panel--{mark}", partial=True)
            for mark in _MARKS
        }

    def on_mount(self) -> None:
        # Published after the new theme's CSS is applied, so the marks are its colours.
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        marks = self._mark_styles()
        if marks != self._marks:  # the lines are text in the old colours: draw them again
            self._marks = marks
            for address, row in self._rows.items():
                self._draw(address, *row)

    @staticmethod
    def label(
        address: str,
        state: LinkState,
        color: str | None,
        match: str | None = None,
        name: str | None = None,
        *,
        marks: Mapping[str, Style] | None = None,
        current: bool = False,
        staged: int = 0,
        age: str = "",
    ) -> Text:
        """The rendered line of one server (its host name first, once known).

        ``marks`` maps the mark names (``connected``, ``lost``…, ``same``, ``differs``) to
        their styles; without it the line is plain. ``staged`` > 0 adds the badge
        ``staged: N`` (objects the host's staged policy changes). A stale link gets a
        line ``stale``, and ``age`` (``last update 12 s ago``; empty while the link is
        fresh) a line of its own.
        """
        marks = marks or {}
        glyph, mark = _STATE_MARK[state]
        text = Text("▸ " if current else "  ")
        text.append(f"{glyph} ", style=marks.get(mark, ""))
        # Only the glyph is coloured: green words on the tinted cursor are hard to read.
        text.append(name or address, style="bold" if state is LinkState.CONNECTED else "")
        if name:
            # Not dim: a dimmed grey collapses onto the cursor's grey in 16 colours.
            text.append(f" {address}")
        if color:
            text.append(" ■", style=color)
        if staged > 0:
            text.append(f" staged: {staged}", style="bold")
        if match is not None:
            text.append(f" {match}", style=marks.get("same" if match == "=" else "differs", ""))
        # Under the name, one item a line: the panel is 30 columns wide.
        if state is LinkState.STALE:
            text.append("\n    ")
            text.append("stale", style=marks.get("stale", ""))
        if age:
            text.append(f"\n    {age}")
        return text

    def set_server(
        self,
        address: str,
        state: LinkState,
        color: str | None = None,
        match: str | None = None,
    ) -> None:
        """Adds or updates one server line."""
        self._rows[address] = (state, color, match)
        if not self._marks:
            self._marks = self._mark_styles()
        self._draw(address, state, color, match)

    def _draw(self, address: str, state: LinkState, color: str | None, match: str | None) -> None:
        name = self._names.get(address)
        prompt = self.label(
            address,
            state,
            color,
            match,
            name,
            marks=self._marks,
            current=address == self._current,
            staged=self._staged.get(address, 0),
            age=self._ages.get(address, ""),
        )
        try:
            index = self.get_option_index(address)
        except Exception:  # OptionDoesNotExist: a new server
            self.add_option(Option(prompt, id=address))
            if self.highlighted is None:
                self.highlighted = 0
            return
        self.replace_option_prompt_at_index(index, prompt)

    def set_name(self, address: str, name: str | None) -> None:
        """Names a server line after its host (from GetHypervisorInfo); None forgets it."""
        if name == self._names.get(address):
            return
        if name:
            self._names[address] = name
        else:
            self._names.pop(address, None)
        if address in self._rows:
            self.set_server(address, *self._rows[address])

    def set_staged(self, address: str, count: int) -> None:
        """Shows ``staged: N`` on a server's line (0 takes the badge off)."""
        if count == self._staged.get(address, 0):
            return
        if count > 0:
            self._staged[address] = count
        else:
            self._staged.pop(address, None)
        if address in self._rows:
            self.set_server(address, *self._rows[address])

    def set_age(self, address: str, age: str) -> None:
        """Shows how long ago a server was last heard from (``""`` while it is fresh);
        the line is drawn again only when the words change."""
        if age == self._ages.get(address, ""):
            return
        if age:
            self._ages[address] = age
        else:
            self._ages.pop(address, None)
        if address in self._rows:
            self._draw(address, *self._rows[address])

    def set_current(self, address: str | None) -> None:
        """Marks the console's current server."""
        if address == self._current:
            return
        old, self._current = self._current, address
        for line in (old, address):
            if line is not None and line in self._rows:
                self._draw(line, *self._rows[line])

    def highlight(self, address: str) -> None:
        """Moves the highlight to a server's line."""
        try:
            self.highlighted = self.get_option_index(address)
        except Exception:  # OptionDoesNotExist: not in the list
            return

    def remove_server(self, address: str) -> None:
        """Removes one server line."""
        self._rows.pop(address, None)
        self._names.pop(address, None)
        self._staged.pop(address, None)
        self._ages.pop(address, None)
        self.remove_option(address)

    def state_of(self, address: str) -> LinkState:
        """The shown state of a server."""
        return self._rows[address][0]

    @property
    def current(self) -> str | None:
        """The highlighted server address."""
        if self.highlighted is None or self.option_count == 0:
            return None
        return self.get_option_at_index(self.highlighted).id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Command("toggle", event.option.id))

    def _command(self, action: str) -> None:
        self.post_message(self.Command(action, self.current))

    def action_connect(self) -> None:
        self._command("connect")

    def action_disconnect(self) -> None:
        self._command("disconnect")

    def action_add(self) -> None:
        self._command("add")

    def action_remove(self) -> None:
        self._command("remove")

    def action_color(self) -> None:
        self._command("color")

    def action_compare(self) -> None:
        self._command("compare")

    def action_clone(self) -> None:
        self._command("clone")

    def action_authorizations(self) -> None:
        self._command("authorizations")

    def action_list_first(self) -> None:
        self.action_first()

    def action_list_last(self) -> None:
        self.action_last()

    def action_clear_filter(self) -> None:
        self.post_message(ClearFilter())
