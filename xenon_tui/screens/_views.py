"""The host console's views: their tabs, which are built when first shown, and the text and
rows it derives from a server's state for them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widget import Widget

from xenon_tui._errors import ConsoleError
from xenon_tui._policy_data import policy_of
from xenon_tui._state import ServerState
from xenon_tui.widgets import AdvancedView, DomainsTable, PerfView, PolicyView
from xenon_tui.widgets._fleetviolations import FleetViolations
from xenon_tui.widgets._viewtabs import ViewPane

VIEWS = ("servers", "policy", "advanced", "domains", "violations", "perf", "fleet")
VIEW_WIDGETS = {
    "domains": "#domains-table",
    "violations": "#violation-log",
    "policy": "#policy-view",
    "advanced": "#advanced-view",
    "perf": "#perf-view",
    "fleet": "#fleet-violations",
}
"""View id -> selector of the widget that takes the view's focus and keys."""

LAZY_VIEWS: dict[str, Callable[[], Widget]] = {
    "policy": lambda: PolicyView(id="policy-view"),
    "advanced": lambda: AdvancedView(id="advanced-view"),
    "perf": lambda: PerfView(id="perf-view"),
    "domains": lambda: DomainsTable(id="domains-table"),
    "fleet": lambda: FleetViolations(id="fleet-violations"),
}
"""Views mounted the first time they are shown (a fast first frame, less memory per SSH
session); the violation log is always there."""

TAB_TITLES = {
    "policy": ("Policy", "Pol"),
    "advanced": ("Advanced", "Adv"),
    "domains": ("Domains", "Dom"),
    "violations": ("Violations", "Viol"),
    "perf": ("Performance", "Perf"),
    "fleet": ("Fleet", "Flt"),
}
"""View id -> (title, short title for narrow terminals)."""


def view_pane(view: str) -> ViewPane:
    """The (empty) tab pane of a view."""
    title, short = TAB_TITLES[view]
    return ViewPane(title, id=view, short=short)


def domain_rows(state: ServerState) -> list[dict[str, Any]]:
    """Running domains plus the policy's domains that are not running (startable)."""
    rows = list(state.domains)
    names = {d.get("name") for d in rows}
    try:
        policy = policy_of(state.policy)
    except ConsoleError:
        policy = None  # the Policy view reports an unreadable policy
    for dom in policy.domains if policy is not None else ():
        if dom.name not in names:
            label = policy.seclabel(dom.seclabel).name if dom.seclabel else ""  # type: ignore[union-attr]
            rows.append(
                {
                    "domid": "",
                    "name": dom.name,
                    "state": "",
                    "run_state": "shutdown",
                    "mem_mb": dom.memory_mb,
                    "vcpus": dom.vcpus,
                    "cpu_s": 0,
                    "seclabel_name": label,
                    "tag_name": "",
                    "violations": 0,
                }
            )
    return rows


def info_text(state: ServerState) -> str:
    """The server details box: address, link, and what ``GetHypervisorInfo`` said.

    Each line fits the box's 30 columns at the usual values (a wrapped line pushed the
    last one, CPUs and memory, out of the box); the most wanted come first.
    """
    info = state.info
    status = state.link.value + (f" ({state.detail})" if state.detail else "")
    lines = [f"Server {state.entry.host}:{state.entry.port}", f"Status: {status}"]
    if state.last_update():
        lines.append(state.last_update().capitalize())
    if info:
        mib = int(info.get("mem_kb") or 0) // 1024
        mem = f"{mib // 1024} GiB" if mib >= 1024 and mib % 1024 == 0 else f"{mib} MiB"
        lines += [
            f"Xenon {info.get('xen_version', '?')}",
            f"MSM {info.get('msm_status', '?')}, version {info.get('msm_version', '?')}",
            f"Backend {info.get('backend', '?')}, {info.get('cpus', '?')} CPUs, {mem}",
            f"Policy: {info.get('policy_name', '?')}",
            f"Policy generation {info.get('policy_generation')}",
            f"Policy ID: {str(info.get('policy_id', ''))[:18]}",
        ]
    return "\n".join(lines)
