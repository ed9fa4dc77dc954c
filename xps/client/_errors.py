"""The error tree of ``xps.client``: every error has a stable ``code`` and a ``message``.

::

    XpsError(errors.XenonError)          xps_error           base of every client error
    ├── ConnectionLost                   connection_lost     not connected, or dropped
    │   └── NotPermitted                 not_permitted       this process may not connect
    ├── Timeout                          timeout             no answer in time
    ├── TlsError                         tls_error           bad material, untrusted peer
    ├── ProtocolViolation                protocol_error      the peer broke the protocol
    ├── RemoteError(errors.HostError)    xps_error           the server answered an error;
    │   │                                                    ``code`` is the server's
    │   └── NotAuthorized                xps_error           not in the authorization store
    └── MigrationInDoubt                 migration_in_doubt  a move's activation answer
                                                         was lost

``errors`` is :mod:`xps.errors`; ``MigrationInDoubt`` lives in ``_migrate.py``.
"""

from __future__ import annotations

from typing import Any

from xps import errors


class XpsError(errors.XenonError):
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


class RemoteError(XpsError, errors.HostError):
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
