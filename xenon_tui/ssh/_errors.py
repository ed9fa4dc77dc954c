"""The error tree of the SSH console server; every error has a stable ``code``.

::

    SshServeError(errors.XenonError)      ssh_error            base
    ├── ConfigError(errors.ConfigError)   config_invalid       flags, users file or console
    │                                                          file invalid
    ├── HostKeyError                      host_key             the host key cannot be read,
    │                                                          generated or stored
    ├── ListenError(errors.ListenError)   listen_failed        cannot listen on the address
    ├── LaunchError                       launch_failed        a console process (or the
    │   │                                                      zygote) could not be started
    │   └── ZygoteGone                    zygote_gone          the zygote exited or its
    │                                                          control socket broke
    └── SandboxUnavailableError           sandbox_unavailable  ``--sandbox require`` without
                                                               Landlock

``errors`` is :mod:`xps.errors`: ``except xps.errors.ConfigError`` holds for the daemon's,
the console's and this server's configuration errors alike.
"""

from __future__ import annotations

from xps import errors


class SshServeError(errors.XenonError):
    """Base of every error raised by :mod:`xenon_tui.ssh`.

    Attributes:
        code: A stable, machine-readable identifier of the failure.
        message: A human-readable explanation.
    """

    code = "ssh_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(SshServeError, errors.ConfigError):
    """The server configuration (flags, users file, console file) is invalid."""

    code = "config_invalid"


class HostKeyError(SshServeError):
    """The host key could not be read, generated or stored."""

    code = "host_key"


class ListenError(SshServeError, errors.ListenError):
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
