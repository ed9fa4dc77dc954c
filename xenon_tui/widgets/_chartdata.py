"""Pure chart preparation for the Performance history: which series, what axis, which labels.

Points of a ``GetStatsHistory`` series are ``[ts, cpu_pct, mem_kb, vcpus]`` (``ts`` in epoch
seconds, bucket starts of the range's tier).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HOST_SERIES = "host"
"""Name of the whole host's series in a history (the others are domains)."""

OTHER = "other"
"""Label of the summed remainder after the top N."""

TOP_N = 5

METRICS: dict[str, tuple[int, str, float]] = {
    # metric -> (point index, axis title, divisor)
    "cpu": (1, "CPU %", 1.0),
    "mem": (2, "Memory MiB", 1024.0),
}

# Shown range -> seconds it spans, finest first (the host's tiers: xps.host._stats.RANGES).
RANGE_SECONDS: dict[str, int] = {"10m": 600, "2h": 7200, "1d": 86400, "1w": 7 * 86400}


@dataclass(frozen=True)
class Line:
    """One drawn series."""

    name: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]


def _values(points: Iterable[Sequence[Any]], metric: str) -> list[tuple[float, float]]:
    index, _title, divisor = METRICS[metric]
    out = []
    for p in points:
        try:
            ts, value = float(p[0]), float(p[index]) / divisor
        except (IndexError, TypeError, ValueError):
            continue  # a malformed point from the wire is skipped, not drawn as 0
        if math.isfinite(ts) and math.isfinite(value):
            out.append((ts, value))
    return sorted(out)


def domain_series(
    history: Mapping[str, Any] | None, metric: str, needle: str = ""
) -> dict[str, list[tuple[float, float]]]:
    """Domain name -> sorted (ts, value) of ``metric``; the host series and names not
    containing ``needle`` (lower case) are left out, so are series without points."""
    out: dict[str, list[tuple[float, float]]] = {}
    for s in (history or {}).get("series", []) or []:
        name = str(s.get("name", ""))
        if name == HOST_SERIES or (needle and needle not in name.lower()):
            continue
        values = _values(s.get("points", []) or [], metric)
        if values:
            out[name] = values
    return out


def rank(series: Mapping[str, list[tuple[float, float]]]) -> list[str]:
    """Names by mean value over the range, largest first (ties by name)."""
    return sorted(series, key=lambda n: (-sum(v for _, v in series[n]) / len(series[n]), n))


def top_lines(series: Mapping[str, list[tuple[float, float]]], n: int = TOP_N) -> list[Line]:
    """The ``n`` largest series and, if more, one ``other`` line: their sum at each time."""
    names = rank(series)
    lines = [
        Line(name, tuple(t for t, _ in series[name]), tuple(v for _, v in series[name]))
        for name in names[:n]
    ]
    rest = names[n:]
    if rest:
        sums: dict[float, float] = {}
        for name in rest:
            for t, v in series[name]:
                sums[t] = sums.get(t, 0.0) + v
        ts = sorted(sums)
        lines.append(Line(OTHER, tuple(ts), tuple(sums[t] for t in ts)))
    return lines


def single_line(series: Mapping[str, list[tuple[float, float]]], name: str) -> list[Line]:
    """Only ``name``'s line (none if it has no data)."""
    values = series.get(name)
    if not values:
        return []
    return [Line(name, tuple(t for t, _ in values), tuple(v for _, v in values))]


def x_span(lines: Sequence[Line], step_s: float) -> tuple[float, float] | None:
    """Axis bounds: from the first to the last point present; one lone point gets one step
    either side so it is not drawn on a zero-width axis. None without data."""
    xs = [x for line in lines for x in line.xs]
    if not xs:
        return None
    lo, hi = min(xs), max(xs)
    if hi - lo <= 0:
        pad = max(float(step_s), 1.0)
        return lo - pad, hi + pad
    return lo, hi


def clock(ts: float, *, seconds: bool) -> str:
    """Wall-clock (the console's local time) ``HH:MM`` or ``HH:MM:SS``."""
    return time.strftime("%H:%M:%S" if seconds else "%H:%M", time.localtime(ts))


def time_ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], list[str]]:
    """``count`` evenly spaced ticks from ``lo`` to ``hi`` labelled in wall-clock time:
    ``HH:MM:SS`` when the span is under 15 minutes (minutes would repeat), else ``HH:MM``;
    a span over a day prefixes the day (``Mon HH:MM``)."""
    span = hi - lo
    seconds = span < 900
    count = max(count, 2)
    ticks = [lo + span * i / (count - 1) for i in range(count)]
    if span > 86400:
        labels = [time.strftime("%a %H:%M", time.localtime(t)) for t in ticks]
    else:
        labels = [clock(t, seconds=seconds) for t in ticks]
    return ticks, labels


