"""The incident timeline of the current server: what the console holds (its violation
log, statistics) and what the host keeps (its MSM log: policy versions, operators' actions,
the MSM's own) on one time axis."""

from __future__ import annotations

from collections import Counter
from typing import Any

from xenon_tui._errors import ConsoleError
from xenon_tui._incident_report import ReportMeta
from xenon_tui._timeline import Series, Timeline, add_host_log, add_violations
from xenon_tui.flows._console import Console, connected_address

LOG_LINES = 2000
"""MSM log lines asked of the host (it keeps the last 2,000)."""


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
    log = await console.call(address, "GetLogMsgs", limit=LOG_LINES)
    lines = log.get("lines", [])
    add_host_log(timeline, [str(line) for line in lines] if isinstance(lines, list) else [], name)
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


__all__ = ["incident_timeline"]
