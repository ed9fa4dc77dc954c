"""Keys that arrive in one read (over SSH, a fast typist on a slow link, a paste) land in
the fields they were typed for."""

from __future__ import annotations

from textual import events

from tests._support.screens import injected_app
from xenon_tui.dialogs._resolve import ResolveDialog

_NAMES = {" ": "space", "-": "minus", ":": "colon", "\t": "tab", "\r": "enter"}


def _burst(app: object, text: str) -> None:
    """Posts every key at once, as the driver does with what one read brought."""
    for ch in text:
        key = _NAMES.get(ch, ch)
        app.post_message(events.Key(key, None if ch == "\t" else ch))  # type: ignore[attr-defined]


async def test_tab_in_a_burst_moves_to_the_next_field_before_the_next_key() -> None:
    # Seen over SSH: `EA-domu-1⇥note⏎` in one write put "EA-domu-1note" in the name field.
    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        results: list[str | None] = []
        app.push_screen(ResolveDialog("Resolve", "body", "EA-domu-1"), results.append)
        await pilot.pause()
        _burst(app, "EA-domu-1\tburst note\r")
        for _ in range(5):
            await pilot.pause(0.05)
        assert results == ["burst note"]


async def test_shift_tab_in_a_burst_goes_back_a_field() -> None:
    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        dialog = ResolveDialog("Resolve", "body", "EA-domu-1")
        app.push_screen(dialog)
        await pilot.pause()
        _burst(app, "x\t")
        app.post_message(events.Key("shift+tab", None))
        _burst(app, "y")
        for _ in range(5):
            await pilot.pause(0.05)
        assert dialog.query_one("#typed").value == "xy"  # type: ignore[attr-defined]
        assert dialog.query_one("#note").value == ""  # type: ignore[attr-defined]
