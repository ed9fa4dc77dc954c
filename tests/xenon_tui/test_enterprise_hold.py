""" "Held for approval" on the Enterprise screen against real XE services over sim hosts:
alice (admin) changes a VM of an enclave that requires a second admin; the title says which
version waits for whom and that V reviews it (in sight at 80 columns), and goes back to
the plain title once root approves (no new policy version: the shown hold is re-read)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from tests._support.console import wait_for
from tests._support.xe_approvals import alice_changes_a_vm
from tests._support.xe_console import World, ready
from xenon_tui.app import XenonConsole


def _title(app: XenonConsole) -> str:
    assert app.enterprise is not None
    return str(app.enterprise.query_one("#xe-title", Static).render())


@pytest.mark.parametrize(
    ("size", "user"),
    [((160, 48), "oper"), ((80, 24), "oper"), ((80, 24), "aud")],
    ids=["160x48", "80x24", "80x24-auditor"],
)
async def test_the_title_says_what_waits_for_whom_until_approved(
    world: World, tmp_path: Path, size: tuple[int, int], user: str
) -> None:
    version = await alice_changes_a_vm(world)
    app = world.console(await world.link(user), tmp_path)
    role = {"oper": "operator", "aud": "auditor"}[user]
    held = f"v{version} waits for approval by an admin other than alice — V to review"
    # At 80 columns the wording gives way (ellipsis) so that the role stays in sight.
    waits = held if size[0] > 100 else f"v{version} waits for approval"
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        await wait_for(pilot, lambda: waits in _title(app), 30)
        title = app.enterprise.query_one("#xe-title", Static)  # type: ignore[union-attr]
        shown = _title(app)
        assert len(shown) <= title.content_size.width, shown
        assert "V to review" in shown
        assert shown.endswith(f"{user} ({role})")
        root = await world.admin()
        await root.policy.approve(version, "reviewed")
        plain = f"⛨ Xenon Enterprise — {user} ({role})"
        await wait_for(pilot, lambda: _title(app) == plain, 30)
