"""The Enterprise screen's keys as data: its bindings and its `?` help come from this table."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class XeAction:
    """One key of the Enterprise screen.

    Attributes:
        id: Stable id (a keymap may override its keys).
        keys: Default keys, comma separated, in Textual key names.
        action: Textual action run on the scope's widget.
        description: Footer and help text.
        scope: ``app``, ``screen``, ``list`` (the Hosts panel and the VM table) or ``vms``
            (the VM table).
        mutating: Changes XE's state (XE still decides whether the user may).
        footer: Shown in the footer.
        priority: Run while the app hands out the keys (a Textual priority binding), so keys
            sent with it in one read over SSH go where its action moved the focus.
    """

    id: str
    keys: str
    action: str
    description: str
    scope: str = "screen"
    mutating: bool = False
    footer: bool = True
    priority: bool = False


XE_ACTIONS: tuple[XeAction, ...] = (
    # The app's own keys that work here (drawn in help; bound by the app).
    XeAction("app.help", "question_mark", "help", "Help", scope="app"),
    XeAction("app.enterprise", "ctrl+e", "toggle_enterprise", "Host console and back", "app"),
    XeAction("app.palette", "ctrl+p", "command_palette", "Palette", scope="app"),
    XeAction("app.quit", "ctrl+q", "quit", "Quit", scope="app"),
    # The screen.
    XeAction("xe.panel", "tab", "next_panel", "Hosts panel / VMs", footer=False),
    XeAction("xe.filter", "slash", "open_filter", "Filter the VMs", priority=True),
    XeAction("xe.refresh", "ctrl+r", "refresh", "Refresh from XE", footer=False),
    XeAction("xe.add_domain", "a", "add_domain", "Add domain to the enclave", mutating=True),
    XeAction("xe.new", "n", "new", "New… host, enclave, tag, SecLabel, domain", mutating=True),
    XeAction("xe.hosts", "H", "hosts", "Hosts: reorder, remove", mutating=True, footer=False),
    XeAction("xe.view_config", "c", "view_config", "View the VM's domain config"),
    XeAction("xe.configure", "C", "configure_vm", "Configure the VM…", mutating=True),
    XeAction("xe.policy", "p", "policy_views", "Policy as tree / XML / text"),
    XeAction("xe.editor", "e", "editor_mode", "Manage server → Editor mode", footer=False),
    XeAction("xe.tasks", "t", "toggle_tasks", "Task panel (XE's long actions)", footer=False),
    XeAction("xe.propagate", "P", "propagate", "Propagate the policy", mutating=True, footer=False),
    XeAction("xe.incidents", "i", "fleet_incidents", "Fleet incidents (violations)", footer=False),
    XeAction("xe.timeline", "T", "timeline", "Timeline of the VM, host or enclave", footer=False),
    XeAction("xe.users", "u", "users", "Users (the report's Alt+U)", footer=False),
    XeAction("xe.audit", "L", "audit", "Audit log (verify chain)", footer=False),
    XeAction("xe.approvals", "V", "approvals", "Approvals (two-person activation)", footer=False),
    # Lists (the Hosts panel and the VM table).
    XeAction("xe.down", "j", "cursor_down", "Down", scope="list", footer=False),
    XeAction("xe.up", "k", "cursor_up", "Up", scope="list", footer=False),
    XeAction("xe.first", "g", "first", "First", scope="list", footer=False),
    XeAction("xe.last", "G", "last", "Last", scope="list", footer=False),
    XeAction("xe.vm.actions", "enter,full_stop", "context", "VM actions (start, migrate…)", "vms"),
)

XE_SCOPE_TITLES = {
    "app": "Everywhere",
    "screen": "Enterprise view",
    "list": "Hosts panel (host → enclaves) and VM list",
    "vms": "VMs of the enclave",
}


def xe_bindings(scope: str) -> list[Binding]:
    """Textual bindings of one scope of :data:`XE_ACTIONS`, each with its stable id."""
    return [
        Binding(a.keys, a.action, a.description, show=a.footer, id=a.id, priority=a.priority)
        for a in XE_ACTIONS
        if a.scope == scope
    ]


def xe_mutating_actions() -> frozenset[str]:
    """Actions of :data:`XE_ACTIONS` that change XE (not offered to an auditor)."""
    return frozenset(a.action for a in XE_ACTIONS if a.mutating)


def xe_help_rows(*, read_only: bool) -> list[tuple[str, str, str, str]]:
    """``(scope title, keys, description, id)`` for the `?` help, in table order."""
    return [
        (XE_SCOPE_TITLES[a.scope], a.keys, a.description, a.id)
        for a in XE_ACTIONS
        if not (a.mutating and read_only)
    ]
