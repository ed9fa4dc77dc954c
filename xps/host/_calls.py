"""Allowed-call history: the MSM's per-minute counts of allowed calls, per domain and
(hypercall, sub-op), kept in two tiers: 1 min for 2 h and 15 min for 24 h.

Memory is bounded: at most ``MAX_KEYS`` (domain, hypercall, sub-op) keys per bucket (the
calls of further keys are counted in ``dropped``) and a fixed number of buckets per tier.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from xps.msm import CALL_COUNT_RECORD, HYPERCALL_NAMES
from xps.protocol import CallCounts

from ._errors import InvalidArgument

__all__ = ["CALL_TIERS", "MAX_KEYS", "CallHistory", "CallTier"]

MAX_KEYS = 4096
_FORMAT_VERSION = 1

Key = tuple[str, int, int]  # domain name, hypercall, sub-op


@dataclass(frozen=True)
class CallTier:
    """Buckets ``step_s`` wide, kept for ``span_s`` seconds."""

    step_s: int
    span_s: int


CALL_TIERS = (CallTier(60, 7200), CallTier(900, 86400))
_MAX_MINUTES = CALL_TIERS[-1].span_s // 60


class CallHistory:
    """Adds drained ``msm_call_count`` records and answers "calls of the last N minutes".

    Not thread-safe: the host calls it from its event loop only.
    """

    def __init__(self) -> None:
        # per tier: deque of (bucket start s, {key: count}), oldest first
        self._tiers: list[deque[tuple[int, dict[Key, int]]]] = [deque() for _ in CALL_TIERS]
        self.dropped = 0
        self.last_ts = 0.0

    def add(self, ts_s: float, domain: str, nr: int, subop: int, count: int) -> None:
        """Adds ``count`` allowed calls made in the minute that starts at ``ts_s`` (wall)."""
        if not math.isfinite(ts_s) or ts_s <= 0 or count <= 0:
            return
        self.last_ts = max(self.last_ts, ts_s)
        key = (domain, nr, subop)
        for tier, buckets in zip(CALL_TIERS, self._tiers, strict=True):
            start = int(ts_s // tier.step_s) * tier.step_s
            counts = self._bucket(buckets, start)
            if counts is None:
                continue  # older than the tier keeps
            if key in counts or len(counts) < MAX_KEYS:
                counts[key] = counts.get(key, 0) + count
            elif tier is CALL_TIERS[0]:
                self.dropped += count
            self._expire(tier, buckets)

    def add_packed(self, data: bytes, wall_offset_ns: int, name_of: Callable[[int], str]) -> int:
        """Adds drained records (``CALL_COUNT_RECORD`` back to back); returns the calls.

        ``name_of`` names a domid (asked once per domid of the batch).
        """
        total = 0
        names: dict[int, str] = {}
        for minute_ns, domid, nr, subop, count, _uuid in CALL_COUNT_RECORD.iter_unpack(data):
            name = names.get(domid)
            if name is None:
                name = names[domid] = name_of(domid)
            self.add((minute_ns + wall_offset_ns) / 1e9, name, nr, subop, count)
            total += count
        return total

    @staticmethod
    def _bucket(buckets: deque[tuple[int, dict[Key, int]]], start: int) -> dict[Key, int] | None:
        if not buckets or buckets[-1][0] < start:
            buckets.append((start, {}))
            return buckets[-1][1]
        for b_start, counts in reversed(buckets):  # clocks may step: search back
            if b_start == start:
                return counts
            if b_start < start:
                break
        if start < buckets[0][0]:
            return None
        # A bucket in the middle that did not exist: insert it in order.
        items = sorted([*buckets, (start, {})], key=lambda b: b[0])
        buckets.clear()
        buckets.extend(items)
        return next(c for s, c in buckets if s == start)

    def _expire(self, tier: CallTier, buckets: deque[tuple[int, dict[Key, int]]]) -> None:
        horizon = self.last_ts - tier.span_s
        while buckets and buckets[0][0] + tier.step_s <= horizon:
            buckets.popleft()

    def totals(self, minutes: int, domain: str | None = None) -> dict[Key, int]:
        """Calls per (domain, hypercall, sub-op) in the last ``minutes`` minutes (of the
        newest record): minute buckets up to 2 h, 15-minute buckets beyond."""
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise InvalidArgument("minutes must be an integer")
        if not 1 <= minutes <= _MAX_MINUTES:
            raise InvalidArgument(f"minutes must be within 1..{_MAX_MINUTES}")
        index = 0 if minutes * 60 <= CALL_TIERS[0].span_s else 1
        step = CALL_TIERS[index].step_s
        newest = int(self.last_ts // step) * step
        since = newest - (math.ceil(minutes * 60 / step) - 1) * step
        out: dict[Key, int] = {}
        for start, counts in self._tiers[index]:
            if start < since:
                continue
            for key, n in counts.items():
                if domain is None or key[0] == domain:
                    out[key] = out.get(key, 0) + n
        return out

    def result(self, minutes: int, domain: str | None = None) -> CallCounts:
        """The contract's ``GetCallCounts`` result, most calls first."""
        totals = self.totals(minutes, domain)
        rows = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "minutes": minutes,
            "calls": [
                {
                    "domain": d,
                    "hypercall": nr,
                    "hypercall_name": HYPERCALL_NAMES.get(nr) or f"hypercall_{nr}",
                    "subop": subop,
                    "count": n,
                }
                for (d, nr, subop), n in rows
            ],
            "dropped": self.dropped,
        }

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> bytes:
        """The whole history as compact JSON."""
        tiers = [
            [
                [start, [[d, nr, sub, n] for (d, nr, sub), n in counts.items()]]
                for start, counts in b
            ]
            for b in self._tiers
        ]
        doc = {
            "version": _FORMAT_VERSION,
            "last_ts": self.last_ts,
            "dropped": self.dropped,
            "tiers": tiers,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CallHistory:
        """Restores :meth:`to_json` output.

        Raises:
            InvalidArgument: The document is malformed.
        """
        history = cls()
        try:
            doc = json.loads(data)
            if doc["version"] != _FORMAT_VERSION or len(doc["tiers"]) != len(CALL_TIERS):
                raise ValueError("unsupported call history version")
            history.last_ts = float(doc["last_ts"])
            history.dropped = int(doc["dropped"])
            for buckets, raw in zip(history._tiers, doc["tiers"], strict=True):
                for start, rows in raw:
                    counts: dict[Key, int] = {}
                    for d, nr, sub, n in rows[:MAX_KEYS]:
                        counts[(str(d), int(nr), int(sub))] = int(n)
                    buckets.append((int(start), counts))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgument(f"malformed call history: {exc}") from exc
        return history
