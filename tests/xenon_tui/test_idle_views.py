"""What an idle console draws while a real daemon's data arrives (issue #16 §1): nothing
for a view nobody sees, and a shown view only when what it shows changed."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from tests._support.console import console_config, wait_connected, wait_for
from tests._support.screens import ADDRESS, injected_app
from tests._support.snapshots import settle
from xenon_tui.app import XenonConsole
from xenon_tui.widgets import PolicyView, ViolationLog


def spy_refreshes(widget: Any, counts: Counter[str], name: str) -> None:
    """Counts ``widget``'s repaints under ``name`` (and ``name + ' layout'``)."""
    repaint = widget.refresh

    def spy(*args: Any, **kwargs: Any) -> Any:
        counts[name + (" layout" if kwargs.get("layout") else "")] += 1
        return repaint(*args, **kwargs)

    widget.refresh = spy


def holds(log: ViolationLog, rows: int) -> Callable[[], bool]:
    """The log holds ``rows`` rows."""
    return lambda: len(log.window) == rows


async def push(pilot: Any, app: XenonConsole, event: dict[str, Any]) -> None:
    """Posts a pushed event of the injected server and waits until the views drew it (at
    the session's next apply instant)."""
    from xenon_tui.messages import ServerEvent

    state = app.servers[ADDRESS]
    app.host.post_message(ServerEvent(ADDRESS, event))
    await wait_for(pilot, lambda: state.stats is event["data"] and not app.host._apply_due)
    await pilot.pause()


def spy_layouts(app: XenonConsole, counts: Counter[str]) -> None:
    """Counts the screen's layout passes (each re-flows every widget of every view)."""
    screen = app.screen
    reflow = screen._refresh_layout

    def spy(*args: Any, **kwargs: Any) -> Any:
        counts["screen layout"] += 1
        return reflow(*args, **kwargs)

    screen._refresh_layout = spy  # type: ignore[method-assign]


