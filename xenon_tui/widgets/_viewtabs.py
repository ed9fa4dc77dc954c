"""The console's views: one line of tab titles over a switcher that shows one view.

Textual's ``TabbedContent`` builds a widget per tab plus an animated underline; in a
console forked per SSH session that is about 1.3 MiB of copied memory per session
(measured), for a strip that here only needs to say which view is shown and which key
shows each. This draws the strip as one line of text (a click on a title shows its view)
and leaves the panes to a ``ContentSwitcher``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import ContentSwitcher

from xenon_tui.widgets._spans import ClickableLine, Span, clip

_GAP = "  "

RELABEL_S = 0.25
"""A badge or status is drawn this long after it changed, in an update of its own."""

_DRAWN_KEEP = 8
"""Tab lines kept drawn (by what they show): a state seen again is not drawn again."""


class ViewPane(Vertical):
    """One view's container: its title in the tab line, a short one for narrow
    terminals, and a badge after either (say, a count of new violations)."""

    DEFAULT_CSS = """
    ViewPane { height: 1fr; }
    """

    def __init__(self, title: str, *children: Widget, id: str, short: str | None = None) -> None:
        super().__init__(*children, id=id)
        self.title = title
        self.short = short or title
        self.badge = ""
        self.status: tuple[str, str] = ("", "")  # (full, short for narrow terminals)

    def label(self, *, short: bool = False) -> str:
        """The title (or short title) with the badge, as drawn."""
        name = self.short if short else self.title
        return f"{name} {self.badge}" if self.badge else name


class TabLine(ClickableLine):
    """The tab strip: ``key title`` per view, the shown one highlighted."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tabline--key",
        "tabline--tab",
        "tabline--active",
        "tabline--status",
    }
    DEFAULT_CSS = """
    TabLine {
        height: 1;
        background: $panel;
        color: $foreground-muted;
        .tabline--key { color: $text-accent; }
        .tabline--tab { color: $foreground-muted; }
        .tabline--active { color: $foreground; background: $accent 30%; text-style: bold; }
        .tabline--status { color: $text-warning; text-style: bold; }
    }
    """

    def __init__(self, owner: ViewTabs) -> None:
        super().__init__()
        self._owner = owner
        # The component styles, resolved once per theme: each walks the CSS and the
        # ancestors (about a millisecond, and a render asked for up to 13 of them).
        self._styles: dict[str, Style] = {}
        # What the line shows -> its strip and clickable spans: a paint of a state drawn
        # before builds nothing (a render builds a Text, measures it up to six times and
        # goes through Textual's Content: 3-26 ms under load).
        self._drawn: dict[object, tuple[Strip, list[Span]]] = {}
        self.renders = 0
        """Lines built (tests: a state drawn before is not built again)."""

    def on_mount(self) -> None:
        # Published once the new theme's CSS is applied (the theme's name changes before).
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        self._styles = {}
        self._drawn = {}
        self.refresh()

    def _style(self, name: str) -> Style:
        styles = self._styles
        if name not in styles:
            styles[name] = self.get_component_rich_style(f"tabline--{name}")
        return styles[name]

    def _state(self, width: int) -> object:
        """What the line shows at ``width`` (the key of its drawn strip)."""
        owner = self._owner
        panes = tuple((pane.id, pane.title, pane.short, pane.badge) for pane in owner.panes())
        return (width, owner.active, owner.status_forms(), panes, tuple(owner.keys.items()))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y != 0:
            return super().render_line(y)
        key = (self.rich_style, self._state(width))
        drawn = self._drawn.get(key)
        if drawn is None:
            # Drawn Textual's way (render, then its Content: the same segments and
            # offsets as any widget), once per state.
            self.renders += 1
            if not self._dirty_regions:
                self.refresh()  # a state not drawn yet whose change asked no repaint
            strip = super().render_line(0)
            if len(self._drawn) >= _DRAWN_KEEP:
                self._drawn.pop(next(iter(self._drawn)))
            drawn = self._drawn[key] = (strip, self._spans)
        self._spans = drawn[1]
        return drawn[0]

    def render(self) -> Text:
        """The line as text (``render_line`` draws it once per state, as a strip)."""
        width = self.size.width
        # The shown view's state (its filter, rows arrived above a pinned selection) is
        # drawn on the right; the titles make room for it before it is cut.
        style = self._style("status")
        # Full titles with wide gaps; then narrow gaps; then short titles (80 columns);
        # each with the full status, then with the short one.
        for text in self._owner.status_forms():
            status = Text(f" {text} ", style) if text else Text()
            room = max(0, width - status.cell_len)
            for short, gap in ((False, "  "), (False, ""), (True, "")):
                line, spans = self._line(short=short, gap=gap)
                if line.cell_len <= room:
                    break
            if line.cell_len <= room:
                break
        if line.cell_len > room:
            room = max(room, min(line.cell_len, width // 2))
            status.truncate(max(0, width - room), overflow="ellipsis")
        line.truncate(room, overflow="ellipsis")
        # Only what is drawn is clickable; a title cut by the ellipsis keeps its visible
        # part minus the ellipsis itself.
        limit = room - 1 if line.cell_len >= room and line.plain.endswith("…") else room
        self._spans = clip(spans, limit)
        if status.cell_len:
            line.pad_right(width - line.cell_len - status.cell_len)
            line.append_text(status)
        return line

    def _line(self, *, short: bool, gap: str) -> tuple[Text, list[Span]]:
        owner = self._owner
        key_style = self._style("key")
        tab_style = self._style("tab")
        active_style = self._style("active")
        line = Text(" ", no_wrap=True, end="")
        spans: list[Span] = []
        for pane in owner.panes():
            pane_id = pane.id or ""
            active = pane_id == owner.active
            style = active_style if active else tab_style
            key = owner.keys.get(pane_id)
            start = line.cell_len
            line.append(" ", style)
            if key:
                line.append(key, style if active else style + key_style)
                line.append(" ", style)
            # The shown view keeps its full title when the others are shortened.
            line.append(pane.label(short=short and not active), style)
            line.append(" ", style)
            spans.append((start, line.cell_len, pane_id))
            line.append(gap)
        return line, spans

    def clicked(self, value: str) -> None:
        self._owner.activate(value)


class ViewTabs(Widget):
    """Views with a one-line tab strip; panes are given with ``with ViewTabs(...):``."""

    DEFAULT_CSS = """
    ViewTabs { height: 1fr; layout: vertical; }
    ViewTabs > ContentSwitcher { height: 1fr; }
    """

    class TabActivated(Message):
        """A click on the tab strip showed ``pane_id``."""

        def __init__(self, tabs: ViewTabs, pane_id: str) -> None:
            super().__init__()
            self.tabs = tabs
            self.pane_id = pane_id

        @property
        def control(self) -> ViewTabs:
            return self.tabs

    def __init__(
        self, *, initial: str, keys: Mapping[str, str] | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._panes: list[ViewPane] = []
        self._active = initial
        self.keys: Mapping[str, str] = dict(keys or {})
        # The strip, kept: a query for it walks every view's widgets (the badge and the
        # status change several times a minute).
        self._strip = TabLine(self)
        self._relabel_due = False

    def compose_add_child(self, widget: Widget) -> None:
        if not isinstance(widget, ViewPane):
            raise TypeError(f"ViewTabs holds ViewPane widgets, not {type(widget).__name__}")
        self._panes.append(widget)

    def compose(self) -> ComposeResult:
        if self._active not in {pane.id for pane in self._panes}:
            raise ValueError(f"no view {self._active!r} to show first")
        yield self._strip
        yield ContentSwitcher(*self._panes, initial=self._active)

    def panes(self) -> list[ViewPane]:
        """The views, in tab order."""
        return list(self._panes)

    def titles(self) -> dict[str, str]:
        """Pane id -> title, in order."""
        return {pane.id: pane.title for pane in self._panes if pane.id}

    @property
    def active(self) -> str:
        """The id of the view shown."""
        return self._active

    @active.setter
    def active(self, pane_id: str) -> None:
        if pane_id not in self.titles():
            raise ValueError(f"no view {pane_id!r}")
        if pane_id == self._active:
            return
        self._active = pane_id
        if self.is_mounted:
            self.query_one(ContentSwitcher).current = pane_id
            self._strip.refresh()

    def activate(self, pane_id: str) -> None:
        """Shows ``pane_id`` as a click would, telling the app (``TabActivated``)."""
        self.active = pane_id
        self.post_message(self.TabActivated(self, pane_id))

    def label(self, pane_id: str) -> str:
        """The title shown for ``pane_id``, with its badge."""
        return self._pane(pane_id).label()

    def status(self) -> str:
        """The shown view's status text ("" for none)."""
        return self._pane(self._active).status[0]

    def status_forms(self) -> tuple[str, str]:
        """The shown view's status, full and short."""
        return self._pane(self._active).status

    def set_status(self, pane_id: str, status: str, short: str | None = None) -> None:
        """Sets the state drawn on the right while ``pane_id`` is shown ("" for none), and
        a shorter form for narrow terminals."""
        pane = self._pane(pane_id)
        forms = (status, status if short is None else short)
        if pane.status != forms:
            pane.status = forms
            if pane_id == self._active:
                self._relabel()

    def set_badge(self, pane_id: str, badge: str) -> None:
        """Sets the text drawn after ``pane_id``'s title ("" for none)."""
        pane = self._pane(pane_id)
        if pane.badge != badge:
            pane.badge = badge
            self._relabel()

    def _relabel(self) -> None:
        """Repaints the strip alone, ``RELABEL_S`` later: a relabel comes with other
        changes (the mode band's alert count with the badge, a view's rows with its
        status), and Textual paints one update as the box around all its changed parts;
        the band at the bottom and the strip at the top were every widget between them
        rendered again. (After the next refresh was not enough: the band's own repaint
        reaches the screen from the band's task, sometimes after that refresh.)"""
        if self.is_mounted and not self._relabel_due:
            self._relabel_due = True
            self.set_timer(RELABEL_S, self._relabelled)

    def _relabelled(self) -> None:
        self._relabel_due = False
        self._strip.refresh()

    def _pane(self, pane_id: str) -> ViewPane:
        for pane in self._panes:
            if pane.id == pane_id:
                return pane
        raise ValueError(f"no view {pane_id!r}")
