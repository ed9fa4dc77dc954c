"""Compute's rows: tasks, per-host propagation state, host facts (SQL lives here only).

Every method takes the connection of a unit the caller opened (``Store.atomic`` for
writes, ``Store.read`` for reads), so a caller composes several into one transaction.

Propagation leases: a node claims a host before it talks to it and releases the claim
in the same statement that records the outcome, guarded by ``lease_owner = me``, so a
node whose lease expired (it stalled, or died) can no longer overwrite what the node
that took over recorded. On PostgreSQL the claim's ``SELECT … FOR UPDATE SKIP LOCKED``
lets two servers claim disjoint sets of hosts at once without waiting on each other;
SQLite's ``BEGIN IMMEDIATE`` serialises the claims anyway.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import (
    func as sa_func,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store.store._compute_schema import (
    HISTORY_PER_HOST,
    REASON_MAX,
    host_info,
    propagation,
    propagation_history,
    tasks,
)
from enterprise_store.store._policy_schema import policy_versions

if TYPE_CHECKING:
    from enterprise_store.store._store import Store

__all__ = [
    "STATE_FOR",
    "TERMINAL",
    "ComputeRepo",
    "HostInfoRow",
    "PropagationRow",
    "TaskRow",
    "TransitionRow",
    "transition_reason",
    "transitions",
]

STATE_FOR = "state_for"
"""Key of :meth:`ComputeRepo.settle_many`'s outcomes: the state follows this observed version."""

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
"""Task states that never change again."""


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task as stored (JSON columns decoded)."""

    id: str
    kind: str
    state: str
    progress: float
    message: str
    object: str
    enclaves: tuple[str, ...] | None
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_by: str
    owner: str
    resumable: bool
    cancel_requested: bool
    timeout_s: float
    created_at_us: int
    started_at_us: int | None
    finished_at_us: int | None
    heartbeat_us: int

    @property
    def terminal(self) -> bool:
        """The task has ended (succeeded, failed or cancelled)."""
        return self.state in TERMINAL


@dataclass(frozen=True, slots=True)
class PropagationRow:
    """One host's desired and observed policy state."""

    host_id: str
    state: str
    desired_version: int
    desired_sha256: str | None
    desired_since_us: int
    observed_version: int | None
    enforced_hash: str | None
    activated_hash: str | None
    content_sha256: str | None
    attempts: int
    last_error: str | None
    since_us: int
    next_attempt_us: int
    reconverge: bool
    lease_owner: str | None
    lease_until_us: int | None

    def leased_by_other(self, me: str, now_us: int) -> bool:
        """Another node holds an unexpired claim on the host."""
        return (
            self.lease_owner is not None
            and self.lease_owner != me
            and (self.lease_until_us or 0) > now_us
        )


@dataclass(frozen=True, slots=True)
class TransitionRow:
    """One propagation transition of a host (``propagation_history``).

    Attributes:
        id: Its place in the log (increasing).
        host_id: The host.
        ts_us: When it was recorded.
        from_state / to_state: The state before (None: not known) and after.
        desired_version / observed_version: XE's wanted version and the host's confirmed one
            after the transition.
        enforced_hash: What the host enforced after it.
        reason: Why (a drift's cause, a retry's error, a note); untrusted text, capped.
    """

    id: int
    host_id: str
    ts_us: int
    from_state: str | None
    to_state: str
    desired_version: int
    observed_version: int | None
    enforced_hash: str | None
    reason: str | None


def transition_reason(row: PropagationRow) -> str | None:
    """Why a host is in its state, as its transition records it: a drift's cause (the
    quarantine XE found, else the hash mismatch), a retry's last error, a converged host's
    note (a quarantine kept); nothing for pending and held."""
    if row.state == "drifted":
        if row.last_error:
            return row.last_error[:REASON_MAX]
        enforced = (row.enforced_hash or "no policy")[:12]
        return f"enforces {enforced}, XE activated {(row.activated_hash or 'nothing')[:12]}"
    if row.state in ("retrying", "converged") and row.last_error:
        return row.last_error[:REASON_MAX]
    return None


def transitions(
    before: Mapping[str, PropagationRow], after: Mapping[str, PropagationRow], now_us: int
) -> list[dict[str, Any]]:
    """The transitions from ``before`` to ``after`` (rows of the same hosts) as rows to
    insert: a change of state, or a drifted host whose reason changed (its quarantine was
    found, it changed its policy again). A retry that fails again is not one."""
    out: list[dict[str, Any]] = []
    for host_id, new in after.items():
        old = before.get(host_id)
        if old is None:
            continue
        reason = transition_reason(new)
        if old.state == new.state and (new.state != "drifted" or transition_reason(old) == reason):
            continue
        out.append(
            {
                "host_id": host_id,
                "ts_us": now_us,
                "from_state": old.state,
                "to_state": new.state,
                "desired_version": new.desired_version,
                "observed_version": new.observed_version,
                "enforced_hash": new.enforced_hash,
                "reason": reason,
            }
        )
    return out


