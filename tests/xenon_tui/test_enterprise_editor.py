"""Manage server → Editor mode (`e` on a host of the Enterprise screen's Hosts panel): the
host console on that host's real XPS daemon (address and port from XE's host row), in
Policy Editor mode, with the session's role (an auditor's is read-only); ctrl+e and Esc
return to the Enterprise view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension

from tests._support.console import wait_for
from tests._support.xe_console import World, ready, tree_lines
from xenon_tui._actions import Mode, action_by_id
from xenon_tui._config import ServerEntry
from xenon_tui.app import XenonConsole
from xenon_tui.widgets._xe_hosts import XeHostsTree


async def _to_host(pilot: Any, app: XenonConsole, name: str) -> None:
    """Moves the Hosts panel's cursor to host ``name``."""
    tree = app.screen.query_one(XeHostsTree)
    tree.focus()
    await pilot.press("g")
    for _ in range(len(tree_lines(app))):
        node = tree.cursor_node
        if node is not None and str(node.label).split()[0] == name:
            return
        await pilot.press("j")
    raise AssertionError(f"host {name} not in the Hosts panel: {tree_lines(app)}")


def _connected(app: XenonConsole, server: str) -> bool:
    state = app.servers.get(server)
    return state is not None and state.link.up


@pytest.mark.parametrize("user", ["oper", "aud"])
async def test_e_opens_the_host_console_on_that_host_and_back(
    world: World, tmp_path: Path, user: str
) -> None:
    app = world.host_console(await world.link(user), tmp_path)
    second = world.hosts[1]
    server = f"127.0.0.1:{second.port}"
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        assert app.servers == {}  # no host until one is managed
        await _to_host(pilot, app, second.name)
        await pilot.press("e")
        await wait_for(pilot, lambda: app.screen is app.host, 30)
        await wait_for(pilot, lambda: app.current == server and _connected(app, server), 60)
        # The session's role: an auditor's host console is read-only (Live mode only).
        assert app.host.read_only is (user == "aud")
        assert app.host.mode is (Mode.LIVE if user == "aud" else Mode.EDITOR)
        activate = action_by_id("policy.activate")
        assert app.action_permitted(activate) is (user != "aud")
        hv = await app.host.call(server, "GetHypervisorInfo")
        assert hv  # a real answer from that host's daemon
        # ctrl+e: back to the Enterprise view, which reads XE again at once.
        enterprise = app.enterprise
        assert enterprise is not None
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: app.screen is enterprise)
        # Another host: the host console switches to it; Esc there goes back too.
        third = world.hosts[2]
        await _to_host(pilot, app, third.name)
        await pilot.press("e")
        other = f"127.0.0.1:{third.port}"
        await wait_for(pilot, lambda: app.current == other and _connected(app, other), 60)
        assert app.screen is app.host and set(app.servers) == {server, other}
        app.set_focus(None)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is enterprise)


async def test_a_host_the_console_has_already_is_used_not_added_again(
    world: World, tmp_path: Path
) -> None:
    # Seen over SSH as the demo's auditor: its console has each host's read-only socket;
    # XE's row names the read-write port, and e added a second, unreachable server.
    second = world.hosts[1]
    ro_port = second.server.ports["read_only"]
    mine = ServerEntry(host="127.0.0.1", port=ro_port)
    app = world.host_console(await world.link("aud"), tmp_path, servers=(mine,))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await wait_for(pilot, lambda: _connected(app, mine.address), 60)
        await _to_host(pilot, app, second.name)
        await pilot.press("e")
        await wait_for(pilot, lambda: app.screen is app.host, 30)
        await wait_for(pilot, lambda: app.current == mine.address, 30)
        assert list(app.servers) == [mine.address]


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot(world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int]) -> None:
    app = world.host_console(await world.link("oper"), tmp_path)
    first = world.hosts[0]
    server = f"127.0.0.1:{first.port}"
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        await _to_host(pilot, app, first.name)
        await pilot.press("e")
        await wait_for(pilot, lambda: app.current == server and _connected(app, server), 60)
        app.clear_notifications()
        await pilot.pause(0.5)
        # The port is the test's (port 0, five digits on Linux): drawn as 00000.
        svg = app.export_screenshot(simplify=True).replace(f":{first.port}", ":00000")
    assert snapshot.use_extension(SVGImageExtension) == svg
