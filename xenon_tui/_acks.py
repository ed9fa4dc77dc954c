"""Acknowledgements of violations, as a host keeps them (``AcknowledgeViolations``).

They come from the host (``GetViolations``' ``acks`` and the ``violations`` events that
carry one), never from this console's own state: every console of a host shows the same
marks, and a reconnect shows them again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

Ack = Mapping[str, Any]


class Acks:
    """One host's acknowledgements, and which one covers a violation record."""

    def __init__(self) -> None:
        self.items: list[Ack] = []
        self._ids: set[int] = set()
        self._all: list[Ack] = []
        self._by_domain: dict[str, list[Ack]] = {}

    def add(self, acks: Iterable[object]) -> bool:
        """Takes the well-formed acknowledgements not seen yet; True when any was new."""
        added = False
        for ack in acks:
            if not isinstance(ack, Mapping):
                continue
            ident, seq, user = ack.get("ack"), ack.get("up_to_seq"), ack.get("user")
            if not (isinstance(ident, int) and isinstance(seq, int) and isinstance(user, str)):
                continue
            if ident in self._ids:
                continue
            self._ids.add(ident)
            self.items.append(ack)
            domain = ack.get("domain")
            if isinstance(domain, str):
                self._by_domain.setdefault(domain, []).append(ack)
            else:
                self._all.append(ack)
            added = True
        return added

    def covering(self, row: Mapping[str, Any]) -> Ack | None:
        """The first acknowledgement that covers a violation record, or None."""
        if not self.items:
            return None
        seq = row.get("seq")
        if not isinstance(seq, int):
            return None
        found: Ack | None = None
        for ack in (*self._by_domain.get(str(row.get("domain")), ()), *self._all):
            if seq <= ack["up_to_seq"] and (found is None or ack["ack"] < found["ack"]):
                found = ack
        return found

    def __len__(self) -> int:
        return len(self.items)


def ack_text(ack: Ack) -> str:
    """``acked by alice 12:03`` (UTC, as the violation times) and the note, if any."""
    ts = ack.get("ts")
    when = time.strftime("%H:%M", time.gmtime(ts)) if isinstance(ts, int | float) else ""
    text = f"acked by {ack.get('user')} {when}".rstrip()
    note = ack.get("note")
    return f"{text}: {note}" if isinstance(note, str) and note else text
