"""The asyncssh server: authentication, logging of every login, and the session registry."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from typing import Any

import asyncssh

from xenon_tui.ssh import _stages as stages
from xenon_tui.ssh._algorithms import restrict_client_key
from xenon_tui.ssh._config import ServeConfig, console_for_role
from xenon_tui.ssh._consolecfg import read_only_tls, warn_without_read_only_tls
from xenon_tui.ssh._errors import (
    ConfigError,
    LaunchError,
    ListenError,
    SandboxUnavailableError,
    SshServeError,
)
from xenon_tui.ssh._gate import Gate, Outcome
from xenon_tui.ssh._hostkey import load_or_create_host_key
from xenon_tui.ssh._launch import ConsoleProcess, Launcher, SpawnLauncher
from xenon_tui.ssh._sandbox import abi_version
from xenon_tui.ssh._sandbox import exposed as exposed_paths
from xenon_tui.ssh._sandbox import features as sandbox_features
from xenon_tui.ssh._session import ConsoleSession, SessionIdentity
from xenon_tui.ssh._spec import Role, SessionInfo
from xenon_tui.ssh._users import PasswordAuthenticator, UserDirectory, check_username
from xenon_tui.ssh._xeauth import XeAuthority, XeGrant, XeRefused, ssh_role
from xenon_tui.ssh._zygote import ZygoteLauncher

log = logging.getLogger("xenon.ssh")
_SESSIONS_STOP_S = 10.0
FDS_PER_SESSION = 3  # the connection's socket, the pty master and its dup for asyncssh
FDS_SPARE = 64  # the listener, the zygote's socket, logs, the host key, XE's connections


def raise_open_files_limit(max_sessions: int) -> int:
    """Raises the soft limit on open files to what ``max_sessions`` need (never past the
    hard limit) and returns the soft limit in force; warns when it stays too low.

    The server holds three descriptors per session: 200 sessions need more than the
    usual soft limit of 1024 leaves once pre-authentication connections are counted.
    """
    import resource

    needed = FDS_PER_SESSION * max_sessions + FDS_SPARE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if target > soft:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                log.info(
                    "open files limit raised from %d to %d for %d sessions",
                    soft,
                    target,
                    max_sessions,
                )
                soft = target
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning(
            "open files limited to %d: %d sessions need about %d (raise the hard limit, "
            "e.g. LimitNOFILE= in the service unit, or lower --max-sessions)",
            soft,
            max_sessions,
            needed,
        )
    return int(soft)


START_MAX_S = 10.0  # a console that never draws a screen gives its start slot back after this
START_QUIET_S = 0.1  # ... or this long after its first screen's worth of output


class StartSlot:
    """One console's turn to start; given back by :meth:`release` (at most once).

    Held from before the console is launched until it has written a screen's worth of
    output (``cells`` bytes: its first frame) and then been quiet for
    :data:`START_QUIET_S`, or for :data:`START_MAX_S` at most.
    """

    def __init__(self, slots: asyncio.Semaphore, cells: int, waited_s: float) -> None:
        self._slots = slots
        self._left = cells
        self.waited_s = waited_s
        self._held = True
        loop = asyncio.get_running_loop()
        self._cap = loop.call_later(START_MAX_S, self.release)
        self._quiet: asyncio.TimerHandle | None = None

    def output(self, size: int) -> None:
        """Notes ``size`` bytes written by the console."""
        if not self._held:
            return
        self._left -= size
        if self._left > 0:
            return
        if self._quiet is not None:
            self._quiet.cancel()
        self._quiet = asyncio.get_running_loop().call_later(START_QUIET_S, self.release)

    def release(self) -> None:
        """Gives the slot to the next console waiting (no-op once given back)."""
        if not self._held:
            return
        self._held = False
        self._cap.cancel()
        if self._quiet is not None:
            self._quiet.cancel()
        self._slots.release()


class StartSlots:
    """Bounds how many consoles start at once.

    A console's start (fork, Textual's first compose and layout, its first reads from the
    hosts) costs a few hundred milliseconds of CPU. Two hundred administrators logging in
    at once would otherwise share the cores two hundred ways with the consoles already
    open, whose keys would then wait seconds; here the rest of a storm waits its turn
    (in order) and each open console competes with at most ``limit`` starting ones.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)

    async def take(self, cells: int) -> StartSlot:
        """Waits for a slot; ``cells`` is the console's screen size (columns x rows)."""
        began = time.monotonic()
        await self._slots.acquire()
        return StartSlot(self._slots, cells, time.monotonic() - began)


