"""Per-VM dialogs of the Enterprise screen: the context actions and the migration targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from enterprise_store.client import MigrationTargetOut
from xenon_tui._xe import VM_ACTIONS

_CSS = """
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{
    width: 80%; max-width: {width}; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 1 2;
}}
{name} .title {{ width: 100%; text-style: bold; color: $primary; margin-bottom: 1; }}
{name} OptionList {{ height: auto; max-height: 24; border: none; }}
{name} .hint {{ color: $text-muted; margin-top: 1; }}
"""

MIGRATE = "migrate"
"""The context action that opens the migration targets."""

VIEW_CONFIG = "view_config"
"""The context action that shows the VM's generated xl config (Figure 27)."""

CONFIGURE = "configure"
"""The context action that opens Configure domain… (Figure 28)."""

READ_ONLY_ACTIONS = frozenset({VIEW_CONFIG})
"""What an auditor's menu offers (XE refuses the others anyway)."""

_ACTION_TITLES = {
    "start": "Start",
    "pause": "Pause",
    "unpause": "Unpause",
    "shutdown": "Shut down",
    "destroy": "Destroy…",
    VIEW_CONFIG: "View domain config",
    CONFIGURE: "Configure domain…",
    MIGRATE: "Migrate…",
}

MENU: tuple[str, ...] = (*VM_ACTIONS, VIEW_CONFIG, CONFIGURE, MIGRATE)
"""The context menu, in order (Migrate stays last: G goes to it)."""

ALWAYS: frozenset[str] = frozenset({VIEW_CONFIG, CONFIGURE})
"""The entries offered whatever the VM's run state (they read or edit the policy)."""

_LIVE = frozenset({"pause", "shutdown", "destroy", MIGRATE})
_BY_STATE: dict[str, frozenset[str]] = {
    # XPS's run states (the MSM's running / paused / shutdown; Xen's blocked is running).
    "running": _LIVE,
    "blocked": _LIVE,
    "paused": frozenset({"unpause", "shutdown", "destroy", MIGRATE}),
    # Shut down but still listed by its host: only destroy frees it (start would be refused
    # while a domain of that name exists there).
    "shutdown": frozenset({"destroy"}),
    "crashed": frozenset({"destroy"}),
    "dying": frozenset({"destroy"}),
    # No domain of that name on its host (XE says "stopped"; Xen's destroyed).
    "stopped": frozenset({"start"}),
    "destroyed": frozenset({"start"}),
}
"""The lifecycle actions a VM's host accepts in each run state; a state not listed here
(XE could not read the host, ``unknown``, not read yet) offers all of them. XE enforces
anyway: this only keeps the menu from offering what the host will refuse."""


def actions_for(state: str, *, read_only: bool = False) -> tuple[str, ...]:
    """The context menu of a VM in run ``state``, in :data:`MENU` order: the lifecycle
    actions valid in that state (all when the state is unknown) and the config entries;
    an auditor's menu (``read_only``) is :data:`READ_ONLY_ACTIONS` only."""
    if read_only:
        return tuple(a for a in MENU if a in READ_ONLY_ACTIONS)
    valid = _BY_STATE.get(state.strip().casefold())
    return tuple(a for a in MENU if valid is None or a in valid or a in ALWAYS)


def move_option(options: OptionList, how: str) -> None:
    """j/k/g/G in an option list (disabled options are skipped, as with the arrows)."""
    moves = {
        "down": options.action_cursor_down,
        "up": options.action_cursor_up,
        "first": options.action_first,
        "last": options.action_last,
    }
    moves[how]()


class VmActionsDialog(ModalScreen[str | None]):
    """A keyboard context menu of one VM; dismisses with the action chosen (or None)."""

    DEFAULT_CSS = _CSS.format(name="VmActionsDialog", width=60)
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "cancel", "Cancel"),
        Binding("j", "move('down')", "Down", show=False),
        Binding("k", "move('up')", "Up", show=False),
        Binding("g", "move('first')", "First", show=False),
        Binding("G", "move('last')", "Last", show=False),
    ]

    def __init__(self, vm: str, host: str, state: str, *, read_only: bool = False) -> None:
        super().__init__()
        self.vm, self._host, self._state = vm, host, state
        self.actions = actions_for(state, read_only=read_only)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.vm} on {self._host} ({self._state})", classes="title", markup=False)
            yield OptionList(
                *(Option(_ACTION_TITLES[a], id=a) for a in self.actions),
                id="vm-actions",
            )
            yield Label("Enter runs · Esc closes", classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        likely = likely_action(self._state)
        options.highlighted = options.get_option_index(
            likely if likely in self.actions else self.actions[0]
        )
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_move(self, how: str) -> None:
        move_option(self.query_one(OptionList), how)

    def action_cancel(self) -> None:
        self.dismiss(None)


def likely_action(state: str) -> str:
    """The action the menu opens on: what a VM in ``state`` most often needs next."""
    return {
        "running": "pause",
        "paused": "unpause",
        "blocked": "pause",
        "shutdown": "destroy",
        "crashed": "destroy",
        "dying": "destroy",
    }.get(state, "start")


def target_text(target: MigrationTargetOut) -> Text:
    """A migration target's line: allowed, or refused with every reason (code, message)."""
    if target.allowed:
        return Text.assemble((target.host, "bold"), "  allowed")
    text = Text.assemble((target.host, "bold"), ("  refused", "dim"))
    for reason in target.reasons:
        text.append(f"\n  {reason.code}: {reason.message}", style="dim")
    return text


class MigrateDialog(ModalScreen[str | None]):
    """The migration precheck (Figure 40): allowed hosts can be chosen; refused ones are
    listed, disabled, with every reason. Dismisses with the chosen host's name."""

    # The verdict and the keys are docked under the list: a list of refusals longer than
    # the screen (two hosts with three reasons each at 80x24) scrolls between them.
    DEFAULT_CSS = (
        _CSS.format(name="MigrateDialog", width=110)
        + """
    MigrateDialog .title { dock: top; }
    MigrateDialog #migrate-foot { dock: bottom; height: auto; }
    MigrateDialog OptionList { max-height: 100%; }
    """
    )
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "cancel", "Cancel"),
        Binding("j", "move('down')", "Down", show=False),
        Binding("k", "move('up')", "Up", show=False),
        Binding("g", "move('first')", "First", show=False),
        Binding("G", "move('last')", "Last", show=False),
    ]

    def __init__(self, vm: str, source: str, targets: Sequence[MigrationTargetOut]) -> None:
        super().__init__()
        self.vm, self._source, self.targets = vm, source, tuple(targets)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Migrate {self.vm} from {self._source} to…", classes="title", markup=False)
            options = [
                Option(target_text(t), id=t.host, disabled=not t.allowed) for t in self.targets
            ]
            yield OptionList(*options, id="targets")
            with Vertical(id="migrate-foot"):
                if not any(t.allowed for t in self.targets):
                    yield Static("No host may take this VM now.", classes="hint")
                yield Label("Enter migrates · Esc cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_move(self, how: str) -> None:
        move_option(self.query_one(OptionList), how)

    def action_cancel(self) -> None:
        self.dismiss(None)
