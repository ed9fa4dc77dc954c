"""Turns successive domain snapshots into xentop-style statistics and feeds the history."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from uuid import UUID

from xps.protocol import DomainStats, Stats

from ._domains import DomainRow
from ._stats import HOST_SERIES, MAX_FILE, Sample, StatsHistory
from ._tiers import TierFile

__all__ = ["StatsSampler"]


class StatsSampler:
    """Computes CPU % between snapshots (xentop: Δcpu_ns / 10 / Δµs) and records samples.

    Args:
        path: File the history is persisted to (atomically, 0600).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = TierFile(path, "statistics history", MAX_FILE)
        self.history = StatsHistory()
        # (domid, uuid, created_ns) identifies one incarnation: a reboot or a reused
        # domid must not produce a negative delta.
        self._prev: dict[tuple[int, UUID | None, int], int] = {}
        self._prev_clock: int | None = None
        self.latest: Stats | None = None
        self.count = 0

    def sample(
        self,
        rows: list[DomainRow],
        clock_ns: int,
        *,
        host_cpus: int,
        mem_kb: int,
        free_mem_kb: int,
        wall: float | None = None,
    ) -> Stats:
        """Takes one snapshot; returns the contract's ``stats()`` result."""
        ts = time.time() if wall is None else wall
        dt = clock_ns - self._prev_clock if self._prev_clock is not None else 0
        current: dict[tuple[int, UUID | None, int], int] = {}
        domains: list[DomainStats] = []
        samples: dict[str, Sample] = {}
        busy_ns = 0
        for row in rows:
            key = (row.domid, row.uuid, row.created_ns)
            current[key] = row.cpu_ns
            prev = self._prev.get(key)
            delta = row.cpu_ns - prev if prev is not None and row.cpu_ns >= prev else 0
            if prev is not None and row.cpu_ns < prev:
                delta = row.cpu_ns  # restarted in place (reboot)
            busy_ns += delta
            pct = round(delta * 100 / dt, 2) if dt > 0 else 0.0
            domains.append(
                {
                    "domid": row.domid,
                    "name": row.name,
                    "cpu_pct": pct,
                    "mem_kb": row.mem_kb,
                    "vcpus": row.vcpus,
                    "cpu_s": round(row.cpu_ns / 1e9, 3),
                }
            )
            samples[row.name] = (pct, float(row.mem_kb), float(row.vcpus))
        host_pct = round(busy_ns * 100 / (dt * host_cpus), 2) if dt > 0 and host_cpus else 0.0
        used_kb = max(mem_kb - free_mem_kb, 0)
        samples[HOST_SERIES] = (host_pct, float(used_kb), float(sum(r.vcpus for r in rows)))
        self._prev, self._prev_clock = current, clock_ns
        result: Stats = {
            "ts": ts,
            "host": {"cpu_pct": host_pct, "mem_kb": mem_kb, "free_mem_kb": free_mem_kb},
            "domains": domains,
        }
        if dt > 0:  # the first snapshot only sets the baseline
            self.history.add(ts, samples)
            self.count += 1
        self.latest = result
        return result

    async def save(self) -> None:
        """Writes the history to :attr:`path` when it changed (atomic; in a worker thread)."""
        await self.file.save(self.history)

    async def load(self) -> None:
        """Restores the history from :attr:`path`; a corrupt file is set aside and logged."""
        self.history = await asyncio.to_thread(self.file.load, StatsHistory.from_json, StatsHistory)
