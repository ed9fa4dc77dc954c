"""The console says the truth about each host's link: heartbeats, stale, resume (issue #12 §2).

The daemon runs in its own process here (``xenon xps serve`` with the sim backend), so it
can be stopped with SIGSTOP as an operator's ``kill -STOP`` would: an in-process daemon
would stop the test with it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._support.console import (
    console_config,
    edit_first_seclabel,
    enter_editor,
    wait_connected,
    wait_for,
)
from tests._support.screens import view_shown
from xenon_tui._connection import LinkState
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import ConfirmDialog
from xenon_tui.widgets import DomainsTable, ServersPanel

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DaemonProcess:
    """A ``xenon xps serve`` process on 127.0.0.1 port 0."""

    proc: subprocess.Popen[bytes]
    rw_port: int
    ro_port: int

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        """``kill -STOP``: the process keeps its sockets but answers nothing."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """``kill -CONT``."""
        os.kill(self.pid, signal.SIGCONT)


@pytest.fixture
def xps_process(xps_pki: Any, tmp_path: Path) -> Iterator[DaemonProcess]:
    """A real daemon (sim backend) in a child process; stopped and reaped at teardown."""
    state = tmp_path / "xps-process"
    state.mkdir()
    argv = [
        sys.executable,
        "-m",
        "xps.cli.xps",
        "serve",
        "--state-dir",
        str(state),
        "--listen",
        "127.0.0.1:0",
        "--ro-listen",
        "127.0.0.1:0",
        "--backend",
        "sim",
        "--ca",
        str(xps_pki.ca),
        "--cert",
        str(xps_pki.server_cert),
        "--key",
        str(xps_pki.server_key),
        "-Dxps.stats-interval=0.5",
        "--quiet",
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ports_file = state / "ports"
        deadline = time.monotonic() + 30
        while not ports_file.exists():
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"the daemon exited: {err}")
            if time.monotonic() > deadline:
                raise AssertionError("the daemon wrote no ports file within 30 s")
            time.sleep(0.05)
        ports = json.loads(ports_file.read_text())
        yield DaemonProcess(proc, ports["read_write"], ports["read_only"])
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)  # a stopped process ignores SIGTERM until then
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


async def test_a_stopped_daemon_shows_stale_then_resumes_with_fresh_numbers(
    xps_process: DaemonProcess, xps_pki: Any, tmp_path: Path
) -> None:
    app = XenonConsole(console_config(xps_pki, xps_process, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        address = next(iter(app.servers))
        state = app.servers[address]
        await wait_for(pilot, lambda: state.stats is not None)
        xps_process.stop()
        try:
            await wait_for(pilot, lambda: state.link is LinkState.STALE, wait_s=20)
            panel = app.query_one(ServersPanel)
            assert panel.state_of(address) is LinkState.STALE
            line = str(panel.get_option_at_index(0).prompt)
            assert "stale" in line and "last update" in line
            assert "stale" in app.sub_title and "last update" in app.sub_title
            frozen = state.stats
        finally:
            xps_process.resume()
        await wait_for(pilot, lambda: state.link is LinkState.CONNECTED, wait_s=20)
        # The numbers move again by themselves (no Ctrl+R): pushed stats arrive.
        await wait_for(pilot, lambda: state.stats is not frozen, wait_s=20)
        assert "stale" not in app.sub_title


def _notes(app: XenonConsole) -> list[str]:
    return [n.message for n in app._notifications]


async def _pause_while_stopped(
    pilot: Any, app: XenonConsole, daemon: DaemonProcess, *, paused_before: bool
) -> DomainsTable:
    """Starts EA-domu-1 (and pauses it first if asked), stops the daemon, presses ``p``
    on the domain (once the link is stale, when it was paused before), waits for the
    outcome-unknown notice, then resumes the daemon."""
    await wait_connected(pilot, app)
    await pilot.press("4")
    await view_shown(pilot, "domains")  # built when first shown: under load, after the key
    table = app.query_one(DomainsTable)
    await wait_for(pilot, lambda: bool(_row(table, "EA-domu-1")))

    def select() -> None:
        table.move_cursor(row=[d["name"] for d in table.domains].index("EA-domu-1"))

    if _row(table, "EA-domu-1").get("run_state") != "running":
        select()
        await pilot.press("s")
        await wait_for(pilot, lambda: _row(table, "EA-domu-1").get("run_state") == "running")
    if paused_before:
        select()
        await pilot.press("p")
        await wait_for(pilot, lambda: _row(table, "EA-domu-1").get("run_state") == "paused")
    select()
    daemon.stop()
    try:
        if paused_before:  # a stale host is still asked (not "select a connected server")
            await wait_for(pilot, lambda: app.current_state.link is LinkState.STALE)
        await pilot.press("p")
        await wait_for(
            pilot, lambda: any("outcome unknown — it may still apply" in n for n in _notes(app))
        )
        assert not any("no answer within" in n for n in _notes(app))
    finally:
        daemon.resume()
    return table


async def test_a_pause_without_answer_is_outcome_unknown_then_read_back(
    xps_process: DaemonProcess, xps_pki: Any, tmp_path: Path
) -> None:
    app = XenonConsole(console_config(xps_pki, xps_process, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        table = await _pause_while_stopped(pilot, app, xps_process, paused_before=False)
        # Once the host answers again, the domain is read back and the truth is said.
        await wait_for(
            pilot, lambda: any("EA-domu-1 is paused: the pause applied" in n for n in _notes(app))
        )
        await wait_for(pilot, lambda: _row(table, "EA-domu-1").get("run_state") == "paused")


async def test_an_unanswered_pause_of_a_paused_domain_is_not_called_applied(
    xps_process: DaemonProcess, xps_pki: Any, tmp_path: Path
) -> None:
    """Seen in the demo: the MSM had paused the domain; the read-back said 'the pause
    applied after 31 s'."""
    app = XenonConsole(console_config(xps_pki, xps_process, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await _pause_while_stopped(pilot, app, xps_process, paused_before=True)
        await wait_for(
            pilot,
            lambda: any(
                "EA-domu-1 is paused: it already was when the pause was sent" in n
                for n in _notes(app)
            ),
        )
        assert not any("the pause applied" in n for n in _notes(app))


def _row(table: DomainsTable, name: str) -> dict[str, Any]:
    row = next((d for d in table.domains if d.get("name") == name), None)
    return dict(row) if row is not None else {}


async def test_a_cancelled_host_switch_connects_nothing(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    """'switch anyway?' answered No kept the current host but still connected the other."""
    from tests._support.scripted_host import ScriptedHost

    first_host = ScriptedHost()
    ra, rb = await start_xps(first_host), await start_xps(ScriptedHost())
    first, second = f"127.0.0.1:{ra.rw_port}", f"127.0.0.1:{rb.rw_port}"
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, second)
        await app.host.disconnect_server(second)
        # One staged change on the first (current) host.
        await enter_editor(pilot, app)
        await edit_first_seclabel(pilot, app)
        app.screen.query_one("#field-max_rate").value = "250"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(c[0] == "StagePolicy" for c in first_host.calls))
        await wait_for(pilot, lambda: "250" in (app.servers[first].staged or {}).get("xml", ""))
        # Enter on the other (disconnected) host's line, then No.
        panel = app.query_one(ServersPanel)
        panel.focus()
        panel.highlight(second)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await pilot.pause(0.3)
        assert app.current == first
        assert app.servers[second].conn is None
        assert app.servers[second].link is LinkState.DISCONNECTED
        # Yes does switch, then connects.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")
        await wait_connected(pilot, app, second)
        assert app.current == second
