"""Dialogs never lose what was typed and their previews scroll at once (issue #12 §5, §6).

Each test drives the real dialog in a running Textual app through the Pilot.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.app import App
from textual.containers import VerticalScroll
from textual.widgets import Button, Input

from tests._support.keys import one_read
from xenon_tui.dialogs import ConfirmDialog
from xenon_tui.dialogs._form import Field, FormDialog

LONG = "\n".join(f"+ change {i}" for i in range(120))


class _Host(App[None]):
    """An empty app the dialogs are pushed on; keeps each dialog's result."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[Any] = []

    def open(self, screen: Any) -> None:
        self.push_screen(screen, self.results.append)


def _form(**kw: Any) -> FormDialog:
    fields = [
        Field("name", "Name", "EA-seclabel"),
        Field("hypercalls", "Hypercalls", "mmu_update, xen_version"),
        Field("max_rate", "Max hypercall rate per ms", "1000", "1..65535", bounds=(1, 65535)),
        Field("max_violations", "Max violations", "10", bounds=(0, 4294967295)),
    ]
    return FormDialog("Edit seclabel EA-seclabel", fields, kw.get("validate", lambda v: {}))


@pytest.mark.parametrize("key", ["pagedown", "down", "end"])
async def test_confirm_preview_scrolls_at_once(key: str) -> None:
    app = _Host()
    async with app.run_test(size=(80, 24)) as pilot:
        app.open(ConfirmDialog("Make active?", LONG, confirm="Make active"))
        await pilot.pause()
        scroll = app.screen.query_one("#confirm-scroll", VerticalScroll)
        assert app.screen.focused is app.screen.query_one("#cancel", Button)
        await pilot.press(key)
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("pageup" if key != "end" else "home")
        await pilot.pause()
        assert scroll.scroll_y < scroll.max_scroll_y
        assert app.results == []  # scrolling neither confirms nor cancels


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_confirm_and_form_buttons_stay_on_screen(size: tuple[int, int]) -> None:
    app = _Host()
    async with app.run_test(size=size) as pilot:
        for dialog in (ConfirmDialog("Make active?", LONG), _form()):
            app.open(dialog)
            await pilot.pause()
            for button in app.screen.query(Button):
                x, y = button.region.center
                assert app.screen.get_widget_at(x, y)[0] is button, button.id
            app.screen.dismiss(None)
            await pilot.pause()


async def test_tab_end_then_typing_appends() -> None:
    """Typing after Tab+End replaced the whole field (the field selected all on focus)."""
    app = _Host()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(_form())
        await pilot.pause()
        await pilot.press("tab", *", sysctl")
        await pilot.pause()
        assert app.screen.query_one("#field-hypercalls", Input).value == (
            "mmu_update, xen_version, sysctl"
        )
        await pilot.press("tab", "end", "5")
        assert app.screen.query_one("#field-max_rate", Input).value == "10005"
        await pilot.press("shift+tab", "shift+tab", *"-2")
        assert app.screen.query_one("#field-name", Input).value == "EA-seclabel-2"


async def test_first_key_reaches_a_new_form() -> None:
    app = _Host()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(_form())
        await pilot.press("x")  # sent before the dialog had a chance to focus a field
        await pilot.pause()
        assert app.screen.query_one("#field-name", Input).value.endswith("x")


async def test_a_burst_lands_each_value_in_the_field_enter_moved_to() -> None:
    # Seen over SSH in the Users forms (fixed there in session 7): Enter moved the focus
    # only after the keys of the same read had gone into the field it left.
    app = _Host()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(_form())
        await pilot.pause()
        one_read(app, "-web\r, sysctl\r\r\r")
        await _until(pilot, lambda: app.results != [])
        assert app.results == [
            {
                "name": "EA-seclabel-web",
                "hypercalls": "mmu_update, xen_version, sysctl",
                "max_rate": "1000",
                "max_violations": "10",
            }
        ]


async def test_a_burst_ending_in_enter_saves_what_it_typed() -> None:
    app = _Host()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(FormDialog("Rename", [Field("name", "Name")], lambda v: {}))
        await pilot.pause()
        one_read(app, "EA-domu-9\r")
        await _until(pilot, lambda: app.results != [])
        assert app.results == [{"name": "EA-domu-9"}]


async def test_a_burst_into_an_invalid_form_keeps_it_open_with_the_message() -> None:
    app = _Host()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(_form())
        await pilot.pause()
        one_read(app, "\r\r99\r\r")  # max_rate 100099
        await _until(
            pilot, lambda: "100099" in str(app.screen.query_one("#error-max_rate").render())
        )
        assert app.results == [] and isinstance(app.screen, FormDialog)
        assert app.screen.focused is app.screen.query_one("#field-max_violations", Input)


async def _until(pilot: Any, done: Any) -> None:
    async with asyncio.timeout(20):  # a liveness bound only
        while not done():
            await pilot.pause(0.02)


async def test_escape_on_changed_form_asks() -> None:
    app = _Host()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(_form())
        await pilot.pause()
        await pilot.press("end", *"-new", "escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "Name" in str(app.screen.query_one("#confirm-body").render())
        await pilot.press("enter")  # Cancel has the focus: keep editing
        await pilot.pause()
        assert isinstance(app.screen, FormDialog) and app.results == []
        assert app.screen.query_one("#field-name", Input).value == "EA-seclabel-new"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("tab", "enter")  # Discard
        await pilot.pause()
        assert app.results == [None] and not isinstance(app.screen, FormDialog)


async def test_escape_on_unchanged_form_closes() -> None:
    app = _Host()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(_form())
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None]


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("max_violations", "99999999999", "99999999999 is outside 0..4294967295"),
        ("max_rate", "0", "0 is outside 1..65535"),
        ("max_rate", "fast", "must be a whole number in 1..65535"),
        ("max_rate", "١٢", "must be a whole number in 1..65535"),
    ],
)
async def test_numbers_out_of_range_name_the_range(field: str, text: str, message: str) -> None:
    seen: list[dict[str, str]] = []

    def validate(values: dict[str, str]) -> dict[str, str]:
        seen.append(values)
        return {}

    app = _Host()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(_form(validate=validate))
        await pilot.pause()
        app.screen.query_one(f"#field-{field}", Input).value = text
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert message in str(app.screen.query_one(f"#error-{field}").render())
        assert seen == [] and app.results == []
        app.screen.query_one(f"#field-{field}", Input).value = "10"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results and app.results[0][field] == "10"
