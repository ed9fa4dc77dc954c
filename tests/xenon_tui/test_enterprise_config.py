"""A VM's configuration on the Enterprise screen against real XE services and sim XPS hosts:
View domain config (Figure 27, `c` and the VM menu, `/` search), Configure domain…
(Figure 28, `C`: network restrictions, extra xl options, reset to the template, XE's
refusals with the objects' names) and the extra xl line arriving on the host (§4.3.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual import events
from textual.app import App
from textual.widgets import Checkbox, Input, Label, TabbedContent, TextArea

from tests._support.console import wait_for
from tests._support.keys import one_read
from tests._support.snapshots import settled_screenshot
from tests._support.xe_console import World, ready, rows, vm_names
from xenon_tui.dialogs._form import TypeAhead
from xenon_tui.dialogs._xe_config import (
    ConfigChange,
    ConfigureVmDialog,
    FindableText,
    Network,
    VmSettings,
    XlConfigDialog,
    find_in_text,
    parse_extra,
)
from xenon_tui.dialogs._xe_vm import VmActionsDialog
from xps.policy import policy_from_dict
from xps.policy.generators import xl_config

EXTRA = "max_grant_frames = 32"


async def _host_xl_config(world: World, host: str, vm: str) -> str:
    """The xl config the host itself generates for ``vm`` from the policy it enforces."""
    (xps,) = [h for h in world.hosts if h.name == host]
    client = await xps.console()
    stored = await client.get_policy()
    return xl_config(policy_from_dict(stored["policy"]), vm, vnc_password="test-mask")


def test_search_finds_every_match_case_insensitively_with_text_area_locations() -> None:
    text = "name = 'Ä-vm'\nmemory = 512\n# Memory, VCPU configuration\nmaxmem = 512"
    assert find_in_text(text, "MEMORY") == [(1, 0), (2, 2)]
    assert find_in_text(text, "ä-VM") == [(0, 8)]
    assert find_in_text(text, "") == [] and find_in_text(text, "absent") == []


def test_extra_lines_are_key_value_pairs_and_each_wrong_line_is_named() -> None:
    pairs, problems = parse_extra("# mine\n\nmax_grant_frames = 32\nlocaltime=1\n")
    assert pairs == (("max_grant_frames", "32"), ("localtime", "1")) and problems == []
    pairs, problems = parse_extra("ok = 1\nno equals here\n9bad = 2\nempty =\n")
    assert pairs == (("ok", "1"),)
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4"]


async def test_view_domain_config_from_the_menu_and_c_with_search(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("aud"), tmp_path)  # reading: an auditor may
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        vm = vm_names(app)[0]
        expected = await world.clients[0].policy.vm_config(vm)
        # The VM menu: an auditor is offered the config view only.
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        assert app.screen.actions == ("view_config",)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, XlConfigDialog), 30)
        dialog = app.screen
        assert isinstance(dialog, XlConfigDialog) and dialog.vm == vm
        text = dialog.query_one(FindableText)
        assert text.text == expected and f'name = "{vm}"' in text.text
        # `/` search: the first match is selected, n and N move through the others.
        await pilot.press("slash", *"VCPU", "enter")
        await pilot.pause()
        want = find_in_text(expected, "vcpu")
        assert len(want) >= 2
        assert text.selection.start == want[0]
        assert text.selected_text.lower() == "vcpu"
        await pilot.press("n")
        assert text.selection.start == want[1]
        await pilot.press("N", "N")
        assert text.selection.start == want[-1]  # wraps around
        status = str(dialog.query_one("#find-status", Label).render())
        assert f"{len(want)}/{len(want)}" in status
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise)
        # `c` on the VM list does the same; `/` and the search sent in one read (as over
        # SSH) find it too: the search line has the focus before the next key.
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, XlConfigDialog), 30)
        text = app.screen.query_one(FindableText)
        assert text.text == expected
        await pilot.pause()
        for key, ch in (("slash", "/"), *((c, c) for c in "vcpu"), ("enter", None)):
            app.post_message(events.Key(key, ch))
        await wait_for(pilot, lambda: text.selection.start == want[0])
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise)


async def test_extra_xl_configuration_is_saved_shown_and_arrives_on_the_host(
    world: World, tmp_path: Path
) -> None:
    root = world.clients[0]
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        vm, host = rows(app)[0].name, rows(app)[0].host
        assert EXTRA not in await _host_xl_config(world, host, vm)
        await pilot.press("tab", "C")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigureVmDialog), 30)
        dialog = app.screen
        assert isinstance(dialog, ConfigureVmDialog) and dialog.vm == vm
        editor = dialog.query_one("#extra", TextArea)
        # The editor takes the focus after the dialog's first layout: under load that is
        # later than the screen switch (failed once under -n 2 at load).
        await wait_for(pilot, lambda: editor.has_focus, 30)
        assert editor.text == ""
        await pilot.press(*EXTRA, "ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.enterprise, 30)
        await wait_for(
            pilot,
            lambda: "configuration saved" in app.screen.query_one("#xe-status").render().plain,
            30,
        )  # type: ignore[attr-defined]
        assert (await root.policy.get_vm(vm)).extra == [["max_grant_frames", "32"]]
        # The View shows the new line.
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, XlConfigDialog), 30)
        assert EXTRA in app.screen.query_one(FindableText).text
        await pilot.press("escape")
    # After a propagation the host's own xl config for the domain carries it (§4.3.4).
    task = await root.compute.wait_task((await root.compute.propagate()).task_id, 90)
    assert task.state == "succeeded", task.error
    assert EXTRA in await _host_xl_config(world, host, vm)


async def test_keys_typed_while_configure_domain_opens_land_in_its_editor(
    world: World, tmp_path: Path
) -> None:
    # Seen over SSH: `C` then the option typed at once lost the keys sent while XE was read
    # for the VM (they went to the Enterprise screen's keys: m opened Migrate) and before
    # the editor had focus. Now they are kept and typed into it, Ctrl+S included.
    root = world.clients[0]
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        vm = rows(app)[0].name
        await pilot.press("tab")
        one_read(app, ["C", *EXTRA, "ctrl+s"])
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigureVmDialog), 30)
        await wait_for(pilot, lambda: app.screen is app.enterprise, 30)
        await wait_for(
            pilot,
            lambda: "configuration saved" in app.screen.query_one("#xe-status").render().plain,
            30,
        )  # type: ignore[attr-defined]
        assert (await root.policy.get_vm(vm)).extra == [["max_grant_frames", "32"]]


async def test_keys_kept_by_the_flow_and_typed_while_the_dialog_opens_arrive_in_order() -> None:
    """Configure domain… takes typed-ahead keys the way the forms do (one path): the keys
    the flow kept while it read the VM, then one read typed as the dialog opens, each
    handled in order where the focus is then: Backspace deletes, Enter starts a line,
    Ctrl+S saves what the editor holds by then."""
    results: list[ConfigChange | None] = []
    ahead = TypeAhead()
    for key, character in [(c, c) for c in "ab"] + [("backspace", None)]:
        ahead.feed(events.Key(key, character))  # typed while XE was read
    app: App[None] = App()
    async with app.run_test(size=(160, 48)) as pilot:
        dialog = ConfigureVmDialog("EA-domu-1", "pvh", VmSettings(Network(), ()), type_ahead=ahead)
        app.push_screen(dialog, results.append)
        one_read(app, [*"c = 1", "enter", *"d = 22", "backspace", "enter", "ctrl+s"])
        assert not dialog.ready
        await wait_for(pilot, lambda: bool(results), 30)
    (change,) = results
    assert change is not None and change.extra == (("ac", "1"), ("d", "2"))
    assert change.network is None and not change.reset


async def test_a_refused_extra_option_shows_xe_s_finding_with_the_vm_and_keeps_the_text(
    world: World, tmp_path: Path
) -> None:
    root = world.clients[0]
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        vm = vm_names(app)[0]
        await pilot.press("tab", "C")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigureVmDialog), 30)
        await pilot.press(*"memory = 4096", "ctrl+s")
        # XE refuses (the generator writes memory): the dialog is back with what was
        # typed and XE's finding, naming the VM.
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ConfigureVmDialog)
                and app.screen.query_one("#cfg-error", Label).display
            ),
            30,
        )
        dialog = app.screen
        assert isinstance(dialog, ConfigureVmDialog)
        error = str(dialog.query_one("#cfg-error", Label).render())
        assert "XE-VM-EXTRA-FORBIDDEN" in error and vm in error and "'memory'" in error
        assert dialog.query_one("#extra", TextArea).text == "memory = 4096"
        # A line that is not `key = value` is refused before XE is asked.
        editor = dialog.query_one("#extra", TextArea)
        editor.text = "localtime 1"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "line 1" in str(dialog.query_one("#cfg-error", Label).render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise)
    assert (await root.policy.get_vm(vm)).extra == []


async def test_network_restrictions_and_reset_to_the_template(world: World, tmp_path: Path) -> None:
    root = world.clients[0]
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        vm = vm_names(app)[0]
        await root.policy.set_vm_extra(vm, [("localtime", "1")])
        template = await root.policy.vm_config(vm)
        await pilot.press("tab", "C")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigureVmDialog), 30)
        dialog = app.screen
        assert isinstance(dialog, ConfigureVmDialog)
        assert dialog.query_one("#extra", TextArea).text == "localtime = 1\n"
        # Network restrictions: at most 2 VIFs, on switch EBbr only.
        dialog.query_one("#switches", Input).value = "EBbr"
        dialog.query_one("#max-vifs", Input).value = "2"
        # Reset to the template empties the box; saving resets XE's extra options.
        await pilot.click("#reset")
        assert dialog.query_one("#extra", TextArea).text == ""
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.enterprise, 30)
        await wait_for(
            pilot,
            lambda: (
                (
                    app.screen.query_one("#xe-status").render().plain  # type: ignore[attr-defined]
                ).endswith("configuration saved")
            ),
            30,
        )
    saved = await root.policy.get_vm(vm)
    assert saved.extra == []
    assert (saved.network.switches, saved.network.max_vifs) == (["EBbr"], 2)
    assert "localtime" not in await root.policy.vm_config(vm)
    assert "localtime" in template


async def test_configure_is_hidden_from_an_auditor_and_refused_when_forced(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xenon_tui.screens._enterprise import EnterpriseScreen

    app = world.console(await world.link("aud"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        assert "configure_vm" not in {b.binding.action for b in screen.active_bindings.values()}
        await pilot.press("tab", "C")
        await pilot.pause(0.3)
        assert app.screen is screen
    # Offered anyway (a patched UI): XE refuses the write, in its own words.
    monkeypatch.setattr(EnterpriseScreen, "read_only", property(lambda self: False))
    app = world.console(await world.link("aud"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        vm = vm_names(app)[0]
        await pilot.press("tab", "C")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigureVmDialog), 30)
        dialog = app.screen
        assert isinstance(dialog, ConfigureVmDialog)
        dialog.query_one(TabbedContent).active = "tab-network"
        await pilot.pause()
        await pilot.click("#allow")
        assert not dialog.query_one("#allow", Checkbox).value
        await pilot.press("ctrl+s")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ConfigureVmDialog)
                and app.screen.query_one("#cfg-error", Label).display
            ),
            30,
        )
        error = str(app.screen.query_one("#cfg-error", Label).render())
        assert "role" in error.lower() or "auditor" in error.lower(), error
        await pilot.press("escape")
    assert (await world.clients[0].policy.get_vm(vm)).network.allow_network


async def _settled(pilot: Any, app: Any) -> None:
    """Two more polls done and none running: the view behind the dialog stays as drawn."""
    screen = app.enterprise
    polls = screen.polls
    await wait_for(pilot, lambda: screen.polls > polls + 1, 30)
    await wait_for(pilot, lambda: not any(w.is_running for w in screen.workers), 30)


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
@pytest.mark.parametrize("which", ["view", "configure"])
async def test_snapshot(
    world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int], which: str
) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        await _settled(pilot, app)
        await pilot.press("tab", "c" if which == "view" else "C")
        wanted = XlConfigDialog if which == "view" else ConfigureVmDialog
        await wait_for(pilot, lambda: isinstance(app.screen, wanted), 30)
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg
