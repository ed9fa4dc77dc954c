"""What a flow may use of the screen that runs it: a narrow Protocol, checked by mypy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from textual.message import Message
    from textual.notifications import SeverityLevel
    from textual.screen import ModalScreen

    from xenon_tui._actions import Mode
    from xenon_tui._state import ServerState
    from xenon_tui.widgets import AdvancedView

T = TypeVar("T")


class Console(Protocol):
    """The part of a console screen a flow uses (``screens.HostConsole`` implements it).

    Flows run in workers of the app. They raise :class:`~xenon_tui._errors.ConsoleError`
    subclasses, which end the worker and are shown by the app's one worker-state handler,
    and post messages (``messages.RefreshWanted``…) for what the screen should do next.
    """

    @property
    def read_only(self) -> bool:
        """The console is read-only (read-only sockets, no mutating action)."""
        ...

    @property
    def user(self) -> str:
        """Who uses this console (the SSH user when served over SSH, else the OS user):
        the name the hosts log with what it asks of them."""
        ...

    @property
    def servers(self) -> Mapping[str, ServerState]:
        """Every server by address, in the panel's order."""
        ...

    @property
    def current_state(self) -> ServerState | None:
        """State of the highlighted server."""
        ...

    async def call(self, address: str, method: str, **params: Any) -> dict[str, Any]:
        """Calls a daemon method on a server (raises ConsoleError subclasses)."""
        ...

    async def ask(self, dialog: ModalScreen[T]) -> T:
        """Shows a dialog and waits for the value it is dismissed with."""
        ...

    def show(self, dialog: ModalScreen[Any]) -> None:
        """Shows a dialog without waiting for it."""
        ...

    def set_mode(self, mode: Mode) -> None:
        """Switches the current server to Editor or Live mode (and redraws for it)."""
        ...

    def mark_server(self, address: str, match: str | None) -> None:
        """Marks a server's line ``=`` / ``≠`` (same policy as a compared one) or clears it."""
        ...

    async def show_advanced(self, tab: str) -> AdvancedView:
        """Shows an Advanced sub-tab (building the view if needed) and returns the view."""
        ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Shows a notification."""
        ...

    def post_message(self, message: Message) -> bool:
        """Posts a message to the screen."""
        ...


def connected_address(console: Console) -> str | None:
    """The current server's address; None (after saying so) when it is not connected.

    A stale server is connected: what is asked of it may apply late, and a request that
    gets no answer says "outcome unknown" and is read back once the host answers.
    """
    state = console.current_state
    if state is None or not state.link.up:
        console.notify("Select a connected server first.", title="No server", severity="warning")
        return None
    return state.address
