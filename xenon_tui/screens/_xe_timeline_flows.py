"""``T`` on the Enterprise screen: the incident timeline of the selected VM (the VM table
has the focus), host or enclave (the Hosts panel's cursor), read from XE (violations, the
audit log's operator actions, policy versions, propagation) and shown in the same
:class:`~xenon_tui.screens._timeline.TimelineScreen` as the host console's (scrub, replay,
zoom, export)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.screen import ModalScreen

from xenon_tui._work import run_flow
from xenon_tui._xe import Overview, XeData
from xenon_tui._xe_timeline import Scope, xe_timeline
from xenon_tui.screens._timeline import TimelineScreen
from xenon_tui.widgets._xe_hosts import XeHostsTree
from xenon_tui.widgets._xe_vms import XeVmTable

if TYPE_CHECKING:
    from textual.screen import Screen

    from xenon_tui._xe import XeLink

    _Base = Screen[None]
else:
    _Base = object


class XeTimelineScreen(TimelineScreen, ModalScreen[None]):
    """The timeline over the Enterprise screen: modal, so the host console's app keys
    (``/``, the view digits, ``m``, ``:``, ctrl+e) stay out of it."""

    DEFAULT_CSS = """
    XeTimelineScreen { background: $background; }
    """


class XeTimelineFlows(_Base):
    """``T``: the timeline of what is selected, from XE."""

    data: XeData
    link: XeLink
    overview: Overview | None
    enclave: str | None
    timeline_dir: Path | None = None
    """Where the report is exported (None: ./xenon-reports, as on the host console)."""

    def timeline_scope(self) -> Scope | None:
        """The VM under the VM table's cursor when the table has the focus, else the host
        or enclave under the Hosts panel's cursor."""
        overview = self.overview
        if overview is None:
            return None
        hosts = {h.id: h for h in overview.hosts}
        table = self.query_one(XeVmTable)
        vm = table.current_vm() if table.has_focus else None
        if vm is not None:
            enclaves = frozenset({self.enclave}) if self.enclave else frozenset()
            return Scope("vm", vm.id, vm.name, enclaves, frozenset({vm.host}) - {""})
        tree = self.query_one(XeHostsTree)
        node = tree.cursor_node
        if node is None or node.data is None:
            return None
        kind, ref = node.data
        if kind == "host" and ref in hosts:
            host = hosts[ref]
            return Scope(
                "host", host.id, host.name, frozenset(host.enclaves), frozenset({host.name})
            )
        enclave_id = tree.enclave_at_cursor()
        if kind == "enclave" and enclave_id in overview.enclaves:
            e = overview.enclaves[enclave_id]
            names = frozenset(hosts[h].name for h in e.hosts if h in hosts)
            return Scope("enclave", e.id, e.name, frozenset({e.id}), names)
        return None

    def action_timeline(self) -> None:
        scope = self.timeline_scope()
        if scope is None:
            self.app.notify("Choose a VM, host or enclave first.", title="Timeline")
            return
        run_flow(self, "xe-timeline", self._timeline_flow, scope)

    async def _timeline_flow(self, scope: Scope) -> None:
        self.app.notify(f"Reading {scope.title}'s history from XE…", title="Timeline", timeout=3)
        built = await xe_timeline(self.data.client, scope, self.link.user)
        for note in built.notes:
            self.app.notify(note, title=f"Timeline of {scope.title}", severity="warning")
        where = self.timeline_dir or Path.cwd() / "xenon-reports"
        await self.app.push_screen(XeTimelineScreen(built.timeline, built.meta, where))


__all__ = ["XeTimelineFlows", "XeTimelineScreen"]
