"""Issue #13: a `/` filter key's answer on the Enterprise screen. The filter line is drawn
before the VM list is filtered (the list's redraw is most of a key's work), once for the
keys that came meanwhile; the list (Textual's line API) draws only the lines on screen, and
a change of its row count lays nothing out again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Input

from tests._support.console import wait_for
from tests._support.keys import one_read
from tests._support.xe_console import World, ready, vm_names
from xenon_tui._xe import VmRow
from xenon_tui.widgets._xe_vms import XeVmTable

pytestmark = pytest.mark.timeout(120)


async def test_the_filter_line_is_drawn_before_the_table_is_filtered(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        text = vm_names(app)[0][:-1]
        await pilot.press("/")
        await wait_for(pilot, lambda: isinstance(screen.focused, Input))
        line = screen.focused
        assert isinstance(line, Input)
        table = screen.query_one(XeVmTable)
        frames = 0
        events: list[tuple[str, str, int]] = []
        display, post, set_filter = app._display, line.post_message, table.set_filter

        def counted_display(*args: Any, **kw: Any) -> Any:
            nonlocal frames
            frames += 1
            return display(*args, **kw)

        def posted(message: Any) -> bool:
            if isinstance(message, Input.Changed):
                events.append(("typed", message.value, frames))
            return post(message)

        def filtered(value: str) -> None:
            events.append(("filtered", value, frames))
            set_filter(value)

        app._display = counted_display  # type: ignore[method-assign]
        line.post_message = posted  # type: ignore[method-assign]
        table.set_filter = filtered  # type: ignore[method-assign,assignment]
        one_read(app, list(text))
        await wait_for(pilot, lambda: table.filter == text, 30)
        typed = {value: at for kind, value, at in events if kind == "typed"}
        done = [(value, at) for kind, value, at in events if kind == "filtered"]
        assert done and done[-1][0] == text
        # Each filter the table got was typed before a frame that drew it.
        assert all(value in typed and typed[value] < at for value, at in done), events
        assert len(done) <= len(typed)
        assert all(text.casefold() in name.casefold() for name in vm_names(app))


async def test_filter_keys_lay_nothing_out(world: World, tmp_path: Path) -> None:
    """A key in the filter line repaints the line; it does not lay the screen out again
    (Input's own virtual size did, on every key: the Hosts panel, the VM list, all of it)."""
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        await pilot.press("/")
        await wait_for(pilot, lambda: isinstance(screen.focused, Input))
        line = screen.focused
        assert isinstance(line, Input)
        await pilot.pause()
        asked: list[bool] = []
        refresh = line.refresh

        def counted(*args: Any, **kw: Any) -> Any:
            asked.append(bool(kw.get("layout")))
            return refresh(*args, **kw)

        line.refresh = counted  # type: ignore[method-assign]
        text = vm_names(app)[0]
        await pilot.press(*text)
        table = screen.query_one(XeVmTable)
        await wait_for(pilot, lambda: table.filter == text)
        assert asked and not any(asked), asked
        # Longer than the line: its end stays in sight (the line scrolls sideways).
        await pilot.press(*("x" * 90), *"END")
        await pilot.pause()
        assert line.render_line(0).text.rstrip().endswith("xxEND")
        assert not any(asked), asked


ROWS = [
    VmRow("a", "vm-00001", "host-0001", "running", "fleet-label", "h1"),
    VmRow("b", "vm-2", "h", "unknown", "x", "h2"),
    VmRow("c", "", "(default)", "stopped", "—", ""),  # empty and non-ASCII
    VmRow("d", "vm-é\x1b[2J", "hôte-1", "migrating", "[b]x[/b]", "h3"),  # ESC; over 7 wide
    VmRow("e", "vm-界5", "host-0005", "paused", "lab", "h5"),  # two cells wide
]


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield XeVmTable(id="vms")


def lines(table: XeVmTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_rows_are_drawn_in_columns_as_one_line_each() -> None:
    app = OneTable()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(XeVmTable)
        table.show(ROWS)
        await wait_for(pilot, lambda: table.size.height > 0 and table.row_count == len(ROWS))
        drawn = [line.rstrip() for line in lines(table)]
        # Columns as wide as their widest cell (State: 7, cut), a blank on each side; a
        # control character from XE is drawn as "?" (it must not reach the terminal).
        assert drawn[: len(ROWS) + 1] == [
            " Name      Host       State    SecLabel",
            " vm-00001  host-0001  running  fleet-label",
            " vm-2      h          unknown  x",
            "           (default)  stopped  —",
            " vm-é?[2J  hôte-1     migrati  [b]x[/b]",
            " vm-界5    host-0005  paused   lab",
        ], drawn
        assert not any(c for line in drawn for c in line if not c.isprintable())
        # The cursor row and the stripes are styles, not text: the first row under the
        # cursor, zebra stripes on even rows (as the DataTable drew them).
        table.focus()
        await pilot.pause()
        cursor = table.render_line(1)
        styles = {s.style for s in cursor if s.text.strip()}
        assert styles == {table.rich_style + table.get_component_rich_style("xe-vms--even-row")
                          + table.get_component_rich_style("xe-vms--cursor")}  # fmt: skip
        second = {s.style for s in table.render_line(2) if s.text.strip()}
        assert second == {table.rich_style}
        third = {s.style for s in table.render_line(3) if s.text.strip()}
        assert third == {table.rich_style + table.get_component_rich_style("xe-vms--even-row")}


async def test_a_filter_key_draws_only_the_lines_on_screen_and_lays_nothing_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layouts: list[str] = []
    real = Screen._refresh_layout

    def counted(self: Screen[Any], *args: Any, **kw: Any) -> Any:
        layouts.append(type(self).__name__)
        return real(self, *args, **kw)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    app = OneTable()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(XeVmTable)
        vms = [
            VmRow(f"id-{i}", f"vm-{i:05d}", f"host-{i % 7:04d}", "running", "lab")
            for i in range(10_000)
        ]
        table.show(vms)
        await wait_for(pilot, lambda: lines(table)[1].startswith(" vm-00000"))
        await pilot.pause()
        height = table.size.height  # the header and the rows on screen
        layouts.clear()
        drawn = table.lines_drawn
        # Each key changes the row count (10,000, 1,000, 100, 1,000, 10,000): the list
        # keeps its scrollbar, so nothing is laid out; only the lines on screen are drawn.
        for text in ("vm-01", "vm-001", "vm-00", ""):
            table.set_filter(text)
            await pilot.pause()
            assert table.virtual_size.height == table.matching + 1
        assert table.matching == 10_000 and layouts == [], layouts
        assert table.lines_drawn - drawn <= 4 * height, (table.lines_drawn - drawn, height)
        table.set_filter("vm-001")
        await pilot.pause()
        assert [v.name for v in table.rows_shown[:1]] == ["vm-00100"]
        assert str(table.border_subtitle) == "100 of 10,000 match"
        assert lines(table)[1].startswith(" vm-00100")
        # The cursor stays on its VM while the filter keeps it: down to vm-00102, then
        # the filter cleared, it is row 102 (scrolled into view).
        table.focus()
        await pilot.press("down", "down")
        assert table.current_vm() == vms[102]
        table.set_filter("")
        await pilot.pause()
        assert table.cursor_row == 102 and table.current_vm() == vms[102]
        assert vms[102] in table.on_screen()
        assert str(table.border_subtitle) == "10,000 VMs · / narrows"
