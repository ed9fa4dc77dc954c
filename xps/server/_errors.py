"""The error tree of ``xps.server``: every error carries a stable ``code``.

::

    ServerError(errors.ServerError)              server_error    base of every daemon error
    ├── ConfigError(errors.ConfigError)          config_invalid  flags, ``-D`` values or the
    │                                                            properties file are invalid
    └── ListenError(errors.ListenError)          listen_failed   a listening socket could not
                                                                 be bound

``errors`` is :mod:`xps.errors`, the bases shared with the console's trees.
"""

from __future__ import annotations

from xps import errors


class ServerError(errors.ServerError):
    """Base of every daemon error.

    Attributes:
        code: Stable machine-readable code.
        message: Human-readable explanation.
    """

    code = "server_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ServerError, errors.ConfigError):
    """The configuration (flags, ``-D`` values, properties file) is invalid."""

    code = "config_invalid"


class ListenError(ServerError, errors.ListenError):
    """A listening socket could not be bound."""

    code = "listen_failed"
