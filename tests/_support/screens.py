"""A console with deterministic injected state: what a daemon sends, without a network.

The data is built by the scripted host with fixed timestamps and put in place as a
``ServerData`` message, so that ports and clocks change neither snapshots nor layouts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests._support.scripted_host import ScriptedHost, violation
from xenon_tui._actions import Mode
from xenon_tui._config import ConsoleConfig, ServerEntry
from xenon_tui._connection import LinkState
from xenon_tui.app import XenonConsole
from xenon_tui.messages import ServerData
from xenon_tui.widgets import ServersPanel

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
        await pilot.pause(0.1)
        if advanced is not None:
            await app.action_show_advanced(advanced)
            await pilot.pause(0.3)
            await _settled_advanced(pilot)

    return run_before


async def _settled_advanced(pilot: Any, limit_s: float = 10.0) -> None:
    """Waits (bounded) until the Advanced view has had its first resize: its side panel goes
    below the tables only then, and a loaded machine may take longer than a fixed pause."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        views = list(pilot.app.query("AdvancedView"))
        if views and all(
            v.size.width > 0 and v.has_class("-stacked") == (v.size.width < v.STACK_BELOW)
            for v in views
        ):
            return
        await pilot.pause(0.05)


def screen_lines(app: Any) -> list[str]:
    """The text of every line of the terminal as the user sees it now."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
