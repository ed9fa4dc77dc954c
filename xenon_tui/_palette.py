"""Ctrl+P palette entries generated from the action table (plus themes and servers)."""

from __future__ import annotations

from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from xenon_tui._actions import ACTIONS, Action


@runtime_checkable
class PaletteHost(Protocol):
    """What the palette needs of its app (``XenonConsole``)."""

    effective_keys: dict[str, str]
    theme_names: tuple[str, ...]

    def action_permitted(self, action: Action) -> bool:
        """Whether an action of the table may run now."""
        ...

    def run_action_id(self, action_id: str) -> None:
        """Runs a table action on its scope."""
        ...


class ActionProvider(Provider):
    """Every allowed action of the table, with its current key."""

    def _host(self) -> PaletteHost:
        app = self.app
        if not isinstance(app, PaletteHost):
            raise TypeError(f"the action palette needs a console app, not {type(app).__name__}")
        return app

    def _entries(self) -> list[tuple[str, str, str]]:
        host = self._host()
        out: list[tuple[str, str, str]] = []
        for a in ACTIONS:
            if a.id == "app.palette" or not host.action_permitted(a):
                continue
            keys = host.effective_keys.get(a.id, "")
            out.append((a.description, a.id, f"{a.id}  [{keys}]" if keys else a.id))
        for theme in host.theme_names:
            out.append((f"Theme: {theme}", f"theme:{theme}", "switch colour theme"))
        return out

    def _run(self, action_id: str) -> None:
        if action_id.startswith("theme:"):
            self.app.theme = action_id.split(":", 1)[1]
        else:
            self._host().run_action_id(action_id)

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
