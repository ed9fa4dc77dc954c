"""The fleet violations view (issue #12 §10): every connected host's violations grouped
host → domain → hypercall, built when first shown, sortable, its selection pinned to its
group, and its actions sent to the row's host. Two real sim daemons; snapshots of the
injected state at 160x48 and 80x24."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests._support.console import console_config, wait_connected, wait_for
from tests._support.screens import injected_app, prepare, run_steps, view_open
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs._resolve import ResolveDialog
from xenon_tui.widgets._fleetviolations import FleetHost, FleetViolations, HostCounts, fleet_rows


def _v(seq: int, domain: str, call: str, subop: int, second: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "domain": domain,
        "hypercall_name": call,
        "subop": subop,
        "count": seq * 7,  # the domain's running total: not what a group counts
        "ts_ns": second * 10**9,
    }


def test_counts_group_and_rate_by_violation_time() -> None:
    counts = HostCounts()
    now = 1_000
    rows = [_v(1, "A", "sysctl", 35, 100)]  # old: counted, no rate
    rows += [_v(2 + i, "A", "domctl", -1, now - 1) for i in range(20)]
    rows += [_v(30 + i, "B", "sysctl", 35, now - 2) for i in range(5)]
    counts.add(rows, now=now)
    assert counts.totals == {("A", "sysctl/35"): 1, ("A", "domctl"): 20, ("B", "sysctl/35"): 5}
    rates = counts.rates(now=now)
    assert rates[("A", "domctl")] == 2.0 and rates[("B", "sysctl/35")] == 0.5
    assert ("A", "sysctl/35") not in rates
    assert counts.last[("A", "domctl")]["seq"] == 21
    hosts = [FleetHost("h1:1", "one", counts)]
    by_count = [(r.level, r.label, r.count) for r in fleet_rows(hosts, "count", now)]
    assert by_count == [
        (0, "one", 26),
        (1, "A", 21),
        (2, "domctl", 20),
        (2, "sysctl/35", 1),
        (1, "B", 5),
        (2, "sysctl/35", 5),
    ]
    by_name = [r.label for r in fleet_rows(hosts, "name", now) if r.level == 1]
    assert by_name == ["A", "B"]
    by_rate = [r.label for r in fleet_rows(hosts, "rate", now + 30)]  # rates gone: by count
    assert by_rate[1] == "A"


async def _misbehaving(daemon: Any, domain: str) -> Any:
    client = daemon.client()
    await client.connect()
    await client.create_domain(domain)
    await client.set_misbehaviour(domain, "out_of_profile", 20_000)
    return client


async def test_fleet_view_over_two_daemons_routes_actions_to_the_rows_host(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    one, two = await start_xps(), await start_xps()
    c1 = await _misbehaving(one, "EA-domu-1")
    c2 = await _misbehaving(two, "EB-domu-1")
    app = XenonConsole(console_config(xps_pki, one, two, tmp=tmp_path))
    app.console_user = "alice"
    addresses = list(app.servers)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, addresses[0])
        await wait_connected(pilot, app, addresses[1])
        assert not app.query(FleetViolations)  # built when first shown
        await pilot.press("7")
        await wait_for(pilot, lambda: bool(app.query(FleetViolations)))
        table = app.query_one(FleetViolations)
        assert app.focused is table

        def keys() -> set[str]:
            return {r.key for r in table.rows_shown}

        want = {f"d|{addresses[0]}|EA-domu-1", f"d|{addresses[1]}|EB-domu-1"}
        await wait_for(pilot, lambda: want <= keys(), wait_s=30)
        assert {f"h|{a}" for a in addresses} <= keys()
        # Select the second host's domain: the selection stays on it as counts change.
        target = f"d|{addresses[1]}|EB-domu-1"
        table.move_cursor(row=[r.key for r in table.rows_shown].index(target))
        await pilot.pause()
        before = table.selected()
        assert before is not None and before.key == target
        # New rows arrive (another domain of that host): the selection stays on its group.
        await c2.create_domain("EC-domu-1")
        await c2.set_misbehaviour("EC-domu-1", "out_of_profile", 20_000)
        await wait_for(pilot, lambda: f"d|{addresses[1]}|EC-domu-1" in keys(), wait_s=30)
        assert table.selected().key == target
        await pilot.press("N")  # by name: another order, same selection
        assert table.order_by == "name" and table.selected().key == target
        await pilot.press("p")
        await two.wait_log("Received request PauseDomain", wait_s=10)

        async def paused_by_alice(client: Any) -> bool:
            lines = (await client.get_log_msgs())["lines"]
            return any("(EB-domu-1): pause by alice" in line for line in lines)

        async with asyncio.timeout(10):
            while not await paused_by_alice(c2):  # noqa: ASYNC110 (the host's MSM log)
                await asyncio.sleep(0.05)
        assert not await paused_by_alice(c1)  # the other host got nothing
        states = (await c2.get_domain_run_states())["domains"]
        assert next(d for d in states if d["name"] == "EB-domu-1")["run_state"] == "paused"
        # Resolve on that row asks for the domain of that host.
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ResolveDialog))
        assert addresses[1] in app.screen._title
        await pilot.press("escape")
        await c1.set_misbehaviour("EA-domu-1", "out_of_profile", 0)
        await c2.set_misbehaviour("EB-domu-1", "out_of_profile", 0)


@pytest.fixture
def _utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    "size", [pytest.param((160, 48), id="160x48"), pytest.param((80, 24), id="80x24")]
)
def test_fleet_snapshot(snap_compare: Any, size: tuple[int, int], _utc: Any) -> None:
    run = run_steps(prepare(), view_open("fleet"))
    assert snap_compare(injected_app(), press=[], terminal_size=size, run_before=run)
