"""``xenon xe policy approvals|approve|reject`` and ``enclave update --requires-approval``
against a real ``xenon xe serve`` (HTTPS) on 127.0.0.1 port 0: alice's change waits, the
diff and who may approve are printed, alice cannot approve it, a note is required, bob
approves, and ``host propagate`` is refused until then (issue #14 §4)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from enterprise_store.services import NewUser, Principal, Role, Services


def _xenon(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XENON_XE_")}
    return subprocess.run(
        [sys.executable, "-m", "xenon_tui.cli", "xe", *args],
        input=stdin, capture_output=True, text=True, timeout=90, env=env, check=False,
    )  # fmt: skip


@pytest.mark.timeout(300)  # some 15 CLI processes on a shared 2-core box
async def test_the_approval_commands_against_a_real_server(
    xe_state: Path, start_serve: Callable[..., tuple[subprocess.Popen[str], str]]
) -> None:
    services = await Services.open(f"sqlite:///{xe_state / 'xe.db'}")
    try:
        system = Principal.system()
        await services.policy.add_host(system, name="xenon-1", address="10.0.2.101")
        for name in ("alice", "bob"):
            await services.users.create_user(
                system, NewUser(name=name, role=Role.ADMIN, password=f"{name}-password-1")
            )
    finally:
        await services.close()
    start_serve(xe_state)
    s = ["--state-dir", str(xe_state)]

    def login(name: str) -> None:
        done = _xenon("login", *s, "--user", name, "--password-stdin",
                      stdin=f"{name}-password-1\n")  # fmt: skip
        assert done.returncode == 0, done.stderr

    login("alice")
    for cmd in (["enclave", "create", "Enclave A"], ["enclave", "assign", "Enclave A", "xenon-1"]):
        done = _xenon(*cmd[:2], *s, *cmd[2:])
        assert done.returncode == 0, done.stderr
    done = _xenon("enclave", "update", *s, "Enclave A", "--requires-approval", "on")
    assert done.returncode == 0 and "two-person approval is on" in done.stdout, done.stderr
    done = _xenon("seclabel", "create", *s, "EA-seclabel", "--enclave", "Enclave A",
                  "--profile", "PV-Combined")  # fmt: skip
    assert done.returncode == 0, done.stderr
    version = re.search(r"policy version (\d+)", done.stdout)
    assert version is not None, done.stdout
    v = version.group(1)
    listed = _xenon("policy", "approvals", *s)
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    assert "enclaves requiring two-person approval: Enclave A" in out
    assert f"version {v}  enclave Enclave A  pending  by alice" in out
    assert "admins other than alice may approve or reject it" in out
    assert "+    SecLabel EA-seclabel" in out and "propagation is held" in out
    done = _xenon("host", "propagate", *s)
    assert done.returncode == 1 and "approval_required" in done.stderr
    assert "admins other than alice may approve it" in done.stderr
    done = _xenon("policy", "approve", *s, v, "--note", "mine is fine")
    assert done.returncode == 1 and "approval_own_change" in done.stderr, done.stderr
    login("bob")
    done = _xenon("policy", "approve", *s, v)
    assert done.returncode == 2 and "--note" in done.stderr
    done = _xenon("policy", "approve", *s, v, "--note", "checked the SecLabel's profile")
    assert done.returncode == 0, done.stderr
    assert f"policy version {v} approved (Enclave A)" in done.stdout
    assert "nothing waits for approval" in _xenon("policy", "approvals", *s).stdout
    shown = _xenon("policy", "approvals", *s, "--version", v).stdout
    assert "approved by bob: checked the SecLabel's profile" in shown


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(240)
async def test_approvals_whatif_prints_each_waiting_versions_what_if(
    xe_state: Path,
    start_serve: Callable[..., tuple[subprocess.Popen[str], str]],
    admin_password_cli: str,
) -> None:
    """``policy approvals --whatif``: beside each waiting version's diff, its what-if on
    its hosts (here the host cannot answer: named with why, exit 1), as the console's
    Approvals screen shows it; without --whatif the listing is unchanged (exit 0)."""
    services = await Services.open(f"sqlite:///{xe_state / 'xe.db'}")
    try:
        system = Principal.system()
        await services.policy.add_host(
            system, name="xenon-1", address="127.0.0.1", port=_closed_port()
        )
        await services.policy.create_enclave(system, {"name": "Enclave A"})
        await services.policy.assign(system, "Enclave A", "xenon-1")
        await services.policy.set_requires_approval(system, "Enclave A", True)
        fields = {"name": "EA-seclabel", "enclave": "Enclave A", "profile": "PV-Combined"}
        version = (await services.policy.create_seclabel(system, fields)).version
    finally:
        await services.close()
    start_serve(xe_state)
    s = ["--state-dir", str(xe_state)]
    done = _xenon("login", *s, "--user", "admin", "--password-stdin",
                  stdin=admin_password_cli + "\n")  # fmt: skip
    assert done.returncode == 0, done.stderr

    plain = _xenon("policy", "approvals", *s)
    assert plain.returncode == 0 and "what-if" not in plain.stdout, plain.stderr
    done = _xenon("policy", "approvals", *s, "--whatif")
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert f"version {version}  enclave Enclave A  pending" in out
    assert f"  what-if of version {version}, the last 10 min:" in out
    assert "    xenon-1: could not answer: " in out
    assert out.index("+    SecLabel EA-seclabel") < out.index("what-if of version")
    done = _xenon("policy", "approvals", *s, "--whatif", "--json", "--minutes", "5")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    found = data["whatif"][str(version)]
    assert found["minutes"] == 5 and found["unanswered"] == ["xenon-1"]
    assert data["approvals"]["items"][0]["version"] == version
