"""The report's §4.2 walk over SSH: OpenSSH in tmux against ``xenon console serve --xe``.

A real ``xenon xe serve`` (SQLite file) over three sim XPS hosts; the console is the real
one, each login an XE user with an SSH key of their own (admin ``root``, auditor ``aud``).
Every step waits on the screen's text (``tmux capture-pane -p``) with a liveness bound.
"""

from __future__ import annotations

from textual import events
from textual.app import App

from xenon_tui.dialogs._xe_forms import XeField, XeForm

# -- keys typed ahead (SSH delivers a burst at once) ----------------------------------------


class _FormApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.form = XeForm("Three fields", [XeField("one", "One"), XeField("two", "Two"),
                                            XeField("three", "Three")])  # fmt: skip

    def on_mount(self) -> None:
        self.push_screen(self.form)


async def test_keys_typed_ahead_of_enter_and_tab_land_in_the_next_field() -> None:
    """Over SSH a fast typist's keys (or a paste) arrive in one read: Textual hands each
    key to the widget focused *when it is read*, so a field-moving key handled later by
    the field left the following keys in the old field ("xenon-1⏎127.0.0.1" all went into
    Hostname in the tmux walk). Enter and Tab move focus before the next key is read."""
    app = _FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.form.ready
        burst = [("a", "a"), ("enter", None), ("b", "b"), ("tab", None), ("c", "c")]
        for key, char in burst:  # one read's worth: no pause between them
            app.post_message(events.Key(key, char))
        await pilot.pause()
        await pilot.pause()
        assert app.form.all_values() == {"one": "a", "two": "b", "three": "c"}
