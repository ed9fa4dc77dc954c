"""SSH logins as XE users: the server's service credential asks XE about each login.

With ``--xe URL --xe-credential FILE`` a public-key login is decided by XE's User service:
once the client has *proved* a key (its signature checked), the server sends the user name
and that public key to ``POST /api/v1/auth/service-sessions`` with its service credential.
XE answers with a short-lived session token for that user (and the user's role and enclave
scopes) when the user is enabled and owns the key; anything else refuses the login.

The service credential never leaves this process: it is read from a file only its owner
may read, never logged, never handed to a console. Each console receives only its own
user's token, over a pipe (not argv, not the environment). When the SSH connection ends,
the server logs the token out, so a session token lives no longer than its SSH session.

Right after XE mints the token the server reads XE's hosts *with that token* (so XE's own
rules decide which hosts the user sees) and the console's Landlock sandbox may then connect
to XE's port and those hosts' XPS ports (besides the console file's servers of its role).
The list is read once per login: a host added to XE later is reachable from the next
session on. When the list cannot be read the console gets no host of XE (one log line).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import stat
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xenon_tui.ssh._errors import ConfigError
from xenon_tui.ssh._spec import Role

log = logging.getLogger("xenon.ssh")
_SERVICE_TOKEN = re.compile(r"^xev_[A-Za-z0-9_-]{43}$")
_SESSION_TOKEN = re.compile(r"^xes_[A-Za-z0-9_-]{43}$")
_MAX_CREDENTIAL_FILE = 4096
_MAX_TOKEN_PIPE = 4096
_HOST_PAGE = 1000  # XE's largest page
_HOST_FIELDS = ("name", "port", "ro_port")
_MAX_HOST_PAGES = 100  # 100,000 hosts: far beyond a fleet, a bound on a looping cursor
XE_ROLES = ("admin", "operator", "auditor")


def xe_port(url: str) -> int:
    """The TCP port of an XE URL (443 or 80 when the URL names none).

    Raises:
        ConfigError: Not an ``https://`` or ``http://`` URL with a host.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"XE URL {url[:100]!r}: {exc}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"XE URL must be https://HOST:PORT, not {url[:100]!r}")
    return port or (443 if parts.scheme == "https" else 80)


def ssh_role(xe_role: str) -> Role:
    """The console role of an XE role: auditors get read-only consoles (read-only
    sockets of the hosts), admins and operators read-write ones."""
    return Role.READ_ONLY if xe_role == "auditor" else Role.ADMIN


def read_credential(path: Path) -> str:
    """Reads the service credential from ``path``: a regular file of this user that
    nobody else may read or write (mode 0600 or 0400).

    Raises:
        ConfigError: The file is missing, shared, or does not hold a service credential.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"--xe-credential {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"--xe-credential {path}: not a regular file")
        if info.st_mode & 0o077:
            raise ConfigError(
                f"--xe-credential {path}: mode {stat.S_IMODE(info.st_mode):04o}; the service "
                "credential must be readable by its owner only (chmod 600)"
            )
        if info.st_uid != os.geteuid():
            raise ConfigError(f"--xe-credential {path}: not owned by this user")
        data = handle.read(_MAX_CREDENTIAL_FILE + 1)
    text = data.decode("ascii", "replace").strip() if len(data) <= _MAX_CREDENTIAL_FILE else ""
    if not _SERVICE_TOKEN.fullmatch(text):
        raise ConfigError(
            f"--xe-credential {path}: not an XE service credential "
            "(make one with: xenon xe token create NAME --service)"
        )
    return text


@dataclass(frozen=True)
class XeAuthConfig:
    """Where XE is and how this server authenticates to it.

    Attributes:
        url: XE's base URL (``https://HOST:PORT``).
        credential_file: The service credential (mode 0600).
        ca_file: CA certificate (PEM) that signed XE's server certificate; ``None``: the
            system's trust store.
        timeout_s: Seconds one question to XE may take (well inside the login grace time).
    """

    url: str
    credential_file: Path
    ca_file: Path | None = None
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        xe_port(self.url)
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ConfigError(f"--xe-ca {self.ca_file}: not a readable file")
        if not 0 < self.timeout_s <= 60:
            raise ConfigError("the XE timeout must be in (0, 60] seconds")


@dataclass(frozen=True)
class XeGrant:
    """What XE granted one login: the user's session token and who the user is."""

    user: str
    role: str
    scopes: tuple[str, ...] | None
    expires_at: str
    token: str = field(repr=False)
    host_ports: tuple[int, ...] = ()

    def public(self, config: XeAuthConfig) -> dict[str, Any]:
        """What a console may be told in its session spec (no secret)."""
        return {
            "url": config.url,
            "ca": str(config.ca_file) if config.ca_file is not None else None,
            "user": self.user,
            "role": self.role,
            "scopes": list(self.scopes) if self.scopes is not None else None,
            "expires_at": self.expires_at,
            "host_ports": list(self.host_ports),
        }


