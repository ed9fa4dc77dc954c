"""The console's error tree: every error has a stable code and a title for notifications.

::

    ConsoleError(errors.XenonError)       console_error     base; shown as a titled
    │                                                       notification, never a traceback
    ├── ConfigError(errors.ConfigError)   config_invalid    the configuration file or a
    │                                                       command-line value is invalid
    ├── ServerError(errors.ServerError)   server_error      a daemon refused a request or
    │   │                                                   could not be reached
    │   └── NotConnectedError             not_connected     the server is not connected
    ├── ReadOnlyError                     read_only         a change in a read-only console
    ├── ImportFileError                   import_invalid    a file to import is refused
    ├── EnterpriseError                   xe_error          XE refused a request or could
    │                                                       not be reached (XE's message;
    │                                                       a refused write's findings)
    └── PolicyDataError                   policy_unreadable a policy file cannot be read

``errors`` is :mod:`xps.errors`, the bases shared with the headless packages' trees;
``PolicyDataError`` lives in ``_policy_data.py``, ``EnterpriseError`` in ``_xe.py``. The
SSH server's tree is :mod:`xenon_tui.ssh._errors`.
"""

from __future__ import annotations

from xps import errors


class ConsoleError(errors.XenonError):
    """Base of every console error; shown as a titled notification, never a traceback.

    Attributes:
        code: Stable machine-readable code.
        title: Short human title of the notification.
    """

    code = "console_error"
    title = "Console error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(ConsoleError, errors.ConfigError):
    """The configuration file or a command-line value is invalid."""

    code = "config_invalid"
    title = "Configuration"


class ServerError(ConsoleError, errors.ServerError):
    """A daemon refused a request or could not be reached."""

    code = "server_error"
    title = "Server"

    def __init__(self, server: str, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.server = server
        self.title = f"Server {server}"


class NotConnectedError(ServerError):
    """The server is not connected."""

    code = "not_connected"


class ReadOnlyError(ConsoleError):
    """A mutating action was attempted in a read-only console."""

    code = "read_only"
    title = "Read-only console"


class ImportFileError(ConsoleError):
    """A file to import is unreadable, malformed, hostile or clashes with the policy."""

    code = "import_invalid"
    title = "Import"
