"""Pushed events: encode each event once, write it to every subscriber, drop the slow ones."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from xps.protocol import EVENT_NAMES, encode_event

log = logging.getLogger("xps.server")


@dataclass(eq=False, slots=True)
class Subscriber:
    """One subscribed connection.

    Attributes:
        label: ``ReadOnly socket: Client #n (/ip)``, for the log.
        transport: Where frames are written (its buffer is the subscriber's queue).
        events: Event names it asked for.
        sent: Frames written so far.
        dropped: Set once the subscriber was dropped for being too slow.
    """

    label: str
    transport: asyncio.WriteTransport
    events: frozenset[str] = field(default_factory=lambda: frozenset(EVENT_NAMES))
    sent: int = 0
    dropped: bool = False


class EventHub:
    """Fans events out to subscribers without ever waiting for one.

    The bounded queue of each subscriber is its transport's write buffer: when more than
    ``max_buffer`` bytes are still unsent, the subscriber cannot keep up and is dropped
    (connection aborted, reason logged) so it never slows the daemon or other clients.
    ``max_total`` bounds the backlogs of all subscribers together (1,024 subscribers of
    16 MiB each would be 16 GiB): beyond it the subscribers furthest behind are dropped.
    """

    def __init__(self, max_buffer: int = 16 << 20, max_total: int = 256 << 20) -> None:
        """Creates an empty hub; ``max_buffer`` bounds each backlog, ``max_total`` all."""
        self.max_buffer = max_buffer
        self.max_total = max_total
        self._subs: set[Subscriber] = set()
        self.published = 0

    def __len__(self) -> int:
        return len(self._subs)

    def add(self, sub: Subscriber) -> None:
        """Registers a subscriber (replacing nothing: a connection subscribes once)."""
        self._subs.add(sub)

    def discard(self, sub: Subscriber) -> None:
        """Forgets a subscriber (on Unsubscribe or close)."""
        self._subs.discard(sub)

    def publish(self, event: dict[str, Any]) -> None:
        """Callback for the host: ``{"event": name, "data": {...}}``; must not block."""
        name = event.get("event")
        data = event.get("data")
        if not isinstance(name, str) or not isinstance(data, dict):
            log.warning("Ignoring malformed event from the host: %r", type(event).__name__)
            return
        self.publish_to(self._subs, name, data)

    def publish_to(self, subs: Iterable[Subscriber], name: str, data: dict[str, Any]) -> None:
        """Encodes one event once and writes it to every interested subscriber."""
        frame: bytes | None = None
        self.published += 1
        backlogs: list[tuple[int, Subscriber]] = []
        total = 0
        for sub in list(subs):
            if name not in sub.events or sub.dropped:
                continue
            transport = sub.transport
            if transport.is_closing():
                self._subs.discard(sub)
                continue
            backlog = transport.get_write_buffer_size()
            if backlog > self.max_buffer:
                self._drop(sub, backlog, self.max_buffer)
                continue
            if frame is None:
                frame = encode_event(name, data)
            transport.write(frame)
            sub.sent += 1
            backlog += len(frame)
            backlogs.append((backlog, sub))
            total += backlog
        if total > self.max_total:
            # The slowest subscribers go first, until the others fit.
            backlogs.sort(key=lambda item: item[0], reverse=True)
            for backlog, sub in backlogs:
                if total <= self.max_total:
                    break
                self._drop(sub, backlog, self.max_total, together=True)
                total -= backlog

    def _drop(self, sub: Subscriber, backlog: int, limit: int, *, together: bool = False) -> None:
        sub.dropped = True
        self._subs.discard(sub)
        log.warning(
            "%s: Dropping subscriber that cannot keep up (%d bytes of events unsent, limit %d%s)",
            sub.label,
            backlog,
            limit,
            " for all subscribers together" if together else "",
        )
        sub.transport.abort()
