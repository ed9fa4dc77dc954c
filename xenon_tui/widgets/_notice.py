"""The notice strip: one line of the host screen for changes made elsewhere.

A toast costs a layout pass of the whole screen as it comes, as it expires and as it goes;
this line has a fixed size, so a new notice is a repaint of one line. It shows the newest
summary with its age and clears itself ``CLEAR_S`` after it came, by one timer that exists
only while there is text.
"""

from __future__ import annotations

import time

from textual.timer import Timer
from textual.widgets import Static

CLEAR_S = 30.0
"""How long a notice stays on the strip."""

AGE_STEP_S = 10
"""The age is shown in steps of this many seconds (a repaint per step, not per tick)."""


class NoticeStrip(Static):
    """``⚑ 20 s ago — xenon-2: EB-domu-1 paused by bob. (3 changes)``, or an empty line."""

    DEFAULT_CSS = """
    NoticeStrip { height: 1; width: 1fr; padding: 0 1; color: $warning; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.summary = ""
        self.shown_at = 0.0
        self._clear: Timer | None = None
        self._text = ""

    def show(self, summary: str) -> None:
        """Shows ``summary`` (untrusted text is shown as is, never as markup) from now on."""
        self.summary = summary
        self.shown_at = time.monotonic()
        if self._clear is not None:
            self._clear.stop()
        self._clear = self.set_timer(CLEAR_S, self.clear)
        self.sync_age()

    def clear(self) -> None:
        """Empties the line and drops its timer."""
        if self._clear is not None:
            self._clear.stop()
            self._clear = None
        self.summary = ""
        self._paint("")

    def sync_age(self) -> None:
        """Words the age again; repaints only when the words changed (call it each tick)."""
        if not self.summary:
            return
        age = int(time.monotonic() - self.shown_at) // AGE_STEP_S * AGE_STEP_S
        when = "just now" if age < AGE_STEP_S else f"{age} s ago"
        self._paint(f"⚑ {when} — {self.summary}")

    @property
    def text(self) -> str:
        """What the line shows now."""
        return self._text

    def _paint(self, text: str) -> None:
        if text != self._text:
            self._text = text
            # One line of fixed size: a repaint, never a layout pass of the whole screen.
            self.update(text, layout=False)


__all__ = ["CLEAR_S", "NoticeStrip"]
