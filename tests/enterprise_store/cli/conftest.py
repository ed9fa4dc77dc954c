"""CLI fixtures: ``xenon xe`` as a subprocess, and a real ``xenon xe serve`` on port 0.

- ``xe_cli`` (function): ``xe_cli(*args, stdin=None, env=None)`` runs ``xenon xe …``
  (``python -m enterprise_store.cli``) in a subprocess and returns the ``CompletedProcess``.
- ``xe_state`` (function): a state directory initialised by ``xenon xe init`` with the
  admin ``admin`` / ``ADMIN_PASSWORD``.
- ``start_serve`` (function): ``proc, url = start_serve(state)`` starts ``xenon xe serve
  --listen 127.0.0.1:0`` and waits (liveness bound 60 s) for ``xe-server.json``; every
  server still running is killed at teardown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ADMIN_PASSWORD = "cli-admin-password-1"


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XENON_XE_")}
    env.update(extra or {})
    return env


@pytest.fixture
def xe_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs ``xenon xe ARGS…`` in a subprocess (a leading ``"xe"`` is accepted too)."""

    def run(
        *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        if args and args[0] == "xe":
            args = args[1:]
        return subprocess.run(
            [sys.executable, "-m", "enterprise_store.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=90,
            env=_env(env),
            check=False,
        )

    return run


@pytest.fixture
def xe_state(tmp_path: Path, xe_cli: Callable[..., subprocess.CompletedProcess[str]]) -> Path:
    """``xenon xe init`` with the admin's password from stdin."""
    state = tmp_path / "xe"
    done = xe_cli(
        "init", "--state-dir", str(state), "--password-stdin", stdin=ADMIN_PASSWORD + "\n"
    )
    assert done.returncode == 0, done.stderr
    return state


@pytest.fixture
def start_serve() -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    """Starts ``xenon xe serve`` on 127.0.0.1 port 0; returns the process and its URL."""
    procs: list[subprocess.Popen[str]] = []

    def start(state: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
        server_file = state / "xe-server.json"
        server_file.unlink(missing_ok=True)
        log = open(state / "serve.log", "a")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "enterprise_store.cli",
                "serve",
                "--state-dir",
                str(state),
                "--listen",
                "127.0.0.1:0",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )
        log.close()
        procs.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited: {(state / 'serve.log').read_text()}")
            if server_file.exists():
                doc = json.loads(server_file.read_text())
                if doc.get("pid") == proc.pid:
                    return proc, str(doc["url"])
            time.sleep(0.05)
        raise AssertionError(f"serve did not start: {(state / 'serve.log').read_text()}")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


@pytest.fixture
def admin_password_cli() -> str:
    """The password ``xe_state``'s admin was made with."""
    return ADMIN_PASSWORD
