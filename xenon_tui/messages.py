"""Messages of the console that are not a widget's own (events up, state down).

Widgets keep theirs as nested classes (``ServersPanel.Command``…). These are posted by
connection workers and flows to the screen that owns the servers, and by that screen to
the app (errors, table actions named by a `:` command).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from textual.message import Message

from xenon_tui._connection import LinkState


class LinkChanged(Message):
    """A server's link state changed (posted by its connection worker)."""

    def __init__(self, address: str, state: LinkState, detail: str) -> None:
        super().__init__()
        self.address, self.state, self.detail = address, state, detail


class ServerEvent(Message):
    """An event pushed by a daemon (violations, stats, domain, policy)."""

    def __init__(self, address: str, event: Mapping[str, Any]) -> None:
        super().__init__()
        self.address, self.event = address, event


class ServerData(Message):
    """Fresh data fetched from a daemon (any subset of the state fields)."""

    def __init__(self, address: str, data: Mapping[str, Any]) -> None:
        super().__init__()
        self.address, self.data = address, data


class RefreshWanted(Message):
    """A flow changed a server: re-read its policy (and info) or its domains."""

    def __init__(self, address: str, what: Literal["policy", "domains"]) -> None:
        super().__init__()
        self.address, self.what = address, what


class Failed(Message):
    """A request failed without ending a worker (a worker's own failure is reported by
    the worker-state handler); the app shows ``error`` the same way."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class ActionWanted(Message):
    """A `:` command names an action of the table: the app runs it as the palette would."""

    def __init__(self, action_id: str) -> None:
        super().__init__()
        self.action_id = action_id


class ClearFilter(Message):
    """The user asked to clear the shown view's `/` filter (Esc on a list, ``:nofilter``)."""
