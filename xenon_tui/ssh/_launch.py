"""Starting console processes: the launcher interface and the plain spawn mode."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
from typing import Protocol

from xenon_tui.ssh._child import TOKEN_FD, child_env
from xenon_tui.ssh._errors import LaunchError
from xenon_tui.ssh._spec import SessionInfo


def exit_code_of(wait_status: int) -> int:
    """Maps a ``waitpid`` status to a shell-style exit code (128 + signal when killed)."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


class ConsoleProcess(Protocol):
    """One running console process."""

    @property
    def pid(self) -> int:
        """The process id (for SIGWINCH forwarding and logs)."""

    async def wait(self) -> int:
        """Waits for the process to end; returns a shell-style exit code."""

    def signal(self, sig: int) -> None:
        """Sends ``sig`` unless the process has already been reaped."""


class Launcher(Protocol):
    """Starts console processes on a pty slave."""

    name: str

    async def start(self) -> None:
        """Prepares the launcher (a no-op for spawn; starts the zygote)."""

    async def launch(
        self, info: SessionInfo, slave_fd: int, token_fd: int | None = None
    ) -> ConsoleProcess:
        """Starts the console for ``info`` with ``slave_fd`` as its terminal.

        ``token_fd`` (an XE user's session) is a pipe holding the user's XE token: the
        console gets it as :data:`TOKEN_FD` (spawn) or with the pty (zygote). The caller
        keeps ownership of both descriptors and closes them afterwards.
        """

    async def close(self) -> None:
        """Stops the launcher; running consoles receive SIGHUP through their pty."""


class SpawnedProcess:
    """A child of this process, reaped through a pidfd instead of a waiter thread."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._status: int | None = None
        self._done = asyncio.get_running_loop().create_future()
        self._pidfd = os.pidfd_open(pid)
        asyncio.get_running_loop().add_reader(self._pidfd, self._reap)

    @property
    def pid(self) -> int:
        return self._pid

    def _reap(self) -> None:
        pid, status = os.waitpid(self._pid, os.WNOHANG)
        if pid == 0:
            return
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._status = exit_code_of(status)
        if not self._done.done():
            self._done.set_result(self._status)

    async def wait(self) -> int:
        return int(await asyncio.shield(self._done))

    def signal(self, sig: int) -> None:
        if self._status is None:
            # pidfd_send_signal cannot hit a recycled pid; os.kill could.
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, sig)


class SpawnLauncher:
    """Runs each console in a fresh interpreter (slow start, no shared memory, no zygote)."""

    name = "spawn"

    def __init__(self, home: str) -> None:
        self._home = home

    async def start(self) -> None:
        return None

    async def launch(
        self, info: SessionInfo, slave_fd: int, token_fd: int | None = None
    ) -> ConsoleProcess:
        info = dataclasses.replace(info, parent_pid=os.getpid())
        # The spec holds nothing secret (to_json leaves the XE token out): argv is public.
        argv = [sys.executable, "-m", "xenon_tui.ssh._child", info.to_json()]
        actions: list[tuple[int, ...]] = [(os.POSIX_SPAWN_DUP2, slave_fd, fd) for fd in (0, 1, 2)]
        if token_fd is not None:
            actions.append((os.POSIX_SPAWN_DUP2, token_fd, TOKEN_FD))
        try:
            # posix_spawn returns as soon as the child exists; it never waits for it.
            pid = os.posix_spawn(  # noqa: ASYNC221
                sys.executable,
                argv,
                child_env(info, self._home),
                file_actions=actions,
                setsid=True,
            )
        except OSError as exc:
            raise LaunchError(f"cannot start a console process: {exc}") from exc
        return SpawnedProcess(pid)

    async def close(self) -> None:
        return None