def _transition(r: Any) -> TransitionRow:
    return TransitionRow(
        id=int(r.id),
        host_id=r.host_id,
        ts_us=int(r.ts_us),
        from_state=r.from_state,
        to_state=r.to_state,
        desired_version=int(r.desired_version),
        observed_version=None if r.observed_version is None else int(r.observed_version),
        enforced_hash=r.enforced_hash,
        reason=r.reason,
    )


@dataclass(frozen=True, slots=True)
class HostInfoRow:
    """What a host's XPS told XE when it joined."""

    host_id: str
    hypervisor: dict[str, Any]
    cpu_source: str
    prior_policy_name: str | None
    prior_policy_sha256: str | None
    prior_policy_xml: str | None
    added_at_us: int


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _task(r: Any) -> TaskRow:
    enclaves = _load(r.enclaves)
    return TaskRow(
        id=r.id,
        kind=r.kind,
        state=r.state,
        progress=float(r.progress),
        message=r.message,
        object=r.object,
        enclaves=None if enclaves is None else tuple(str(e) for e in enclaves),
        params=_load(r.params) or {},
        result=_load(r.result),
        error=_load(r.error),
        created_by=r.created_by,
        owner=r.owner,
        resumable=bool(r.resumable),
        cancel_requested=bool(r.cancel_requested),
        timeout_s=float(r.timeout_s),
        created_at_us=int(r.created_at_us),
        started_at_us=None if r.started_at_us is None else int(r.started_at_us),
        finished_at_us=None if r.finished_at_us is None else int(r.finished_at_us),
        heartbeat_us=int(r.heartbeat_us),
    )


_PROPAGATION_COLUMNS = tuple(c.name for c in propagation.columns)
# Column names come from the Table; nothing is bound.
if tuple(f.name for f in fields(PropagationRow)) != _PROPAGATION_COLUMNS:  # pragma: no cover
    raise ImportError("propagation columns and PropagationRow fields differ in order")
_SQL_PROPAGATION = f"SELECT {', '.join(_PROPAGATION_COLUMNS)} FROM propagation"  # noqa: S608


def _propagation(r: Any) -> PropagationRow:
    """A row (a SQLAlchemy Row or a column mapping) as a :class:`PropagationRow`."""
    m = r if isinstance(r, dict) else r._mapping
    return PropagationRow(
        host_id=m["host_id"],
        state=m["state"],
        desired_version=int(m["desired_version"]),
        desired_sha256=m["desired_sha256"],
        desired_since_us=int(m["desired_since_us"]),
        observed_version=None if m["observed_version"] is None else int(m["observed_version"]),
        enforced_hash=m["enforced_hash"],
        activated_hash=m["activated_hash"],
        content_sha256=m["content_sha256"],
        attempts=int(m["attempts"]),
        last_error=m["last_error"],
        since_us=int(m["since_us"]),
        next_attempt_us=int(m["next_attempt_us"]),
        reconverge=bool(m["reconverge"]),
        lease_owner=m["lease_owner"],
        lease_until_us=None if m["lease_until_us"] is None else int(m["lease_until_us"]),
    )