class XeRefused(Exception):
    """XE did not grant a login; ``reason`` is safe for one log line."""

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


def _clean(text: str, limit: int = 200) -> str:
    return text[:limit].encode("unicode_escape").decode("ascii")


class XeAuthority:
    """Asks XE, with the service credential, for a session of a user who proved a key.

    Args:
        config: XE's address and this server's credential file.
        transport: An httpx transport (tests); the network otherwise.
    """

    def __init__(self, config: XeAuthConfig, *, transport: Any = None) -> None:
        self.config = config
        self._credential = read_credential(config.credential_file)
        self._transport = transport
        self._client: Any = None
        self._revoking: set[asyncio.Task[None]] = set()

    def _xe(self) -> Any:
        """The one XE client of this server (its TLS, timeouts, problem+json errors, and
        one connection pool kept across logins): the service credential's; a user's
        requests go over it with that user's token (``with_token``), and it keeps no
        cookie (nothing of one user's answer goes with another's request)."""
        if self._client is None:
            from enterprise_store.client import XeClient

            self._client = XeClient(
                self.config.url,
                token=self._credential,
                ca=self.config.ca_file,
                timeout=self.config.timeout_s,
                transport=self._transport,
            )
        return self._client

    async def session_for(self, username: str, public_key: str) -> XeGrant:
        """A session for ``username``, who has just proved ``public_key`` (OpenSSH form).

        Raises:
            XeRefused: XE said no, or could not be asked.
        """
        from enterprise_store.client import (
            Forbidden,
            ServiceUnreachable,
            StoreUnavailable,
            Unauthenticated,
            XeError,
        )

        try:
            session = await self._xe().service_session(username, public_key)
        except Unauthenticated as exc:
            raise XeRefused(f"XE: {_clean(exc.message)}") from None
        except Forbidden as exc:
            log.error(
                "XE refused this server's credential (%s): is %s a service credential?",
                _clean(exc.message),
                self.config.credential_file,
            )
            raise XeRefused(f"XE refused the service credential: {_clean(exc.message)}") from None
        except (ServiceUnreachable, StoreUnavailable) as exc:
            raise XeRefused(
                f"XE unreachable at {_clean(self.config.url)} ({_clean(exc.message)}); "
                "no XE login possible",
                unreachable=True,
            ) from None
        except XeError as exc:
            raise XeRefused(f"XE: {_clean(exc.message)}") from None
        user = session.user
        if user.name != username or user.role not in XE_ROLES:
            raise XeRefused("XE answered for another user or with an unknown role")
        if not _SESSION_TOKEN.fullmatch(session.token):
            raise XeRefused("XE answered without a session token")
        return XeGrant(
            user=user.name,
            role=str(user.role),
            scopes=tuple(user.scopes) if user.scopes is not None else None,
            expires_at=session.expires_at.isoformat(),
            token=session.token,
        )

    async def _host_page(self, token: str, cursor: str | None) -> tuple[list[Any], str | None]:
        """One page of the hosts ``token``'s user sees: only the fields a login needs."""
        user = self._xe().with_token(token)
        page = await user.policy.list_host_fields(_HOST_FIELDS, limit=_HOST_PAGE, cursor=cursor)
        return list(page.items), page.next_cursor

    async def with_host_ports(self, grant: XeGrant) -> XeGrant:
        """``grant`` with the XPS ports of the hosts XE shows its user (all pages, read
        with the user's own token within the XE timeout); without any on a failure.

        An operator's or admin's console gets each host's read-write port. An auditor's
        gets only the read-only ports XE records (``ro_port``): a host whose read-only
        port XE does not know is not reachable from it at all, and a line says so.
        """
        import httpx

        from enterprise_store.client import ServiceUnreachable, XeError

        ports: set[int] = set()
        read_only = grant.role == "auditor"
        unknown: list[str] = []
        try:
            async with asyncio.timeout(self.config.timeout_s):
                cursor: str | None = None
                for _ in range(_MAX_HOST_PAGES):
                    items, cursor = await self._host_page(grant.token, cursor)
                    for h in items:
                        port = h.ro_port if read_only else h.port
                        if type(port) is int and 0 < port < 65536:
                            ports.add(port)
                        elif read_only and port is None:
                            unknown.append(str(h.name))
                    if cursor is None:
                        break
                else:
                    raise XeError("xe_error", f"more than {_MAX_HOST_PAGES} pages of hosts")
        except (XeError, httpx.HTTPError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            # ValueError (pydantic's), KeyError, TypeError: an answer that is not a page of
            # hosts. The client's ServiceUnreachable carries the httpx error it caught.
            cause = exc.__cause__ if isinstance(exc, ServiceUnreachable) else exc
            reason = (
                "timed out"
                if isinstance(cause, TimeoutError | httpx.TimeoutException)
                else f"XE unreachable ({_clean(type(cause).__name__)})"
                if isinstance(cause, httpx.HTTPError)
                else _clean(exc.message)
                if isinstance(exc, XeError)
                else "not a list of hosts"
            )
            log.warning(
                "XE hosts of user=%s not read (%s): the console reaches none of them",
                _clean(grant.user),
                reason,
            )
            return dataclasses.replace(grant, host_ports=())
        if unknown:
            shown = ", ".join(_clean(n, 64) for n in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            log.info(
                "auditor %s: XE knows no read-only port of host(s) %s%s: their console "
                "does not reach them",
                _clean(grant.user),
                shown,
                more,
            )
        return dataclasses.replace(grant, host_ports=tuple(sorted(ports)))

    async def check(self) -> None:
        """Logs whether XE answers (at start; a failure is not fatal, logins are refused
        until it answers)."""
        from enterprise_store.client import XeError

        try:
            await self._xe().healthz()
        except XeError as exc:
            log.warning(
                "XE at %s does not answer (%s): SSH logins of XE users are refused until it does",
                _clean(self.config.url),
                _clean(exc.message),
            )
            return
        log.info("XE logins: %s (service credential from %s)", self.config.url,
                 self.config.credential_file)  # fmt: skip

    def revoke(self, grant: XeGrant) -> None:
        """Logs the grant's session out in the background (its SSH connection ended)."""
        task = asyncio.get_running_loop().create_task(self._logout(grant))
        self._revoking.add(task)
        task.add_done_callback(self._revoking.discard)

    async def _logout(self, grant: XeGrant) -> None:
        from enterprise_store.client import XeError

        try:
            await self._xe().with_token(grant.token).logout()
        except XeError as exc:
            log.info("XE session of %s not logged out: %s", grant.user, _clean(exc.message))

    async def close(self) -> None:
        """Finishes pending logouts and closes the connection to XE."""
        if self._revoking:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.timeout_s):
                    await asyncio.gather(*self._revoking, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def token_pipe(token: str) -> int:
    """A pipe holding ``token``; returns its read end (the caller passes it to the
    console and closes it). The token is far below the pipe's buffer, so the write
    never blocks."""
    read, write = os.pipe()
    try:
        os.write(write, token.encode("ascii"))
    finally:
        os.close(write)
    return read


def read_token(fd: int) -> str:
    """Reads a session token from ``fd`` (a :func:`token_pipe`) and closes it.

    Raises:
        ConfigError: The pipe does not hold a session token.
    """
    data = b""
    try:
        while len(data) <= _MAX_TOKEN_PIPE:
            chunk = os.read(fd, _MAX_TOKEN_PIPE)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    text = data.decode("ascii", "replace")
    if not _SESSION_TOKEN.fullmatch(text):
        raise ConfigError("the session's XE token did not arrive")
    return text
