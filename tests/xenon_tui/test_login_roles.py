"""The role decides what the console offers, but XE enforces it (issue #13, identity).

An auditor drives the Enterprise screen through a patched UI that offers every change
(``read_only`` forced off): Add domain, a VM's Start and Destroy are refused by XE, the
console showing XE's own problem+json message each time, and nothing changed in XE;
Migrate's precheck names XE-MIG-ROLE on every host, and the move itself is refused.
The world (XE services over three sim hosts with the §4.2 policy) is the Enterprise
screen's fixture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList

from enterprise_store._errors import XeError
from tests._support.console import wait_for
from tests._support.xe_console import (
    World,
    field,
    form,
    open_running_vm_menu,
    ready,
    vm_names,
    vm_state,
)
from xenon_tui.dialogs import TypedConfirmDialog, _xe_vm
from xenon_tui.dialogs._xe_forms import AddDomainDialog
from xenon_tui.dialogs._xe_vm import MigrateDialog, VmActionsDialog
from xenon_tui.screens._enterprise import EnterpriseScreen


async def _xe_says(world: World, call: Any) -> str:
    """What XE answers an auditor who makes ``call`` directly (its problem+json detail)."""
    aud = world.factory(await world.link("aud"))
    with pytest.raises(XeError) as refused:
        await call(aud)
    assert refused.value.code == "role_required"
    return refused.value.message


async def test_an_auditor_offered_every_change_is_refused_by_xe(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(EnterpriseScreen, "read_only", property(lambda self: False))
    # The VM menu offers every action whatever the VM's run state (a stopped VM's Destroy).
    monkeypatch.setattr(_xe_vm, "actions_for", lambda state, read_only=False: _xe_vm.MENU)
    link = await world.link("aud")
    assert link.role == "auditor"
    app = world.console(link, tmp_path)
    shown: list[tuple[str, str, str]] = []
    notify = app.notify

    def record(message: str, *, title: str = "", severity: Any = "information", **kw: Any) -> None:
        shown.append((str(message), title, str(severity)))
        notify(message, title=title, severity=severity, **kw)

    app.notify = record  # type: ignore[method-assign]

    def errors() -> list[str]:
        return [m for m, title, sev in shown if sev == "error" and title == "Xenon Enterprise"]

    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None and not screen.read_only  # the patch: changes offered
        vm = vm_names(app)[0]
        enclave = screen.enclave
        assert enclave is not None
        assert vm_state(app, vm) == "stopped"

        # Add domain: offered, and refused by XE.
        await pilot.press("a")
        dialog = await form(pilot, app, AddDomainDialog)
        field(dialog, "kernel").value = "/boot/vmlinuz"
        await pilot.press(*"EA-domu-9", "ctrl+s")
        await wait_for(pilot, lambda: len(errors()) == 1, 30)

        # Start and Destroy of a VM: offered, and refused by XE.
        await pilot.press("tab", "g", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        await pilot.press("enter")  # a stopped VM's menu opens on Start
        await wait_for(pilot, lambda: len(errors()) == 2, 30)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        await pilot.press("g", *["j"] * 4, "enter")  # Destroy…
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmDialog))
        await pilot.press(*vm, "enter")
        await wait_for(pilot, lambda: len(errors()) == 3, 30)

        await pilot.pause(0.5)

    messages = errors()
    assert len(messages) == 3, shown
    # Each is XE's own words for the refusal.
    assert messages[0] == await _xe_says(
        world, lambda xe: xe.policy.create_vm("EA-domu-9", enclave, "pvh")
    )
    assert messages[1] == await _xe_says(world, lambda xe: xe.compute.vm_action(vm, "start"))
    assert messages[2] == await _xe_says(world, lambda xe: xe.compute.vm_action(vm, "destroy"))
    # Nothing changed in XE.
    root = world.clients[0]
    assert (await root.compute.vm_state(vm)).run_state == "stopped"
    names = {v.name async for v in root.policy.iter_vms()}
    assert "EA-domu-9" not in names


async def test_an_auditor_offered_migrate_is_refused_by_xe(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(EnterpriseScreen, "read_only", property(lambda self: False))
    root = world.clients[0]
    await root.compute.vm_action("EA-domu-1", "start")
    app = world.console(await world.link("aud"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await open_running_vm_menu(pilot, app)
        await pilot.press("G", "enter")  # Migrate…: XE's precheck (a read) says where to
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateDialog), 30)
        dialog = app.screen
        assert isinstance(dialog, MigrateDialog)
        # XE's precheck refuses every host for an auditor, saying why in the dialog.
        assert {t.host: t.allowed for t in dialog.targets} == {"xenon-1": False, "xenon-3": False}
        assert all("XE-MIG-ROLE" in {r.code for r in t.reasons} for t in dialog.targets)
        options = dialog.query_one("#targets", OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert all("XE-MIG-ROLE" in p for p in prompts), prompts
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise)
    # The move itself, asked directly, is refused too.
    await _xe_says(world, lambda xe: xe.compute.migrate("EA-domu-1", "xenon-3"))
    assert (await root.compute.vm_state("EA-domu-1")).host == "xenon-2"
