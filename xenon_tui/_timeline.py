"""One time axis for an incident: violations, metrics, operator actions, policy versions and
propagation events, merged and kept columnar so 100,000 events reach the screen at once.

A :class:`Timeline` holds its events sorted by time in parallel columns (``array('d')`` of
timestamps, a ``bytearray`` of kinds, an ``array('q')`` of counts) and the source records as
given, in runs (no copy of them). Nothing per event is built until it is shown: the chart's
bucket counts come from per-kind cumulative sums found by bisection (O(width · log n)), the
list formats only the rows on screen. Metrics are series of values, not events, and are kept
apart (:class:`Series`).

No column is a Python container of one object per event: a new list of 100k references
is walked by the garbage collector's next young collections (twice, ~15 ms each on a slow
machine), before the first frame. The columns are arrays (not tracked) and the records stay
in the sequences they came in, which a timeline keeps: they must not change after ``add``.
"""

from __future__ import annotations

import bisect
import calendar
import itertools
import operator
import re
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS: tuple[str, ...] = ("violation", "action", "domain", "policy", "propagation")
"""Event kinds, in the chart's row order."""

KIND_LABELS: Mapping[str, str] = {
    "violation": "Violations",
    "action": "Operator",
    "domain": "Domains",
    "policy": "Policy",
    "propagation": "Propagation",
}

MAX_EVENTS = 1_000_000
"""A timeline keeps at most this many events (the newest): memory stays bounded."""

