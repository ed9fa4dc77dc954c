"""The VM context menu offers what the VM's host accepts in its run state (issue #13):
running: pause, shut down, destroy, migrate; paused: unpause …; stopped: start; an
unknown state offers everything; the config entries always. XE still enforces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Label, OptionList

from enterprise_store.client import XeError
from tests._support.console import wait_for
from tests._support.xe_console import World, open_running_vm_menu, ready, vm_state
from xenon_tui._xe import NOT_READ
from xenon_tui.dialogs._xe_vm import MENU, VmActionsDialog, actions_for

CONFIG = ("view_config", "configure")


@pytest.mark.parametrize(
    ("state", "offered"),
    [
        ("running", ("pause", "shutdown", "destroy", *CONFIG, "migrate")),
        ("blocked", ("pause", "shutdown", "destroy", *CONFIG, "migrate")),
        ("paused", ("unpause", "shutdown", "destroy", *CONFIG, "migrate")),
        ("shutdown", ("destroy", *CONFIG)),
        ("stopped", ("start", *CONFIG)),
        ("unknown", MENU),
        (NOT_READ, MENU),
        ("", MENU),
    ],
)
def test_actions_follow_the_run_state(state: str, offered: tuple[str, ...]) -> None:
    assert actions_for(state) == offered
    # An auditor is offered the config view whatever the state.
    assert actions_for(state, read_only=True) == ("view_config",)


class _Menu(App[str | None]):
    def __init__(self, state: str) -> None:
        super().__init__()
        self.state = state
        self.chosen: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield Label("under")

    def on_mount(self) -> None:
        self.push_screen(VmActionsDialog("EA-domu-1", "xenon-2", self.state), self.chosen.append)


def _shown(app: App[Any]) -> list[str]:
    options = app.screen.query_one("#vm-actions", OptionList)
    return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]


@pytest.mark.parametrize(
    ("state", "enter", "last"),
    [
        ("running", "pause", "migrate"),
        ("paused", "unpause", "migrate"),
        ("stopped", "start", "configure"),
    ],
)
async def test_the_menu_opens_on_the_likely_action_and_lists_only_valid_ones(
    state: str, enter: str, last: str
) -> None:
    app = _Menu(state)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        assert _shown(app) == list(actions_for(state))
        assert "start" not in _shown(app) or state == "stopped"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chosen == [enter])
        app.push_screen(VmActionsDialog("EA-domu-1", "xenon-2", state), app.chosen.append)
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        await pilot.press("G", "enter")
        await wait_for(pilot, lambda: app.chosen == [enter, last])


async def test_a_running_then_paused_vm_is_not_offered_start_or_unpause(
    world: World, tmp_path: Path
) -> None:
    """Against XE and its sim hosts: the menu follows the state XE reads from the host."""
    link = await world.link("oper")
    api = world.factory(link)
    await api.compute.vm_action("EA-domu-1", "start")
    app = world.console(link, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await open_running_vm_menu(pilot, app)
        assert _shown(app) == ["pause", "shutdown", "destroy", *CONFIG, "migrate"]
        await pilot.press("enter")  # Pause
        await wait_for(pilot, lambda: vm_state(app, "EA-domu-1") == "paused", 60)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        assert _shown(app) == ["unpause", "shutdown", "destroy", *CONFIG, "migrate"]
        await pilot.press("j", "enter")  # Shut down
        await wait_for(pilot, lambda: vm_state(app, "EA-domu-1") == "shutdown", 60)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        # Shut down but still on its host: only destroy (start would be refused).
        assert _shown(app) == ["destroy", *CONFIG]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, VmActionsDialog))
    # The server still refuses what the menu no longer offers.
    with pytest.raises(XeError):
        await api.compute.vm_action("EA-domu-1", "start")
    assert (await api.compute.vm_state("EA-domu-1")).run_state == "shutdown"
