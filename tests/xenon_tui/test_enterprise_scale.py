"""The Enterprise screen over a large fleet (300 hosts, 3,000 VMs in one enclave; the
benchmark's 1,000 / 10,000 in ``benchmarks/_ssh_xe.py``): the first frame shows a page of
the enclave's VMs, the rest follows; VMs are read again only at a new policy version; run
states only of the hosts whose VMs are on screen; the `/` filter runs over every VM of the
enclave in memory; the cursor reaches every VM, and a filter key draws only the lines on
screen."""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from benchmarks._ssh_xe import scale_policy
from enterprise_store.api import create_app
from enterprise_store.services import NewUser, Principal, Role, Services
from tests._support.console import wait_for
from tests._support.xe_console import PASSWORD, World, ready, rows, status, tree_lines, vm_names
from xenon_tui import _xe as xe_module
from xenon_tui._xe import FIRST_PAGE, HOST_FIELDS, NOT_READ
from xenon_tui.widgets._xe_hosts import HOST_PAGE, XeHostsTree
from xenon_tui.widgets._xe_vms import XeVmTable

HOSTS, VMS = 300, 3000


class Counted:
    """XE's ASGI app, counting the requests by kind (path with ids as ``*``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: collections.Counter[str] = collections.Counter()
        # Pairs of requests that were in XE at once before the first VM list was asked.
        self.in_flight: set[str] = set()
        self.together_before_vms: set[frozenset[str]] = set()
        # Called as the first VM list is asked (what the console shows at that moment).
        self.probe: Callable[[], object] | None = None
        self.probed: object = None
        self.host_queries: list[str] = []  # query strings of GET /api/v1/hosts
        # While set and not open, hosts' run-state reads wait (hosts slow to answer).
        self.domains_gate: asyncio.Event | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = re.sub(r"/hosts/[^/]+/", "/hosts/*/", scope["path"])
        self.seen[f"{scope['method']} {path}"] += 1
        if path == "/api/v1/hosts" and scope["method"] == "GET":
            self.host_queries.append(scope.get("query_string", b"").decode())
        if not self.seen["GET /api/v1/vms"]:
            self.together_before_vms |= {frozenset((path, other)) for other in self.in_flight}
        elif self.seen["GET /api/v1/vms"] == 1 and path == "/api/v1/vms" and self.probe:
            self.probed = self.probe()
        self.in_flight.add(path)
        try:
            if self.domains_gate is not None and path == "/api/v1/hosts/*/domains":
                await self.domains_gate.wait()
            await self.app(scope, receive, send)
        finally:
            self.in_flight.discard(path)


@pytest.fixture
async def fleet(xe_services: Callable[..., Any]) -> AsyncIterator[tuple[World, Counted]]:
    services: Services = await xe_services(start=False)
    await services.users.bootstrap_admin("root", PASSWORD)
    await services.users.create_user(
        Principal.system(), NewUser(name="oper", role=Role.OPERATOR, password=PASSWORD)
    )
    await services.policy.import_policy(Principal.system(), scale_policy(HOSTS, VMS))
    counted = Counted(create_app(services))
    w = World(services, counted, [], [])  # type: ignore[arg-type]
    yield w, counted
    for c in w.clients:
        await c.aclose()


async def test_first_frame_is_a_page_then_every_vm_and_polls_stay_cheap(
    fleet: tuple[World, Counted], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, counted = fleet
    app = world.console(await world.link("oper"), tmp_path)
    shown: list[int] = []  # the VMs handed to the list each time
    show = XeVmTable.show

    def spy(table: XeVmTable, vms: Any) -> None:
        shown.append(len(vms))
        show(table, vms)

    monkeypatch.setattr(XeVmTable, "show", spy)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        # The Hosts panel draws a page of hosts and says how many more there are.
        lines = tree_lines(app)
        hosts = [line for line in lines if line.startswith("host-")]
        assert len(hosts) == HOST_PAGE and lines[-1] == f"… {HOSTS - HOST_PAGE} more hosts"
        # The first frame's reads were asked at once, not one after the other.
        together = counted.together_before_vms
        assert {
            frozenset(("/api/v1/policy/versions", "/api/v1/hosts")),
            frozenset(("/api/v1/policy/versions", "/api/v1/enclaves")),
        } & together, together
        assert lines[1].strip() == "Enclave Fleet"
        table = screen.query_one(XeVmTable)
        await wait_for(pilot, lambda: table.matching == VMS, 60)
        # The first frame's page, then every VM (the list draws the lines on screen only).
        assert shown[0] == FIRST_PAGE and shown[-1] == VMS, shown
        assert len(vm_names(app)) == VMS
        assert vm_names(app)[:3] == ["vm-00000", "vm-00001", "vm-00002"]
        enclave_line = str(screen.query_one("#xe-enclave").render())
        assert f"{VMS:,} VMs" in enclave_line and f"and {HOSTS - 6} more" in enclave_line
        # The hosts of the VMs on screen were asked (they cannot be reached: unknown); a
        # VM further down was not (its host not asked).
        assert rows(app)[0].state == "unknown"
        assert rows(app)[FIRST_PAGE - 1].state == NOT_READ
        # The first frame's hosts read asks only the Hosts panel's fields.
        asked = [parse_qs(q).get("fields", [""])[0] for q in counted.host_queries]
        assert asked and asked[0].split(",") == list(HOST_FIELDS), asked
        counted.seen.clear()
        counted.host_queries.clear()
        polls = screen.polls
        await wait_for(pilot, lambda: screen.polls >= polls + 2, 60)
        # At the same version a poll reads the drawn page of hosts (their propagation
        # states), not all 300.
        assert counted.host_queries, counted.host_queries
        assert all(f"limit={HOST_PAGE}" in q.split("&") for q in counted.host_queries), (
            counted.host_queries
        )
        # ... and of those only their ids and propagation states.
        asked = [parse_qs(q).get("fields", [""])[0] for q in counted.host_queries]
        assert set(asked) == {"id,propagation"}, asked
        # Two polls at the same policy version: no VM or SecLabel read, one hosts page,
        # and only the on-screen hosts asked for their run states (not all 300).
        seen = counted.seen
        assert seen["GET /api/v1/vms"] == 0, seen
        assert seen["GET /api/v1/seclabels"] == 0, seen
        assert seen["GET /api/v1/hosts"] <= 3, seen
        assert seen["GET /api/v1/propagation"] == 0, seen
        assert 0 < seen["GET /api/v1/hosts/*/domains"] <= 3 * 48, seen


async def test_filter_runs_over_every_vm_and_the_cursor_reaches_every_vm(
    fleet: tuple[World, Counted], tmp_path: Path
) -> None:
    world, _ = fleet
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        table = screen.query_one(XeVmTable)
        await wait_for(pilot, lambda: table.matching == VMS, 60)
        # Beyond the first page, any case.
        await pilot.press("slash", *"VM-0299", "enter")
        wanted = [f"vm-0299{d}" for d in range(10)]
        await wait_for(pilot, lambda: vm_names(app) == wanted)
        # A host's VMs (every 300th VM is on host-0007).
        await pilot.press("slash", "ctrl+u", *"host-0007", "enter")
        on_7 = [f"vm-{i:05d}" for i in range(7, VMS, HOSTS)]
        await wait_for(pilot, lambda: vm_names(app) == on_7)
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: len(vm_names(app)) == VMS)
        # In the Hosts panel, G reaches "… more hosts": the next page is drawn.
        tree = screen.query_one(XeHostsTree)
        tree.focus()
        await pilot.press("G")
        await wait_for(
            pilot, lambda: tree_lines(app)[-1] == f"… {HOSTS - 2 * HOST_PAGE} more hosts"
        )
        assert tree.host_at_cursor() is not None  # on the first host of the new page
        table.focus()
        await pilot.press("g")
        # G: the last VM of the enclave, on screen; PgUp a screenful up, Home the first.
        await pilot.press("G")
        last = table.current_vm()
        assert table.cursor_row == VMS - 1 and last is not None
        assert last.name == f"vm-{VMS - 1:05d}" and last in table.on_screen()
        await pilot.press("pageup")
        assert table.cursor_row == VMS - 1 - (table.scrollable_content_region.height - 1)
        await pilot.press("home")
        assert table.cursor_row == 0 and int(table.scroll_y) == 0


async def test_first_frame_reads_start_before_the_view_is_drawn(
    fleet: tuple[World, Counted], tmp_path: Path
) -> None:
    """The first frame's path: the Enterprise view is the first screen rendered (the hidden
    host console is not rendered before it), XE is asked for the first enclave's VMs as
    soon as the hosts are known (before the Hosts panel is built). What shows is still
    XE's: hosts beyond the first page, a VM on the last page through the filter."""
    world, counted = fleet
    app = world.console(await world.link("oper"), tmp_path)
    rendered: list[str] = []
    display = app._display

    def spy(screen: Any, update: Any) -> None:
        rendered.append(type(screen).__name__)
        display(screen, update)

    app._display = spy  # type: ignore[method-assign]
    counted.probe = lambda: tree_lines(app) if app.enterprise is not None else None
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        assert rendered[0] == "EnterpriseScreen", rendered[:5]
        assert counted.probed == [], counted.probed  # the Hosts panel was not built yet
        assert vm_names(app)[:2] == ["vm-00000", "vm-00001"]
        table = screen.query_one(XeVmTable)
        await wait_for(pilot, lambda: table.matching == VMS, 60)
        await pilot.press("slash", *f"vm-{VMS - 1:05d}", "enter")
        await wait_for(pilot, lambda: vm_names(app) == [f"vm-{VMS - 1:05d}"])
        tree = screen.query_one(XeHostsTree)
        tree.focus()
        await pilot.press("G")
        await wait_for(pilot, lambda: f"host-{2 * HOST_PAGE - 1:04d}" in tree_lines(app)[-3])
        # The host console is still there behind it (ctrl+e).
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: app.screen is app.host)


