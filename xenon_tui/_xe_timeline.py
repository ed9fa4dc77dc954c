"""The incident timeline of an enclave, host or VM from XE: its violation history, the
operators' actions in XE's audit log, the policy versions and the propagation of the policy,
on one time axis (the same :class:`~xenon_tui._timeline.Timeline` the host console shows).

Everything is read through :class:`enterprise_store.client.XeClient` (the console's only way
to XE), page by page and bounded: at most :data:`MAX_VIOLATIONS` violation records and
:data:`MAX_AUDIT` audit records are read, and the timeline says when it cut.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

from xenon_tui._incident_report import ReportMeta
from xenon_tui._timeline import Timeline, TimelineEvent
from xenon_tui._xe import bounded

if TYPE_CHECKING:
    from enterprise_store.client import (
        AuditRecordOut,
        PropagationTransitionOut,
        ViolationOut,
        XeClient,
    )

T = TypeVar("T")

MAX_VIOLATIONS = 100_000
"""Violation records read at most (the newest); the timeline says when there were more."""
MAX_AUDIT = 10_000
"""Audit records read at most for a scope (newest first)."""
MAX_TRANSITIONS = 10_000
"""Propagation transitions read at most (newest first)."""
MAX_VERSIONS = 2_000
"""Policy versions read at most (newest first)."""
PAGE = 1000
"""Records per request (XE's largest page)."""
NAME_MAX = 200
"""Longest object name put into a query (XE refuses longer)."""
MAX_DIFF_VERSIONS = 50
"""Policy versions (the newest shown) whose diffs are asked of XE, one request each."""
DIFF_MAX_LINES = 200
"""Lines of one version's diff kept; the rest is said as ``… N more lines``."""

ScopeKind = Literal["enclave", "host", "vm"]


@dataclass(frozen=True)
class Scope:
    """What a timeline is of.

    Attributes:
        kind: ``enclave``, ``host`` or ``vm``.
        id: XE's id of it.
        name: Its name (the title, the audit log's object names).
        enclaves: Ids of the enclaves whose policy versions concern it (a VM's enclave, a
            host's enclaves, the enclave itself).
        hosts: Names of the hosts whose propagation it shows.
    """

    kind: ScopeKind
    id: str
    name: str
    enclaves: frozenset[str] = field(default_factory=frozenset)
    hosts: frozenset[str] = field(default_factory=frozenset)

    @property
    def title(self) -> str:
        """``VM EB-domu-1``, ``host xenon-1``, ``enclave Enclave B``."""
        return f"{'VM' if self.kind == 'vm' else self.kind} {self.name}"


@dataclass
class XeTimeline:
    """A built timeline, its report header and what was cut."""

    timeline: Timeline
    meta: ReportMeta
    notes: list[str]


def _epoch(when: dt.datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


# -- formatters (run only for the rows shown or exported) ---------------------------------


def violation_event(v: ViolationOut) -> TimelineEvent:
    """One of XE's stored violations as an event."""
    call = v.hypercall_name or str(v.hypercall)
    if v.subop >= 0:
        call += f"/{v.subop}"
    who = v.vm_name or v.domain
    host = v.host_name or v.host_id
    return TimelineEvent(
        v.ts_us / 1e6,
        "violation",
        who,
        f"{who} on {host}: {v.kind} {call}",
        1,
        {
            "host": host,
            "seq": v.seq,
            "seclabel": v.seclabel_name,
            "enclave": v.enclave_name,
            "hypercall": call,
            "domain_count": v.count,
        },
    )


def audit_event(rec: AuditRecordOut) -> TimelineEvent:
    """An audit record as an operator's action naming the actor."""
    what = rec.action.removeprefix("compute.").removeprefix("policy.")
    summary = f"{rec.actor}: {what} {rec.object}"
    if rec.result != "ok":
        summary += f" ({rec.result})"
    detail: dict[str, object] = {"actor": rec.actor, "action": rec.action, "seq": rec.seq}
    detail.update({"result": rec.result, "source": rec.source, "hash": rec.hash})
    return TimelineEvent(rec.ts_us / 1e6, "action", rec.object, summary, 1, detail)


# -- building -----------------------------------------------------------------------------


async def _pages(
    fetch: Callable[[str | None], Awaitable[tuple[list[T], str | None]]], limit: int
) -> tuple[list[T], bool]:
    """Reads pages until none is left or ``limit`` items are held; True when cut."""
    out: list[T] = []
    cursor: str | None = None
    while True:
        items, cursor = await fetch(cursor)
        out.extend(items)
        if len(out) >= limit:
            cut = len(out) > limit or cursor is not None
            return out[:limit], cut
        if cursor is None:
            return out, False


async def read_violations(
    client: XeClient, scope: Scope, limit: int = MAX_VIOLATIONS
) -> tuple[list[ViolationOut], bool]:
    """The scope's violations, newest first, at most ``limit``; True when there were more."""
    enclave, host, vm = (scope.id if scope.kind == k else None for k in ("enclave", "host", "vm"))

    async def fetch(cursor: str | None) -> tuple[list[ViolationOut], str | None]:
        page = await bounded(
            client.history.violations(
                enclave=enclave, host=host, vm=vm, limit=min(PAGE, limit), cursor=cursor
            )
        )
        return list(page.items), page.next_cursor

    return await _pages(fetch, limit)


async def read_audit(
    client: XeClient, scope: Scope, limit: int = MAX_AUDIT
) -> tuple[list[AuditRecordOut], bool]:
    """The audit records about the scope: of its object (``vm:``/``host:`` by id and by
    name, as XE records what the caller named), or for an enclave every record naming it."""
    if scope.kind == "enclave":
        # No enclave filter in XE's audit query: the newest ``limit`` records are read
        # (bounded by what is read, not by what is kept) and those naming it kept.
        kept: list[AuditRecordOut] = []
        cursor: str | None = None
        scanned = 0
        while True:
            page = await bounded(client.list_audit(limit=PAGE, cursor=cursor))
            scanned += len(page.items)
            kept += [r for r in page.items if scope.id in r.enclaves]
            cursor = page.next_cursor
            if cursor is None:
                return kept, False
            if scanned >= limit:
                return kept, True

    out: list[AuditRecordOut] = []
    cut = False
    seen: set[int] = set()
    for ref in dict.fromkeys((scope.id, scope.name)):
        obj = f"{scope.kind}:{ref}"[:NAME_MAX]

        async def by_object(
            cursor: str | None, obj: str = obj
        ) -> tuple[list[AuditRecordOut], str | None]:
            page = await bounded(client.list_audit(object=obj, limit=PAGE, cursor=cursor))
            return list(page.items), page.next_cursor

        records, more = await _pages(by_object, limit)
        cut = cut or more
        out += [r for r in records if r.seq not in seen]
        seen.update(r.seq for r in records)
    return out, cut


def bounded_diff(text: str, limit: int = DIFF_MAX_LINES) -> str:
    """A diff cut to ``limit`` lines, the rest said as ``… N more lines``."""
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= limit:
        return "\n".join(lines)
    return "\n".join([*lines[:limit], f"… {len(lines) - limit} more lines"])


async def read_policy_diffs(client: XeClient, versions: list[int]) -> dict[int, str]:
    """version -> the diff XE keeps of it (``GET /policy/versions/{v}/diff``): per enclave
    the version changed (the caller may read), the unified diff of the enclave's text from
    the version before, and of the enterprise part (hosts, profiles). A version made before
    XE kept them (store migration 0010) falls back to what approvals keep: for each enclave
    requiring two-person approval, its approved text → the version's
    (``GET /policy/approvals?version=``). The newest :data:`MAX_DIFF_VERSIONS` of
    ``versions`` are asked; a version without any is left out."""
    from enterprise_store.client import XeError

    async def approvals(version: int) -> str:
        answer = await bounded(client.policy.approvals(version=version))
        return "\n".join(item.diff.rstrip("\n") for item in answer.items if item.diff.strip())

    async def one(version: int) -> tuple[int, str]:
        try:
            kept = await bounded(client.policy.version_diff(version))
            if kept.recorded:
                text = "\n".join(d.diff.rstrip("\n") for d in kept.diffs if d.diff.strip())
            else:
                text = await approvals(version)
        except XeError:  # not the caller's to read, or gone: no diff shown
            return version, ""
        return version, bounded_diff(text) if text else ""

    newest = sorted(set(versions), reverse=True)[:MAX_DIFF_VERSIONS]
    answers = await asyncio.gather(*(one(v) for v in newest))
    return {v: text for v, text in answers if text}


async def read_policy_events(client: XeClient, scope: Scope) -> list[TimelineEvent]:
    """Policy versions that concern the scope (its enclaves', and enterprise-wide ones),
    with the diffs XE keeps of the newest (:func:`read_policy_diffs`)."""

    async def fetch(cursor: str | None) -> tuple[list[TimelineEvent], str | None]:
        page = await bounded(client.policy.list_versions(limit=PAGE, cursor=cursor))
        events = [
            TimelineEvent(
                _epoch(v.at),
                "policy",
                f"v{v.version}",
                f"v{v.version} by {v.author}: {v.summary or v.action} (sha256 {v.sha256[:12]}…)",
                1,
                {
                    "version": v.version,
                    "sha256": v.sha256,
                    "author": v.author,
                    "action": v.action,
                    "object": v.object,
                },
            )
            for v in page.items
            if not v.enclaves or not scope.enclaves or scope.enclaves & set(v.enclaves)
        ]
        return events, page.next_cursor

    events, _ = await _pages(fetch, MAX_VERSIONS)
    numbers = [int(str(e.subject).removeprefix("v")) for e in events]
    diffs = await read_policy_diffs(client, numbers)
    return [
        dataclasses.replace(e, detail={**e.detail, "diff": diffs[v]}) if v in diffs else e
        for e, v in zip(events, numbers, strict=True)
    ]


async def read_propagation_events(client: XeClient, scope: Scope) -> list[TimelineEvent]:
    """XE's propagate tasks (started, and how they ended) and the scope's hosts' last
    confirmed propagation state."""
    events: list[TimelineEvent] = []
    for task in await bounded(client.compute.tasks(kind="propagate", limit=PAGE)):
        detail = {"task": task.id, "object": task.object, "by": task.created_by}
        events.append(
            TimelineEvent(
                _epoch(task.created_at),
                "propagation",
                task.object,
                f"{task.created_by}: propagate {task.object.removeprefix('policy:')} started",
                1,
                detail,
            )
        )
        if task.finished_at is not None:
            message = f" — {task.message}" if task.message else ""
            events.append(
                TimelineEvent(
                    _epoch(task.finished_at),
                    "propagation",
                    task.object,
                    f"propagate {task.object.removeprefix('policy:')} {task.state}{message}",
                    1,
                    {**detail, "state": task.state},
                )
            )
    for p in await bounded(client.compute.propagation()):
        if scope.hosts and p.host not in scope.hosts:
            continue
        enforced = "nothing" if p.observed.version is None else f"v{p.observed.version}"
        events.append(
            TimelineEvent(
                _epoch(p.observed.since),
                "propagation",
                p.host,
                f"{p.host}: {p.state}, enforces {enforced} (wanted v{p.desired.version})",
                1,
                {
                    "host": p.host,
                    "state": p.state,
                    "hash": p.observed.enforced_hash,
                    "error": p.observed.last_error,
                },
            )
        )
    return events


DRIFT_MARK = "▲"
"""Starts the summary of a host's drift (and of a drift whose reason changed)."""
CONVERGE_MARK = "✓"
"""Starts the summary of a host's convergence."""
_REASON_SHOWN = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(text: str, limit: int = _REASON_SHOWN) -> str:
    """Untrusted text (a host's reason) on one line, control characters as spaces."""
    flat = _CONTROL.sub(" ", text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def transition_event(t: PropagationTransitionOut) -> TimelineEvent:
    """A host's propagation transition: a drift mark with its reason, a converge mark, a
    retry with its error, pending and held."""
    reason = None if t.reason is None else _one_line(t.reason)
    if t.to_state == "drifted":
        what = "drift changed" if t.from_state == "drifted" else "drifted"
        summary = f"{DRIFT_MARK} {t.host}: {what} — {reason or 'reason unknown'}"
    elif t.to_state == "converged":
        at = "nothing" if t.observed_version is None else f"v{t.observed_version}"
        summary = f"{CONVERGE_MARK} {t.host}: converged, enforces {at}"
        summary += f" — {reason}" if reason else ""
        if t.from_state == "drifted":
            summary += " (drift over)"
    elif t.to_state == "retrying":
        summary = f"{t.host}: retrying v{t.desired_version} — {reason or 'no error given'}"
    elif t.to_state == "held":
        summary = f"{t.host}: held at v{t.observed_version} (a change waits for approval)"
    else:
        summary = f"{t.host}: {t.to_state} v{t.desired_version}"
    return TimelineEvent(
        t.ts_us / 1e6,
        "propagation",
        t.host,
        summary,
        1,
        {
            "host": t.host,
            "from": t.from_state,
            "to": t.to_state,
            "reason": t.reason,
            "hash": t.enforced_hash,
            "desired_version": t.desired_version,
            "observed_version": t.observed_version,
        },
    )


async def read_transitions(
    client: XeClient, scope: Scope, limit: int = MAX_TRANSITIONS
) -> tuple[list[PropagationTransitionOut], bool]:
    """The propagation transitions of the scope's hosts (a host's own, read by its id),
    newest first, at most ``limit``; True when there were more."""
    host = scope.id if scope.kind == "host" else None

    async def fetch(cursor: str | None) -> tuple[list[PropagationTransitionOut], str | None]:
        page = await bounded(
            client.compute.propagation_history(host=host, limit=PAGE, cursor=cursor)
        )
        items = [t for t in page.items if not scope.hosts or t.host in scope.hosts]
        return items, page.next_cursor

    return await _pages(fetch, limit)


async def xe_timeline(
    client: XeClient, scope: Scope, user: str, *, max_violations: int = MAX_VIOLATIONS
) -> XeTimeline:
    """The scope's timeline from XE, with the report header naming it and the XE user."""
    timeline = Timeline(scope.title)
    notes: list[str] = []
    violations, cut = await read_violations(client, scope, max_violations)
    if violations:
        violations.reverse()  # oldest first: the columns need no sort
        times = [v.ts_us / 1e6 for v in violations]
        timeline.add("violation", violations, times, violation_event)
    if cut:
        notes.append(f"only the newest {len(violations):,} violations (XE holds more)")
    records, audit_cut = await read_audit(client, scope)
    if records:
        timeline.add("action", records, [r.ts_us / 1e6 for r in records], audit_event)
    if audit_cut:
        notes.append(f"only the newest {len(records):,} audit records")
    timeline.add_events(await read_policy_events(client, scope))
    timeline.add_events(await read_propagation_events(client, scope))
    transitions, moves_cut = await read_transitions(client, scope)
    if transitions:
        transitions.reverse()
        timeline.add(
            "propagation", transitions, [t.ts_us / 1e6 for t in transitions], transition_event
        )
    if moves_cut:
        notes.append(f"only the newest {len(transitions):,} propagation transitions")
    shown = f"{scope.title}: {len(violations):,} violations"
    if notes:
        shown += " — " + "; ".join(notes)
    meta = ReportMeta(f"Timeline of {scope.title} (XE)", f"{user} (XE)", shown)
    return XeTimeline(timeline, meta, notes)


__all__ = [
    "CONVERGE_MARK",
    "DIFF_MAX_LINES",
    "DRIFT_MARK",
    "MAX_AUDIT",
    "MAX_DIFF_VERSIONS",
    "MAX_TRANSITIONS",
    "MAX_VIOLATIONS",
    "Scope",
    "XeTimeline",
    "audit_event",
    "bounded_diff",
    "read_audit",
    "read_policy_diffs",
    "read_policy_events",
    "read_propagation_events",
    "read_transitions",
    "read_violations",
    "transition_event",
    "violation_event",
    "xe_timeline",
]
