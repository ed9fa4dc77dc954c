"""Messages that travel up to the screen that owns the servers (events up, state down).

Widgets keep their own messages as nested classes (``ServersPanel.Command``…); these are
the ones posted by connection workers and flows, which are not widgets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
