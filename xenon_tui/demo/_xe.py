"""The demo's Xenon Enterprise: ``xenon xe serve`` on ``STATE/xe``, the hosts and the policy.

On the first run ``xenon xe init`` makes ``STATE/xe`` (SQLite, XE's certificates issued by
the demo CA, so the hosts trust XE and XE trusts the hosts), with an admin password made
here and kept in ``STATE/xe/admin-password`` (0600). Then, over XE's REST client only (the
console never imports XE's services): an API token in ``STATE/xe/xe-token`` (0600, where
``xenon xe … --state-dir STATE/xe`` looks for it), the three hosts added through the
Compute service's "Add host" task, the report's simple policy of §4.2 built through the
Policy service (the objects of :func:`enterprise_store.policy.sample_xe_policy`), and a
propagation, so each host runs XE's slice. ``STATE/xe/demo-xe.json`` marks that done: a
later run only starts the server.

The demo's SSH logins are XE users (every run, :func:`ssh_access`): ``admin`` (XE's admin)
with the demo's admin key and ``viewer`` (an auditor) with its viewer key, and the SSH
server's service credential in ``STATE/xe/ssh-credential`` (0600). The local console logs
in as XE's admin (:func:`console_login`). Both open on the Enterprise view.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

from xenon_tui.demo._procs import DemoError, Processes
from xps.pki import write_private

ADMIN = "admin"
PASSWORD_FILE = "admin-password"  # noqa: S105 - a file name
TOKEN_FILE = "xe-token"  # noqa: S105 - a file name (the one `xenon xe` reads)
SERVER_FILE = "xe-server.json"
CONFIG_FILE = "xe.json"  # what `xenon xe init` writes last
DONE_FILE = "demo-xe.json"
SSH_CREDENTIAL_FILE = "ssh-credential"
SSH_USERS: dict[str, Literal["admin", "operator", "auditor"]] = {
    "admin": "admin",
    "viewer": "auditor",
}
"""The demo's SSH accounts as XE users, with their XE roles."""
TASK_TIMEOUT_S = 120.0


def xe_dir(root: Path) -> Path:
    """XE's state directory inside the demo's."""
    return root / "xe"


