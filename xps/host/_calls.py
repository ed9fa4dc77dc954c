"""Allowed-call history: the MSM's per-minute counts of allowed calls, per domain and
(hypercall, sub-op), kept in two tiers: 1 min for 2 h and 15 min for 24 h.

Memory is bounded: at most ``MAX_KEYS`` (domain, hypercall, sub-op) keys per bucket (the
calls of further keys are counted in ``dropped``) and a fixed number of buckets per tier.
So is the file (``call-counts.json``, written through :mod:`._tiers`, never over
``MAX_FILE``): version 2 names each domain once per bucket; version 1 files (the domain
name in every row) are still read.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from xps.msm import CALL_COUNT_RECORD, HYPERCALL_NAMES
from xps.protocol import CallCounts

from ._errors import InvalidArgument
from ._tiers import decode, encode_parts, malformed

__all__ = ["CALL_TIERS", "MAX_FILE", "MAX_KEYS", "CallHistory", "CallTier"]

MAX_KEYS = 4096
#: The largest history file read or written (a full one is ~26 MiB at version 2).
MAX_FILE = 64 << 20
_FORMAT_VERSION = 2
_READABLE = (1, 2)

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
        self.revision = 0  # grows on every change: the file is saved only when it moved
        # Encoded buckets, per tier by start: a save re-encodes only the buckets added to
        # since the last one (a full day of 600 keys a minute costs ~300 ms to encode).
        self._encoded: list[dict[int, bytes]] = [{} for _ in CALL_TIERS]

    def add(self, ts_s: float, domain: str, nr: int, subop: int, count: int) -> None:
        """Adds ``count`` allowed calls made in the minute that starts at ``ts_s`` (wall)."""
        if not math.isfinite(ts_s) or ts_s <= 0 or count <= 0:
            return
        self.last_ts = max(self.last_ts, ts_s)
        self.revision += 1
        key = (domain, nr, subop)
        for tier, buckets, encoded in zip(CALL_TIERS, self._tiers, self._encoded, strict=True):
            start = int(ts_s // tier.step_s) * tier.step_s
            counts = self._bucket(buckets, start)
            if counts is None:
                continue  # older than the tier keeps
            encoded.pop(start, None)
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
        """The whole history as compact JSON.

        Version 2: each bucket is ``[start, [domain names], [[name index, hypercall, sub-op,
        count], ...]]``, so a name is written once per bucket and a bucket's bytes can be
        kept until it changes.
        """
        tiers: list[list[bytes]] = []
        for buckets, encoded in zip(self._tiers, self._encoded, strict=True):
            parts = [
                encoded.get(start) or _encode_bucket(start, counts) for start, counts in buckets
            ]
            encoded.clear()
            encoded.update((start, part) for (start, _), part in zip(buckets, parts, strict=True))
            tiers.append(parts)
        return encode_parts(_FORMAT_VERSION, self.last_ts, tiers, dropped=self.dropped)

    @classmethod
    def from_json(cls, data: bytes) -> CallHistory:
        """Restores :meth:`to_json` output (version 2, or version 1 of session 7).

        Raises:
            InvalidArgument: The document is malformed.
        """
        doc = decode(data, "call history", _READABLE, len(CALL_TIERS))
        history = cls()
        with malformed("call history"):
            history.last_ts = doc["last_ts"]
            history.dropped = int(doc["dropped"])
            for tier, buckets, raw in zip(CALL_TIERS, history._tiers, doc["tiers"], strict=True):
                for bucket in raw[-(tier.span_s // tier.step_s + 1) :]:
                    if doc["version"] == 1:  # [start, [[domain, nr, sub, n], ...]]
                        start, rows = bucket
                        names = None
                    else:
                        start, names, rows = bucket
                    buckets.append((int(start), _decode_rows(rows, names)))
                if any(a[0] >= b[0] for a, b in pairwise(buckets)):
                    raise ValueError("buckets out of order")
        history.to_json()  # keeps every bucket encoded (in the loader's worker thread)
        return history


def _encode_bucket(start: int, counts: dict[Key, int]) -> bytes:
    index: dict[str, int] = {}
    rows = [[index.setdefault(d, len(index)), nr, sub, n] for (d, nr, sub), n in counts.items()]
    return json.dumps([start, list(index), rows], separators=(",", ":")).encode()


def _decode_rows(rows: list[list[Any]], names: list[Any] | None) -> dict[Key, int]:
    counts: dict[Key, int] = {}
    for d, nr, sub, n in rows[:MAX_KEYS]:
        if names is None:
            name = str(d)
        elif isinstance(d, int) and 0 <= d < len(names):
            name = str(names[d])
        else:
            raise ValueError(f"no domain #{d!r}")
        counts[(name, int(nr), int(sub))] = int(n)
    return counts
