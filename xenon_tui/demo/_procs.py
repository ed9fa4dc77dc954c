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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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


# Restart back-off: first delay, doubling per failed attempt, capped; a child that ran this
# long before it exited starts again from the first delay.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0


def describe_status(code: int) -> str:
    """``status 3`` or ``signal SIGKILL`` for a ``Popen.returncode``."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"


@dataclass
class Supervised:
    """A child the supervisor restarts: its label, how to start it again, its back-off."""

    name: str
    label: str
    # Starts the child again and waits until it is usable; returns its process. Raises
    # DemoError when it did not come up (the supervisor then tries again, later).
    restart: Callable[[], subprocess.Popen[bytes]]
    proc: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)
    attempt: int = 0
    next_at: float | None = None


class Processes:
    """Starts ``python -m …`` children and stops them all (reverse order) on close.

    Children registered with :meth:`supervise` are restarted with back-off when they exit
    (:meth:`poll`); any other child that exits is reported as fatal.
    """

    def __init__(self, log_dir: Path, say: Callable[[str], None] | None = None) -> None:
        self._log_dir = log_dir
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._supervised: dict[str, Supervised] = {}
        self._lock = threading.RLock()
        self._say = say or (lambda message: None)

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        capture_stdout: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Starts ``python ARGV`` with its output in ``<log_dir>/<name>.out`` (appended)."""
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
        with self._lock:
            self._procs = [(n, p) for n, p in self._procs if n != name or p.poll() is None]
            self._procs.append((name, proc))
        return proc

    def supervise(
        self,
        name: str,
        label: str,
        proc: subprocess.Popen[bytes],
        restart: Callable[[], subprocess.Popen[bytes]],
    ) -> None:
        """Restarts the child ``name`` (started as ``proc``) with ``restart`` whenever it exits."""
        with self._lock:
            self._supervised[name] = Supervised(name, label, restart, proc)

    def poll(self, now: float | None = None) -> str | None:
        """Restarts supervised children that exited (when their back-off is over); describes
        an unsupervised child that has exited (name and status), if any."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for child in list(self._supervised.values()):
                self._poll_supervised(child, now)
            for name, proc in self._procs:
                code = proc.poll()
                if code is not None and name not in self._supervised:
                    return f"{name} ({describe_status(code)})"
        return None

    def _poll_supervised(self, child: Supervised, now: float) -> None:
        if child.next_at is None:
            code = child.proc.poll()
            if code is None:
                return
            if now - child.started_at >= STABLE_AFTER_S:
                child.attempt = 0
            child.attempt += 1
            delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (child.attempt - 1))
            child.next_at = now + delay
            self._say(
                f"{child.label} exited ({describe_status(code)}); restart attempt "
                f"{child.attempt} in {delay:g} s"
            )
            return
        if now < child.next_at:
            return
        child.next_at = None
        child.started_at = time.monotonic()
        try:
            child.proc = child.restart()
        except DemoError as exc:
            # The attempt's process (if any) is in self._procs: the next poll sees it exit
            # or, if it hangs half-started, this stops it now so that the next try is clean.
            self._kill_latest(child.name)
            child.started_at = now  # not stable: the back-off keeps growing
            child.proc = self._latest(child.name) or child.proc
            self._say(f"{child.label}: restart attempt {child.attempt} failed: {exc.message}")
            return
        self._say(f"{child.label} is back (pid {child.proc.pid}, attempt {child.attempt})")

    def _latest(self, name: str) -> subprocess.Popen[bytes] | None:
        procs = [p for n, p in self._procs if n == name]
        return procs[-1] if procs else None

    def _kill_latest(self, name: str) -> None:
        proc = self._latest(name)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM every child, newest first; SIGKILL what is still alive after ``timeout``."""
        with self._lock:
            self._supervised.clear()
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
