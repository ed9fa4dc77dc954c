"""The Xenon console app: themes, the action table's keys and gate, errors; composes screens."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on
from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widget import AwaitMount
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerError, WorkerState

from themes import CONSOLE_TCSS, THEMES, VARIABLE_DEFAULTS
from xenon_tui import flows
from xenon_tui._actions import (
    ACTIONS,
    Action,
    Mode,
    action_by_id,
    action_for,
    allowed,
    bindings,
    effective_keys,
    typed_action_names,
    unknown_ids,
)
from xenon_tui._config import ConsoleConfig
from xenon_tui._connection import ClientFactory, xps_client_factory
from xenon_tui._errors import ConsoleError, ReadOnlyError
from xenon_tui._palette import ActionProvider
from xenon_tui._state import ServerState, find_server
from xenon_tui._xe import XeClientFactory, XeLink, xe_client_factory
from xenon_tui.dialogs import ConfirmDialog, HelpScreen
from xenon_tui.flows._policy import STAGED_HINT, discard_staged, staged_summary
from xenon_tui.messages import ActionWanted, Failed
from xenon_tui.screens import HostConsole

if TYPE_CHECKING:
    from xenon_tui.screens._enterprise import EnterpriseScreen
    from xenon_tui.screens._xe_config_flows import HostConsoleWanted

# Actions of the priority app keys; see check_action.
_TYPED_ACTIONS = typed_action_names()

ENTERPRISE_KEY = "ctrl+e"
"""Switches between the Enterprise screen and the host console (with an XE link only)."""

# App actions that keep working on the Enterprise screen; the host console's other app
# keys ("1".."6", "m", ":", "/") are that screen's own there.
_ENTERPRISE_APP_ACTIONS = frozenset(
    {"help", "quit", "command_palette", "next_theme", "toggle_enterprise"}
)


class _XeHostConsole(HostConsole):
    """The host console of an XE session: composed only once :meth:`release` is called.

    It is the base of the screen stack from the start (``ctrl+e`` pops the Enterprise
    screen to it), but it is not shown first: its compose would only take CPU from the
    Enterprise view's first frame. The app releases it after that frame, or at once when
    it is wanted first (``ctrl+e``, Manage server → Editor mode, a palette command).
    """

    def __init__(
        self, config: ConsoleConfig, *, client_factory: ClientFactory = xps_client_factory
    ) -> None:
        super().__init__(config, client_factory=client_factory)
        self._released = asyncio.Event()
        self._abandoned = False  # the app closed before it was released: never composed

    def release(self, *, abandon: bool = False) -> None:
        """Lets the compose run (``abandon``: the app closes; nothing is composed)."""
        if not self._released.is_set():
            self._abandoned = abandon
            self._released.set()

    async def _on_compose(self, event: events.Compose) -> None:
        # Runs before Widget._on_compose (the MRO's order): holds the compose back.
        await self._released.wait()
        if self._abandoned:
            event.prevent_default()

    def _on_mount(self, event: events.Mount) -> None:
        # Runs before HostConsole.on_mount and Screen._on_mount (the MRO's order).
        # Abandoned, or released as the app closed (its widgets never mounted: seen once in
        # CI, "No nodes match ServersPanel"): HostConsole.on_mount would not find its own.
        if self._abandoned or not self.query("#servers"):
            event.prevent_default()


class XenonConsole(App[int]):
    """The console. Needs only stdin/stdout: one instance per terminal or SSH session.

    The app registers the themes, owns the keys of the action table (the app's scope) and
    their gate (read-only console, Editor vs Live), and shows errors: those a worker ends
    with (one handler) and those posted as :class:`~xenon_tui.messages.Failed`. What the
    user works on lives in its screens: :class:`~xenon_tui.screens.HostConsole` first.

    Args:
        config: Servers, TLS material, read-only flag, theme and keymap.
        client_factory: Builds the XPS client per server (tests may inject another one).
        xe: The session's XE link: the Enterprise screen is then the first screen, and
            ``ctrl+e`` goes to the host console and back.
        xe_client_factory: Builds the XE client of the link (tests inject one).
    """

    TITLE = "Xenon Console"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    CSS_PATH = str(CONSOLE_TCSS)
    COMMANDS: ClassVar[set[Any]] = {ActionProvider}
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *bindings("app"),
        Binding(ENTERPRISE_KEY, "toggle_enterprise", "Enterprise/Host", id="app.enterprise"),
        Binding("escape", "back_to_enterprise", "Enterprise", show=False, id="app.xe_back"),
        # In a dialog, Tab moves to the next field before the next key is handed out: keys
        # that arrive in one read over SSH ("name⇥note⏎") otherwise all reach the field that
        # had the focus, since a field's own Tab only bubbles up after they were forwarded.
        Binding("tab", "dialog_focus(1)", show=False, priority=True),
        Binding("shift+tab", "dialog_focus(-1)", show=False, priority=True),
    ]

    _running_command = False  # set while a palette or `:` command runs an app action
    console_user = ""
    """The SSH user of this console's session (set by the SSH console); empty: the OS
    user. Hosts log resolve, acknowledge and lifecycle requests with this name."""

    def __init__(
        self,
        config: ConsoleConfig,
        *,
        client_factory: ClientFactory = xps_client_factory,
        xe: XeLink | None = None,
        xe_client_factory: XeClientFactory = xe_client_factory,
    ) -> None:
        super().__init__()
        if xe is not None and xe.role == "auditor":
            # An auditor's session is read-only everywhere, the host console too (Manage
            # server → Editor mode); XE and the hosts refuse changes anyway.
            config = replace(config, read_only=True)
        self.xe = xe
        self._xe_client_factory = xe_client_factory
        self._enterprise: EnterpriseScreen | None = None
        self.config = config
        for theme in THEMES:
            self.register_theme(theme)
        self.theme_names = tuple(t.name for t in THEMES)
        self.theme = config.theme if config.theme in self.available_themes else THEMES[0].name
        self.effective_keys = effective_keys(config.keymap)
        # With XE, the host console composes after the Enterprise view's first frame.
        host_type = HostConsole if xe is None else _XeHostConsole
        self.host: HostConsole = host_type(config, client_factory=client_factory)

    def get_default_screen(self) -> Screen[Any]:
        return self.host

    @property
    def enterprise(self) -> EnterpriseScreen | None:
        """The Enterprise screen once it was first shown (None before, and without XE)."""
        return self._enterprise

    async def show_enterprise(self) -> None:
        """Shows the Enterprise screen, building it the first time (lazy: a console
        without XE, or one that never shows it, loads none of its widgets)."""
        if self.xe is None:
            return
        if self._enterprise is None:
            from xenon_tui.screens._enterprise import EnterpriseScreen

            self._enterprise = EnterpriseScreen(self.xe, client_factory=self._xe_client_factory)
            # Installed: popping it (ctrl+e to the host console) keeps it, not unmounts it.
            self.install_screen(self._enterprise, name="enterprise")
        if self.screen is not self._enterprise:
            await self.push_screen("enterprise")

    def _release_host(self) -> None:
        if isinstance(self.host, _XeHostConsole):
            self.host.release()

    async def host_ready(self) -> None:
        """Waits until the host console is mounted (with XE: releases it first)."""
        self._release_host()
        if not self.host.is_mounted:
            await AwaitMount(self.host, [self.host])

    async def action_toggle_enterprise(self) -> None:
        """``ctrl+e``: the Enterprise screen, or back to the host console from it."""
        if self._enterprise is not None and self.screen is self._enterprise:
            await self.host_ready()
            if self.screen is self._enterprise:
                self.pop_screen()
        else:
            await self.show_enterprise()

    async def on_host_console_wanted(self, message: HostConsoleWanted) -> None:
        """Manage server → Editor mode (Enterprise screen, ``e``): the host console on
        that host, in Policy Editor mode (Live for an auditor, whose session is read-only);
        ctrl+e (or Esc where
        the host console has no use for it) returns to the Enterprise view."""
        await self.host_ready()
        if self._enterprise is not None and self.screen is self._enterprise:
            self.pop_screen()
        host = self.host
        # A server the console has already (by the host name it reported, or its address
        # with XE's port as either socket) is that host: an auditor's console has the
        # read-only sockets, which its sandbox lets it reach.
        address = find_server(host.servers, message.name) or next(
            (
                a
                for a, s in host.servers.items()
                if s.entry.host == message.address
                and message.port in (s.entry.port, s.entry.ro_port)
            ),
            None,
        )
        if address is None:
            entry = host.add_server(message.server)
            if entry is None:
                return
            address = entry.address

        def editor() -> None:
            if host.servers[address].conn is None:
                host.connect_server(address)
            if not host.read_only:  # a read-only console has Live mode only
                host.set_mode(Mode.EDITOR)

        host.switch_server(address, then=editor)
        self.notify(f"{message.name}: host console (ctrl+e: back to Enterprise)", title="Editor")

    def action_back_to_enterprise(self) -> None:
        """Esc on the host console of an XE session: back to the Enterprise view."""
        self.call_later(self.show_enterprise)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # The console's own variables ($status-ok…), for Textual's built-in themes too.
        return dict(VARIABLE_DEFAULTS)

    async def on_mount(self) -> None:
        bad = unknown_ids(self.config.keymap)
        if bad:
            self.notify(
                f"unknown action ids in keymap: {', '.join(bad)}",
                title="Keymap",
                severity="warning",
            )
        self.set_keymap({k: v for k, v in self.config.keymap.items() if k not in bad})
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        if self.xe is not None:
            # The first frame is the Enterprise view's; the host console under it composes
            # once the first XE poll is drawn (_release_host_after) or when wanted.
            await self.show_enterprise()
            assert self._enterprise is not None
            await AwaitMount(self._enterprise, [self._enterprise])
            # Its on_mount started the first poll (none: it is not shown, release now).
            poll = next((w for w in self._enterprise.workers if w.group == "xe-poll"), None)
            self.run_worker(self._release_host_after(poll), group="host-release")
            return
        # Ready only once the host console is mounted (it composes itself in its own task):
        # keys typed at once, and a test's first step, find its widgets in place.
        await AwaitMount(self.host, [self.host])

    async def _close_all(self) -> None:
        # Textual's shutdown waits for every screen's task: a host console still held
        # back (the app closes before the Enterprise view's first poll) is let go empty.
        if isinstance(self.host, _XeHostConsole):
            self.host.release(abandon=True)
        await super()._close_all()

    async def action_quit(self) -> None:
        """Quits; first asks when a host has staged changes ("xenon-2 has 3 staged changes:
        quit anyway?")."""
        summary = staged_summary(self.servers.values())
        if summary is None or isinstance(self.screen, ConfirmDialog):
            self.exit()
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self.exit()

        self.push_screen(
            ConfirmDialog(f"{summary}: quit anyway?", STAGED_HINT, confirm="Quit"), answered
        )

    async def on_unmount(self) -> None:
        # Links first, so that no event reaches widgets being torn down.
        await self.host.fleet.stop()
        if self._enterprise is not None:
            await self._enterprise.close()

    # -- the host console's state, as tests and benchmarks read it ---------------------------

    @property
    def servers(self) -> Mapping[str, ServerState]:
        """The host console's servers by address."""
        return self.host.servers

    @property
    def current(self) -> str | None:
        """Address of the host console's current server."""
        return self.host.current

    @property
    def current_state(self) -> ServerState | None:
        """State of the host console's current server."""
        return self.host.current_state

    # -- permissions (read-only console, Editor vs Live) ------------------------------------

    def action_permitted(self, action: Action) -> bool:
        """Whether an action of the table may run now."""
        mode = self.host.mode
        if action.mode is not Mode.ANY and mode is None:
            return False
        return allowed(action, read_only=self.config.read_only, mode=mode)

    def permitted(self, scope: str, name: str, params: tuple[object, ...]) -> bool | None:
        """``check_action`` answer for a scope: False hides, None shows disabled."""
        text = f"{name}({', '.join(repr(p) for p in params)})" if params else name
        entry = action_for(scope, text)
        if entry is None:
            return True
        # Hidden (False) rather than greyed out: the footer only lists what works now.
        return self.action_permitted(entry)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "dialog_focus":
            return isinstance(self.screen, ModalScreen)  # elsewhere Tab is the screen's
        if action == "toggle_enterprise":
            return self.xe is not None and self.screen in (self.host, self._enterprise)
        if action == "back_to_enterprise":
            return self.xe is not None and self.screen is self.host
        # The Enterprise screen, and full screens over it or the host console (Users, Audit,
        # the timeline…), take the host console's app keys ("4", "m", ":", "/"…) as their
        # own: only the keys that work everywhere stay the app's.
        elsewhere = self.screen is not self.host and not isinstance(self.screen, ModalScreen)
        if elsewhere and action not in _ENTERPRISE_APP_ACTIONS:
            return False
        if (
            action in _TYPED_ACTIONS
            and not self._running_command
            and (isinstance(self.focused, Input | TextArea) or isinstance(self.screen, ModalScreen))
        ):
            # Priority keys such as "4", "m" or ":" are text in a field, and a dialog's own.
            return False
        return self.permitted("app", action, parameters)

    def action_dialog_focus(self, step: int) -> None:
        """Tab / Shift+Tab in a dialog: the next / previous field, at once."""
        if step > 0:
            self.screen.focus_next()
        else:
            self.screen.focus_previous()

    def run_action_id(self, action_id: str) -> None:
        """Runs a table action on its scope (palette and `:` commands)."""
        entry = action_by_id(action_id)
        if not self.action_permitted(entry):
            if entry.mutating and self.config.read_only:
                self.show_error(ReadOnlyError(f"{entry.description} changes the server."))
            else:
                self.notify(
                    f"{entry.description} needs {entry.mode.value} mode on a connected server.",
                    title="Not available",
                    severity="warning",
                )
            return
        self.call_later(self._run_scoped, entry)

    async def _run_scoped(self, entry: Action) -> None:
        if entry.scope != "app":
            await self.host_ready()
            await self.host.run_scoped(entry)
            return
        self._running_command = True  # a palette or `:` command, not a typed key
        try:
            await self.run_action(entry.action)
        finally:
            self._running_command = False

    @on(ActionWanted)
    def _action_wanted(self, message: ActionWanted) -> None:
        self.run_action_id(message.action_id)

    # -- errors: shown in one place ----------------------------------------------------------

    def show_error(self, exc: BaseException) -> None:
        """Shows an error as a titled notification (never a traceback)."""
        if isinstance(exc, ConsoleError):
            self.notify(exc.message, title=exc.title, severity="error", timeout=8)
        else:
            self.notify(str(exc) or type(exc).__name__, title="Error", severity="error", timeout=8)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # Every fallible task is a worker of the app (xenon_tui._work.run_flow): what one
        # ends with is shown here, as harlequin does, not where it was raised.
        error = event.worker.error
        if event.state is WorkerState.ERROR and error is not None:
            self.show_error(error)

    async def _release_host_after(self, poll: Worker[Any] | None) -> None:
        """Releases the host console once the Enterprise screen's first XE poll ended
        (its hosts and first VMs shown, or its error) and that frame was drawn."""
        if poll is not None:
            with contextlib.suppress(WorkerError):  # its error is the screen's to show
                await poll.wait()
        if self._enterprise is not None:
            self._enterprise.call_after_refresh(self._release_host)
        else:
            self._release_host()

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.show_error(message.error)

    # -- settings --------------------------------------------------------------------------

    def _remember_theme(self, theme: Any) -> None:
        self.config = replace(self.config, theme=self.theme)
        self.host.save_settings()

    def effective_keys_now(self) -> dict[str, str]:
        """Action id -> keys, including keymap overrides."""
        return effective_keys(self.config.keymap)

    # -- app actions -----------------------------------------------------------------------

    def action_help(self) -> None:
        show_help = getattr(self.screen, "show_help", None)
        if self.screen is not self.host and callable(show_help):
            show_help()  # the Enterprise screen's, Users', Audit's… own keys
            return
        self.push_screen(HelpScreen(self.effective_keys_now(), read_only=self.config.read_only))

    def action_next_theme(self) -> None:
        names = self.theme_names
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]

    # -- the host console's actions (their keys are the app's: one table, one footer) -------

    async def action_show_view(self, view: str, focus: bool = True) -> None:
        await self.host.show_view(view, focus)

    async def action_show_advanced(self, tab: str) -> None:
        await self.host.show_advanced(tab)

    def action_toggle_mode(self) -> None:
        self.host.toggle_mode()

    def action_refresh_server(self) -> None:
        self.host.refresh_server()

    def action_command_line(self) -> None:
        self.host.open_line(":")

    def action_filter_list(self) -> None:
        self.host.open_line("/")

    def action_staged_diff(self) -> None:
        self.host.run_flow("editor", flows.show_staged_diff, self.host)

    def action_activate_policy(self) -> None:
        self.host.run_flow("editor", flows.activate_policy, self.host)

    def action_discard_staged(self) -> None:
        self.host.run_flow("editor", discard_staged, self.host)

    def action_rollback_policy(self) -> None:
        self.host.run_flow("editor", flows.rollback_policy, self.host)

    def action_export_policy(self, template: bool) -> None:
        self.host.run_flow("editor", flows.export_policy, self.host, template)

    def action_import_template(self) -> None:
        self.host.run_flow("editor", flows.import_template, self.host)

    def action_timeline(self) -> None:
        """`T`: the current server's incident timeline (scrub, replay, export)."""
        self.host.run_flow("show", self._show_timeline)

    async def _show_timeline(self) -> None:
        from xenon_tui.screens._timeline import TimelineScreen  # built when first asked

        made = await flows.incident_timeline(self.host)
        if made is not None:
            timeline, meta = made
            await self.push_screen(TimelineScreen(timeline, meta, Path.cwd() / "xenon-reports"))

    def action_incident(self) -> None:
        """`I`: the guided incident (runbook) of the selected violation's or domain's VM."""
        from xenon_tui.widgets import DomainsTable, ViolationLog

        focused = self.focused
        violation: dict[str, Any] | None = None
        domain = ""
        if isinstance(focused, ViolationLog) and (row := focused.selected()) is not None:
            violation, domain = dict(row), str(row.get("domain") or "")
        elif isinstance(focused, DomainsTable) and (d := focused.selected()) is not None:
            domain = str(d.get("name") or "")
        if not domain:
            self.notify(
                "Select a violation (5) or a domain (4) first.",
                title="Guided incident",
                severity="warning",
            )
            return
        self.host.run_flow("show", flows.open_runbook, self.host, domain, violation, self._runbook)

    def action_incidents(self) -> None:
        """`:incidents`: the current server's incidents, searchable and reopenable."""
        from xenon_tui.screens._runbook import IncidentsScreen  # built when first asked

        address = flows.connected_address(self.host)
        if address is not None:
            self.push_screen(IncidentsScreen(self.host, address))

    def _runbook(self, book: flows.Runbook) -> None:
        from xenon_tui.screens._runbook import RunbookScreen  # built when first asked

        self.push_screen(RunbookScreen(self.host, book))

    def action_guest_templates(self) -> None:
        self.host.run_flow("show", flows.show_guest_templates, self.host)


def tune_gc() -> None:
    """Garbage-collector settings for a console process (called once at start).

    At 10,000 violations/s the default thresholds run a collection every few
    milliseconds and full collections walk the whole violation window, which shows up as
    key-latency spikes; freezing the start-up heap (Textual, lxml, the policy model) and
    collecting young objects less often keeps the p99 down.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def run_console(config: ConsoleConfig) -> int:
    """Runs the console in the current terminal (stdin/stdout) and returns its exit status."""
    tune_gc()
    app = XenonConsole(config)
    result = app.run()
    return int(result or 0) if app.return_code in (None, 0) else int(app.return_code or 1)


__all__ = ["ACTIONS", "XenonConsole", "run_console", "tune_gc"]