async def test_a_hidden_violation_log_is_not_repainted_nor_laid_out(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    # 20 batches while the Policy view is shown: the log (hidden) took a repaint and a
    # layout pass of the whole screen for each, so the Policy trees were laid out again.
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("2")
        await wait_for(pilot, lambda: bool(app.query(PolicyView)))
        await settle(pilot, app)  # the Policy view's own first layouts are done
        log = app.query_one(ViolationLog)
        counts: Counter[str] = Counter()
        spy_refreshes(log, counts, "log")
        spy_layouts(app, counts)
        for batch in range(1, 21):
            host.emit_violations(3, domain="EA-domu-1")
            await wait_for(pilot, holds(log, 3 * batch))
        await pilot.pause()
        assert counts == Counter(), counts
        await pilot.press("5")  # shown: the rows are there (no read of the host needed)
        await wait_for(
            pilot,
            lambda: (
                log.virtual_size.height == 60
                and "EA-domu-1" in log.render_line(0).text
                and log.show_vertical_scrollbar
            ),
        )


async def test_the_hosts_changes_made_elsewhere_come_together_on_one_line() -> None:
    # A toast cost a layout pass of the whole screen as it came, expired and went; in the
    # demo the three hosts changed by turns. The strip is one line: a repaint, no layout.
    from xenon_tui.widgets import NoticeStrip

    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        strip = app.query_one(NoticeStrip)
        counts: Counter[str] = Counter()
        spy_layouts(app, counts)
        app.host._domain_changed(ADDRESS, {"name": "EA-domu-1", "reason": "pause"})
        await pilot.pause(0.2)
        assert "xenon-host-1:8443: EA-domu-1 paused" in strip.text
        first = strip.text
        app.host._domain_changed("xenon-2:8443", {"name": "EB-domu-1", "reason": "pause"})
        app.host._domain_changed(ADDRESS, {"name": "EA-domu-2", "reason": "pause"})
        await pilot.pause(0.2)
        assert strip.text == first  # both wait for the next window
        await wait_for(pilot, lambda: "EB-domu-1" in strip.text)
        assert "xenon-2:8443: EB-domu-1 paused" in strip.text
        assert "xenon-host-1:8443: EA-domu-2 paused" in strip.text
        assert "EA-domu-1" not in strip.text
        await pilot.pause()
        assert not app._notifications
        assert counts == Counter(), counts
        assert strip._clear is not None  # one timer while there is text, none after
        strip.clear()
        assert strip.text == "" and strip._clear is None


def sample(cpu: float, dom0_cpu: float = 40.0) -> dict[str, Any]:
    """A pushed statistics sample of two domains: Domain-0 and EA-domu-1 at ``cpu`` %."""
    domains = [
        {"name": "Domain-0", "cpu_pct": dom0_cpu, "mem_kb": 1 << 20, "vcpus": 8},
        {"name": "EA-domu-1", "cpu_pct": cpu, "mem_kb": 2 << 20, "vcpus": 2},
    ]
    return {"event": "stats", "data": {"ts": 1_700_000_000.0, "domains": domains}}


@contextlib.asynccontextmanager
async def perf_shown(first: dict[str, Any]) -> AsyncIterator[tuple[Any, XenonConsole, Any]]:
    """The injected console on the Performance view, ``first`` pushed and drawn: (pilot,
    app, the PerfView). Samples are applied every half second (``refresh`` 0.5), the
    tests' pace, whatever the key recency."""
    from dataclasses import replace

    from xenon_tui.widgets import PerfView

    app = injected_app()
    app.host.config = replace(app.host.config, refresh=0.5)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("6")
        perf = app.query_one(PerfView)
        await wait_for(pilot, lambda: perf.is_mounted and perf.size.height > 0)
        await push(pilot, app, first)
        yield pilot, app, perf


async def test_performance_bars_are_drawn_only_when_they_change() -> None:
    # Each host's sample (every 3 s) redrew both bar charts through plotext although the
    # values only jittered by hundredths (40.01, 40.0) and the memory never changed.
    from xenon_tui.widgets._charts import BarChart

    async with perf_shown(sample(50.0)) as (pilot, app, perf):
        counts: Counter[str] = Counter()
        for plot in perf.query(BarChart):
            spy_refreshes(plot, counts, plot.id or "?")
        for jitter in (50.01, 49.99, 50.02, 50.0, 49.98, 50.01, 50.0, 49.99, 50.01, 50.0):
            await push(pilot, app, sample(jitter))
        assert counts == Counter(), counts
        await push(pilot, app, sample(90.0))
        assert counts == Counter({"cpu-now": 1}), counts
        await pilot.press("5")  # hidden: samples are kept, not drawn
        await pilot.pause()
        for cpu in (10.0, 20.0, 30.0):
            await push(pilot, app, sample(cpu))
        assert counts == Counter({"cpu-now": 1}), counts
        await pilot.press("6")  # shown: the last sample at once
        await pilot.pause()
        assert counts == Counter({"cpu-now": 2}), counts
        from xenon_tui.widgets._perf import visible_bars

        chart = perf.query_one("#cpu-now", BarChart)
        names = ["Domain-0", "EA-domu-1"]
        assert perf.ceilings["cpu-now"] == 50  # 90 % raised it to 100; 40 % + 25 % fits 50
        bars = visible_bars([40.0, 30.0], chart.size.width, names, 50)
        assert perf._bars["cpu-now"][2] == bars


async def test_the_host_screen_keeps_one_clock() -> None:
    # Three intervals (domain poll 1.5 s, fleet 1 s, link ages 1 s) woke the app 2.7 times
    # a second; one tick does all three.
    from xenon_tui.screens._host import DOMAINS_REFRESH_S, HostConsole

    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        host = app.host
        assert isinstance(host, HostConsole)
        clocks = [t for t in host._timers if not t._repeat and t.name != "screen_update"]
        assert len(clocks) == 1, clocks
        # The Domains view comes pushed; its read is a slow safety net.
        assert 5 <= DOMAINS_REFRESH_S <= 10


async def test_an_idle_link_sleeps_until_its_next_heartbeat(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    # The pump napped 0.5 s at a time whatever the heartbeat: two wakeups a second per
    # host with nothing to do.
    import asyncio

    from xenon_tui._connection import LinkState, ServerConnection, xps_client_factory

    running, _host = scripted
    config = console_config(xps_pki, running, tmp=tmp_path)
    waits: list[float | None] = []
    three = asyncio.Event()

    def factory(entry: Any, tls: Any, read_only: bool) -> Any:
        client: Any = xps_client_factory(entry, tls, read_only)
        real = client.next_event

        async def next_event(wait_s: float | None = None) -> Any:
            waits.append(wait_s)
            if len(waits) >= 3:
                three.set()
            return await real(wait_s)

        client.next_event = next_event
        return client

    states: list[LinkState] = []
    conn = ServerConnection(
        config.servers[0],
        config.tls,
        read_only=False,
        on_state=lambda state, _detail: states.append(state),
        on_event=lambda _event: None,
        factory=factory,
    )
    task = asyncio.create_task(conn.run())
    try:
        async with asyncio.timeout(60):
            await three.wait()
    finally:
        await conn.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert LinkState.CONNECTED in states
    assert all(w is not None and 0 < w <= conn.heartbeat_s for w in waits), waits
    assert max(w or 0 for w in waits) > 1.0, waits


async def test_domain_events_of_a_host_not_shown_are_read_when_it_is(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    # Every domain event of every host started a re-read of its domains, though only the
    # current host's are shown; the others' are read when they become current.
    from tests._support.scripted_host import ScriptedHost
    from xenon_tui.widgets import NoticeStrip

    first, second = ScriptedHost(), ScriptedHost()
    one, two = await start_xps(first), await start_xps(second)
    app = XenonConsole(console_config(xps_pki, one, two, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        address = list(app.servers)[1]
        await wait_connected(pilot, app)
        await wait_connected(pilot, app, address)
        await pilot.pause()
        reads: list[str] = []
        fleet = app.host.fleet
        read = fleet.refresh_domains

        async def spy(at: str) -> None:
            reads.append(at)
            await read(at)

        fleet.refresh_domains = spy  # type: ignore[method-assign]
        await second.pause_domain("EA-domu-1")
        await second.unpause_domain("EA-domu-2")
        await second.pause_domain("EA-domu-2")
        strip = app.query_one(NoticeStrip)
        await wait_for(pilot, lambda: "EA-domu-2 PauseDomain" in strip.text)  # all 3 came
        await pilot.pause(0.2)
        assert reads == []
        assert app.servers[address].domains_dirty

        def run_state(name: str) -> object:
            rows = app.servers[address].domains
            return next((d.get("run_state") for d in rows if d.get("name") == name), None)

        assert run_state("EA-domu-1") == "running"  # not read yet
        app.host.switch_server(address)
        await wait_for(pilot, lambda: run_state("EA-domu-1") == "paused")
        assert reads == [address]
        assert not app.servers[address].domains_dirty


async def test_a_shown_violation_log_repaints_at_most_once_per_interval() -> None:
    # Each batch repainted the log while shown: the demo's trickle is several a second.
    # Twenty batches at once: the first drawn at once, the rest at the interval's end.
    from tests._support.scripted_host import violation
    from xenon_tui.widgets._violation_log import REPAINT_S

    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        log = app.query_one(ViolationLog)
        await pilot.pause(REPAINT_S * 2)  # the rows the app starts with are painted
        counts: Counter[str] = Counter()
        spy_refreshes(log, counts, "log")
        for seq in range(1001, 1021):  # twenty batches in one go
            log.add_violations([violation(seq, domain="EA-domu-1")])
        assert counts["log"] <= 1, counts
        await wait_for(pilot, lambda: counts["log"] >= 2)  # the rest at the interval end
        await pilot.pause(REPAINT_S * 2)
        assert counts["log"] == 2, counts
        assert "EA-domu-1" in log.render_line(0).text
        assert len(log.window) >= 20


async def test_the_domains_view_is_read_when_shown_and_not_polled_hidden(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    # Hidden, the Domains view is not polled; shown, it is read at once (not at the next
    # poll, up to 2 s later).
    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        reads: list[tuple[str, int]] = []  # (address, the clock's tick count then)
        fleet = app.host.fleet
        read = fleet.refresh_domains

        async def spy(at: str) -> None:
            reads.append((at, app.host._ticks))
            await read(at)

        fleet.refresh_domains = spy  # type: ignore[method-assign]
        from xenon_tui.screens._host import DOMAINS_REFRESH_TICKS

        app.host._ticks = DOMAINS_REFRESH_TICKS - 1  # the next tick polls (were it shown)
        await pilot.pause(1.5)
        assert reads == []  # the violation log is shown: no poll
        app.host._ticks = 0  # the next poll tick is the second from now
        await pilot.press("4")
        await wait_for(pilot, lambda: bool(reads))
        assert reads[0][0] == next(iter(app.servers))
        assert reads[0][1] < 2, reads  # at once, not at the next poll


async def test_the_new_violations_count_is_relabelled_at_most_every_alert_interval() -> None:
    # Every 0.2 s while violations trickled, the band and the tab line were relabelled
    # (a repaint of two screen lines each) on every view but the log; the first one after
    # a quiet spell now shows at once and the count follows at most every ALERT_S.
    import math
    import time

    from tests._support.scripted_host import violation
    from xenon_tui.messages import ServerEvent
    from xenon_tui.screens._host import ALERT_S
    from xenon_tui.widgets import ModeBand

    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        await wait_for(pilot, lambda: bool(app.query(PolicyView)))
        await pilot.pause()
        band = app.query_one(ModeBand)
        relabels: list[float] = []
        sync = app.host._sync_alert

        def spy() -> None:
            relabels.append(time.monotonic())
            sync()

        app.host._sync_alert = spy  # type: ignore[method-assign]

        def batch(seq: int) -> ServerEvent:
            rows = [violation(seq, domain="EA-domu-1")]
            return ServerEvent(ADDRESS, {"event": "violations", "data": {"violations": rows}})

        began = time.monotonic()
        app.host.post_message(batch(10_001))
        await pilot.pause()
        assert band.alert == 1  # at once
        for seq in range(10_002, 10_011):
            app.host.post_message(batch(seq))
            await pilot.pause(0.15)
        spent = time.monotonic() - began
        assert len(relabels) <= 1 + math.ceil(spent / ALERT_S), (relabels, spent)
        await wait_for(pilot, lambda: band.alert == 10)  # the rest at the interval's end


async def test_a_link_that_hears_pushed_events_is_not_pinged(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    # Every host was pinged every beat although its pushes (a statistics sample every
    # 3 s in the demo) already said it was alive: a TLS round trip per beat per host.
    import asyncio

    from xenon_tui._connection import LinkState, ServerConnection, xps_client_factory

    running, host = scripted
    config = console_config(xps_pki, running, tmp=tmp_path)
    pings: list[float] = []
    pinged = asyncio.Event()

    def factory(entry: Any, tls: Any, read_only: bool) -> Any:
        client: Any = xps_client_factory(entry, tls, read_only)
        real = client.call

        async def call(method: str, **params: Any) -> Any:
            if method == "Ping":
                pings.append(asyncio.get_running_loop().time())
                pinged.set()
            return await real(method, **params)

        client.call = call
        return client

    states: list[LinkState] = []
    connected = asyncio.Event()

    def on_state(state: LinkState, _detail: str) -> None:
        states.append(state)
        if state is LinkState.CONNECTED:
            connected.set()

    conn = ServerConnection(
        config.servers[0],
        config.tls,
        read_only=False,
        on_state=on_state,
        on_event=lambda _event: None,
        factory=factory,
        heartbeat_s=1.0,
    )
    task = asyncio.create_task(conn.run())
    try:
        async with asyncio.timeout(60):
            await connected.wait()
            for _ in range(16):  # 4 s of events, one every 0.25 s (4 beats)
                host.emit({"event": "stats", "data": {"ts": 1.0, "domains": []}})
                await asyncio.sleep(0.25)
            pushed = len(pings)
            for _ in range(2):  # quiet: it beats again
                pinged.clear()
                await pinged.wait()
    finally:
        await conn.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert pushed <= 1, pings  # the one due when the first beat came, at most
    assert LinkState.STALE not in states


async def test_a_following_logs_scrollbars_follow_its_repaints_not_each_batch() -> None:
    # Each batch updated both scrollbars (a screen update of its own) besides the log's
    # own repaint at most every REPAINT_S.
    from tests._support.scripted_host import violation
    from xenon_tui.widgets._violation_log import REPAINT_S

    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        log = app.query_one(ViolationLog)
        for seq in range(2001, 2101):  # enough rows for a vertical scrollbar
            log.add_violations([violation(seq, domain="EA-domu-1")])
        await pilot.pause(REPAINT_S * 2)
        assert log.follow and log.show_vertical_scrollbar
        counts: Counter[str] = Counter()
        spy_refreshes(log.vertical_scrollbar, counts, "bar")
        for seq in range(3001, 3021):  # twenty batches in one go
            log.add_violations([violation(seq, domain="EA-domu-1")])
        await pilot.pause(REPAINT_S * 3)
        # Two updates at most (the first batch at once, the rest at the interval's end),
        # each two repaint requests of the bar (its size reactive, then the update's).
        assert 1 <= counts["bar"] <= 4, counts
        assert log.vertical_scrollbar.window_virtual_size == len(log.window)


async def test_performance_bars_that_move_by_less_than_a_cell_are_not_drawn_again() -> None:
    # A domain's memory moving by a few MiB (a balloon) redrew the memory chart through
    # plotext (~10 ms a draw) for bars that did not move by a cell.
    from xenon_tui.widgets._charts import BarChart

    def mem_sample(mem_mib: int) -> dict[str, Any]:
        event = sample(50.0)
        event["data"]["domains"][1]["mem_kb"] = mem_mib * 1024
        return event

    async with perf_shown(mem_sample(3000)) as (pilot, app, perf):
        counts: Counter[str] = Counter()
        for plot in perf.query(BarChart):
            spy_refreshes(plot, counts, plot.id or "?")
        for mib in (3001, 3003, 2999, 3002, 2998):
            await push(pilot, app, mem_sample(mib))
        assert counts == Counter(), counts
        await push(pilot, app, mem_sample(1500))  # half: drawn
        assert counts == Counter({"mem-now": 1}), counts


async def test_performance_bars_keep_their_scale_through_jitter_of_the_biggest() -> None:
    # Plotext scaled a bar chart to its biggest value and I1's key kept its top in 5 %
    # steps: a balloon moving the biggest domain's memory a few MiB across a step's edge
    # (3535 <-> 3548 MiB) redrew the chart each time, every bar moving with the scale. The
    # scale now stays on a round top (4096) until a value passes it or falls well below.
    from xenon_tui.widgets._charts import BarChart

    def mem_sample(mem_mib: int) -> dict[str, Any]:
        event = sample(50.0)
        event["data"]["domains"][1]["mem_kb"] = mem_mib * 1024
        return event

    def scale(plot: Any) -> str:
        """The chart's last line as drawn: its tick labels, the scale's top last."""
        return str(plot.render().plain).rstrip().splitlines()[-1].split()[-1]

    async with perf_shown(mem_sample(3535)) as (pilot, app, perf):
        mem = perf.query_one("#mem-now", BarChart)
        assert scale(mem) == "4096"
        counts: Counter[str] = Counter()
        for plot in perf.query(BarChart):
            spy_refreshes(plot, counts, plot.id or "?")
        for mib in (3548, 3535, 3547, 3536, 3548, 3535):
            await push(pilot, app, mem_sample(mib))
        assert counts == Counter(), counts
        await push(pilot, app, mem_sample(2000))  # a real change: drawn
        assert counts == Counter({"mem-now": 1}), counts
        assert scale(mem) == "3072"  # 2000 MiB + 25 % fits under a lower step: lowered
        await push(pilot, app, mem_sample(5000))  # past the top: raised
        assert counts == Counter({"mem-now": 2}), counts
        assert perf.ceilings["mem-now"] == 6144 and scale(mem) == "6144"
        await push(pilot, app, mem_sample(1500))  # well below: lowered
        assert counts == Counter({"mem-now": 3}), counts
        assert scale(mem) == "2048"
