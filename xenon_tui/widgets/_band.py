"""The mode band: red in Policy Editor mode, green in Live mode, naming the server."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from xenon_tui._actions import Mode


class ModeBand(Static):
    """One line saying which mode and which server the console is acting on."""

    DEFAULT_CSS = """
    ModeBand { height: 1; width: 1fr; text-style: bold; padding: 0 1; }
    ModeBand.-editor { background: $error-darken-1; color: $text; }
    ModeBand.-live { background: $success; color: $text; }
    ModeBand.-none { background: $panel; color: $text-muted; }
    """

    # Drawn by _sync (one update of the line, no layout), not repainted by the reactive too.
    mode: reactive[Mode | None] = reactive(None, repaint=False)
    server: reactive[str | None] = reactive(None, repaint=False)
    read_only: reactive[bool] = reactive(False, repaint=False)
    alert: reactive[int] = reactive(0, repaint=False)

    def _text(self) -> str:
        if self.server is None:
            return "No server selected — press 1 for servers, a to add one"
        if self.mode is Mode.EDITOR:
            label = "POLICY EDITOR MODE"
        elif self.mode is Mode.LIVE:
            label = "LIVE MODE"
        else:
            label = "NOT CONNECTED"
        ro = " (read-only)" if self.read_only else ""
        alert = f"   ⚠ {self.alert} new violations" if self.alert else ""
        return f"{label}{ro} — {self.server}{alert}"

    def _sync(self) -> None:
        self.set_class(self.mode is Mode.EDITOR, "-editor")
        self.set_class(self.mode is Mode.LIVE, "-live")
        self.set_class(self.mode is None, "-none")
        # One line of fixed size: a repaint, never a layout pass of the whole screen (the
        # alert count changes with every violation batch while another view is shown).
        self.update(self._text(), layout=False)

    def on_mount(self) -> None:
        self._sync()

    def watch_mode(self) -> None:
        self._sync()

    def watch_server(self) -> None:
        self._sync()

    def watch_read_only(self) -> None:
        self._sync()

    def watch_alert(self) -> None:
        self._sync()
