"""Fan-out of host events to subscriber callbacks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["EventHub"]

log = logging.getLogger("xps.host")

Callback = Callable[[dict[str, Any]], None]


class EventHub:
    """Calls every subscriber with each event; a failing subscriber never affects others."""

    def __init__(self) -> None:
        self._subscribers: dict[int, Callback] = {}
        self._next = 0

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Adds a subscriber; returns its (idempotent) unsubscribe function."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        key = self._next
        self._next += 1
        self._subscribers[key] = callback

        def unsubscribe() -> None:
            self._subscribers.pop(key, None)

        return unsubscribe

    def publish(self, event: dict[str, Any]) -> None:
        """Delivers one event to every subscriber (the same dict: subscribers must not mutate)."""
        for callback in list(self._subscribers.values()):
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed; event %s dropped for it", event["event"])

    def clear(self) -> None:
        """Removes every subscriber."""
        self._subscribers.clear()

    def __len__(self) -> int:
        return len(self._subscribers)
