"""The Enterprise screen's admin flows (a mixin): the task panel (``t``, ``track_task``),
Propagate (``P``), Users (``u``) and the Audit log (``L``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Static

from xenon_tui._work import run_flow
from xenon_tui._xe import EnterpriseError, XeData, XeLink, bounded
from xenon_tui.widgets._xe_tasks import XeTaskPanel, printable

if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen[None]
else:
    _Base = object

TASK_POLL_S = 2.0
"""How often the open task panel re-reads XE's recent tasks (one bounded request)."""

RECENT_TASKS = 20
"""Tasks asked of XE per poll: one page, whatever the fleet's size."""


class XeAdminFlows(_Base):
    """Task panel, propagate, users and audit for :class:`EnterpriseScreen`.

    The screen provides ``data`` (its :class:`XeData`), ``link`` and ``read_only``.
    """

    data: XeData
    link: XeLink
    task_polls = 0  # finished task polls (tests wait on it)

    @property
    def task_panel(self) -> XeTaskPanel:
        """The docked task panel."""
        return self.query_one(XeTaskPanel)

    def on_mount(self) -> None:
        # Textual runs every class's own on_mount along the MRO: the screen's runs too.
        self.set_interval(TASK_POLL_S, self._poll_tasks)

    # -- the task panel ----------------------------------------------------------------------

    def action_toggle_tasks(self) -> None:
        panel = self.task_panel
        panel.toggle_class("-open")
        if panel.is_open:
            panel.redraw()
            self._poll_tasks()

    def track_task(self, task_id: str, title: str) -> None:
        """Shows a task this session started in the panel (opened) and follows it live.

        Every flow that starts a long XE action (migrate, propagate, add host) calls it
        with the task id XE answered and a title naming the objects.
        """
        panel = self.task_panel
        panel.track(task_id, title)
        panel.add_class("-open")
        panel.redraw()
        self.run_worker(
            self._follow(task_id), group=f"xe-task-{task_id}", exclusive=True, exit_on_error=False
        )

    async def _follow(self, task_id: str) -> None:
        panel = self.task_panel
        try:
            async for task in self.data.follow_task(task_id):
                panel.set_task(task)
                panel.redraw()
        except EnterpriseError as exc:
            panel.border_subtitle = printable(f"XE: {exc.message}", 100)

    def _poll_tasks(self) -> None:
        """Re-reads XE's recent tasks while the panel is open and the screen shown; a
        slow XE is not asked twice (the poll is one bounded page, whatever the fleet)."""
        if not self.is_current or not self.task_panel.is_open:
            return
        if not any(w.group == "xe-tasks" and w.is_running for w in self.workers):
            self.run_worker(self._read_tasks(), group="xe-tasks", exit_on_error=False)

    async def _read_tasks(self) -> None:
        panel = self.task_panel
        try:
            panel.merge(await bounded(self.data.client.compute.tasks(limit=RECENT_TASKS)))
            panel.border_subtitle = ""
        except EnterpriseError as exc:
            panel.border_subtitle = printable(f"XE: {exc.message}", 100)
        finally:
            self.task_polls += 1
        panel.redraw()

    # -- propagate ---------------------------------------------------------------------------

    def action_propagate(self) -> None:
        run_flow(self, "xe-propagate", self._propagate)

    async def _propagate(self) -> None:
        # XE's what-if first (issue #14 §1): one key while it denies nothing (an auditor,
        # refused by XE anyway, is not asked).
        if not getattr(self, "read_only", False):
            from xenon_tui.dialogs._whatif import confirm_propagation

            if not await confirm_propagation(self):
                return
        accepted = await bounded(self.data.client.compute.propagate())
        self.track_task(accepted.task_id, "Propagate the policy")
        self.query_one("#xe-status", Static).update("Propagating the policy: see the task panel")

    # -- users and audit ---------------------------------------------------------------------

    def action_users(self) -> None:
        from xenon_tui.screens._xe_users import XeUsersScreen

        self.app.push_screen(XeUsersScreen(self.data, self.link))

    def action_audit(self) -> None:
        from xenon_tui.screens._xe_audit import XeAuditScreen

        self.app.push_screen(XeAuditScreen(self.data, self.link))