def printable(text: str, limit: int = 64) -> str:
    """A client-chosen string made safe for one log line (no forged lines or escapes)."""
    return text[:limit].encode("unicode_escape").decode("ascii")


class _Connection(asyncssh.SSHServer):
    """Per-connection callbacks: admission, who logs in with what, what they may open."""

    def __init__(self, server: ConsoleServer) -> None:
        self._server = server
        self._who = SessionIdentity("?")
        self._conn: asyncssh.SSHServerConnection | None = None
        self._source = ""
        self._admitted = False
        self._failures = 0
        self._grace: asyncio.TimerHandle | None = None
        self._grace_exceeded = False
        self._xe_key: asyncssh.SSHKey | None = None  # the key XE is to decide on

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        host, port = (conn.get_extra_info("peername") or ("?", 0))[:2]
        self._who = SessionIdentity(f"{host}:{port}")
        self._conn = conn
        self._source, refused = self._server.gate.admit(str(host))
        if refused is not None:
            # asyncssh sends its version string right after this returns; aborting first
            # means not one byte, let alone a key exchange, for a refused connection.
            conn.abort()
            self._server.refused()
            return
        self._admitted = True
        stages.stamp(self._who.peer, "connect")
        self._server.connections.add(conn)
        if self._server.xe is not None:
            self._ask_xe_after_proof(conn)
        self._grace = asyncio.get_running_loop().call_later(
            self._server.config.login_timeout_s, self._grace_expired
        )

    def _grace_expired(self) -> None:
        self._grace = None
        if self._who.authenticated or self._conn is None:
            return
        self._grace_exceeded = True
        log.info(
            "login grace time (%gs) exceeded user=%s addr=%s",
            self._server.config.login_timeout_s,
            self._who.user or "-",
            self._who.peer,
        )
        self._conn.abort()

    def _ask_xe_after_proof(self, conn: asyncssh.SSHServerConnection) -> None:
        """Asks XE about a key only once its signature is verified.

        asyncssh calls :meth:`validate_public_key` for a key query (no signature) and again
        for the signed request, before it checks the signature. XE must not mint a
        session for a key nobody has proved, so this connection's check is wrapped: the
        key is acceptable in form first, and XE is asked after the signature holds.
        """
        check = conn.validate_public_key

        async def proved_then_xe(username: str, key_data: bytes, msg: bytes, sig: bytes) -> bool:
            self._xe_key = None
            if not await check(username, key_data, msg, sig):
                return False
            if not msg or self._xe_key is None:
                return True  # a query, or a local account's key (the operator's own list)
            return await self._xe_login(username, self._xe_key)

        conn.validate_public_key = proved_then_xe  # type: ignore[method-assign,assignment]

    async def _xe_login(self, username: str, key: asyncssh.SSHKey) -> bool:
        assert self._server.xe is not None
        fingerprint = key.get_fingerprint()
        public = key.export_public_key("openssh").decode("ascii").strip()
        stages.stamp(self._who.peer, "xe_ask")
        try:
            grant = await self._server.xe.session_for(username, public)
        except XeRefused as exc:
            log.warning(
                "login refused user=%s addr=%s key=%s: %s",
                printable(username),
                self._who.peer,
                fingerprint,
                exc.reason,
            )
            self._failed()
            return False
        if self._conn is None or self._conn.is_closed():
            self._server.xe.revoke(grant)  # the client left while XE answered
            return False
        stages.stamp(self._who.peer, "xe_session")
        self._who.xe = grant
        # The console's sandbox may connect to the hosts XE shows this user (read with the
        # user's token while the client opens its channel and pty; the console waits for
        # them: a host added later is for the next session).
        self._who.xe_hosts = asyncio.get_running_loop().create_task(self._host_ports(grant))
        self._who.role = ssh_role(grant.role)
        self._who.key_fingerprint = fingerprint
        return True

    async def _host_ports(self, grant: XeGrant) -> XeGrant:
        assert self._server.xe is not None
        grant = await self._server.xe.with_host_ports(grant)
        stages.stamp(self._who.peer, "xe_hosts")
        return grant

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        if self._who.xe_hosts is not None:
            self._who.xe_hosts.cancel()  # the grant is logged out below all the same
        if self._who.xe is not None and self._server.xe is not None:
            self._server.xe.revoke(self._who.xe)  # the token lives no longer than the login
        if self._grace is not None:
            self._grace.cancel()
        self._server.connections.discard(self._conn)
        if not self._who.authenticated:
            outcome: Outcome = (
                "grace-exceeded" if self._grace_exceeded
                else "authfail" if self._failures else "noauth"
            )  # fmt: skip
            self._server.closed_before_login(self._source, outcome)
            log.info(
                "connection closed before login user=%s addr=%s",
                self._who.user or "-",
                self._who.peer,
            )

    def _failed(self) -> None:
        """Counts a failed attempt; closes the connection at MaxAuthTries (like OpenSSH)."""
        self._failures += 1
        limit = self._server.config.limits.max_auth_tries
        if self._failures < limit or self._conn is None:
            return
        log.warning(
            "too many authentication failures (%d) user=%s addr=%s",
            self._failures,
            self._who.user or "-",
            self._who.peer,
        )
        # After asyncssh has sent this attempt's failure reply.
        asyncio.get_running_loop().call_soon(
            self._conn.disconnect,
            asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE,
            "too many authentication failures",
        )

    def begin_auth(self, username: str) -> bool:
        self._who.user = printable(username)
        return True  # always ask for credentials: never reveal which accounts exist

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        fingerprint = key.get_fingerprint()
        host = self._who.peer.rpartition(":")[0]
        keys = None
        with contextlib.suppress(ConfigError):
            keys = self._server.users.authorized_keys(check_username(username))
        reason = "key not authorized"
        if keys is not None and keys.validate(key, host, host) is not None:
            if restrict_client_key(key):
                self._who.key_fingerprint = fingerprint
                self._who.role = self._server.users.role_of(username)
                return True
            reason = "key type not allowed"
        elif self._server.xe is not None:
            # XE decides once the client has proved the key (see _ask_xe_after_proof).
            with contextlib.suppress(ConfigError):
                check_username(username)
                if restrict_client_key(key):
                    self._xe_key = key
                    return True
                reason = "key type not allowed"
        log.warning(
            "login refused user=%s addr=%s key=%s: %s",
            printable(username),
            self._who.peer,
            fingerprint,
            reason,
        )
        self._failed()
        return False

    def password_auth_supported(self) -> bool:
        return self._server.passwords is not None

    async def validate_password(self, username: str, password: str) -> bool:
        if self._server.passwords is None:
            return False
        role = await self._server.passwords.authenticate(username, password)
        if role is None:
            log.warning(
                "login refused user=%s addr=%s: bad password", printable(username), self._who.peer
            )
            self._failed()
            return False
        self._who.role = role
        self._who.key_fingerprint = "password"
        return True

    def auth_completed(self) -> None:
        self._who.authenticated = True
        stages.stamp(self._who.peer, "auth")
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self._server.gate.authenticated(self._source)
        xe = self._who.xe
        log.info(
            "login user=%s role=%s addr=%s key=%s%s",
            self._who.user,
            self._who.role,
            self._who.peer,
            self._who.key_fingerprint,
            "" if xe is None else f" xe-role={xe.role} xe-session-expires={xe.expires_at}",
        )

    def session_requested(self) -> ConsoleSession:
        return ConsoleSession(self._server, self._who)

    # The console is the only thing this server gives: no tunnels of any kind.
    def connection_requested(self, *args: Any) -> bool:
        log.info("refused port forwarding user=%s addr=%s", self._who.user, self._who.peer)
        return False

    def server_requested(self, *args: Any) -> bool:
        log.info("refused remote forwarding user=%s addr=%s", self._who.user, self._who.peer)
        return False

    def unix_connection_requested(self, *args: Any) -> bool:
        log.info("refused socket forwarding user=%s addr=%s", self._who.user, self._who.peer)
        return False

    def unix_server_requested(self, *args: Any) -> bool:
        log.info("refused socket forwarding user=%s addr=%s", self._who.user, self._who.peer)
        return False