_INSERT_MAX = 256
"""Up to this many records are inserted in place into a sorted timeline; more re-sort it."""


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One event as shown and exported.

    Attributes:
        ts: Epoch seconds.
        kind: One of :data:`KINDS`.
        subject: What it is about (a domain, a host, a policy generation).
        summary: One line for the list.
        count: How many occurrences it stands for (a violation record may sum several).
        detail: Extra facts for the report (hashes, a diff, the operator, a note).
    """

    ts: float
    kind: str
    subject: str
    summary: str
    count: int = 1
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Series:
    """A metric over time (e.g. a domain's CPU %): points ``(ts, value)`` in time order."""

    name: str
    unit: str
    points: tuple[tuple[float, float], ...]

    def buckets(self, start: float, end: float, width: int) -> list[float | None]:
        """The largest value in each of ``width`` equal buckets of [start, end) (None: no
        sample)."""
        out: list[float | None] = [None] * width
        if width <= 0 or end <= start:
            return out
        step = (end - start) / width
        for ts, value in self.points:
            if start <= ts < end:
                i = min(width - 1, int((ts - start) / step))
                current = out[i]
                out[i] = value if current is None else max(current, value)
        return out


Formatter = Callable[[Any], TimelineEvent]
"""Turns one source record into the event shown for it."""


_ONES = array("q", [1])
_MAX_RUNS = 1024
"""More runs than this (many small inserts) and the records are gathered into one list."""


@dataclass(frozen=True, slots=True)
class _Source:
    """Records as added: every one formatted by ``formatter`` (an index into the timeline's
    formatters), or record k by ``formatter_of[k]`` (a gathered source)."""

    records: Sequence[Any]
    formatter: int
    formatter_of: array[int] | None = None


class Timeline:
    """Events of several kinds on one time axis; records are formatted only when shown.

    Args:
        title: What the timeline is of (``incident 7``, ``xenon-1``, ``EA-domu-1``).
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self._ts = array("d")
        self._kinds = bytearray()
        self._counts = array("q")
        self._formatters: list[Formatter] = []
        self._sources: list[_Source] = []
        # The records in time order: runs [source, offset in it, length]; one run per add
        # while adds come in order, a few more per event inserted among them.
        self._runs: list[list[int]] = []
        self._run_starts: array[int] | None = None  # position of each run's first event
        self.series: list[Series] = []
        self._cum: _Cumulative | None = None
        self._dirty = False  # records were added: order and trim before the next read

    # -- building ---------------------------------------------------------------------------

    def add(
        self,
        kind: str,
        records: Sequence[Any],
        times: Sequence[float],
        fmt: Formatter,
        counts: Sequence[int] | None = None,
    ) -> None:
        """Adds records of one kind (any order): ``times[i]`` is record i's epoch seconds,
        ``fmt`` makes its :class:`TimelineEvent` when shown, ``counts[i]`` how many
        occurrences it stands for (default 1, at least 1)."""
        if kind not in KINDS:
            raise ValueError(f"unknown timeline kind {kind!r}")
        if len(times) != len(records) or (counts is not None and len(counts) != len(records)):
            raise ValueError("one time (and count) per record")
        if not records:
            return
        code = KINDS.index(kind)
        self._formatters.append(fmt)
        which = len(self._formatters) - 1
        held = len(self._ts)
        if not self._dirty and held and len(records) <= _INSERT_MAX:
            # A few events (operator actions, policy versions) into a long sorted timeline:
            # each goes in at its place (a memmove per column, a run split) instead of a
            # full re-sort. A few records: copied, the caller may reuse its list.
            source = len(self._sources)
            self._sources.append(_Source(list(records), which))
            for k, (ts, n) in enumerate(
                zip(times, itertools.repeat(1) if counts is None else counts, strict=False)
            ):
                i = bisect.bisect_right(self._ts, ts)
                self._ts.insert(i, ts)
                self._kinds.insert(i, code)
                self._counts.insert(i, max(1, n))
                self._insert_run(i, source, k)
            if len(self._runs) > _MAX_RUNS:
                self._gather()
        else:
            # Timsort of an ordered list is one C pass with no comparison objects (~1 ms for
            # 100k against ~13 ms for map(operator.le, ...)); times are never NaN.
            listed = times if isinstance(times, list) else list(times)
            in_order = listed == sorted(listed)
            self._ts.fromlist(listed)  # preallocated: extend() from a list grows per item (x2)
            # Constant columns are repeated in C (no int object per record): 100k counts
            # of 1 converted one by one took ~20 ms of a 100k first frame.
            self._kinds += bytes((code,)) * len(records)
            self._sources.append(_Source(records, which))
            self._runs.append([len(self._sources) - 1, 0, len(records)])
            self._run_starts = None
            if counts is None:
                self._counts += _ONES * len(records)
            else:
                self._counts.extend(counts)
            if not in_order or (held and self._ts[held - 1] > times[0]):
                self._dirty = True
        if len(self._ts) > MAX_EVENTS:
            self._dirty = True
        self._cum = None

    def add_events(self, events: Iterable[TimelineEvent]) -> None:
        """Adds ready-made events (operator actions, policy versions: a few, not 100k)."""
        by_kind: dict[str, list[TimelineEvent]] = {}
        for e in events:
            by_kind.setdefault(e.kind, []).append(e)
        for kind, rows in by_kind.items():
            self.add(kind, rows, [e.ts for e in rows], _same, [max(1, e.count) for e in rows])

    def add_series(self, series: Series) -> None:
        """Adds a metric series (drawn under the event rows)."""
        self.series.append(series)

    def _ready(self) -> None:
        """Puts the columns in time order (stable: equal times keep their arrival order)
        and keeps at most MAX_EVENTS, once after any number of adds."""
        if not self._dirty:
            return
        self._dirty = False
        ts = self._ts
        if len(ts) > 1 and not all(map(operator.le, ts, itertools.islice(ts, 1, None))):
            # Sources arrive as sorted runs: timsort merges them in O(n), and itemgetter
            # gathers each column in C (~20 ms for 100k events, not ~250 with genexprs).
            order = sorted(range(len(ts)), key=ts.__getitem__)
            gather = operator.itemgetter(*order)
            records, formatter_of = self._in_order()
            self._ts = array("d", gather(ts))
            self._kinds = bytearray(gather(self._kinds))
            self._counts = array("q", gather(self._counts))
            self._set_records(list(gather(records)), array("I", gather(formatter_of)))
        extra = len(self._ts) - MAX_EVENTS
        if extra > 0:
            del self._ts[:extra], self._kinds[:extra], self._counts[:extra]
            # Gathered and cut: the oldest records are no longer held (memory stays bounded).
            records, formatter_of = self._in_order()
            del records[:extra], formatter_of[:extra]
            self._set_records(records, formatter_of)
        self._cum = None

    # -- the records, in runs -----------------------------------------------------------------

    def _starts(self) -> array[int]:
        """Each run's first position, and the number of events last."""
        if self._run_starts is None:
            lengths = (run[2] for run in self._runs)
            self._run_starts = array("q", itertools.accumulate(lengths, initial=0))
        return self._run_starts

    def _insert_run(self, i: int, source: int, k: int) -> None:
        """Record ``k`` of ``source`` goes in at position ``i`` (those from ``i`` move up)."""
        runs, starts = self._runs, self._starts()
        self._run_starts = None
        r = bisect.bisect_right(starts, i) - 1  # the run holding position i (or past the end)
        if r < len(runs) and starts[r] < i:  # inside a run: split it around the new one
            s, offset, length = runs[r]
            before = i - starts[r]
            runs[r : r + 1] = [
                [s, offset, before],
                [source, k, 1],
                [s, offset + before, length - before],
            ]
            return
        # At a run's start (or the end): it follows the run before when it continues it.
        previous = runs[r - 1] if r > 0 else None
        if previous is not None and previous[0] == source and previous[1] + previous[2] == k:
            previous[2] += 1
        else:
            runs.insert(r, [source, k, 1])

    def _in_order(self) -> tuple[list[Any], array[int]]:
        """Every record in time order, and the index of its formatter (a copy; slices in C)."""
        records: list[Any] = []
        formatter_of = array("I")
        for s, offset, length in self._runs:
            source = self._sources[s]
            records += source.records[offset : offset + length]
            if source.formatter_of is None:
                formatter_of += array("I", [source.formatter]) * length
            else:
                formatter_of += source.formatter_of[offset : offset + length]
        return records, formatter_of

    def _set_records(self, records: list[Any], formatter_of: array[int]) -> None:
        self._sources = [_Source(records, -1, formatter_of)]
        self._runs = [[0, 0, len(records)]] if records else []
        self._run_starts = None

    def _gather(self) -> None:
        """One run again (after many inserts): the records gathered into one list."""
        self._set_records(*self._in_order())

    # -- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        self._ready()
        return len(self._ts)

    @property
    def start(self) -> float:
        """Time of the first event or sample (0 when empty)."""
        self._ready()
        firsts = [self._ts[0]] if self._ts else []
        firsts += [s.points[0][0] for s in self.series if s.points]
        return min(firsts, default=0.0)

    @property
    def end(self) -> float:
        """Time of the last event or sample (0 when empty)."""
        self._ready()
        lasts = [self._ts[-1]] if self._ts else []
        lasts += [s.points[-1][0] for s in self.series if s.points]
        return max(lasts, default=0.0)

    def ts(self, index: int) -> float:
        """The time of event ``index``."""
        self._ready()
        return self._ts[index]

    def kind(self, index: int) -> str:
        """The kind of event ``index``."""
        self._ready()
        return KINDS[self._kinds[index]]

    def event(self, index: int) -> TimelineEvent:
        """Event ``index`` (0: the oldest), formatted now."""
        self._ready()
        n = len(self._ts)
        if not -n <= index < n:
            raise IndexError("timeline index out of range")
        index %= n
        starts = self._starts()
        r = bisect.bisect_right(starts, index) - 1
        s, offset, _ = self._runs[r]
        source = self._sources[s]
        k = offset + index - starts[r]
        which = source.formatter if source.formatter_of is None else source.formatter_of[k]
        return self._formatters[which](source.records[k])

    def events(self, kinds: Iterable[str] | None = None) -> Iterable[TimelineEvent]:
        """Every event in time order (formatted one by one), optionally of some kinds."""
        self._ready()
        wanted = None if kinds is None else {KINDS.index(k) for k in kinds}
        i = 0
        for s, offset, length in list(self._runs):
            source, formatters = self._sources[s], self._formatters
            for k in range(offset, offset + length):
                if wanted is None or self._kinds[i] in wanted:
                    which = (
                        source.formatter if source.formatter_of is None else source.formatter_of[k]
                    )
                    yield formatters[which](source.records[k])
                i += 1

    def index_at(self, ts: float) -> int:
        """How many events happened at or before ``ts`` (the cursor's position)."""
        self._ready()
        return bisect.bisect_right(self._ts, ts)

    def totals(self) -> dict[str, int]:
        """Occurrences per kind (violation records count what they stand for)."""
        cum = self._cumulative()
        out = {KINDS[k]: int(c[-1]) for k, (_, c) in cum.minority.items()}
        if cum.majority is not None:
            out[KINDS[cum.majority]] = cum.total - sum(out.values())
        return {k: out[k] for k in KINDS if k in out}

    def buckets(self, kind: str, start: float, end: float, width: int) -> list[int]:
        """Occurrences of ``kind`` in each of ``width`` equal buckets of [start, end]."""
        if width <= 0:
            return []
        if end < start:
            return [0] * width
        cum = self._cumulative()
        code = KINDS.index(kind)
        if code in cum.minority:
            return _bucket_sums(*cum.minority[code], start, end, width)
        if code != cum.majority:
            return [0] * width
        # The kind most events are of is not copied out: every event's counts, less the
        # other kinds' (a few hundred operator and policy events beside 100k violations).
        positions = _positions(self._ts, start, end, width)
        if cum.unit:  # every event counts 1: no sums to take
            counts = [b - a for a, b in itertools.pairwise(positions)]
        else:
            counts = [sum(self._counts[a:b]) for a, b in itertools.pairwise(positions)]
        for times, sums in cum.minority.values():
            other = _bucket_sums(times, sums, start, end, width)
            counts = [a - b for a, b in zip(counts, other, strict=True)]
        return counts

    def _cumulative(self) -> _Cumulative:
        """The sum of every count, and running sums per kind for the kinds that are not
        the majority (a few found by ``bytearray.find``, more by a 0/1 mask of the kinds
        column, both in C). No running sum of every event: building one (100k new ints)
        cost more than the rest of the first frame's arithmetic, and the chart needs a
        sum per column only."""
        self._ready()
        if self._cum is None:
            kinds, n = self._kinds, len(self._kinds)
            present = {code: c for code in range(len(KINDS)) if (c := kinds.count(code))}
            majority = next((c for c, k in present.items() if 2 * k > n), None)
            minority: dict[int, tuple[array[float], array[int]]] = {}
            for code, k in present.items():
                if code == majority:
                    continue
                if 8 * k < n:  # a few: found by memchr, not by a pass over every event
                    where = []
                    i = kinds.find(code)
                    while i >= 0:
                        where.append(i)
                        i = kinds.find(code, i + 1)
                    times = array("d", [self._ts[i] for i in where])
                    sums = array("q", itertools.accumulate(self._counts[i] for i in where))
                else:
                    mask = kinds.translate(bytes(int(i == code) for i in range(256)))
                    times = array("d", itertools.compress(self._ts, mask))
                    sums = array("q", itertools.accumulate(itertools.compress(self._counts, mask)))
                minority[code] = (times, sums)
            # Every event counts 1 (compared as bytes: no int object per event).
            unit = self._counts.tobytes() == array("q", [1]).tobytes() * n
            total = n if unit else sum(self._counts)
            self._cum = _Cumulative(total, unit, majority, minority)
        return self._cum


@dataclass(frozen=True, slots=True)
class _Cumulative:
    total: int
    unit: bool
    majority: int | None
    minority: dict[int, tuple[array[float], array[int]]]


def _positions(times: array[float], start: float, end: float, width: int) -> list[int]:
    """Where each of ``width`` equal buckets of [start, end] begins in ``times``, and
    where the last one ends (bisection: O(width · log n))."""
    step = (end - start) / width if end > start else 1.0
    last = bisect.bisect_right(times, end)
    # min(): with start == end the columns' starts pass ``end``; nothing after it counts.
    positions = [min(last, bisect.bisect_left(times, start + step * i)) for i in range(width)]
    positions.append(last)
    return positions


def _bucket_sums(
    times: array[float], sums: array[int], start: float, end: float, width: int
) -> list[int]:
    """Per bucket of [start, end], the counts of the events at ``times`` (``sums`` their
    running sum)."""
    positions = _positions(times, start, end, width)
    totals = [0 if p == 0 else sums[p - 1] for p in positions]
    return [int(totals[i + 1] - totals[i]) for i in range(width)]


def _same(e: TimelineEvent) -> TimelineEvent:
    return e


# -- the console's records as timeline events ---------------------------------------------


def violation_ts(v: Mapping[str, Any]) -> float:
    """A violation record's time (``ts_ns`` from the host, epoch nanoseconds)."""
    ns = v.get("ts_ns")
    if isinstance(ns, int):
        return ns / 1e9
    ts = v.get("ts")
    return float(ts) if isinstance(ts, int | float) else 0.0


def violation_event(v: Mapping[str, Any]) -> TimelineEvent:
    """A host's violation record as a timeline event: one violation. The record's
    ``count`` is the domain's violation count after it (msm.h), not a number of
    occurrences: it is kept as ``domain_count``, as XE's timeline does."""
    call = str(v.get("hypercall_name") or v.get("hypercall", "?"))
    subop = v.get("subop", -1)
    if isinstance(subop, int) and subop >= 0:
        call += f"/{subop}"
    summary = f"{v.get('domain', '?')}: {v.get('kind', '?')} {call}"
    return TimelineEvent(
        violation_ts(v),
        "violation",
        str(v.get("domain", "?")),
        summary,
        1,
        {
            "seq": v.get("seq"),
            "seclabel": v.get("seclabel_name"),
            "profile": v.get("profile"),
            "hypercall": call,
            "domain_count": v.get("count"),
        },
    )


def add_violations(timeline: Timeline, records: Sequence[Mapping[str, Any]]) -> None:
    """Adds a host's violation records (``GetViolations`` rows, the console's ring): each
    is one violation (its ``count`` is the domain's running count, see
    :func:`violation_event`)."""
    try:  # the hosts' records all carry ts_ns: one pass in a C-level loop
        times = [v["ts_ns"] / 1e9 for v in records]
    except (KeyError, TypeError):
        times = [violation_ts(v) for v in records]
    timeline.add("violation", records, times, violation_event)


_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) MSM: (.*)$")
_LOG_SUBJECT = re.compile(r"^domain \d+ \(([^)]*)\)")
_LOG_POLICY = re.compile(r"^policy .* generation (\d+) in force")


