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


async def settled_screenshot(pilot: Any, app: Any, limit_s: float = 10.0) -> str:
    """The screen as SVG once every table on it has sized its columns to its rows.

    A DataTable sizes its columns on its next idle after rows are added; on a loaded machine
    that idle can come after the screenshot (the Users picture at 80x24 once showed the
    header-only widths in CI). Waits (bounded) for it, then takes the picture."""
    from textual.widgets import DataTable

    deadline = time.monotonic() + limit_s
    await pilot.pause()
    while time.monotonic() < deadline:
        tables = list(app.screen.query(DataTable))
        if not any(t._require_update_dimensions or t._new_rows for t in tables):
            break
        await pilot.pause(0.05)
    await pilot.pause()
    return str(app.export_screenshot(simplify=True))
