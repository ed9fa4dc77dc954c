"""The incident timeline of the current server: what the console holds (its violation
log, statistics) and what the host keeps (its MSM log: policy versions, operators' actions,
the MSM's own) on one time axis; and the timeline of one incident, from the record the host
captured (its violations, the domain's statistics, its steps) and the host's log of its
time.

A policy version coming into force carries its SHA-256 and, for the active one, the diff
from the version before it (read from the host: ``GetPolicy`` active and previous), so an
exported report shows the diffs and hashes it names."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from xenon_tui._errors import ConsoleError
from xenon_tui._incident_report import ReportMeta
from xenon_tui._policy_data import policy_of
from xenon_tui._timeline import (
    Series,
    Timeline,
    TimelineEvent,
    add_violations,
    log_event,
)
from xenon_tui.flows._console import Console, connected_address

LOG_LINES = 2000
"""MSM log lines asked of the host (it keeps the last 2,000)."""
INCIDENT_LEAD_S = 600.0
"""An incident's timeline starts this long before it was opened (the capture's window)."""
MAX_DIFF_CHARS = 20_000
"""A policy diff longer than this is cut (with a line that says so) in the report."""


async def incident_timeline(console: Console) -> tuple[Timeline, ReportMeta] | None:
    """The current server's timeline and its report header; None when not connected."""
    address = connected_address(console)
    if address is None:
        return None
    state = console.servers[address]
    name = str(state.info.get("hostname") or address)
    timeline = Timeline(name)
    rows = state.violations.oldest_first()
    add_violations(timeline, rows)
    timeline.add_events(await _host_log_events(console, address, name))
    top = Counter(str(r.get("domain")) for r in rows).most_common(1)
    # The host's CPU and that of the domain with the most violations, over the last 2 h.
    for which in ["host", *(t[0] for t in top)]:
        try:
            history = await console.call(address, "GetStatsHistory", range="2h", domain=which)
        except ConsoleError:  # no history for it (yet)
            continue
        timeline.add_series(_cpu_series(which, history))
    scope = f"{name}, {len(rows)} violations" + (f" (most: {top[0][0]})" if top else "")
    return timeline, ReportMeta(f"Timeline of {name}", console.user, scope)


async def one_incident_timeline(
    console: Console, address: str, incident_id: str
) -> tuple[Timeline, ReportMeta]:
    """The timeline of one incident (``T`` in its runbook or in the incidents list): the
    violations and statistics its capture holds, its steps (who, when, the note), and the
    host's log lines of its domain and of policy versions from ``INCIDENT_LEAD_S`` before it
    was opened until it was closed (now while it is open)."""
    record = await console.call(address, "GetIncident", id=incident_id)
    state = console.servers.get(address)
    host = str(state.info.get("hostname") or address) if state is not None else address
    domain = str(record["domain"])
    start = float(record["opened_at"]) - INCIDENT_LEAD_S
    closed = record.get("closed_at")
    end = float(closed) if isinstance(closed, int | float) else time.time()
    title = f"{record['id']}: {domain} on {host}"
    timeline = Timeline(title)
    seen: set[Any] = set()
    violations = []
    for v in [*record.get("triggers", ()), *record.get("violations", ())]:
        key = v.get("seq")
        if key is None or key not in seen:
            seen.add(key)
            violations.append(v)
    add_violations(timeline, violations)
    timeline.add_events(_step_events(record))
    own = f"incident {record['id']} "  # the steps' own log lines: the record has them
    logged = [
        e
        for e in await _host_log_events(console, address, host)
        if start <= e.ts <= end
        and (e.kind == "policy" or (e.subject == domain and own not in e.summary))
    ]
    timeline.add_events(logged)
    generation = record.get("policy_generation")
    if not any(e.kind == "policy" for e in logged) and isinstance(generation, int):
        sha = record.get("policy_sha256")
        timeline.add_events(
            [
                TimelineEvent(
                    float(record["opened_at"]),
                    "policy",
                    f"{host} generation {generation}",
                    f"policy {record.get('policy_name') or '(none)'} generation {generation} "
                    "in force at the capture",
                    1,
                    {"generation": generation, **({"sha256": sha} if sha else {})},
                )
            ]
        )
    stats = record.get("stats")
    if isinstance(stats, dict):
        timeline.add_series(_cpu_series(domain, stats))
    steps = len(record.get("steps", ()))
    scope = (
        f"{domain} on {host}, {record['state']}, opened by {record['opened_by']}; "
        f"{len(violations)} violations, {steps} steps"
    )
    return timeline, ReportMeta(f"Incident {title}", console.user, scope)


