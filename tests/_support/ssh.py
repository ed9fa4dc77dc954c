"""End-to-end test support: SSH keys, a real console server, and OpenSSH in tmux.

The fixtures are made available to tests/e2e by its conftest; the helpers are imported
from here.

``ssh_server(...)`` starts ``python -m xenon_tui.ssh`` (or any argv) on 127.0.0.1 port 0
and returns a :class:`ServerProc`; ``terminal(...)`` opens a tmux session (its own
``tmux -L`` socket) running OpenSSH against it. Everything is stopped at teardown.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_APP = "tests.e2e.sample_app:run"
SSH_OPTS = [
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "LogLevel=ERROR",
]  # fmt: skip
_counter = itertools.count()

needs_ssh_tools = pytest.mark.skipif(
    not (shutil.which("ssh") and shutil.which("tmux") and shutil.which("ssh-keygen")),
    reason="needs the OpenSSH client, ssh-keygen and tmux",
)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> object:
    """Polls ``predicate`` until it returns something truthy; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


@dataclass
class Keys:
    """Client key pairs: ``admin`` and ``viewer`` are authorized, ``stranger`` is not."""

    dir: Path
    admin: Path
    viewer: Path
    stranger: Path

    def fingerprint(self, key: Path) -> str:
        out = subprocess.run(
            ["ssh-keygen", "-lf", f"{key}.pub"], capture_output=True, text=True, check=True
        ).stdout
        return out.split()[1]


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    if not shutil.which("ssh-keygen"):
        pytest.skip("needs ssh-keygen")
    d = tmp_path_factory.mktemp("keys")
    paths = {}
    for name in ("admin", "viewer", "stranger"):
        path = d / name
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True
        )
        paths[name] = path
    return Keys(d, **paths)


@dataclass
class ServerProc:
    """A running console server process."""

    proc: subprocess.Popen[str]
    state_dir: Path
    port: int
    output: list[str] = field(default_factory=list)

    def log(self) -> str:
        path = self.state_dir / "ssh-server.log"
        return path.read_text() if path.exists() else ""

    def session_log(self) -> str:
        path = self.state_dir / "ssh-sessions.log"
        return path.read_text() if path.exists() else ""

    def session_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"session \S+ started user=\S+ pid=(\d+)", self.log())]

    def ssh_argv(self, user: str, key: Path, *extra: str) -> list[str]:
        return ["ssh", "-p", str(self.port), "-i", str(key), *SSH_OPTS, *extra, f"{user}@127.0.0.1"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def start_server(argv: list[str], state_dir: Path, timeout: float = 30.0) -> ServerProc:
    """Starts a server process and waits for its 'listening on HOST:PORT' line."""
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"listening on [\d.]+:(\d+)", line)
        if match:
            return ServerProc(proc, state_dir, int(match.group(1)), lines)
    proc.kill()
    proc.wait()
    pytest.fail(f"server did not start: {''.join(lines)}")


@pytest.fixture
def ssh_server(
    tmp_path_factory: pytest.TempPathFactory, ssh_keys: Keys
) -> Iterator[Callable[..., ServerProc]]:
    """Factory: ``ssh_server(mode="zygote", *extra_flags)`` -> a running sample-app server."""
    started: list[ServerProc] = []

    def factory(*extra: str, mode: str = "zygote", app: str = SAMPLE_APP) -> ServerProc:
        state = tmp_path_factory.mktemp("sshstate")
        console = state / "console.json"
        console.write_text(
            '{"servers": [{"name": "alpha", "host": "127.0.0.1", "port": 7001, '
            '"ro_port": 7101}, {"name": "beta", "host": "127.0.0.1", "port": 7002}]}'
        )
        argv = [sys.executable, "-m", "xenon_tui.ssh", "--listen", "127.0.0.1:0",
                "--state-dir", str(state), "--mode", mode, "--app", app,
                "--user", f"admin={ssh_keys.admin}.pub",
                "--read-only-user", f"viewer={ssh_keys.viewer}.pub",
                "--console-file", str(console), *extra]  # fmt: skip
        server = start_server(argv, state)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


class Terminal:
    """One tmux server (``tmux -L NAME``) whose panes run OpenSSH."""

    def __init__(self, name: str) -> None:
        self.name = name

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.name, *args], capture_output=True, text=True, check=True
        ).stdout

    def open(self, window: str, argv: list[str], cols: int = 100, rows: int = 30) -> None:
        """Runs ``argv`` in a new tmux session; its exit status is printed as EXIT=N."""
        command = " ".join(_quote(a) for a in argv) + "; echo EXIT=$?; sleep 600"
        self.tmux("new-session", "-d", "-s", window, "-x", str(cols), "-y", str(rows), command)

    def screen(self, window: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", window)

    def wait_for(self, window: str, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            return re.search(pattern, self.screen(window), re.MULTILINE)

        return wait_until(found, timeout, f"{pattern!r} on {window}")  # type: ignore[return-value]

    def send(self, window: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", window, *keys)

    def resize(self, window: str, cols: int, rows: int) -> None:
        self.tmux("resize-window", "-t", window, "-x", str(cols), "-y", str(rows))

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    if not shutil.which("tmux"):
        pytest.skip("needs tmux")
    term = Terminal(f"xe2e-{os.getpid()}-{next(_counter)}")
    yield term
    term.kill()


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
