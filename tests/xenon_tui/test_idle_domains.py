"""The Domains view while idle (issue #16 §1): a sample that changes the running domains'
CPU seconds draws those cells, not the whole table; a hidden table draws nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.cache import LRUCache
from textual.containers import Vertical

from themes import VARIABLE_DEFAULTS
from xenon_tui.widgets import DomainsTable


def _domain(domid: int, name: str, cpu_s: float, violations: int = 0) -> dict[str, Any]:
    return {
        "domid": domid,
        "name": name,
        "state": "-b----",
        "run_state": "running",
        "mem_mb": 1024,
        "vcpus": 2,
        "cpu_s": cpu_s,
        "seclabel_name": "EA-seclabel",
        "tag_name": "Enclave A",
        "violations": violations,
    }


def _domains(cpu: float, viol: int = 0) -> list[dict[str, Any]]:
    rows = [_domain(0, "Domain-0", 100.0)]
    rows += [_domain(i, f"EA-domu-{i}", cpu + i, viol) for i in range(1, 9)]
    return rows


class _TableApp(App[None]):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        with Vertical(id="pane"):
            yield DomainsTable(id="domains-table")


def _spy_cells(table: DomainsTable, counts: Counter[str]) -> None:
    """Counts the cells rendered anew (stored in the table's cell cache)."""

    class Counting(LRUCache[Any, Any]):
        def __setitem__(self, key: Any, value: Any) -> None:
            counts["cells"] += 1
            super().__setitem__(key, value)

    old = table._cell_render_cache
    cache: Counting = Counting(old.maxsize)
    keys = old.keys()
    for key in list(keys):
        cache.set(key, old[key])
    table._cell_render_cache = cache


def _text(table: DomainsTable) -> str:
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


async def test_a_sample_draws_the_changed_cells_not_the_whole_table() -> None:
    # Every CPU-s change went through update_cell, which renders all 90 cells again
    # (its update count keys every cache): twice a second of a core per refresh.
    async with _TableApp().run_test(size=(160, 30)) as pilot:
        table = pilot.app.query_one(DomainsTable)
        table.set_domains(_domains(10.0))
        await pilot.pause()
        assert "11.0" in _text(table)
        counts: Counter[str] = Counter()
        _spy_cells(table, counts)
        table.set_domains(_domains(10.5))  # the eight guests' CPU seconds changed
        await pilot.pause()
        text = _text(table)
        assert "11.5" in text and "18.5" in text
        assert "11.0" not in text
        assert counts == Counter({"cells": 8}), counts  # the changed cells only
        counts.clear()
        table.set_domains(_domains(10.5, viol=7))  # wider ("7 +70/s"): the column grows
        await pilot.pause()
        assert "7 +" in table.render_line(3).text
        counts.clear()
        wide = _domains(10.5, viol=7)
        wide[1]["cpu_s"] = 123456.0  # wider than the column: it grows, the table is redrawn
        table.set_domains(wide)
        await pilot.pause()
        assert "123456.0" in _text(table)


async def test_a_hidden_table_draws_nothing_until_shown() -> None:
    async with _TableApp().run_test(size=(160, 30)) as pilot:
        table = pilot.app.query_one(DomainsTable)
        table.set_domains(_domains(10.0))
        await pilot.pause()
        pane = pilot.app.query_one("#pane")
        pane.display = False
        await pilot.pause()
        counts: Counter[str] = Counter()
        _spy_cells(table, counts)
        refreshes: list[object] = []
        repaint = table.refresh

        def spy(*args: Any, **kwargs: Any) -> Any:
            refreshes.append(args)
            return repaint(*args, **kwargs)

        table.refresh = spy  # type: ignore[method-assign]
        for step in range(1, 6):
            table.set_domains(_domains(10.0 + step))
            await pilot.pause()
        assert refreshes == [] and counts == Counter()
        pane.display = True
        await pilot.pause()
        await pilot.pause()
        assert "16.0" in _text(table)
        assert [str(d["name"]) for d in table.domains][:2] == ["Domain-0", "EA-domu-1"]


async def test_the_domains_view_follows_pushed_samples_and_violations_without_reads(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    # The view re-read every domain over TLS every 2 s to see CPU seconds move; the
    # host pushes them with each statistics sample, and each violation says its domain's
    # count after it: both are drawn as they come, with no read.
    from tests._support.console import console_config, wait_connected, wait_for
    from tests._support.scripted_host import violation
    from xenon_tui.app import XenonConsole

    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        first = dict(table.domains[0])
        reads: list[str] = []
        fleet = app.host.fleet
        read = fleet.refresh_domains

        async def spy(at: str) -> None:
            reads.append(at)
            await read(at)

        fleet.refresh_domains = spy  # type: ignore[method-assign]

        def shown(column: int) -> str:
            return str(table.get_row(str(first["name"]))[column])

        sample = {"domid": first["domid"], "name": first["name"], "cpu_pct": 5.0}
        host.emit({"event": "stats", "data": {"ts": 1.0, "domains": [{**sample, "cpu_s": 42.5}]}})
        await wait_for(pilot, lambda: shown(6) == "42.5")
        records = []
        for count in (1, 2, 3):
            host.seq += 1
            record = violation(host.seq, domain=str(first["name"]))
            records.append({**record, "domid": first["domid"], "count": count})
        host.history.extend(records)
        host.emit({"event": "violations", "data": {"violations": records, "last_seq": host.seq}})
        await wait_for(pilot, lambda: shown(9).startswith("3"))
        assert reads == []
        state = app.servers[next(iter(app.servers))]
        assert next(d for d in state.domains if d["name"] == first["name"])["cpu_s"] == 42.5


class _EmptyApp(App[None]):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)


async def test_domains_set_before_the_table_is_mounted_are_drawn_once_it_is() -> None:
    """A link change can hand the table its domains after it was added to the view and
    before its ``on_mount`` gave it columns; adding rows then raised "More values provided
    than there are columns" and the host console died (a loaded ``-n 2`` run of test_link)."""
    app = _EmptyApp()
    async with app.run_test(size=(160, 48)) as pilot:
        table = DomainsTable(id="domains-table")
        waiting = app.screen.mount(table)
        table.set_domains(_domains(5.0))  # before its Mount event was handled
        await waiting
        await pilot.pause()
        assert len(table.columns) > 0
        assert table.row_count == 9
        assert [d["name"] for d in table.domains][:2] == ["Domain-0", "EA-domu-1"]
