"""The history repository: the ingester's batch write, attribution, pruning and the queries.

The batch write is the hot path (thousands of violations a second per host): rows arrive
as tuples in column order and go to the driver's ``executemany`` inside one write unit
with the hosts' cursors, so a crash keeps either a batch and its cursors or neither.
Statistics buckets are upserts (``INSERT … ON CONFLICT DO UPDATE``, the same text on
SQLite and PostgreSQL) that add a sample's values to the bucket's sums.

Queries are SQLAlchemy Core (not hot): every filter is a bound parameter, a scoped
caller's enclaves become ``enclave_id IN (…)`` (rows of no known enclave are never in
anyone's scope), and pages continue after a key (no ``OFFSET``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, literal, or_, select, tuple_, update

from enterprise_store.store._history_schema import (
    history_cursors,
    history_leases,
    history_stats,
    history_violations,
)
from enterprise_store.store._policy_schema import enclaves, hosts, policy_head, seclabels, vms
from enterprise_store.store._store import Store

__all__ = [
    "STATS_COLUMNS",
    "VIOLATION_COLUMNS",
    "Attribution",
    "HistoryRepo",
    "StoredCursor",
    "ViolationFilter",
]

VIOLATION_COLUMNS = (
    "host_id", "epoch", "seq", "ts_us", "domid", "domain", "vm_id", "enclave_id",
    "seclabel_id", "seclabel_name", "kind", "hypercall", "subop", "peer", "count",
)  # fmt: skip
"""Column order of a violation row tuple."""

STATS_COLUMNS = (
    "host_id", "tier", "domain", "ts_us", "n", "cpu_pct_sum", "mem_kb_sum", "vcpus_sum",
    "vm_id", "enclave_id",
)  # fmt: skip
"""Column order of a statistics row tuple."""

_CURSOR_COLUMNS = ("host_id", "epoch", "seq", "ts_ns", "host_dropped", "lost", "updated_at_us")


@dataclass(frozen=True, slots=True)
class StoredCursor:
    """The newest stored violation of a host, and its loss counters.

    Attributes:
        epoch: Runs of the host's XPS seen by XE (seq numbering restarts with each run).
        seq: The newest stored record's ``seq`` in that run (0: none yet).
        ts_ns: That record's host timestamp (ns); with ``seq`` it identifies the run.
        host_dropped: The host's own count of records its MSM ring overflowed.
        lost: Records XE never got (gone from the host's window first).
        updated_at_us: When this was written.
    """

    host_id: str
    epoch: int = 0
    seq: int = 0
    ts_ns: int = 0
    host_dropped: int = 0
    lost: int = 0
    updated_at_us: int = 0


@dataclass(frozen=True, slots=True)
class Attribution:
    """What a host-reported violation or sample is attributed to, as of one policy version.

    Attributes:
        version: The policy head's version these maps were read at.
        seclabel_enclave: SecLabel UUID -> enclave UUID.
        vm_by_name: VM name (the domain's name on its host) -> (VM id, enclave id).
    """

    version: int
    seclabel_enclave: dict[str, str]
    vm_by_name: dict[str, tuple[str, str]]


@dataclass(frozen=True, slots=True)
class ViolationFilter:
    """Filters of a violations query (None: any).

    ``scopes`` is the caller's enclave scope (None: every enclave) and is applied on top of
    ``enclave``; ``since_us`` is inclusive, ``until_us`` exclusive.
    """

    enclave: str | None = None
    host: str | None = None
    vm: str | None = None
    domain: str | None = None
    kind: str | None = None
    hypercall: int | None = None
    since_us: int | None = None
    until_us: int | None = None
    scopes: frozenset[str] | None = None


def _quote(name: str) -> str:
    # Standard SQL quoting, the same on both backends; every name here is lower-case ASCII
    # from a Table object ("domain" is a PostgreSQL keyword).
    return f'"{name}"'


def _marks(store: Store, count: int) -> str:
    if store.paramstyle == "qmark":
        return ", ".join("?" for _ in range(count))
    return ", ".join(f"${i}" for i in range(1, count + 1))


class HistoryRepo:
    """History rows of one store.

    Args:
        store: The open store.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        st, ct = _quote(history_stats.name), _quote(history_cursors.name)
        quote = _quote
        self._violations_sql = store.insert_sql(history_violations, VIOLATION_COLUMNS)
        # A second copy of a raw sample (an ingester restarted within one sample interval
        # gets the host's newest sample again) is the same fact: ignore it.
        self._raw_stats_sql = (
            store.insert_sql(history_stats, STATS_COLUMNS)
            + " ON CONFLICT (host_id, tier, "
            + quote("domain")
            + ", ts_us) DO NOTHING"
        )
        sums = ", ".join(
            f"{c} = {st}.{c} + excluded.{c}"
            for c in ("n", "cpu_pct_sum", "mem_kb_sum", "vcpus_sum")
        )
        cols = ", ".join(quote(c) for c in STATS_COLUMNS)
        self._bucket_sql = (
            f"INSERT INTO {st} ({cols}) VALUES ({_marks(store, len(STATS_COLUMNS))}) "  # noqa: S608 - identifiers from Table objects, values bound
            f"ON CONFLICT (host_id, tier, {quote('domain')}, ts_us) DO UPDATE SET {sums}, "
            "vm_id = excluded.vm_id, enclave_id = excluded.enclave_id"
        )
        cursor_cols = ", ".join(quote(c) for c in _CURSOR_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _CURSOR_COLUMNS[1:])
        self._cursor_sql = (
            f"INSERT INTO {ct} ({cursor_cols}) VALUES ({_marks(store, len(_CURSOR_COLUMNS))}) "  # noqa: S608 - as above
            f"ON CONFLICT (host_id) DO UPDATE SET {updates}"
        )
        self._lease_sql = (
            store.insert_sql(history_leases, ("host_id", "owner", "until_us"))
            + " ON CONFLICT (host_id) DO NOTHING"
        )

    # -- ingestion -----------------------------------------------------------------------

    async def load_cursors(self) -> dict[str, StoredCursor]:
        """Every host's stored cursor."""
        async with self.store.read() as conn:
            rows = (await conn.execute(select(history_cursors))).all()
        return {row.host_id: StoredCursor(**row._asdict()) for row in rows}

    async def claim_host(self, host_id: str, owner: str, now_us: int, until_us: int) -> bool:
        """Takes or renews the ingestion lease of ``host_id`` for ``owner`` until
        ``until_us``, unless another owner holds it past ``now_us``; True when held.

        The UPDATE's condition is evaluated on the row as it is when it runs (PostgreSQL
        re-reads it after a concurrent claimant committed), so two servers never both win.
        """
        async with self.store.atomic() as conn:
            await conn.exec_driver_sql(self._lease_sql, (host_id, owner, until_us))
            result = await conn.execute(
                update(history_leases)
                .where(history_leases.c.host_id == host_id)
                .where(or_(history_leases.c.owner == owner, history_leases.c.until_us < now_us))
                .values(owner=owner, until_us=until_us)
            )
            return bool(result.rowcount)

    async def load_cursor(self, host_id: str) -> StoredCursor | None:
        """One host's stored cursor (another server may have moved it)."""
        async with self.store.read() as conn:
            row = (
                await conn.execute(
                    select(history_cursors).where(history_cursors.c.host_id == host_id)
                )
            ).first()
        return None if row is None else StoredCursor(**row._asdict())

    async def write_batch(
        self,
        violations: Sequence[Sequence[Any]],
        raw_stats: Sequence[Sequence[Any]],
        buckets: Sequence[Sequence[Any]],
        cursors: Iterable[StoredCursor],
        *,
        lease: tuple[str, int] | None = None,
    ) -> set[str]:
        """Stores one batch and the cursors it moves, in one write unit.

        Args:
            violations: Rows in :data:`VIOLATION_COLUMNS` order.
            raw_stats: Tier-0 rows in :data:`STATS_COLUMNS` order (``n`` = 1).
            buckets: Coarser tiers' rows to add to their buckets (one per key).
            cursors: The hosts' cursors after this batch.
            lease: ``(owner, now_us)``: store only the rows and cursors of hosts whose
                ingestion lease ``owner`` holds (checked, and on PostgreSQL locked, in the
                same unit: a claimant waits for this commit).

        Returns:
            The hosts whose rows were left out (their lease is another server's).

        Raises:
            Conflict: A violation is already stored (the cursors said it was not).
            StoreUnavailable: The database is unreachable.
        """
        cursor_rows = [
            (c.host_id, c.epoch, c.seq, c.ts_ns, c.host_dropped, c.lost, c.updated_at_us)
            for c in cursors
        ]
        left_out: set[str] = set()
        async with self.store.atomic() as conn:
            if lease is not None:
                owner, now_us = lease
                hosts = {r[0] for r in (*violations, *raw_stats, *buckets, *cursor_rows)}
                query = (
                    select(history_leases.c.host_id)
                    .where(history_leases.c.host_id.in_(sorted(hosts)))
                    .where(history_leases.c.owner == owner)
                    .where(history_leases.c.until_us >= now_us)
                )
                if self.store.backend == "postgresql":
                    query = query.with_for_update()
                held = {str(r[0]) for r in (await conn.execute(query)).all()} if hosts else set()
                left_out = hosts - held
                if left_out:
                    violations = [r for r in violations if r[0] in held]
                    raw_stats = [r for r in raw_stats if r[0] in held]
                    buckets = [r for r in buckets if r[0] in held]
                    cursor_rows = [r for r in cursor_rows if r[0] in held]
            if violations:
                await conn.exec_driver_sql(self._violations_sql, list(violations))
            if raw_stats:
                await conn.exec_driver_sql(self._raw_stats_sql, list(raw_stats))
            if buckets:
                await conn.exec_driver_sql(self._bucket_sql, list(buckets))
            if cursor_rows:
                await conn.exec_driver_sql(self._cursor_sql, cursor_rows)
        return left_out

    async def head_version(self) -> int:
        """The policy head's version (attribution is re-read when it moves)."""
        async with self.store.read() as conn:
            value = (await conn.execute(select(policy_head.c.version))).scalar()
        return int(value or 0)

    async def attribution(self) -> Attribution:
        """The SecLabel and VM maps as of the current policy version."""
        async with self.store.read() as conn:
            version = (await conn.execute(select(policy_head.c.version))).scalar()
            labels = (await conn.execute(select(seclabels.c.id, seclabels.c.enclave_id))).all()
            machines = (await conn.execute(select(vms.c.id, vms.c.name, vms.c.enclave_id))).all()
        return Attribution(
            version=int(version or 0),
            seclabel_enclave={str(r.id): str(r.enclave_id) for r in labels},
            vm_by_name={str(r.name): (str(r.id), str(r.enclave_id)) for r in machines},
        )

    # -- retention -----------------------------------------------------------------------

    async def prune_violations(self, before_us: int, batch: int) -> int:
        """Deletes up to ``batch`` violations older than ``before_us``; returns how many."""
        t = history_violations
        key = tuple_(t.c.host_id, t.c.epoch, t.c.seq)
        old = select(t.c.host_id, t.c.epoch, t.c.seq).where(t.c.ts_us < before_us).limit(batch)
        async with self.store.atomic() as conn:
            result = await conn.execute(t.delete().where(key.in_(old)))
        return int(result.rowcount or 0)

    async def prune_stats(self, tier: int, before_us: int, batch: int) -> int:
        """Deletes up to ``batch`` points of ``tier`` older than ``before_us``."""
        t = history_stats
        key = tuple_(t.c.host_id, t.c.tier, t.c.domain, t.c.ts_us)
        old = (
            select(t.c.host_id, t.c.tier, t.c.domain, t.c.ts_us)
            .where(t.c.tier == tier, t.c.ts_us < before_us)
            .limit(batch)
        )
        async with self.store.atomic() as conn:
            result = await conn.execute(t.delete().where(key.in_(old)))
        return int(result.rowcount or 0)

    # -- queries -------------------------------------------------------------------------

    @staticmethod
    def _where(f: ViolationFilter) -> list[ColumnElement[bool]]:
        t = history_violations
        where: list[ColumnElement[bool]] = []
        if f.scopes is not None:
            where.append(t.c.enclave_id.in_(sorted(f.scopes)) if f.scopes else false())
        for column, value in (
            (t.c.enclave_id, f.enclave),
            (t.c.host_id, f.host),
            (t.c.vm_id, f.vm),
            (t.c.domain, f.domain),
            (t.c.kind, f.kind),
            (t.c.hypercall, f.hypercall),
        ):
            if value is not None:
                where.append(column == value)
        if f.since_us is not None:
            where.append(t.c.ts_us >= f.since_us)
        if f.until_us is not None:
            where.append(t.c.ts_us < f.until_us)
        return where

    async def list_violations(
        self, f: ViolationFilter, limit: int, after: tuple[int, str, int, int] | None
    ) -> list[Any]:
        """Violations newest first, at most ``limit``, after the key ``(ts_us, host, epoch,
        seq)`` of the previous page's last row; names of the host and enclave joined."""
        t = history_violations
        where = self._where(f)
        key = tuple_(t.c.ts_us, t.c.host_id, t.c.epoch, t.c.seq)
        if after is not None:
            where.append(key < tuple_(*(literal(v) for v in after)))
        query = (
            select(
                t,
                hosts.c.name.label("host_name"),
                enclaves.c.name.label("enclave_name"),
                vms.c.name.label("vm_name"),
            )
            .select_from(
                t.outerjoin(hosts, hosts.c.id == t.c.host_id)
                .outerjoin(enclaves, enclaves.c.id == t.c.enclave_id)
                .outerjoin(vms, vms.c.id == t.c.vm_id)
            )
            .where(*where)
            .order_by(t.c.ts_us.desc(), t.c.host_id.desc(), t.c.epoch.desc(), t.c.seq.desc())
            .limit(limit)
        )
        async with self.store.read() as conn:
            return list((await conn.execute(query)).all())

    async def violation_groups(self, f: ViolationFilter, limit: int) -> list[Any]:
        """Counts grouped by enclave, host, VM (or domain) and hypercall, largest first."""
        t = history_violations
        inner = (
            select(
                t.c.enclave_id,
                t.c.host_id,
                t.c.vm_id,
                t.c.domain,
                t.c.hypercall,
                func.count().label("violations"),
                func.min(t.c.ts_us).label("first_us"),
                func.max(t.c.ts_us).label("last_us"),
            )
            .where(*self._where(f))
            .group_by(t.c.enclave_id, t.c.host_id, t.c.vm_id, t.c.domain, t.c.hypercall)
            .subquery("g")
        )
        query = (
            select(
                inner,
                hosts.c.name.label("host_name"),
                enclaves.c.name.label("enclave_name"),
                vms.c.name.label("vm_name"),
            )
            .select_from(
                inner.outerjoin(hosts, hosts.c.id == inner.c.host_id)
                .outerjoin(enclaves, enclaves.c.id == inner.c.enclave_id)
                .outerjoin(vms, vms.c.id == inner.c.vm_id)
            )
            .order_by(
                inner.c.violations.desc(),
                inner.c.enclave_id,
                inner.c.host_id,
                inner.c.domain,
                inner.c.hypercall,
            )
            .limit(limit)
        )
        async with self.store.read() as conn:
            return list((await conn.execute(query)).all())

    async def count_violations(self, f: ViolationFilter) -> int:
        """How many violations match (the grouped query's total must equal it)."""
        query = select(func.count()).select_from(history_violations).where(*self._where(f))
        async with self.store.read() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    async def stats_points(
        self,
        *,
        tier: int,
        host: str | None,
        domain: str | None,
        vm: str | None,
        since_us: int,
        until_us: int | None,
        scopes: frozenset[str] | None,
        limit: int,
    ) -> list[Any]:
        """Points of one tier in time order, per (host, domain), at most ``limit``.

        ``domain=""`` is the whole host; a scoped caller never sees host series (they
        add up every enclave's load) nor domains of no known enclave.
        """
        t = history_stats
        where: list[ColumnElement[bool]] = [t.c.tier == tier, t.c.ts_us >= since_us]
        if until_us is not None:
            where.append(t.c.ts_us < until_us)
        if scopes is not None:
            where.append(t.c.enclave_id.in_(sorted(scopes)) if scopes else false())
        for column, value in ((t.c.host_id, host), (t.c.domain, domain), (t.c.vm_id, vm)):
            if value is not None:
                where.append(column == value)
        query = (
            select(t, hosts.c.name.label("host_name"))
            .select_from(t.outerjoin(hosts, hosts.c.id == t.c.host_id))
            .where(*where)
            .order_by(t.c.host_id, t.c.domain, t.c.ts_us)
            .limit(limit)
        )
        async with self.store.read() as conn:
            return list((await conn.execute(query)).all())

    async def host_addresses(self) -> list[tuple[str, str, int]]:
        """(id, management address, XPS port) of every host XE manages now."""
        query = select(hosts.c.id, hosts.c.address, hosts.c.port).order_by(hosts.c.id)
        async with self.store.read() as conn:
            return [(str(r.id), str(r.address), int(r.port)) for r in await conn.execute(query)]

    async def id_by_name(self, kind: str, name: str) -> str | None:
        """The id of the host, VM or enclave named ``name`` now (None: no such object)."""
        table = {"host": hosts, "vm": vms, "enclave": enclaves}[kind]
        async with self.store.read() as conn:
            value = (await conn.execute(select(table.c.id).where(table.c.name == name))).scalar()
        return None if value is None else str(value)

    async def cursors_with_names(self) -> list[Any]:
        """Every cursor with its host's current name (None for a removed host)."""
        query = (
            select(history_cursors, hosts.c.name.label("host_name"))
            .select_from(history_cursors.outerjoin(hosts, hosts.c.id == history_cursors.c.host_id))
            .order_by(history_cursors.c.host_id)
        )
        async with self.store.read() as conn:
            return list((await conn.execute(query)).all())
