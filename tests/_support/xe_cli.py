"""Run ``xenon`` commands and ``xenon xe serve`` as subprocesses, as an operator would.

The environment drops every ``XENON_XE_*`` variable, so a developer's own settings never
reach a test. The asynchronous forms keep the test's event loop running while a command
waits (XPS daemons of the test answer on that loop).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SERVE_START_S = 240.0
"""Liveness bound for ``xenon xe serve`` to write its server file (its imports and start
are CPU-bound: at load 19 it once took over 90 s)."""


def xe_env() -> dict[str, str]:
    """This process's environment without ``XENON_XE_*``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("XENON_XE_")}


def run_xenon(
    *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``xenon ARGS`` to completion (blocks the caller)."""
    return subprocess.run(
        [sys.executable, "-m", "xenon_tui.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, env=xe_env(),
        check=False,
    )  # fmt: skip


async def xenon(*args: str, stdin: str | None = None, limit_s: float = 120) -> tuple[int, str, str]:
    """``xenon ARGS`` to completion without blocking the event loop: (code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "xenon_tui.cli", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=xe_env(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), limit_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def spawn_xe_serve(state: Path) -> subprocess.Popen[bytes]:
    """Starts ``xenon xe serve`` on ``state`` (127.0.0.1, port 0), its output in serve.log."""
    (state / "xe-server.json").unlink(missing_ok=True)
    with open(state / "serve.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "xenon_tui.cli", "xe", "serve", "--state-dir", str(state),
             "--listen", "127.0.0.1:0", "--no-access-log"],
            stdout=log, stderr=subprocess.STDOUT, env=xe_env(),
        )  # fmt: skip


async def serve_xe(state: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Starts ``xenon xe serve`` and waits (liveness bound) until it answers: (process, URL)."""
    server_file = state / "xe-server.json"
    proc = spawn_xe_serve(state)
    deadline = time.monotonic() + SERVE_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError((state / "serve.log").read_text())
        if server_file.exists():
            doc = json.loads(server_file.read_text())
            if doc.get("pid") == proc.pid:
                return proc, str(doc["url"])
        await asyncio.sleep(0.05)
    proc.kill()
    proc.wait(timeout=30)
    raise AssertionError("serve did not start: " + (state / "serve.log").read_text())
