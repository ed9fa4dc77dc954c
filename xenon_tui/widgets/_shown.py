"""Whether a widget is drawn now: a view that nobody sees skips its repaints."""

from __future__ import annotations

from textual.widget import Widget


def displayed(widget: Widget) -> bool:
    """``widget`` and every container above it are displayed (a hidden tab's widgets are
    not: their repaints and layout passes are work nobody sees, done once on Show)."""
    node: object = widget
    while isinstance(node, Widget):
        if not node.display:
            return False
        node = node.parent
    return widget.is_attached
