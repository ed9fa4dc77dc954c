"""Limits of the session server: the open-files limit raised to what --max-sessions needs
(three per session), consoles starting at once (--max-starting), --max-sessions."""

from __future__ import annotations

import asyncio
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tests._support.ssh import Keys

SCRIPT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
from xenon_tui.ssh._server import raise_open_files_limit
print(raise_open_files_limit(200), *resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def _run_with_limit(soft: int, hard: int) -> list[int]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(soft), str(hard)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [int(x) for x in out.stdout.split()]


def _hard() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


@pytest.mark.skipif(
    _hard() != resource.RLIM_INFINITY and _hard() < 700, reason="hard limit below 700"
)
def test_a_low_soft_limit_is_raised_to_what_200_sessions_need() -> None:
    hard = _hard()
    in_force, soft, hard_after = _run_with_limit(128, hard)
    assert in_force == soft == 3 * 200 + 64
    assert hard_after == hard


def test_the_soft_limit_stops_at_the_hard_limit() -> None:
    in_force, soft, hard = _run_with_limit(128, 300)
    assert in_force == soft == hard == 300


def test_a_high_enough_limit_is_left_alone() -> None:
    in_force, soft, _ = _run_with_limit(4096, max(4096, min(_hard(), 8192)))
    assert in_force == soft == 4096


# -- consoles starting at once (--max-starting) ----------------------------------------------

QUIET_APP = "tests.e2e.quiet_app:run"


async def _session(port: int, key: Path) -> tuple[Any, Any]:
    conn = await asyncssh.connect(
        "127.0.0.1", port, username="admin", client_keys=[str(key)], known_hosts=None,
        agent_path=None,
    )  # fmt: skip
    proc = await conn.create_process(term_type="xterm", term_size=(40, 10), encoding=None)
    return conn, proc


async def _until(predicate: Any, what: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Polls ``predicate`` (it reads the server's log: nothing to await)."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"timed out waiting until {what}")


async def test_a_console_waits_for_its_turn_until_the_one_starting_has_drawn(
    ssh_server: Any, ssh_keys: Keys
) -> None:
    server = ssh_server("--max-starting", "1", app=QUIET_APP)
    first = await _session(server.port, ssh_keys.admin)
    await _until(lambda: len(server.session_pids()) == 1, "the first console started")
    second = await _session(server.port, ssh_keys.admin)
    # The first console has drawn nothing yet: the second may not start (without the
    # limit it starts within milliseconds; 1.5 s is only how long this is watched).
    await asyncio.sleep(1.5)
    assert len(server.session_pids()) == 1
    first[1].stdin.write(b"d")  # its first frame: the slot goes to the next session
    await _until(lambda: len(server.session_pids()) == 2, "the second console started")
    assert re.search(r"session \S+ started user=admin pid=\d+ .* start-wait=\d", server.log())
    for conn, _ in (first, second):
        conn.close()
        await conn.wait_closed()


async def test_a_client_that_leaves_while_waiting_frees_nothing_it_never_had(
    ssh_server: Any, ssh_keys: Keys
) -> None:
    server = ssh_server("--max-starting", "1", app=QUIET_APP)
    first = await _session(server.port, ssh_keys.admin)
    await _until(lambda: len(server.session_pids()) == 1, "the first console started")
    waiting = await _session(server.port, ssh_keys.admin)
    waiting[0].close()  # gone before its turn: its console is never started
    await waiting[0].wait_closed()
    await _until(lambda: "reason=disconnect" in server.log(), "the waiting session ended")
    third = await _session(server.port, ssh_keys.admin)
    await asyncio.sleep(1.0)
    assert len(server.session_pids()) == 1  # still the first one's turn
    first[1].stdin.write(b"d")
    await _until(lambda: len(server.session_pids()) == 2, "the third console started")
    for conn, _ in (first, third):
        conn.close()
        await conn.wait_closed()


async def test_max_sessions_still_refuses_with_start_slots(ssh_server: Any, ssh_keys: Keys) -> None:
    server = ssh_server("--max-sessions", "2", "--max-starting", "4", app=QUIET_APP)
    held = [await _session(server.port, ssh_keys.admin) for _ in range(2)]
    await _until(lambda: len(server.session_pids()) == 2, "two consoles started")
    conn, proc = await _session(server.port, ssh_keys.admin)
    async with asyncio.timeout(30):
        said = await proc.stderr.read(4096)
        await proc.wait_closed()
    assert b"full" in said
    assert len(server.session_pids()) == 2
    for c, _ in [*held, (conn, proc)]:
        c.close()
        await c.wait_closed()


def test_the_serve_flags_refuse_a_bad_max_starting(tmp_path: Path) -> None:
    from xenon_tui.ssh import ConfigError, ServeConfig

    for bad in (0, -1, 5000):
        with pytest.raises(ConfigError, match="max_starting"):
            ServeConfig(state_dir=tmp_path, max_starting=bad)