class ComputeRepo:
    """The SQL of tasks, propagation state and host facts."""

    # -- tasks -----------------------------------------------------------------------------

    async def insert_task(self, conn: AsyncConnection, row: TaskRow) -> None:
        """Stores a new task."""
        await conn.execute(
            insert(tasks).values(
                id=row.id,
                kind=row.kind,
                state=row.state,
                progress=row.progress,
                message=row.message,
                object=row.object,
                enclaves=None if row.enclaves is None else _json(list(row.enclaves)),
                params=_json(row.params),
                result=None if row.result is None else _json(row.result),
                error=None if row.error is None else _json(row.error),
                created_by=row.created_by,
                owner=row.owner,
                resumable=row.resumable,
                cancel_requested=row.cancel_requested,
                timeout_s=row.timeout_s,
                created_at_us=row.created_at_us,
                started_at_us=row.started_at_us,
                finished_at_us=row.finished_at_us,
                heartbeat_us=row.heartbeat_us,
            )
        )

    async def task(self, conn: AsyncConnection, task_id: str) -> TaskRow | None:
        """One task, or None."""
        row = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).first()
        return None if row is None else _task(row)

    async def list_tasks(
        self,
        conn: AsyncConnection,
        *,
        kind: str | None = None,
        state: str | None = None,
        created_by: str | None = None,
        before: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[TaskRow]:
        """Tasks newest first; ``before`` is the (created_at_us, id) of the last one seen."""
        query = select(tasks).order_by(tasks.c.created_at_us.desc(), tasks.c.id.desc())
        if kind is not None:
            query = query.where(tasks.c.kind == kind)
        if state is not None:
            query = query.where(tasks.c.state == state)
        if created_by is not None:
            query = query.where(tasks.c.created_by == created_by)
        if before is not None:
            ts, key = before
            query = query.where(
                or_(
                    tasks.c.created_at_us < ts,
                    and_(tasks.c.created_at_us == ts, tasks.c.id < key),
                )
            )
        rows = (await conn.execute(query.limit(limit))).all()
        return [_task(r) for r in rows]

    async def update_task(
        self,
        conn: AsyncConnection,
        task_id: str,
        values: Mapping[str, Any],
        *,
        unless_terminal: bool = True,
    ) -> bool:
        """Changes a task's columns (``result``/``error``/``params`` as JSON values).

        Returns:
            Whether a row changed (False: no such task, or it had already ended).
        """
        out = dict(values)
        for key in ("result", "error", "params"):
            if key in out and out[key] is not None:
                out[key] = _json(out[key])
        query = update(tasks).where(tasks.c.id == task_id).values(**out)
        if unless_terminal:
            query = query.where(tasks.c.state.not_in(sorted(TERMINAL)))
        result = await conn.execute(query)
        return bool(result.rowcount)

    async def open_tasks(self, conn: AsyncConnection) -> list[TaskRow]:
        """Every task still queued or running (any node)."""
        query = select(tasks).where(tasks.c.state.in_(("queued", "running")))
        return [_task(r) for r in (await conn.execute(query)).all()]

    async def heartbeat(
        self, conn: AsyncConnection, owner: str, ids: Sequence[str], now_us: int
    ) -> list[str]:
        """Marks ``owner``'s running tasks alive; returns those asked to cancel."""
        if not ids:
            return []
        await conn.execute(
            update(tasks)
            .where(tasks.c.id.in_(list(ids)), tasks.c.owner == owner)
            .values(heartbeat_us=now_us)
        )
        rows = await conn.execute(
            select(tasks.c.id).where(tasks.c.id.in_(list(ids)), tasks.c.cancel_requested)
        )
        return [r.id for r in rows]

    # -- propagation -----------------------------------------------------------------------

    async def propagation(self, conn: AsyncConnection) -> dict[str, PropagationRow]:
        """Every host's row, by host id."""
        rows = (await conn.execute(select(propagation))).all()
        return {r.host_id: _propagation(r) for r in rows}

    async def propagation_quick(self, store: Store) -> dict[str, PropagationRow]:
        """Every host's row, by host id, by :meth:`Store.quick_fetch` (one statement, a
        row per host: what every host list reads when no worker runs in this process)."""
        out = {}
        for r in await store.quick_fetch(_SQL_PROPAGATION):
            # The SELECT's column order is PropagationRow's field order.
            (host_id, state, desired, desired_sha, desired_since, observed, enforced,
             activated, content, attempts, error, since, next_us, reconverge, owner,
             until) = r  # fmt: skip
            out[host_id] = PropagationRow(
                host_id, state, int(desired), desired_sha, int(desired_since),
                None if observed is None else int(observed), enforced, activated, content,
                int(attempts), error, int(since), int(next_us), bool(reconverge), owner,
                None if until is None else int(until),
            )  # fmt: skip
        return out

    async def propagation_of(self, conn: AsyncConnection, host_id: str) -> PropagationRow | None:
        """One host's row."""
        row = (
            await conn.execute(select(propagation).where(propagation.c.host_id == host_id))
        ).first()
        return None if row is None else _propagation(row)

    async def propagation_of_many(
        self, conn: AsyncConnection, host_ids: Sequence[str]
    ) -> dict[str, PropagationRow]:
        """The rows of ``host_ids`` (those that exist)."""
        if not host_ids:
            return {}
        query = select(propagation).where(propagation.c.host_id.in_(list(host_ids)))
        return {r.host_id: _propagation(r) for r in (await conn.execute(query)).all()}

    async def version_ts(self, conn: AsyncConnection, version: int) -> int | None:
        """When policy version ``version`` was committed (µs), or None."""
        row = (
            await conn.execute(
                select(policy_versions.c.ts_us).where(policy_versions.c.version == version)
            )
        ).first()
        return None if row is None else int(row.ts_us)

    async def add_hosts(
        self,
        conn: AsyncConnection,
        host_ids: Iterable[str],
        *,
        version: int,
        since_us: int,
        now_us: int,
        held: Iterable[str] = (),
    ) -> None:
        """Rows for hosts that have none yet (``held``: wait for an admin first)."""
        hold = set(held)
        values = [
            {
                "host_id": h,
                "state": "held" if h in hold else "pending",
                "desired_version": version,
                "desired_since_us": since_us,
                "attempts": 0,
                "since_us": now_us,
                "next_attempt_us": 0,
                "reconverge": False,
            }
            for h in host_ids
        ]
        if values:
            await conn.execute(insert(propagation), values)

    async def advance_desired(
        self, conn: AsyncConnection, version: int, *, since_us: int, now_us: int
    ) -> int:
        """Moves every host's desired version up to ``version`` (converged ones become
        pending: there is something new to take); returns how many rows moved."""
        await conn.execute(
            update(propagation)
            .where(propagation.c.desired_version < version, propagation.c.state == "converged")
            .values(state="pending", since_us=now_us)
        )
        result = await conn.execute(
            update(propagation)
            .where(propagation.c.desired_version < version)
            .values(desired_version=version, desired_since_us=since_us, next_attempt_us=0)
        )
        return int(result.rowcount or 0)

    @staticmethod
    def state_for(observed_version: int) -> ColumnElement[str]:
        """``converged`` if ``observed_version`` reaches the row's desired version as it is
        when the statement runs (another node may have moved it), else ``pending``."""
        return case(
            (propagation.c.desired_version <= observed_version, "converged"), else_="pending"
        )

    async def claim(
        self,
        conn: AsyncConnection,
        host_ids: Sequence[str],
        *,
        owner: str,
        now_us: int,
        until_us: int,
        skip_locked: bool,
    ) -> list[str]:
        """Claims the hosts of ``host_ids`` no other node holds; returns the claimed ones."""
        if not host_ids:
            return []
        query = select(propagation.c.host_id).where(
            propagation.c.host_id.in_(list(host_ids)),
            or_(
                propagation.c.lease_owner.is_(None),
                propagation.c.lease_owner == owner,
                propagation.c.lease_until_us < now_us,
            ),
        )
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        free = [r.host_id for r in (await conn.execute(query)).all()]
        if free:
            await conn.execute(
                update(propagation)
                .where(propagation.c.host_id.in_(free))
                .values(lease_owner=owner, lease_until_us=until_us)
            )
        return free

    async def settle(
        self, conn: AsyncConnection, host_id: str, owner: str, values: Mapping[str, Any]
    ) -> bool:
        """Records an outcome and releases ``owner``'s claim (no-op if the claim was lost)."""
        result = await conn.execute(
            update(propagation)
            .where(propagation.c.host_id == host_id, propagation.c.lease_owner == owner)
            .values(**values, lease_owner=None, lease_until_us=None)
        )
        return bool(result.rowcount)

    async def settle_many(
        self, conn: AsyncConnection, owner: str, outcomes: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> None:
        """:meth:`settle` for many hosts: one prepared statement run for every outcome of
        the same shape (the same keys), instead of a statement built per host (~1 ms of
        SQLAlchemy construction and a thread hop each at 1,000 hosts).

        A value under ``STATE_FOR`` instead of ``state`` is an observed version: the state
        becomes :meth:`state_for` of it, decided in SQL as the row is when the statement runs.
        """
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for host_id, values in outcomes:
            keys = tuple(sorted(values))
            params = {f"p_{k}": v for k, v in values.items()}
            params["p_host_id"], params["p_owner"] = host_id, owner
            shapes.setdefault(keys, []).append(params)
        for keys, rows in shapes.items():
            columns: dict[str, Any] = {k: bindparam(f"p_{k}") for k in keys if k != STATE_FOR}
            if STATE_FOR in keys:
                columns["state"] = case(
                    (propagation.c.desired_version <= bindparam(f"p_{STATE_FOR}"), "converged"),
                    else_="pending",
                )
            query = (
                update(propagation)
                .where(
                    propagation.c.host_id == bindparam("p_host_id"),
                    propagation.c.lease_owner == bindparam("p_owner"),
                )
                .values(**columns, lease_owner=None, lease_until_us=None)
            )
            await conn.execute(query, rows)

    async def set_propagation(
        self,
        conn: AsyncConnection,
        host_id: str,
        values: Mapping[str, Any],
        *,
        unless_leased_by_other: tuple[str, int] | None = None,
        unless_activated: str | None = None,
    ) -> bool:
        """Changes one host's row; with ``(me, now_us)``, only while no other node holds it;
        with ``unless_activated``, only while XE's last activation there is not that hash.

        Both conditions are evaluated on the row as it is when the statement runs (on
        PostgreSQL, after a concurrent writer of the row committed), not as it was read.
        """
        query = update(propagation).where(propagation.c.host_id == host_id)
        if unless_activated is not None:
            query = query.where(
                or_(
                    propagation.c.activated_hash.is_(None),
                    propagation.c.activated_hash != unless_activated,
                )
            )
        if unless_leased_by_other is not None:
            me, now_us = unless_leased_by_other
            query = query.where(
                or_(
                    propagation.c.lease_owner.is_(None),
                    propagation.c.lease_owner == me,
                    propagation.c.lease_until_us < now_us,
                )
            )
        result = await conn.execute(query.values(**values))
        return bool(result.rowcount)

    # -- propagation history ---------------------------------------------------------------

    async def record_transitions(
        self,
        conn: AsyncConnection,
        before: Mapping[str, PropagationRow],
        after: Mapping[str, PropagationRow],
        now_us: int,
        *,
        keep: int = HISTORY_PER_HOST,
    ) -> list[dict[str, Any]]:
        """Appends the :func:`transitions` from ``before`` to ``after`` and prunes each
        host that got one to its newest ``keep`` rows, in the caller's unit; returns them."""
        rows = transitions(before, after, now_us)
        if not rows:
            return rows
        await conn.execute(insert(propagation_history), rows)
        hosts = sorted({r["host_id"] for r in rows})
        h = propagation_history
        # Per host, the id of its (keep+1)-th newest row (an index walk of ``keep``
        # entries): that one and the older ones go.
        cutoff = (
            select(h.c.id)
            .where(h.c.host_id == propagation.c.host_id)
            .order_by(h.c.id.desc())
            .offset(keep)
            .limit(1)
            .scalar_subquery()
        )
        found = await conn.execute(
            select(propagation.c.host_id, cutoff.label("cutoff")).where(
                propagation.c.host_id.in_(hosts)
            )
        )
        for host_id, last in found.all():
            if last is not None:
                await conn.execute(delete(h).where(h.c.host_id == host_id, h.c.id <= last))
        return rows

    async def propagation_history(
        self,
        conn: AsyncConnection,
        host_ids: Sequence[str],
        *,
        since_us: int | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[TransitionRow]:
        """The transitions of ``host_ids``, newest first: at or after ``since_us``, older
        than the row ``before_id`` (the last one of the previous page)."""
        if not host_ids:
            return []
        h = propagation_history
        query = select(h).where(h.c.host_id.in_(list(host_ids)))
        if since_us is not None:
            query = query.where(h.c.ts_us >= since_us)
        if before_id is not None:
            query = query.where(h.c.id < before_id)
        query = query.order_by(h.c.id.desc()).limit(limit)
        return [_transition(r) for r in (await conn.execute(query)).all()]

    async def history_count(self, conn: AsyncConnection, host_id: str) -> int:
        """How many transitions of ``host_id`` are kept."""
        h = propagation_history
        found = await conn.execute(
            select(sa_func.count()).select_from(h).where(h.c.host_id == host_id)
        )
        return int(found.scalar_one())

    # -- host facts ------------------------------------------------------------------------

    async def put_host_info(self, conn: AsyncConnection, row: HostInfoRow) -> None:
        """Stores (or replaces) what a host told XE when it joined."""
        await conn.execute(delete(host_info).where(host_info.c.host_id == row.host_id))
        await conn.execute(
            insert(host_info).values(
                host_id=row.host_id,
                hypervisor=_json(row.hypervisor),
                cpu_source=row.cpu_source,
                prior_policy_name=row.prior_policy_name,
                prior_policy_sha256=row.prior_policy_sha256,
                prior_policy_xml=row.prior_policy_xml,
                added_at_us=row.added_at_us,
            )
        )

    async def host_info(self, conn: AsyncConnection, host_id: str) -> HostInfoRow | None:
        """What a host told XE when it joined, or None."""
        row = (await conn.execute(select(host_info).where(host_info.c.host_id == host_id))).first()
        if row is None:
            return None
        return HostInfoRow(
            host_id=row.host_id,
            hypervisor=_load(row.hypervisor) or {},
            cpu_source=row.cpu_source,
            prior_policy_name=row.prior_policy_name,
            prior_policy_sha256=row.prior_policy_sha256,
            prior_policy_xml=row.prior_policy_xml,
            added_at_us=int(row.added_at_us),
        )
