"""The error tree of ``xps.server``: every error carries a stable ``code``."""

from __future__ import annotations


class ServerError(Exception):
    """Base of every daemon error.

    Attributes:
        code: Stable machine-readable code.
        message: Human-readable explanation.
    """

    code = "server_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ServerError):
    """The configuration (flags, ``-D`` values, properties file) is invalid."""

    code = "config_invalid"


class ListenError(ServerError):
    """A listening socket could not be bound."""

    code = "listen_failed"
