"""Pushes applied once per apply instant, at each session's own phase (issue #16 §1): many
samples and violation counts arriving together draw a view once, a hidden view not at all,
and two sessions (two links) do not wake at the same instant."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests._support.console import wait_for
from tests._support.screens import ADDRESS, injected_app, prepare, view_shown
from xenon_tui.messages import ServerEvent
from xenon_tui.screens._host import APPLY_S, HostConsole, apply_delay
from xenon_tui.widgets import DomainsTable, PerfView


def _sample(state: Any, cpu_s: float) -> ServerEvent:
    """A pushed statistics sample giving every domain of ``state`` ``cpu_s`` CPU seconds."""
    domains = [
        {
            "domid": d.get("domid"),
            "name": d.get("name"),
            "cpu_s": cpu_s,
            "cpu_pct": cpu_s % 90,
            "mem_kb": 1 << 20,
            "vcpus": 1,
        }
        for d in state.domains
    ]
    return ServerEvent(ADDRESS, {"event": "stats", "data": {"ts": cpu_s, "domains": domains}})


def _count_calls(widget: Any, name: str, calls: list[Any]) -> None:
    real = getattr(widget, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    setattr(widget, name, spy)


def _settled(host: HostConsole) -> bool:
    return not host._apply_due


async def test_samples_arriving_together_draw_the_domains_table_once() -> None:
    # Each pushed sample (and each violation batch with new counts) updated the table at
    # once: the demo's three hosts pushed 4-6 a second, each a table update and a frame.
    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare()(pilot)
        await pilot.press("4")
        await view_shown(pilot, "domains")
        host, state = app.host, app.servers[ADDRESS]
        table = host.query_one(DomainsTable)
        await wait_for(pilot, lambda: _settled(host) and table.row_count > 0)
        calls: list[Any] = []
        _count_calls(table, "set_domains", calls)
        for cpu_s in range(100, 108):
            host._server_event(_sample(state, float(cpu_s)))  # one after another, no frame
        await wait_for(pilot, lambda: _settled(host) and bool(calls))
        await pilot.pause()
        assert len(calls) == 1, calls
        assert {d["cpu_s"] for d in calls[0][0]} == {107.0}  # the newest one
        assert "107.0" in table.render_line(1).text


async def test_samples_arriving_together_draw_the_performance_bars_once() -> None:
    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare(stats=True)(pilot)
        await pilot.press("6")
        await view_shown(pilot, "perf")
        host, state = app.host, app.servers[ADDRESS]
        perf = host.query_one(PerfView)
        await wait_for(pilot, lambda: _settled(host))
        calls: list[Any] = []
        _count_calls(perf, "show_stats", calls)
        for cpu_s in range(10, 18):
            host._server_event(_sample(state, float(cpu_s)))
        await wait_for(pilot, lambda: _settled(host) and bool(calls))
        await pilot.pause()
        assert len(calls) == 1, calls
        assert calls[0][0]["ts"] == 17.0
        assert len(state.stats_log) >= 8  # every sample is kept, only the drawing waits


async def test_a_hidden_domains_table_takes_no_pushes_until_it_is_shown() -> None:
    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare()(pilot)
        await pilot.press("4")
        await view_shown(pilot, "domains")
        host, state = app.host, app.servers[ADDRESS]
        table = host.query_one(DomainsTable)
        await pilot.press("5")
        await view_shown(pilot, "violations")
        await wait_for(pilot, lambda: _settled(host))
        calls: list[Any] = []
        _count_calls(table, "set_domains", calls)
        repaints: list[Any] = []
        _count_calls(table, "refresh", repaints)
        for cpu_s in (200.0, 201.0, 202.0):
            host._server_event(_sample(state, cpu_s))
            await wait_for(pilot, lambda: _settled(host))
        await pilot.pause()
        assert calls == [] and repaints == []
        await pilot.press("4")  # shown: the newest values at once
        await view_shown(pilot, "domains")
        await wait_for(pilot, lambda: "202.0" in table.render_line(1).text)


def test_two_sessions_apply_pushes_at_different_instants() -> None:
    phases = {injected_app().host.apply_phase for _ in range(4)}
    assert len(phases) == 4
    assert all(0 <= p < APPLY_S for p in phases)


def test_two_links_ping_at_different_instants() -> None:
    from xenon_tui._config import ServerEntry, TlsFiles
    from xenon_tui._connection import BEAT_JITTER, STALE_AFTER_BEATS, ServerConnection

    def link() -> ServerConnection:
        return ServerConnection(
            ServerEntry("xenon-1"),
            TlsFiles(None, None, None),
            read_only=True,
            on_state=lambda *_: None,
            on_event=lambda _event: None,
            heartbeat_s=2.0,
        )

    beats = {link().beat_s for _ in range(4)}
    assert len(beats) == 4
    # Later than a beat, and still two pings before three silent beats mark it stale.
    assert all(2.0 <= b <= 2.0 * (1 + BEAT_JITTER) for b in beats)
    assert 2 * 2.0 * (1 + BEAT_JITTER) < STALE_AFTER_BEATS * 2.0


@given(
    now=st.floats(min_value=0, max_value=1e7, allow_nan=False),
    phase=st.floats(min_value=0, max_value=APPLY_S, exclude_max=True),
)
def test_the_apply_instant_is_the_sessions_next_one(now: float, phase: float) -> None:
    delay = apply_delay(now, phase)
    assert 0.01 <= delay <= APPLY_S + 0.01
    # On the session's grid: phase + k * APPLY_S.
    offset = (now + delay - phase) % APPLY_S
    assert min(offset, APPLY_S - offset) < 1e-6 * max(1.0, now)
