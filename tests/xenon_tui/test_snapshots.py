"""SVG snapshots of the main screens at 160x48 and 80x24 (deterministic injected state).

The state is what a daemon sends (built by the scripted host with fixed timestamps), put in
place without a network so that ports and clocks do not change the pictures.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests._support.scripted_host import ScriptedHost, violation
from xenon_tui._actions import Mode
from xenon_tui._config import ConsoleConfig, ServerEntry
from xenon_tui._connection import LinkState
from xenon_tui.app import XenonConsole
from xenon_tui.messages import ServerData
from xenon_tui.widgets import ServersPanel

ADDRESS = "xenon-host-1:8443"


def _app() -> XenonConsole:
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


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The log shows local time: pin the zone so the pictures are the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _prepare(editor: bool = False, advanced: str | None = None) -> Any:
    async def run_before(pilot: Any) -> None:
        app: XenonConsole = pilot.app
        state = app.servers[ADDRESS]
        state.link = LinkState.CONNECTED
        state.mode = Mode.EDITOR if editor else Mode.LIVE
        app.query_one(ServersPanel).set_server(ADDRESS, LinkState.CONNECTED, "#cc3333")
        app.query_one(ServersPanel).set_server("xenon-host-2:8443", LinkState.LOST)
        app.host.post_message(ServerData(ADDRESS, DATA))
        await pilot.pause(0.1)
        if advanced is not None:
            await app.action_show_advanced(advanced)
            await pilot.pause(0.3)

    return run_before


SIZES = [pytest.param((160, 48), id="160x48"), pytest.param((80, 24), id="80x24")]


@pytest.mark.parametrize("size", SIZES)
def test_violations_live(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), press=["5", "down"], terminal_size=size, run_before=_prepare())


@pytest.mark.parametrize("size", SIZES)
def test_domains_live(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), press=["4"], terminal_size=size, run_before=_prepare())


@pytest.mark.parametrize("size", SIZES)
def test_policy_editor(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        _app(), press=["2", "wait:300"], terminal_size=size, run_before=_prepare(editor=True)
    )


@pytest.mark.parametrize("size", SIZES)
def test_advanced_seclabels_editor(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        _app(),
        press=["wait:200"],
        terminal_size=size,
        run_before=_prepare(editor=True, advanced="seclabels"),
    )


def test_help(snap_compare: Any) -> None:
    assert snap_compare(
        _app(), press=["question_mark"], terminal_size=(160, 48), run_before=_prepare()
    )


@pytest.mark.parametrize("size", SIZES)
def test_violations_filtered_and_pinned(snap_compare: Any, size: tuple[int, int]) -> None:
    """The tab line says what the log shows: its filter and a pinned selection."""
    press = ["5", "slash", *"eb-domu", "enter", "wait:100", "down"]
    assert snap_compare(_app(), press=press, terminal_size=size, run_before=_prepare())


@pytest.mark.parametrize("size", SIZES)
def test_domains_sorted_by_cpu(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        _app(), press=["4", "C", "wait:300"], terminal_size=size, run_before=_prepare()
    )


@pytest.mark.parametrize("size", SIZES)
def test_seclabel_form(snap_compare: Any, size: tuple[int, int]) -> None:
    """The SecLabel edit form: ranges in the hints, Save/Cancel reachable at 80x24."""
    assert snap_compare(
        _app(),
        press=["enter", "wait:300"],
        terminal_size=size,
        run_before=_prepare(editor=True, advanced="seclabels"),
    )


@pytest.mark.parametrize("size", SIZES)
def test_activation_preview(snap_compare: Any, size: tuple[int, int]) -> None:
    """The activation confirmation: the diff in names and colours, the warning first."""
    import dataclasses

    from tests._support.scripted_host import small_policy
    from xenon_tui.dialogs import ConfirmDialog
    from xenon_tui.widgets._diffview import DiffView

    active = small_policy()
    profile = active.profile_named("PV-LinuxGeneric")
    subops = dict(profile.subops)
    subops[35] = frozenset({1})
    staged = active.with_profile(
        dataclasses.replace(
            profile, hypercalls=profile.hypercalls | {35}, subops=tuple(sorted(subops.items()))
        )
    )
    label = staged.seclabel_named("EA-seclabel")
    staged = staged.with_seclabel(
        dataclasses.replace(label, tag=staged.tag_named("EB").id, max_rate=250)
    )
    staged = staged.without(staged.domain_named("EB-domu-1").id)
    body = DiffView(active, staged, DATA["domains"])
    prepare = _prepare(editor=True)

    async def run_before(pilot: Any) -> None:
        await prepare(pilot)
        title = f"Make this policy & host configuration active on {ADDRESS}?"
        pilot.app.push_screen(ConfirmDialog(title, body, confirm="Make active"))
        await pilot.pause(0.1)

    assert snap_compare(_app(), press=["wait:100"], terminal_size=size, run_before=run_before)
