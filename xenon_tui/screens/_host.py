"""The host console: XPS servers, their state and links, and the views of the current one."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from xenon_tui import flows
from xenon_tui._acks import Acks, ack_text
from xenon_tui._actions import Action, Mode, command_names, effective_keys
from xenon_tui._config import ConsoleConfig, ServerEntry, save_config
from xenon_tui._connection import (
    STALE_AFTER_BEATS,
    ClientFactory,
    LinkState,
    xps_client_factory,
)
from xenon_tui._errors import ConfigError, ConsoleError, ReadOnlyError
from xenon_tui._state import ServerState, find_server
from xenon_tui._work import run_flow
from xenon_tui.dialogs import ConfirmDialog, InputDialog
from xenon_tui.dialogs._help import key_display
from xenon_tui.flows._policy import STAGED_HINT, staged_summary
from xenon_tui.messages import (
    ActionWanted,
    ClearFilter,
    Failed,
    LinkChanged,
    RefreshWanted,
    ServerData,
    ServerEvent,
)
from xenon_tui.screens._commands import Command, parse_command
from xenon_tui.screens._fleet import Fleet
from xenon_tui.screens._views import (
    LAZY_VIEWS,
    TAB_TITLES,
    VIEW_WIDGETS,
    domain_rows,
    info_text,
    view_pane,
)
from xenon_tui.widgets import (
    AdvancedView,
    DomainsTable,
    ModeBand,
    NoticeStrip,
    PerfView,
    PolicyView,
    ServersPanel,
    ViolationLog,
)
from xenon_tui.widgets._fleetviolations import FleetHost, FleetViolations, HostCounts
from xenon_tui.widgets._keyline import KeyLine
from xenon_tui.widgets._policy_view import staged_changes
from xenon_tui.widgets._titleline import TitleLine
from xenon_tui.widgets._viewtabs import ViewPane, ViewTabs
from xenon_tui.widgets._violation_log import header_text

if TYPE_CHECKING:
    from textual.worker import Worker

T = TypeVar("T")
P = ParamSpec("P")


TICK_S = 1.0
"""The screen's one clock: each tick re-words each server's "last update N s ago" (drawn
only on change) and redraws the shown fleet view from the counts; every
``DOMAINS_REFRESH_TICKS``-th polls the shown Domains view. One timer, not one per job:
each wakes the whole app."""

DOMAINS_REFRESH_TICKS = 10

DOMAINS_REFRESH_S = TICK_S * DOMAINS_REFRESH_TICKS
"""How often the shown Domains view re-reads its server's domains anyway. What it shows
comes pushed: a domain event is read at once, each statistics sample brings the CPU
seconds and each violation its domain's count; the read catches what nobody pushes (a
real host's xl state letters). Rows that did not change are not redrawn."""


