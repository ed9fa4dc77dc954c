""" "Held for approval" on the Enterprise screen (issue #14 §4): while a policy version waits
for a second admin (or was rejected), the title says so and how to review it (``V``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from xenon_tui._xe import XeData, bounded

if TYPE_CHECKING:
    from textual.screen import Screen

    from xenon_tui._xe import XeLink

    _Base = Screen[None]
else:
    _Base = object

REVIEW_HINT = " — V to review"


def title_text(user: str, role: str, hold: str | None, alert: str = "bold") -> Text:
    """The screen's title: who is logged in, and first what holds propagation (so it stays
    in sight at 80 columns)."""
    if hold is None:
        title = Text("⛨ Xenon Enterprise", style="bold")
        title.append(f" — {user} ({role})")
        return title
    title = Text("⛨ ", style="bold")
    title.append(hold + REVIEW_HINT, style=alert)
    title.append(f"  ·  {user} ({role})")
    return title


class XeHoldFlows(_Base):
    """Reads XE's approvals when the policy version changed or a hold is shown (an
    approval or a rejection does not make a version), and shows the hold in the title."""

    data: XeData
    link: XeLink
    hold: str | None = None
    """What holds propagation now (None: nothing), as last read."""
    _hold_version: int | None = None

    async def poll_hold(self, version: int | None) -> None:
        """Called by the screen's poll with the policy version it read."""
        if self.hold is None and version is not None and version == self._hold_version:
            return
        answer = await bounded(self.data.client.policy.approvals())
        self._hold_version = version
        hold = answer.hold_summary()
        if hold != self.hold:
            self.hold = hold
            alert = f"bold {self.app.theme_variables['warning']}"
            self.query_one("#xe-title", Static).update(
                title_text(self.link.user, self.link.role, hold, alert)
            )


__all__ = ["REVIEW_HINT", "XeHoldFlows", "title_text"]
