"""The Enterprise screen's task panel (t), Propagate (P) and the task ids other flows hand to
it (track_task), against real XE services and sim XPS hosts (the ``world`` fixture)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.app import App, ComposeResult
from textual.widgets import Static

from enterprise_store.client import TaskOut
from tests._support.console import wait_for
from tests._support.snapshots import settled_screenshot
from tests._support.xe_console import World, open_running_vm_menu, ready, status
from xenon_tui._xe import EnterpriseError
from xenon_tui.dialogs._xe_help import XeHelpScreen
from xenon_tui.dialogs._xe_vm import MigrateDialog
from xenon_tui.widgets._xe_tasks import KEEP_TASKS, XeTaskPanel, age_text, progress_bar


def panel_text(app: Any) -> str:
    """The task panel's text ("" before it is mounted: P mounts it once XE's what-if
    answered, and a wait for its text may start before that)."""
    panels = app.screen.query(XeTaskPanel)
    return str(panels.first().render()) if panels else ""


def propagated(app: Any) -> bool:
    """This session's Propagate line says every host converged (XE's recent tasks also
    list the world's own propagation, converged before the console started)."""
    lines = panel_text(app).splitlines()
    return any("Propagate the policy" in x and "3/3 hosts converged" in x for x in lines)


def migrate_line(app: Any) -> str:
    return next((x for x in panel_text(app).splitlines() if "Migrate EA-domu-1" in x), "")


def _task(n: int, *, state: str = "succeeded", progress: float = 1.0, message: str = "") -> TaskOut:
    at = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=n)
    return TaskOut(
        id=f"task-{n:04d}", kind="propagate", state=state, progress=progress,  # type: ignore[arg-type]
        message=message, object="policy:v2", created_by="root", created_at=at,
        started_at=at, finished_at=None, cancel_requested=False, result=None, error=None,
    )  # fmt: skip


