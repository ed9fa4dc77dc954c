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
    assert all(0 <= p < 1 for p in phases)  # a fraction of the session's period


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


@given(
    now=st.floats(min_value=0, max_value=1e7, allow_nan=False),
    fraction=st.floats(min_value=0, max_value=1, exclude_max=True),
    period=st.sampled_from([0.5, 1.0, 2.0, 7.5]),
)
def test_the_apply_instant_follows_the_sessions_period(
    now: float, fraction: float, period: float
) -> None:
    delay = apply_delay(now, fraction * period, period)
    assert 0.01 <= delay <= period + 0.01
    offset = (now + delay - fraction * period) % period
    assert min(offset, period - offset) < 1e-6 * max(1.0, now)


def _on_grid(at: float, phase: float, period: float) -> bool:
    offset = (at - phase * period) % period
    return min(offset, period - offset) < 1e-6 * max(1.0, at)


async def test_an_idle_session_draws_samples_at_its_refresh_period_and_after_a_key_sooner() -> None:
    # Every sample (each host pushes one a second or more) redrew the shown Domains or
    # Performance view at the next half second: ~1 frame a second per session for metrics
    # nobody watches closely. Idle (no key for LIVELY_S), they are drawn at the console's
    # refresh setting (k9s's --refresh); after a key, at most every LIVELY_REFRESH_S;
    # violation counts still at the next APPLY_S instant (incident-first).
    import time

    from xenon_tui._config import ConsoleConfig, ServerEntry
    from xenon_tui.app import XenonConsole
    from xenon_tui.screens._host import LIVELY_REFRESH_S, LIVELY_S

    servers = (ServerEntry("xenon-host-1", 8443), ServerEntry("xenon-host-2"))
    app = XenonConsole(ConsoleConfig(servers=servers, autoconnect=False, refresh=5.0))
    async with app.run_test(size=(160, 48)) as pilot:
        await prepare()(pilot)
        await pilot.press("4")
        await view_shown(pilot, "domains")
        host, state = app.host, app.servers[ADDRESS]
        table = host.query_one(DomainsTable)
        await wait_for(pilot, lambda: _settled(host) and table.row_count > 0)
        assert host.display_period() == LIVELY_REFRESH_S  # a key was just pressed
        host._key_at = time.monotonic() - LIVELY_S - 1  # ... long ago: idle
        assert host.display_period() == 5.0
        calls: list[Any] = []
        _count_calls(table, "set_domains", calls)
        host._server_event(_sample(state, 300.0))
        assert host._apply_due and _on_grid(host._apply_at, host.apply_phase, 5.0)
        # A violation with a new count for a domain shown, after a quiet spell (nothing
        # drawn for a period): drawn at the next APPLY_S instant, not at the sample's.
        host._applied_at = time.monotonic() - 5.0
        name = str(state.domains[0]["name"])

        def violations(count: int) -> ServerEvent:
            violation = {
                "seq": state.last_seq + 1, "ts": "2026-01-01T00:00:00Z", "domain": name,
                "domid": state.domains[0].get("domid"), "kind": "rate",
                "hypercall_name": "xen_version", "count": count,
            }  # fmt: skip
            return ServerEvent(
                ADDRESS, {"event": "violations", "data": {"violations": [violation]}}
            )

        sample_at = host._apply_at
        host._server_event(violations(4242))
        assert host._apply_at <= sample_at
        assert host._apply_at - time.monotonic() <= APPLY_S + 0.01
        await wait_for(pilot, lambda: _settled(host) and bool(calls))
        assert len(calls) == 1  # the sample and the count, drawn together
        assert {d["cpu_s"] for d in calls[0][0]} == {300.0}
        assert {d["violations"] for d in calls[0][0] if d["name"] == name} == {4242}
        # The next count, within the period (a trickle): with the period's next instant.
        host._server_event(violations(4243))
        assert host._apply_due and _on_grid(host._apply_at, host.apply_phase, 5.0)
        # After a key: livelier (the phase spreads the sessions over the second).
        await pilot.press("down")
        assert host.display_period() == LIVELY_REFRESH_S
        host._server_event(_sample(state, 301.0))
        assert host._apply_at - time.monotonic() <= LIVELY_REFRESH_S + 0.01
        await wait_for(pilot, lambda: _settled(host) and len(calls) == 2)
        assert {d["cpu_s"] for d in calls[1][0]} == {301.0}
        assert {d["violations"] for d in calls[1][0] if d["name"] == name} == {4243}
