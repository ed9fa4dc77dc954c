"""Ctrl+P palette entries generated from the action table (plus themes and servers)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from xenon_tui._actions import ACTIONS

if TYPE_CHECKING:
    from xenon_tui.app import XenonConsole


class ActionProvider(Provider):
    """Every allowed action of the table, with its current key."""

    def _entries(self) -> list[tuple[str, str, str]]:
        app = cast("XenonConsole", self.app)
        out: list[tuple[str, str, str]] = []
        for a in ACTIONS:
            if a.id == "app.palette" or not app.action_permitted(a):
                continue
            keys = app.effective_keys.get(a.id, "")
            out.append((a.description, a.id, f"{a.id}  [{keys}]" if keys else a.id))
        for theme in app.theme_names:
            out.append((f"Theme: {theme}", f"theme:{theme}", "switch colour theme"))
        return out

    def _run(self, action_id: str) -> None:
        app = cast("XenonConsole", self.app)
        if action_id.startswith("theme:"):
            app.theme = action_id.split(":", 1)[1]
        else:
            app.run_action_id(action_id)

    async def discover(self) -> Hits:
        for text, action_id, help_text in self._entries():
            yield DiscoveryHit(text, partial(self._run, action_id), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, action_id, help_text in self._entries():
            score = matcher.match(f"{text} {action_id}")
            if score > 0:
                yield Hit(
                    score, matcher.highlight(text), partial(self._run, action_id), help=help_text
                )
