"""``xenon demo --headless``: three live hosts, the console over SSH, a clean stop, reuse.

The demo runs as ``python -m xenon_tui.demo`` (the parser of ``xenon demo``); a separate
test checks that the ``xenon`` command line offers it.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, SSH_OPTS, Terminal, needs_ssh_tools, pid_alive

pytestmark = [needs_ssh_tools, pytest.mark.needs_tool, pytest.mark.slow]


class Demo:
    """A running ``xenon demo --headless`` and what it printed."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xenon_tui.demo", "--headless", "--state-dir",
             str(state), "--ssh-port", "0"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if "ready" in line:
                return
        self.stop()
        pytest.fail("demo did not start:\n" + "".join(self.lines))

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
        self.lines.extend(self.proc.stdout.readlines())
        self.proc.stdout.close()
        return self.proc.returncode


def test_demo_serves_three_live_hosts_over_ssh_stops_cleanly_and_reuses_its_state(
    tmp_path: Path, terminal: Terminal
) -> None:
    state = tmp_path / "demo"
    demo = Demo(state)
    try:
        ports = demo.host_ports()
        assert len(ports) == 3
        assert re.search(r"xenon-1: .*, 6 domains running", demo.text)
        children = demo.children()
        assert len(children) >= 5  # three XPS hosts, the workload, the SSH server (+ zygote)

        terminal.open("admin", demo.ssh_argv("admin"), cols=160, rows=48)
        terminal.wait_for("admin", r"Xenon servers", timeout=30)
        for rw, _ in ports:  # all three connected (green dot) on their read-write sockets
            terminal.wait_for("admin", rf"● 127\.0\.0\.1:{rw}", timeout=30)
        terminal.wait_for("admin", r"Live", timeout=10)

        terminal.open("viewer", demo.ssh_argv("viewer"), cols=160, rows=48)
        for _, ro in ports:  # the read-only account only ever sees read-only sockets
            terminal.wait_for("viewer", rf"127\.0\.0\.1:{ro}", timeout=30)
        viewer = terminal.screen("viewer")
        assert not any(f"127.0.0.1:{rw}" in viewer for rw, _ in ports)
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
        assert len(again.host_ports()) == 3
        assert re.search(r"xenon-1: .*, 6 domains running", again.text)
    finally:
        assert again.stop() == 0
    assert (state / "pki" / "ca-cert.pem").read_bytes() == ca
    assert (state / "ssh" / "ssh_host_ed25519_key").read_bytes() == host_key


def test_xenon_command_line_offers_demo_and_console_serve_flags() -> None:
    import argparse

    from xenon_tui.cli import build_parser
    from xenon_tui.ssh_cli import add_serve_arguments

    parser = build_parser()
    args = parser.parse_args(["demo", "--headless", "--ssh-port", "0", "--state-dir", "/x"])
    assert args.headless and args.ssh_port == 0 and str(args.state_dir) == "/x"
    serve = argparse.ArgumentParser()
    add_serve_arguments(serve)
    args = serve.parse_args(["--listen", "127.0.0.1:0", "--mode", "spawn"])
    assert args.listen == ("127.0.0.1", 0) and args.mode == "spawn"
