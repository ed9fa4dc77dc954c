"""Issue #13: a `/` filter key's answer on the Enterprise screen. The filter line is drawn
before the VM table is filtered (the table's redraw is most of a key's work), once for the
keys that came meanwhile; the table draws its plain cells itself, the same segments the
DataTable would have built through Rich."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input

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


ROWS = [
    VmRow("a", "vm-00001", "host-0001", "running", "fleet-label", "h1"),
    VmRow("b", "vm-2", "h", "unknown", "x", "h2"),
    VmRow("c", "", "(default)", "stopped", "—", ""),  # empty and non-ASCII: the DataTable's
    VmRow("d", "vm-é", "hôte-1", "migrating", "[b]x[/b]", "h3"),  # longer than State's 7
    VmRow("e", "vm-5", "host-0005", "paused", "lab", "h5"),
]


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield XeVmTable(id="vms")


async def test_plain_cells_are_drawn_as_the_datatable_draws_them() -> None:
    app = OneTable()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(XeVmTable)
        table.show(ROWS)
        await pilot.pause()
        await wait_for(
            pilot, lambda: table.row_count == len(ROWS) and table.virtual_size.height > 0
        )
        checked = 0
        for row in range(len(ROWS)):
            base = table._get_row_style(row, table.rich_style)
            for column, info in enumerate(table.ordered_columns):
                width = info.get_render_width(table)
                for cursor in (False, True):
                    for hover in (False, True):
                        ours = table._render_cell(row, column, base, width, cursor, hover)
                        table._clear_caches()
                        theirs = DataTable._render_cell(
                            table, row, column, base, width, cursor, hover
                        )
                        assert ours == theirs, (ROWS[row], column, cursor, hover)
                        checked += 1
        assert checked == len(ROWS) * 4 * 4


async def test_a_filter_key_draws_plain_cells_without_rich(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rich_cells: list[tuple[int, int]] = []
    real = DataTable._render_cell

    def counted(self: Any, row: int, column: int, *args: Any, **kw: Any) -> Any:
        if row >= 0 and column >= 0:
            rich_cells.append((row, column))
        return real(self, row, column, *args, **kw)

    monkeypatch.setattr(DataTable, "_render_cell", counted)
    app = OneTable()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(XeVmTable)
        vms = [
            VmRow(f"id-{i}", f"vm-{i:05d}", f"host-{i % 7:04d}", "running", "lab")
            for i in range(300)
        ]
        table.show(vms)
        await pilot.pause()
        table.set_filter("vm-001")
        await wait_for(pilot, lambda: [v.name for v in table.rows_shown[:1]] == ["vm-00100"])
        await pilot.pause()
        assert table.matching == 100
        assert isinstance(table.get_cell_at(Coordinate(0, 0)), Text)
        assert rich_cells == []