def init(state: Path, pki: Path) -> None:
    """``xenon xe init`` once: the store, XE's certificates from the demo CA, the admin."""
    if (state / CONFIG_FILE).exists():
        return
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    password_file = state / PASSWORD_FILE
    if not password_file.exists():
        write_private(password_file, secrets.token_urlsafe(24).encode() + b"\n")
    password = password_file.read_text(encoding="utf-8").strip()
    done = subprocess.run(
        [sys.executable, "-m", "xenon_tui.cli", "xe", "init", "--state-dir", str(state),
         "--admin", ADMIN, "--password-stdin", "--ca-dir", str(pki),
         "--san", "localhost", "--san", "127.0.0.1"],
        input=password + "\n", capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise DemoError(f"xenon xe init failed (status {done.returncode}): {last[:300]}")


def start_server(
    state: Path, procs: Processes, port: int = 0
) -> tuple[subprocess.Popen[bytes], str]:
    """Starts ``xenon xe serve`` on 127.0.0.1:``port``; returns it and its URL."""
    (state / SERVER_FILE).unlink(missing_ok=True)
    argv = ["-m", "xenon_tui.cli", "xe", "serve", "--state-dir", str(state),
            "--listen", f"127.0.0.1:{port}", "--no-access-log"]  # fmt: skip
    proc = procs.start("xe", argv)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"xenon xe serve exited with status {proc.returncode}")
        try:
            doc = json.loads((state / SERVER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        if doc.get("pid") == proc.pid and isinstance(doc.get("url"), str):
            return proc, str(doc["url"])
        time.sleep(0.05)
    raise DemoError("xenon xe serve did not report its URL")


def is_set_up(state: Path) -> bool:
    """The hosts and the policy were set up on an earlier run."""
    return (state / DONE_FILE).exists()


async def set_up(state: Path, url: str, hosts: list[dict[str, Any]]) -> dict[str, Any]:
    """Token, hosts, the §4.2 policy and its propagation; returns what was made."""
    from enterprise_store.client import XeClient, XeError

    password = (state / PASSWORD_FILE).read_text(encoding="utf-8").strip()
    try:
        async with XeClient(url, ca=state / "pki" / "ca-cert.pem", timeout=60) as xe:
            await xe.login(ADMIN, password)
            made = await xe.create_token("xenon-demo")
            write_private(state / TOKEN_FILE, made.token.encode() + b"\n")
            version = await _build(xe, hosts)
            accepted = await xe.compute.propagate()
            task = await xe.compute.wait_task(accepted.task_id, TASK_TIMEOUT_S)
            if task.state != "succeeded":
                raise DemoError(f"XE propagation ended {task.state}: {task.message}")
    except XeError as exc:
        raise DemoError(f"XE set-up: {exc.code}: {exc.message}") from exc
    done = {"url": url, "version": version, "hosts": [h["name"] for h in hosts]}
    write_private(state / DONE_FILE, json.dumps(done).encode() + b"\n")
    return done


def ca_file(state: Path) -> Path:
    """The CA that signed XE's certificate (the demo's CA)."""
    return state / "pki" / "ca-cert.pem"


async def ssh_access(state: Path, url: str, public_keys: dict[str, str]) -> Path:
    """The demo's SSH users in XE with their keys (``public_keys``: user -> OpenSSH public
    key) and the SSH server's service credential; idempotent. Returns the credential file."""
    from enterprise_store.client import NotFound, XeClient, XeError

    password = (state / PASSWORD_FILE).read_text(encoding="utf-8").strip()
    credential = state / SSH_CREDENTIAL_FILE
    try:
        async with XeClient(url, ca=ca_file(state), timeout=60) as xe:
            await xe.login(ADMIN, password)
            for user, role in SSH_USERS.items():
                if user != ADMIN:
                    try:
                        await xe.get_user(user)
                    except NotFound:
                        await xe.create_user(user, role=role, display_name=f"demo {user}")
                key = public_keys[user].strip()
                known = {k.public_key.split()[1] for k in await xe.list_ssh_keys(user)}
                if key.split()[1] not in known:
                    await xe.add_ssh_key(user, key, f"xenon-demo-{user}")
            if not credential.exists():
                made = await xe.create_token("xenon demo SSH server", kind="service")
                write_private(credential, made.token.encode() + b"\n")
            await xe.logout()
    except XeError as exc:
        raise DemoError(f"XE SSH users: {exc.code}: {exc.message}") from exc
    return credential


async def console_login(state: Path, url: str) -> str:
    """A session token of XE's admin for the local console (it logs out when it ends)."""
    from enterprise_store.client import XeClient, XeError

    password = (state / PASSWORD_FILE).read_text(encoding="utf-8").strip()
    try:
        async with XeClient(url, ca=ca_file(state), timeout=60) as xe:
            return (await xe.login(ADMIN, password)).token
    except XeError as exc:
        raise DemoError(f"XE login: {exc.code}: {exc.message}") from exc


async def console_logout(state: Path, url: str, token: str) -> None:
    """Ends the local console's XE session (best effort: the demo is stopping)."""
    from enterprise_store.client import XeClient, XeError

    try:
        async with XeClient(url, token=token, ca=ca_file(state), timeout=10) as xe:
            await xe.logout()
    except (XeError, OSError):
        pass


async def follow_ports(state: Path, url: str, hosts: list[dict[str, Any]]) -> list[str]:
    """Records in XE a host's new port (its last one was taken); returns those hosts."""
    from enterprise_store.client import XeClient, XeError

    token = (state / TOKEN_FILE).read_text(encoding="utf-8").strip()
    moved = []
    try:
        async with XeClient(url, token=token, ca=state / "pki" / "ca-cert.pem", timeout=60) as xe:
            for host in hosts:
                known = await xe.policy.get_host(host["name"])
                if known.port != int(host["port"]):
                    await xe.policy.update_host(known.id, port=int(host["port"]))
                    moved.append(host["name"])
    except XeError as exc:
        raise DemoError(f"XE: {exc.code}: {exc.message}") from exc
    return moved


async def _build(xe: Any, hosts: list[dict[str, Any]]) -> int:
    """The report's simple XE policy, object by object; returns the last version."""
    from enterprise_store.policy import sample_xe_policy

    sample = sample_xe_policy({h["name"]: ("127.0.0.1", int(h["port"])) for h in hosts})
    enclave_of = {e.id: e for e in sample.enclaves}
    for enclave in sample.enclaves:
        await xe.policy.create_enclave(enclave.name, color=enclave.color, id=str(enclave.id))
    host_ids: dict[Any, str] = {}
    # Each sim XPS's read-only socket too: what an auditor's console reaches.
    ro_ports = {h["name"]: h.get("ro_port") for h in hosts}
    for host in sample.hosts:
        ro_port = ro_ports.get(host.name)
        accepted = await xe.compute.add_host(
            host.name, host.address, host.port, color=_hex(host.color), order=host.order,
            takeover=True, shared_storage=host.shared_storage,
            ro_port=int(ro_port) if ro_port else None,
        )  # fmt: skip
        task = await xe.compute.wait_task(accepted.task_id, TASK_TIMEOUT_S)
        if task.state != "succeeded":
            raise DemoError(f"XE could not add host {host.name}: {task.state}: {task.message}")
        added = await xe.policy.get_host(host.name)
        host_ids[host.id] = added.id
        await xe.policy.update_host(
            added.id,
            switches=[{"name": s.name, "enclave": str(s.enclave)} for s in host.switches],
        )
    for assignment in sample.assignments:
        await xe.policy.assign(str(assignment.enclave), host_ids[assignment.host])
    for label in sample.seclabels:
        await xe.policy.create_seclabel(
            label.name, str(label.enclave), str(label.profile), id=str(label.id),
            max_rate=label.max_rate, max_violations=label.max_violations,
        )  # fmt: skip
    for conflict in sample.conflicts:
        await xe.policy.create_conflict(
            conflict.name, str(conflict.level), [str(e) for e in conflict.enclaves],
            id=str(conflict.id),
        )  # fmt: skip
    version = 0
    for vm in sample.vms:
        fields: dict[str, Any] = {
            "id": str(vm.id),
            "seclabel": None if vm.seclabel is None else str(vm.seclabel),
            "os": None if vm.os is None else str(vm.os),
            "kernel": vm.kernel,
            "cmdline": vm.cmdline,
            "memory_mb": vm.memory_mb,
            "maxmem_mb": vm.maxmem_mb,
            "vcpus": vm.vcpus,
            "maxvcpus": vm.maxvcpus,
            "network": {
                "allow_network": vm.network.allow_network,
                "switches": list(vm.network.switches),
                "max_vifs": vm.network.max_vifs,
            },
            "extra": [list(pair) for pair in vm.extra],
        }
        if vm.host is not None:
            fields["host"] = host_ids[vm.host]
        written = await xe.policy.create_vm(
            vm.name, enclave_of[vm.enclave].name, str(vm.guest_type),
            **{k: v for k, v in fields.items() if v is not None},
        )  # fmt: skip
        version = int(written.version)
    return version


def _hex(rgb: tuple[int, ...]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb[:3])
