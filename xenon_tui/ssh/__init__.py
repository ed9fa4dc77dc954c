"""Serves the Xenon console over SSH: one console process per session, on its own pty.

The names below are imported lazily: a console process (forked by the zygote or
spawned) imports :mod:`xenon_tui.ssh._child` without paying for asyncssh.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xenon_tui.ssh._algorithms import SshAlgorithms
    from xenon_tui.ssh._config import DEFAULT_APP, ServeConfig, console_for_role
    from xenon_tui.ssh._errors import (
        ConfigError,
        HostKeyError,
        LaunchError,
        ListenError,
        SshServeError,
        ZygoteGone,
    )
    from xenon_tui.ssh._gate import Penalties, PreauthLimits
    from xenon_tui.ssh._hostkey import load_or_create_host_key
    from xenon_tui.ssh._server import ConsoleServer
    from xenon_tui.ssh._spec import Role, SessionInfo
    from xenon_tui.ssh._users import PasswordAuthenticator, UserDirectory, UserEntry

__all__ = [
    "DEFAULT_APP",
    "ConfigError",
    "ConsoleServer",
    "HostKeyError",
    "LaunchError",
    "ListenError",
    "PasswordAuthenticator",
    "Penalties",
    "PreauthLimits",
    "Role",
    "ServeConfig",
    "SessionInfo",
    "SshAlgorithms",
    "SshServeError",
    "UserDirectory",
    "UserEntry",
    "ZygoteGone",
    "console_for_role",
    "load_or_create_host_key",
]

_WHERE = {
    "SshAlgorithms": "_algorithms",
    "DEFAULT_APP": "_config",
    "ServeConfig": "_config",
    "console_for_role": "_config",
    "ConfigError": "_errors",
    "HostKeyError": "_errors",
    "LaunchError": "_errors",
    "ListenError": "_errors",
    "SshServeError": "_errors",
    "ZygoteGone": "_errors",
    "Penalties": "_gate",
    "PreauthLimits": "_gate",
    "load_or_create_host_key": "_hostkey",
    "ConsoleServer": "_server",
    "Role": "_spec",
    "SessionInfo": "_spec",
    "PasswordAuthenticator": "_users",
    "UserDirectory": "_users",
    "UserEntry": "_users",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'xenon_tui.ssh' has no attribute {name!r}")
    return getattr(importlib.import_module(f"xenon_tui.ssh.{module}"), name)
