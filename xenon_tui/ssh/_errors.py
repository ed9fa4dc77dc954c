"""The error tree of the SSH console server; every error has a stable ``code``."""

from __future__ import annotations


class SshServeError(Exception):
    """Base of every error raised by :mod:`xenon_tui.ssh`.

    Attributes:
        code: A stable, machine-readable identifier of the failure.
        message: A human-readable explanation.
    """

    code = "ssh_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(SshServeError):
    """The server configuration (flags, users file, console file) is invalid."""

    code = "config_invalid"


class HostKeyError(SshServeError):
    """The host key could not be read, generated or stored."""

    code = "host_key"


class ListenError(SshServeError):
    """The server could not listen on its address (in use, not permitted, …)."""

    code = "listen_failed"


class LaunchError(SshServeError):
    """A console process (or the zygote that forks them) could not be started."""

    code = "launch_failed"


class ZygoteGone(LaunchError):
    """The zygote process exited or its control socket broke."""

    code = "zygote_gone"


class SandboxUnavailableError(SshServeError):
    """``--sandbox require`` on a kernel without Landlock."""

    code = "sandbox_unavailable"
