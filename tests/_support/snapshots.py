"""What the console's snapshot tests share: the two terminal sizes every view is drawn at,
and a staged policy beside the active one (for the diff and what-if pictures)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from .scripted_host import small_policy

SIZES = [pytest.param((160, 48), id="160x48"), pytest.param((80, 24), id="80x24")]
"""``@pytest.mark.parametrize("size", SIZES)``: the largest and the smallest terminal."""


def staged_policies() -> tuple[Any, Any]:
    """An active policy and a staged one: a sub-op added, a label moved, a domain removed."""
    active = small_policy()
    profile = active.profile_named("PV-LinuxGeneric")
    subops = dict(profile.subops)
    subops[35] = frozenset({1})
    staged = active.with_profile(
        dataclasses.replace(
            profile, hypercalls=profile.hypercalls | {35}, subops=tuple(sorted(subops.items()))
        )
    )
    label = staged.seclabel_named("EA-seclabel")
    staged = staged.with_seclabel(
        dataclasses.replace(label, tag=staged.tag_named("EB").id, max_rate=250)
    )
    return active, staged.without(staged.domain_named("EB-domu-1").id)


def _unsettled(app: Any) -> list[str]:
    """What is still to be drawn on the screens the picture shows (the top one and those
    under a dialog): empty once everything is in place."""
    from textual.screen import ModalScreen
    from textual.widgets import DataTable

    screens = [app.screen]
    for screen in reversed(app.screen_stack[:-1]):
        if not isinstance(screens[-1], ModalScreen):
            break
        screens.append(screen)
    waiting = []
    for screen in screens:
        if getattr(screen, "_apply_due", False):
            waiting.append(f"{screen!r}: pushed data not drawn yet")
        for table in screen.query(DataTable):
            if table._require_update_dimensions or table._new_rows:
                waiting.append(f"{table!r}: columns not sized")
        for widget in screen.query("ViolationLog, PerfView, DomainsTable"):
            if not all(node.display for node in widget.ancestors_with_self):
                continue  # hidden: draws when shown
            if getattr(widget, "_repaint_due", False) or getattr(widget, "_behind", False):
                waiting.append(f"{widget!r}: rows not drawn")
        for view in screen.query("AdvancedView"):
            width = view.size.width
            if width <= 0 or view.has_class("-stacked") != (width < view.STACK_BELOW):
                waiting.append(f"{view!r}: first resize")
    return waiting


def steady_cursors(app: Any) -> None:
    """Stops the text cursors blinking (shown, steady): a blinking cursor is drawn or not
    depending on how long ago its field got the focus (0.5 s a phase), which a loaded
    machine stretches, so a picture with a focused field would depend on the clock."""
    from textual.widgets import Input, TextArea

    for screen in app.screen_stack:
        for field in screen.query("Input, TextArea"):
            if isinstance(field, (Input, TextArea)) and field.cursor_blink:
                field.cursor_blink = False


async def settle(pilot: Any, app: Any, limit_s: float = 20.0) -> None:
    """Waits (bounded: the picture then shows what was not ready) until the screen is ready
    for a picture: tables sized to their rows, batched rows drawn, the Advanced view's first
    resize done, text cursors steady, and two renders one idle apart the same."""
    deadline = time.monotonic() + limit_s
    await pilot.pause()
    steady_cursors(app)
    last = None
    while time.monotonic() < deadline:
        await pilot.pause()
        now = app.export_screenshot(simplify=True)
        if not _unsettled(app) and now == last:
            return
        last = now
        await pilot.pause(0.05)


async def settled_screenshot(pilot: Any, app: Any, limit_s: float = 10.0) -> str:
    """The screen as SVG once every table on it has sized its columns to its rows.

    A DataTable sizes its columns on its next idle after rows are added; on a loaded machine
    that idle can come after the screenshot (the Users picture at 80x24 once showed the
    header-only widths in CI). Waits (bounded) for it, then takes the picture."""
    from textual.widgets import DataTable

    deadline = time.monotonic() + limit_s
    await pilot.pause()
    steady_cursors(app)  # a focused field's cursor is in the picture or not by blink phase
    while time.monotonic() < deadline:
        tables = list(app.screen.query(DataTable))
        if not any(t._require_update_dimensions or t._new_rows for t in tables):
            break
        await pilot.pause(0.05)
    await pilot.pause()
    return str(app.export_screenshot(simplify=True))
