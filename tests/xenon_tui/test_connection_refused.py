"""A daemon address this process may not reach (the sandbox's port rules) is not retried."""

from __future__ import annotations

import asyncio
from typing import Any

from xenon_tui._config import ServerEntry, TlsFiles
from xenon_tui._connection import LinkState, ServerConnection
from xps.client import NotPermitted

MESSAGE = "cannot connect to 127.0.0.1:5000: not permitted for this process (Permission denied)"


class _Refused:
    """A client whose every connect is refused by the kernel."""

    connected = False

    def __init__(self, attempts: list[int]) -> None:
        self._attempts = attempts

    async def connect(self) -> None:
        self._attempts.append(1)
        raise NotPermitted(MESSAGE)

    async def close(self) -> None:
        return None


async def test_a_refused_address_ends_the_link_with_the_reason() -> None:
    attempts: list[int] = []
    states: list[tuple[LinkState, str]] = []

    def factory(entry: ServerEntry, tls: TlsFiles, read_only: bool) -> Any:
        return _Refused(attempts)

    link = ServerConnection(
        ServerEntry("127.0.0.1", 5000),
        TlsFiles(),
        read_only=True,
        on_state=lambda state, detail: states.append((state, detail)),
        on_event=lambda event: None,
        factory=factory,
    )
    await asyncio.wait_for(link.run(), 5)  # returns by itself: no back-off loop
    assert attempts == [1]
    assert (LinkState.LOST, MESSAGE) in states
    assert states[-1][0] is LinkState.DISCONNECTED
    assert NotPermitted(MESSAGE).code == "not_permitted"
