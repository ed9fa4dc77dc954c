"""The Enterprise screen (XE): Hosts panel (host → enclaves), the enclave's SecLabels and
VMs across hosts, per-VM actions and migration, and the policy service's warnings."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.reactive import Reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static, Tree

from enterprise_store.client import SecLabelOut
from xenon_tui._work import run_flow
from xenon_tui._xe import (
    EnclaveDetail,
    EnterpriseError,
    FirstView,
    Overview,
    VmRow,
    XeClientFactory,
    XeData,
    XeLink,
    xe_client_factory,
)
from xenon_tui.dialogs import TypedConfirmDialog
from xenon_tui.dialogs._xe_help import XeHelpScreen
from xenon_tui.dialogs._xe_vm import MIGRATE, MigrateDialog, VmActionsDialog
from xenon_tui.dialogs._xe_warnings import PolicyWarningsDialog
from xenon_tui.screens._xe_admin_flows import XeAdminFlows
from xenon_tui.screens._xe_approvals import XeApprovalsFlow
from xenon_tui.screens._xe_config_flows import XeConfigFlows
from xenon_tui.screens._xe_forms_flows import EnterpriseForms
from xenon_tui.screens._xe_hold import XeHoldFlows, XeTitle
from xenon_tui.screens._xe_incidents import XeIncidentFlows
from xenon_tui.screens._xe_timeline_flows import XeTimelineFlows
from xenon_tui.widgets._keyline import KeyLine
from xenon_tui.widgets._xe_hosts import NodeData, XeHostsTree, swatch_style
from xenon_tui.widgets._xe_keys import xe_bindings, xe_help_rows, xe_mutating_actions
from xenon_tui.widgets._xe_tasks import XeTaskPanel, counted
from xenon_tui.widgets._xe_vms import VISIBLE_GUESS, XeVmTable

T = TypeVar("T")

XE_REFRESH_S = 2.0
"""How often the shown Enterprise screen re-reads XE (XE has no watch stream for its
collections yet); only rows and labels that changed are redrawn."""

HOSTS_NAMED = 6
"""Hosts named in the enclave's line (an enclave on 1,000 hosts says how many more)."""


def seclabels_text(labels: tuple[SecLabelOut, ...]) -> Text:
    """The enclave's SecLabels, one per line: name, profile, rate and violation limits."""
    if not labels:
        return Text("SecLabels: none yet (a domain needs one: add a SecLabel first)", "italic")
    text = Text("SecLabels:", style="bold")
    for s in labels:
        text.append(f"\n  {s.name}", style="bold")
        profile = s.profile_name or s.profile
        text.append(f"  {profile} · ≤{s.max_rate}/ms · max {s.max_violations} violations")
        if s.role != "none":
            text.append(f" · {s.role}")
    return text


