"""One-line widgets drawn as text whose items (column ranges) react to clicks."""

from __future__ import annotations

from textual import events
from textual.widget import Widget

# (first column, end column, what the item stands for: a key, a view id…)
Span = tuple[int, int, str]


def clip(spans: list[Span], limit: int) -> list[Span]:
    """The parts of ``spans`` left of column ``limit`` (what is drawn is what is clickable)."""
    return [(start, min(end, limit), value) for start, end, value in spans if start < limit]


class ClickableLine(Widget):
    """Keeps the spans of the last render; a click on one calls :meth:`clicked`."""

    ALLOW_SELECT = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._spans: list[Span] = []

    def column_of(self, value: str) -> int | None:
        """The first column of ``value``'s item as last drawn (None if not drawn)."""
        return next((start for start, _end, item in self._spans if item == value), None)

    def on_click(self, event: events.Click) -> None:
        for start, end, value in self._spans:
            if start <= event.x < end:
                event.stop()
                self.clicked(value)
                return

    def clicked(self, value: str) -> None:
        """Acts on a click on ``value``'s item."""
        raise NotImplementedError
