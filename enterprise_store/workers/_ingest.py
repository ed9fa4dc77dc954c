"""Ingestion: every host's violations and statistics into the history tables, exactly once.

Three tasks under one ``TaskGroup``:

- the **reader** takes :class:`HostEvent` s from a :class:`HostEventSource` (one stream for
  every host) and turns them into rows. Per host it keeps the position it has queued up
  to. After a (re)connection it first asks the host whether it is still the same run of
  its XPS (seq numbering restarts with each run, so a restarted daemon starts a new
  *epoch*) and fetches what it missed with ``GetViolations(since_seq)``; a batch that
  skips seqs (events dropped on the way) is filled the same way. Records the host no
  longer holds are counted as ``lost``, never invented.
- the **writer** is the one task that writes: it takes up to ``batch_rows`` rows or what
  arrived within ``batch_s`` of the first, and stores them with the driver's
  ``executemany`` in one unit together with the hosts' cursors. A restarted ingester
  resumes from those cursors, so nothing is stored twice and nothing is skipped.
- the **pruner** deletes what is past retention in small batches, each its own unit, so
  ingestion batches interleave with it.

Between reader and writer sits a queue bounded in rows. Violations wait for room
(back-pressure: the reader stops reading, the source's own bounded buffers fill, and what
they drop comes back through ``since_seq``); a statistics sample that finds the queue full
is dropped and counted (the next sample is as good). A batch the store refuses for good
is dropped and counted; one it cannot take now (database down) is retried with back-off,
holding the queue, so a PostgreSQL restart loses nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from enterprise_store._errors import Conflict, StoreUnavailable
from enterprise_store.store import Store
from enterprise_store.store._history_repo import Attribution, HistoryRepo, StoredCursor
from enterprise_store.store._history_schema import STATS_TIERS, StatsTier
from enterprise_store.workers._ingest_rows import I64, Item, as_int, stats_item, violation_rows

__all__ = [
    "STATS_TIERS",
    "HostEvent",
    "HostEventSource",
    "IngestConfig",
    "IngestSnapshot",
    "Ingester",
    "StatsTier",
]

log = logging.getLogger("enterprise_store.ingest")

EventKind = Literal["connected", "violations", "stats"]


@dataclass(frozen=True, slots=True)
class HostEvent:
    """One event of one host.

    Attributes:
        host_id: XE's id of the host.
        kind: ``connected`` (a new connection: resynchronise before trusting events),
            ``violations`` or ``stats`` (the data of the XPS event of that name).
        data: The event's data as the host sent it (validated here, not trusted).
    """

    host_id: str
    kind: EventKind
    data: Mapping[str, Any] = field(default_factory=dict)


class HostEventSource(Protocol):
    """Where events come from: XE's own XPS connections (:class:`XpsHostsSource`) or the
    compute workers' pool. ``get_violations`` raises when the host cannot answer now."""

    def events(self) -> AsyncIterator[HostEvent]:
        """Every host's events as they arrive (ends when the source closes)."""
        ...

    async def get_violations(self, host_id: str, since_seq: int, limit: int) -> Mapping[str, Any]:
        """``GetViolations(since_seq, limit)`` on the host's XPS."""
        ...


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Tunables (defaults are the production values)."""

    batch_rows: int = 1000
    batch_s: float = 0.2
    queue_rows: int = 100_000
    catchup_page: int = 10_000
    violations_keep_s: int = 30 * 86400
    prune_every_s: float = 60.0
    prune_batch: int = 5000
    attribution_check_s: float = 1.0
    retry_max_s: float = 30.0
    tiers: tuple[StatsTier, ...] = STATS_TIERS
    # Several servers on one database: this server's node id; each host is ingested by
    # the one holding its lease (renewed while its events flow, taken over once expired).
    node_id: str | None = None
    lease_s: float = 30.0

    def __post_init__(self) -> None:
        if not (1 <= self.batch_rows <= self.queue_rows):
            raise ValueError("batch_rows must be 1..queue_rows")
        if not self.tiers or self.tiers[0].step_s != 0:
            raise ValueError("the first statistics tier holds the raw samples (step_s 0)")
        if self.violations_keep_s < 60 or self.prune_batch < 1:
            raise ValueError("keep violations at least a minute; prune at least a row at once")


@dataclass(frozen=True, slots=True)
class IngestSnapshot:
    """Counters of an ingester (``/metrics`` renders them).

    Attributes:
        violations: Violation rows stored.
        samples: Statistics rows stored (raw and bucket updates).
        batches: Units written.
        queue_rows: Rows waiting for the writer now; ``queue_limit`` its bound.
        dropped: Rows given up: malformed records, samples that found the queue full,
            batches the store refused.
        lost: Violations gone from a host's window before XE could fetch them.
        restarts: Restarts of a host's XPS detected (new epochs).
        rate: Rows stored per second over the last ten seconds.
        store_ok: The last write succeeded (False while the database is unreachable).
    """

    violations: int
    samples: int
    batches: int
    queue_rows: int
    queue_limit: int
    dropped: int
    lost: int
    restarts: int
    rate: float
    store_ok: bool


class _RowQueue:
    """FIFO bounded by the rows of its items, for one consumer (the writer). An item larger
    than the bound still passes an empty queue, so a big catch-up page cannot wedge it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.rows = 0
        self._items: collections.deque[Item | None] = collections.deque()
        self._not_empty = asyncio.Event()
        self._room = asyncio.Event()

    def _fits(self, n: int) -> bool:
        return self.rows == 0 or self.rows + n <= self.limit

    def _append(self, item: Item | None, n: int) -> None:
        self._items.append(item)
        self.rows += n
        self._not_empty.set()

    async def put(self, item: Item | None) -> None:
        """Enqueues ``item`` (None: the end marker), waiting for room."""
        n = 0 if item is None else item.rows
        while not self._fits(n):
            self._room.clear()
            await self._room.wait()
        self._append(item, n)

    def offer(self, item: Item) -> bool:
        """Enqueues without waiting; False when it does not fit."""
        if not self._fits(item.rows):
            return False
        self._append(item, item.rows)
        return True

    async def take(self, max_rows: int, max_wait: float) -> tuple[list[Item], bool]:
        """Items worth up to ``max_rows`` rows, waiting for the first one indefinitely and
        for more up to ``max_wait`` after it. The flag says the end marker was reached."""
        loop = asyncio.get_running_loop()
        taken: list[Item] = []
        rows = 0
        deadline: float | None = None
        while True:
            while self._items and rows < max_rows:
                item = self._items.popleft()
                if item is None:
                    return taken, True
                taken.append(item)
                rows += item.rows
                self.rows -= item.rows
                self._room.set()
                if deadline is None:
                    deadline = loop.time() + max_wait
            if rows >= max_rows:
                return taken, False
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                return taken, False
            self._not_empty.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._not_empty.wait()


