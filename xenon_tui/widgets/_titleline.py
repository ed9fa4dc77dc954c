"""The title bar: one line of text with the app's title and sub-title.

Textual's ``Header`` is three widgets (icon, title, clock space) kept in sync by watchers;
in a console forked per SSH session those cost about half a MiB of copied memory each
time. This draws the same line: the icon on the left (a click opens the command
palette), the title and sub-title centred.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.reactive import reactive
from textual.widget import Widget

_ICON_WIDTH = 4


class TitleLine(Widget):
    """A one-line header: icon, then ``title — sub-title`` centred."""

    ALLOW_SELECT = False
    DEFAULT_CSS = """
    TitleLine {
        dock: top;
        width: 100%;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """
    icon: reactive[str] = reactive("⛨")

    def __init__(self, *, icon: str = "⛨", id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(TitleLine.icon, icon)

    def on_mount(self) -> None:
        self.watch(self.app, "title", self._changed, init=False)
        self.watch(self.app, "sub_title", self._changed, init=False)

    def _changed(self) -> None:
        self.refresh()

    def text(self) -> str:
        """The title as shown, without the icon."""
        app = self.app
        return f"{app.title} — {app.sub_title}" if app.sub_title else app.title

    def render(self) -> Text:
        width = self.size.width
        line = Text(f" {self.icon}".ljust(_ICON_WIDTH), no_wrap=True, end="")
        title = Text(self.text(), no_wrap=True, end="")
        # Centred on the whole line, as long as it does not run over the icon.
        room = max(0, width - _ICON_WIDTH)
        title.truncate(room, overflow="ellipsis")
        left = max(0, min((width - title.cell_len) // 2 - _ICON_WIDTH, room - title.cell_len))
        line.append(" " * left)
        line.append_text(title)
        return line

    async def on_click(self, event: events.Click) -> None:
        if event.x < _ICON_WIDTH and self.app.ENABLE_COMMAND_PALETTE:
            event.stop()
            await self.run_action("app.command_palette")
