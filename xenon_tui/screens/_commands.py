"""`:` commands: what a typed command line asks for, checked before anything runs."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Literal

from xenon_tui._actions import Action
from xenon_tui._errors import ConfigError

_SORT_NAMES = {
    "name": "name",
    "cpu": "cpu",
    "mem": "mem",
    "memory": "mem",
    "viol": "viol",
    "violations": "viol",
    "rate": "viol",
    "domid": "domid",
}
"""`:sort` words -> the Domains table's sort orders."""


@dataclass(frozen=True)
class Command:
    """One parsed `:` command.

    Attributes:
        name: ``theme`` (arg: the theme's name), ``connect`` (arg: the typed address),
            ``filter`` (arg: the text), ``sort`` (arg: the Domains column: ``name``,
            ``cpu``, ``mem``, ``viol``, ``domid``) or ``action`` (arg: the table action's id).
        arg: Its argument.
    """

    name: Literal["theme", "connect", "filter", "sort", "action"]
    arg: str


def parse_command(
    text: str, themes: Container[str], actions: Mapping[str, Action]
) -> Command | None:
    """Reads one `:` command line (``servers``, ``theme light``, ``connect h:p``…).

    Args:
        text: The line as typed (a leading ``:`` is allowed); blank means nothing.
        themes: Names of the registered themes (``light`` finds ``xenon-light``).
        actions: ``:`` command name -> table action.

    Raises:
        ConfigError: An unknown command or theme.
    """
    text = text.lstrip(":").strip()
    if not text:
        return None
    name, _, arg = text.partition(" ")
    arg = arg.strip()
    if name == "theme" and arg:
        wanted = arg if arg in themes else f"xenon-{arg}"
        if wanted not in themes:
            raise ConfigError(f"unknown theme {arg!r}")
        return Command("theme", wanted)
    if name in {"connect", "add"} and arg:
        return Command("connect", arg)
    if name == "filter":
        return Command("filter", arg)
    if name == "sort":
        column = _SORT_NAMES.get(arg.lower())
        if column is None:
            raise ConfigError(f"sort by what? {' '.join(sorted(set(_SORT_NAMES)))}")
        return Command("sort", column)
    action = actions.get(name)
    if action is None:
        raise ConfigError(f"unknown command :{name} — press ? for the list")
    return Command("action", action.id)
