"""One SSH session: refuse everything but a pty shell, run one console process on a pty."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import asyncssh

from xenon_tui.ssh import _stages as stages
from xenon_tui.ssh._errors import LaunchError
from xenon_tui.ssh._pty import cap_term_size, open_pty
from xenon_tui.ssh._spec import Role, SessionInfo, safe_colorterm, safe_term
from xenon_tui.ssh._xeauth import XeGrant, token_pipe

if TYPE_CHECKING:
    from xenon_tui.ssh._server import ConsoleServer, StartSlot

log = logging.getLogger("xenon.ssh")
_SFTP_VERSION = 3
_READ_CHUNK = 64 * 1024
_DRAIN_AFTER_EXIT_S = 2.0
_HANGUP_GRACE_S = 3.0
_RESIZE_LOG_EVERY_S = 1.0  # a client may send window changes in a loop: one line a second
_FAREWELL = {
    "idle timeout": b"\r\nxenon: session closed after being idle\r\n",
    "server stop": b"\r\nxenon: the console server is shutting down\r\n",
}
# Leaves the alternate screen and shows the cursor when a console was killed mid-frame.
_RESET = b"\x1b[0m\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1003l\x1b[?1006l\x1b[?2004l"


class SessionIdentity:
    """Who is on the other end of one SSH connection (filled in during authentication)."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.user = ""
        self.role: Role | None = None
        self.key_fingerprint = "-"
        self.authenticated = False
        self.xe: XeGrant | None = None  # what XE granted an XE user's login
        # The user's hosts, read from XE while the client opens its channel and pty
        # (XeAuthority.with_host_ports: never fails, bounded by XE's timeout).
        self.xe_hosts: asyncio.Task[XeGrant] | None = None

    async def xe_grant(self) -> XeGrant | None:
        """The XE grant with its hosts' ports, once they are read."""
        if self.xe_hosts is not None:
            self.xe = await self.xe_hosts
            self.xe_hosts = None
        return self.xe


