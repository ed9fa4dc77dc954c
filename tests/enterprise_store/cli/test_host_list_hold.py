"""``xenon xe host list`` against a real ``xenon xe serve`` says when propagation is held for
a second admin's approval (which version, for whom, how to review), and no longer once it
is approved."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from enterprise_store.services import NewUser, Principal, Role, Services

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.timeout(240)  # a few CLI processes on a shared 2-core box
async def test_host_list_says_what_holds_propagation(
    xe_state: Path, xe_cli: Cli, start_serve: Callable[..., tuple[subprocess.Popen[str], str]]
) -> None:
    services = await Services.open(f"sqlite:///{xe_state / 'xe.db'}")
    try:
        system = Principal.system()
        await services.policy.add_host(system, name="xenon-1", address="10.0.2.101")
        for name in ("alice", "bob"):
            await services.users.create_user(
                system, NewUser(name=name, role=Role.ADMIN, password=f"{name}-password-1")
            )
        session = await services.users.login("alice", "alice-password-1", source="192.0.2.5")
        alice = await services.users.authenticate(session.token, source="192.0.2.5")
        await services.policy.create_enclave(alice, {"name": "Enclave A"})
        await services.policy.assign(alice, "Enclave A", "xenon-1")
        await services.policy.update_enclave(alice, "Enclave A", {"requires_approval": True})
        written = await services.policy.create_seclabel(
            alice, {"name": "EA-seclabel", "enclave": "Enclave A", "profile": "PV-Combined"}
        )
    finally:
        await services.close()
    start_serve(xe_state)
    s = ["--state-dir", str(xe_state)]
    done = xe_cli("login", *s, "--user", "bob", "--password-stdin", stdin="bob-password-1\n")
    assert done.returncode == 0, done.stderr
    listed = xe_cli("host", "list", *s)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("NAME") and "xenon-1" in listed.stdout
    held = (
        f"held: v{written.version} waits for approval by an admin other than alice "
        "(xenon xe policy approvals to review)"
    )
    assert held in listed.stdout, listed.stdout
    done = xe_cli("policy", "approve", *s, str(written.version), "--note", "profile checked")
    assert done.returncode == 0, done.stderr
    listed = xe_cli("host", "list", *s)
    assert listed.returncode == 0 and "held:" not in listed.stdout, listed.stdout
