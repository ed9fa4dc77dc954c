"""Two servers on one database ingest each host's history once: a per-host lease decides
which one stores a host (before, both stored the same records: the second copy was a
Conflict and its whole batch was counted as dropped), and a server whose lease expired
is taken over from the cursor it stored."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy import func, select

from enterprise_store.store import Store
from enterprise_store.store._history_schema import history_violations
from enterprise_store.workers import HostEvent, IngestConfig, Ingester

HOSTS = [str(uuid.UUID(int=i + 1)) for i in range(3)]
PER_HOST = 120
EVENT = 40


def _record(seq: int) -> dict[str, Any]:
    return {
        "seq": seq, "ts": "2025-06-15T12:00:00Z", "ts_ns": 1_750_000_000_000_000_000 + seq,
        "domid": 1, "domain": "E0-domu-1", "seclabel": str(uuid.UUID(int=999)),
        "seclabel_name": "E0-seclabel", "profile": "PV-Combined", "kind": "profile",
        "hypercall": 3, "hypercall_name": "x", "subop": 0, "peer": None, "count": 1,
    }  # fmt: skip


class _Hosts:
    """Each host's XPS as both servers see it: the same events, the same window."""

    def __init__(self, per_host: int) -> None:
        self.records = {h: [_record(s) for s in range(1, per_host + 1)] for h in HOSTS}

    async def events(self, upto: int) -> AsyncIterator[HostEvent]:
        for host in HOSTS:
            yield HostEvent(host, "connected")
        for start in range(0, upto, EVENT):
            for host in HOSTS:
                batch = self.records[host][start : min(start + EVENT, upto)]
                if batch:
                    yield HostEvent(
                        host, "violations", {"violations": batch, "last_seq": batch[-1]["seq"]}
                    )
            await asyncio.sleep(0)  # let the other server's reader take turns

    async def get_violations(
        self, host_id: str, since_seq: int, limit: int, upto: int
    ) -> Mapping[str, Any]:
        held = self.records[host_id][:upto]  # what the host had recorded by then
        page = [r for r in held if r["seq"] > since_seq][:limit]
        return {"violations": page, "last_seq": held[-1]["seq"], "dropped": 0}


class _Source:
    def __init__(self, hosts: _Hosts, upto: int) -> None:
        self._hosts = hosts
        self._upto = upto

    def events(self) -> AsyncIterator[HostEvent]:
        return self._hosts.events(self._upto)

    async def get_violations(self, host_id: str, since_seq: int, limit: int) -> Mapping[str, Any]:
        return await self._hosts.get_violations(host_id, since_seq, limit, self._upto)


class _Clock:
    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        return self.now


async def _stored(store: Store) -> list[tuple[str, int]]:
    async with store.read() as conn:
        rows = (
            await conn.execute(
                select(history_violations.c.host_id, history_violations.c.seq).order_by(
                    history_violations.c.host_id, history_violations.c.seq
                )
            )
        ).all()
    return [(str(r[0]), int(r[1])) for r in rows]


async def _count(store: Store) -> int:
    async with store.read() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(history_violations))).scalar() or 0
        )


async def test_two_servers_ingest_each_host_once(db_url: str) -> None:
    hosts = _Hosts(PER_HOST)
    clock = _Clock()
    async with await Store.open(db_url) as one, await Store.open(db_url) as two:
        config = {"batch_s": 0.05, "prune_every_s": 3600}
        a = Ingester(one, _Source(hosts, PER_HOST), clock=clock,
                     config=IngestConfig(node_id="server-a", **config))  # fmt: skip
        b = Ingester(two, _Source(hosts, PER_HOST), clock=clock,
                     config=IngestConfig(node_id="server-b", **config))  # fmt: skip
        async with asyncio.timeout(60):
            await asyncio.gather(a.run(), b.run())
        stored = await _stored(one)
        assert stored == [(h, s) for h in sorted(HOSTS) for s in range(1, PER_HOST + 1)]
        sa, sb = a.snapshot(), b.snapshot()
        assert sa.dropped == 0 and sb.dropped == 0
        assert sa.violations + sb.violations == len(HOSTS) * PER_HOST


async def test_an_expired_lease_is_taken_over_from_the_stored_cursor(db_url: str) -> None:
    hosts = _Hosts(PER_HOST)
    clock = _Clock()
    config = {"batch_s": 0.05, "prune_every_s": 3600, "lease_s": 30.0}
    async with await Store.open(db_url) as one, await Store.open(db_url) as two:
        # Server A stores the first half of every host's records, then goes quiet.
        a = Ingester(one, _Source(hosts, PER_HOST // 2), clock=clock,
                     config=IngestConfig(node_id="server-a", **config))  # fmt: skip
        async with asyncio.timeout(60):
            await a.run()
        assert await _count(one) == len(HOSTS) * PER_HOST // 2
        # B, while A's leases hold, stores nothing of those hosts.
        b = Ingester(two, _Source(hosts, PER_HOST), clock=clock,
                     config=IngestConfig(node_id="server-b", **config))  # fmt: skip
        async with asyncio.timeout(60):
            await b.run()
        assert b.snapshot().violations == 0
        # Once they expired, B takes every host over from A's cursor: the rest, once.
        clock.now += 31
        b = Ingester(two, _Source(hosts, PER_HOST), clock=clock,
                     config=IngestConfig(node_id="server-b", **config))  # fmt: skip
        async with asyncio.timeout(60):
            await b.run()
        assert b.snapshot().violations == len(HOSTS) * (PER_HOST - PER_HOST // 2)
        assert b.snapshot().dropped == 0
        stored = await _stored(two)
        assert stored == [(h, s) for h in sorted(HOSTS) for s in range(1, PER_HOST + 1)]