def _step_events(record: Mapping[str, Any]) -> list[TimelineEvent]:
    """An incident's steps as operator actions (the note, and a SecLabel moved)."""
    out = []
    for rec in record.get("steps", ()):
        note = rec.get("note")
        said = f": {note}" if note else ""
        if rec.get("label_after"):
            said += f" ({rec.get('label_before')} → {rec['label_after']})"
        detail = {
            k: rec[k]
            for k in ("user", "step", "outcome", "note", "label_before", "label_after")
            if rec.get(k) is not None
        }
        if rec.get("form") == "vifs":  # quarantine's other form: the VIFs it moved
            from xenon_tui.flows._incident import vifs_text

            detail.update(form="vifs", vifs=vifs_text(rec.get("vifs")))
            verb = "attached" if rec["step"] == "unquarantine" else "detached"
            said += f" (VIFs {verb}: {detail['vifs']})"
        elif rec.get("label_after"):
            detail["form"] = "seclabel"
        out.append(
            TimelineEvent(
                float(rec["ts"]),
                "action",
                str(record["domain"]),
                f"{rec['user']}: {record['id']} {rec['step']} {rec['outcome']}{said}",
                1,
                {"incident": record["id"], **detail},
            )
        )
    return out


async def _host_log_events(console: Console, address: str, host: str) -> list[TimelineEvent]:
    """The host's MSM log as events; policy versions carry their hashes and diff."""
    log = await console.call(address, "GetLogMsgs", limit=LOG_LINES)
    lines = log.get("lines", [])
    events = [
        e
        for e in (log_event(str(line), host) for line in (lines if isinstance(lines, list) else []))
        if e is not None
    ]
    if any(e.kind == "policy" for e in events):
        versions = await _policy_versions(console, address)
        events = list(_with_versions(events, versions))
    return events


async def _policy_versions(console: Console, address: str) -> dict[int, dict[str, Any]]:
    """generation -> report facts of the host's active and previous policy: SHA-256 and,
    for the active one, the diff from the previous (what the report's Policy section and
    Hashes table show). Whatever the host cannot give is left out."""
    got: dict[str, dict[str, Any]] = {}
    for which in ("active", "previous"):
        try:
            result = await console.call(address, "GetPolicy", which=which)
        except ConsoleError:  # none kept (a first policy has no previous)
            continue
        if isinstance(result, dict) and isinstance(result.get("generation"), int):
            got[which] = result
    out: dict[int, dict[str, Any]] = {}
    for result in got.values():
        facts: dict[str, Any] = {"generation": result["generation"]}
        if isinstance(result.get("sha256"), str):
            facts["sha256"] = result["sha256"]
        out[result["generation"]] = facts
    active, previous = got.get("active"), got.get("previous")
    if active is not None and previous is not None:
        from xenon_tui.flows._policy import policy_diff_text

        old, new = policy_of(previous), policy_of(active)
        if old is not None and new is not None:
            text = policy_diff_text(old, new)
            if len(text) > MAX_DIFF_CHARS:
                text = text[:MAX_DIFF_CHARS] + "\n… (cut: the diff is longer)"
            facts = out[active["generation"]]
            facts["diff"] = f"generation {previous['generation']} → {active['generation']}\n{text}"
            if "sha256" in out[previous["generation"]]:
                facts["previous_sha256"] = out[previous["generation"]]["sha256"]
    return out


def _with_versions(
    events: Iterable[TimelineEvent], versions: Mapping[int, Mapping[str, Any]]
) -> Iterable[TimelineEvent]:
    for e in events:
        generation = _generation(e) if e.kind == "policy" else None
        facts = versions.get(generation) if generation is not None else None
        yield dataclasses.replace(e, detail={**e.detail, **facts}) if facts else e


def _generation(e: TimelineEvent) -> int | None:
    tail = e.subject.rsplit(" generation ", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def _cpu_series(name: str, history: dict[str, Any]) -> Series:
    """CPU % from a statistics history (points are ``[ts, cpu_pct, mem_kb, vcpus]``)."""
    points = [
        (float(p[0]), float(p[1]))
        for s in history.get("series", [])
        if isinstance(s, dict)
        for p in s.get("points", [])
        if isinstance(p, list | tuple) and len(p) >= 2
    ]
    return Series(f"{name} CPU", "%", tuple(sorted(points)))


__all__ = ["incident_timeline", "one_incident_timeline"]
