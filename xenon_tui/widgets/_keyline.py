"""The footer: one line of the keys that work now, drawn as text.

Textual's ``Footer`` builds a widget per key and rebuilds them all on every focus change;
in a console forked per SSH session that churn alone is about 1.5 MiB of copied memory per
session. This widget reads the same ``screen.active_bindings`` and draws one line: the
screen's keys on the left, the command palette's key on the right, disabled keys dimmed,
and a click on a key presses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text

from xenon_tui.widgets._spans import ClickableLine, Span, clip

if TYPE_CHECKING:
    from textual.screen import Screen

_SEPARATOR = "▏"


class KeyLine(ClickableLine):
    """A one-line footer of the active key bindings."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"keyline--key", "keyline--description"}
    DEFAULT_CSS = """
    KeyLine {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        .keyline--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .keyline--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def items(self) -> tuple[list[tuple[str, str, str, bool]], tuple[str, str, str, bool] | None]:
        """(key, key as shown, description, enabled) of the keys, and of the palette key."""
        app = self.app
        palette_key = app.COMMAND_PALETTE_BINDING
        keys: list[tuple[str, str, str, bool]] = []
        palette: tuple[str, str, str, bool] | None = None
        seen: set[str] = set()
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            if key == palette_key and app.ENABLE_COMMAND_PALETTE:
                palette = (key, app.get_key_display(binding), binding.description, enabled)
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            keys.append((key, app.get_key_display(binding), binding.description, enabled))
        return keys, palette

    def render(self) -> Text:
        key_style = self.get_component_rich_style("keyline--key")
        description_style = self.get_component_rich_style("keyline--description")
        keys, palette = self.items()
        width = self.size.width
        right = Text()
        if palette is not None:
            right = self._item(palette, key_style, description_style, prefix=_SEPARATOR)
        left = Text()
        spans: list[Span] = []
        room = max(0, width - right.cell_len)
        for item in keys:
            start = left.cell_len
            left.append_text(self._item(item, key_style, description_style))
            spans.append((start, left.cell_len, item[0]))
        left.truncate(room)
        left.pad_right(room - left.cell_len)
        spans = clip(spans, room)
        if palette is not None:
            spans.append((room + len(_SEPARATOR), width, palette[0]))
        self._spans = spans
        return left + right

    @staticmethod
    def _item(
        item: tuple[str, str, str, bool], key: Style, description_style: Style, prefix: str = ""
    ) -> Text:
        _key, shown, description, enabled = item
        text = Text(prefix, "dim")
        text.append(f" {shown} ", key)
        if description:
            text.append(f"{description} ", description_style)
        if not enabled:
            text.stylize("dim", len(prefix))
        return text

    def clicked(self, value: str) -> None:
        self.app.simulate_key(value)
