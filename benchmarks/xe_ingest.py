"""XE history ingestion against the driver's bare ``executemany``, measured in the same run.

``python -m benchmarks.xe_ingest --json`` (also ``ingest_rows_per_s`` of
``python -m benchmarks.xe``) measures:

- ``ingest_rows_per_s``: 100,000 violation records of 10 hosts, as the hosts' XPS send
  them (``violations`` events of 1,000 records, each record the dict of ``GetViolations``),
  through the real :class:`~enterprise_store.workers.Ingester`: the reader validates and
  attributes every record and queues rows, the one writer stores batches of 1,000 with
  the hosts' cursors in one unit (driver-level ``executemany``, ``BEGIN IMMEDIATE``,
  commit), into ``history_violations`` of a migrated SQLite store (WAL, synchronous=FULL,
  its primary key and two indexes). Timed from the first event to the last commit.
- ``raw_executemany_rows_per_s``: the same rows, already tuples, with plain aiosqlite
  ``executemany`` + commit per 1,000 rows into the same table of a second migrated file
  with the same pragmas (no cursors, no validation, no queue).

Medians of 3 alternating rounds; goal ``ingest >= 0.5 x raw``. The source is in memory
(no XPS and no TLS in the measurement): this is the store path, not the network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

ROWS = 100_000
HOSTS = 10
EVENT = 1_000
ROUNDS = 3
RESULTS = Path(__file__).resolve().parent / "results" / "xe_ingest.json"


def progress(message: str) -> None:
    """Progress to stderr (stdout carries only the final JSON)."""
    print(f"[xe-ingest-bench] {message}", file=sys.stderr, flush=True)


def _events(n: int) -> tuple[list[str], list[tuple[str, list[dict[str, Any]]]]]:
    hosts = [str(uuid.UUID(int=i + 1)) for i in range(HOSTS)]
    labels = [str(uuid.UUID(int=1000 + i)) for i in range(40)]
    base = 1_750_000_000_000_000_000
    seqs = dict.fromkeys(hosts, 0)
    events: list[tuple[str, list[dict[str, Any]]]] = []
    for start in range(0, n, EVENT):
        host = hosts[(start // EVENT) % HOSTS]
        records = []
        for i in range(start, min(start + EVENT, n)):
            seqs[host] += 1
            label = labels[i % 40]
            records.append(
                {
                    "seq": seqs[host], "ts": "2025-06-15T12:00:00Z", "ts_ns": base + i * 137_000,
                    "domid": 1 + i % 50, "domain": f"E{i % 40}-domu-{i % 7}", "seclabel": label,
                    "seclabel_name": f"E{i % 40}-seclabel", "profile": "PV-Combined",
                    "kind": ("profile", "rate", "channel")[i % 3], "hypercall": i % 40,
                    "hypercall_name": "x", "subop": i % 256,
                    "peer": 3 if i % 3 == 2 else None, "count": seqs[host],
                }
            )  # fmt: skip
        events.append((host, records))
    return hosts, events


class _Source:
    """The hosts' events in memory: one ``connected`` per host, then the batches."""

    def __init__(self, hosts: list[str], events: list[tuple[str, list[dict[str, Any]]]]) -> None:
        self._hosts = hosts
        self._events = events
        self.started = 0.0

    async def events(self) -> AsyncIterator[Any]:
        from enterprise_store.workers import HostEvent

        self.started = time.perf_counter()
        for host in self._hosts:
            yield HostEvent(host, "connected")
        for host, records in self._events:
            yield HostEvent(
                host, "violations", {"violations": records, "last_seq": records[-1]["seq"]}
            )

    async def get_violations(self, host_id: str, since_seq: int, limit: int) -> Mapping[str, Any]:
        return {"violations": [], "last_seq": 0, "dropped": 0}  # a fresh host: nothing yet


async def _migrated(path: Path) -> None:
    from enterprise_store.store import Store

    async with await Store.open(f"sqlite:///{path}"):
        pass


async def _ingest_once(path: Path, hosts: list[str], events: list[Any]) -> float:
    from enterprise_store.store import Store
    from enterprise_store.workers import IngestConfig, Ingester

    await _migrated(path)
    async with await Store.open(f"sqlite:///{path}") as store:
        source = _Source(hosts, events)
        ingester = Ingester(store, source, config=IngestConfig(prune_every_s=3600))
        await ingester.run()  # returns once the source ended and the last batch committed
        elapsed = time.perf_counter() - source.started
        stored = ingester.snapshot().violations
    if stored != ROWS:
        raise RuntimeError(f"ingested {stored} of {ROWS} rows")
    return ROWS / elapsed


def _tuples(events: list[Any]) -> list[tuple[Any, ...]]:
    rows = []
    for host, records in events:
        for r in records:
            rows.append(
                (host, 1, r["seq"], r["ts_ns"] // 1000, r["domid"], r["domain"], None, None,
                 r["seclabel"], r["seclabel_name"], r["kind"], r["hypercall"], r["subop"],
                 r["peer"], r["count"])
            )  # fmt: skip
    return rows


async def _raw_once(path: Path, rows: list[tuple[Any, ...]]) -> float:
    import aiosqlite

    from enterprise_store.store._history_repo import VIOLATION_COLUMNS

    await _migrated(path)
    async with aiosqlite.connect(path) as db:
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"):
            await db.execute(pragma)
        marks = ", ".join("?" * len(VIOLATION_COLUMNS))
        columns = ", ".join(f'"{c}"' for c in VIOLATION_COLUMNS)
        sql = f"INSERT INTO history_violations ({columns}) VALUES ({marks})"
        start = time.perf_counter()
        for i in range(0, len(rows), EVENT):
            await db.executemany(sql, rows[i : i + EVENT])
            await db.commit()
        elapsed = time.perf_counter() - start
    return len(rows) / elapsed


async def ingest_rows_per_s() -> dict[str, Any]:
    """``ingest_rows_per_s`` and ``raw_executemany_rows_per_s``, same rows, same run."""
    hosts, events = _events(ROWS)
    rows = _tuples(events)
    ingest: list[float] = []
    raw: list[float] = []
    with tempfile.TemporaryDirectory(prefix="xe-bench-ingest-") as tmp:
        for r in range(ROUNDS):
            order = ["raw", "ingest"] if r % 2 == 0 else ["ingest", "raw"]
            for name in order:
                path = Path(tmp) / f"{name}-{r}.db"
                if name == "raw":
                    rate = await _raw_once(path, rows)
                    raw.append(rate)
                else:
                    rate = await _ingest_once(path, hosts, events)
                    ingest.append(rate)
                progress(f"round {r + 1}: {name} {rate:,.0f} rows/s")
    result: dict[str, Any] = {
        "ingest_rows_per_s": round(statistics.median(ingest)),
        "raw_executemany_rows_per_s": round(statistics.median(raw)),
    }
    result["ingest_vs_raw"] = round(
        result["ingest_rows_per_s"] / result["raw_executemany_rows_per_s"], 2
    )
    return result


def main() -> int:
    """``python -m benchmarks.xe_ingest --json``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    parser.parse_args()
    result: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    result.update(asyncio.run(ingest_rows_per_s()))
    result["goals"] = {"ingest_rows_per_s>=0.5*raw": result["ingest_vs_raw"] >= 0.5}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
