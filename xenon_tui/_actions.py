"""The one action table: every key binding, `?` help line, palette entry and `:` command."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from textual.binding import Binding

if TYPE_CHECKING:
    from textual.dom import DOMNode


class Mode(Enum):
    """When an action is available."""

    ANY = "any"
    EDITOR = "editor"
    LIVE = "live"


@dataclass(frozen=True)
class Action:
    """One user action.

    Attributes:
        id: Stable id (keymap files and tests refer to it).
        keys: Default key(s), comma separated, in Textual key names.
        action: Textual action string run on the scope's widget.
        description: Short text for the footer, help and palette.
        scope: ``app`` or the id of the widget that owns the action.
        mutating: Changes a daemon's state; hidden in a read-only console.
        mode: Editor or Live only, or both.
        footer: Shown in the footer.
        commands: ``:`` command names that run it.
    """

    id: str
    keys: str
    action: str
    description: str
    scope: str = "app"
    mutating: bool = False
    mode: Mode = Mode.ANY
    footer: bool = True
    commands: tuple[str, ...] = ()

    @property
    def priority(self) -> bool:
        """App keys that are text (``4``, ``m``, ``:``…) are handled before the key reaches
        the focused widget (a Textual priority binding): keys typed after one go where it
        sends them, in order. The app turns them off in text fields and dialogs."""
        return self.scope == "app" and bool(self.keys) and _typed(self.keys)


_TYPED_NAMES = frozenset({"question_mark", "colon", "slash"})


def _typed(keys: str) -> bool:
    return all(len(key) == 1 or key in _TYPED_NAMES for key in keys.split(","))


_E, _L = Mode.EDITOR, Mode.LIVE

ACTIONS: tuple[Action, ...] = (
    # Application-wide.
    Action("app.help", "question_mark", "help", "Help", commands=("help", "h")),
    Action("app.command", "colon", "command_line", "Command", commands=()),
    Action("app.palette", "ctrl+p", "command_palette", "Palette", footer=False),
    Action("app.quit", "ctrl+q", "quit", "Quit", commands=("quit", "q")),
    Action("app.mode", "m", "toggle_mode", "Editor/Live", commands=("mode",)),
    Action("app.theme", "ctrl+t", "next_theme", "Theme", footer=False, commands=("theme",)),
    Action(
        "app.refresh", "ctrl+r", "refresh_server", "Refresh", footer=False, commands=("refresh",)
    ),
    Action(
        "view.servers",
        "1",
        "show_view('servers')",
        "Servers",
        footer=False,
        commands=("servers", "srv"),
    ),
    Action(
        "view.policy",
        "2",
        "show_view('policy')",
        "Policy",
        footer=False,
        commands=("policy", "enclaves"),
    ),
    Action(
        "view.advanced",
        "3",
        "show_view('advanced')",
        "Advanced",
        footer=False,
        commands=("advanced", "adv"),
    ),
    Action(
        "view.domains",
        "4",
        "show_view('domains')",
        "Domains",
        footer=False,
        commands=("domains", "dom"),
    ),
    Action(
        "view.violations",
        "5",
        "show_view('violations')",
        "Violations",
        footer=False,
        commands=("violations", "viol"),
    ),
    Action(
        "view.perf",
        "6",
        "show_view('perf')",
        "Performance",
        footer=False,
        commands=("perf", "performance"),
    ),
    Action(
        "view.fleet",
        "7",
        "show_view('fleet')",
        "Fleet violations",
        footer=False,
        commands=("fleet",),
    ),
    Action(
        "view.profiles",
        "",
        "show_advanced('profiles')",
        "Hypercall profiles",
        footer=False,
        commands=("profiles",),
    ),
    Action(
        "view.seclabels",
        "",
        "show_advanced('seclabels')",
        "SecLabels",
        footer=False,
        commands=("seclabels",),
    ),
    Action("view.tags", "", "show_advanced('tags')", "Tags", footer=False, commands=("tags",)),
    Action(
        "view.conflicts",
        "",
        "show_advanced('conflicts')",
        "Conflicts",
        footer=False,
        commands=("conflicts",),
    ),
    Action(
        "view.hardware",
        "",
        "show_advanced('hardware')",
        "Hardware",
        footer=False,
        commands=("hardware", "hw"),
    ),
    Action(
        "view.switches",
        "",
        "show_advanced('switches')",
        "Network switches",
        footer=False,
        commands=("switches",),
    ),
    Action(
        "view.storage",
        "",
        "show_advanced('storage')",
        "Storage locations",
        footer=False,
        commands=("storage",),
    ),
    Action(
        "view.timeline",
        "T",
        "timeline",
        "Incident timeline",
        footer=False,
        commands=("timeline", "tl"),
    ),
    Action(
        "incident.runbook",
        "I",
        "incident",
        "Guided incident",
        footer=False,
        commands=("incident",),
    ),
    Action(
        "incident.list",
        "",
        "incidents",
        "Incidents (search, reopen)",
        footer=False,
        commands=("incidents",),
    ),
    # Editor workflow (any view, current server).
    Action("policy.diff", "d", "staged_diff", "Staged diff", mode=_E, commands=("diff",)),
    Action(
        "policy.activate",
        "ctrl+a",
        "activate_policy",
        "Make active",
        mutating=True,
        mode=_E,
        commands=("activate",),
    ),
    Action(
        "policy.discard",
        "",
        "discard_staged",
        "Discard staged changes",
        mutating=True,
        mode=_E,
        footer=False,
        commands=("discard",),
    ),
    Action(
        "policy.rollback",
        "",
        "rollback_policy",
        "Roll back to previous policy",
        mutating=True,
        mode=_E,
        footer=False,
        commands=("rollback",),
    ),
    Action(
        "policy.export",
        "e",
        "export_policy(False)",
        "Export signed XML",
        mode=_E,
        footer=False,
        commands=("export",),
    ),
    Action(
        "policy.template",
        "E",
        "export_policy(True)",
        "Export template",
        mode=_E,
        footer=False,
        commands=("template",),
    ),
    Action(
        "policy.import",
        "i",
        "import_template",
        "Import template",
        mutating=True,
        mode=_E,
        footer=False,
        commands=("import",),
    ),
    # Servers panel.
    Action("server.connect", "c", "connect", "Connect", scope="servers", commands=("connect",)),
    Action(
        "server.disconnect",
        "x",
        "disconnect",
        "Disconnect",
        scope="servers",
        commands=("disconnect",),
    ),
    Action("server.add", "a", "add", "Add server", scope="servers", commands=("add",)),
    Action("server.remove", "delete", "remove", "Remove", scope="servers", commands=("remove",)),
    Action("server.color", "K", "color", "Colour", scope="servers", commands=("color",)),
    Action("server.compare", "C", "compare", "Compare", scope="servers", commands=("compare",)),
    Action(
        "server.clone",
        "L",
        "clone",
        "Clone to…",
        scope="servers",
        mutating=True,
        commands=("clone",),
    ),
    Action(
        "server.auth", "z", "authorizations", "Authorization", scope="servers", commands=("auth",)
    ),
    # Lists.
    Action("list.filter", "slash", "filter_list", "Filter", commands=("filter",)),
    # Moving in every list (k9s/vi habits); the arrows work too. In the violation log,
    # newest on top, End/G is the newest row and follows new ones; Home/g the oldest.
    Action("list.down", "j", "cursor_down", "Down", scope="list", footer=False),
    Action("list.up", "k", "cursor_up", "Up", scope="list", footer=False),
    Action("list.page_down", "pagedown", "page_down", "Page down", scope="list", footer=False),
    Action("list.page_up", "pageup", "page_up", "Page up", scope="list", footer=False),
    Action(
        "list.first", "home,g", "list_first", "First row (log: oldest)", scope="list", footer=False
    ),
    Action(
        "list.last",
        "end,G",
        "list_last",
        "Last row (log: newest, follow)",
        scope="list",
        footer=False,
    ),
    Action(
        "list.clear_filter",
        "escape",
        "clear_filter",
        "Clear the view's filter",
        scope="list",
        footer=False,
        commands=("nofilter",),
    ),
    # Domains (Live mode).
    Action(
        "domain.start",
        "s",
        "domain('CreateDomain')",
        "Start",
        scope="domains",
        mutating=True,
        mode=_L,
    ),
    Action(
        "domain.pause",
        "p",
        "domain('PauseDomain')",
        "Pause",
        scope="domains",
        mutating=True,
        mode=_L,
    ),
    Action(
        "domain.unpause",
        "u",
        "domain('UnpauseDomain')",
        "Unpause",
        scope="domains",
        mutating=True,
        mode=_L,
    ),
    Action(
        "domain.shutdown",
        "S",
        "domain('ShutdownDomain')",
        "Shutdown",
        scope="domains",
        mutating=True,
        mode=_L,
    ),
    Action(
        "domain.reboot",
        "R",
        "domain('RebootDomain')",
        "Reboot",
        scope="domains",
        mutating=True,
        mode=_L,
    ),
    Action(
        "domain.destroy",
        "D",
        "domain('DestroyDomain')",
        "Destroy",
        scope="domains",
        mutating=True,
        mode=_L,
    ),
    Action(
        "domain.resolve",
        "r",
        "domain('Resolve')",
        "Resolve",
        scope="domains",
        mutating=True,
        mode=_L,
        commands=("resolve",),
    ),
    Action("domain.config", "y", "xl_config", "xl config", scope="domains", commands=("xl",)),
    Action(
        "domain.templates",
        "",
        "guest_templates",
        "Guest-type templates",
        footer=False,
        commands=("guests",),
    ),
    Action("domain.vnc", "v", "vnc", "VNC", scope="domains"),
    # Sorting (also `:sort name|cpu|mem|viol|domid`); the same key again reverses.
    Action("domain.sort_name", "N", "sort_by('name')", "Sort by name", "domains", footer=False),
    Action("domain.sort_cpu", "C", "sort_by('cpu')", "Sort by CPU", "domains", footer=False),
    Action("domain.sort_mem", "M", "sort_by('mem')", "Sort by memory", "domains", footer=False),
    Action(
        "domain.sort_viol", "V", "sort_by('viol')", "Sort by viol. rate", "domains", footer=False
    ),
    # Violation log.
    Action(
        "violation.pause",
        "p",
        "pause_domain",
        "Pause domain",
        scope="violations",
        mutating=True,
        mode=_L,
    ),
    Action("violation.profile", "o", "open_profile", "Open profile", scope="violations"),
    Action(
        "violation.resolve",
        "r",
        "resolve",
        "Resolve domain",
        scope="violations",
        mutating=True,
        mode=_L,
    ),
    Action(
        "violation.clear_alert",
        "ctrl+l",
        "clear_alert",
        "Ack up to here",
        scope="violations",
        commands=("ack",),
    ),
    Action(
        "violation.ack_domain",
        "A",
        "ack_domain",
        "Ack domain up to here",
        scope="violations",
        mutating=True,
        footer=False,
    ),
    # Fleet violations (every connected host; actions go to the row's host).
    Action(
        "fleet.pause",
        "p",
        "pause_domain",
        "Pause domain",
        scope="fleet",
        mutating=True,
        mode=_L,
    ),
    Action("fleet.profile", "o", "open_profile", "Open profile", scope="fleet"),
    Action(
        "fleet.resolve",
        "r",
        "resolve",
        "Resolve domain",
        scope="fleet",
        mutating=True,
        mode=_L,
    ),
    Action("fleet.sort_count", "C", "sort_by('count')", "Sort by count", "fleet", footer=False),
    Action("fleet.sort_rate", "V", "sort_by('rate')", "Sort by rate", "fleet", footer=False),
    Action("fleet.sort_name", "N", "sort_by('name')", "Sort by name", "fleet", footer=False),
    # Performance.
    Action("perf.range", "r", "next_range", "History range", scope="perf"),
    Action("perf.domain", "f", "filter", "Domain filter", scope="perf"),
    Action("perf.scope", "t", "toggle_scope", "Host/domain", scope="perf"),
    Action("perf.metric", "x", "next_metric", "CPU/memory", scope="perf"),
    # Advanced editor forms.
    Action("edit.new", "n", "new_item", "New", scope="advanced", mutating=True, mode=_E),
    Action(
        "edit.edit",
        "enter",
        "edit_item",
        "Edit",
        scope="advanced",
        mutating=True,
        mode=_E,
        footer=False,
    ),
    Action(
        "edit.delete", "delete", "delete_item", "Remove", scope="advanced", mutating=True, mode=_E
    ),
    Action(
        "edit.import_profile",
        "I",
        "import_profile",
        "Import profiles",
        scope="advanced",
        mutating=True,
        mode=_E,
        footer=False,
        commands=("import-profile",),
    ),
    Action(
        "edit.export_profile",
        "X",
        "export_profile",
        "Export profile as JSON",
        scope="advanced",
        footer=False,
        commands=("export-profile",),
    ),
)

_BY_ID = {a.id: a for a in ACTIONS}
_BY_ACTION: dict[tuple[str, str], Action] = {(a.scope, a.action): a for a in ACTIONS}


def action_by_id(action_id: str) -> Action:
    """The action with this id (KeyError when unknown)."""
    return _BY_ID[action_id]


def action_for(scope: str, action: str) -> Action | None:
    """The table entry of ``action`` run on ``scope`` (None for Textual's own actions)."""
    return _BY_ACTION.get((scope, action))


def bindings(scope: str) -> list[Binding]:
    """Textual bindings of one scope, each with the action's stable id."""
    return [
        Binding(a.keys, a.action, a.description, show=a.footer, id=a.id, priority=a.priority)
        for a in ACTIONS
        if a.scope == scope and a.keys
    ]


def typed_action_names() -> frozenset[str]:
    """Textual action names (no arguments) of the priority app keys."""
    return frozenset(a.action.partition("(")[0] for a in ACTIONS if a.priority)


def command_names() -> dict[str, Action]:
    """``:`` command name -> action."""
    return {name: a for a in ACTIONS for name in a.commands}


def effective_keys(keymap: Mapping[str, str]) -> dict[str, str]:
    """Action id -> keys after user overrides."""
    return {a.id: keymap.get(a.id, a.keys) for a in ACTIONS}


def allowed(action: Action, *, read_only: bool, mode: Mode | None) -> bool:
    """Whether ``action`` may run in this console state."""
    if action.mutating and read_only:
        return False
    return action.mode is Mode.ANY or mode is None or action.mode is mode


def check_scoped(
    node: DOMNode, scope: str, action: str, parameters: tuple[object, ...]
) -> bool | None:
    """``check_action`` of a widget whose keys are the table's ``scope`` entries.

    Asks the app's ``permitted`` (read-only console, Editor vs Live); a widget shown by
    an app without one (a test's) allows every action.
    """
    permitted = getattr(node.app, "permitted", None)
    return permitted(scope, action, parameters) if permitted is not None else True


def unknown_ids(keymap: Iterable[str]) -> list[str]:
    """Keymap ids that name no action (reported to the user, never silently ignored)."""
    return sorted(k for k in keymap if k not in _BY_ID)
