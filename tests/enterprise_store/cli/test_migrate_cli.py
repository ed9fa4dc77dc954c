"""``xenon xe migrate`` against a real ``xenon xe serve`` and real sim XPS daemons; and a
kill -9 of ``xenon xe serve`` in the middle of a move.

The CLI and the server run as subprocesses started with asyncio (the XPS daemons answer
on this test's event loop, which must keep running while a command waits).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services
from tests._support.xe_cli import serve_xe, xe_env, xenon

PASSWORD = "migrate-cli-admin-password"
VM = "EA-domu-1"  # Enclave A, on xenon-2; xenon-3 carries Enclave A too


async def _world(tmp_path: Path, hosts: list[Any], xps_pki: Any) -> tuple[Path, tuple[str, str]]:
    state = tmp_path / "xe"
    code, _, err = await xenon(
        "xe", "init", "--state-dir", str(state), "--password-stdin",
        "--ca-dir", str(xps_pki.ca_dir), stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    writer = await Services.open(f"sqlite:///{state / 'xe.db'}")
    try:
        policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
        await writer.policy.import_policy(Principal.system(), policy)
    finally:
        await writer.close()
    return state, ("--state-dir", str(state))


async def _login_and_start(at: tuple[str, str]) -> None:
    code, _, err = await xenon(
        "xe", "login", *at, "--user", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 0, err
    code, _, err = await xenon("xe", "host", "propagate", *at)
    assert code == 0, err
    code, _, err = await xenon("xe", "vm", "start", VM, *at)
    assert code == 0, err


def _task_message(state: Path, task_id: str) -> str:
    """The task's progress message, read from the store (a CLI call per poll is slow)."""
    with contextlib.closing(sqlite3.connect(f"file:{state / 'xe.db'}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT message FROM tasks WHERE id = ?", (task_id,)).fetchone()
    return "" if row is None else str(row[0])


async def _names(host: Any) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in (await host.host.domain_run_states())["domains"]}


# About ten CLI subprocesses and a server start: past the suite's 120 s on a loaded 2-core box.
@pytest.mark.timeout(300)
async def test_migrate_check_and_move_from_the_command_line(
    tmp_path: Path,
    xps_hosts: Any,
    xps_pki: Any,
) -> None:
    hosts = await xps_hosts(3)
    state, at = await _world(tmp_path, hosts, xps_pki)
    proc, _ = await serve_xe(state)
    try:
        await _login_and_start(at)
        code, out, err = await xenon("xe", "migrate", VM, "--check", *at)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].split() == ["HOST", "VERDICT", "REASON", "MESSAGE"]
        assert lines[1].split()[:3] == ["xenon-1", "refused", "XE-MIG-ENCLAVE"]
        assert lines[2].split()[0] == "XE-MIG-SWITCH"  # every reason, one per line
        assert lines[3].split()[:3] == ["xenon-3", "allowed", "-"]
        code, out, err = await xenon("xe", "migrate", VM, "--to", "xenon-1", *at)
        assert code == 1 and "policy_refused" in err
        assert "'xenon-1'" in err and VM in err
        before = (await _names(hosts[1]))[VM]
        code, out, err = await xenon("xe", "migrate", VM, "--to", "xenon-3", "--wait", *at)
        assert code == 0, err
        result = json.loads(out)
        assert (result["source"], result["target"]) == ("xenon-2", "xenon-3")
        assert result["uuid"] == before["uuid"] and result["downtime_ms"] > 0
        phases = [p["phase"] for p in result["phases"]]
        assert phases[0] == "pre-copy" and phases[-3:] == ["stop-and-copy", "activate", "finish"]
        assert VM not in await _names(hosts[1])
        assert (await _names(hosts[2]))[VM]["run_state"] == "running"
        code, out, err = await xenon("xe", "vm", "state", VM, *at, "--json")
        assert code == 0 and json.loads(out)["host"] == "xenon-3", err
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.timeout(300)
async def test_kill_9_of_serve_during_activation_leaves_one_running_copy(
    tmp_path: Path,
    xps_hosts: Any,
    xps_pki: Any,
) -> None:
    # The target answers the activation late: XE is killed while it waits for it.
    hosts = await xps_hosts(3, delays={"MigrateInFinish": 5.0})
    state, at = await _world(tmp_path, hosts, xps_pki)
    proc, _ = await serve_xe(state)
    try:
        await _login_and_start(at)
        code, out, err = await xenon("xe", "migrate", VM, "--to", "xenon-3", "--no-wait", *at)
        assert code == 0, err
        task_id = out.strip()
        async with asyncio.timeout(90):  # liveness bound
            while "activate" not in _task_message(state, task_id):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        proc.kill()  # SIGKILL
        proc.wait(timeout=30)
        # The target finishes the activation by itself; the source keeps a paused copy.
        async with asyncio.timeout(60):
            while VM not in await _names(hosts[2]):  # noqa: ASYNC110 (polls a daemon)
                await asyncio.sleep(0.1)
        assert (await _names(hosts[1]))[VM]["run_state"] == "paused"
        proc, _ = await serve_xe(state)
        code, out, err = await xenon("xe", "task", "wait", task_id, *at)
        assert code == 0, err
        task = json.loads(out)
        assert task["state"] == "succeeded" and task["result"]["recovered"] is True
        assert task["result"]["runs_on"] == "xenon-3"
        # Exactly one copy runs, where the policy places it.
        assert VM not in await _names(hosts[1])
        assert (await _names(hosts[2]))[VM]["run_state"] == "running"
        code, out, err = await xenon("xe", "vm", "state", VM, *at, "--json")
        assert code == 0 and json.loads(out)["host"] == "xenon-3", err
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_migrate_has_help_and_needs_to_or_check() -> None:
    base = [sys.executable, "-m", "xenon_tui.cli", "xe", "migrate"]
    done = subprocess.run(
        [*base, "--help"], capture_output=True, text=True, timeout=60, env=xe_env(), check=False
    )
    assert done.returncode == 0 and "usage: xenon xe migrate" in done.stdout
    assert "--to HOST" in done.stdout and "--check" in done.stdout
    done = subprocess.run(
        [*base, "EA-domu-1"], capture_output=True, text=True, timeout=60, env=xe_env(), check=False
    )
    assert done.returncode == 2 and "one of the arguments --to --check is required" in done.stderr