async def test_propagate_shows_its_task_live_until_every_host_converged(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        assert not screen.task_panel.is_open
        await pilot.press("P")
        await wait_for(pilot, lambda: screen.task_panel.is_open)
        await wait_for(pilot, lambda: propagated(app), 90)
        line = next(x for x in panel_text(app).splitlines() if "Propagate the policy" in x)
        assert "[██████████] 100%  succeeded · <1m" in line, line
        assert "Propagating the policy" in status(app)
        # t hides the panel and shows it again.
        await pilot.press("t")
        assert not screen.task_panel.is_open
        await pilot.press("t")
        assert screen.task_panel.is_open


async def test_the_panel_lists_xe_recent_tasks_with_kind_target_and_result(
    world: World, tmp_path: Path
) -> None:
    # The world's own propagation (root's, before this console started) is listed by XE.
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        polls = screen.task_polls
        await pilot.press("t")
        await wait_for(pilot, lambda: screen.task_polls > polls, 30)
        text = panel_text(app)
        assert "propagate v1" in text and "succeeded" in text, text
        assert "3/3 hosts converged" in text
        # The panel keeps polling (bounded, one page) while it is open, and stops when
        # it is hidden.
        await wait_for(pilot, lambda: screen.task_polls > polls + 1, 30)
        await pilot.press("t")
        await wait_for(pilot, lambda: not any(w.group == "xe-tasks" for w in screen.workers))
        polls = screen.task_polls
        await pilot.pause(5)
        assert screen.task_polls == polls


async def test_migrate_hands_its_task_to_the_panel(world: World, tmp_path: Path) -> None:
    link = await world.link("oper")
    api = world.factory(link)
    await api.compute.vm_action("EA-domu-1", "start")
    app = world.console(link, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await open_running_vm_menu(pilot, app)
        await pilot.press("G", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateDialog), 30)
        await pilot.press("g", "enter")  # the first allowed host: xenon-3
        # Its line while it runs may say "finish: downtime_ms …": wait for its end.
        await wait_for(pilot, lambda: "succeeded" in migrate_line(app), 90)
        line = migrate_line(app)
        assert "xenon-2 → xenon-3" in line and "succeeded" in line, line
        assert "moved from xenon-2 to xenon-3, downtime" in line, line


async def test_an_auditor_is_not_offered_propagate_and_xe_refuses_it(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("aud"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        actions = {b.binding.action for b in screen.active_bindings.values()}
        assert "propagate" not in actions and "toggle_tasks" in actions
        await pilot.press("P")
        await pilot.pause(0.2)
        assert not screen.task_panel.is_open
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, XeHelpScreen))
        help_widget = app.screen.query_one("#xe-help")
        shown = "\n".join(help_widget.render_line(y).text for y in range(help_widget.size.height))
        assert "Task panel" in shown and "Propagate" not in shown
        await pilot.press("escape")
        # Forced (a patched console offering it): XE refuses.
        with pytest.raises(EnterpriseError) as info:
            await screen._propagate()
        assert info.value.code == "role_required"
        assert "propagate the policy" in info.value.message


async def test_the_panel_stays_bounded_and_repaints_only_on_change() -> None:
    # A 1,000-host propagation is one task whose message changes; XE's pages of tasks
    # never grow the panel past KEEP_TASKS remembered and its height in lines.
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield XeTaskPanel(id="tasks")

    app = One()
    async with app.run_test(size=(100, 20)) as pilot:
        panel = app.query_one(XeTaskPanel)
        panel.add_class("-open")
        panel.clock = lambda: dt.datetime(2026, 12, 7, 5, 0, tzinfo=dt.UTC)
        await pilot.pause()
        panel.merge([_task(n) for n in range(1000)])
        assert len(panel.tasks) == KEEP_TASKS
        assert "task-0999" in panel.tasks and "task-0000" not in panel.tasks
        updates: list[object] = []
        original = panel.update

        def update(content: Any = "", **kw: Any) -> None:
            updates.append(content)
            original(content, **kw)

        panel.update = update  # type: ignore[method-assign]
        panel.redraw()
        lines = str(panel.render()).splitlines()
        assert len(lines) == panel.content_size.height == 6
        # The running task is first; the same text is not drawn twice.
        for done in range(0, 1001, 250):
            message = f"{done}/1000 hosts enforce version 2 or later"
            panel.set_task(_task(2000, state="running", progress=done / 1000, message=message))
            panel.redraw()
            panel.redraw()
        assert len(updates) == 1 + 5
        first = str(panel.render()).splitlines()[0]
        assert first.startswith("propagate v2  [██████████] 100%  running · 26m  1000/1000"), first


async def test_progress_ticks_repaint_the_panel_without_laying_the_screen_out() -> None:
    """Issue #13: each progress tick of a 1,000-host propagation used to lay the whole
    screen out (``Static.update``'s default), between the keys typed meanwhile. The panel
    has a fixed height: a new text repaints its lines and asks no layout."""

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("above", id="above")
            yield XeTaskPanel(id="tasks")

    app = One()
    async with app.run_test(size=(100, 20)) as pilot:
        panel = app.query_one(XeTaskPanel)
        panel.add_class("-open")
        panel.clock = lambda: dt.datetime(2026, 12, 7, 5, 0, tzinfo=dt.UTC)
        panel.merge([_task(n) for n in range(3)])
        panel.redraw()
        await wait_for(pilot, lambda: panel.outer_size.height == 7)
        region = panel.region
        asked: list[bool] = []
        original = panel.refresh

        def refresh(*regions: Any, **kw: Any) -> Any:
            asked.append(bool(kw.get("layout")))
            return original(*regions, **kw)

        panel.refresh = refresh  # type: ignore[method-assign]
        ticks = 20
        for done in range(ticks):
            message = f"{done * 50}/1000 hosts enforce version 2 or later, {done} retrying"
            panel.set_task(_task(9, state="running", progress=done / ticks, message=message))
            panel.redraw()
            await pilot.pause()
        await wait_for(pilot, lambda: f"{(ticks - 1) * 50}/1000" in panel_text(app))
        assert len(asked) >= ticks and not any(asked), asked
        assert panel.region == region
        first = panel_text(app).splitlines()[0]
        assert first.startswith("propagate v2  [██████████]  95%  running"), first


def test_bars_and_ages() -> None:
    assert progress_bar(0.0) == "[░░░░░░░░░░]"
    assert progress_bar(0.55) == "[██████░░░░]"
    assert progress_bar(7) == "[██████████]"
    assert [age_text(s) for s in (0, 59, 60, 3600 * 3, 86400 * 2)] == [
        "<1m", "<1m", "1m", "3h", "2d",
    ]  # fmt: skip


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot(world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int]) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        await pilot.press("P")
        await wait_for(pilot, lambda: propagated(app), 90)
        panel = screen.task_panel
        latest = max(t.created_at for t in panel.tasks.values())
        panel.clock = lambda: latest + dt.timedelta(seconds=1)
        panel.redraw()
        polls = screen.polls
        await wait_for(pilot, lambda: screen.polls > polls + 1, 30)
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg
