"""``xenon demo --headless``: three live hosts, the console over SSH, a clean stop, reuse.

The demo runs as ``python -m xenon_tui.demo`` (the parser of ``xenon demo``); a separate
test checks that the ``xenon`` command line offers it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests._support.ssh import ROOT, SSH_OPTS, Terminal, needs_ssh_tools, pid_alive

pytestmark = [needs_ssh_tools, pytest.mark.needs_tool, pytest.mark.slow]


class Demo:
    """A running ``xenon demo --headless`` and what it printed."""

    def __init__(self, state: Path, *extra: str) -> None:
        self.state = state
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xenon_tui.demo", "--headless", "--state-dir",
             str(state), "--ssh-port", "0", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if line.startswith("xenon demo: ready"):
                # Later lines (the supervisor's) are collected in the background.
                self._reader = threading.Thread(target=self._read_rest, daemon=True)
                self._reader.start()
                return
        self.stop()
        pytest.fail("demo did not start:\n" + "".join(self.lines))

    def _read_rest(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_output(self, pattern: str, timeout: float, start: int = 0) -> re.Match[str]:
        """Waits for a line (from line ``start`` on) matching ``pattern``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[start:]:
                match = re.search(pattern, line)
                if match:
                    return match
            assert self.proc.poll() is None, "the demo exited:\n" + self.text
            time.sleep(0.1)
        pytest.fail(f"no line matching {pattern!r} within {timeout}s:\n" + self.text)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def ssh_argv(self, user: str) -> list[str]:
        line = next(x for x in self.lines if f"{user}@127.0.0.1" in x)
        argv = shlex.split(line.split(":", 2)[2] if line.count(":") > 1 else line)
        argv = argv[argv.index("ssh") :]
        return [argv[0], *SSH_OPTS, *argv[1:]]

    def host_ports(self) -> list[tuple[int, int]]:
        return [(int(rw), int(ro)) for rw, ro in re.findall(
            r"read-write 127\.0\.0\.1:(\d+), read-only 127\.0\.0\.1:(\d+)", self.text)]  # fmt: skip

    def children(self) -> list[int]:
        """Every process whose command line names this demo's state directory."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.proc.pid:
                try:
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if str(self.state).encode() in cmdline:
                    pids.append(int(entry.name))
        return pids

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stdout is not None
        if self._reader is not None:
            self._reader.join(timeout=10)
        else:
            self.lines.extend(self.proc.stdout.readlines())
        self.proc.stdout.close()
        return self.proc.returncode


# Two runs of the demo with XE (set up on the first: three host-add tasks, ~30 writes, a
# propagation) on a shared, loaded 2-core box: a liveness bound, not a timing goal.
@pytest.mark.timeout(420)
def test_demo_serves_three_live_hosts_over_ssh_stops_cleanly_and_reuses_its_state(
    tmp_path: Path, terminal: Terminal
) -> None:
    state = tmp_path / "demo"
    demo = Demo(state)
    try:
        ports = demo.host_ports()
        assert len(ports) == 3
        assert re.search(r"xenon-1: .*, 4 domains running", demo.text)  # XE's placement
        _check_hosts_run_xe_policy(state)
        generations = _generations(state)
        xe_version = json.loads((state / "xe" / "demo-xe.json").read_text())["version"]
        children = demo.children()
        assert len(children) >= 5  # three XPS hosts, the workload, the SSH server (+ zygote)

        # SSH logins are XE users: the console opens on the Enterprise view of the
        # report's simple policy (xenon-1's first enclave, B, and its VMs), as XE's admin.
        terminal.open("admin", demo.ssh_argv("admin"), cols=160, rows=48)
        terminal.wait_for("admin", r"Xenon Enterprise — admin \(admin\)", timeout=60)
        terminal.wait_for("admin", r"Enclave B  on xenon-1", timeout=60)
        terminal.wait_for("admin", r"EB-domu-\d", timeout=30)
        terminal.send("admin", "C-e")  # the host console, a key away
        terminal.wait_for("admin", r"Xenon servers", timeout=30)
        for rw, _ in ports:  # all three connected (green dot) on their read-write sockets
            # Each simulated host reports its own name (xps.hostname) once connected.
            terminal.wait_for("admin", rf"● xenon-\d 127\.0\.0\.1:{rw}", timeout=30)
        terminal.wait_for("admin", r"Live", timeout=10)

        terminal.open("viewer", demo.ssh_argv("viewer"), cols=160, rows=48)
        terminal.wait_for("viewer", r"Xenon Enterprise — viewer \(auditor\)", timeout=60)
        terminal.send("viewer", "C-e")
        for _, ro in ports:  # the read-only account only ever sees read-only sockets
            terminal.wait_for("viewer", rf"127\.0\.0\.1:{ro}", timeout=30)
        viewer = terminal.screen("viewer")
        assert not any(f"127.0.0.1:{rw}" in viewer for rw, _ in ports)
        _check_viewer_uses_read_only_certificate(state)
        terminal.send("admin", "C-q")
        terminal.wait_for("admin", r"EXIT=0", timeout=15)
    finally:
        status = demo.stop()
    assert status == 0
    assert "xenon demo: stopped" in demo.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(pid_alive(p) for p in children):
        time.sleep(0.1)
    assert not [p for p in children if pid_alive(p)]

    ca = (state / "pki" / "ca-cert.pem").read_bytes()
    host_key = (state / "ssh" / "ssh_host_ed25519_key").read_bytes()
    again = Demo(state)
    try:
        assert again.host_ports() == ports  # the same ports: XE and the operator know them
        assert re.search(r"xenon-1: .*, 4 domains running", again.text)
        assert "adding the hosts" not in again.text  # XE is set up on the first run only
        assert _generations(state) == generations
        assert _xe_versions(state) == {xe_version}
    finally:
        assert again.stop() == 0
    assert (state / "pki" / "ca-cert.pem").read_bytes() == ca
    assert (state / "ssh" / "ssh_host_ed25519_key").read_bytes() == host_key


def _check_viewer_uses_read_only_certificate(state: Path) -> None:
    """The viewer's console presents ``console-ro``, which every daemon logs as read-only."""
    import json

    from xps.pki import is_read_only, load_cert

    console = json.loads((state / "console.json").read_text())
    ro_cert = Path(console["tls_read_only"]["cert"])
    assert ro_cert.name == "console-ro-cert.pem" and is_read_only(load_cert(ro_cert))
    assert not is_read_only(load_cert(Path(console["cert"])))
    logs = sorted((state / "hosts").glob("*/xenon-policy-server.log"))
    assert len(logs) == 3
    wanted = re.compile(
        r"ReadOnly socket: Client #\d+ \(/127\.0\.0\.1\): "
        r"Read-only client certificate X500Principal CN=console-ro"
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        texts = [log.read_text(encoding="utf-8") for log in logs]
        if all(wanted.search(text) for text in texts):
            break
        time.sleep(0.1)
    for log, text in zip(logs, texts, strict=True):
        assert wanted.search(text), f"{log}: the viewer did not present console-ro"
        assert "Refusing local client" not in text


def test_read_only_console_config_takes_the_read_only_certificate(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xenon_tui.ssh import _consolecfg
    from xenon_tui.ssh._consolecfg import console_config, warn_without_read_only_tls

    monkeypatch.setattr(_consolecfg, "_warned", [])  # a fresh process as far as "once" goes

    base = {"servers": [{"host": "127.0.0.1", "port": 2, "ro_port": 2}], "ca": "/p/ca.pem",
            "cert": "/p/rw-cert.pem", "key": "/p/rw-key.pem",
            "tls_read_only": {"cert": "/p/ro-cert.pem", "key": "/p/ro-key.pem"}}  # fmt: skip
    ro = console_config({**base, "read_only": True})
    assert (str(ro.tls.cert), str(ro.tls.key)) == ("/p/ro-cert.pem", "/p/ro-key.pem")
    rw = console_config({**base, "read_only": False})
    assert (str(rw.tls.cert), str(rw.tls.key)) == ("/p/rw-cert.pem", "/p/rw-key.pem")
    legacy = {k: v for k, v in base.items() if k != "tls_read_only"}
    assert str(console_config({**legacy, "read_only": True}).tls.cert) == "/p/rw-cert.pem"
    assert not warn_without_read_only_tls(base)
    with caplog.at_level("WARNING", logger="xenon.ssh"):
        assert warn_without_read_only_tls(legacy)
        assert warn_without_read_only_tls(legacy)
    warnings = [r for r in caplog.records if "tls_read_only" in r.getMessage()]
    assert len(warnings) == 1


def test_xenon_command_line_offers_demo_and_console_serve_flags() -> None:
    import argparse

    from xenon_tui.cli import build_parser
    from xenon_tui.cli.console_serve import add_serve_arguments

    parser = build_parser()
    args = parser.parse_args(["demo", "--headless", "--ssh-port", "0", "--state-dir", "/x"])
    assert args.headless and args.ssh_port == 0 and str(args.state_dir) == "/x"
    serve = argparse.ArgumentParser()
    add_serve_arguments(serve)
    args = serve.parse_args(["--listen", "127.0.0.1:0", "--mode", "spawn"])
    assert args.listen == ("127.0.0.1", 0) and args.mode == "spawn"


def _daemon(state: Path, host: str) -> dict[str, int]:
    return {
        k: int(v) for k, v in json.loads((state / "hosts" / host / "ports").read_text()).items()
    }


def _ssh_banner(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        return sock.recv(256)


def test_demo_restarts_a_killed_host_and_its_consoles_stay_up(
    tmp_path: Path, terminal: Terminal
) -> None:
    """A host's daemon killed (SIGTERM, then SIGKILL) is restarted on its ports with its
    domains; the SSH console server and an open console stay up, and the console is back on
    the host by itself."""
    state = tmp_path / "demo"
    demo = Demo(state, "--no-xe")
    try:
        ssh_port = int((state / "ssh" / "ssh-port").read_text())
        terminal.open("admin", demo.ssh_argv("admin"), cols=160, rows=48)
        before = _daemon(state, "xenon-2")
        terminal.wait_for("admin", rf"● xenon-2 127\.0\.0\.1:{before['read_write']}", timeout=30)
        log = state / "hosts" / "xenon-2" / "xenon-policy-server.log"
        # A daemon stops cleanly on SIGTERM (status 0); SIGKILL is reported as the signal.
        for sig, how in ((signal.SIGTERM, "status 0"), (signal.SIGKILL, "signal SIGKILL")):
            old = _daemon(state, "xenon-2")
            mark = len(demo.lines)
            os.kill(old["pid"], sig)
            demo.wait_output(rf"host xenon-2 exited \({how}\); restart attempt \d+ in ",
                             timeout=30, start=mark)  # fmt: skip
            demo.wait_output(r"host xenon-2 is back \(pid \d+", timeout=60, start=mark)
            new = _daemon(state, "xenon-2")
            assert new["pid"] != old["pid"] and pid_alive(new["pid"])
            assert (new["read_write"], new["read_only"]) == (old["read_write"], old["read_only"])
            assert demo.proc.poll() is None
            assert _ssh_banner(ssh_port).startswith(b"SSH-2.0-")
            assert "EXIT=" not in terminal.screen("admin")  # the open console is still there

            # The console reconnects and subscribes again to the restarted daemon.
            def resubscribed() -> bool:
                text = log.read_text(encoding="utf-8")
                tail = text.split("Listening on")[-1]
                return "Received request Subscribe" in tail

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not resubscribed():
                time.sleep(0.2)
            assert resubscribed(), "the console did not come back to the restarted host"
        assert re.search(r"host xenon-2: \d+ domains running again", demo.text)
        terminal.wait_for("admin", rf"● xenon-2 127\.0\.0\.1:{before['read_write']}", timeout=30)
        terminal.send("admin", "C-q")
        terminal.wait_for("admin", r"EXIT=0", timeout=15)
    finally:
        status = demo.stop()
    assert status == 0, demo.text
    assert "xenon demo: stopped" in demo.text


def test_a_second_run_keeps_the_operators_policy(tmp_path: Path) -> None:
    """The sample policy is activated on the first run only: an edit made through the XPS
    client (here a renamed, re-versioned policy, as a clone from another host would be)
    survives a restart of the demo with its generation."""
    import asyncio
    import dataclasses

    from xps.policy import parse_policy, serialize_policy

    state = tmp_path / "demo"
    demo = Demo(state, "--no-xe")
    try:
        hosts = json.loads((state / "hosts.json").read_text())
        host = next(h for h in hosts["hosts"] if h["name"] == "xenon-2")

        async def edit() -> dict[str, object]:
            async with _client(host["port"], hosts["tls"]) as client:
                active = await client.call("GetPolicy", which="active")
                policy = parse_policy(str(active["xml"]).encode())
                edited = dataclasses.replace(
                    policy, name="xenon-2 operator's policy", version=policy.version + 1
                )
                await client.call("StagePolicy", xml=serialize_policy(edited).decode())
                await client.call("ActivatePolicy")
                return dict(await client.call("GetPolicy", which="active"))

        edited = asyncio.run(edit())
    finally:
        assert demo.stop() == 0
    again = Demo(state, "--no-xe")
    try:
        hosts = json.loads((state / "hosts.json").read_text())
        host = next(h for h in hosts["hosts"] if h["name"] == "xenon-2")
        assert re.search(r"xenon-2: .*, 4 domains running", again.text)

        async def read() -> tuple[dict[str, object], dict[str, object]]:
            async with _client(host["port"], hosts["tls"]) as client:
                return (
                    dict(await client.call("GetPolicy", which="active")),
                    dict(await client.call("GetHypervisorInfo")),
                )

        active, info = asyncio.run(read())
    finally:
        assert again.stop() == 0
    assert (active["generation"], active["sha256"]) == (edited["generation"], edited["sha256"])
    assert info["policy_name"] == "xenon-2 operator's policy"
    assert info["policy_generation"] == edited["generation"]


def _client(port: int, tls: dict[str, str]) -> Any:
    from xps.client import XpsClient

    return XpsClient(
        "127.0.0.1",
        port,
        ca=Path(tls["ca"]),
        cert=Path(tls["cert"]),
        key=Path(tls["key"]),
        timeout=30.0,
    )


def _host_calls(state: Path, *calls: tuple[str, dict[str, Any]]) -> dict[str, list[Any]]:
    """Each host's answers to ``calls`` over the demo's own client TLS files."""
    import asyncio

    doc = json.loads((state / "hosts.json").read_text())

    async def one(host: dict[str, Any]) -> list[Any]:
        async with _client(host["port"], doc["tls"]) as client:
            return [await client.call(name, **params) for name, params in calls]

    async def every() -> dict[str, list[Any]]:
        return {h["name"]: await one(h) for h in doc["hosts"]}

    return asyncio.run(every())


def _generations(state: Path) -> dict[str, tuple[int, str]]:
    answers = _host_calls(state, ("GetPolicy", {"which": "active"}))
    return {name: (a[0]["generation"], a[0]["sha256"]) for name, a in answers.items()}


def _xe_versions(state: Path) -> set[int]:
    """The policy version XE last converged each host to (``xenon xe host list --json``)."""
    done = subprocess.run(
        [sys.executable, "-m", "xenon_tui.cli", "xe", "host", "list", "--state-dir",
         str(state / "xe"), "--json"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 3
    assert {r["propagation"]["state"] for r in rows} == {"converged"}
    return {int(r["propagation"]["observed"]["version"]) for r in rows}


def _check_hosts_run_xe_policy(state: Path) -> None:
    """Every host runs XE's slice: the VMs the report's §4.2 policy places there (a VM
    without a host goes to the first host in panel order that carries its enclave), and
    XE's API, reached with the token the demo stored (0600), says each host converged."""
    from enterprise_store.policy import sample_xe_policy
    from xps.policy import parse_policy

    sample = sample_xe_policy()
    carried = {a.enclave: set() for a in sample.assignments}
    for a in sample.assignments:
        carried[a.enclave].add(a.host)
    order = sorted(sample.hosts, key=lambda h: h.order)
    expected: dict[str, set[str]] = {h.name: set() for h in sample.hosts}
    for vm in sample.vms:
        host = vm.host or next(h.id for h in order if h.id in carried[vm.enclave])
        expected[next(h.name for h in sample.hosts if h.id == host)].add(vm.name)
    answers = _host_calls(state, ("GetPolicy", {"which": "active"}))
    for name, (active,) in answers.items():
        policy = parse_policy(str(active["xml"]).encode())
        assert {d.name for d in policy.domains if d.seclabel is not None} == expected[name]
        assert policy.name == f"XE slice of {name}"
    xe = state / "xe"
    for secret in ("xe-token", "admin-password"):
        assert (xe / secret).stat().st_mode & 0o777 == 0o600
    versions = _xe_versions(state)
    assert versions == {json.loads((xe / "demo-xe.json").read_text())["version"]}