async def test_every_vm_arrives_while_hosts_are_slow_to_say_what_they_run(
    fleet: tuple[World, Counted], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rest of a large enclave's VMs is read beside the run states of the VMs on
    screen, not after them: while the hosts do not answer (a propagation to them, hosts
    down) the `/` filter already finds a VM on the last page, and a host that says nothing
    in time shows its VMs as unknown (not as XE failing)."""
    world, counted = fleet
    counted.domains_gate = asyncio.Event()
    monkeypatch.setattr(xe_module, "STATE_READ_S", 1.0)
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.enterprise
        assert screen is not None
        table = screen.query_one(XeVmTable)
        await wait_for(pilot, lambda: "/api/v1/hosts/*/domains" in counted.in_flight, 60)
        await wait_for(pilot, lambda: table.matching == VMS, 60)
        await pilot.press("slash", *f"vm-{VMS - 1:05d}", "enter")
        await wait_for(pilot, lambda: vm_names(app) == [f"vm-{VMS - 1:05d}"])
        await pilot.press("slash", "escape")
        # A host that says nothing in time shows its VMs as unknown: not an XE error.
        await wait_for(pilot, lambda: rows(app)[0].state == "unknown", 60)
        assert "XE:" not in status(app), status(app)
        counted.domains_gate.set()


async def test_a_filter_key_draws_the_lines_on_screen_only(
    fleet: tuple[World, Counted], tmp_path: Path
) -> None:
    """Each `/` filter key draws only the rows that fit on screen (type-ahead over a large
    enclave: the DataTable built a 200-row page per key, most of a key's time); the count
    of matching rows is in the list's caption, and the cursor reaches the last of them."""
    world, _ = fleet
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        table = screen.query_one(XeVmTable)
        await wait_for(pilot, lambda: table.matching == VMS, 60)
        visible = table.scrollable_content_region.height - 1  # the header takes one
        assert 0 < visible < FIRST_PAGE
        assert str(table.border_subtitle) == f"{VMS:,} VMs · / narrows"
        before = table.lines_drawn
        await pilot.press("slash", *"vm-01")  # "vm-0" keeps every VM, "vm-01" a thousand
        await wait_for(pilot, lambda: vm_names(app)[:2] == ["vm-01000", "vm-01001"])
        await pilot.pause()
        drawn = table.lines_drawn - before
        assert drawn <= 5 * (visible + 1), (drawn, visible)  # old code: 5 x 200 rows
        assert str(table.border_subtitle) == f"1,000 of {VMS:,} match"
        # G: the last matching VM, on screen.
        await pilot.press("enter", "G")
        assert table.cursor_row == 999
        assert vm_names(app)[999] == "vm-01999" and table.current_vm() in table.on_screen()
        await pilot.press("slash", "ctrl+u", *"vm-02", "enter")
        await wait_for(pilot, lambda: len(vm_names(app)) == 1000)
        assert vm_names(app)[-1] == "vm-02999"
