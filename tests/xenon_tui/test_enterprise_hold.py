""" "Held for approval" on the Enterprise screen against real XE services over sim hosts:
alice (admin) changes a VM of an enclave that requires a second admin; the title says which
version waits for whom and that V reviews it (in sight at 80 columns), and goes back to
the plain title once root approves (no new policy version: the shown hold is re-read)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from tests._support.console import wait_for
from tests._support.xe_console import PASSWORD, URL, World, ready
from tests.xenon_tui.test_enterprise_approvals import _alice_changes_a_vm
from xenon_tui._xe import XeLink
from xenon_tui.app import XenonConsole


def _title(app: XenonConsole) -> str:
    assert app.enterprise is not None
    return str(app.enterprise.query_one("#xe-title", Static).render())


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_the_title_says_what_waits_for_whom_until_approved(
    world: World, tmp_path: Path, size: tuple[int, int]
) -> None:
    version = await _alice_changes_a_vm(world)
    app = world.console(await world.link("oper"), tmp_path)
    held = f"v{version} waits for approval by an admin other than alice — V to review"
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        await wait_for(pilot, lambda: held in _title(app), 30)
        title = app.enterprise.query_one("#xe-title", Static)  # type: ignore[union-attr]
        shown = _title(app)
        assert shown.index("V to review") + len("V to review") <= title.content_size.width
        assert shown.endswith("oper (operator)")
        root = world.factory(XeLink(URL, "", "root", "admin", None))
        await root.login("root", PASSWORD)
        await root.policy.approve(version, "reviewed")
        await wait_for(pilot, lambda: _title(app) == "⛨ Xenon Enterprise — oper (operator)", 30)
