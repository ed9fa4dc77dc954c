"""Ingestion from real sim XPS daemons into SQLite and PostgreSQL: exactly once, attributed,
resumed after restarts of the ingester and of the daemons, bounded under back-pressure."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from enterprise_store.store import Store
from enterprise_store.store._history_schema import (
    history_cursors,
    history_stats,
    history_violations,
)


async def _stored(store: Store, host_id: str) -> list[tuple[int, int, int]]:
    """(epoch, seq, ts_us) of every stored violation of the host, in key order."""
    t = history_violations
    query = (
        select(t.c.epoch, t.c.seq, t.c.ts_us)
        .where(t.c.host_id == host_id)
        .order_by(t.c.epoch, t.c.seq)
    )
    async with store.read() as conn:
        return [tuple(r) for r in (await conn.execute(query)).all()]  # type: ignore[misc]


async def _count(store: Store, host_id: str) -> int:
    async with store.read() as conn:
        query = select(func.count()).where(history_violations.c.host_id == host_id)
        return int((await conn.execute(query)).scalar() or 0)


def _as_stored(records: list[dict[str, Any]], epoch: int) -> list[tuple[int, int, int]]:
    return [(epoch, r["seq"], r["ts_ns"] // 1000) for r in records]


async def _settle(store: Store, sim: Any, wait_for: Callable[..., Any], epoch: int = 1) -> None:
    """Stops the host's misbehaviour, then waits until XE has stored its newest record."""
    for domain in sim.domains:
        await sim.misbehave(domain, ppm=0)
    await asyncio.sleep(0.5)  # the host's last drain
    last = await sim.last_seq()
    t = history_violations
    query = select(func.max(t.c.seq)).where(t.c.host_id == sim.host_id, t.c.epoch == epoch)

    async def caught_up() -> bool:
        async with store.read() as conn:
            return (await conn.execute(query)).scalar() == last

    await wait_for(caught_up)


async def test_violations_and_stats_arrive_attributed_exactly_once(
    store: Store, sim_hosts: Any, xe_policy: Any, put_policy: Any, xps_source: Any,
    ingest: Any, wait_for: Any,
) -> None:  # fmt: skip
    await put_policy(store, xe_policy)
    one = await sim_hosts.start("xenon-1")
    three = await sim_hosts.start("xenon-3")
    for sim in (one, three):
        await sim.misbehave(sim.domains[0], ppm=20_000)
    async with xps_source(one, three) as source, ingest(store, source) as ingester:

        async def both_have_some() -> bool:
            return all([await _count(store, s.host_id) >= 30 for s in (one, three)])

        await wait_for(both_have_some)
        for sim in (one, three):
            await _settle(store, sim, wait_for)
        snap = ingester.snapshot()
    for sim in (one, three):
        # Every record the daemon ever numbered, once, with its own time.
        assert await _stored(store, sim.host_id) == _as_stored(await sim.violations(), 1)
    assert snap.dropped == 0 and snap.lost == 0 and snap.restarts == 0

    vms = {v.name: v for v in xe_policy.vms}
    labels = {str(s.id): s for s in xe_policy.seclabels}
    async with store.read() as conn:
        rows = (await conn.execute(select(history_violations))).all()
        cursors = {r.host_id: r for r in (await conn.execute(select(history_cursors))).all()}
        tiers = dict(
            (
                await conn.execute(
                    select(history_stats.c.tier, func.count()).group_by(history_stats.c.tier)
                )
            ).all()
        )
        host_series = (
            await conn.execute(
                select(func.count()).where(history_stats.c.domain == "", history_stats.c.tier == 0)
            )
        ).scalar()
    for row in rows:
        label = labels[row.seclabel_id]
        assert row.enclave_id == str(label.enclave)
        assert row.vm_id == str(vms[row.domain].id)
    assert {r.host_id: r.seq for r in cursors.values()} == {
        s.host_id: (await s.violations())[-1]["seq"] for s in (one, three)
    }
    assert set(tiers) == {0, 1, 2} and tiers[0] > tiers[1] >= tiers[2]
    assert host_series and host_series >= 2  # the whole host's samples, both hosts


async def test_a_restarted_ingester_resumes_without_duplicates_or_gaps(
    store: Store, sim_hosts: Any, xe_policy: Any, put_policy: Any, xps_source: Any,
    ingest: Any, wait_for: Any,
) -> None:  # fmt: skip
    await put_policy(store, xe_policy)
    sim = await sim_hosts.start("xenon-2")
    await sim.misbehave(sim.domains[0], ppm=20_000)
    async with xps_source(sim) as source, ingest(store, source):

        async def some() -> bool:
            return await _count(store, sim.host_id) >= 30

        await wait_for(some)
    first = await _stored(store, sim.host_id)

    # While no ingester runs, the host goes on numbering violations.
    async def more_on_host() -> bool:
        return await sim.last_seq() >= first[-1][1] + 30

    await wait_for(more_on_host)
    async with xps_source(sim) as source, ingest(store, source) as ingester:
        await _settle(store, sim, wait_for)
        snap = ingester.snapshot()
    stored = await _stored(store, sim.host_id)
    assert stored[: len(first)] == first
    assert stored == _as_stored(await sim.violations(), 1)
    assert [s[1] for s in stored] == list(range(1, len(stored) + 1))
    # A duplicate insert would have been refused by the key and counted as dropped.
    assert snap.dropped == 0 and snap.lost == 0


