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
from xenon_tui.widgets._viewtabs import ViewPane

VIEWS = ("servers", "policy", "advanced", "domains", "violations", "perf")
VIEW_WIDGETS = {
    "domains": "#domains-table",
    "violations": "#violation-log",
    "policy": "#policy-view",
    "advanced": "#advanced-view",
    "perf": "#perf-view",
}
"""View id -> selector of the widget that takes the view's focus and keys."""

LAZY_VIEWS: dict[str, Callable[[], Widget]] = {
    "policy": lambda: PolicyView(id="policy-view"),
    "advanced": lambda: AdvancedView(id="advanced-view"),
    "perf": lambda: PerfView(id="perf-view"),
    "domains": lambda: DomainsTable(id="domains-table"),
}
"""Views mounted the first time they are shown (a fast first frame, less memory per SSH
session); the violation log is always there."""

TAB_TITLES = {
    "policy": ("Policy", "Pol"),
    "advanced": ("Advanced", "Adv"),
    "domains": ("Domains", "Dom"),
    "violations": ("Violations", "Viol"),
    "perf": ("Performance", "Perf"),
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
    """The server details box: address, link, and what ``GetHypervisorInfo`` said."""
    info = state.info
    lines = [
        f"Server address: {state.entry.host}",
        f"Port: {state.entry.port}",
        f"Status: {state.link.value}" + (f" ({state.detail})" if state.detail else ""),
    ]
    if info:
        lines += [
            f"Xenon version: {info.get('xen_version', '?')}",
            f"MSM status: {info.get('msm_status', '?')} (version {info.get('msm_version', '?')})",
            f"Backend: {info.get('backend', '?')}",
            f"Policy: {info.get('policy_name', '?')}",
            f"Policy generation {info.get('policy_generation')}",
            f"Policy ID: {str(info.get('policy_id', ''))[:18]}",
            f"CPUs {info.get('cpus', '?')}  mem {int(info.get('mem_kb') or 0) // 1024} MiB",
        ]
    return "\n".join(lines)
