"""Propagate (``P``) on the Enterprise screen shows XE's what-if first (issue #14 §1):
a held version (Enclave A requires approval) that narrows the running VM's profile would
deny calls it makes, so ``propagate`` must be typed; Esc leaves everything as it was."""

from __future__ import annotations

from pathlib import Path

from enterprise_store.services import Principal
from tests._support.console import wait_for
from tests._support.xe_console import World, ready
from tests._support.xe_whatif import narrowing
from xenon_tui.dialogs._whatif import WhatIfConfirmDialog, WhatIfReport


async def test_propagate_asks_for_the_word_when_a_host_would_deny(
    world: World, tmp_path: Path
) -> None:
    services, system = world.services, Principal.system()
    n = await narrowing(services, world.hosts)
    runs_on, narrower = n.host, n.profile
    # Held: the change waits for a second admin, so it is not propagated meanwhile.
    await services.policy.set_requires_approval(system, n.vm.enclave, True)
    await services.policy.update_seclabel(system, n.label.id, {"profile": narrower})

    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfConfirmDialog), 60)
        dialog = app.screen
        assert isinstance(dialog, WhatIfConfirmDialog)
        text = dialog.query_one("#whatif", WhatIfReport).text
        assert text.splitlines()[0] == f"⚠ Would deny behaviour allowed now on {runs_on.name}"
        assert f"the staged {narrower} profile denies them" in text
        assert dialog.expected == "propagate"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, WhatIfConfirmDialog))
        assert app.enterprise is not None and not app.enterprise.task_panel.is_open
