"""A console with deterministic injected state: what a daemon sends, without a network.

The data is built by the scripted host with fixed timestamps and put in place as a
``ServerData`` message, so that ports and clocks change neither snapshots nor layouts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests._support.console import wait_for
from tests._support.scripted_host import ScriptedHost, violation
from tests._support.snapshots import settle
from xenon_tui._actions import Mode
from xenon_tui._config import ConsoleConfig, ServerEntry
from xenon_tui._connection import LinkState
from xenon_tui.app import XenonConsole
from xenon_tui.messages import ServerData
from xenon_tui.widgets import ServersPanel, ViolationLog

ADDRESS = "xenon-host-1:8443"
"""The injected server (connected); a second one, ``xenon-host-2:8443``, is lost."""


def injected_app() -> XenonConsole:
    """A console for two servers that connects to neither."""
    servers = (ServerEntry("xenon-host-1", 8443, color="#cc3333"), ServerEntry("xenon-host-2"))
    return XenonConsole(ConsoleConfig(servers=servers, autoconnect=False))


def _data() -> dict[str, Any]:
    host = ScriptedHost()

    async def collect() -> dict[str, Any]:
        info = await host.hypervisor_info()
        runs = await host.domain_run_states()
        policy = await host.get_policy()
        return {"info": {**info, "uptime_s": 0}, "domains": runs["domains"], "policy": policy}

    data = asyncio.run(collect())
    rows = []
    for seq in range(1, 61):
        row = violation(
            seq,
            domain=("EA-domu-1", "EA-domu-2", "EB-domu-1")[seq % 3],
            kind=("profile", "rate", "channel")[seq % 3],
            hypercall=35 + seq % 3,
        )
        row["ts_ns"] = (1_700_000_000 + seq) * 10**9  # fixed clock: stable pictures
        row["ts"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_700_000_000 + seq))
        rows.append(row)
    data["violations"] = rows
    return data


DATA = _data()
"""Info, domains, policy and 60 violations (seq 1..60) of the scripted host."""


STATS = {
    "ts": 1_700_000_100.0,
    "domains": [
        {"name": f"dom-{c}", "cpu_pct": cpu, "mem_kb": mib * 1024, "vcpus": 1}
        for c, cpu, mib in zip(
            "abcdefgh",
            (5, 3, 1, 97, 2, 4, 6, 1),
            (512, 256, 4096, 128, 1024, 2048, 768, 64),
            strict=True,
        )
    ],
}
"""A ``GetStats`` sample of eight domains: dom-d is the busiest, dom-c has most memory."""


def prepare(
    editor: bool = False, advanced: str | None = None, stats: bool = False
) -> Callable[[Any], Awaitable[None]]:
    """A ``run_before`` for snapshots (or a first step for a pilot): the data in place
    (with ``stats``: :data:`STATS` as the host's last sample)."""

    async def run_before(pilot: Any) -> None:
        app: XenonConsole = pilot.app
        state = app.servers[ADDRESS]
        state.link = LinkState.CONNECTED
        state.mode = Mode.EDITOR if editor else Mode.LIVE
        app.query_one(ServersPanel).set_server(ADDRESS, LinkState.CONNECTED, "#cc3333")
        app.query_one(ServersPanel).set_server("xenon-host-2:8443", LinkState.LOST)
        app.host.post_message(ServerData(ADDRESS, {**DATA, "stats": STATS} if stats else DATA))
        log = app.host.query_one(ViolationLog)
        await wait_for(
            pilot,
            lambda: (
                state.policy is DATA["policy"]
                and len(log.window) == len(DATA["violations"])
                and (not stats or state.stats is STATS)
            ),
        )
        if advanced is not None:
            await app.action_show_advanced(advanced)
            await view_shown(pilot, "advanced", tab=advanced)
            await _settled_advanced(pilot)

    return run_before


async def view_shown(
    pilot: Any, view: str, *, tab: str | None = None, wait_s: float = 20.0
) -> None:
    """Waits until the host console shows ``view`` (its tab active, its widget built, laid
    out and focused; for ``advanced``, the sub-tab ``tab`` too).

    The console focuses a view's widget after a refresh (an Advanced sub-tab's list after
    several): a key pressed before that goes to the servers panel, and a picture taken
    before that shows the old focus. Fails the test after ``wait_s``."""
    from xenon_tui.screens._views import VIEW_WIDGETS
    from xenon_tui.widgets import AdvancedView
    from xenon_tui.widgets._viewtabs import ViewTabs

    app: XenonConsole = pilot.app

    def shown() -> bool:
        host = app.host
        if app.screen is not host or host.query_one(ViewTabs).active != view:
            return False
        widgets = list(host.query(VIEW_WIDGETS[view]))
        if not widgets:
            return False
        widget = widgets[0]
        if isinstance(widget, AdvancedView) and (
            (tab is not None and widget.active_tab != tab) or widget._focus_wanted is not None
        ):
            return False
        target = getattr(widget, "focus_target", None)
        if callable(target):
            widget = target()
        # The size, not the region: reading a region can rebuild Textual's compositor map
        # between layouts, and a view placed in it that way gets no Resize event.
        return app.focused is widget and widget.size.area > 0

    try:
        await wait_for(pilot, shown, wait_s)
    except TimeoutError:
        active = app.host.query_one(ViewTabs).active
        raise AssertionError(
            f"view {view!r} never shown and focused: {active=}, focused={app.focused}"
        ) from None


Steps = Callable[[Any], Awaitable[None]]


def run_steps(prepared: Steps, *steps: Steps) -> Steps:
    """A ``run_before``: the injected state, then each step (each waits for what it opens:
    never a fixed pause, which a loaded machine outlasts), then the screen settled."""

    async def run_before(pilot: Any) -> None:
        await prepared(pilot)
        for step in steps:
            await step(pilot)
        await settle(pilot, pilot.app)

    return run_before


def pressed(*keys: str) -> Steps:
    """Presses keys (each step after it waits for what they open)."""

    async def press(pilot: Any) -> None:
        await pilot.press(*keys)

    return press


def view_open(view: str) -> Steps:
    """The key of ``view`` (1..6), then waits until the view is built and focused."""
    key = {"policy": "2", "domains": "4", "violations": "5", "perf": "6", "fleet": "7"}[view]

    async def show(pilot: Any) -> None:
        await pilot.press(key)
        await view_shown(pilot, view)
        if view == "domains":
            table = pilot.app.query_one("#domains-table")
            await wait_for(pilot, lambda: table.row_count == 3)
        elif view == "perf":
            perf = pilot.app.query_one("#perf-view")
            plots = [perf.query_one(f"#{name}") for name in ("cpu-now", "mem-now")]
            # Both bar charts drawn at their laid-out size (drawn again after a resize).
            await wait_for(
                pilot, lambda: all(perf._bars.get(p.id, (None,))[0] == p.size for p in plots)
            )

    return show


def dialog_open(kind: str | Callable[[], Any]) -> Steps:
    """Waits until a dialog is the screen, with the focus inside it if it has anything to
    focus: one of class ``kind``, or the one ``kind`` makes (pushed first)."""

    async def shown(pilot: Any) -> None:
        app = pilot.app
        made = None if isinstance(kind, str) else kind()
        if made is not None:
            app.push_screen(made)

        def opened() -> bool:
            screen = app.screen
            if screen is not made and type(screen).__name__ != kind:
                return False
            return screen.is_mounted and (
                not screen.focus_chain or (app.focused is not None and app.focused.screen is screen)
            )

        try:
            await wait_for(pilot, opened)
        except TimeoutError:
            raise AssertionError(f"{made or kind} never opened: {app.screen}") from None

    return shown


async def _settled_advanced(pilot: Any, limit_s: float = 10.0) -> None:
    """Waits until the Advanced view has had its first resize: its side panel goes below
    the tables only then, and a loaded machine may take longer than a fixed pause.

    Fails after ``limit_s`` saying so (not with a picture that differs): on a loaded
    machine the view sometimes gets its size but never a Resize event, so it is never
    stacked at 80 columns (a console race reported to the lead, session 9)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        views = list(pilot.app.query("AdvancedView"))
        if views and all(
            v.size.width > 0 and v.has_class("-stacked") == (v.size.width < v.STACK_BELOW)
            for v in views
        ):
            return
        await pilot.pause(0.05)
    sizes = [(v.size, sorted(v.classes)) for v in pilot.app.query("AdvancedView")]
    raise AssertionError(f"the Advanced view never had its first resize: {sizes}")


def screen_lines(app: Any) -> list[str]:
    """The text of every line of the terminal as the user sees it now."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