class ConsoleServer:
    """Serves one console per SSH session.

    Args:
        config: Listening address, limits, mode and console settings.
        users: Accounts allowed to log in with a public key.
        passwords: Optional password check (``None`` disables password logins).
        launcher: Overrides the launcher chosen from ``config.mode``.
        xe: Asks XE about logins of its users (built from ``config.xe`` when ``None``).
    """

    def __init__(
        self,
        config: ServeConfig,
        users: UserDirectory,
        passwords: PasswordAuthenticator | None = None,
        launcher: Launcher | None = None,
        xe: XeAuthority | None = None,
    ) -> None:
        self.config = config
        self.users = users
        self.passwords = passwords
        self.xe = xe if xe is not None or config.xe is None else XeAuthority(config.xe)
        self.launcher: Launcher = launcher or self._make_launcher()
        self._fallback: Launcher | None = (
            SpawnLauncher(str(config.state_dir)) if self.launcher.name != "spawn" else None
        )
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._active = 0
        self.stopping = asyncio.Event()
        self.connections: set[asyncssh.SSHServerConnection | None] = set()
        self._ids = itertools.count(1)
        self.gate = Gate(config.limits)
        self.starts = StartSlots(config.max_starting)
        self._report_timer: asyncio.TimerHandle | None = None

    def _make_launcher(self) -> Launcher:
        home = str(self.config.state_dir)
        if self.config.mode == "spawn":
            return SpawnLauncher(home)
        module = self.config.app.partition(":")[0]
        return ZygoteLauncher(home, [module], str(self.config.zygote_log))

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self._acceptor is not None
        return int(self._acceptor.get_port())

    @property
    def active_sessions(self) -> int:
        """Number of consoles running now."""
        return self._active

    def next_session_id(self) -> str:
        """A short id that names one session in every log line."""
        return f"s{os.getpid():x}-{next(self._ids)}"

    def refused(self) -> None:
        """Notes a connection refused by the gate; its burst is logged when it is over."""
        if self._report_timer is None:
            self._report_timer = asyncio.get_running_loop().call_later(
                self.config.limits.report_quiet_s, self._report_refusals
            )

    def _report_refusals(self, *, flush: bool = False) -> None:
        self._report_timer = None
        for report in self.gate.reports(flush=flush):
            log.warning(
                "refused %d connection%s from %s before key exchange in %.1fs (%s)",
                report.total,
                "" if report.total == 1 else "s",
                report.source,
                report.seconds,
                " ".join(f"{reason}={count}" for reason, count in report.counts.items()),
            )
        if self.gate.pending_reports and not flush:
            self.refused()

    def closed_before_login(self, source: str, outcome: Outcome) -> None:
        """Charges a source for a connection that ended without logging in."""
        shut_out = self.gate.closed(source, outcome)
        if shut_out:
            log.warning(
                "penalty: %s shut out for %.0fs (failed or abandoned logins; last: %s)",
                source,
                shut_out,
                outcome,
            )

    def acquire_slot(self) -> bool:
        """Takes a session slot; ``False`` when the server is full."""
        if self._active >= self.config.max_sessions:
            return False
        self._active += 1
        return True

    def release_slot(self) -> None:
        """Gives a session slot back."""
        self._active -= 1

    async def launch(
        self, info: SessionInfo, slave_fd: int, token_fd: int | None = None
    ) -> tuple[ConsoleProcess, str]:
        """Starts a console; falls back to spawning when the zygote cannot fork it.

        ``token_fd`` (an XE user's session) is the read end of a pipe holding the
        user's token; the console reads it, the caller closes it.

        Returns:
            The console process and the name of the mode that started it.
        """
        try:
            return await self.launcher.launch(info, slave_fd, token_fd), self.launcher.name
        except LaunchError as exc:
            if self._fallback is None:
                raise
            log.warning("%s; spawning session %s instead", exc.message, info.session_id)
        return await self._fallback.launch(info, slave_fd, token_fd), self._fallback.name

    def console_settings(self, role: Role) -> dict[str, Any]:
        """The console settings a user of ``role`` gets (read-only sockets for read-only)."""
        if role is Role.READ_ONLY:
            warn_without_read_only_tls(self.config.console)
        return console_for_role(self.config.console, role)

    def user_home(self, user: str) -> str:
        """The user's files directory (created 0700): HOME of the user's consoles."""
        home = self.config.files_dir / check_username(user)
        for path in (self.config.files_dir, home):
            path.mkdir(exist_ok=True, mode=0o700)
            os.chmod(path, 0o700)
        return str(home)

    def _check_sandbox(self) -> None:
        if self.config.sandbox == "off":
            log.warning("console sandbox: off (--sandbox off)")
            return
        abi = abi_version()
        if abi:
            log.info("console sandbox: Landlock ABI %d (%s)", abi, sandbox_features(abi))
            settings = self.config.console
            secrets: list[str | os.PathLike[str]] = [
                self.config.state_dir,
                self.config.host_key_path,
                *(settings[k] for k in ("cert", "key") if settings.get(k)),
                *(read_only_tls(settings) or ()),
            ]
            for path in exposed_paths(secrets):
                log.warning(
                    "console sandbox: %s lies under a directory every console may read "
                    "(Python's libraries or the system's); keep state and keys elsewhere",
                    path,
                )
        elif self.config.sandbox == "require":
            raise SandboxUnavailableError(
                "--sandbox require, but this kernel has no Landlock (Linux 5.13 or later, "
                "with landlock in the lsm= boot list)"
            )
        else:
            log.warning("console sandbox: this kernel has no Landlock; consoles run unconfined")

    async def start(self) -> None:
        """Loads (or creates) the host key, starts the launcher and listens."""
        self._check_sandbox()
        self.config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        host_key = load_or_create_host_key(
            self.config.host_key_path, self.config.algorithms.host_key_type
        )
        self.config.algorithms.log_choices()
        self._log_limits()
        raise_open_files_limit(self.config.max_sessions)
        if self.xe is not None:
            await self.xe.check()
        try:
            await self.launcher.start()
        except LaunchError as exc:
            # Not fatal: sessions are spawned until the zygote can be started again.
            log.warning("%s; consoles will be spawned instead", exc.message)
        try:
            self._acceptor = await asyncssh.create_server(
                lambda: _Connection(self),
                self.config.host,
                self.config.port,
                server_host_keys=[host_key],
                line_editor=False,
                encoding=None,
                allow_pty=True,
                agent_forwarding=False,
                x11_forwarding=False,
                allow_scp=False,
                login_timeout=None,  # the login grace time is enforced per connection above
                **self.config.algorithms.server_options(),
                keepalive_interval=60,
                keepalive_count_max=3,
                # A login storm (every administrator at once) waits in the kernel's
                # queue instead of being dropped (asyncssh's default is 100).
                backlog=max(100, self.config.max_sessions),
            )
        except OSError as exc:
            await self.launcher.close()
            raise ListenError(
                f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}"
            ) from exc
        log.info(
            "listening on %s:%d mode=%s host-key=%s",
            self.config.host,
            self.port,
            self.launcher.name,
            host_key.get_fingerprint(),
        )

    def _log_limits(self) -> None:
        limits, penalties = self.config.limits, self.config.limits.penalties
        log.info(
            "pre-auth limits: per-source rate=%g/s burst=%d startups=%d per-source "
            "startups=%d max-auth-tries=%d login-grace=%gs penalties=%s",
            limits.rate_per_s,
            limits.burst,
            limits.max_startups,
            limits.per_source_max_startups,
            limits.max_auth_tries,
            self.config.login_timeout_s,
            "off"
            if penalties is None
            else f"authfail:{penalties.authfail:g},noauth:{penalties.noauth:g},"
            f"grace-exceeded:{penalties.grace_exceeded:g},min:{penalties.min_s:g},"
            f"max:{penalties.max_s:g}",
        )
        log.info(
            "session limits: max-sessions=%d max-starting=%d",
            self.config.max_sessions,
            self.config.max_starting,
        )

    async def reload(self) -> None:
        """Loads the console code afresh for new sessions (zygote mode; spawn mode always
        starts fresh interpreters). Errors are logged; the old code keeps serving."""
        reload = getattr(self.launcher, "reload", None)
        if reload is None:
            return
        try:
            await reload()
        except SshServeError as exc:
            log.error("reload failed: %s", exc.message)
            return
        log.info("console code reloaded")

    async def close(self) -> None:
        """Stops listening, ends every session (with a word to its user) and the launcher."""
        # Stop listening now, but wait for the listener only after the sessions are gone:
        # since Python 3.12 Server.wait_closed() also waits for every open connection.
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            acceptor.close()
        if self._report_timer is not None:
            self._report_timer.cancel()
        self._report_refusals(flush=True)
        self.stopping.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_SESSIONS_STOP_S):
                while self._active:  # noqa: ASYNC110 - sessions end on their own tasks
                    await asyncio.sleep(0.05)
        for conn in list(self.connections):
            if conn is not None:
                conn.close()
                await conn.wait_closed()
        if acceptor is not None:
            await acceptor.wait_closed()
        await self.launcher.close()
        if self.xe is not None:
            await self.xe.close()

    async def serve_forever(self, stop: asyncio.Event) -> None:
        """Runs until ``stop`` is set."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.close()
