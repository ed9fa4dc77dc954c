"""A bounded, filterable window over the violation stream (newest first), O(1) per row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Violation = Mapping[str, Any]

_SEARCH_FIELDS = ("domain", "seclabel_name", "kind", "hypercall_name", "profile", "peer")


def search_text(row: Violation) -> str:
    """Lower-cased text a `/` filter matches against."""
    return " ".join(str(row.get(f) or "") for f in _SEARCH_FIELDS).lower()


class ViolationWindow:
    """The last ``capacity`` violations in a fixed ring, plus an optional filtered view.

    Rows are addressed by an absolute index (0 = first row ever appended); the ring keeps
    the newest ``capacity`` of them. Visible row 0 is the newest row (matching the filter).
    """

    def __init__(self, capacity: int = 200_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        # Grows with the rows until it holds `capacity` of them: a fresh console (one per
        # SSH session) should not pay for 200k empty slots before any violation arrives.
        self._buf: list[Violation | None] = []
        self._total = 0
        self._filter = ""
        self._matches: list[int] | None = None  # absolute indices, ascending
        self._match_start = 0  # first still-valid position in _matches

    @property
    def total(self) -> int:
        """Rows ever appended."""
        return self._total

    @property
    def retained(self) -> int:
        """Rows still held by the ring."""
        return min(self._total, self.capacity)

    @property
    def filter(self) -> str:
        """The current filter text ("" = none)."""
        return self._filter

    def _oldest(self) -> int:
        return self._total - self.retained

    def extend(self, rows: Iterable[Violation]) -> int:
        """Appends rows (oldest first); returns how many became visible."""
        buf, cap = self._buf, self.capacity
        start = self._total
        for row in rows:
            if self._total < cap:
                buf.append(row)
            else:
                buf[self._total % cap] = row
            self._total += 1
        added = self._total - start
        if self._matches is None:
            return min(added, cap)
        needle = self._filter
        first = max(start, self._oldest())
        shown = 0
        for index in range(first, self._total):
            kept = buf[index % cap]
            if kept is not None and needle in search_text(kept):
                self._matches.append(index)
                shown += 1
        self._trim_matches()
        return shown

    def _trim_matches(self) -> None:
        matches = self._matches
        if matches is None:
            return
        oldest = self._oldest()
        start = self._match_start
        while start < len(matches) and matches[start] < oldest:
            start += 1
        # Compact now and then so the list stays bounded by the ring size.
        if start > 4096 and start > len(matches) // 2:
            del matches[:start]
            start = 0
        self._match_start = start

    def set_filter(self, text: str) -> None:
        """Shows only rows whose domain/SecLabel/kind/hypercall/profile contain ``text``."""
        text = text.strip().lower()
        self._filter = text
        if not text:
            self._matches = None
            return
        buf, cap = self._buf, self.capacity
        matches: list[int] = []
        for index in range(self._oldest(), self._total):
            row = buf[index % cap]
            if row is not None and text in search_text(row):
                matches.append(index)
        self._matches = matches
        self._match_start = 0

    def __len__(self) -> int:
        if self._matches is None:
            return self.retained
        return len(self._matches) - self._match_start

    def row(self, visible: int) -> Violation:
        """Visible row ``visible`` (0 = newest); IndexError when out of range."""
        count = len(self)
        if not 0 <= visible < count:
            raise IndexError(visible)
        if self._matches is None:
            index = self._total - 1 - visible
        else:
            index = self._matches[len(self._matches) - 1 - visible]
        found = self._buf[index % self.capacity]
        assert found is not None
        return found

    def oldest_first(self) -> list[Violation]:
        """Every retained row, oldest first, whatever the filter (the incident timeline)."""
        buf, cap = self._buf, self.capacity
        rows = [buf[i % cap] for i in range(self._oldest(), self._total)]
        return [r for r in rows if r is not None]

    def clear(self) -> None:
        """Forgets every row."""
        self._buf = []
        self._total = 0
        if self._matches is not None:
            self._matches = []
            self._match_start = 0
