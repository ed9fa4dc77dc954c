"""Keys that arrive in one read (over SSH, a fast typist on a slow link, a paste) land in
the fields they were typed for."""

from __future__ import annotations

from tests._support.keys import one_read
from tests._support.screens import injected_app
from xenon_tui.dialogs._resolve import ResolveDialog


async def test_tab_in_a_burst_moves_to_the_next_field_before_the_next_key() -> None:
    # Seen over SSH: `EA-domu-1⇥note⏎` in one write put "EA-domu-1note" in the name field.
    app = injected_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        results: list[str | None] = []
        app.push_screen(ResolveDialog("Resolve", "body", "EA-domu-1"), results.append)
        await pilot.pause()
        one_read(app, "EA-domu-1\tburst note\r")
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
        one_read(app, ["x", "tab", "shift+tab", "y"])
        for _ in range(5):
            await pilot.pause(0.05)
        assert dialog.query_one("#typed").value == "xy"  # type: ignore[attr-defined]
        assert dialog.query_one("#note").value == ""  # type: ignore[attr-defined]


async def test_changes_made_elsewhere_are_summed_into_one_line_per_host() -> None:
    # Seen in the final walk: the demo's workload changes a domain every few seconds per
    # host and each change was a notice of its own; at 80x24 they covered the violation log.
    from tests._support.console import wait_for
    from tests._support.screens import ADDRESS
    from xenon_tui.widgets import NoticeStrip

    app = injected_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        strip = app.query_one(NoticeStrip)
        for n in range(6):
            change = {"name": f"EA-domu-{n}", "reason": "unpause", "origin": "client"}
            app.host._domain_changed(ADDRESS, change)
        await wait_for(pilot, lambda: "(+5 more)" in strip.text)
        assert not app._notifications
        assert strip.text.startswith("⚑ just now — changed elsewhere — ")
        assert strip.text.endswith("EA-domu-5 unpaused by a client that named no user. (+5 more)")
        app.host._domain_changed(ADDRESS, {"name": "EB-domu-1", "reason": "pause"})
        await pilot.pause(0.2)
        assert "EB-domu-1" not in strip.text  # the next one waits for its window
        await wait_for(pilot, lambda: "EB-domu-1" in strip.text)
        assert strip.text.endswith("EB-domu-1 paused (the host did not say by whom).")
        assert strip.size.height == 1
