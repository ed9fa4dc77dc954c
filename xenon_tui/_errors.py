"""The console's error tree: every error has a stable code and a title for notifications."""

from __future__ import annotations


class ConsoleError(Exception):
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


class ConfigError(ConsoleError):
    """The configuration file or a command-line value is invalid."""

    code = "config_invalid"
    title = "Configuration"


class ServerError(ConsoleError):
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