def log_event(line: str, host: str) -> TimelineEvent | None:
    """A line of a host's MSM log (``GetLogMsgs``) as an event: a policy version coming
    into force, an operator's action (the line names who: "… by alice"), or something the
    MSM or the host did to a domain; None for a line not in the log's format."""
    m = _LOG_LINE.match(line)
    if m is None:
        return None
    try:
        ts = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None
    text = m.group(2)
    subject = _LOG_SUBJECT.match(text)
    policy = _LOG_POLICY.match(text)
    if policy is not None:
        return TimelineEvent(ts, "policy", f"{host} generation {policy.group(1)}", text, 1, {})
    kind = "action" if " by " in text else "domain"
    return TimelineEvent(ts, kind, subject.group(1) if subject else host, text, 1, {"host": host})


def add_host_log(timeline: Timeline, lines: Sequence[str], host: str) -> None:
    """Adds a host's MSM log: policy versions, operators' actions, the MSM's own."""
    events = [e for e in (log_event(line, host) for line in lines) if e is not None]
    timeline.add_events(events)


def domain_cpu_series(samples: Sequence[Mapping[str, Any]], domain: str | None) -> Series:
    """CPU % over time from ``stats`` samples: one domain's, or the host's when None."""
    points: list[tuple[float, float]] = []
    for s in samples:
        ts = s.get("ts")
        if not isinstance(ts, int | float):
            continue
        if domain is None:
            value = s.get("host", {}).get("cpu_pct")
        else:
            value = next(
                (d.get("cpu_pct") for d in s.get("domains", ()) if d.get("name") == domain),
                None,
            )
        if isinstance(value, int | float):
            points.append((float(ts), float(value)))
    points.sort()
    return Series(f"{domain or 'host'} CPU", "%", tuple(points))


__all__ = [
    "KINDS",
    "KIND_LABELS",
    "MAX_EVENTS",
    "Series",
    "Timeline",
    "TimelineEvent",
    "add_host_log",
    "add_violations",
    "domain_cpu_series",
    "log_event",
    "violation_event",
    "violation_ts",
]
