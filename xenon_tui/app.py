"""The Xenon console app: servers, Policy Editor / Live modes, violations and performance."""

from __future__ import annotations

import contextlib
import gc
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea

from themes import CONSOLE_TCSS, THEMES, VARIABLE_DEFAULTS
from xenon_tui._actions import (
    ACTIONS,
    Action,
    Mode,
    action_by_id,
    action_for,
    allowed,
    bindings,
    command_names,
    effective_keys,
    typed_action_names,
    unknown_ids,
)
from xenon_tui._config import ConsoleConfig, ServerEntry, save_config
from xenon_tui._connection import ClientFactory, LinkState, ServerConnection, xps_client_factory
from xenon_tui._errors import ConfigError, ConsoleError, ReadOnlyError
from xenon_tui._palette import ActionProvider
from xenon_tui._policy_data import policy_of
from xenon_tui._state import ServerState
from xenon_tui._workflows import WorkflowsMixin
from xenon_tui.dialogs import HelpScreen, InputDialog
from xenon_tui.dialogs._help import key_display
from xenon_tui.messages import LinkChanged, ServerData, ServerEvent
from xenon_tui.widgets import DomainsTable, ModeBand, ServersPanel, ViolationLog
from xenon_tui.widgets._advanced import AdvancedView
from xenon_tui.widgets._keyline import KeyLine
from xenon_tui.widgets._perf import PerfView
from xenon_tui.widgets._policy_view import PolicyView
from xenon_tui.widgets._titleline import TitleLine
from xenon_tui.widgets._viewtabs import ViewPane, ViewTabs
from xenon_tui.widgets._violation_log import header_text

VIEWS = ("servers", "policy", "advanced", "domains", "violations", "perf")
_VIEW_WIDGETS = {
    "domains": "#domains-table",
    "violations": "#violation-log",
    "policy": "#policy-view",
    "advanced": "#advanced-view",
    "perf": "#perf-view",
}
# Actions of the priority app keys; see check_action.
_TYPED_ACTIONS = typed_action_names()
_LAZY_VIEWS: dict[str, Any] = {
    "policy": lambda: PolicyView(id="policy-view"),
    "advanced": lambda: AdvancedView(id="advanced-view"),
    "perf": lambda: PerfView(id="perf-view"),
    "domains": lambda: DomainsTable(id="domains-table"),
}
# View id -> (title, short title for narrow terminals).
_TAB_TITLES = {
    "policy": ("Policy", "Pol"),
    "advanced": ("Advanced", "Adv"),
    "domains": ("Domains", "Dom"),
    "violations": ("Violations", "Viol"),
    "perf": ("Performance", "Perf"),
}


def _view_pane(view: str) -> ViewPane:
    title, short = _TAB_TITLES[view]
    return ViewPane(title, id=view, short=short)


