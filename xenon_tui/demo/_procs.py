"""The demo's child processes: started tied to our life, stopped together."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1


class DemoError(Exception):
    """The demo could not start one of its parts (``code`` is stable)."""

    code = "demo_failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Even a kill -9 of the demo must not leave daemons behind.
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


class Processes:
    """Starts ``python -m …`` children and stops them all (reverse order) on close."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        capture_stdout: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Starts ``python ARGV`` with its output in ``<log_dir>/<name>.out``."""
        self._log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self._log_dir / f"{name}.out", "ab")  # noqa: SIM115 - owned by the child
        try:
            proc = subprocess.Popen(
                [sys.executable, *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture_stdout else out,
                stderr=out,
                preexec_fn=_die_with_parent,
                start_new_session=True,  # Ctrl+C in the terminal reaches only the demo
            )
        finally:
            out.close()
        self._procs.append((name, proc))
        return proc

    def check_alive(self) -> str | None:
        """Describes a child that has exited (name and status), if any."""
        for name, proc in self._procs:
            code = proc.poll()
            if code is not None:
                return f"{name} (status {code})"
        return None

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM every child, newest first; SIGKILL what is still alive after ``timeout``."""
        for _, proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc in reversed(self._procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self._procs.clear()


def wait_for_ports(
    state_dir: Path,
    proc: subprocess.Popen[bytes],
    timeout: float = 60.0,
) -> dict[str, int]:
    """Waits for the XPS daemon ``proc`` to write its ``ports`` file; returns it."""
    path = state_dir / "ports"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"XPS daemon in {state_dir} exited with status {proc.returncode}")
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(path.read_text())
            if doc.get("pid") == proc.pid and doc.get("read_write") and doc.get("read_only"):
                return {"read_write": int(doc["read_write"]), "read_only": int(doc["read_only"])}
        time.sleep(0.05)
    raise DemoError(f"XPS daemon in {state_dir} did not report its ports")


def wait_for_listen_line(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """Reads the SSH server's stdout until 'listening on HOST:PORT'; returns the port."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), True)
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode(errors="replace")
        if not line:
            break
        match = re.search(r"listening on [^\s]+:(\d+)", line)
        if match:
            return int(match.group(1))
    raise DemoError(f"the SSH console server did not start (status {proc.poll()})")