class FilterLine(Input):
    """The `/` filter line: an Input whose text changes lay nothing out.

    Input sets its virtual size (the text's width) on every key, and Widget's reactive lays
    the whole screen out again for it (the Hosts panel, the VM list, every line): most of
    a key's echo. The line's own size never depends on its text (one line, the screen's
    width), so its virtual size is a plain repainting reactive here; its sideways scroll
    reads the value as set.
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)


class EnterpriseScreen(
    XeAdminFlows,
    XeApprovalsFlow,
    XeConfigFlows,
    EnterpriseForms,
    XeIncidentFlows,
    XeTimelineFlows,
    XeHoldFlows,
    Screen[None],
):
    """XE's enterprise view of this session's user, refreshed from XE.

    Args:
        link: The session's XE link (URL, token, user, role).
        client_factory: Builds the XE client (tests: one over the in-process app).
    """

    DEFAULT_CSS = """
    EnterpriseScreen #xe-title { dock: top; height: 1; background: $panel; padding: 0 1; }
    EnterpriseScreen #xe-body { height: 1fr; }
    EnterpriseScreen #xe-hosts { width: 45%; max-width: 60; height: 1fr; }
    EnterpriseScreen #xe-main { width: 1fr; height: 1fr; }
    EnterpriseScreen #xe-enclave { height: 1; padding: 0 1; text-style: bold; }
    EnterpriseScreen #xe-seclabels { height: auto; max-height: 6; padding: 0 1; }
    EnterpriseScreen #xe-status { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    EnterpriseScreen #xe-status.-error { color: $error; }
    EnterpriseScreen #xe-filter { display: none; height: 1; border: none; padding: 0 1; }
    EnterpriseScreen #xe-filter.-open { display: block; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *xe_bindings("screen")
    ]

    def __init__(
        self, link: XeLink, *, client_factory: XeClientFactory = xe_client_factory
    ) -> None:
        super().__init__()
        self.link = link
        self.data = XeData(link, client_factory)
        self.overview: Overview | None = None
        self.detail: EnclaveDetail | None = None
        self.enclave: str | None = None
        self.polls = 0  # finished polls (tests wait on it)
        self._version: int | None = None  # the policy version of the last poll
        self._error: str | None = None
        # The first frame's reads start now, while the screen is composed and laid out
        # (XE and the network work meanwhile); the first poll takes them.
        self._first: asyncio.Task[FirstView] | None = None
        self._prefetched: EnclaveDetail | None = None
        self._tasks: XeTaskPanel | None = None
        self._filter: FilterLine | None = None
        self._filter_pending: str | None = None  # typed, the table not filtered by it yet
        self._drawn_lines: tuple[Text, Text] | None = None  # the enclave's line, SecLabels
        with contextlib.suppress(RuntimeError):  # no running loop: the first poll reads
            self._first = asyncio.get_running_loop().create_task(self.data.first_view())

    @property
    def read_only(self) -> bool:
        """An auditor's view: changes are not offered (XE refuses them anyway)."""
        return self.link.role == "auditor"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # An auditor is not offered changes (hidden from the footer and help); XE would
        # refuse them anyway.
        if action == "open_filter" and isinstance(self.focused, Input):
            return False  # `/` typed into the filter line (or any field) is text
        return not (self.read_only and action in xe_mutating_actions())

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield XeTitle(self.link.user, self.link.role, id="xe-title")
        with Horizontal(id="xe-body"):
            yield XeHostsTree(id="xe-hosts")
            with Vertical(id="xe-main"):
                yield Static("", id="xe-enclave")
                yield Static("", id="xe-seclabels")
                yield XeVmTable(id="xe-vms")
        # The task panel and the `/` filter line are hidden: each is mounted when first
        # shown (the filter line above the key line).
        yield Static("connecting to XE…", id="xe-status")
        yield KeyLine(id="xe-keys")

    @property
    def task_panel(self) -> XeTaskPanel:
        """The task panel (``t``), mounted above the status line when first wanted."""
        if self._tasks is None:
            self._tasks = XeTaskPanel(id="xe-tasks")
            self.mount(self._tasks, before="#xe-status")
        return self._tasks

    def _poll_tasks(self) -> None:
        if self._tasks is not None:  # never shown: nothing to poll for
            super()._poll_tasks()

    def on_mount(self) -> None:
        self.query_one(XeHostsTree).border_title = "Hosts"
        self.query_one(XeVmTable).border_title = "VMs"
        self.query_one(XeHostsTree).focus()
        self.refresh_xe()
        self.set_interval(XE_REFRESH_S, self.refresh_xe)

    async def close(self) -> None:
        """Closes the XE client (the app calls it when it exits)."""
        self.workers.cancel_all()
        if self._first is not None:
            self._first.cancel()
            with contextlib.suppress(asyncio.CancelledError, EnterpriseError):
                await self._first
            self._first = None
        await self.data.aclose()

    # -- refresh ---------------------------------------------------------------------------

    def refresh_xe(self) -> None:
        """Re-reads XE unless a read is still running (a slow XE is not asked twice) or
        the screen is not shown (the host console is: XE is not polled for nobody)."""
        if not self.is_current:
            return
        if not any(w.group == "xe-poll" and w.is_running for w in self.workers):
            self._poll()

    def on_screen_resume(self) -> None:
        # Back from the host console: what changed meanwhile is read at once.
        self.refresh_xe()

    @work(group="xe-poll", exit_on_error=False)
    async def _poll(self) -> None:
        try:
            first, self._first = self._first, None
            if first is not None:
                view = await first
                self._version, overview = view.version, view.overview
                self._prefetched = view.detail
            elif self.overview is not None:
                # At the same policy version only the drawn hosts' states are read again
                # (one page), concurrently with the version; at a new one, everything.
                shown = self.overview
                version, page = await asyncio.gather(
                    self.data.policy_version(),
                    self.data.host_page(shown, self.query_one(XeHostsTree).limit),
                )
                changed = version != self._version or page is None
                self._version = version
                overview = await self.data.overview() if changed or page is None else page
            else:
                # Concurrently: the first frame waits for the slower read, not their sum.
                self._version, overview = await asyncio.gather(
                    self.data.policy_version(), self.data.overview()
                )
            self._show_overview(overview)
            await self.poll_hold(self._version)
            loading = any(w.group == "xe-detail" and w.is_running for w in self.workers)
            if not loading and self.enclave is not None and self.enclave in overview.enclaves:
                # VMs and SecLabels are read again only at a new policy version; run
                # states only of the hosts whose VMs are on screen.
                self._show_detail(await self._detail(self.enclave))
        except EnterpriseError as exc:
            self._show_error(exc)
        else:
            self._clear_error()
        finally:
            self.polls += 1

    async def _detail(
        self, enclave: str, *, first_page: bool = False, states: bool = True
    ) -> EnclaveDetail:
        """The enclave's detail, with the run states of the VMs on screen read (``states``)
        or as last read."""
        assert self.overview is not None
        names = {h.id: h.name for h in self.overview.hosts}
        detail = await self.data.enclave_detail(
            self.overview.enclaves[enclave], names, version=self._version, first_page=first_page
        )
        return await self._states(detail) if states else detail

    async def _states(self, detail: EnclaveDetail, *, fresh: bool = False) -> EnclaveDetail:
        """``detail`` with the run states of its VMs on screen read from their hosts
        (``fresh``: the table shows another enclave yet; its first rows count as on screen)."""
        table = self.query_one(XeVmTable)
        shown = detail.vms[:VISIBLE_GUESS] if fresh else table.on_screen(detail.vms)
        await self.data.read_states(v.host_id for v in shown)
        return self.data.with_states(detail)

    def _show_overview(self, overview: Overview) -> None:
        tree = self.query_one(XeHostsTree)
        if overview is not self.overview:  # the same object: a poll that changed nothing
            self.overview = overview
            tree.show(overview)
        if self.enclave is None or self.enclave not in overview.enclaves:
            self._choose(tree.enclave_at_cursor() or tree.first_enclave())

    def _show_detail(self, detail: EnclaveDetail) -> None:
        if detail.enclave != self.enclave or self.overview is None:
            return  # another enclave was chosen meanwhile
        previous, self.detail = self.detail, detail
        enclave = self.overview.enclaves[detail.enclave]
        hosts = {h.id: h.name for h in self.overview.hosts}
        line = Text("  ", style=swatch_style(enclave.color))
        line.append(f" {enclave.name}", style="bold")
        shown = ", ".join(hosts.get(h, h) for h in enclave.hosts[:HOSTS_NAMED]) or "no host"
        if len(enclave.hosts) > HOSTS_NAMED:
            shown += f" and {len(enclave.hosts) - HOSTS_NAMED:,} more"
        count = counted(len(detail.vms), "VM") if detail.complete else f"{len(detail.vms):,}+ VMs…"
        line.append(f"  on {shown}  ·  {count}")
        # A poll every few seconds: what did not change is not set again (each update
        # lays the screen out again; showing 10,000 unchanged VMs re-indexes them).
        labels = seclabels_text(detail.seclabels)
        if (line, labels) != self._drawn_lines:
            self._drawn_lines = (line, labels)
            self.query_one("#xe-enclave", Static).update(line)
            self.query_one("#xe-seclabels", Static).update(labels)
        if (
            previous is None
            or previous.enclave != detail.enclave
            or (previous.vms is not detail.vms and previous.vms != detail.vms)
        ):
            self.query_one(XeVmTable).show(detail.vms)

    def _show_error(self, exc: EnterpriseError) -> None:
        status = self.query_one("#xe-status", Static)
        status.update(Text(f"XE: {exc.message}"))
        status.add_class("-error")
        if exc.message != self._error:  # once per new error, not every poll
            self.app.notify(exc.message, title=exc.title, severity="error", timeout=8)
        self._error = exc.message

    def _clear_error(self) -> None:
        status = self.query_one("#xe-status", Static)
        if self._error is not None or "connecting" in str(status.render()):
            status.remove_class("-error")
            status.update(Text(f"XE {self.link.url} · refreshed every {XE_REFRESH_S:g} s"))
        self._error = None

    # -- selection -------------------------------------------------------------------------

    @on(XeHostsTree.EnclaveChosen)
    def _enclave_chosen(self, message: XeHostsTree.EnclaveChosen) -> None:
        self._choose(message.enclave)

    def _choose(self, enclave: str | None) -> None:
        if enclave == self.enclave and self.detail is not None:
            return
        self.enclave = enclave
        if enclave is not None:
            self._load_detail(enclave)

    @work(group="xe-detail", exclusive=True, exit_on_error=False)
    async def _load_detail(self, enclave: str) -> None:
        if self.overview is None:
            return
        try:
            # The first page at once (the first frame of a large enclave), then, side by
            # side, the run states of its VMs on screen and the rest of its VMs: hosts
            # slow to say what they run (a propagation to them, a host down) must not
            # keep the rest from the table and its `/` filter.
            detail, self._prefetched = self._prefetched, None
            if detail is None or detail.enclave != enclave:  # read with the first poll
                detail = await self._detail(enclave, first_page=True, states=False)
            self._show_detail(detail)
            first = detail

            async def states() -> None:
                await self.data.read_states(v.host_id for v in first.vms[:VISIBLE_GUESS])
                if self.detail is not None and self.detail.enclave == enclave:
                    self._show_detail(self.data.with_states(self.detail))

            async def rest() -> None:
                if not first.complete:
                    self._show_detail(await self._detail(enclave, states=False))

            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(states())
                    group.create_task(rest())
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from None
        except EnterpriseError as exc:
            self._show_error(exc)

    @on(Tree.NodeSelected, "#xe-hosts")
    def _node_selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        if event.node.data is not None and event.node.data[0] == "enclave":
            self.set_focus(self.query_one(XeVmTable))

    # -- keys ------------------------------------------------------------------------------

    def action_next_panel(self) -> None:
        tree, table = self.query_one(XeHostsTree), self.query_one(XeVmTable)
        # Focus now, not after a refresh (Widget.focus defers it): keys typed right after
        # Tab (Tab Enter in one write) must reach the panel it moved to.
        self.set_focus(table if tree.has_focus else tree)

    def action_refresh(self) -> None:
        self.refresh_xe()

    async def action_open_filter(self) -> None:
        # A priority key (awaited while the app hands out keys): the keys sent with `/` in
        # one read over SSH reach the filter line, not the VM table (they were lost).
        if self._filter is None:
            # Mounted on first use (awaited: in place before it takes the focus).
            self._filter = FilterLine(
                id="xe-filter", placeholder="/filter the VMs  (Enter keeps, Esc clears)"
            )
            await self.mount(self._filter, before="#xe-keys")
        line = self._filter
        line.value = self.query_one(XeVmTable).filter
        line.add_class("-open")
        line.display = True  # now, not at the next style update: it takes the focus at once
        self.set_focus(line)

    @on(Input.Changed, "#xe-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        # The key's echo first: the table is filtered after the screen drew the filter line
        # (a redraw of the VM table is most of a key's work), once for the keys that came
        # meanwhile (the last text wins).
        if event.input.has_class("-open"):
            pending, self._filter_pending = self._filter_pending, event.value
            if pending is None:
                self.call_after_refresh(self._apply_filter)

    def _apply_filter(self) -> None:
        """Filters the VM table by the filter line's text as last typed (if not applied)."""
        text, self._filter_pending = self._filter_pending, None
        if text is not None:
            self.query_one(XeVmTable).set_filter(text)

    @on(Input.Submitted, "#xe-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._close_filter(keep=True)

    def on_key(self, event: Any) -> None:
        line = self._filter
        if event.key == "escape" and line is not None and line.has_class("-open"):
            event.stop()
            self._close_filter(keep=False)

    def _close_filter(self, *, keep: bool) -> None:
        table = self.query_one(XeVmTable)
        if keep:
            self._apply_filter()  # Enter keeps what was typed, applied or not yet
        else:
            self._filter_pending = None
            table.set_filter("")
        if self._filter is not None:
            self._filter.remove_class("-open")
            self._filter.display = False
        self.set_focus(table)

    def show_help(self) -> None:
        """`?`: this screen's keys, from its key table."""
        self.app.push_screen(XeHelpScreen(xe_help_rows(read_only=self.read_only)))

    # -- flows (app workers: an error they end with is shown by the app) ------------------

    async def ask(self, dialog: ModalScreen[T]) -> T:
        """Shows a dialog and waits for its value (only from a worker)."""
        return await self.app.push_screen_wait(dialog)

    def _status(self, text: str) -> None:
        status = self.query_one("#xe-status", Static)
        status.remove_class("-error")
        status.update(Text(text))

    async def _guarded(self, title: str, call: Any) -> Any:
        """Awaits an XE write; a refusal with findings opens the warnings dialog (Figure 24)
        instead of a notification, and returns None."""
        try:
            return await call
        except EnterpriseError as exc:
            if not exc.findings:
                raise
            await self.ask(PolicyWarningsDialog(title, exc.message, exc.findings))
            return None

    @on(XeVmTable.Chosen)
    def _vm_chosen(self, message: XeVmTable.Chosen) -> None:
        run_flow(self, "xe-vm", self._vm_flow, message.vm)

    async def _vm_flow(self, vm: VmRow) -> None:
        dialog = VmActionsDialog(vm.name, vm.host, vm.state, read_only=self.read_only)
        action = await self.ask(dialog)
        if action is None or await self.config_menu_action(action, vm):
            return
        if action == MIGRATE:
            await self._migrate(vm)
            return
        if action == "destroy":
            body = f"{vm.name} on {vm.host} is stopped at once, without a clean shutdown."
            if not await self.ask(TypedConfirmDialog(f"Destroy {vm.name}?", body, vm.name)):
                return
        state = await self._guarded(f"{action} {vm.name}", self.data.vm_action(vm.id, action))
        if state is not None:
            self._status(f"{vm.name}: {action} → {state}")
            self.app.notify(f"{vm.name}: {state}", title=f"{action.capitalize()} {vm.name}")
        self.refresh_xe()

    async def _migrate(self, vm: VmRow) -> None:
        self._status(f"{vm.name}: asking XE where it may go…")
        targets = await self.data.migration_targets(vm.id)
        target = await self.ask(MigrateDialog(vm.name, vm.host, targets))
        if target is None:
            self._status(f"{vm.name}: migration cancelled")
            return
        task_id = await self._guarded(f"migrate {vm.name}", self.data.migrate(vm.id, target))
        if task_id is None:
            return
        self.track_task(task_id, f"Migrate {vm.name} {vm.host} → {target}")
        last = None
        async for task in self.data.follow_task(task_id):
            last = task
            self._status(f"Migrating {vm.name} to {target}: {task.progress:.0%} {task.message}")
        self.refresh_xe()
        if last is None or last.state != "succeeded":
            reason = last.error.detail if last is not None and last.error else "no result"
            failed = f"migrating {vm.name} to {target} failed: {reason}"
            self._status(failed)
            raise EnterpriseError(failed)
        downtime = (last.result or {}).get("downtime_ms")
        done = f"{vm.name} migrated to {target}: downtime {downtime} ms"
        self._status(done)
        self.app.notify(done, title="Migration")