class HostConsole(Screen[None]):
    """Servers panel, the views of the current server, mode band, command line and keys.

    It owns the servers (a :class:`Fleet`: per-server state, links, calls), draws the
    views from that state, and runs the flows (it is their
    :class:`~xenon_tui.flows.Console`). The app composes it as its first screen.

    Args:
        config: Servers, TLS material, read-only flag, keymap and where settings live.
        client_factory: Builds the XPS client per server (tests may inject another one).
    """

    def __init__(
        self, config: ConsoleConfig, *, client_factory: ClientFactory = xps_client_factory
    ) -> None:
        super().__init__()
        self.config = config
        self.fleet = Fleet(self, config, client_factory)
        self._servers = self.fleet.servers
        self.current: str | None = next(iter(self._servers), None)
        self._line_mode = ":"
        self._alert_pending = False
        self._alerted_at = -1e9
        self._status_pending = False
        # View id -> the filter its widget shows now (each server keeps its own).
        self._shown_filters: dict[str, str] = {}
        # Each server's violation acknowledgements, as its host keeps them.
        self.acks: dict[str, Acks] = {}
        # Each server's violations by domain and hypercall (the fleet view).
        self.counts: dict[str, HostCounts] = {}
        # (address, domain) -> when this console last asked for a change of that domain:
        # its events are not announced as changes made elsewhere (see _domain_changed).
        self._asked: dict[tuple[str, str], float] = {}
        # Host -> notices of changes made elsewhere not shown yet, and when the last ones
        # were shown: every host's are shown together at most once per NOTICE_WINDOW_S
        # (one notice per host, the rest summed into it).
        self._notices: dict[str, list[str]] = {}
        self._noticed_at = -1e9
        self._notice_due = False
        self._ticks = 0
        # Pushed data reaches the views at most once per APPLY_S, at this session's own
        # phase in it: every console of a host gets its events at the same instant, and
        # 200 of them drawing together made bursts of 2.3 cores (issue #16 §1).
        # The phase is a fraction of the session's apply period (``display_period``).
        self.apply_phase = random.random()
        self._apply_due = False
        self._apply_at = 0.0  # when the timed apply comes
        self._applied_at = -1e9  # when the last one came
        self._apply_timer: Timer | None = None
        self._apply_views: set[str] = set()
        # When the user last pressed a key here: sample-driven metrics are drawn at the
        # session's refresh cadence, more often for a while after a key (display_period).
        self._key_at = -1e9

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleLine(icon="⛨", id="title")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield ServersPanel(id="servers")
                yield Static("", id="server-info")
            with ViewTabs(id="views", initial="violations", keys=self._tab_keys()):
                # Heavy views are mounted the first time they are shown (fast first frame).
                yield view_pane("policy")
                yield view_pane("advanced")
                yield view_pane("domains")
                with view_pane("violations"):
                    yield Static(header_text(), id="violations-header")
                    yield ViolationLog(id="violation-log")
                yield view_pane("perf")
                yield view_pane("fleet")
        yield NoticeStrip(id="notices")
        yield ModeBand(id="band")
        yield Input(id="command-line", placeholder=":command  (Esc cancels, ? for help)")
        yield KeyLine(id="keys")

    def _tab_keys(self) -> dict[str, str]:
        """View id -> the key that shows it, as drawn in the tab line."""
        keys = effective_keys(self.config.keymap)
        shown = {view: keys.get(f"view.{view}", "").split(",")[0] for view in TAB_TITLES}
        return {view: key_display(key) for view, key in shown.items() if key.strip()}

    def on_mount(self) -> None:
        panel = self.query_one(ServersPanel)
        for state in self._servers.values():
            panel.set_server(state.address, state.link, state.entry.color)
        self.query_one(ModeBand).read_only = self.config.read_only
        self._sync_current()
        panel.focus()
        self.set_interval(TICK_S, self._tick)
        if self.config.autoconnect:
            for address in self._servers:
                self.connect_server(address)

    # -- state (also what flows see: flows.Console) ------------------------------------------

    @property
    def read_only(self) -> bool:
        """The console is read-only (read-only sockets, no mutating action)."""
        return self.config.read_only

    @property
    def servers(self) -> Mapping[str, ServerState]:
        """Every server by address, in the panel's order."""
        return self._servers

    @property
    def user(self) -> str:
        """Who uses this console: the SSH user (``console_user``, set by the SSH
        console) or the OS user."""
        return flows.console_user(self.app)

    @property
    def current_state(self) -> ServerState | None:
        """State of the current (highlighted) server."""
        return self._servers.get(self.current) if self.current else None

    @property
    def mode(self) -> Mode | None:
        """Mode of the current server (None when there is none or it is not connected)."""
        state = self.current_state
        if state is None or not state.link.up:
            return None
        return state.mode

    async def ask(self, dialog: ModalScreen[T]) -> T:
        """Shows a dialog and waits for its value (only from a worker)."""
        return await self.app.push_screen_wait(dialog)

    def show(self, dialog: ModalScreen[Any]) -> None:
        """Shows a dialog without waiting for it."""
        self.app.push_screen(dialog)

    def set_mode(self, mode: Mode) -> None:
        """Switches the current server to Editor or Live mode."""
        state = self.current_state
        if state is not None and state.mode is not mode:
            state.mode = mode
            self._sync_current()

    def mark_server(self, address: str, match: str | None) -> None:
        """Marks a server's line ``=`` / ``≠`` after a compare (None clears the mark)."""
        state = self._servers.get(address)
        if state is not None:
            state.match = match
            self.query_one(ServersPanel).set_server(address, state.link, state.entry.color, match)

    async def show_advanced(self, tab: str) -> AdvancedView:
        """Shows an Advanced sub-tab and focuses its list; returns the Advanced view."""
        # One focus request only: a second one for the view could land on the previous
        # sub-tab's list after the switch and leave nothing focused.
        await self.show_view("advanced", focus=False)
        advanced = self.query_one(AdvancedView)
        advanced.show_tab(tab)
        return advanced

    def run_flow(
        self,
        group: str,
        flow: Callable[P, Coroutine[Any, Any, Any]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Worker[Any]:
        """Runs a flow in a worker of the app (which shows the error it may end with)."""
        return run_flow(self, group, flow, *args, **kwargs)

    # -- servers ---------------------------------------------------------------------------

    def connect_server(self, address: str) -> None:
        """Starts (or restarts) the connection worker of a server."""
        self.fleet.connect(address)

    async def disconnect_server(self, address: str) -> None:
        """Stops a server's connection worker."""
        await self.fleet.disconnect(address)
        state = self._servers[address]
        self.query_one(ServersPanel).set_server(address, state.link, state.entry.color)
        self._sync_current()

    async def call(self, address: str | None, method: str, **params: Any) -> dict[str, Any]:
        """Calls a daemon method on a server (raises ConsoleError subclasses)."""
        if address is not None and "user" in params:  # a change this console asks for
            target = params.get("domain", params.get("name"))
            self._asked[(address, str(target))] = time.monotonic()
        return await self.fleet.call(address, method, **params)

    def acks_of(self, address: str) -> Acks:
        """A server's violation acknowledgements (as its host sent them)."""
        return self.acks.setdefault(address, Acks())

    def _tick(self) -> None:
        self._ticks += 1
        self._sync_link_ages()
        self.query_one(NoticeStrip).sync_age()
        self._sync_fleet()
        if self._ticks % DOMAINS_REFRESH_TICKS == 0:
            self._poll_domains()

    def _poll_domains(self) -> None:
        state = self.current_state
        if (
            state is not None
            and state.link is LinkState.CONNECTED
            and self.query_one(ViewTabs).active == "domains"
            and self.app.screen is self
        ):
            self.run_flow("refresh", self._poll_domains_of, state.address)

    async def _poll_domains_of(self, address: str) -> None:
        # A failed poll says nothing: the link state already shows a lost server, and a
        # notification every 1.5 s would bury the one that matters.
        with contextlib.suppress(ConsoleError):
            await self.fleet.refresh_domains(address)

    @on(RefreshWanted)
    def _refresh_wanted(self, message: RefreshWanted) -> None:
        if message.what == "domains":
            self.run_flow("refresh", self.fleet.refresh_domains, message.address)
        else:
            self.run_flow("refresh-policy", self.fleet.refresh_policy, message.address)

    def on_link_changed(self, message: LinkChanged) -> None:
        message.stop()  # the host console's own: no handler above it (a hop per message)
        try:
            self._handle_link_changed(message)
        except NoMatches:  # raced the app's shutdown
            return

    def _handle_link_changed(self, message: LinkChanged) -> None:
        state = self._servers.get(message.address)
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
        elif message.state is LinkState.STALE:
            self.notify(
                f"No answer for {STALE_AFTER_BEATS} heartbeats: what it shows may be old.",
                title=f"Server {message.address}: stale",
                severity="warning",
            )
        self._sync_link_ages()
        if message.address == self.current:
            self._sync_current()
        self.app.refresh_bindings()

    def _sync_link_ages(self) -> None:
        """Words each server's last update on its line (and the current one's title)."""
        try:
            panel = self.query_one(ServersPanel)
        except NoMatches:  # raced the app's shutdown
            return
        for state in self._servers.values():
            panel.set_age(state.address, state.last_update())
        self._sync_title()
        current = self.current_state
        if current is not None:
            text = info_text(current)
            info = self.query_one("#server-info", Static)
            if info.content != text:
                info.update(text)

    def on_server_data(self, message: ServerData) -> None:
        message.stop()
        try:
            self._handle_server_data(message)
        except NoMatches:  # raced the app's shutdown
            return

    def _handle_server_data(self, message: ServerData) -> None:
        state = self._servers.get(message.address)
        if state is None:
            return
        data = message.data
        if data.keys() <= {"domains", "xl_list"}:
            # A domains refresh (every DOMAINS_REFRESH_S while shown): only the Domains
            # table follows, and only when something changed.
            if data.get("domains", state.domains) == state.domains:
                return
            state.domains = list(data.get("domains", state.domains))
            state.xl_list = data.get("xl_list", state.xl_list)
            if message.address == self.current:
                for table in self.query(DomainsTable):
                    table.set_domains(domain_rows(state))
            return
        for key in ("info", "domains", "xl_list", "policy", "staged", "stats"):
            if key in data:
                setattr(state, key, data[key])
        if "info" in data:
            hostname = state.info.get("hostname")
            self.query_one(ServersPanel).set_name(
                state.address, hostname if isinstance(hostname, str) else None
            )
        if "policy" in data or "staged" in data:
            self.query_one(ServersPanel).set_staged(state.address, staged_changes(state))
        if "violations" in data:
            self._add_violations(state, list(data["violations"]), alert=False)
            # A (re)connect: the host's acknowledgements too.
            self.run_flow("refresh", self._fetch_acks, message.address)
        if message.address == self.current:
            self._sync_current()

    async def _fetch_acks(self, address: str) -> None:
        with contextlib.suppress(ConsoleError):
            got = await self.call(address, "GetViolations", since_seq=0, limit=1)
            self._take_acks(address, got.get("acks") or [])

    def _take_acks(self, address: str, acks: list[Any]) -> None:
        if self.acks_of(address).add(acks) and address == self.current:
            self.query_one(ViolationLog).set_acks(self.acks_of(address))
            self._sync_status()

    def on_server_event(self, message: ServerEvent) -> None:
        message.stop()  # several a second per host: not bubbled to the app for nothing
        try:
            self._server_event(message)
        except NoMatches:  # an event that raced the app's shutdown
            return

    def _server_event(self, message: ServerEvent) -> None:
        state = self._servers.get(message.address)
        if state is None:
            return
        kind, data = message.event.get("event"), message.event.get("data") or {}
        if kind == "violations":
            self._add_violations(state, list(data.get("violations", [])), alert=True)
        elif kind == "acks":
            self._take_acks(message.address, [data])
        elif kind == "stats":
            state.stats = data
            state.stats_log.append(data)
            del state.stats_log[:-400]
            cpu_changed = state.take_sample(data)
            if message.address == self.current:
                # Only for the view shown: a hidden one draws from the state when shown
                # (show_view), so its pushes wake nothing.
                active = self.query_one(ViewTabs).active
                if active == "perf":
                    self._apply_later("perf")
                elif cpu_changed and active == "domains":
                    self._apply_later("domains")
        elif kind == "domain":
            self._domain_changed(message.address, data)
            if message.address == self.current:
                self.run_flow("refresh", self.fleet.refresh_domains, message.address)
            else:  # read when it becomes current
                state.domains_dirty = True
        elif kind == "policy":
            self.run_flow("refresh-policy", self.fleet.refresh_policy, message.address)

    def _add_violations(
        self, state: ServerState, rows: list[dict[str, Any]], *, alert: bool
    ) -> None:
        fresh = state.take_violations(rows)
        if not fresh:
            return
        self.counts_of(state.address).add(fresh)
        is_current = state.address == self.current
        # Pushed ones only: a fetched history's counts may predate a reset.
        if (
            alert
            and state.take_counts(fresh)
            and is_current
            and self.query_one(ViewTabs).active == "domains"
        ):
            self._apply_later("domains", soon=True)
        if is_current:
            log = self.query_one(ViolationLog)
            log.add_violations(fresh)
            if not log.follow and not self._status_pending:
                # The "N new ↑" count: at most one tab-line redraw per 0.2 s.
                self._status_pending = True
                self.set_timer(0.2, self._flush_status)
        else:
            state.violations.extend(fresh)
        # Acknowledged implicitly only while the user is actually in the log (not under a
        # dialog): the app's focus, not this screen's.
        viewing = is_current and self.app.focused is self.query_one(ViolationLog)
        if alert and not viewing:
            state.alert += len(fresh)
            if is_current and not self._alert_pending:
                # The first violation after a quiet spell is shown at once; the count of
                # those that follow is relabelled at most every ALERT_S (each relabel
                # repaints the band and the tab line: several a second while the demo's
                # guests misbehave, on every view but the log).
                wait = ALERT_S - (time.monotonic() - self._alerted_at)
                if wait <= 0:
                    self._flush_alert()
                else:
                    self._alert_pending = True
                    self.set_timer(wait, self._flush_alert)

    def display_period(self, now: float | None = None) -> float:
        """Seconds between draws of what every sample changes (CPU %, memory, CPU seconds,
        the charts): the console's ``refresh`` setting, or at most ``LIVELY_REFRESH_S``
        for ``LIVELY_S`` after a key (where the user looks, it stays live)."""
        now = time.monotonic() if now is None else now
        refresh = self.config.refresh
        return min(refresh, LIVELY_REFRESH_S) if now - self._key_at < LIVELY_S else refresh

    def _apply_later(self, view: str, *, soon: bool = False) -> None:
        """Draws what was pushed for ``view`` (``domains``, ``perf``) at this session's
        next apply instant: however many samples and violation batches arrive before it,
        the view is drawn once, from the newest (the state itself is already up to date).

        Samples wait for the next instant of the session's display period; ``soon``
        (violation counts: incident-first) for the next one of ``APPLY_S`` when nothing
        was drawn for a period (the first after a quiet spell), else they come with the
        period's (a trickle of violations changed a count every second: a table update
        each, as the alert band is relabelled at most every ``ALERT_S``).
        """
        self._apply_views.add(view)
        now = time.monotonic()
        period = max(APPLY_S, self.display_period(now))
        if soon and now - self._applied_at >= period:
            period = APPLY_S
        at = now + apply_delay(now, self.apply_phase * period, period)
        if self._apply_due and self._apply_at <= at:
            return  # already timed, as soon or sooner
        if self._apply_timer is not None:
            self._apply_timer.stop()
        self._apply_due = True
        self._apply_at = at
        self._apply_timer = self.set_timer(at - now, self._apply)

    def _apply(self) -> None:
        self._apply_due = False
        self._apply_timer = None
        self._applied_at = time.monotonic()
        views, self._apply_views = self._apply_views, set()
        state = self.current_state
        if state is None:
            return
        try:
            active = self.query_one(ViewTabs).active
        except NoMatches:  # raced the app's shutdown
            return
        if "perf" in views and active == "perf":
            # A hidden Performance view is not even looked up (a query walks every view's
            # widgets): it draws the newest sample when it is shown (show_view).
            for perf in self.query(PerfView):
                perf.show_stats(state.stats, state.stats_log)
        if "domains" in views and active == "domains":
            # A hidden table is drawn from the rows (or read) when it is shown; one being
            # built has no columns yet and is drawn once mounted (_ensure_view).
            for table in self.query(DomainsTable):
                if table.is_mounted:
                    table.set_domains(domain_rows(state))

    def _flush_status(self) -> None:
        self._status_pending = False
        self._sync_status()

    def _sync_status(self) -> None:
        """The shown state of each view on the tab line: its filter on this server, and
        for the violation log a pinned selection with the rows arrived above it."""
        tabs = self.query_one(ViewTabs)
        state = self.current_state
        log = self.query_one(ViolationLog)
        for view in TAB_TITLES:
            parts, short = [], []
            if state is not None:
                text = state.violations.filter if view == "violations" else state.filters.get(view)
                if text:
                    parts.append(f"filter /{text} (Esc clears)")
                    short.append(f"/{text}")
            if view == "violations" and not log.follow:
                new = f"{log.new_above} new ↑" if log.new_above else "pinned"
                parts.append(f"{new} (End: follow)")
                short.append(new)
            if view == "violations" and log.acks.items:
                row = log.selected()
                ack = log.acks.covering(row) if row is not None else None
                if ack is not None:
                    parts.insert(0, ack_text(ack))
                    short.insert(0, f"acked {ack.get('user')}")
            tabs.set_status(view, "  ".join(parts), " ".join(short))

    @on(ViolationLog.FollowChanged)
    def _follow_changed(self, message: ViolationLog.FollowChanged) -> None:
        self._sync_status()

    @on(ViolationLog.Selected)
    def _violation_selected(self, message: ViolationLog.Selected) -> None:
        if self.acks_of(self.current).items if self.current else False:
            self._sync_status()  # the selected row's "acked by …"

    def _domain_changed(self, address: str, data: Mapping[str, Any]) -> None:
        """A notice for a domain change this console did not ask for, naming its origin."""
        name = str(data.get("name", "?"))
        asked = self._asked.get((address, name))
        origin = data.get("origin")
        mine = f"console {self.user}"
        if asked is not None and time.monotonic() - asked < ASKED_S and origin in (mine, None):
            return
        text = notice_text(data, origin if isinstance(origin, str) else None, mine)
        if text is not None:
            state = self._servers.get(address)
            host = state.info.get("hostname") if state is not None else None
            where = host if isinstance(host, str) else address
            self._notices.setdefault(where, []).append(text)
            if not self._notice_due:
                self._notice_due = True
                wait = NOTICE_WINDOW_S - (time.monotonic() - self._noticed_at)
                if wait > 0:
                    self.set_timer(wait, self._show_notices)
                else:  # after the changes of this batch of messages
                    self.call_later(self._show_notices)

    def _show_notices(self) -> None:
        """Every host's waiting notices at once, on the notice strip: one line of fixed
        size, so a notice is a repaint of that line (a toast cost a layout pass of the whole
        screen as it came, expired and went: 45 ms each at 160x48 on the Policy view)."""
        self._notice_due = False
        self._noticed_at = time.monotonic()
        parts = [notice_summary(where, self._notices.pop(where)) for where in list(self._notices)]
        if parts:
            self.query_one(NoticeStrip).show("changed elsewhere — " + "  ·  ".join(parts))

    def _flush_alert(self) -> None:
        self._alert_pending = False
        self._alerted_at = time.monotonic()
        self._sync_alert()

    def _sync_alert(self) -> None:
        state = self.current_state
        count = state.alert if state else 0
        self.query_one(ModeBand).alert = count
        self.query_one(ViewTabs).set_badge("violations", f"⚠ {count}" if count else "")

    # -- drawing the current server --------------------------------------------------------

    def _sync_current(self) -> None:
        state = self.current_state
        band = self.query_one(ModeBand)
        hostname = state.info.get("hostname") if state is not None else None
        where = f"{hostname} ({self.current})" if isinstance(hostname, str) else self.current
        band.server = where
        band.mode = self.mode
        self._sync_title()
        info = self.query_one("#server-info", Static)
        log = self.query_one(ViolationLog)
        self.query_one(ServersPanel).set_current(self.current)
        if state is None:
            info.update("No servers. Press a to add one.")
            log.use_window(None)
            self._apply_host_filters(None)
            self._sync_status()
            return
        info.update(info_text(state))
        if state.domains_dirty and state.link.up:
            state.domains_dirty = False
            self.run_flow("refresh", self.fleet.refresh_domains, state.address)
        log.use_window(state.violations)
        log.set_acks(self.acks_of(state.address))
        self._sync_views(state)
        self._apply_host_filters(state)
        self._sync_alert()
        self._sync_status()
        self.app.refresh_bindings()

    def _sync_title(self) -> None:
        """The title line: the current server, its mode, and its link when not fresh."""
        state = self.current_state
        hostname = state.info.get("hostname") if state is not None else None
        where = f"{hostname} ({self.current})" if isinstance(hostname, str) else self.current
        title = (
            f"{where} — {'Policy Editor' if self.mode is Mode.EDITOR else 'Live'}"
            if self.mode is not None
            else (self.current or "")
        )
        if state is not None and state.link.up:
            link = "stale" if state.link is LinkState.STALE else ""
            words = " · ".join(w for w in (link, state.last_update()) if w)
            if words:
                title = f"{title} — {words}"
        if self.app.sub_title != title:
            self.app.sub_title = title

    def _sync_views(self, state: ServerState) -> None:
        editor = state.mode is Mode.EDITOR
        for policy_view in self.query(PolicyView):
            policy_view.show_policy(state, editor=editor)
        for advanced in self.query(AdvancedView):
            advanced.show_policy(state, editor=editor)
        for perf in self.query(PerfView):
            perf.show_server(state)
        for table in self.query(DomainsTable):
            table.set_domains(domain_rows(state))
        self._sync_fleet(force=True)

    def _sync_fleet(self, force: bool = False) -> None:
        """Redraws the fleet view from every connected server's counts (while shown)."""
        if not force and self.query_one(ViewTabs).active != "fleet":
            return
        hosts = []
        for state in self._servers.values():
            if not state.link.up:
                continue
            name = state.info.get("hostname")
            label = f"{name} ({state.address})" if isinstance(name, str) else state.address
            hosts.append(FleetHost(state.address, label, self.counts_of(state.address)))
        for table in self.query(FleetViolations):
            table.set_hosts(hosts)

    def counts_of(self, address: str) -> HostCounts:
        """A server's violations by domain and hypercall (the fleet view's data)."""
        return self.counts.setdefault(address, HostCounts())

    @on(FleetViolations.Act)
    def _fleet_act(self, message: FleetViolations.Act) -> None:
        row, violation = message.row, dict(message.violation)
        if message.action == "pause":
            self.run_flow("domain", flows.pause_violating_domain, self, violation, row.address)
        elif message.action == "resolve":
            target = {"name": row.domain}
            self.run_flow("domain", self._resolve_fresh, target, row.address)
        elif message.action == "profile":
            # The editor works on the current server: that host becomes the current one.
            self.switch_server(
                row.address,
                then=lambda: self.run_flow(
                    "edit", flows.open_profile_for_violation, self, violation
                ),
            )

    async def _resolve_fresh(self, target: dict[str, Any], address: str) -> None:
        """Resolve from the fleet view: a host that is not current may have changed since
        its domains were read (see ``domains_dirty``); they are read first."""
        state = self._servers.get(address)
        if state is not None and state.domains_dirty:
            runs = await self.call(address, "GetDomainRunStates")
            state.domains_dirty = False
            state.domains = list(runs.get("domains", state.domains))
            state.xl_list = runs.get("xl_list", state.xl_list)
        await flows.resolve_domain(self, target, address)

    async def _ensure_view(self, view: str) -> None:
        """Mounts a lazily built view the first time its tab is shown."""
        factory = LAZY_VIEWS.get(view)
        pane = self.query_one(f"#{view}", ViewPane)
        if factory is None or pane.children:
            return
        await pane.mount(factory())
        self._shown_filters.pop(view, None)
        state = self.current_state
        if state is not None:
            self._sync_views(state)
        self._apply_host_filters(state)

    @on(ViewTabs.TabActivated, "#views")
    async def _tab_clicked(self, event: ViewTabs.TabActivated) -> None:
        await self.show_view(event.pane_id)  # as its key would: build, focus, ack

    def switch_server(self, address: str, then: Callable[[], object] | None = None) -> None:
        """Makes ``address`` the current server (its views, filters and keys); asks first
        when the current one has staged changes. ``then`` runs once the switch is made
        (not when the question is answered No), or at once when ``address`` is current."""
        if address == self.current or address not in self._servers:
            if address in self._servers and then is not None:
                self.call_later(then)
            return
        leaving = self.current_state
        summary = staged_summary([leaving]) if leaving is not None else None
        if summary is None:
            self._switch_to(address)
            if then is not None:
                self.call_later(then)
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self._switch_to(address)
                if then is not None:
                    self.call_later(then)

        self.app.push_screen(
            ConfirmDialog(f"{summary}: switch anyway?", STAGED_HINT, confirm="Switch"), answered
        )

    async def _arrive(self, address: str, *, highlight: bool = False) -> None:
        """After a switch to ``address``: connect it if it is not, else show its log."""
        if address not in self._servers:
            return
        if highlight:
            self.query_one(ServersPanel).highlight(address)
        if self._servers[address].conn is None:
            self.connect_server(address)
        elif not highlight:
            await self.show_view("violations")

    def _switch_to(self, address: str) -> None:
        if address != self.current and address in self._servers:
            self.current = address
            self._sync_current()

    # -- views -----------------------------------------------------------------------------

    async def show_view(self, view: str, focus: bool = True) -> None:
        """Shows a view (building it the first time) and focuses its widget."""
        # The user's doing (a view key is an app binding, not a key this screen sees).
        self._key_at = time.monotonic()
        if view == "servers":
            self.query_one(ServersPanel).focus()
            return
        self.query_one(ViewTabs).active = view
        await self._ensure_view(view)
        state = self.current_state
        if view == "domains" and state is not None:
            # A hidden table did not follow the pushed samples and counts: drawn from the
            # rows at once (they hold them), then read (not polled while hidden).
            for table in self.query(DomainsTable):
                table.set_domains(domain_rows(state))
            if state.link is LinkState.CONNECTED:
                self.run_flow("refresh", self._poll_domains_of, state.address)
        if view == "perf" and state is not None:
            # Hidden, it took no samples: the newest is drawn now (bars that look the same
            # as drawn are not drawn again).
            for perf in self.query(PerfView):
                perf.show_stats(state.stats, state.stats_log)
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
            widget = self.query_one(VIEW_WIDGETS[view])
        except NoMatches:
            return
        target = getattr(widget, "focus_target", None)  # views that hand focus inward
        if callable(target):
            widget = target()
        # At once (Widget.focus would defer it past keys that may open the command line),
        # on the view's own screen: a dialog may be on top by now.
        widget.screen.set_focus(widget)

    async def run_scoped(self, entry: Action) -> None:
        """Runs a table action of a view or the servers panel (palette and `:` commands):
        shows the view, then runs the action on its widget."""
        if entry.scope in VIEW_WIDGETS:
            await self.show_view(entry.scope)
        if entry.scope == "list":  # `:nofilter`…: the shown view's list
            view = self.query_one(ViewTabs).active
            await self.show_view(view)
            widget = VIEW_WIDGETS[view]
        else:
            widget = "#servers" if entry.scope == "servers" else VIEW_WIDGETS[entry.scope]
        if entry.scope == "advanced":
            widget = f"#adv-{self.query_one(AdvancedView).active_tab}"
        await self.app.run_action(entry.action, self.query_one(widget))

    def toggle_mode(self) -> None:
        """Switches the current server between Policy Editor and Live mode."""
        state = self.current_state
        if state is None:
            return
        if self.config.read_only:
            self.post_message(Failed(ReadOnlyError("A read-only console has Live mode only.")))
            return
        self.set_mode(Mode.LIVE if state.mode is Mode.EDITOR else Mode.EDITOR)

    def refresh_server(self) -> None:
        """Fetches everything of the current server again."""
        if self.current and self.current_state and self.current_state.conn:
            self.run_flow("fetch", self.fleet.fetch_all, self.current)

    # -- command line (`:` commands and `/` filters) ----------------------------------------

    def open_line(self, mode: str) -> None:
        """Opens the command line for a `:` command or a `/` filter."""
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
        self.set_focus(line)

    def _close_line(self) -> None:
        line = self.query_one("#command-line", Input)
        # Drop focus before hiding, so Textual does not pick a replacement later and
        # override the view focus the command asks for.
        self.set_focus(None)
        line.remove_class("-open")
        line.value = ""

    def on_key(self, event: events.Key) -> None:
        self._key_at = time.monotonic()  # the metrics are drawn livelier for a while
        line = self.query_one("#command-line", Input)
        if event.key == "escape" and line.has_class("-open"):
            event.stop()
            self._close_line()
            self.call_later(self.show_view, self.query_one(ViewTabs).active or "violations")
        elif (
            event.key == "escape"
            and getattr(self.app, "xe", None) is not None
            and hasattr(self.focused, "action_clear_filter")
            and not self._shown_filters.get(self.query_one(ViewTabs).active or "")
        ):
            # An XE session's host console: Esc on a list with no filter to clear goes
            # back to the Enterprise view (a list's own Esc, clearing the filter, took it).
            event.stop()
            self.call_later(self.app.run_action, "back_to_enterprise")

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
        self.call_later(self.show_view, view)
        if mode == "/":
            self._apply_filter(text)
        else:
            self.run_command(text)

    def _apply_filter(self, text: str) -> None:
        """Filters the shown view of the current server (each server keeps its own)."""
        view = self.query_one(ViewTabs).active
        text = text.strip()
        state = self.current_state
        if state is not None and view != "violations":
            if text:
                state.filters[view] = text
            else:
                state.filters.pop(view, None)
        self._filter_view(view, text)
        self._sync_status()

    @on(ClearFilter)
    def _clear_filter(self, message: ClearFilter) -> None:
        message.stop()
        self._apply_filter("")

    def _apply_host_filters(self, state: ServerState | None) -> None:
        """Shows each view with the filter ``state``'s server has for it (the violation
        log's is its window's: nothing to do)."""
        for view in ("domains", "advanced", "policy", "perf"):
            text = state.filters.get(view, "") if state is not None else ""
            if self._shown_filters.get(view, "") != text:
                self._filter_view(view, text)

    def _filter_view(self, view: str, text: str) -> None:
        if view in VIEW_WIDGETS and view != "violations" and not self.query(VIEW_WIDGETS[view]):
            return  # not built yet: it gets the server's filter when it is
        self._shown_filters[view] = text
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
        elif view == "fleet":
            for fleet in self.query(FleetViolations):
                fleet.set_filter(text)

    def run_command(self, text: str) -> None:
        """Runs one `:` command line (``servers``, ``theme light``, ``connect h:p``…)."""
        try:
            command = parse_command(text, self.app.available_themes, command_names())
        except ConfigError as exc:  # a mistyped command: said, nothing run
            self.post_message(Failed(exc))
            return
        if command is not None:
            self._run(command)

    def _run(self, command: Command) -> None:
        if command.name == "theme":
            self.app.theme = command.arg
        elif command.name == "connect":
            self.add_server(command.arg)
        elif command.name == "filter":
            self._apply_filter(command.arg)
        elif command.name == "sort":
            self.call_later(self._sort_domains, command.arg)
        elif command.name == "action":
            self.post_message(ActionWanted(command.arg))

    # -- servers panel commands ------------------------------------------------------------

    def _add_typed_server(self, value: str | None) -> None:
        if value:
            self.add_server(value)

    def add_server(self, text: str) -> ServerEntry | None:
        """Switches to the server ``text`` names (address or host name known to the
        console), else adds one typed as ``host[:port[/ro_port]]``, remembers it and
        connects."""
        known = find_server(self._servers, text)
        if known is not None:
            self.switch_server(known, then=lambda: self._arrive(known, highlight=True))
            return self._servers[known].entry
        try:
            entry = ServerEntry.parse(text)
        except ConfigError as exc:  # typed by the user: said, nothing added
            self.post_message(Failed(exc))
            return None
        if entry.address in self._servers:
            self.notify(f"{entry.address} is already in the list", title="Servers")
            return self._servers[entry.address].entry
        self.fleet.add(entry)
        self.query_one(ServersPanel).set_server(entry.address, LinkState.DISCONNECTED)
        self.save_settings()
        self.connect_server(entry.address)
        return entry

    def save_settings(self) -> None:
        """Remembers the servers (with their colours), the app's theme and the keymap."""
        servers = self.fleet.entries()
        try:
            save_config(replace(self.config, servers=servers, theme=self.app.theme))
        except OSError as exc:
            self.post_message(Failed(ConfigError(f"cannot save settings: {exc.strerror}")))

    @on(ServersPanel.Command)
    async def _servers_command(self, message: ServersPanel.Command) -> None:
        address = message.address
        if message.action == "add":
            self.app.push_screen(
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
            # Enter: this server becomes the current one (moving only highlights).
            self.switch_server(address, then=lambda: self._arrive(address))
        elif message.action == "remove":
            await self.disconnect_server(address)
            self.fleet.remove(address)
            self.query_one(ServersPanel).remove_server(address)
            self.current = self.query_one(ServersPanel).current
            self.save_settings()
            self._sync_current()
        elif message.action == "color":
            self.run_flow("color", self._choose_color, address)
        elif message.action == "compare":
            self.run_flow("compare", flows.compare_servers, self, address)
        elif message.action == "clone":
            self.run_flow("clone", flows.clone_server, self, address)
        elif message.action == "authorizations":
            self._manage_authorizations(address)

    async def _sort_domains(self, column: str) -> None:
        await self.show_view("domains")
        self.query_one(DomainsTable).sort_by(column)

    async def _choose_color(self, address: str) -> None:
        value = await self.ask(
            InputDialog(
                f"Assign colour to {address}",
                "#rrggbb or a colour name (empty clears):",
                value=self._servers[address].entry.color or "",
            )
        )
        if value is not None:
            self.set_server_color(address, value)

    def set_server_color(self, address: str, color: str | None) -> None:
        """Assigns (or clears) a server's colour and remembers it.

        Raises:
            ConfigError: Not a colour.
        """
        state = self._servers[address]
        state.entry = replace(state.entry, color=color or None)
        self.query_one(ServersPanel).set_server(address, state.link, state.entry.color, state.match)
        self.save_settings()

    def _manage_authorizations(self, address: str) -> None:
        from xenon_tui.dialogs._auth import AuthDialog

        if self._servers[address].link is LinkState.CONNECTED:
            self.app.push_screen(AuthDialog(address, flows.Authorizations(self, address)))
        else:
            self.notify("Connect first.", title=address, severity="warning")

    # -- flows asked for by the views ------------------------------------------------------

    @on(AdvancedView.Edit)
    def _advanced_edit(self, message: AdvancedView.Edit) -> None:
        if message.op == "import":
            self.run_flow("edit", flows.import_profiles, self)
        elif message.op == "export":
            self.run_flow("edit", flows.export_profile, self)
        else:
            self.run_flow("edit", flows.run_edit, self, message.tab, message.op, message.key)

    @on(DomainsTable.DomainAction)
    def _domain_action(self, message: DomainsTable.DomainAction) -> None:
        self.run_flow("domain", flows.domain_action, self, message.method, message.domain)

    @on(DomainsTable.Show)
    def _domain_show(self, message: DomainsTable.Show) -> None:
        self.run_flow("show", flows.show_domain, self, message.what, message.domain)

    @on(ViolationLog.PauseRequested)
    def _pause_requested(self, message: ViolationLog.PauseRequested) -> None:
        self.run_flow("domain", flows.pause_violating_domain, self, message.violation)

    @on(ViolationLog.ProfileRequested)
    def _profile_requested(self, message: ViolationLog.ProfileRequested) -> None:
        violation = dict(message.violation)
        self.run_flow("edit", flows.open_profile_for_violation, self, violation)

    @on(ViolationLog.AckRequested)
    def _ack_requested(self, message: ViolationLog.AckRequested) -> None:
        if self.read_only:  # Ctrl+L still clears the alert; the host would refuse it
            self.notify(
                "Alert cleared. A read-only console cannot record acknowledgements.",
                title="Acknowledge",
            )
            return
        violation = dict(message.violation)
        self.run_flow("domain", flows.acknowledge_violations, self, violation, message.domain_only)

    @on(ViolationLog.ResolveRequested)
    def _resolve_requested(self, message: ViolationLog.ResolveRequested) -> None:
        self.run_flow("domain", flows.resolve_domain, self, dict(message.violation))

    @on(ViolationLog.AlertCleared)
    def _alert_cleared(self, message: ViolationLog.AlertCleared) -> None:
        state = self.current_state
        if state is not None:
            state.alert = 0
            self._sync_alert()


APPLY_S = 0.5
"""Pushed violation counts are drawn on the Domains view at most this often per session
(4-6 pushes a second from three hosts became as many table updates), each session at its
own phase (``apply_delay``); pushed samples at the session's display period
(``HostConsole.display_period``), never more often."""

LIVELY_S = 10.0
"""For this long after a key, the metrics are drawn at most every ``LIVELY_REFRESH_S``
(else at the console's ``refresh`` setting, 2 s by default)."""

LIVELY_REFRESH_S = 1.0


def apply_delay(now: float, phase: float, period: float = APPLY_S) -> float:
    """Seconds from ``now`` to the session's next apply instant: the instants are
    ``phase + k * period`` (so two sessions whose phases differ never apply together, and
    one session applies at most once per ``period``)."""
    delay = period - ((now - phase) % period)
    # A timer may fire a clock tick early: the instant it was set for is not "the next".
    return delay + period if delay < 0.01 else delay


ALERT_S = 2.0
"""The new-violations count on the band and the tab line is relabelled at most this often
(the first violation after a quiet spell at once)."""

ASKED_S = 30.0
"""How long after this console asked for a change of a domain its events are its own."""

NOTICE_WINDOW_S = 5.0
"""At most one "changed elsewhere" notice per host this often (about a notice's life); the
hosts' notices come together."""

_CHANGES = {
    "max_violations": "stopped at its violation limit",
    "pause": "paused",
    "unpause": "unpaused",
    "created": "started",
    "shutdown": "shut down",
    "reboot": "rebooted",
    "destroy": "destroyed",
    "violations_addressed": "had its violations reset",
    "resolved": "resolved and resumed",
}


def notice_summary(where: str, texts: list[str]) -> str:
    """``xenon-2: EB-domu-1 paused by bob. (+2 more)``: a host's newest change, counting
    the others of its window."""
    more = f" (+{len(texts) - 1} more)" if len(texts) > 1 else ""
    return f"{where}: {texts[-1]}{more}"


def notice_text(data: Mapping[str, Any], origin: str | None, mine: str) -> str | None:
    """``EA-domu-1 unpaused by a client that named no user`` (None: nothing to say)."""
    reason = str(data.get("reason", ""))
    change = _CHANGES.get(reason, reason.replace("_", " ") or "changed")
    name = data.get("name", "?")
    if origin == "MSM violation limit" and reason == "max_violations":
        return f"{name} was stopped by the MSM at its violation limit."
    if origin is None:
        by = "(the host did not say by whom)"
    elif origin == "client":
        by = "by a client that named no user"
    elif origin == mine:
        by = f"by {origin} (another session)"
    else:
        by = f"by {origin}"
    return f"{name} {change} {by}."


def _address_problem(value: str) -> str | None:
    try:
        ServerEntry.parse(value)
    except ConfigError as exc:
        return exc.message
    return None