def finer_range(range_name: str, first_ts: float, now: float) -> str | None:
    """The next finer range whose window still holds all data since ``first_ts`` (the
    history is younger than that range), or None. A 7-minute history asked for at "1d"
    is one hourly point; the "10m" tier has it at 5 s steps."""
    names = list(RANGE_SECONDS)
    index = names.index(range_name) if range_name in names else 0
    if index == 0:
        return None
    finer = names[index - 1]
    return finer if first_ts >= now - RANGE_SECONDS[finer] else None


def first_ts(history: Mapping[str, Any] | None) -> float | None:
    """Oldest point time of any series, or None without points."""
    firsts = []
    for s in (history or {}).get("series", []) or []:
        for p in (s.get("points") or [])[:1]:
            try:
                t = float(p[0])
            except (IndexError, TypeError, ValueError):
                continue
            if math.isfinite(t):
                firsts.append(t)
    return min(firsts) if firsts else None


def last_ts(history: Mapping[str, Any] | None) -> float | None:
    """Newest point time of any series, or None without points."""
    lasts = []
    for s in (history or {}).get("series", []) or []:
        points = s.get("points") or []
        if points:
            try:
                t = float(points[-1][0])
            except (IndexError, TypeError, ValueError):
                continue
            if math.isfinite(t):
                lasts.append(t)
    return max(lasts) if lasts else None


DECIMAL_STEPS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
"""A bar chart's scale tops in powers of ten: 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20…"""

BINARY_STEPS = (1.0, 1.5)
"""Scale tops in powers of two (MiB): 1024, 1536, 2048, 3072, 4096…"""

CEILING_SLACK = 0.25
"""A scale top comes down only to one this much above the biggest value (and only when that
is a lower step): values jittering around a step never move the scale back and forth."""


def nice_above(value: float, *, binary: bool = False, floor: float = 1.0) -> float:
    """The smallest scale step (``DECIMAL_STEPS`` or ``BINARY_STEPS`` times a power of ten
    or two) at or above ``value`` and ``floor``."""
    base, steps = (2.0, BINARY_STEPS) if binary else (10.0, DECIMAL_STEPS)
    value = max(float(value), floor, 1.0)
    if not math.isfinite(value):
        raise ValueError(f"no scale for {value!r}")
    power = max(0, math.floor(math.log(value, base)) - 1)
    while True:
        for step in steps:
            top = step * base**power
            if top >= value:
                return top
        power += 1


def bar_ceiling(
    top: float, current: float | None, *, binary: bool = False, floor: float = 1.0
) -> float:
    """The scale top of a bar chart whose biggest value is ``top`` and whose scale is
    ``current`` (None: none yet). A value above ``current`` raises it at once to the next
    step; it comes down only once ``top`` (with ``CEILING_SLACK``) fits under a lower step.
    Between the two it stays, so the bars of a steady host keep their lengths."""
    rise = nice_above(top, binary=binary, floor=floor)
    if current is None or rise > current:
        return rise
    fall = nice_above(top * (1 + CEILING_SLACK), binary=binary, floor=floor)
    return fall if fall < current else current


LABEL_GAP = 3
"""Cells between a bar chart's tick labels beyond the widest one (plotext drops a label
with too little room about it, sometimes the last one: the scale's top)."""


def scale_ticks(ceiling: float, cells: int, gap: int = LABEL_GAP) -> tuple[list[float], list[str]]:
    """Ticks from 0 to ``ceiling`` at even divisions with whole labels (quarters, thirds,
    fifths, halves), as many as leave each label ``gap`` cells of room in ``cells``; when not
    even 0 and the top fit, the top alone: the scale's top is always labelled."""

    def label(value: float) -> str:
        return f"{value:g}" if value != int(value) else str(int(value))

    for parts in (4, 3, 5, 2, 1):
        ticks = [ceiling * i / parts for i in range(parts + 1)]
        if parts > 1 and any(t != int(t) for t in ticks):
            continue  # quarters of 150, fifths of 400: odd labels
        labels = [label(t) for t in ticks]
        if cells / parts >= max(len(t) for t in labels) + gap:
            return ticks, labels
    return [ceiling], [label(ceiling)]
