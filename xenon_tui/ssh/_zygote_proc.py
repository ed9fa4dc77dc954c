"""The zygote: a single-threaded process that preloads the console and forks one per session.

Protocol on fd 3 (an AF_UNIX SOCK_SEQPACKET socket), one JSON object per message:
server -> zygote ``{"op": "spawn", "id", "spec"}`` with the pty slave attached (SCM_RIGHTS),
``{"op": "signal", "pid", "sig"}`` (an XE user's spawn also carries the pipe holding
the user's token, after the pty); zygote -> server ``{"op": "ready", "pid"}``,
``{"op": "spawned", "id", "pid"}``, ``{"op": "failed", "id", "error"}``,
``{"op": "exit", "pid", "code"}``. End of file on the socket stops the zygote.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
from typing import Any

# Each console's sandbox rules use _consolecfg; an XE user's console reads its token and
# XE's port with _xeauth before its app starts (imported there, it cost every such session
# ~5 ms of CPU and, on a loaded machine, tens of ms of its first frame).
from xenon_tui.ssh import _consolecfg, _xeauth  # noqa: F401
from xenon_tui.ssh import _sandbox as sandbox
from xenon_tui.ssh._child import run_forked
from xenon_tui.ssh._launch import exit_code_of
from xenon_tui.ssh._sharing import fill_heap_holes, immortalize, trim_heap
from xenon_tui.ssh._spec import SessionInfo

CONTROL_FD = 3
_PR_SET_PDEATHSIG = 1
_MAX_MESSAGE = 64 * 1024
# Modules every console needs; importing them once here is what makes a session cheap.
_BASE_PRELOAD = ("textual.app", "textual.drivers.linux_driver", "textual.widgets", "rich.console")


def _send(ctl: socket.socket, message: dict[str, Any]) -> None:
    ctl.send(json.dumps(message).encode())


def preload(modules: list[str]) -> None:
    """Imports the console's code, then freezes the heap so children share it."""
    for name in (*_BASE_PRELOAD, *modules):
        module = importlib.import_module(name)
        hook = getattr(module, "preload", None)
        if callable(hook):
            hook()
    sandbox.prepare()  # the sandbox rules every console shares, worked out once
    gc.collect()
    fill_heap_holes()
    trim_heap()
    # Reference counts of immortal objects are never written: children share their pages.
    immortalize()
    # Frozen objects are skipped by the collector: children do not dirty their pages.
    gc.freeze()


class Zygote:
    """The fork loop; a plain selector, no asyncio and no threads, so fork() is safe."""

    def __init__(self, ctl: socket.socket, home: str) -> None:
        self._ctl = ctl
        self._home = home
        self._children: set[int] = set()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)

    def run(self) -> int:
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sel = selectors.DefaultSelector()
        sel.register(self._ctl, selectors.EVENT_READ, "ctl")
        sel.register(self._wake_r, selectors.EVENT_READ, "chld")
        _send(self._ctl, {"op": "ready", "pid": os.getpid()})
        while True:
            for key, _ in sel.select():
                if key.data == "chld":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                    self._reap()
                elif not self._on_message():
                    return 0

    def _on_message(self) -> bool:
        try:
            data, fds, _, _ = socket.recv_fds(self._ctl, _MAX_MESSAGE, 4)
        except (ConnectionError, OSError):
            return False
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        try:
            message = json.loads(data)
            if message.get("op") == "spawn":
                self._spawn(message, fds)
            elif message.get("op") == "signal":
                self._signal(int(message["pid"]), int(message["sig"]))
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        return True

    def _spawn(self, message: dict[str, Any], fds: list[int]) -> None:
        request_id = message.get("id")
        try:
            if len(fds) not in (1, 2):
                raise ValueError("spawn needs one pty fd (and at most a token pipe)")
            info = SessionInfo.from_json(str(message["spec"]))
            if threading.active_count() != 1:
                raise RuntimeError("zygote has helper threads; refusing to fork")
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
        except Exception as exc:  # reported to the server, which logs it
            _send(self._ctl, {"op": "failed", "id": request_id, "error": str(exc)})
            return
        if pid == 0:
            self._ctl.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            run_forked(info, fds[0], self._home, fds[1] if len(fds) == 2 else None)
        self._children.add(pid)
        _send(self._ctl, {"op": "spawned", "id": request_id, "pid": pid})

    def _signal(self, pid: int, sig: int) -> None:
        # Only our own, not yet reaped children: never a recycled pid.
        if pid in self._children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _reap(self) -> None:
        while self._children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._children.discard(pid)
            _send(self._ctl, {"op": "exit", "pid": pid, "code": exit_code_of(status)})


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m xenon_tui.ssh._zygote_proc --parent PID [--preload MOD]…``."""
    parser = argparse.ArgumentParser(prog="xenon-ssh-zygote")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--home", default="/")
    parser.add_argument("--preload", action="append", default=[])
    args = parser.parse_args(argv)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != args.parent:
        return 1
    ctl = socket.socket(fileno=CONTROL_FD)
    ctl.set_inheritable(False)
    preload(args.preload)
    return Zygote(ctl, args.home).run()


if __name__ == "__main__":
    sys.exit(main())
