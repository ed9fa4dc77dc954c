"""Server side of the zygote: start it, ask it to fork consoles, learn their exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import os
import signal
import socket
import sys
import time
from typing import Any

from xenon_tui.ssh._errors import LaunchError, ZygoteGone
from xenon_tui.ssh._launch import ConsoleProcess, SpawnedProcess
from xenon_tui.ssh._spec import SessionInfo

log = logging.getLogger("xenon.ssh")
_MAX_MESSAGE = 64 * 1024
_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 5.0
_RETRY_AFTER_S = 30.0


class _ZygoteChild:
    """A console forked by the zygote; its exit code arrives over the control socket."""

    def __init__(self, zygote: _Zygote, pid: int, done: asyncio.Future[int]) -> None:
        self._zygote = zygote
        self._pid = pid
        self._done = done

    @property
    def pid(self) -> int:
        return self._pid

    async def wait(self) -> int:
        return int(await asyncio.shield(self._done))

    def signal(self, sig: int) -> None:
        if not self._done.done():
            self._zygote.send_signal(self._pid, sig)


class _Zygote:
    """One zygote process and its control socket."""

    def __init__(self, home: str, preload: list[str], log_path: str) -> None:
        self._home = home
        self._preload = preload
        self._log_path = log_path
        self._sock: socket.socket | None = None
        self._proc: SpawnedProcess | None = None
        self.pid = 0
        self._ready: asyncio.Future[int] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[int, asyncio.Future[int]]]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self.retired = False
        self._closing: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        """True while the control socket works."""
        return self._sock is not None

    @property
    def consoles(self) -> int:
        """Consoles forked by this zygote that have not ended yet."""
        return len(self._exits)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [sys.executable, "-m", "xenon_tui.ssh._zygote_proc",
                "--parent", str(os.getpid()), "--home", self._home]  # fmt: skip
        for name in self._preload:
            argv += ["--preload", name]
        env = {
            "LANG": "C.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self._home,
            "PYTHONUNBUFFERED": "1",
        }
        log_flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, self._log_path, log_flags, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
            (os.POSIX_SPAWN_DUP2, theirs.fileno(), 3),
        ]
        try:
            # posix_spawn returns as soon as the child exists; it never waits for it.
            pid = os.posix_spawn(  # noqa: ASYNC221
                sys.executable, argv, env, file_actions=actions, setsid=True
            )
        except OSError as exc:
            raise LaunchError(f"cannot start the zygote: {exc}") from exc
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._proc = SpawnedProcess(pid)
        self._ready = loop.create_future()
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            async with asyncio.timeout(_READY_TIMEOUT_S):
                self.pid = await self._ready
        except (TimeoutError, ZygoteGone) as exc:
            self._gone("did not start")
            await self.close()
            raise LaunchError(f"zygote did not start; see {self._log_path}") from exc
        log.info("zygote ready pid=%d preload=%s", self.pid, ",".join(self._preload))

    async def launch(
        self, info: SessionInfo, slave_fd: int, token_fd: int | None = None
    ) -> ConsoleProcess:
        if self._sock is None:
            raise ZygoteGone("zygote is not running")
        loop = asyncio.get_running_loop()
        request_id = next(self._ids)
        spawned: asyncio.Future[tuple[int, asyncio.Future[int]]] = loop.create_future()
        self._pending[request_id] = spawned
        info = dataclasses.replace(info, parent_pid=self.pid)
        message = json.dumps({"op": "spawn", "id": request_id, "spec": info.to_json()})
        try:
            fds = [slave_fd] if token_fd is None else [slave_fd, token_fd]
            socket.send_fds(self._sock, [message.encode()], fds)
            pid, exited = await spawned
        except OSError as exc:
            self._pending.pop(request_id, None)
            raise LaunchError(f"cannot reach the zygote: {exc}") from exc
        return _ZygoteChild(self, pid, exited)

    def send_signal(self, pid: int, sig: int) -> None:
        """Asks the zygote to signal one of its (not yet reaped) children."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.send(json.dumps({"op": "signal", "pid": pid, "sig": sig}).encode())

    def _on_readable(self) -> None:
        while self._sock is not None:
            try:
                data = self._sock.recv(_MAX_MESSAGE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._gone("closed its control socket")
                return
            self._dispatch(json.loads(data))

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(int(message["pid"]))
        elif op in ("spawned", "failed"):
            fut = self._pending.pop(int(message["id"]), None)
            if fut is None or fut.done():
                return
            if op == "spawned":
                # Registered now: the exit may arrive in this same batch of messages.
                pid = int(message["pid"])
                exited = asyncio.get_running_loop().create_future()
                self._exits[pid] = exited
                fut.set_result((pid, exited))
            else:
                fut.set_exception(LaunchError(f"zygote could not fork: {message.get('error')}"))
        elif op == "exit":
            done = self._exits.pop(int(message["pid"]), None)
            if done is not None and not done.done():
                done.set_result(int(message["code"]))
            if self.retired and not self._exits and self._closing is None:
                # Kept in an attribute: the loop only holds weak references to tasks.
                self._closing = asyncio.get_running_loop().create_task(self.close())

    def _gone(self, why: str) -> None:
        if self._sock is None:
            return
        log.log(logging.INFO if self.retired else logging.WARNING, "zygote pid=%d %s",
                self.pid, why)  # fmt: skip
        asyncio.get_running_loop().remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None
        error = ZygoteGone(f"zygote {why}")
        futures: list[asyncio.Future[Any]] = [*self._pending.values(), *self._exits.values()]
        if self._ready is not None:
            futures.append(self._ready)
        for fut in futures:
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # consumed here: a session may never await it
        self._pending.clear()
        self._exits.clear()

    async def close(self) -> None:
        """Closes the control socket (the zygote exits) and reaps the zygote."""
        proc, self._proc = self._proc, None
        self._gone("stopped")
        if proc is None:
            return
        try:
            async with asyncio.timeout(_STOP_TIMEOUT_S):
                await proc.wait()
        except TimeoutError:
            proc.signal(signal.SIGKILL)
            await proc.wait()


class ZygoteLauncher:
    """Forks consoles from a zygote that has already imported Textual and the app.

    :meth:`reload` starts a fresh zygote (new code) for new sessions; the previous one
    stays until its last console ends, since its consoles die with it.

    Args:
        home: ``HOME`` of the consoles.
        preload: Modules the zygote imports before it forks anything.
        log_path: File that receives the zygote's own stdout/stderr.
    """

    name = "zygote"

    def __init__(self, home: str, preload: list[str], log_path: str) -> None:
        self._args = (home, preload, log_path)
        self._current: _Zygote | None = None
        self._retired: set[_Zygote] = set()
        self._lock = asyncio.Lock()
        self._failed_at = -_RETRY_AFTER_S

    @property
    def zygote_pid(self) -> int:
        """Pid of the zygote that forks new consoles (0 before :meth:`start`)."""
        return self._current.pid if self._current is not None else 0

    async def start(self) -> None:
        async with self._lock:
            if self._current is not None and self._current.alive:
                return
            wait = self._failed_at + _RETRY_AFTER_S - time.monotonic()
            if wait > 0:
                raise LaunchError(f"zygote unavailable (next try in {wait:.0f} s)")
            zygote = _Zygote(*self._args)
            try:
                await zygote.start()
            except LaunchError:
                self._failed_at = time.monotonic()
                raise
            self._current = zygote

    async def reload(self) -> None:
        """Replaces the zygote: new sessions get freshly imported code."""
        async with self._lock:
            fresh = _Zygote(*self._args)
            await fresh.start()
            old, self._current = self._current, fresh
        if old is not None:
            old.retired = True
            self._retired = {z for z in self._retired if z.alive}
            if old.consoles:
                self._retired.add(old)
            else:
                await old.close()

    async def launch(
        self, info: SessionInfo, slave_fd: int, token_fd: int | None = None
    ) -> ConsoleProcess:
        await self.start()
        assert self._current is not None
        return await self._current.launch(info, slave_fd, token_fd)

    async def close(self) -> None:
        zygotes = [z for z in (self._current, *self._retired) if z is not None]
        self._current = None
        self._retired.clear()
        for zygote in zygotes:
            await zygote.close()
