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


BRAND = "Xenon Enterprise"


def title_text(
    user: str, role: str, hold: str | None, alert: str = "bold", width: int | None = None
) -> Text:
    """The screen's title: who is logged in, and first what holds propagation (so it stays
    in sight at 80 columns).

    ``width``: the cells it has. The role always stays in sight (an auditor held at 80x24
    lost "(auditor)"): the hold's wording, then the brand, then the user name give way
    first, cut with an ellipsis."""
    room = 10**6 if width is None else max(width, 1)
    who = f"{user} ({role})"
    least = len(f"⛨ held{REVIEW_HINT} · ") if hold is not None else len("⛨ ")
    if len(who) > room - least:  # a long user name gives way to the role
        who = _clip(user, max(1, room - least - len(role) - 3)) + f" ({role})"
    if hold is None:
        if len(f"⛨ {BRAND} — {who}") > room:
            return Text.assemble(("⛨ ", "bold"), who)
        return Text.assemble((f"⛨ {BRAND}", "bold"), f" — {who}")
    spacer = "  ·  " if len(f"⛨ {hold}{REVIEW_HINT}  ·  {who}") <= room else " · "
    shown = _clip(hold, room - len(f"⛨ {REVIEW_HINT}{spacer}{who}"))
    title = Text("⛨ ", style="bold")
    if shown:
        title.append(shown + REVIEW_HINT, style=alert)
    else:
        title.append("held" + REVIEW_HINT, style=alert)
    title.append(f"{spacer}{who}")
    return title


def _clip(text: str, width: int) -> str:
    if width < 8:
        return "" if len(text) > max(width, 0) else text
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


class XeTitle(Static):
    """The Enterprise screen's title line, fitted to its width each time it is drawn."""

    def __init__(self, user: str, role: str, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.user, self.role = user, role
        self.hold: str | None = None
        self.alert = "bold"

    def show_hold(self, hold: str | None, alert: str) -> None:
        """What holds propagation now (None: nothing), in ``alert`` style."""
        self.hold, self.alert = hold, alert
        self.refresh()

    def render(self) -> Text:
        width = self.content_size.width or None
        return title_text(self.user, self.role, self.hold, self.alert, width)


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
            self.query_one("#xe-title", XeTitle).show_hold(hold, alert)


__all__ = ["REVIEW_HINT", "XeHoldFlows", "XeTitle", "title_text"]