class XenonConsole(WorkflowsMixin, App[int]):
    """The console. Needs only stdin/stdout: one instance per terminal or SSH session.

    Args:
        config: Servers, TLS material, read-only flag, theme and keymap.
        client_factory: Builds the XPS client per server (tests may inject another one).
    """

    TITLE = "Xenon Console"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    CSS_PATH = str(CONSOLE_TCSS)
    COMMANDS: ClassVar[set[Any]] = {ActionProvider}
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [*bindings("app")]

    _running_command = False  # set while a palette or `:` command runs an app action

    def __init__(
        self, config: ConsoleConfig, *, client_factory: ClientFactory = xps_client_factory
    ) -> None:
        super().__init__()
        self.config = config
        self._client_factory = client_factory
        self.servers: dict[str, ServerState] = {e.address: ServerState(e) for e in config.servers}
        self.current: str | None = next(iter(self.servers), None)
        self._line_mode = ":"
        self._alert_pending = False
        for theme in THEMES:
            self.register_theme(theme)
        self.theme_names = tuple(t.name for t in THEMES)
        self.theme = config.theme if config.theme in self.available_themes else THEMES[0].name
        self.effective_keys = effective_keys(config.keymap)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # The console's own variables ($status-ok…), for Textual's built-in themes too.
        return dict(VARIABLE_DEFAULTS)

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleLine(icon="⛨", id="title")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield ServersPanel(id="servers")
                yield Static("", id="server-info")
            with ViewTabs(id="views", initial="violations", keys=self._tab_keys()):
                # Heavy views are mounted the first time they are shown (fast first frame).
                yield _view_pane("policy")
                yield _view_pane("advanced")
                yield _view_pane("domains")
                with _view_pane("violations"):
                    yield Static(header_text(), id="violations-header")
                    yield ViolationLog(id="violation-log")
                yield _view_pane("perf")
        yield ModeBand(id="band")
        yield Input(id="command-line", placeholder=":command  (Esc cancels, ? for help)")
        yield KeyLine(id="keys")

    def _tab_keys(self) -> dict[str, str]:
        """View id -> the key that shows it, as drawn in the tab line."""
        keys = self.effective_keys_now()
        shown = {view: keys.get(f"view.{view}", "").split(",")[0] for view in _TAB_TITLES}
        return {view: key_display(key) for view, key in shown.items() if key.strip()}

    def on_mount(self) -> None:
        bad = unknown_ids(self.config.keymap)
        if bad:
            self.notify(
                f"unknown action ids in keymap: {', '.join(bad)}",
                title="Keymap",
                severity="warning",
            )
        self.set_keymap({k: v for k, v in self.config.keymap.items() if k not in bad})
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        panel = self.query_one(ServersPanel)
        for state in self.servers.values():
            panel.set_server(state.address, state.link, state.entry.color)
        self.query_one(ModeBand).read_only = self.config.read_only
        self._sync_current()
        panel.focus()
        if self.config.autoconnect:
            for address in self.servers:
                self.connect_server(address)

    async def on_unmount(self) -> None:
        # Stop the links first so no event is delivered to widgets being torn down.
        for state in self.servers.values():
            if state.conn is not None:
                await state.conn.stop()

    # -- permissions (read-only console, Editor vs Live) ------------------------------------

    @property
    def mode(self) -> Mode | None:
        """Mode of the current server (None when there is none or it is not connected)."""
        state = self.current_state
        if state is None or state.link is not LinkState.CONNECTED:
            return None
        return state.mode

    @property
    def current_state(self) -> ServerState | None:
        """State of the current server."""
        return self.servers.get(self.current) if self.current else None

    def action_permitted(self, action: Action) -> bool:
        """Whether an action of the table may run now."""
        mode = self.mode
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
        if (
            action in _TYPED_ACTIONS
            and not self._running_command
            and (isinstance(self.focused, Input | TextArea) or isinstance(self.screen, ModalScreen))
        ):
            # Priority keys such as "4", "m" or ":" are text in a field, and a dialog's own.
            return False
        return self.permitted("app", action, parameters)

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
        if entry.scope == "app":
            self._running_command = True  # a palette or `:` command, not a typed key
            try:
                await self.run_action(entry.action)
            finally:
                self._running_command = False
            return
        if entry.scope in _VIEW_WIDGETS:
            await self.action_show_view(entry.scope)
        widget = "#servers" if entry.scope == "servers" else _VIEW_WIDGETS[entry.scope]
        if entry.scope == "advanced":
            widget = f"#adv-{self.query_one(AdvancedView).active_tab}"
        await self.run_action(entry.action, self.query_one(widget))

    # -- errors ----------------------------------------------------------------------------

    def show_error(self, exc: BaseException) -> None:
        """Shows an error as a titled notification (never a traceback)."""
        if isinstance(exc, ConsoleError):
            self.notify(exc.message, title=exc.title, severity="error", timeout=8)
        else:
            self.notify(str(exc) or type(exc).__name__, title="Error", severity="error", timeout=8)

    # -- servers ---------------------------------------------------------------------------

    def connect_server(self, address: str) -> None:
        """Starts (or restarts) the connection worker of a server."""
        state = self.servers[address]
        if state.conn is not None:
            return

        def on_state(link: LinkState, detail: str) -> None:
            self.post_message(LinkChanged(address, link, detail))

        def on_event(event: dict[str, Any]) -> None:
            self.post_message(ServerEvent(address, event))

        conn = ServerConnection(
            state.entry,
            self.config.tls,
            read_only=self.config.read_only,
            on_state=on_state,
            on_event=on_event,
            factory=self._client_factory,
            on_connected=lambda: self.fetch_all(address),
        )
        state.conn = conn
        self.run_worker(
            conn.run(),
            group=f"conn:{address}",
            exclusive=True,
            name=f"connection {address}",
            exit_on_error=False,
        )

    async def disconnect_server(self, address: str) -> None:
        """Stops a server's connection worker."""
        state = self.servers[address]
        conn, state.conn = state.conn, None
        if conn is not None:
            await conn.stop()
        state.link = LinkState.DISCONNECTED
        self.query_one(ServersPanel).set_server(address, state.link, state.entry.color)
        self._sync_current()

    async def call(self, address: str | None, method: str, **params: Any) -> dict[str, Any]:
        """Calls a daemon method on a server (raises ConsoleError subclasses)."""
        if address is None or address not in self.servers:
            raise ConfigError("no server selected")
        state = self.servers[address]
        if state.conn is None:
            from xenon_tui._errors import NotConnectedError

            raise NotConnectedError(address, f"{address} is not connected")
        return await state.conn.call(method, **params)

    async def fetch_all(self, address: str) -> None:
        """Fetches everything a freshly connected server shows (in its worker)."""
        data: dict[str, Any] = {}
        try:
            data["info"] = await self.call(address, "GetHypervisorInfo")
            runs = await self.call(address, "GetDomainRunStates")
            data["domains"], data["xl_list"] = runs.get("domains", []), runs.get("xl_list", "")
            viol = await self.call(address, "GetViolations", since_seq=0, limit=10_000)
            data["violations"] = viol.get("violations", [])
            data["policy"] = await self.call(address, "GetPolicy", which="active")
            with contextlib.suppress(ConsoleError):
                data["staged"] = await self.call(address, "GetPolicy", which="staged")
            with contextlib.suppress(ConsoleError):
                data["stats"] = await self.call(address, "GetStats")
        except ConsoleError as exc:
            self.show_error(exc)
        self.post_message(ServerData(address, data))

    @work(group="refresh", exclusive=True, exit_on_error=False)
    async def refresh_domains(self, address: str) -> None:
        """Re-reads the domain list of a server."""
        try:
            runs = await self.call(address, "GetDomainRunStates")
        except ConsoleError as exc:
            self.show_error(exc)
            return
        self.post_message(
            ServerData(
                address, {"domains": runs.get("domains", []), "xl_list": runs.get("xl_list", "")}
            )
        )

    @work(group="refresh-policy", exclusive=True, exit_on_error=False)
    async def refresh_policy(self, address: str) -> None:
        """Re-reads the active and staged policy of a server."""
        data: dict[str, Any] = {}
        try:
            data["policy"] = await self.call(address, "GetPolicy", which="active")
            try:
                data["staged"] = await self.call(address, "GetPolicy", which="staged")
            except ConsoleError as exc:
                if exc.code != "not_found":
                    raise
                data["staged"] = None  # nothing staged (e.g. right after an activation)
            data["info"] = await self.call(address, "GetHypervisorInfo")
        except ConsoleError as exc:
            self.show_error(exc)
        self.post_message(ServerData(address, data))

    def on_link_changed(self, message: LinkChanged) -> None:
        try:
            self._handle_link_changed(message)
        except NoMatches:  # raced the app's shutdown
            return

    def _handle_link_changed(self, message: LinkChanged) -> None:
        state = self.servers.get(message.address)
        if state is None:
            return
        state.link, state.detail = message.state, message.detail
        self.query_one(ServersPanel).set_server(
            state.address, state.link, state.entry.color, state.match
        )
        if message.state is LinkState.LOST and message.detail:
            self.notify(
                message.detail,
                title=f"Server {message.address}: connection lost",
                severity="warning",
            )
        if message.address == self.current:
            self._sync_current()
        self.refresh_bindings()

    def on_server_data(self, message: ServerData) -> None:
        try:
            self._handle_server_data(message)
        except NoMatches:  # raced the app's shutdown
            return

    def _handle_server_data(self, message: ServerData) -> None:
        state = self.servers.get(message.address)
        if state is None:
            return
        data = message.data
        for key in ("info", "domains", "xl_list", "policy", "staged", "stats"):
            if key in data:
                setattr(state, key, data[key])
        if "info" in data:
            hostname = state.info.get("hostname")
            self.query_one(ServersPanel).set_name(
                state.address, hostname if isinstance(hostname, str) else None
            )
        if "violations" in data:
            self._add_violations(state, list(data["violations"]), alert=False)
        if message.address == self.current:
            self._sync_current()

    def on_server_event(self, message: ServerEvent) -> None:
        try:
            self._server_event(message)
        except NoMatches:  # an event that raced the app's shutdown
            return

    def _server_event(self, message: ServerEvent) -> None:
        state = self.servers.get(message.address)
        if state is None:
            return
        kind, data = message.event.get("event"), message.event.get("data") or {}
        if kind == "violations":
            self._add_violations(state, list(data.get("violations", [])), alert=True)
        elif kind == "stats":
            state.stats = data
            state.stats_log.append(data)
            del state.stats_log[:-400]
            if message.address == self.current:
                for perf in self.query(PerfView):
                    perf.show_stats(data, state.stats_log)
        elif kind == "domain":
            self.refresh_domains(message.address)
        elif kind == "policy":
            self.refresh_policy(message.address)

    def _add_violations(
        self, state: ServerState, rows: list[dict[str, Any]], *, alert: bool
    ) -> None:
        fresh = state.take_violations(rows)
        if not fresh:
            return
        is_current = state.address == self.current
        if is_current:
            self.query_one(ViolationLog).add_violations(fresh)
        else:
            state.violations.extend(fresh)
        # Acknowledged implicitly only while the user is actually in the log.
        viewing = is_current and self.focused is self.query_one(ViolationLog)
        if alert and not viewing:
            state.alert += len(fresh)
            if is_current and not self._alert_pending:
                # At most one band/tab relabel per 0.2 s however fast violations arrive.
                self._alert_pending = True
                self.set_timer(0.2, self._flush_alert)

    def _flush_alert(self) -> None:
        self._alert_pending = False
        self._sync_alert()

    def _sync_alert(self) -> None:
        state = self.current_state
        count = state.alert if state else 0
        self.query_one(ModeBand).alert = count
        self.query_one(ViewTabs).set_badge("violations", f"⚠ {count}" if count else "")

    def _sync_current(self) -> None:
        state = self.current_state
        band = self.query_one(ModeBand)
        hostname = state.info.get("hostname") if state is not None else None
        where = f"{hostname} ({self.current})" if isinstance(hostname, str) else self.current
        band.server = where
        band.mode = self.mode
        self.sub_title = (
            f"{where} — {'Policy Editor' if self.mode is Mode.EDITOR else 'Live'}"
            if self.mode is not None
            else (self.current or "")
        )
        info = self.query_one("#server-info", Static)
        log = self.query_one(ViolationLog)
        if state is None:
            info.update("No servers. Press a to add one.")
            log.use_window(None)
            return
        info.update(self._info_text(state))
        log.use_window(state.violations)
        self._sync_views(state)
        self._sync_alert()
        self.refresh_bindings()

    @staticmethod
    def _domain_rows(state: ServerState) -> list[dict[str, Any]]:
        """Running domains plus the policy's domains that are not running (startable)."""
        rows = list(state.domains)
        names = {d.get("name") for d in rows}
        try:
            policy = policy_of(state.policy)
        except ConsoleError:
            policy = None
        for dom in policy.domains if policy is not None else ():
            if dom.name not in names:
                label = policy.seclabel(dom.seclabel).name if dom.seclabel else ""  # type: ignore[union-attr]
                rows.append(
                    {
                        "domid": "",
                        "name": dom.name,
                        "state": "",
                        "run_state": "shutdown",
                        "mem_mb": dom.memory_mb,
                        "vcpus": dom.vcpus,
                        "cpu_s": 0,
                        "seclabel_name": label,
                        "tag_name": "",
                        "violations": 0,
                    }
                )
        return rows

    def _sync_views(self, state: ServerState) -> None:
        editor = state.mode is Mode.EDITOR
        for policy_view in self.query(PolicyView):
            policy_view.show_policy(state, editor=editor)
        for advanced in self.query(AdvancedView):
            advanced.show_policy(state, editor=editor)
        for perf in self.query(PerfView):
            perf.show_server(state)
        for table in self.query(DomainsTable):
            table.set_domains(self._domain_rows(state))

    async def _ensure_view(self, view: str) -> None:
        """Mounts a lazily built view the first time its tab is shown."""
        factory = _LAZY_VIEWS.get(view)
        pane = self.query_one(f"#{view}", ViewPane)
        if factory is None or pane.children:
            return
        await pane.mount(factory())
        state = self.current_state
        if state is not None:
            self._sync_views(state)

    @on(ViewTabs.TabActivated, "#views")
    async def _tab_clicked(self, event: ViewTabs.TabActivated) -> None:
        await self.action_show_view(event.pane_id)  # as its key would: build, focus, ack

    @staticmethod
    def _info_text(state: ServerState) -> str:
        info = state.info
        lines = [
            f"Server address: {state.entry.host}",
            f"Port: {state.entry.port}",
            f"Status: {state.link.value}" + (f" ({state.detail})" if state.detail else ""),
        ]
        if info:
            lines += [
                f"Xenon version: {info.get('xen_version', '?')}",
                f"MSM status: {info.get('msm_status', '?')} "
                f"(version {info.get('msm_version', '?')})",
                f"Backend: {info.get('backend', '?')}",
                f"Policy: {info.get('policy_name', '?')} gen {info.get('policy_generation')}",
                f"Policy ID: {str(info.get('policy_id', ''))[:18]}",
                f"CPUs {info.get('cpus', '?')}  mem {int(info.get('mem_kb') or 0) // 1024} MiB",
            ]
        return "\n".join(lines)

    @on(ServersPanel.Current)
    def _server_highlighted(self, message: ServersPanel.Current) -> None:
        if message.address != self.current:
            self.current = message.address
            self._sync_current()

    # -- app actions -----------------------------------------------------------------------

    async def action_show_view(self, view: str, focus: bool = True) -> None:
        if view == "servers":
            self.query_one(ServersPanel).focus()
            return
        self.query_one(ViewTabs).active = view
        await self._ensure_view(view)
        if focus:
            self.call_after_refresh(self._focus_view, view)
        if view == "violations":
            state = self.current_state
            if state is not None:
                state.alert = 0
                self._sync_alert()

    def _focus_view(self, view: str) -> None:
        """Focuses a view's widget if the view is still the one shown.

        A late focus of a view the user (or a `:` command) has since left would make
        Textual switch the tabs back to it.
        """
        if self.query_one(ViewTabs).active != view:
            return
        if self.query_one("#command-line", Input).has_class("-open"):
            return  # the user is typing a command: the keys must stay in the line
        try:
            widget = self.query_one(_VIEW_WIDGETS[view])
        except NoMatches:
            return
        target = getattr(widget, "focus_target", None)  # views that hand focus inward
        if callable(target):
            widget = target()
        # At once (Widget.focus would defer it past keys that may open the command line),
        # on the view's own screen: a dialog may be on top by now.
        widget.screen.set_focus(widget)

    async def action_show_advanced(self, tab: str) -> None:
        # One focus request only: a second one for the view could land on the previous
        # sub-tab's list after the switch and leave nothing focused.
        await self.action_show_view("advanced", focus=False)
        self.query_one(AdvancedView).show_tab(tab)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.effective_keys_now(), read_only=self.config.read_only))

    def effective_keys_now(self) -> dict[str, str]:
        """Action id -> keys, including keymap overrides."""
        return effective_keys(self.config.keymap)

    def action_toggle_mode(self) -> None:
        state = self.current_state
        if state is None:
            return
        if self.config.read_only:
            self.show_error(ReadOnlyError("A read-only console has Live mode only."))
            return
        state.mode = Mode.LIVE if state.mode is Mode.EDITOR else Mode.EDITOR
        self._sync_current()

    def action_next_theme(self) -> None:
        names = self.theme_names
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]

    def _remember_theme(self, theme: Any) -> None:
        from dataclasses import replace

        self.config = replace(self.config, theme=self.theme)
        self._save()

    def _save(self) -> None:
        try:
            save_config(self.config.with_servers(tuple(s.entry for s in self.servers.values())))
        except OSError as exc:
            self.show_error(ConfigError(f"cannot save settings: {exc.strerror}"))

    def action_refresh_server(self) -> None:
        if self.current and self.current_state and self.current_state.conn:
            self.run_worker(self.fetch_all(self.current), group="fetch", exclusive=True)

    # -- command line (`:` commands and `/` filters) ----------------------------------------

    def action_command_line(self) -> None:
        self._open_line(":")

    def action_filter_list(self) -> None:
        self._open_line("/")

    def _open_line(self, mode: str) -> None:
        line = self.query_one("#command-line", Input)
        self._line_mode = mode
        line.placeholder = (
            ":command  (Esc cancels)"
            if mode == ":"
            else "/filter the list  (Enter applies, empty clears)"
        )
        line.value = ""
        line.add_class("-open")
        # Focus now, not after a refresh (Widget.focus defers it): the keys typed right
        # after ":" are already queued behind this one and must reach the line, not the
        # view under it.
        self.screen.set_focus(line)

    def _close_line(self) -> None:
        line = self.query_one("#command-line", Input)
        # Drop focus before hiding, so Textual does not pick a replacement later and
        # override the view focus the command asks for.
        self.set_focus(None)
        line.remove_class("-open")
        line.value = ""

    def on_key(self, event: Any) -> None:
        line = self.query_one("#command-line", Input)
        if event.key == "escape" and line.has_class("-open"):
            event.stop()
            self._close_line()
            self.call_later(self.action_show_view, self.query_one(ViewTabs).active or "violations")

    @on(Input.Changed, "#command-line")
    def _line_changed(self, event: Input.Changed) -> None:
        if self._line_mode == "/" and event.input.has_class("-open"):
            self._apply_filter(event.value)

    @on(Input.Submitted, "#command-line")
    def _line_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        mode = self._line_mode
        self._close_line()
        view = self.query_one(ViewTabs).active or "violations"
        self.call_later(self.action_show_view, view)
        if mode == "/":
            self._apply_filter(text)
        else:
            self.run_command(text)

    def _apply_filter(self, text: str) -> None:
        view = self.query_one(ViewTabs).active
        if view == "violations":
            self.query_one(ViolationLog).set_filter(text)
        elif view == "domains":
            for table in self.query(DomainsTable):
                table.set_filter(text)
        elif view == "advanced":
            for advanced in self.query(AdvancedView):
                advanced.set_filter(text)
        elif view == "policy":
            for policy_view in self.query(PolicyView):
                policy_view.set_filter(text)
        elif view == "perf":
            for perf in self.query(PerfView):
                perf.set_domain_filter(text)

    def run_command(self, text: str) -> None:
        """Runs one `:` command line (``servers``, ``theme light``, ``connect h:p``…)."""
        text = text.lstrip(":").strip()
        if not text:
            return
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        if name == "theme" and arg:
            wanted = arg if arg in self.available_themes else f"xenon-{arg}"
            if wanted not in self.available_themes:
                self.show_error(ConfigError(f"unknown theme {arg!r}"))
                return
            self.theme = wanted
            return
        if name in {"connect", "add"} and arg:
            self.add_server(arg)
            return
        if name == "filter":
            self._apply_filter(arg)
            return
        action = command_names().get(name)
        if action is None:
            self.show_error(ConfigError(f"unknown command :{name} — press ? for the list"))
            return
        self.run_action_id(action.id)

    # -- servers panel commands ------------------------------------------------------------

    def _add_typed_server(self, value: str | None) -> None:
        if value:
            self.add_server(value)

    def add_server(self, text: str) -> ServerEntry | None:
        """Adds a server typed as ``host[:port[/ro_port]]``, remembers it and connects."""
        try:
            entry = ServerEntry.parse(text)
        except ConfigError as exc:
            self.show_error(exc)
            return None
        if entry.address in self.servers:
            self.notify(f"{entry.address} is already in the list", title="Servers")
            return self.servers[entry.address].entry
        self.servers[entry.address] = ServerState(entry)
        self.query_one(ServersPanel).set_server(entry.address, LinkState.DISCONNECTED)
        self._save()
        self.connect_server(entry.address)
        return entry

    @on(ServersPanel.Command)
    async def _servers_command(self, message: ServersPanel.Command) -> None:
        address = message.address
        if message.action == "add":
            self.push_screen(
                InputDialog(
                    "Add a server",
                    "Server address (optionally followed by ':' and "
                    "port number, and '/read-only port')",
                    validate=_address_problem,
                ),
                self._add_typed_server,
            )
            return
        if address is None:
            return
        if message.action == "connect":
            self.connect_server(address)
        elif message.action == "disconnect":
            await self.disconnect_server(address)
        elif message.action == "toggle":
            if self.servers[address].conn is None:
                self.connect_server(address)
            else:
                await self.action_show_view("violations")
        elif message.action == "remove":
            await self.disconnect_server(address)
            del self.servers[address]
            self.query_one(ServersPanel).remove_server(address)
            self.current = self.query_one(ServersPanel).current
            self._save()
            self._sync_current()
        else:
            self.server_workflow(message.action, address)

    def set_server_color(self, address: str, color: str | None) -> None:
        """Assigns (or clears) a server's colour and remembers it."""
        from dataclasses import replace

        state = self.servers[address]
        try:
            state.entry = replace(state.entry, color=color or None)
        except ConfigError as exc:
            self.show_error(exc)
            return
        self.query_one(ServersPanel).set_server(address, state.link, state.entry.color, state.match)
        self._save()

    @on(AdvancedView.Edit)
    def _advanced_edit(self, message: AdvancedView.Edit) -> None:
        from xenon_tui._editing import run_edit
        from xenon_tui._profile_flow import export_profile_flow, import_profiles_flow

        flows = {"import": import_profiles_flow, "export": export_profile_flow}
        flow = flows.get(message.op)
        self.run_worker(
            flow(self) if flow else run_edit(self, message.tab, message.op, message.key),
            group="edit",
            exclusive=True,
            exit_on_error=False,
        )


def _address_problem(value: str) -> str | None:
    try:
        ServerEntry.parse(value)
    except ConfigError as exc:
        return exc.message
    return None


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
