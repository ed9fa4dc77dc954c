"""The History service: the hosts' violations and statistics as XE stored them (read-only).

Auditors and up read history; a caller scoped to enclaves sees only the violations and
VM statistics attributed to those enclaves when they were ingested. Whole-host series
and ingestion state add up every enclave on a host, so they are for unscoped callers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from enterprise_store._errors import InvalidInput, NotFound, RoleRequired
from enterprise_store.services._access import Principal, Role, require_role
from enterprise_store.services._types import Page
from enterprise_store.store import Store
from enterprise_store.store._history_repo import HistoryRepo, ViolationFilter
from enterprise_store.store._history_schema import STATS_TIERS, StatsTier
from xps.policy import HYPERCALL_NAMES

__all__ = [
    "RANGES",
    "HistoryService",
    "IngestHost",
    "StatsPoint",
    "StatsQuery",
    "StatsResult",
    "StatsSeries",
    "ViolationGroup",
    "ViolationQuery",
    "ViolationRecord",
    "ViolationSummary",
]

RangeName = Literal["10m", "2h", "1d", "1w"]
RANGES: dict[str, tuple[int, int]] = {"10m": (0, 600), "2h": (1, 7200), "1d": (2, 86400),
                                      "1w": (2, 7 * 86400)}  # fmt: skip
"""Range name -> (tier, seconds shown): XPS's ``GetStatsHistory`` ranges."""

KINDS = ("profile", "rate", "channel")
_US = 1_000_000
_DEFAULT_WINDOW_S = 3600


@dataclass(frozen=True, slots=True)
class ViolationQuery:
    """Filters and paging of :meth:`HistoryService.violations` (None: any).

    ``host``, ``vm`` and ``enclave`` are XE ids or current names; ``domain`` is the name on
    the host (for domains XE does not manage). ``since_us`` is inclusive, ``until_us`` exclusive.
    """

    enclave: str | None = None
    host: str | None = None
    vm: str | None = None
    domain: str | None = None
    kind: str | None = None
    hypercall: int | None = None
    since_us: int | None = None
    until_us: int | None = None
    limit: int = 100
    after: str | None = None


@dataclass(frozen=True, slots=True)
class ViolationRecord:
    """One stored violation; names are the objects' current ones (None once removed)."""

    host_id: str
    host_name: str | None
    epoch: int
    seq: int
    ts_us: int
    domid: int
    domain: str
    vm_id: str | None
    vm_name: str | None
    enclave_id: str | None
    enclave_name: str | None
    seclabel_id: str | None
    seclabel_name: str
    kind: str
    hypercall: int
    hypercall_name: str
    subop: int
    peer: int | None
    count: int


@dataclass(frozen=True, slots=True)
class ViolationGroup:
    """Violations of one hypercall by one VM (or unmanaged domain) on one host."""

    enclave_id: str | None
    enclave_name: str | None
    host_id: str
    host_name: str | None
    vm_id: str | None
    vm_name: str | None
    domain: str
    hypercall: int
    hypercall_name: str
    violations: int
    per_minute: float
    first_us: int
    last_us: int


@dataclass(frozen=True, slots=True)
class ViolationSummary:
    """Counts grouped enclave → host → VM → hypercall over ``[since_us, until_us)``.

    ``total`` counts every matching violation; it equals the groups' sum unless
    ``truncated`` (more groups than asked for).
    """

    since_us: int
    until_us: int
    total: int
    groups: tuple[ViolationGroup, ...]
    truncated: bool


@dataclass(frozen=True, slots=True)
class StatsQuery:
    """Which series and when: a ``range`` name, or ``since_us``/``until_us`` (the finest
    tier that still holds ``since_us`` is used). ``domain=""`` is the whole host."""

    host: str | None = None
    vm: str | None = None
    domain: str | None = None
    range: str | None = "10m"
    since_us: int | None = None
    until_us: int | None = None
    limit: int = 10_000


@dataclass(frozen=True, slots=True)
class StatsPoint:
    """Means over ``samples`` samples starting at ``ts_us`` (one sample in the raw tier)."""

    ts_us: int
    cpu_pct: float
    mem_kb: float
    vcpus: float
    samples: int


@dataclass(frozen=True, slots=True)
class StatsSeries:
    """One host's series for the host (``domain == ""``) or one of its domains."""

    host_id: str
    host_name: str | None
    domain: str
    vm_id: str | None
    enclave_id: str | None
    points: tuple[StatsPoint, ...]


@dataclass(frozen=True, slots=True)
class StatsResult:
    """Series of one tier (``step_s`` 0: every sample as taken)."""

    tier: int
    step_s: int
    since_us: int
    until_us: int | None
    series: tuple[StatsSeries, ...]
    truncated: bool


@dataclass(frozen=True, slots=True)
class IngestHost:
    """How far XE has stored a host's violations."""

    host_id: str
    host_name: str | None
    epoch: int
    seq: int
    host_dropped: int
    lost: int
    updated_at_us: int


