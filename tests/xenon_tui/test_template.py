"""Template import mode (§3.2.3) against a real daemon: missing "!", bound, import, stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._support.console import console_config, wait_connected, wait_for
from tests._support.scripted_host import ScriptedHost
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import InputDialog
from xenon_tui.dialogs._import import ImportScreen
from xenon_tui.widgets import ModeBand
from xps.policy import export_template, sample_policy, serialize_template, source_mapping


async def test_import_binds_hardware_then_stages(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    policy = sample_policy()
    host = ScriptedHost(policy)
    running = await start_xps(host)
    template_file = tmp_path / "template.xml"
    template_file.write_bytes(serialize_template(export_template(policy)))
    mapping = source_mapping(policy)
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("m")
        await wait_for(pilot, lambda: app.query_one(ModeBand).has_class("-editor"))
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        await pilot.press(*str(template_file), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen))
        screen = app.screen
        assert set(screen.states().values()) == {"missing"}
        await pilot.press("i")  # not consistent yet: refused
        assert isinstance(app.screen, ImportScreen) and host.staged is None
        for index, state in enumerate(screen.result.placeholders):
            screen.query_one("DataTable").move_cursor(row=index)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
            await pilot.press(*mapping[state.name], "enter")
            await wait_for(pilot, lambda: app.screen is screen)
            try:
                await wait_for(pilot, lambda s=state: screen.states()[s.name] == "bound")
            except TimeoutError:
                raise AssertionError([n.message for n in app._notifications]) from None
        assert screen.result.complete
        await pilot.press("i")
        await wait_for(pilot, lambda: host.staged is not None)
        assert {s.name for s in host.staged.seclabels} == {s.name for s in policy.seclabels}


async def test_hardware_assignment_validates_then_stages(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    from xenon_tui.dialogs._form import FormDialog

    policy = sample_policy()
    host = ScriptedHost(policy)
    running = await start_xps(host)
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("m", "colon", *"hardware", "enter")
        await wait_for(pilot, lambda: getattr(app.focused, "tab", None) == "hardware")
        table = app.focused
        keys = [row[0] for row in table.entries]
        table.move_cursor(row=keys.index("0000:03:00.3"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        app.screen.query_one("#field-tag").value = "Enclave Z"
        await pilot.press("ctrl+s")
        assert "no such tag" in str(app.screen.query_one("#error-tag").render())
        app.screen.query_one("#field-tag").value = "Enclave B"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: host.staged is not None)
        nic = next(d for d in host.staged.hardware.pci if d.bdf == "0000:03:00.3")
        assert nic.tag == policy.tag_named("Enclave B").id
