"""App shell: action table, help, palette, `:` commands, keymap overrides, themes."""

from __future__ import annotations

import json
from pathlib import Path

from textual.command import CommandPalette

from tests._support.console import wait_for
from tests._support.keys import one_read
from xenon_tui._actions import ACTIONS, bindings, command_names
from xenon_tui._config import ConsoleConfig
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import HelpScreen, help_table
from xenon_tui.dialogs._help import help_rows


def _app(tmp_path: Path, **kw: object) -> XenonConsole:
    return XenonConsole(ConsoleConfig(config_path=tmp_path / "console.json", **kw))  # type: ignore[arg-type]


def test_action_ids_are_unique_and_every_binding_has_one() -> None:
    ids = [a.id for a in ACTIONS]
    assert len(ids) == len(set(ids))
    for scope in {a.scope for a in ACTIONS}:
        assert all(b.id for b in bindings(scope))
    assert command_names()["violations"].id == "view.violations"


async def test_help_is_generated_from_the_table_with_overrides(tmp_path: Path) -> None:
    app = _app(tmp_path, keymap={"view.domains": "f4"})
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        sections = help_rows(app.effective_keys_now(), read_only=False)
        keys = {row.id: row.keys for rows in sections.values() for row in rows}
        assert keys["view.domains"] == "f4"
        assert keys["app.help"] == "?"
        assert "server.connect" in keys and "domain.destroy" in keys
        table = help_table(app.effective_keys_now(), read_only=False)
        assert "f4" in list(table.columns[0].cells)  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_keymap_override_rebinds_the_key(tmp_path: Path) -> None:
    app = _app(tmp_path, keymap={"view.domains": "f4"})
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("f4")
        assert app.query_one("#views").active == "domains"
        await pilot.press("5", "4")  # "4" no longer shows the domains
        assert app.query_one("#views").active == "violations"


async def test_unknown_keymap_id_is_reported(tmp_path: Path) -> None:
    app = _app(tmp_path, keymap={"no.such": "f9"})
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert any("no.such" in n.message for n in app._notifications)


async def test_command_mode_aliases_and_errors(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        # Waits, not a fixed pause: the command runs through call_later on a busy machine.
        await pilot.press("colon", *"perf", "enter")
        await wait_for(pilot, lambda: app.query_one("#views").active == "perf")
        await pilot.press("colon", *"seclabels", "enter")
        await wait_for(pilot, lambda: app.query_one("#advanced-view").active_tab == "seclabels")
        assert app.query_one("#views").active == "advanced"
        await pilot.press("colon", *"frobnicate", "enter")
        await wait_for(
            pilot,
            lambda: any(
                n.title == "Configuration" and "frobnicate" in n.message for n in app._notifications
            ),
        )


async def test_theme_is_selectable_and_remembered(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("colon", *"theme light", "enter")
        await pilot.pause()
        assert app.theme == "xenon-light"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "xenon-high-contrast"
    saved = json.loads((tmp_path / "console.json").read_text())
    assert saved["theme"] == "xenon-high-contrast"
    again = _app(tmp_path, theme=saved["theme"])
    async with again.run_test(size=(80, 24)):
        assert again.theme == "xenon-high-contrast"


async def test_palette_lists_table_actions(tmp_path: Path) -> None:
    app = _app(tmp_path, read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"domains")
        commands = app.screen.query_one("CommandList")
        await wait_for(pilot, lambda: any("Domains" in str(o.prompt) for o in commands.options))
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("#views").active == "domains"


async def test_keys_typed_ahead_of_the_command_line_are_not_lost(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        one_read(app, ":perf\r")
        await wait_for(pilot, lambda: app.query_one("#views").active == "perf", wait_s=10)
        one_read(app, ":seclabels\r")
        await wait_for(
            pilot,
            lambda: getattr(app.focused, "id", None) == "adv-seclabels",
            wait_s=10,
        )


async def test_text_typed_ahead_of_a_dialog_lands_in_its_field(tmp_path: Path) -> None:
    from xenon_tui.dialogs import InputDialog

    app = _app(tmp_path)
    results: list[str | None] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        app.push_screen(InputDialog("Name", "A name:"), results.append)
        one_read(app, "web-01\r")
        await wait_for(pilot, lambda: bool(results), wait_s=10)
    assert results == ["web-01"]


async def test_view_key_then_filter_typed_ahead_run_in_order(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        one_read(app, "4/web")
        await wait_for(pilot, lambda: app.query_one("#command-line").value == "web", wait_s=10)
        assert app.query_one("#views").active == "domains"
        one_read(app, "\r")
        await wait_for(pilot, lambda: not app.query_one("#command-line").has_class("-open"))
        # In a text field the same keys are text.
        one_read(app, ":connect h:4\r")
        await wait_for(pilot, lambda: "h:4" in app.servers, wait_s=10)
