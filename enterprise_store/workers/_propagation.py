"""Propagation: every policy version reaches every host as its signed slice, level-triggered.

The report's XE "monitors changes … in a fixed time interval and propagates them to each
participating host". Here that is a reconcile loop in the Kubernetes mould (spec vs
status, enterprise-anchors §5): each pass compares, per host, the *desired* version (the
policy head) with the *observed* one (what the host last confirmed), and works only on
hosts that differ. Nothing is remembered between passes that the table does not hold, so
a restart, a second server or a host that was down all along simply continue.

For one host::

    claim the host (lease; FOR UPDATE SKIP LOCKED on PostgreSQL)
    current = the host's active policy (GetPolicy; or the slice XE itself last activated
              there, while the host reports exactly that)
    enforced ≠ what XE last activated?  → DRIFTED (nothing is pushed to it until an admin
                                           re-converges, or it enforces XE's again)
    slice  = build_slice(policy, host, current)  (host-owned parts kept)
    same content as the last activated slice?   → converged without a write
    sign with XE's key → StagePolicy → ActivatePolicy → record {version, hash}; release

A failure (host unreachable, slice refused, host refused) is recorded with the attempt
count and retried after an exponential back-off (5 ms doubling to the cap, as
controller-runtime's default limiter); a reconnect of the host cuts the wait short.

Two-person approval: while the Policy service reports a hold (a version that changed an
enclave requiring approval is pending or was rejected), a host that carries a waiting
enclave, in the head or in the policy it enforces, is held: it is verified (drift) but
gets nothing newer, and :attr:`PassReport.held` names it; :attr:`Propagator.held` says
why. Every other host gets the head: its slice names only the enclaves it carries, so no
part of a waiting change reaches it, and one enclave's review does not hold another's
change. The first pass after the approval moves the held hosts to the head.

Drift: XPS pushes a ``policy`` event on every activation. One whose hash is neither what
XE last activated nor the activation XE has in flight marks the host DRIFTED at once;
after a reconnect, and every ``verify_every_s``, the active hash is read again in case an
event was missed. A drifted host is read too (after an event, a reconnect, every
``verify_every_s``): when it enforces XE's hash again (the guided incident's verify
undid its quarantine) it is converged again, with a new ``since``. While the drift is a
quarantine, ``last_error`` says so ("quarantine of VM X, incident INC-n") rather than
look like tampering. The exact slice XE built (``desired_sha256``) counts as XE's too:
a host that kept a quarantine in XE's slice ("quarantine kept: ...") leaves that slice in
force when it is undone.

History (issue #14): every write of a host's row (an outcome, a policy event, a new
version making converged hosts pending) compares the row before and after in the same
transaction and appends the *transitions* to ``propagation_history`` (a change of state,
or a drift whose reason changed), never a poll that changed nothing; each host keeps its
newest ``history_per_host``. The console's XE timeline shows them as drift and converge
marks (``GET /api/v1/propagation/history``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from cryptography.hazmat.primitives import serialization
from lxml import etree

from enterprise_store._errors import ApprovalRequired, HostError, XeError
from enterprise_store.model import EnterprisePolicy, Host
from enterprise_store.policy import HostSlice, host_owned
from enterprise_store.policy._slice import _tag_refs as tag_refs
from enterprise_store.store import Store
from enterprise_store.store._compute_repo import STATE_FOR, ComputeRepo, PropagationRow
from enterprise_store.store._compute_schema import HISTORY_PER_HOST
from enterprise_store.workers._hosts import HostPool, XeIdentity, host_error
from enterprise_store.workers._slices import MergedRef, MergedUnknown, SliceMaker
from xps.client import RemoteError, XpsError
from xps.policy import Policy, PolicyError, policy_from_dict, quarantined_domains, sign_policy

__all__ = [
    "PassReport",
    "PolicySource",
    "PropagationConfig",
    "Propagator",
    "SliceSigner",
    "backoff_s",
]

LOG = logging.getLogger("xenon.xe.propagation")
_OUTCOME_BATCH = 500
_LOGGED_TRANSITIONS = 20


class PolicySource(Protocol):
    """Where the propagation worker reads the committed policy (the Policy service)."""

    async def current(self) -> EnterprisePolicy:
        """The whole policy as last committed."""
        ...


@dataclass(frozen=True, slots=True)
class PropagationConfig:
    """Tunables of the reconcile loop.

    Attributes:
        interval_s: The fixed interval between passes (a change is also picked up at once
            when it is made in this process, or when a host reconnects).
        lease_s: How long a claim on a host lasts (longer than ``host_timeout_s``).
        host_timeout_s: Deadline of the whole exchange with one host.
        backoff_base_s: First retry delay; doubles per failed attempt.
        backoff_cap_s: Longest retry delay.
        concurrency: Hosts worked on at once.
        verify_every_s: How often converged hosts' active hash is read again.
        slice_processes: Processes that build and sign slices (0: one thread of this
            process; None: that thread for a few hosts, one process a core for many; see
            :mod:`enterprise_store.workers._slices`).
        history_per_host: Propagation transitions kept per host (the newest).
    """

    interval_s: float = 1.0
    lease_s: float = 30.0
    host_timeout_s: float = 20.0
    backoff_base_s: float = 0.005
    backoff_cap_s: float = 1000.0
    concurrency: int = 64
    verify_every_s: float = 60.0
    slice_processes: int | None = None
    history_per_host: int = HISTORY_PER_HOST


def _reaches(waiting: frozenset[UUID], policy: EnterprisePolicy, enforced: Policy) -> bool:
    """Whether the head could change what a host enforces of a ``waiting`` enclave, for a
    host that does not carry one in the head: it still has one's SecLabels or a conflict
    set naming one (it carried it: the removal waits), or its tag where the host's own
    objects do not use it (assigned, not retained) or under another name or colour than
    the head's (a retained tag takes XE's name and colour). A tag the host's own NICs or
    storage use is kept with the same name and colour: nothing of the change reaches it.
    """
    if any(s.tag in waiting for s in enforced.seclabels):
        return True
    if any(waiting.intersection(c.tags) for c in enforced.conflicts):
        return True
    tags = [t for t in enforced.tags if t.id in waiting]
    if not tags:
        return False
    used = tag_refs(host_owned(enforced))
    enclaves = policy.ids("enclaves")
    for tag in tags:
        enc = enclaves.get(tag.id)
        if tag.id not in used or enc is None or (enc.name, enc.color) != (tag.name, tag.color):
            return True
    return False


def backoff_s(attempts: int, config: PropagationConfig) -> float:
    """Delay before retry number ``attempts`` (1-based): base · 2^(attempts-1), capped."""
    exponent = min(max(attempts - 1, 0), 60)
    return float(min(config.backoff_cap_s, config.backoff_base_s * (2**exponent)))


class SliceSigner:
    """Signs slices with XE's key (the key of its client certificate), loaded once.

    Args:
        identity: XE's PKI material.

    Raises:
        XeError: The key or certificate cannot be read.
    """

    def __init__(self, identity: XeIdentity) -> None:
        try:
            key_pem = identity.key.read_bytes()
            self._cert = identity.cert.read_bytes()
            self._key = serialization.load_pem_private_key(key_pem, password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise XeError(
                "signer_unavailable", f"XE's signing key cannot be loaded: {exc}"
            ) from exc
        self._parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

    def sign(self, host_slice: HostSlice) -> bytes:
        """The slice as a signed document (XML-DSig, enveloped, XE's certificate embedded)."""
        element = etree.fromstring(host_slice.xml, parser=self._parser)
        return sign_policy(element, self._key, self._cert)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one reconcile pass did.

    Attributes:
        version: The policy version it worked towards.
        claimed: Hosts it took on.
        activated: Hosts that got a new slice.
        unchanged: Hosts whose slice content had not changed (nothing written to them).
        drifted: Hosts found drifted.
        failed: Hosts whose attempt failed (host id -> message).
        held: Hosts not moved to the head: they carry an enclave whose change waits for
            approval.
    """

    version: int
    claimed: int = 0
    activated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    drifted: tuple[str, ...] = ()
    failed: Mapping[str, str] = dataclasses.field(default_factory=dict)
    held: tuple[str, ...] = ()


@dataclass
class _Outcome:
    held: list[str] = dataclasses.field(default_factory=list)
    activated: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)
    drifted: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)


class Propagator:
    """The propagation worker of one node.

    Args:
        store: The store.
        policy: The committed policy (the Policy service).
        pool: XE's host connections.
        maker: Builds and signs the slices (in a thread or in processes).
        node_id: This node's id (leases).
        clock: Wall-clock seconds.
        config: Tunables.
    """

    def __init__(
        self,
        store: Store,
        policy: PolicySource,
        pool: HostPool,
        maker: SliceMaker,
        *,
        node_id: str,
        clock: Callable[[], float] = time.time,
        config: PropagationConfig | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._pool = pool
        self._maker = maker
        self.node_id = node_id
        self._clock = clock
        self.config = config or PropagationConfig()
        self._repo = ComputeRepo()
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._verify: set[str] = set()
        self._expect: dict[str, str] = {}
        # host id -> (hash, policy) XE last activated there: while the host reports that
        # hash, it is the host's current policy, and no GetPolicy is needed.
        self._merged: dict[str, tuple[str, Policy | MergedRef]] = {}
        self._slots = asyncio.Semaphore(self.config.concurrency)
        self.rows: dict[str, PropagationRow] = {}
        # (the store's change stamp, the table as read then): see states().
        self._table: tuple[int, dict[str, PropagationRow]] | None = None
        self.names: dict[str, str] = {}
        self.version = 0
        self._last_verify = 0.0
        self.held: ApprovalRequired | None = None
        self._passed_at: float | None = None
        self._outcomes: list[tuple[str, dict[str, Any], asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None
        pool.on_policy(self._policy_event)
        pool.on_connect(self._connected)

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    @property
    def fresh(self) -> bool:
        """Whether :attr:`rows` comes from a pass less than two intervals ago (the worker
        runs in this process)."""
        at = self._passed_at
        return at is not None and time.monotonic() - at < 2 * self.config.interval_s + 1.0

    def poke(self) -> None:
        """Starts a pass now (a change was committed, an admin asked, a host came back)."""
        self._wake.set()

    def _connected(self, host_id: str) -> None:
        self._verify.add(host_id)
        row = self.rows.get(host_id)
        if row is not None and row.state == "retrying":
            # The host is back: its back-off wait no longer means anything.
            self.rows[host_id] = dataclasses.replace(row, next_attempt_us=0)
        self.poke()

    async def close(self) -> None:
        """Stops the host work in flight, the outcome recorder and the slice workers (before
        the store closes: a unit cut off later would leave its connection to the GC)."""
        tasks = [*self._inflight.values()]
        if self._recorder is not None:
            tasks.append(self._recorder)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._maker.close()

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """The worker: a pass every ``interval_s`` (sooner when poked or a retry is due)."""
        while True:
            self._wake.clear()
            try:
                await self.reconcile_once(wait=False)
            except XeError as exc:
                LOG.warning("propagation pass failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._sleep_s())

    def _sleep_s(self) -> float:
        now = self._now_us()
        wait = self.config.interval_s
        for row in self.rows.values():
            if row.state == "retrying" and row.host_id not in self._inflight:
                wait = min(wait, max(0.0, (row.next_attempt_us - now) / 1_000_000))
        # Retries due close together share a pass: a pass reads every host's row in the
        # writer's unit, and 1,000 unreachable hosts with their own few-ms back-offs woke
        # the loop ~25 times a second (80% of a core on an idle server). A poke (a change,
        # a host back) still starts a pass at once.
        return max(wait, min(0.25, self.config.interval_s / 4))

    async def wait_changed(self, limit_s: float) -> None:
        """Waits until some host's state changed (or ``limit_s`` passed)."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), limit_s)

    async def _bump(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _due(self, row: PropagationRow, now: int) -> bool:
        if row.host_id in self._inflight or row.leased_by_other(self.node_id, now):
            return False
        if row.state == "held" and not row.reconverge:
            return False
        if row.state == "drifted" and not row.reconverge:
            # Read again after a reconnect, an event and every verify_every_s: it may
            # enforce XE's slice again (a quarantine undone), and says why it drifted.
            return row.host_id in self._verify and row.next_attempt_us <= now
        behind = row.observed_version is None or row.observed_version < row.desired_version
        wanted = behind or row.reconverge or row.host_id in self._verify
        return wanted and row.next_attempt_us <= now

    async def reconcile_once(self, *, wait: bool = True) -> PassReport:
        """One pass: brings the rows up to the policy head, claims the hosts that need
        work and works on them (``wait``: until they are done; else in the background).

        Raises:
            StoreUnavailable: The store cannot be reached.
        """
        policy = await self._policy.current()
        held = await self._hold()
        waiting: frozenset[UUID] = frozenset()
        if held is not None:
            if self.held is None or (self.held.version, self.held.state) != (
                held.version,
                held.state,
            ):
                LOG.info("propagation held for the hosts of its enclave: %s", held.message)
            self.held = held
            waiting = await self._held_enclaves()
        elif self.held is not None:
            LOG.info("propagation released: version %d approved", policy.version)
            self.held = None
        now = self._now_us()
        if self._clock() - self._last_verify >= self.config.verify_every_s:
            self._last_verify = self._clock()
            self._verify.update(str(h.id) for h in policy.hosts)
        async with self._store.atomic() as conn:
            rows = await self._repo.propagation(conn)
            since = await self._repo.version_ts(conn, policy.version) or now
            missing = [str(h.id) for h in policy.hosts if str(h.id) not in rows]
            if missing:
                await self._repo.add_hosts(
                    conn, missing, version=policy.version, since_us=since, now_us=now
                )
            moved: list[dict[str, Any]] = []
            if missing or any(r.desired_version < policy.version for r in rows.values()):
                await self._repo.advance_desired(conn, policy.version, since_us=since, now_us=now)
                before, rows = rows, await self._repo.propagation(conn)
                moved = await self._repo.record_transitions(
                    conn, before, rows, now, keep=self.config.history_per_host
                )
            known = {str(h.id) for h in policy.hosts}
            due = [h for h, r in rows.items() if h in known and self._due(r, now)]
            claimed: list[str] = []
            if due:
                claimed = await self._repo.claim(
                    conn,
                    due,
                    owner=self.node_id,
                    now_us=now,
                    until_us=now + int(self.config.lease_s * 1_000_000),
                    skip_locked=self._store.backend == "postgresql",
                )
        self.rows = rows
        self.names = {str(h.id): h.name for h in policy.hosts}
        self._log_transitions(moved)
        self.version = policy.version
        self._passed_at = time.monotonic()
        outcome = _Outcome()
        started: list[asyncio.Task[None]] = []
        for host_id in claimed:
            self._verify.discard(host_id)
            task = asyncio.create_task(
                self._converge(policy, rows[host_id], outcome, waiting),
                name=f"xe-propagate-{host_id[:8]}",
                context=contextvars.Context(),
            )
            self._inflight[host_id] = task
            task.add_done_callback(functools.partial(self._forget, host_id))
            started.append(task)
        if wait and started:
            await asyncio.gather(*started)
        return PassReport(
            version=policy.version,
            claimed=len(claimed),
            activated=tuple(outcome.activated),
            unchanged=tuple(outcome.unchanged),
            drifted=tuple(outcome.drifted),
            failed=dict(outcome.failed),
            held=tuple(outcome.held),
        )

    async def _held_enclaves(self) -> frozenset[UUID]:
        """The enclaves whose change waits for approval (their hosts are held)."""
        held = getattr(self._policy, "approval_held_enclaves", None)
        if held is None:
            return frozenset()
        found: frozenset[UUID] = await held()
        return found

    async def _hold(self) -> ApprovalRequired | None:
        """The Policy service's approval hold (sources without approvals never hold)."""
        hold = getattr(self._policy, "approval_hold", None)
        if hold is None:
            return None
        found: ApprovalRequired | None = await hold()
        return found

    def _log_transitions(self, moved: list[dict[str, Any]]) -> None:
        """Logs recorded transitions (the reason is the host's text: repr-escaped)."""
        if not LOG.isEnabledFor(logging.INFO):
            return
        for t in moved[:_LOGGED_TRANSITIONS]:
            LOG.info(
                "host %s: propagation %s -> %s%s",
                self.names.get(t["host_id"], t["host_id"]),
                t["from_state"],
                t["to_state"],
                "" if t["reason"] is None else f" ({t['reason'][:200]!r})",
            )
        if len(moved) > _LOGGED_TRANSITIONS:
            LOG.info("... and %d more propagation transitions", len(moved) - _LOGGED_TRANSITIONS)

    def _forget(self, host_id: str, task: asyncio.Task[None]) -> None:
        if self._inflight.get(host_id) is task:
            del self._inflight[host_id]

    # -- one host ----------------------------------------------------------------------------

    async def _converge(
        self,
        policy: EnterprisePolicy,
        row: PropagationRow,
        out: _Outcome,
        waiting: frozenset[UUID] = frozenset(),
    ) -> None:
        host = policy.ids("hosts").get(UUID(row.host_id))
        try:
            if host is None:
                await self._settle(row.host_id, {})  # removed meanwhile: release only
                return
            async with self._slots:
                async with asyncio.timeout(self.config.host_timeout_s):
                    await self._converge_host(policy, host, row, out, waiting)
        except asyncio.CancelledError:
            raise
        except (XeError, TimeoutError) as exc:
            message = (
                f"no answer within {self.config.host_timeout_s:g} s"
                if isinstance(exc, TimeoutError)
                else exc.message
            )
            out.failed[row.host_id] = message
            await self._failed(row, message)
        except Exception as exc:
            LOG.error("propagation to host %s failed", row.host_id, exc_info=exc)
            out.failed[row.host_id] = "internal error (logged)"
            await self._failed(row, "internal error (logged)")
        finally:
            await self._bump()

    async def _failed(self, row: PropagationRow, message: str) -> None:
        attempts = row.attempts + 1
        now = self._now_us()
        delay = backoff_s(attempts, self.config)
        values: dict[str, Any] = {
            "state": "retrying",
            "attempts": attempts,
            "last_error": message[:1000],
            "next_attempt_us": now + int(delay * 1_000_000),
        }
        if row.state != "retrying":
            values["since_us"] = now
        LOG.info(
            "propagation to %s failed (attempt %d, next in %.3g s): %s",
            self.names.get(row.host_id, row.host_id),
            attempts,
            delay,
            message,
        )
        with contextlib.suppress(XeError):
            await self._settle(row.host_id, values)

    async def _settle(self, host_id: str, values: Mapping[str, Any]) -> None:
        """Records a host's outcome and releases its claim (group commit: the outcomes of
        hosts that finish together share one transaction).

        Raises:
            StoreUnavailable: The store cannot be reached (nothing recorded).
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((host_id, dict(values), done))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(
                self._record_outcomes(),
                name="xe-propagation-outcomes",
                context=contextvars.Context(),
            )
        await done

    async def _record_outcomes(self) -> None:
        while self._outcomes:
            await asyncio.sleep(0)  # hosts finishing in this loop turn join the batch
            batch, self._outcomes = self._outcomes[:_OUTCOME_BATCH], self._outcomes[_OUTCOME_BATCH:]
            try:
                async with self._store.atomic() as conn:
                    ids = [b[0] for b in batch]
                    before = await self._repo.propagation_of_many(conn, ids)
                    await self._repo.settle_many(conn, self.node_id, [b[:2] for b in batch])
                    fresh = await self._repo.propagation_of_many(conn, ids)
                    moved = await self._repo.record_transitions(
                        conn, before, fresh, self._now_us(), keep=self.config.history_per_host
                    )
            except Exception as exc:  # each waiter decides what a lost record means
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self._log_transitions(moved)
            self.rows.update(fresh)
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _active(self, client: Any, where: str) -> tuple[str | None, Any]:
        """The host's active hash and its policy as sent (not parsed yet), or (None, None)."""
        try:
            stored = await client.get_policy("active")
        except RemoteError as exc:
            if exc.code == "not_found":
                return None, None
            raise host_error(exc, where) from exc
        except XpsError as exc:
            raise host_error(exc, where) from exc
        return str(stored["sha256"]), stored.get("policy")

    async def _converge_host(
        self,
        policy: EnterprisePolicy,
        host: Host,
        row: PropagationRow,
        out: _Outcome,
        waiting: frozenset[UUID] = frozenset(),
    ) -> None:
        host_id = str(host.id)
        where = f"host {host.name!r} ({host.address}:{host.port})"
        client = await self._pool.client(host_id, host.address, host.port)
        cached = self._merged.get(host_id)
        trusted_cache = (
            cached is not None
            and not row.reconverge
            and row.activated_hash == cached[0]
            and row.enforced_hash == cached[0]
            and row.state != "drifted"
        )
        behind = row.observed_version is None or row.observed_version < policy.version
        enforced: str | None
        current: Policy | MergedRef | None = None
        raw: Any = None
        if trusted_cache and behind and host_id not in self._verify:
            assert cached is not None
            enforced, current = cached
        else:
            enforced, raw = await self._active(client, where)
            if raw is not None and cached is not None and cached[0] == enforced:
                current, raw = cached[1], None  # what XE activated there: no need to parse
        now = self._now_us()
        # XE's own: what it activated, or exactly the slice it built (the host kept a
        # quarantine in it, and verify's unquarantine has left the slice itself).
        ours = enforced is not None and enforced in (row.activated_hash, row.desired_sha256)
        if row.activated_hash is not None and not ours and not row.reconverge:
            self._merged.pop(host_id, None)
            out.drifted.append(host_id)
            if row.state != "drifted" or row.enforced_hash != enforced:
                LOG.warning(
                    "%s drifted: it enforces %s, XE activated %s",
                    where,
                    (enforced or "no policy")[:12],
                    row.activated_hash[:12],
                )
            await self._settle(
                host_id,
                {
                    "state": "drifted",
                    "enforced_hash": enforced,
                    "since_us": now if row.state != "drifted" else row.since_us,
                    "last_error": await self._drift_reason(client, raw, where),
                    "attempts": 0,
                },
            )
            return
        undrifted = row.state == "drifted" and not row.reconverge
        if undrifted:
            LOG.info("%s enforces XE's %s again: no longer drifted", where, enforced)
        if not behind and not row.reconverge:
            # A verification only: the host still enforces what XE activated.
            values: dict[str, Any] = {"enforced_hash": enforced}
            if enforced != row.activated_hash:
                values.update({"activated_hash": enforced, "last_error": None})
            if undrifted:
                values.update(
                    {STATE_FOR: row.observed_version or 0, "since_us": now, "last_error": None}
                )
            await self._settle(host_id, values)
            return
        if waiting and await self._carries(waiting, policy, host, client, current, raw, where):
            out.held.append(host_id)
            held: dict[str, Any] = {"enforced_hash": enforced}
            if undrifted:
                held.update({"state": "held", "since_us": now, "last_error": None})
            await self._settle(host_id, held)
            return
        unchanged_if = (
            row.content_sha256
            if not row.reconverge and enforced is not None and enforced == row.activated_hash
            else None
        )
        try:
            made = await self._maker.make(
                policy, host, current, raw, where, unchanged_if=unchanged_if
            )
        except MergedUnknown:
            # The slice process lost the policy it built last (it was restarted): read
            # the host's own.
            self._merged.pop(host_id, None)
            LOG.info("%s: the slice process lost its policy; reading the host's", where)
            enforced2, raw = await self._active(client, where)
            if enforced2 != enforced:
                raise HostError(f"{where}: its policy changed while XE read it") from None
            made = await self._maker.make(policy, host, None, raw, where, unchanged_if=unchanged_if)
        if made.signed is None:
            out.unchanged.append(host_id)
            await self._settle(
                host_id,
                {
                    STATE_FOR: made.version,
                    "observed_version": made.version,
                    "desired_sha256": row.activated_hash,
                    "enforced_hash": enforced,
                    "attempts": 0,
                    "last_error": None,
                    "since_us": now,
                    "next_attempt_us": 0,
                },
            )
            return
        self._expect[host_id] = made.slice_sha256
        try:
            await client.stage_policy(xml=made.signed.decode("utf-8"))
            active = await client.activate_policy()
        except XpsError as exc:
            raise host_error(exc, where) from exc
        sha = str(active["sha256"])
        kept = active.get("quarantines_kept")
        note = None
        if kept and isinstance(kept, list):
            # The host kept quarantines in force in the slice (XPS rebases it): what it
            # enforces is the slice with those VMs on their quarantine SecLabels.
            note = ("quarantine kept: " + ", ".join(str(k) for k in kept))[:1000]
            LOG.info("%s: %s", where, note)
        else:
            self._merged[host_id] = (sha, made.merged)
        self._expect[host_id] = sha
        out.activated.append(host_id)
        LOG.info("%s: version %d active (%s)", where, made.version, sha[:12])
        await self._settle(
            host_id,
            {
                STATE_FOR: made.version,
                "observed_version": made.version,
                "desired_sha256": made.slice_sha256,
                "enforced_hash": sha,
                "activated_hash": sha,
                "content_sha256": made.content_sha256,
                "attempts": 0,
                "last_error": note,
                "since_us": now,
                "next_attempt_us": 0,
                "reconverge": False,
            },
        )

    async def _carries(
        self,
        waiting: frozenset[UUID],
        policy: EnterprisePolicy,
        host: Host,
        client: Any,
        current: Policy | MergedRef | None,
        raw: Any,
        where: str,
    ) -> bool:
        """Whether the head would change what ``host`` enforces of an enclave whose change
        waits for approval: it carries one in the head, or :func:`_reaches` says so of the
        policy it enforces (an unassignment waits too)."""
        if policy.enclave_ids_of(host.id) & waiting:
            return True
        enforced: Policy
        if isinstance(current, Policy):
            enforced = current
        else:
            if raw is None:
                if current is None:
                    return False  # the host enforces no policy
                _, raw = await self._active(client, where)  # XE's merged policy is elsewhere
                if raw is None:
                    return False
            try:
                enforced = policy_from_dict(raw)
            except (PolicyError, KeyError, TypeError, ValueError):
                return True  # unreadable: hold rather than guess
        return _reaches(waiting, policy, enforced)

    async def _drift_reason(self, client: Any, raw: Any, where: str) -> str | None:
        """Why a host drifted when it is a quarantine of the guided incident (issue #14
        §2): ``quarantine of VM X, incident INC-n`` for each domain of the policy it
        enforces (``raw``, as sent) bound to a quarantine SecLabel, with its open incident
        on the host; None when nothing there is a quarantine (or it cannot be read)."""
        if raw is None:
            return None
        try:
            enforced = policy_from_dict(raw)
            names = quarantined_domains(enforced)
        except (PolicyError, KeyError, TypeError, ValueError):
            return None
        # The other form (VIFs detached) shows only as a VM without VIFs: its open
        # incident says whether it holds them.
        bare = [d.name for d in enforced.domains if not enforced.vifs_of(d.id)]
        if not names and not bare:
            return None
        try:
            listed = await client.list_incidents(state="open")
            open_ = {i["domain"]: i["id"] for i in reversed(listed["incidents"])}
            for n in (n for n in bare if n in open_ and n not in names):
                held = (await client.get_incident(open_[n])).get("quarantine") or {}
                if held.get("form") == "vifs":
                    names.append(n)
        except (XpsError, KeyError, TypeError, AttributeError) as exc:
            LOG.info("%s: its incidents could not be read: %s", where, exc)
            open_ = {}
        if not names:
            return None
        parts = [
            f"quarantine of VM {n}, "
            + (f"incident {open_[n]}" if n in open_ else "no open incident")
            for n in names
        ]
        return "; ".join(parts)[:1000]

    # -- drift by event ----------------------------------------------------------------------

    async def _policy_event(self, host_id: str, data: dict[str, Any]) -> None:
        sha = data.get("sha256")
        if not isinstance(sha, str):
            return
        cached = self.rows.get(host_id)
        if sha == self._expect.get(host_id) and (cached is None or cached.state != "drifted"):
            return  # XE's own activation (a drifted host that activates it again goes on)
        if host_id in self._inflight:
            # Our own exchange with the host decides; it may have read the host's hash
            # before this activation, so the next pass reads it again.
            self._verify.add(host_id)
            self.poke()
            return
        now = self._now_us()
        async with self._store.atomic() as conn:
            row = await self._repo.propagation_of(conn, host_id)
            if row is None or row.activated_hash is None:
                return
            if sha in (row.activated_hash, row.desired_sha256):
                # XE's (or exactly its slice: a kept quarantine undone).
                values: dict[str, Any] = {"enforced_hash": sha}
                if sha != row.activated_hash:
                    values.update(activated_hash=sha, last_error=None)
                if row.state == "drifted":
                    values.update(state=self._repo.state_for(row.observed_version or 0))
                    values["since_us"] = now
                    values["last_error"] = None
            else:
                values = {"state": "drifted", "enforced_hash": sha}
                if row.state != "drifted" or row.enforced_hash != sha:
                    # A late event of the drift already read keeps the reason found then.
                    values["last_error"] = None
                if row.state != "drifted":
                    values["since_us"] = now
            # The row may change under us (another server settling its own activation of
            # this hash): the conditions hold on the row as it is when the update runs.
            changed = await self._repo.set_propagation(
                conn,
                host_id,
                values,
                unless_leased_by_other=(self.node_id, now),
                unless_activated=sha if values.get("state") == "drifted" else None,
            )
            fresh = await self._repo.propagation_of(conn, host_id)
            moved = []
            if changed and fresh is not None:
                moved = await self._repo.record_transitions(
                    conn, {host_id: row}, {host_id: fresh}, now, keep=self.config.history_per_host
                )
        self._log_transitions(moved)
        if changed and values.get("state") == "drifted":
            self._merged.pop(host_id, None)
            LOG.warning(
                "host %s drifted: it activated %s behind XE's back",
                self.names.get(host_id, host_id),
                sha[:12],
            )
            self._verify.add(host_id)  # the next pass reads it and says why (a quarantine)
            self.poke()
        elif changed and row.state == "drifted" and "state" in values:
            LOG.info(
                "host %s enforces XE's %s again: no longer drifted",
                self.names.get(host_id, host_id),
                sha[:12],
            )
        if fresh is not None:
            self.rows[host_id] = fresh
        await self._bump()

    # -- admin -------------------------------------------------------------------------------

    async def reconverge(self, host_id: str) -> PropagationRow | None:
        """An admin's word: send the host its slice again, whatever it enforces now (ends
        DRIFTED, and takes over a HELD host)."""
        async with self._store.atomic() as conn:
            await self._repo.set_propagation(
                conn,
                host_id,
                {"reconverge": True, "next_attempt_us": 0, "attempts": 0},
            )
            row = await self._repo.propagation_of(conn, host_id)
        if row is not None:
            self.rows[host_id] = row
        self._verify.add(host_id)
        self.poke()
        return row

    async def states(self) -> dict[str, PropagationRow]:
        """Every host's propagation row as committed now (a new dict; the rows are
        shared). On SQLite the rows read last are reused until the next commit to the
        database (every host list asks, at 1,000 hosts a read of ~5 ms)."""
        stamp = self._store.change_stamp()
        cached = self._table
        if stamp is not None and cached is not None and cached[0] == stamp:
            return dict(cached[1])
        rows = await self._repo.propagation_quick(self._store)
        self._table = None if stamp is None else (stamp, rows)
        return dict(rows)

    def lag_s(self, row: PropagationRow, now_us: int | None = None) -> float:
        """Seconds the host has been behind its desired version (0 when it is not)."""
        if row.observed_version is not None and row.observed_version >= row.desired_version:
            return 0.0
        now = self._now_us() if now_us is None else now_us
        return max(0.0, (now - row.desired_since_us) / 1_000_000)