def _uuid(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


def _name(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not 0 < len(value) <= 255 or "\x00" in value:
        raise InvalidInput(f"{what} must be 1 to 255 characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no database would take it
        raise InvalidInput(f"{what} is not valid Unicode text") from None
    return value


def _span(since_us: int | None, until_us: int | None) -> None:
    for value in (since_us, until_us):
        if value is not None and not 0 <= value < 2**62:
            raise InvalidInput("times must be between the epoch and year 148,000")
    if since_us is not None and until_us is not None and since_us >= until_us:
        raise InvalidInput("since must be before until")


def _encode_after(ts_us: int, host: str, epoch: int, seq: int) -> str:
    return f"{ts_us}:{host}:{epoch}:{seq}"


def _decode_after(key: str) -> tuple[int, str, int, int]:
    try:
        ts, host, epoch, seq = key.split(":")
        return int(ts), str(uuid.UUID(host)), int(epoch), int(seq)
    except ValueError:
        raise InvalidInput("invalid cursor: pass next_cursor back unchanged") from None


def _hypercall_name(nr: int) -> str:
    return HYPERCALL_NAMES.get(nr, f"hypercall_{nr}")


class HistoryService:
    """Queries over the stored history.

    Args:
        store: The store the ingester writes.
        clock: Wall clock in seconds (default windows end now).
        tiers: The statistics tiers the ingester keeps.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        tiers: tuple[StatsTier, ...] = STATS_TIERS,
    ) -> None:
        self._repo = HistoryRepo(store)
        self._clock = clock
        self._tiers = tiers

    async def _ref(self, kind: str, value: str | None) -> str | None:
        """The id ``value`` names: a UUID as it is (history outlives objects), or the
        current name of a host, VM or enclave."""
        if value is None:
            return None
        as_id = _uuid(value)
        if as_id is not None:
            return as_id
        _name(value, kind)
        found = await self._repo.id_by_name(kind, value)
        if found is None:
            raise NotFound(f"no {kind} named {value[:64]!r}")
        return found

    async def _filter(
        self, caller: Principal, q: ViolationQuery | None, **kw: Any
    ) -> ViolationFilter:
        q = q or ViolationQuery()
        if q.kind is not None and q.kind not in KINDS:
            raise InvalidInput(f"kind is one of {', '.join(KINDS)}")
        if q.hypercall is not None and not 0 <= q.hypercall <= 2**31 - 1:
            raise InvalidInput("hypercall is a number 0..2^31-1")
        _span(kw.get("since_us", q.since_us), kw.get("until_us", q.until_us))
        return ViolationFilter(
            enclave=await self._ref("enclave", q.enclave),
            host=await self._ref("host", q.host),
            vm=await self._ref("vm", q.vm),
            domain=_name(q.domain, "domain"),
            kind=q.kind,
            hypercall=q.hypercall,
            since_us=kw.get("since_us", q.since_us),
            until_us=kw.get("until_us", q.until_us),
            scopes=caller.scopes,
        )

    async def violations(self, caller: Principal, query: ViolationQuery) -> Page[ViolationRecord]:
        """Violations newest first; ``Page.next`` continues after the last one.

        Raises:
            RoleRequired: Below auditor.
            InvalidInput: A malformed filter or cursor.
        """
        require_role(caller, Role.AUDITOR, "read violations")
        if not 1 <= query.limit <= 1000:
            raise InvalidInput("limit is 1 to 1000")
        f = await self._filter(caller, query)
        after = None if query.after is None else _decode_after(query.after)
        rows = await self._repo.list_violations(f, query.limit + 1, after)
        more = len(rows) > query.limit
        items = tuple(
            ViolationRecord(
                host_id=r.host_id, host_name=r.host_name, epoch=r.epoch, seq=r.seq,
                ts_us=r.ts_us, domid=r.domid, domain=r.domain, vm_id=r.vm_id,
                vm_name=r.vm_name, enclave_id=r.enclave_id, enclave_name=r.enclave_name,
                seclabel_id=r.seclabel_id, seclabel_name=r.seclabel_name, kind=r.kind,
                hypercall=r.hypercall, hypercall_name=_hypercall_name(r.hypercall),
                subop=r.subop, peer=r.peer, count=r.count,
            )
            for r in rows[: query.limit]
        )  # fmt: skip
        nxt = None
        if more:
            last = items[-1]
            nxt = _encode_after(last.ts_us, last.host_id, last.epoch, last.seq)
        return Page(items, nxt)

    async def violation_summary(
        self, caller: Principal, query: ViolationQuery | None = None, *, limit: int = 1000
    ) -> ViolationSummary:
        """Counts and rates grouped enclave → host → VM → hypercall, largest first.

        The window is ``query``'s since/until, by default the last hour.

        Raises:
            RoleRequired: Below auditor.
            InvalidInput: A malformed filter.
        """
        require_role(caller, Role.AUDITOR, "read violations")
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit is 1 to 10000")
        query = query or ViolationQuery()
        until_us = query.until_us if query.until_us is not None else int(self._clock() * _US)
        since_us = query.since_us
        if since_us is None:
            since_us = until_us - _DEFAULT_WINDOW_S * _US
        f = await self._filter(caller, query, since_us=since_us, until_us=until_us)
        rows = await self._repo.violation_groups(f, limit + 1)
        total = await self._repo.count_violations(f)
        minutes = (until_us - since_us) / (60 * _US)
        groups = tuple(
            ViolationGroup(
                enclave_id=r.enclave_id, enclave_name=r.enclave_name, host_id=r.host_id,
                host_name=r.host_name, vm_id=r.vm_id, vm_name=r.vm_name, domain=r.domain,
                hypercall=r.hypercall, hypercall_name=_hypercall_name(r.hypercall),
                violations=int(r.violations), per_minute=round(r.violations / minutes, 3),
                first_us=int(r.first_us), last_us=int(r.last_us),
            )
            for r in rows[:limit]
        )  # fmt: skip
        return ViolationSummary(since_us, until_us, total, groups, truncated=len(rows) > limit)

    async def stats(self, caller: Principal, query: StatsQuery) -> StatsResult:
        """Statistics series of hosts and their domains.

        Raises:
            RoleRequired: Below auditor; or a scoped caller asking for a whole host.
            InvalidInput: Unknown range, malformed ids, or neither range nor since.
        """
        require_role(caller, Role.AUDITOR, "read statistics")
        if not 1 <= query.limit <= 100_000:
            raise InvalidInput("limit is 1 to 100000")
        if query.domain == "" and not caller.is_global:
            raise RoleRequired("whole-host statistics need a role over every enclave")
        if query.domain:
            _name(query.domain, "domain")
        _span(query.since_us, query.until_us)
        now_us = int(self._clock() * _US)
        if query.since_us is not None:
            since_us = query.since_us
            age_s = max(0, (now_us - since_us) // _US)
            tier = next(
                (i for i, t in enumerate(self._tiers) if t.keep_s >= age_s), len(self._tiers) - 1
            )
        elif query.range in RANGES:
            tier, shown_s = RANGES[query.range]
            tier = min(tier, len(self._tiers) - 1)
            since_us = now_us - shown_s * _US
        else:
            raise InvalidInput(f"range is one of {', '.join(RANGES)} (or give since)")
        rows = await self._repo.stats_points(
            tier=tier,
            host=await self._ref("host", query.host),
            domain=query.domain,
            vm=await self._ref("vm", query.vm),
            since_us=since_us,
            until_us=query.until_us,
            scopes=caller.scopes,
            limit=query.limit + 1,
        )
        truncated = len(rows) > query.limit
        series: list[StatsSeries] = []
        points: list[StatsPoint] = []
        key: tuple[str, str] | None = None
        head: Any = None
        for r in rows[: query.limit]:
            if (r.host_id, r.domain) != key:
                if head is not None:
                    series.append(_series(head, points))
                key, head, points = (r.host_id, r.domain), r, []
            n = max(int(r.n), 1)
            points.append(
                StatsPoint(
                    ts_us=r.ts_us,
                    cpu_pct=round(r.cpu_pct_sum / n, 3),
                    mem_kb=round(r.mem_kb_sum / n, 1),
                    vcpus=round(r.vcpus_sum / n, 3),
                    samples=n,
                )
            )
        if head is not None:
            series.append(_series(head, points))
        return StatsResult(
            tier=tier,
            step_s=self._tiers[tier].step_s,
            since_us=since_us,
            until_us=query.until_us,
            series=tuple(series),
            truncated=truncated,
        )

    async def ingest_status(self, caller: Principal) -> list[IngestHost]:
        """Per host: the newest stored violation and what was lost or dropped.

        Raises:
            RoleRequired: Below auditor, or scoped.
        """
        require_role(caller, Role.AUDITOR, "read ingestion state")
        if not caller.is_global:
            raise RoleRequired("ingestion state covers every enclave: it needs an unscoped role")
        return [
            IngestHost(
                host_id=r.host_id, host_name=r.host_name, epoch=r.epoch, seq=r.seq,
                host_dropped=r.host_dropped, lost=r.lost, updated_at_us=r.updated_at_us,
            )
            for r in await self._repo.cursors_with_names()
        ]  # fmt: skip


def _series(head: Any, points: list[StatsPoint]) -> StatsSeries:
    return StatsSeries(
        host_id=head.host_id,
        host_name=head.host_name,
        domain=head.domain,
        vm_id=head.vm_id,
        enclave_id=head.enclave_id,
        points=tuple(points),
    )
