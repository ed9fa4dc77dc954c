"""Retention: violations kept N days, statistics tiers like XPS's, pruned in small batches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from enterprise_store.store import Store
from enterprise_store.store._history_schema import STATS_TIERS, history_stats, history_violations
from enterprise_store.workers import IngestConfig, Ingester

DAY = 86400


async def _counts(store: Store) -> tuple[int, dict[int, int]]:
    async with store.read() as conn:
        violations = (
            await conn.execute(select(func.count()).select_from(history_violations))
        ).scalar()
        tiers = dict(
            (
                await conn.execute(
                    select(history_stats.c.tier, func.count()).group_by(history_stats.c.tier)
                )
            ).all()
        )
    return int(violations or 0), {t: tiers.get(t, 0) for t in range(len(STATS_TIERS))}


def _pruner(store: Store, source: Any, now: float, **config: Any) -> Ingester:
    config.setdefault("prune_batch", 7)  # many small units, not one big delete
    return Ingester(store, source, config=IngestConfig(**config), clock=lambda: now)


async def test_tiers_and_violations_expire_in_small_batches(
    store: Store, sim_hosts: Any, xe_policy: Any, put_policy: Any, xps_source: Any,
    ingest: Any, wait_for: Any,
) -> None:  # fmt: skip
    await put_policy(store, xe_policy)
    sim = await sim_hosts.start("xenon-1")
    await sim.misbehave(sim.domains[0], ppm=20_000)
    async with xps_source(sim) as source, ingest(store, source):

        async def enough() -> bool:
            violations, tiers = await _counts(store)
            return violations >= 40 and tiers[0] >= 40

        await wait_for(enough)
    async with store.read() as conn:
        newest = max(
            (await conn.execute(select(func.max(history_violations.c.ts_us)))).scalar() or 0,
            (await conn.execute(select(func.max(history_stats.c.ts_us)))).scalar() or 0,
        )
        lo, hi = (
            await conn.execute(
                select(func.min(history_violations.c.ts_us), func.max(history_violations.c.ts_us))
            )
        ).one()
    t = newest / 1e6 + 1
    violations, tiers = await _counts(store)

    # Kept for a minute: only what is younger than now - 60 s stays.
    middle = (lo + hi) // 2
    async with store.read() as conn:
        younger = (
            await conn.execute(select(func.count()).where(history_violations.c.ts_us >= middle))
        ).scalar()
    now = middle / 1e6 + 60
    deleted = await _pruner(store, source, now, violations_keep_s=60).prune_now()
    assert deleted["violations"] == violations - younger > 7
    assert (await _counts(store))[0] == younger
    violations = younger

    # Eleven minutes on: the raw samples are gone, the 1 min and 1 h buckets stay.
    deleted = await _pruner(store, source, t + 11 * 60).prune_now()
    assert deleted == {"violations": 0, "stats": tiers[0]}
    assert await _counts(store) == (violations, {0: 0, 1: tiers[1], 2: tiers[2]})
    # Three hours on: the 1 min buckets too; eight days: everything but the violations.
    await _pruner(store, source, t + 3 * 3600).prune_now()
    assert await _counts(store) == (violations, {0: 0, 1: 0, 2: tiers[2]})
    await _pruner(store, source, t + 8 * DAY).prune_now()
    assert await _counts(store) == (violations, {0: 0, 1: 0, 2: 0})
    # Violations: 30 days by default.
    await _pruner(store, source, t + 29 * DAY).prune_now()
    assert (await _counts(store))[0] == violations
    await _pruner(store, source, t + 31 * DAY).prune_now()
    assert (await _counts(store))[0] == 0