class ConsoleSession(asyncssh.SSHServerProcess):  # type: ignore[type-arg]
    """The only kind of session the server gives: an interactive console on a pty."""

    def __init__(self, server: ConsoleServer, who: SessionIdentity) -> None:
        super().__init__(self._run, None, _SFTP_VERSION, False)
        self._server = server
        self._who = who
        self._last_input = time.monotonic()
        self.session_id = server.next_session_id()
        self._resize_logged_at = -_RESIZE_LOG_EVERY_S
        self._resizes_unlogged = 0

    # -- the terminal size: capped before anything (asyncssh or the console) sees it --------
    @property
    def term_size(self) -> tuple[int, int, int, int]:
        """The client's terminal size, capped (asyncssh sizes the redirected pty from it)."""
        cols, rows = self._server.config.max_term_size
        return cap_term_size(super().term_size, cols, rows)

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Any
    ) -> bool:
        size = self._capped(term_size)
        if size[:2] != tuple(term_size[:2]):
            log.warning(
                "pty size %dx%d capped to %dx%d user=%s addr=%s",
                term_size[0],
                term_size[1],
                size[0],
                size[1],
                self._who.user,
                self._who.peer,
            )
        return True

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        asked = (width, height, pixwidth, pixheight)
        size = self._capped(asked)
        self._log_resize(asked, size)
        super().terminal_size_changed(*size)

    def _capped(self, size: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        cols, rows = self._server.config.max_term_size
        return cap_term_size(size, cols, rows)

    def _log_resize(self, asked: tuple[int, ...], size: tuple[int, ...]) -> None:
        now = time.monotonic()
        if now - self._resize_logged_at < _RESIZE_LOG_EVERY_S:
            self._resizes_unlogged += 1
            return
        capped = f" (asked {asked[0]}x{asked[1]})" if asked[:2] != size[:2] else ""
        skipped = f" (+{self._resizes_unlogged} not logged)" if self._resizes_unlogged else ""
        log.info(
            "window change session=%s user=%s size=%dx%d%s%s",
            self.session_id,
            self._who.user,
            size[0],
            size[1],
            capped,
            skipped,
        )
        self._resize_logged_at = now
        self._resizes_unlogged = 0

    # -- requests: everything but "shell with a pty" is refused -----------------------------
    def shell_requested(self) -> bool:
        if self._chan.get_terminal_type() is None:
            self._refuse("session without a pty")
            return False
        return True

    def exec_requested(self, command: str) -> bool:
        self._refuse("exec request")
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        self._refuse(f"subsystem {subsystem[:40]!r}")
        return False

    def _refuse(self, what: str) -> None:
        log.info(
            "refused %s user=%s addr=%s key=%s",
            what,
            self._who.user,
            self._who.peer,
            self._who.key_fingerprint,
        )

    def data_received(self, data: Any, datatype: Any) -> None:
        self._last_input = time.monotonic()
        super().data_received(data, datatype)

    # -- the session ------------------------------------------------------------------------
    async def _run(self, _process: object) -> None:
        who = self._who
        if not self._server.acquire_slot():
            log.info(
                "refused session user=%s addr=%s: %d sessions already running",
                who.user,
                who.peer,
                self._server.config.max_sessions,
            )
            self.stderr.write(b"xenon: the console server is full, try again later\r\n")
            self.exit(1)
            return
        started = time.monotonic()
        reason, code = "error", 1
        try:
            reason, code = await self._serve()
        except LaunchError as exc:
            log.error("session %s user=%s: %s", self.session_id, who.user, exc)
            with contextlib.suppress(OSError, asyncssh.Error):
                self.stderr.write(b"xenon: the console could not be started\r\n")
        except Exception:
            log.exception("session %s user=%s failed", self.session_id, who.user)
            with contextlib.suppress(OSError, asyncssh.Error):
                self.stderr.write(b"xenon: the console could not be started\r\n")
        finally:
            self._server.release_slot()
            log.info(
                "logout user=%s addr=%s key=%s session=%s reason=%s status=%d duration=%.1fs",
                who.user,
                who.peer,
                who.key_fingerprint,
                self.session_id,
                reason,
                code,
                time.monotonic() - started,
            )
            self.exit(code)
            # Lets asyncssh finish its own clean-up of the redirected pty (or give up).
            with contextlib.suppress(TimeoutError, OSError, asyncssh.Error):
                async with asyncio.timeout(_HANGUP_GRACE_S):
                    await self.wait_closed()

    async def _serve(self) -> tuple[str, int]:
        assert self._who.role is not None
        stages.stamp(self._who.peer, "shell")
        await self._who.xe_grant()  # its hosts' ports go into the console's sandbox rules
        cols, rows, _, _ = self.get_terminal_size()
        info = SessionInfo(
            session_id=self.session_id,
            user=self._who.user,
            role=self._who.role,
            peer=self._who.peer,
            term=safe_term(self.get_terminal_type()),
            colorterm=safe_colorterm(self.env.get("COLORTERM")),
            app=self._server.config.app,
            log_path=str(self._server.config.session_log),
            console=self._server.console_settings(self._who.role),
            memory_limit_mb=self._server.config.session_memory_mb,
            home=self._server.user_home(self._who.user),
            sandbox=self._server.config.sandbox,
            xe=self._xe_spec(),
        )
        slot = await self._start_slot(cols * rows)
        if slot is None:
            return "disconnect" if self._chan.is_closing() else "server stop", 1
        try:
            return await self._start(info, slot)
        finally:
            slot.release()

    async def _start_slot(self, cells: int) -> StartSlot | None:
        """Waits for this console's turn to start (see :class:`StartSlots`); ``None`` when
        the client left or the server stops first."""
        taking = asyncio.ensure_future(self._server.starts.take(cells))
        closed = asyncio.ensure_future(self._chan.wait_closed())
        stopping = asyncio.ensure_future(self._server.stopping.wait())
        try:
            await asyncio.wait({taking, closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            stopping.cancel()
        if taking.done():
            return taking.result()
        taking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            slot = await taking  # it may have got its slot while being cancelled
            slot.release()
        return None

    async def _start(self, info: SessionInfo, slot: StartSlot) -> tuple[str, int]:
        cols, rows, _, _ = self.get_terminal_size()  # as it is now, after any wait
        master, slave = open_pty(cols, rows)
        try:
            # The user's own token only, over a pipe: never argv (ps shows it) or env.
            token_fd = token_pipe(self._who.xe.token) if self._who.xe is not None else None
            try:
                stages.stamp(self._who.peer, "launch")
                child, mode = await self._server.launch(info, slave, token_fd)
                stages.stamp(self._who.peer, "forked")
            finally:
                os.close(slave)
                if token_fd is not None:
                    os.close(token_fd)
            log.info(
                "session %s started user=%s pid=%d term=%s size=%dx%d mode=%s%s",
                self.session_id,
                info.user,
                child.pid,
                info.term,
                cols,
                rows,
                mode,
                f" start-wait={slot.waited_s:.1f}s" if slot.waited_s >= 0.05 else "",
            )
            self.set_redirect_pid(child.pid)
            # asyncssh writes keys to the pty and applies window changes (TIOCSWINSZ).
            await self.redirect(stdin=os.dup(master))
            return await self._supervise(child, master, slot)
        finally:
            os.close(master)

    def _xe_spec(self) -> dict[str, Any] | None:
        grant, xe = self._who.xe, self._server.config.xe
        return None if grant is None or xe is None else grant.public(xe)

    async def _supervise(self, child: Any, master: int, slot: StartSlot) -> tuple[str, int]:
        pump = asyncio.create_task(self._pump_output(master, slot))
        exited = asyncio.create_task(child.wait())
        closed = asyncio.create_task(self._chan.wait_closed())
        idle = asyncio.create_task(self._idle_watch())
        stopping = asyncio.create_task(self._server.stopping.wait())
        try:
            await asyncio.wait(
                {exited, closed, idle, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            if exited.done():
                code = _code_of(exited)
                # The last frame (and the terminal reset) must reach the user before exit.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_DRAIN_AFTER_EXIT_S):
                        await pump
                return "exit", code
            reason = (
                "disconnect" if closed.done() else "idle timeout" if idle.done() else "server stop"
            )
            pump.cancel()
            child.signal(signal.SIGHUP)
            try:
                async with asyncio.timeout(_HANGUP_GRACE_S):
                    await asyncio.shield(exited)
            except TimeoutError:
                child.signal(signal.SIGKILL)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_HANGUP_GRACE_S):
                        await asyncio.shield(exited)
            farewell = _FAREWELL.get(reason)
            if farewell:
                with contextlib.suppress(OSError, asyncssh.Error):
                    self.stdout.write(_RESET + farewell)
            return reason, _code_of(exited) if exited.done() else 1
        finally:
            for task in (pump, closed, idle, exited, stopping):
                task.cancel()

    async def _pump_output(self, master: int, slot: StartSlot) -> None:
        """Copies the pty to the channel; waiting on drain makes a slow client slow the
        console down instead of growing a buffer here. The start ``slot`` learns how much
        the console has drawn."""
        loop = asyncio.get_running_loop()
        first = True
        while True:
            try:
                data = os.read(master, _READ_CHUNK)
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_reader(master, _wake, ready)
                try:
                    await ready
                finally:
                    loop.remove_reader(master)
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:  # every slave fd is closed: the console is gone
                    return
                raise
            if not data:
                return
            if first:
                stages.stamp(self._who.peer, "first_output")
                first = False
            slot.output(len(data))
            try:
                self.stdout.write(data)
                await self.stdout.drain()
            except (OSError, asyncssh.Error):
                return

    async def _idle_watch(self) -> None:
        timeout = self._server.config.idle_timeout_s
        if timeout is None:
            await asyncio.Event().wait()
            return
        while True:
            remaining = self._last_input + timeout - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(remaining)


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _code_of(task: asyncio.Task[int]) -> int:
    if task.cancelled() or task.exception() is not None:
        return 1
    return int(task.result())