async def test_a_restarted_daemon_starts_a_new_epoch(
    store: Store, sim_hosts: Any, xe_policy: Any, put_policy: Any, xps_source: Any,
    ingest: Any, wait_for: Any,
) -> None:  # fmt: skip
    await put_policy(store, xe_policy)
    sim = await sim_hosts.start("xenon-1")
    await sim.misbehave(sim.domains[0], ppm=20_000)
    async with xps_source(sim, max_backoff=0.5) as source, ingest(store, source) as ingester:

        async def some() -> bool:
            return await _count(store, sim.host_id) >= 20

        await wait_for(some)
        await _settle(store, sim, wait_for)
        before = await _stored(store, sim.host_id)
        await sim.restart()  # same port and state; a new run numbers from 1 again
        domains = await sim.seed()
        await sim.misbehave(domains[0], ppm=20_000)

        async def second_run() -> bool:
            return any(s[0] == 2 for s in await _stored(store, sim.host_id))

        await wait_for(second_run)
        await _settle(store, sim, wait_for, epoch=2)
        snap = ingester.snapshot()
    stored = await _stored(store, sim.host_id)
    assert [s for s in stored if s[0] == 1] == before
    assert [s for s in stored if s[0] == 2] == _as_stored(await sim.violations(), 2)
    assert snap.restarts == 1 and snap.dropped == 0


async def test_records_gone_from_the_hosts_window_are_counted_lost(
    store: Store, sim_hosts: Any, xe_policy: Any, put_policy: Any, xps_source: Any,
    ingest: Any, wait_for: Any,
) -> None:  # fmt: skip
    await put_policy(store, xe_policy)
    sim = await sim_hosts.start("xenon-1", keep=40)  # the daemon holds its newest 40 only
    await sim.misbehave(sim.domains[0], ppm=50_000)

    async def many() -> bool:
        return await sim.last_seq() >= 120

    await wait_for(many)
    async with xps_source(sim) as source, ingest(store, source) as ingester:
        await _settle(store, sim, wait_for)
        snap = ingester.snapshot()
    held = await sim.violations()
    stored = await _stored(store, sim.host_id)
    assert stored[-len(held) :] == _as_stored(held, 1)
    # Nothing invented: every stored record is one the host numbered; the rest is "lost".
    assert snap.lost == held[-1]["seq"] - len(stored) > 0
    async with store.read() as conn:
        cursor = (await conn.execute(select(history_cursors))).one()
    assert cursor.lost == snap.lost and cursor.seq == held[-1]["seq"]


async def test_back_pressure_bounds_the_queue_and_dropped_events_come_back(
    store: Store, sim_hosts: Any, xe_policy: Any, put_policy: Any, xps_source: Any,
    ingest: Any, wait_for: Any,
) -> None:  # fmt: skip
    await put_policy(store, xe_policy)
    sim = await sim_hosts.start("xenon-1")
    for domain in sim.domains:
        await sim.misbehave(domain, ppm=50_000)
    release = asyncio.Event()
    holding = asyncio.Event()

    async def hold_the_writer() -> None:
        # Another unit holds the store's one writer: every ingestion batch must wait.
        async with store.atomic():
            holding.set()
            await release.wait()

    seen: list[int] = []
    async with (
        xps_source(sim, client_queue=2, queue_events=2) as source,
        ingest(store, source, queue_rows=150, catchup_page=100, batch_rows=50) as ingester,
    ):
        holder = asyncio.create_task(hold_the_writer())
        await holding.wait()

        async def starved() -> bool:
            seen.append(ingester.snapshot().queue_rows)
            return source.dropped_events >= 5 and ingester.snapshot().queue_rows > 100

        await wait_for(starved)
        for _ in range(20):  # still bounded while the writer stays blocked
            seen.append(ingester.snapshot().queue_rows)
            await asyncio.sleep(0.05)
        release.set()
        await holder
        await _settle(store, sim, wait_for)
        snap = ingester.snapshot()
    assert max(seen) <= 150
    assert await _stored(store, sim.host_id) == _as_stored(await sim.violations(), 1)
    assert snap.lost == 0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_postgresql_restart_loses_nothing(
    store: Store, sim_hosts: Any, xe_policy: Any, put_policy: Any,
    xps_source: Any, ingest: Any, wait_for: Any, request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    pg = request.getfixturevalue("pg_server")
    await put_policy(store, xe_policy)
    sim = await sim_hosts.start("xenon-2")
    await sim.misbehave(sim.domains[0], ppm=20_000)
    async with xps_source(sim) as source, ingest(store, source) as ingester:

        async def some() -> bool:
            return await _count(store, sim.host_id) >= 20

        await wait_for(some)
        await asyncio.to_thread(pg.restart)  # every connection cut while batches flow

        async def more() -> bool:
            return await _count(store, sim.host_id) >= 80

        await wait_for(more)
        await _settle(store, sim, wait_for)
        snap = ingester.snapshot()
    assert await _stored(store, sim.host_id) == _as_stored(await sim.violations(), 1)
    assert snap.dropped == 0 and snap.lost == 0 and snap.store_ok
