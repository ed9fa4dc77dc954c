"""The error tree of ``xps.client``: every error has a stable ``code`` and a ``message``."""

from __future__ import annotations

from typing import Any


class XpsError(Exception):
    """Base of every client error.

    Attributes:
        code: Stable machine-readable code (for RemoteError: the server's code).
        message: Human-readable explanation.
    """

    code = "xps_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConnectionLost(XpsError):
    """Not connected, or the connection dropped before the answer arrived."""

    code = "connection_lost"


class NotPermitted(ConnectionLost):
    """This process may not open that connection (a sandboxed console's port rules);
    retrying cannot help."""

    code = "not_permitted"


class Timeout(XpsError):
    """No answer (or no connection) within the timeout."""

    code = "timeout"


class TlsError(XpsError):
    """TLS failed: bad material, untrusted server, or the server refused our certificate."""

    code = "tls_error"


class ProtocolViolation(XpsError):
    """The server sent something that is not the XPS protocol."""

    code = "protocol_error"


class RemoteError(XpsError):
    """The server answered with ``{"error": {"code", "message"}}``.

    Attributes:
        details: Extra JSON data (e.g. policy validation findings), or None.
    """

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, code=code)
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class NotAuthorized(RemoteError):
    """The server refused this client (remote and not in the authorization store)."""
