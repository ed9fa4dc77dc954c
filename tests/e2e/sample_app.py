"""A small real Textual app served in SSH tests until (and besides) the real console."""

from __future__ import annotations

import os

from textual.app import App, ComposeResult
from textual.events import Key, Resize
from textual.widgets import Static

from xenon_tui.ssh._console import run_textual
from xenon_tui.ssh._spec import SessionInfo


class SampleApp(App[int]):
    """Shows who is logged in, the terminal size and the last key; ``q`` quits, ``!`` crashes."""

    CSS = "#servers { border: round $primary; height: 5; } #size, #key { height: 1; }"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, info: SessionInfo) -> None:
        super().__init__()
        self.info = info

    def compose(self) -> ComposeResult:
        servers = ", ".join(
            f"{s['name']}:{s['port']}" for s in self.info.console.get("servers", [])
        )
        yield Static(f"Servers panel: {servers or 'none'}", id="servers")
        yield Static(
            f"user={self.info.user} role={self.info.role} term={self.info.term} "
            f"colorterm={self.info.colorterm} read_only={self.info.console.get('read_only')}",
            id="who",
        )
        yield Static(f"env={','.join(sorted(os.environ))} pid={os.getpid()}", id="env")
        yield Static("size=?", id="size")
        yield Static("key=none", id="key")

    def on_resize(self, event: Resize) -> None:
        self.query_one("#size", Static).update(f"size={event.size.width}x{event.size.height}")

    def on_key(self, event: Key) -> None:
        event.prevent_default()
        event.stop()
        if event.key == "q":
            self.exit(0)
        elif event.key == "exclamation_mark":
            raise RuntimeError("sample app asked to crash")
        elif event.key == "m":
            self.hog = bytearray(3 * 1024**3)  # far beyond the session's memory limit
        elif event.key == "z":
            self.exit(return_code=7)
        else:
            self.query_one("#key", Static).update(f"key={event.key}")


def run(info: SessionInfo) -> int:
    """Entry point used by the SSH server (``tests.e2e.sample_app:run``)."""
    return run_textual(SampleApp(info), info)
