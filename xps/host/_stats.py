"""Tiered statistics history: 5 s for 10 min, 1 min for 2 h, 1 h for a week (means).

Saved as ``stats.json`` through :mod:`._tiers` (the envelope the allowed-call history
shares).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from xps.protocol import StatsHistory as HistoryResult
from xps.protocol import StatsSeries

from ._errors import InvalidArgument, NotFound
from ._tiers import decode, encode, malformed

__all__ = ["HOST_SERIES", "MAX_FILE", "RANGES", "TIERS", "Sample", "StatsHistory", "Tier"]

HOST_SERIES = "host"
"""Name of the series that holds the whole host (the others are domain names)."""

Sample = tuple[float, float, float]
"""One sample of a series: (cpu_pct, mem_kb, vcpus)."""


@dataclass(frozen=True)
class Tier:
    """One resolution: points ``step_s`` apart, kept for ``span_s`` seconds."""

    step_s: int
    span_s: int


TIERS = (Tier(5, 600), Tier(60, 7200), Tier(3600, 7 * 86400))

# range name -> (tier index, seconds shown)
RANGES: dict[str, tuple[int, int]] = {
    "10m": (0, 600),
    "2h": (1, 7200),
    "1d": (2, 86400),
    "1w": (2, 7 * 86400),
}

_FORMAT_VERSION = 1
#: The largest history file read or written.
MAX_FILE = 64 << 20


@dataclass
class _Series:
    points: deque[list[float]] = field(default_factory=deque)
    # The bucket being filled: index, sample count, sums of cpu, mem, vcpus.
    bucket: int = -1
    n: int = 0
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    def mean_point(self, step: int) -> list[float]:
        c, m, v = (s / self.n for s in self.sums)
        return [float(self.bucket * step), round(c, 3), round(m), round(v, 3)]

    def close_bucket(self, step: int) -> None:
        if self.n:
            self.points.append(self.mean_point(step))
        self.bucket, self.n, self.sums = -1, 0, [0.0, 0.0, 0.0]


class StatsHistory:
    """Keeps per-series means at three resolutions and prunes what is older than each span.

    Not thread-safe; the host calls it from the event loop only.
    """

    def __init__(self) -> None:
        self._tiers: list[dict[str, _Series]] = [{} for _ in TIERS]
        self.last_ts = 0.0
        self.revision = 0  # grows on every change: the file is saved only when it moved

    def add(self, ts: float, samples: Mapping[str, Sample]) -> None:
        """Adds one sample per series taken at wall time ``ts`` (seconds)."""
        if not math.isfinite(ts) or ts <= 0:
            raise InvalidArgument(f"invalid sample time {ts!r}")
        self.last_ts = max(self.last_ts, ts)
        self.revision += 1
        for tier, series_map in zip(TIERS, self._tiers, strict=True):
            bucket = int(ts // tier.step_s)
            for name, values in samples.items():
                series = series_map.get(name)
                if series is None:
                    series = series_map[name] = _Series()
                if series.bucket != bucket:
                    series.close_bucket(tier.step_s)
                    series.bucket = bucket
                series.n += 1
                for i in range(3):
                    series.sums[i] += float(values[i])
            self._expire(tier, series_map, ts, bucket)

    @staticmethod
    def _expire(tier: Tier, series_map: dict[str, _Series], ts: float, bucket: int) -> None:
        horizon = ts - tier.span_s
        for name in list(series_map):
            series = series_map[name]
            if series.bucket != -1 and series.bucket < bucket:
                # The series got no sample in the current bucket (domain gone): close it.
                series.close_bucket(tier.step_s)
            while series.points and series.points[0][0] < horizon:
                series.points.popleft()
            if not series.points and series.n == 0:
                del series_map[name]

    def series_names(self) -> list[str]:
        """Names of the series that have any data in the finest tier or coarser ones."""
        names: set[str] = set()
        for series_map in self._tiers:
            names.update(series_map)
        return sorted(names)

    def history(self, range_name: str, domain: str | None = None) -> HistoryResult:
        """Returns the contract's ``stats_history`` result.

        Args:
            range_name: One of ``10m``, ``2h``, ``1d``, ``1w``.
            domain: Only this series (a domain name or ``"host"``); None for all.

        Raises:
            InvalidArgument: Unknown range.
            NotFound: ``domain`` has no history.
        """
        if range_name not in RANGES:
            raise InvalidArgument(f"unknown range {range_name!r}; use one of {sorted(RANGES)}")
        index, seconds = RANGES[range_name]
        tier = TIERS[index]
        series_map = self._tiers[index]
        horizon = self.last_ts - seconds
        names = sorted(series_map) if domain is None else [domain]
        if domain is not None and domain not in series_map:
            raise NotFound(f"no statistics history for {domain!r}")
        out: list[StatsSeries] = []
        for name in names:
            series = series_map[name]
            points = [list(p) for p in series.points if p[0] >= horizon]
            if series.n:
                points.append(series.mean_point(tier.step_s))
            out.append({"name": name, "points": points})
        return {"range": range_name, "step_s": tier.step_s, "series": out}

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> bytes:
        """Serialises the whole history (compact JSON)."""
        tiers = [
            {
                name: {"points": list(s.points), "acc": [s.bucket, s.n, *s.sums] if s.n else None}
                for name, s in series_map.items()
            }
            for series_map in self._tiers
        ]
        return encode(_FORMAT_VERSION, self.last_ts, tiers)

    @classmethod
    def from_json(cls, data: bytes) -> StatsHistory:
        """Restores a history written by :meth:`to_json`.

        Raises:
            InvalidArgument: The document is malformed.
        """
        doc = decode(data, "statistics file", (_FORMAT_VERSION,), len(TIERS))
        history = cls()
        with malformed("statistics file"):
            history.last_ts = doc["last_ts"]
            for series_map, raw in zip(history._tiers, doc["tiers"], strict=True):
                for name, body in raw.items():
                    series = _Series()
                    for p in body["points"]:
                        if len(p) != 4:
                            raise ValueError("a point has 4 values")
                        series.points.append([float(x) for x in p])
                    acc = body["acc"]
                    if acc is not None:
                        series.bucket, series.n = int(acc[0]), int(acc[1])
                        series.sums = [float(x) for x in acc[2:5]]
                    series_map[str(name)] = series
        return history
