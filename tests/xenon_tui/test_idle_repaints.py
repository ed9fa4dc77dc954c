"""What a repaint of an idle console costs (issue #16 §1, session 10): a new violation is
one line formatted, not every visible one; the tab line resolves its styles once per
theme; a Performance bar wobbling within its slack draws nothing until it catches up;
pushes for a hidden view wake nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from tests._support.console import wait_for
from tests._support.screens import ADDRESS, injected_app, prepare, view_shown
from tests.xenon_tui.test_idle_views import perf_shown, push, sample, spy_refreshes
from xenon_tui.messages import ServerEvent
from xenon_tui.widgets import PerfView, ViolationLog
from xenon_tui.widgets import _violation_log as log_module
from xenon_tui.widgets._viewtabs import TabLine


def _violation(seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": "2026-01-01T00:00:00Z",
        "domain": "EA-domu-1",
        "domid": 3,
        "seclabel_name": "EA",
        "kind": "rate",
        "hypercall_name": "xen_version",
        "count": seq,
    }


def _count_formats(monkeypatch: Any) -> list[int]:
    calls: list[int] = []
    real = log_module.format_row

    def spy(row: Any) -> list[str]:
        calls.append(int(row.get("seq", -1)))
        return real(row)

    monkeypatch.setattr(log_module, "format_row", spy)
    return calls


async def test_a_new_violation_formats_one_line_not_the_whole_log(monkeypatch: Any) -> None:
    # Following the newest row, each arrival pushes every shown row down a line and the log
    # formatted all of them again (40 lines at 160x48, ~1.5 batches a second in the demo).
    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare()(pilot)
        await pilot.press("5")
        await view_shown(pilot, "violations")
        log = app.host.query_one(ViolationLog)
        rows = [_violation(seq) for seq in range(1000, 1100)]
        log.add_violations(rows)
        await wait_for(pilot, lambda: not log._repaint_due)
        await pilot.pause()
        height = log.scrollable_content_region.height
        assert height > 20
        formats = _count_formats(monkeypatch)
        log.add_violations([_violation(2000)])
        await wait_for(pilot, lambda: bool(formats) and not log._repaint_due)
        await pilot.pause()
        # The new row, and the one the cursor (following the newest) left; the others were
        # drawn before, a line further up.
        assert sorted(formats) == [1099, 2000], formats
        assert "2000" in log.render_line(0).text
        assert "1099" in log.render_line(1).text
        formats.clear()
        log.action_cursor(1)  # the cursor moves: its two rows are drawn again, no others
        await wait_for(pilot, lambda: bool(formats))
        await pilot.pause()
        assert sorted(formats) == [1099, 2000], formats


async def test_the_tab_line_resolves_its_styles_once_per_theme(monkeypatch: Any) -> None:
    # Each render of the tab line resolved up to 13 component styles (a CSS walk each):
    # the badge of new violations relabels it every 2 s on every view but the log.
    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare()(pilot)
        line = app.host.query_one(TabLine)
        tabs = line._owner
        await pilot.pause()
        resolved: list[str] = []
        real = line.get_component_rich_style

        def spy(*names: str, partial: bool = False) -> Any:
            resolved.extend(names)
            return real(*names, partial=partial)

        monkeypatch.setattr(line, "get_component_rich_style", spy)

        def shows(badge: str) -> Callable[[], bool]:
            return lambda: badge in line.render().plain

        for count in range(1, 6):
            tabs.set_badge("violations", f"⚠ {count}")
            await wait_for(pilot, shows(f"⚠ {count}"))
            await pilot.pause()  # drawn on the screen too
        assert resolved == [], resolved
        before = line.render().spans
        app.theme = next(name for name in app.theme_names if name != app.theme)
        await wait_for(pilot, lambda: bool(resolved))  # the new theme's styles
        after = line.render().spans
        assert {s.style for s in after} != {s.style for s in before}


def _sample(cpu: float) -> dict[str, Any]:
    return sample(cpu, dom0_cpu=100.0)


async def test_a_bar_within_its_slack_is_drawn_again_only_to_catch_up(monkeypatch: Any) -> None:
    # The demo's domains moved some bar by a cell or two every few seconds (a CPU on a
    # cell's edge, 49.6 <-> 50.4 %, at every other sample): a plotext draw of the whole
    # chart each time, 20-60 ms. A bar may lag by its slack, and catches up later.
    from xenon_tui.widgets import _perf
    from xenon_tui.widgets._charts import BarChart
    from xenon_tui.widgets._perf import bar_cells, bar_slack, visible_bars

    async with perf_shown(_sample(50.0)) as (pilot, app, perf):
        chart = perf.query_one("#cpu-now", BarChart)
        await wait_for(pilot, lambda: "cpu-now" in perf._bars)
        names = ["Domain-0", "EA-domu-1"]
        ceiling = perf.ceilings["cpu-now"]
        slack = bar_slack(bar_cells(chart.size.width, names))
        assert ceiling == 100 and slack >= 1

        def cells(cpu: float) -> int:
            return visible_bars([100.0, cpu], chart.size.width, names, ceiling)[1]

        drawn = cells(50.0)
        within = next(v for v in range(51, 70) if cells(v) == drawn + slack)
        beyond = next(v for v in range(within, 80) if cells(v) == drawn + slack + 1)
        counts: Counter[str] = Counter()
        for plot in perf.query(BarChart):
            spy_refreshes(plot, counts, plot.id or "?")
        for cpu in (within, 50.0, within, 51.0, within):
            await push(pilot, app, _sample(float(cpu)))
        assert counts == Counter(), counts
        await push(pilot, app, _sample(float(beyond)))
        assert counts == Counter({"cpu-now": 1}), counts
        assert perf._bars["cpu-now"][2][1] == drawn + slack + 1
        monkeypatch.setattr(_perf, "BAR_CATCH_UP_S", 0.0)  # as if drawn long ago
        await push(pilot, app, _sample(float(beyond)))  # the same bars: nothing to catch up
        assert counts == Counter({"cpu-now": 1}), counts
        await push(pilot, app, _sample(float(within)))  # a lag within the slack: caught up
        assert counts == Counter({"cpu-now": 2}), counts
        assert perf._bars["cpu-now"][2][1] == drawn + slack


async def test_samples_for_a_hidden_view_wake_nothing_and_show_when_it_is_shown(
    monkeypatch: Any,
) -> None:
    # Every pushed sample timed an apply of the Performance view (and the Domains table),
    # shown or not: two wake-ups a second on the Policy view, each querying the DOM.
    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare()(pilot)
        await pilot.press("6")
        await view_shown(pilot, "perf")
        await pilot.press("2")
        await view_shown(pilot, "policy")
        host, state = app.host, app.servers[ADDRESS]
        perf = host.query_one(PerfView)
        drawn: list[Any] = []
        real = perf.show_stats

        def spy(stats: Any, log: Any) -> None:
            drawn.append(stats)
            real(stats, log)

        monkeypatch.setattr(perf, "show_stats", spy)
        samples = [_sample(float(cpu)) for cpu in (10, 20, 30)]
        for event in samples:
            host._server_event(ServerEvent(ADDRESS, event))
            assert not host._apply_due
        assert state.stats is samples[-1]["data"]
        await pilot.pause()
        assert drawn == []
        await pilot.press("6")
        await view_shown(pilot, "perf")
        await wait_for(pilot, lambda: bool(drawn))
        assert drawn[0] is samples[-1]["data"]


async def test_a_trickle_repaints_at_most_once_a_second_and_a_burst_sooner() -> None:
    # The demo's trickle (a row or two, 1.5 times a second) repainted the whole log each
    # time, and over SSH every line of it went out again; a burst must still show within
    # REPAINT_S (violation_log_100k_ms).
    import time

    import pytest

    from xenon_tui.widgets._violation_log import REPAINT_S, TRICKLE_ROWS, TRICKLE_S

    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare()(pilot)
        await pilot.press("5")
        await view_shown(pilot, "violations")
        log = app.host.query_one(ViolationLog)
        await wait_for(pilot, lambda: not log._repaint_due)
        counts: Counter[str] = Counter()
        spy_refreshes(log, counts, "log")
        painted = log._painted_at = time.monotonic()  # as if it had just been painted
        log.add_violations([_violation(1000)])
        log.add_violations([_violation(1001)])
        assert counts["log"] == 0 and log._repaint_due
        assert log._repaint_at == pytest.approx(painted + TRICKLE_S)
        log.add_violations([_violation(seq) for seq in range(1002, 1002 + TRICKLE_ROWS)])
        if counts["log"] == 0:  # not yet REPAINT_S after the paint: timed for then
            assert log._repaint_at == pytest.approx(painted + REPAINT_S)
        await wait_for(pilot, lambda: counts["log"] >= 1 and not log._repaint_due)
        assert str(1001 + TRICKLE_ROWS) in log.render_line(0).text
        # Alone after a quiet spell of TRICKLE_S: at once.
        log._painted_at = time.monotonic() - TRICKLE_S
        shown = counts["log"]
        log.add_violations([_violation(5000)])
        assert counts["log"] == shown + 1 and not log._repaint_due


def _spy_updates(app: Any) -> list[set[str]]:
    """The widget classes each screen update paints (Textual paints one update as the box
    around all its changed widgets), and ``<layout>`` for each layout pass."""
    compositor = app.screen._compositor
    updates: list[set[str]] = []
    real = compositor.update_widgets

    def spy(widgets: set[Any]) -> None:
        updates.append({type(w).__name__ for w in widgets})
        real(widgets)

    compositor.update_widgets = spy
    screen = app.screen
    reflow = screen._refresh_layout

    def layout(*args: Any, **kwargs: Any) -> Any:
        updates.append({"<layout>"})
        return reflow(*args, **kwargs)

    screen._refresh_layout = layout
    return updates


async def test_an_alert_relabel_paints_the_band_and_the_tab_line_apart() -> None:
    # The new-violations count relabels the mode band (bottom) and the tab line (top) at
    # once: one update whose box was the whole screen, every widget rendered again.
    from tests._support.screens import screen_lines
    from xenon_tui.widgets import ModeBand

    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare()(pilot)
        await pilot.press("6")
        await view_shown(pilot, "perf")
        await pilot.pause()
        updates = _spy_updates(app)
        state = app.servers[ADDRESS]
        for count in (3, 4):
            state.alert = count
            app.host._sync_alert()

            def shown(count: int = count) -> bool:
                lines = screen_lines(app)
                return f"Violations ⚠ {count}" in lines[1] and any(
                    f"⚠ {count} new violations" in line for line in lines
                )

            await wait_for(pilot, shown)
        painted = [names & {"ModeBand", "TabLine"} for names in updates]
        assert {"ModeBand"} in painted and {"TabLine"} in painted, updates
        assert {"ModeBand", "TabLine"} not in painted, updates
        assert {"<layout>"} not in updates, updates
        assert app.host.query_one(ModeBand).alert == 4


async def test_the_tab_line_draws_a_state_once() -> None:
    # A paint of the tab line built its Text and converted it again (3-26 ms under load)
    # though it showed what it showed before.
    from tests._support.screens import screen_lines

    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare()(pilot)
        line = app.host.query_one(TabLine)
        tabs = line._owner
        await pilot.pause()

        async def badge(text: str) -> None:
            tabs.set_badge("violations", text)
            await wait_for(pilot, lambda: ("Violations " + text).strip() in screen_lines(app)[1])
            await pilot.pause()

        await badge("⚠ 1")
        await badge("")
        built = line.renders
        await badge("⚠ 1")
        await badge("")
        line.refresh()  # a repaint of what is shown
        await pilot.pause()
        assert line.renders == built
        await badge("⚠ 2")
        assert line.renders == built + 1


async def test_the_history_chart_is_drawn_again_only_when_it_changed() -> None:
    # Plotext built the history (~130 ms) at every draw; the chart now draws only a change.
    import time

    from tests.xenon_tui.test_perf import _seven_minutes
    from xenon_tui.widgets._charts import HistoryChart

    async with perf_shown(_sample(50.0)) as (pilot, _app, perf):
        chart = perf.query_one("#history", HistoryChart)
        perf.history = dict(_seven_minutes(time.time()).history("10m"))
        perf._draw_history()
        await wait_for(pilot, lambda: "dom-8" in chart.render().plain)
        counts: Counter[str] = Counter()
        spy_refreshes(chart, counts, "history")
        built = chart.builds
        perf._draw_history()  # the same data, the same chart
        await pilot.pause()
        assert counts == Counter() and chart.builds == built
        await pilot.press("x")  # memory: drawn
        await wait_for(pilot, lambda: "Memory MiB" in chart.render().plain)
        assert counts == Counter({"history": 1})
