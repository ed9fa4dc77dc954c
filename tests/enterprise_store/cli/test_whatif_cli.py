"""``xenon xe policy whatif`` against a real ``xenon xe serve`` (HTTPS) on 127.0.0.1 port
0: a host that cannot answer is named with why, exit 1; --json; an older version is
refused. (What a host answers is covered with real sim hosts in the service and API
tests.)"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from enterprise_store.services import Principal, Services


def _xenon(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XENON_XE_")}
    return subprocess.run(
        [sys.executable, "-m", "xenon_tui.cli", "xe", *args],
        input=stdin, capture_output=True, text=True, timeout=90, env=env, check=False,
    )  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(240)
async def test_whatif_names_a_host_that_cannot_answer(
    xe_state: Path,
    start_serve: Callable[..., tuple[subprocess.Popen[str], str]],
    admin_password_cli: str,
) -> None:
    services = await Services.open(f"sqlite:///{xe_state / 'xe.db'}")
    try:
        await services.policy.add_host(
            Principal.system(), name="xenon-1", address="127.0.0.1", port=_closed_port()
        )
        version = (await services.policy.current()).version
    finally:
        await services.close()
    start_serve(xe_state)
    s = ["--state-dir", str(xe_state)]
    login = ["login", *s, "--user", "admin", "--password-stdin"]
    done = _xenon(*login, stdin=admin_password_cli + "\n")
    assert done.returncode == 0, done.stderr

    done = _xenon("policy", "whatif", *s)
    assert done.returncode == 1, done.stderr
    assert f"policy version {version}, the last 10 min:" in done.stdout
    assert "xenon-1: could not answer: " in done.stdout

    done = _xenon("policy", "whatif", *s, "--json", "--minutes", "5")
    assert done.returncode == 1, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["version"], answer["minutes"], answer["unanswered"]) == (
        version,
        5,
        ["xenon-1"],
    )
    assert answer["hosts"][0]["state"] == "unanswered" and answer["hosts"][0]["error"]

    done = _xenon("policy", "whatif", *s, "--version", str(version + 5))
    assert done.returncode == 1 and "not_found" in done.stderr, done.stderr
