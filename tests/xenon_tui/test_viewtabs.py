"""The one-line tab strip (ViewTabs/TabLine) and title bar (TitleLine) on their own."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.command import CommandPalette
from textual.widgets import Static

from tests._support.console import wait_for
from xenon_tui.widgets._titleline import TitleLine
from xenon_tui.widgets._viewtabs import TabLine, ViewPane, ViewTabs


class TabsApp(App[None]):
    TITLE = "Xenon Console"

    def __init__(self) -> None:
        super().__init__()
        self.clicked: list[str] = []

    def compose(self) -> ComposeResult:
        yield TitleLine()
        with ViewTabs(id="views", initial="b", keys={"a": "2", "b": "3", "c": "4"}):
            with ViewPane("Alpha", id="a", short="Al"):
                yield Static("alpha body", id="alpha")
            with ViewPane("Bravo", id="b", short="Br"):
                yield Static("bravo body", id="bravo")
            with ViewPane("Charlie", id="c", short="Ch"):
                yield Static("charlie body", id="charlie")

    def on_view_tabs_tab_activated(self, event: ViewTabs.TabActivated) -> None:
        self.clicked.append(event.pane_id)


def _strip(app: App[None]) -> str:
    return "".join(segment.text for segment in app.query_one(TabLine).render_line(0)).rstrip()


async def test_strip_shows_keys_and_titles_and_switches_views() -> None:
    app = TabsApp()
    async with app.run_test(size=(100, 10)) as pilot:
        views = app.query_one(ViewTabs)
        assert _strip(app) == "  2 Alpha    3 Bravo    4 Charlie"
        assert views.active == "b"
        assert app.query_one("#b").display and not app.query_one("#a").display
        # Set from code: the view changes, no click message.
        views.active = "a"
        await pilot.pause()
        assert app.query_one("#a").display and not app.query_one("#b").display
        assert app.clicked == []
        with pytest.raises(ValueError, match="no view"):
            views.active = "zulu"
        assert views.active == "a"


async def test_a_click_shows_the_view_and_tells_the_app() -> None:
    app = TabsApp()
    async with app.run_test(size=(100, 10)) as pilot:
        line = app.query_one(TabLine)
        column = line.column_of("c")
        assert column is not None
        assert await pilot.click(TabLine, offset=(column + 2, 0))
        await wait_for(pilot, lambda: app.clicked == ["c"])
        assert app.query_one(ViewTabs).active == "c"
        assert app.query_one("#c").display
        # The gap between two titles is not a title.
        assert await pilot.click(TabLine, offset=(column - 1, 0))
        await pilot.pause()
        assert app.clicked == ["c"]


async def test_badges_and_narrow_terminals() -> None:
    app = TabsApp()
    async with app.run_test(size=(100, 10)) as pilot:
        views = app.query_one(ViewTabs)
        views.set_badge("c", "⚠ 12")
        await pilot.pause()
        assert views.label("c") == "Charlie ⚠ 12"
        assert _strip(app).endswith("4 Charlie ⚠ 12")
        views.set_badge("c", "")
        await pilot.pause()
        assert views.label("c") == "Charlie"
        with pytest.raises(ValueError, match="no view"):
            views.set_badge("zulu", "!")
        # Too narrow for full titles: first the gaps go, then the other views' titles
        # shorten; the shown view keeps its full title, every key stays visible.
        await pilot.resize_terminal(32, 10)
        await pilot.pause()
        assert _strip(app) == "  2 Alpha  3 Bravo  4 Charlie"
        await pilot.resize_terminal(24, 10)
        await pilot.pause()
        assert _strip(app) == "  2 Al  3 Bravo  4 Ch"


async def test_only_what_is_drawn_is_clickable() -> None:
    app = TabsApp()
    async with app.run_test(size=(14, 10)) as pilot:
        line = app.query_one(TabLine)
        assert _strip(app) == "  2 Al  3 Bra…"
        assert line.column_of("c") is None  # "4 Charlie" is past the edge
        assert await pilot.click(TabLine, offset=(13, 0))  # the ellipsis
        await pilot.pause()
        assert app.clicked == []
        assert await pilot.click(TabLine, offset=(9, 0))  # what shows of "3 Bravo"
        await pilot.pause()
        assert app.clicked == ["b"]


async def test_only_view_panes_and_a_known_first_view() -> None:
    class Bad(App[None]):
        def compose(self) -> ComposeResult:
            with ViewTabs(initial="a"):
                yield Static("not a pane")

    with pytest.raises(TypeError, match="ViewPane"):
        async with Bad().run_test():
            pass

    class Unknown(App[None]):
        def compose(self) -> ComposeResult:
            with ViewTabs(initial="nope"):
                yield ViewPane("A", id="a")

    with pytest.raises(ValueError, match="nope"):
        async with Unknown().run_test():
            pass


async def test_title_line_follows_the_sub_title_and_its_icon_opens_the_palette() -> None:
    app = TabsApp()
    async with app.run_test(size=(60, 10)) as pilot:
        title = app.query_one(TitleLine)
        assert title.text() == "Xenon Console"
        app.sub_title = "xenon-1 — Live"
        await pilot.pause()
        shown = "".join(segment.text for segment in title.render_line(0))
        assert "Xenon Console — xenon-1 — Live" in shown
        assert shown.startswith(" ⛨")
        # Centred: about as much room on each side.
        text = shown.rstrip()
        left = len(text) - len(text.lstrip(" ⛨"))
        assert abs(left - (60 - len(text))) <= 4
        assert await pilot.click(TitleLine, offset=(1, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
