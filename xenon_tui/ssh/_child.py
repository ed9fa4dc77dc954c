"""The start of every console process: own the pty, shed the parent's state, run the app.

Used in two ways: right after ``fork()`` in the zygote (:func:`run_forked`), and as a fresh
interpreter in spawn mode (``python -m xenon_tui.ssh._child SPEC_JSON``).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import faulthandler
import fcntl
import importlib
import io
import os
import resource
import signal
import sys
import termios
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from xenon_tui.ssh._spec import SessionInfo

_PR_SET_PDEATHSIG = 1
TOKEN_FD = 3
"""Where a spawned console of an XE user finds the pipe holding its XE session token."""
APOLOGY = (
    "\r\n\x1b[0mxenon: the console stopped unexpectedly. "
    "The details are in the server's session log.\r\n"
)
# The only variables a console gets: never COLUMNS/LINES (they freeze the size) nor secrets.
_PATH = "/usr/local/bin:/usr/bin:/bin"


def child_env(info: SessionInfo, home: str) -> dict[str, str]:
    """Returns the complete environment of a console process."""
    env = {"TERM": info.term, "LANG": "C.UTF-8", "PATH": _PATH, "HOME": info.home or home}
    if info.home:
        env["TMPDIR"] = info.home  # the sandbox leaves the console no other writable place
    if info.colorterm:
        env["COLORTERM"] = info.colorterm
    return env


def take_terminal(parent_pid: int) -> None:
    """Makes fd 0 (the pty slave) the controlling terminal and ties our life to the parent.

    Without a controlling tty the child never gets SIGHUP when the master closes, and
    Textual's input thread then spins on an empty read forever.
    """
    with contextlib.suppress(PermissionError):
        os.setsid()  # already a session leader when spawned with setsid=True
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGHUP), 0, 0, 0)
    if parent_pid and os.getppid() != parent_pid:
        # The parent died before prctl took effect: nobody will ever reap or signal us.
        os._exit(129)


def limit_memory(megabytes: int) -> None:
    """Caps the address space; allocations beyond it fail with MemoryError in this
    process only."""
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def reset_signals() -> None:
    """Restores the default dispositions a fresh interpreter would have."""
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def rebind_stdio() -> None:
    """Points ``sys.std*`` (and the ``__std*__`` originals Textual uses) at the pty."""
    streams = []
    for fd, mode in ((0, "rb"), (1, "wb"), (2, "wb")):
        raw = io.FileIO(fd, mode.rstrip("b"), closefd=False)
        streams.append(
            io.TextIOWrapper(
                io.BufferedReader(raw) if mode == "rb" else io.BufferedWriter(raw),
                encoding="utf-8",
                errors="replace",
                line_buffering=True,
            )
        )
    for name, stream in zip(("stdin", "stdout", "stderr"), streams, strict=True):
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def enter_home(info: SessionInfo) -> None:
    """Makes the user's files directory the working directory (relative paths in the
    console's file dialogs land there)."""
    if info.home:
        with contextlib.suppress(OSError):
            os.chdir(info.home)


def apply_sandbox(info: SessionInfo) -> None:
    """Confines this console process with Landlock (see :mod:`xenon_tui.ssh._sandbox`).

    A console runs unconfined only in ``auto`` mode on a kernel without Landlock (the
    session log says so). On a kernel with Landlock any failure to set the sandbox up
    ends the console, as does a missing Landlock in ``require`` mode.
    """
    if info.sandbox == "off":
        return
    from xenon_tui.ssh import _sandbox as sandbox
    from xenon_tui.ssh._consolecfg import sandbox_targets

    abi = sandbox.abi_version()
    try:
        if abi < 1:
            raise sandbox.SandboxError("this kernel has no Landlock")
        open_log(info.log_path).close()  # creates it (0600), so a write rule can name it
        files, ports = sandbox_targets(info.console, info.xe)
        app_module = info.app.partition(":")[0]
        # A preloaded app's code is among the shared rules already.
        extra = [] if app_module in sys.modules else sandbox.module_paths([app_module])
        rules = sandbox.console_rules(
            home=info.home or None,
            log_path=info.log_path,
            tls_files=files,
            connect_ports=ports,
            extra_code=extra,
        )
        sandbox.restrict(rules, abi)
    except Exception as exc:  # whatever went wrong, the console must not run half-confined
        unconfined = abi < 1 and info.sandbox == "auto"
        with contextlib.suppress(OSError), open_log(info.log_path) as log:
            verdict = "runs unconfined" if unconfined else "not started"
            log.write(f"session {info.session_id} user={info.user}: no sandbox ({exc}): "
                      f"console {verdict}\n")  # fmt: skip
        if not unconfined:
            with contextlib.suppress(OSError):
                os.write(2, APOLOGY.encode())
            finish(1)