@dataclass(slots=True)
class _HostState:
    cursor: StoredCursor
    synced: bool = False
    # After a failed resync (the host went away), its events wait until this monotonic
    # time or its next connection: the ones still buffered would each fail the same way.
    quiet_until: float = 0.0
    # Until when (wall clock, us) this server holds the host's ingestion lease.
    lease_until_us: int = 0


class _Rate:
    """Rows per second over a sliding window."""

    def __init__(self, window_s: float = 10.0) -> None:
        self._window = window_s
        self._marks: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, now: float, rows: int) -> None:
        self._marks.append((now, rows))
        while self._marks and self._marks[0][0] < now - self._window:
            self._marks.popleft()

    def value(self, now: float) -> float:
        while self._marks and self._marks[0][0] < now - self._window:
            self._marks.popleft()
        if not self._marks:
            return 0.0
        return sum(n for _, n in self._marks) / self._window


def _escape(text: object, limit: int = 200) -> str:
    # Host-sent text reaches the log: no newline or control character may forge a line.
    return repr(str(text)[:limit])


class Ingester:
    """Stores the events of a :class:`HostEventSource` in the history tables.

    Args:
        store: The open store (its one writer serialises this with every other write).
        source: The hosts' events.
        config: Tunables.
        clock: Wall clock in seconds (tests move it to exercise retention).
    """

    def __init__(
        self,
        store: Store,
        source: HostEventSource,
        *,
        config: IngestConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or IngestConfig()
        self.repo = HistoryRepo(store)
        self._source = source
        self._clock = clock
        self._queue = _RowQueue(self.config.queue_rows)
        self._hosts: dict[str, _HostState] = {}
        self._attr = Attribution(version=-1, seclabel_enclave={}, vm_by_name={})
        self._attr_checked = -math.inf
        self._rate = _Rate()
        self._violations = 0
        self._samples = 0
        self._batches = 0
        self._dropped = 0
        self._restarts = 0
        self._store_ok = True
        self._lost_logged: dict[str, int] = {}
        self.started = asyncio.Event()

    # -- public --------------------------------------------------------------------------

    def snapshot(self) -> IngestSnapshot:
        """The counters now."""
        return IngestSnapshot(
            violations=self._violations,
            samples=self._samples,
            batches=self._batches,
            queue_rows=self._queue.rows,
            queue_limit=self._queue.limit,
            dropped=self._dropped,
            lost=sum(h.cursor.lost for h in self._hosts.values()),
            restarts=self._restarts,
            rate=round(self._rate.value(time.monotonic()), 1),
            store_ok=self._store_ok,
        )

    @property
    def source_dropped(self) -> int | None:
        """Events the source's buffers dropped, when the source counts them."""
        value = getattr(self._source, "dropped_events", None)
        return value if isinstance(value, int) else None

    async def run(self) -> None:
        """Ingests until cancelled, or until the source ends and the queue is written."""
        self._hosts = {
            host: _HostState(cursor)
            for host, cursor in (await self._retry(self.repo.load_cursors)).items()
        }
        async with asyncio.TaskGroup() as tasks:
            writer = tasks.create_task(self._writer(), name="ingest-writer")
            pruner = tasks.create_task(self._pruner(), name="ingest-pruner")
            self.started.set()
            await self._reader()
            await self._queue.put(None)
            await writer
            pruner.cancel()

    async def prune_now(self) -> dict[str, int]:
        """Runs one retention pass now; returns rows deleted per table (tests, CLI)."""
        return await self._prune_once()

    # -- reader --------------------------------------------------------------------------

    async def _reader(self) -> None:
        async for event in self._source.events():
            await self._refresh_attribution()
            state = self._host(event.host_id)
            if self.config.node_id is not None and not await self._leased(event.host_id):
                continue  # another server ingests this host
            try:
                if event.kind == "connected":
                    state.synced = False
                    state.quiet_until = 0.0
                    await self._resync(event.host_id)
                elif event.kind == "violations":
                    if state.synced or time.monotonic() >= state.quiet_until:
                        await self._on_violations(event.host_id, event.data)
                elif event.kind == "stats":
                    self._on_stats(event.host_id, event.data)
            except Exception as exc:
                # The host went away mid-catch-up or sent something unusable: its next
                # connection (or a later event) resynchronises from the cursor.
                state.synced = False
                state.quiet_until = time.monotonic() + 1.0
                log.warning(
                    "ingest: host %s: %s: %s",
                    _escape(event.host_id, 40),
                    type(exc).__name__,
                    _escape(exc),
                )

    async def _leased(self, host_id: str) -> bool:
        """Whether this server holds (or now takes) the host's ingestion lease. A host
        taken over starts from the cursor stored by whoever ingested it before."""
        assert self.config.node_id is not None
        state = self._host(host_id)
        now = int(self._clock() * 1_000_000)
        lease_us = int(self.config.lease_s * 1_000_000)
        if state.lease_until_us - now > lease_us // 2:
            return True
        held = state.lease_until_us > now
        try:
            claimed = await self.repo.claim_host(host_id, self.config.node_id, now, now + lease_us)
            stored = None if held or not claimed else await self.repo.load_cursor(host_id)
        except Exception as exc:
            log.warning("ingest: lease of host %s: %s", _escape(host_id, 40), _escape(exc))
            return held
        if not claimed:
            state.lease_until_us = 0
            state.synced = False
            return False
        state.lease_until_us = now + lease_us
        if not held:
            if stored is not None:
                state.cursor = stored
            state.synced = False  # resynchronise from that cursor before trusting events
        return True

    def _host(self, host_id: str) -> _HostState:
        state = self._hosts.get(host_id)
        if state is None:
            state = self._hosts[host_id] = _HostState(StoredCursor(host_id))
        return state

    async def _refresh_attribution(self) -> None:
        now = time.monotonic()
        if now - self._attr_checked < self.config.attribution_check_s:
            return
        self._attr_checked = now
        try:
            if await self.repo.head_version() != self._attr.version:
                self._attr = await self.repo.attribution()
        except Exception as exc:
            # Attribute with what we know; the writer waits for the store anyway.
            log.warning("ingest: attribution not refreshed: %s", _escape(exc))

    async def _resync(self, host_id: str) -> None:
        state = self._host(host_id)
        cur = state.cursor
        if cur.epoch == 0:
            cur = dataclasses.replace(cur, epoch=1)
        elif cur.seq > 0 and await self._restarted(host_id, cur):
            self._restarts += 1
            log.info("ingest: host %s: its XPS restarted; new epoch", _escape(host_id, 40))
            cur = dataclasses.replace(cur, epoch=cur.epoch + 1, seq=0, ts_ns=0)
        if cur != state.cursor:
            state.cursor = cur
            await self._queue.put(Item(host_id, cursor=self._stamp(cur)))
        await self._catch_up(host_id)
        state.synced = True

    async def _restarted(self, host_id: str, cur: StoredCursor) -> bool:
        """Whether the host's XPS numbers from a new run since ``cur`` was stored."""
        probe = await self._source.get_violations(host_id, cur.seq - 1, 1)
        last = as_int(probe.get("last_seq"))
        if last is None or last < cur.seq:
            return True
        records = probe.get("violations")
        if isinstance(records, list) and records and isinstance(records[0], Mapping):
            seq, ts_ns = as_int(records[0].get("seq")), as_int(records[0].get("ts_ns"))
            if seq == cur.seq:
                return ts_ns != cur.ts_ns
            if seq is not None and ts_ns is not None and seq > cur.seq:
                # The record left the window; one of the same run cannot be older.
                return ts_ns < cur.ts_ns
        return False

    async def _catch_up(self, host_id: str) -> None:
        state = self._host(host_id)
        while True:
            page = await self._source.get_violations(
                host_id, state.cursor.seq, self.config.catchup_page
            )
            records = page.get("violations")
            if not isinstance(records, list) or not records:
                self._note_dropped(state, page)
                return
            before = state.cursor.seq
            await self._enqueue_violations(host_id, records, page)
            last = as_int(page.get("last_seq"))
            if (
                state.cursor.seq == before
                or last is None
                or state.cursor.seq >= last
                or len(records) < self.config.catchup_page
            ):
                return

    async def _on_violations(self, host_id: str, data: Mapping[str, Any]) -> None:
        state = self._host(host_id)
        last = as_int(data.get("last_seq"))
        if state.synced and last is not None and last < state.cursor.seq:
            state.synced = False  # numbering went back: a new run the source did not announce
        if not state.synced:
            await self._resync(host_id)
            return
        records = data.get("violations")
        if not isinstance(records, list) or not records:
            self._note_dropped(state, data)
            return
        first = as_int(records[0].get("seq")) if isinstance(records[0], Mapping) else None
        if first is not None and first > state.cursor.seq + 1:
            # Events went missing on the way (a full buffer): fetch the gap and these.
            await self._catch_up(host_id)
            return
        await self._enqueue_violations(host_id, records, data)

    def _note_dropped(self, state: _HostState, data: Mapping[str, Any]) -> None:
        dropped = as_int(data.get("dropped"))
        if dropped is not None and 0 <= dropped <= I64:
            state.cursor = dataclasses.replace(state.cursor, host_dropped=dropped)

    async def _enqueue_violations(
        self, host_id: str, records: Sequence[Any], data: Mapping[str, Any]
    ) -> None:
        state = self._host(host_id)
        self._note_dropped(state, data)
        rows, cursor, rejected = violation_rows(host_id, state.cursor, records, self._attr)
        if rejected:
            self._dropped += rejected
            log.warning(
                "ingest: host %s sent %d malformed violations", _escape(host_id, 40), rejected
            )
        if cursor.lost > self._lost_logged.get(host_id, 0):
            log.warning(
                "ingest: host %s: %d violations left its window before XE fetched them",
                _escape(host_id, 40),
                cursor.lost - self._lost_logged.get(host_id, 0),
            )
            self._lost_logged[host_id] = cursor.lost
        if cursor == state.cursor and not rows:
            return
        state.cursor = cursor
        await self._queue.put(Item(host_id, violations=rows, cursor=self._stamp(cursor)))

    def _on_stats(self, host_id: str, data: Mapping[str, Any]) -> None:
        item = stats_item(host_id, data, self._attr, self.config.tiers)
        if item is None:
            self._dropped += 1
            log.warning("ingest: host %s sent a malformed statistics sample", _escape(host_id, 40))
            return
        if not self._queue.offer(item):
            self._dropped += len(item.raw)

    def _stamp(self, cursor: StoredCursor) -> StoredCursor:
        return dataclasses.replace(cursor, updated_at_us=int(self._clock() * 1_000_000))

    # -- writer --------------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            items, done = await self._queue.take(self.config.batch_rows, self.config.batch_s)
            if items:
                await self._write(items)
            if done:
                return

    async def _write(self, items: list[Item]) -> None:
        violations: list[tuple[Any, ...]] = []
        raw: list[tuple[Any, ...]] = []
        buckets: dict[tuple[Any, ...], list[Any]] = {}
        cursors: dict[str, StoredCursor] = {}
        for item in items:
            violations.extend(item.violations)
            raw.extend(item.raw)
            for row in item.buckets:
                key = row[:4]
                held = buckets.get(key)
                if held is None:
                    buckets[key] = list(row)
                else:
                    for i in (4, 5, 6, 7):
                        held[i] += row[i]
                    held[8], held[9] = row[8], row[9]
            if item.cursor is not None:
                cursors[item.host_id] = item.cursor
        bucket_rows = [tuple(b) for b in buckets.values()]
        rows = len(violations) + len(raw) + len(bucket_rows)
        lease = None
        if self.config.node_id is not None:
            lease = (self.config.node_id, int(self._clock() * 1_000_000))
        left_out: set[str] = set()
        try:
            try:
                left_out = await self._retry(
                    lambda: self.repo.write_batch(
                        violations, raw, bucket_rows, cursors.values(), lease=lease
                    )
                )
            except Conflict as exc:
                # Only a second ingester on the same database gets here (the cursors rule
                # out our own repeats): keep the samples and cursors, count the violations.
                log.error("ingest: %d violations refused by the store: %s", len(violations), exc)
                self._dropped += len(violations)
                rows -= len(violations)
                violations = []
                await self._retry(
                    lambda: self.repo.write_batch((), raw, bucket_rows, cursors.values())
                )
        except Exception:
            # A bug or a value the database refuses: lose this batch, not the ingester.
            log.exception("ingest: a batch of %d rows could not be stored", rows)
            self._dropped += rows
            return
        if left_out:
            # Another server took these hosts over: it stores them from the stored cursor.
            for host_id in left_out:
                state = self._host(host_id)
                state.lease_until_us = 0
                state.synced = False
            violations = [r for r in violations if r[0] not in left_out]
            raw = [r for r in raw if r[0] not in left_out]
            bucket_rows = [r for r in bucket_rows if r[0] not in left_out]
        self._violations += len(violations)
        self._samples += len(raw) + len(bucket_rows)
        self._batches += 1
        self._rate.add(time.monotonic(), len(violations) + len(raw))

    async def _retry(self, call: Callable[[], Any]) -> Any:
        delay = 0.1
        while True:
            try:
                result = await call()
            except Exception as exc:
                if not _transient(exc):
                    raise
                if self._store_ok:
                    log.warning("ingest: store unavailable, retrying: %s", _escape(exc))
                self._store_ok = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.retry_max_s)
                continue
            if not self._store_ok:
                log.info("ingest: store available again")
            self._store_ok = True
            return result

    # -- pruner --------------------------------------------------------------------------

    async def _pruner(self) -> None:
        while True:
            await asyncio.sleep(self.config.prune_every_s)
            try:
                await self._prune_once()
            except Exception as exc:
                # Retention waits for the next round; ingestion must not stop for it.
                log.warning("ingest: pruning postponed: %s", _escape(exc))

    async def _prune_once(self) -> dict[str, int]:
        now_us = int(self._clock() * 1_000_000)
        batch = self.config.prune_batch
        deleted = {"violations": 0, "stats": 0}
        horizon = now_us - self.config.violations_keep_s * 1_000_000
        while True:
            n = await self.repo.prune_violations(horizon, batch)
            deleted["violations"] += n
            if n < batch:
                break
            await asyncio.sleep(0)  # let a waiting ingestion batch take the writer
        for tier, spec in enumerate(self.config.tiers):
            horizon = now_us - spec.keep_s * 1_000_000
            while True:
                n = await self.repo.prune_stats(tier, horizon, batch)
                deleted["stats"] += n
                if n < batch:
                    break
                await asyncio.sleep(0)
        return deleted


_TRANSIENT = frozenset(
    {
        "ConnectionDoesNotExistError",  # asyncpg: the server went away mid-operation
        "CannotConnectNowError",  # PostgreSQL starting up or shutting down
        "InterfaceError",
        "OperationalError",  # SQLite: locked for longer than busy_timeout
    }
)


def _transient(exc: BaseException) -> bool:
    """Whether retrying can cure a failed write: the database or the connection went away
    (PostgreSQL restarting), not a refusal of the rows themselves."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, StoreUnavailable | OSError | TimeoutError):
            return True
        if getattr(seen, "connection_invalidated", False) or type(seen).__name__ in _TRANSIENT:
            return True
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str) and state.startswith(("08", "57P")):
            return True  # connection exception, operator intervention (shutdown)
        seen = seen.__cause__ or seen.__context__
    return False