def receive_token(info: SessionInfo, fd: int | None) -> SessionInfo:
    """Reads an XE user's session token from ``fd`` (and closes it); ends the console
    when a session of an XE user has none."""
    if info.xe is None:
        if fd is not None:
            os.close(fd)
        return info
    from xenon_tui.ssh._errors import ConfigError
    from xenon_tui.ssh._xeauth import read_token

    try:
        if fd is None:
            raise ConfigError("the session's XE token did not arrive")
        token = read_token(fd)
    except (ConfigError, OSError) as exc:
        with contextlib.suppress(OSError), open_log(info.log_path) as log:
            log.write(f"session {info.session_id} user={info.user}: {exc}: console not started\n")
        with contextlib.suppress(OSError):
            os.write(2, APOLOGY.encode())
        finish(1)
    return dataclasses.replace(info, xe_token=token)


def resolve_app(spec: str) -> Callable[[SessionInfo], Any]:
    """Imports ``module:callable``."""
    module_name, _, attr = spec.partition(":")
    func = getattr(importlib.import_module(module_name), attr)
    if not callable(func):
        raise TypeError(f"{spec} is not callable")
    return func  # type: ignore[no-any-return]


def run_app(info: SessionInfo) -> int:
    """Runs the session's app; a crash goes to the log, the user sees one short line."""
    log = open_log(info.log_path)
    faulthandler.enable(log)
    try:
        result = resolve_app(info.app)(info)
    except BaseException:  # every failure must end in the log, not on the screen
        log.write(f"session {info.session_id} user={info.user}: console crashed\n")
        log.write(traceback.format_exc())
        log.flush()
        with contextlib.suppress(OSError):
            os.write(2, APOLOGY.encode())
        return 1
    return int(result or 0)


def open_log(path: str) -> io.TextIOWrapper:
    """Opens the shared session log for appending (0600 when created)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return io.TextIOWrapper(io.FileIO(fd, "w"), encoding="utf-8", line_buffering=True)


def finish(code: int) -> NoReturn:
    """Flushes what the app wrote and leaves without the parent's atexit handlers."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code & 0xFF)


def run_forked(
    info: SessionInfo, slave_fd: int, home: str, token_fd: int | None = None
) -> NoReturn:
    """Body of a console process forked by the zygote; never returns."""
    code = 1
    try:
        for target in (0, 1, 2):
            os.dup2(slave_fd, target)
        if slave_fd > 2:
            os.close(slave_fd)
        info = receive_token(info, token_fd)  # the zygote's fds are above 2: not clobbered
        reset_signals()
        take_terminal(info.parent_pid)
        limit_memory(info.memory_limit_mb)
        os.environ.clear()
        os.environ.update(child_env(info, home))
        rebind_stdio()
        enter_home(info)
        apply_sandbox(info)
        code = run_app(info)
    finally:
        finish(code)


def main(argv: list[str]) -> NoReturn:
    """Entry point of spawn mode: stdio already is the pty; argv[1] is the session JSON."""
    info = SessionInfo.from_json(argv[1])
    info = receive_token(info, TOKEN_FD if info.xe is not None else None)
    take_terminal(info.parent_pid)
    limit_memory(info.memory_limit_mb)
    rebind_stdio()
    enter_home(info)
    apply_sandbox(info)
    finish(run_app(info))


if __name__ == "__main__":
    main(sys.argv)
