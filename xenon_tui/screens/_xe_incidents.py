"""Fleet incidents (``i`` on the Enterprise screen): XE's violation history grouped enclave →
host → VM → hypercall with counts and rates, sortable and filterable, and the incident
actions pause / unpause / destroy of the VM under the cursor, routed through XE's compute
API (XE decides whether the user may)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from xenon_tui._work import run_flow
from xenon_tui._xe import EnterpriseError, XeData, bounded
from xenon_tui.dialogs import TypedConfirmDialog
from xenon_tui.widgets._keyline import KeyLine

if TYPE_CHECKING:
    from textual.screen import Screen

    from enterprise_store.client import ViolationSummaryOut

    _Base = Screen[None]
else:
    _Base = object

INCIDENTS_REFRESH_S = 5.0
"""How often the shown incidents re-read XE's summary (one bounded request)."""

WINDOWS: tuple[tuple[str, dt.timedelta], ...] = (
    ("1 h", dt.timedelta(hours=1)),
    ("24 h", dt.timedelta(days=1)),
    ("10 min", dt.timedelta(minutes=10)),
)
"""The windows ``w`` steps through (the first is shown first)."""

SORTS: tuple[str, ...] = ("grouped", "count", "rate", "last")
SORT_TITLES: dict[str, str] = {
    "grouped": "grouped by enclave → host → VM",
    "count": "most violations first",
    "rate": "highest rate first",
    "last": "latest first",
}
"""How the title names each order of :data:`SORTS` (``s`` cycles them)."""
"""Orders ``s`` steps through: enclave → host → VM → hypercall, or largest first."""

COLUMNS = ("Count", "/min", "Last", "Enclave", "Host", "VM", "Hypercall")
"""Numbers first: at 80 columns they stay in sight beside the names."""

INCIDENT_ACTIONS = ("pause", "unpause", "destroy")


@dataclass(frozen=True)
class Incident:
    """One group of XE's summary: a VM's (or unmanaged domain's) violations of one
    hypercall on one host."""

    key: str
    enclave: str
    host: str
    vm: str
    vm_id: str | None
    hypercall: str
    count: int
    per_minute: float
    last: dt.datetime
    search: str  # casefolded columns (the filter's index)


def incidents(summary: ViolationSummaryOut) -> list[Incident]:
    """The summary's groups as rows (names as XE has them now; ids when removed)."""
    out = []
    for g in summary.groups:
        enclave = g.enclave_name or (g.enclave_id or "(unmanaged)")
        host = g.host_name or g.host_id
        vm = g.vm_name or g.domain
        call = f"{g.hypercall_name} ({g.hypercall})"
        key = f"{g.host_id}/{g.vm_id or g.domain}/{g.hypercall}"
        search = "\0".join((enclave, host, vm, call)).casefold()
        out.append(
            Incident(
                key, enclave, host, vm, g.vm_id, call, g.violations, g.per_minute, g.last, search
            )
        )
    return out


def age(when: dt.datetime, now: dt.datetime) -> str:
    """How long ago: ``40 s``, ``5 min``, ``3 h``, ``2 d``."""
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def ordered(rows: list[Incident], sort: str) -> list[Incident]:
    """``rows`` in the order ``sort`` names (ties: grouped order)."""
    rows = sorted(rows, key=lambda r: (r.enclave.casefold(), r.host, r.vm.casefold(), r.hypercall))
    if sort == "count":
        rows.sort(key=lambda r: -r.count)
    elif sort == "rate":
        rows.sort(key=lambda r: -r.per_minute)
    elif sort == "last":
        rows.sort(key=lambda r: r.last, reverse=True)
    return rows


class XeIncidentsScreen(ModalScreen[None]):
    """Fleet incidents over XE's violation history (one summary request per refresh).

    Modal, drawn over the whole terminal: the host console's app keys (``/``, the view
    digits, ``m``, ``:``) stay out of it, as on the Enterprise screen.
    """

    DEFAULT_CSS = """
    XeIncidentsScreen { background: $background; }
    XeIncidentsScreen #inc-title { dock: top; height: 1; background: $panel; padding: 0 1; }
    XeIncidentsScreen #inc-table { height: 1fr; border: round $primary; }
    XeIncidentsScreen #inc-status { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    XeIncidentsScreen #inc-status.-error { color: $error; }
    XeIncidentsScreen #inc-filter { display: none; height: 1; border: none; padding: 0 1; }
    XeIncidentsScreen #inc-filter.-open { display: block; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,i", "close", "Back"),
        Binding("slash", "open_filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("w", "window", "Window"),
        Binding("p", "incident('pause')", "Pause VM"),
        Binding("U", "incident('unpause')", "Unpause VM"),
        Binding("D", "incident('destroy')", "Destroy VM"),
        Binding("ctrl+r", "refresh", "Refresh", show=False),
    ]

    def __init__(self, data: XeData, *, read_only: bool = False) -> None:
        super().__init__()
        self.data = data
        self.read_only = read_only
        self.rows: list[Incident] = []  # as last read, in the shown order
        self.shown: list[Incident] = []
        self.sort = SORTS[0]
        self.window = 0
        self.filter = ""
        self.total = 0
        self.reads = 0  # finished reads (tests wait on it)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # An auditor is not offered the VM actions (XE refuses them anyway).
        return not (self.read_only and action == "incident")

    def compose(self) -> ComposeResult:
        yield Static("", id="inc-title")
        table: DataTable[Text] = DataTable(id="inc-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("reading XE's violation history…", id="inc-status")
        yield Input(id="inc-filter", placeholder="/filter  (Enter keeps, Esc clears)")
        yield KeyLine(id="inc-keys")

    def on_mount(self) -> None:
        table = self.query_one("#inc-table", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name.lower())
        table.focus()
        self._title()
        self.action_refresh()
        self.set_interval(INCIDENTS_REFRESH_S, self.action_refresh)

    def _title(self) -> None:
        label, _ = WINDOWS[self.window]
        title = Text("⚠ Fleet incidents", style="bold")
        title.append(f" — last {label} · {SORT_TITLES[self.sort]}")
        if self.filter:
            title.append(f" · filter {self.filter!r}")
        self.query_one("#inc-title", Static).update(title)

    # -- reading -------------------------------------------------------------------------

    def action_refresh(self) -> None:
        if self.is_current and not any(w.is_running for w in self.workers if w.group == "inc"):
            self._read()

    @work(group="inc", exit_on_error=False)
    async def _read(self) -> None:
        status = self.query_one("#inc-status", Static)
        since = dt.datetime.now(dt.UTC) - WINDOWS[self.window][1]
        try:
            summary = await bounded(self.data.client.history.summary(since=since))
        except EnterpriseError as exc:
            status.update(Text(f"XE: {exc.message}"))
            status.add_class("-error")
        else:
            self.total = summary.total
            self.rows = incidents(summary)
            self._draw()
            status.remove_class("-error")
            more = " (the largest groups only)" if summary.truncated else ""
            status.update(Text(f"{summary.total:,} violations in {len(self.rows):,} groups{more}"))
        finally:
            self.reads += 1

    def _draw(self) -> None:
        table = self.query_one("#inc-table", DataTable)
        needle = self.filter.casefold()
        shown = [r for r in ordered(self.rows, self.sort) if not needle or needle in r.search]
        current = self.current()
        self.shown = shown
        now = dt.datetime.now(dt.UTC)
        table.clear()
        for r in shown:
            table.add_row(
                Text(f"{r.count:,}", justify="right"),
                Text(f"{r.per_minute:.1f}", justify="right"),
                Text(age(r.last, now), justify="right"),
                Text(r.enclave), Text(r.host), Text(r.vm), Text(r.hypercall),
                key=r.key,
            )  # fmt: skip
        if current is not None:
            keys = [r.key for r in shown]
            if current.key in keys:
                table.move_cursor(row=keys.index(current.key))

    def current(self) -> Incident | None:
        """The group under the cursor."""
        table = self.query_one("#inc-table", DataTable)
        if not self.shown or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    # -- keys ----------------------------------------------------------------------------

    def action_close(self) -> None:
        line = self.query_one("#inc-filter", Input)
        if line.has_class("-open"):
            self._close_filter(keep=False)
            return
        self.dismiss()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._title()
        self._draw()

    def action_window(self) -> None:
        self.window = (self.window + 1) % len(WINDOWS)
        self._title()
        self.action_refresh()

    def action_open_filter(self) -> None:
        line = self.query_one("#inc-filter", Input)
        line.value = self.filter
        line.add_class("-open")
        line.display = True  # now: a hidden widget cannot take the focus
        self.set_focus(line)

    @on(Input.Changed, "#inc-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.input.has_class("-open"):
            self.filter = event.value.strip()
            self._title()
            self._draw()

    @on(Input.Submitted, "#inc-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self._close_filter(keep=True)

    def _close_filter(self, *, keep: bool) -> None:
        line = self.query_one("#inc-filter", Input)
        if not keep:
            self.filter = ""
            self._title()
            self._draw()
        line.remove_class("-open")
        line.display = False
        self.set_focus(self.query_one("#inc-table", DataTable))

    def action_incident(self, action: str) -> None:
        run_flow(self, "inc-action", self._incident, action)

    async def _incident(self, action: str) -> None:
        if action not in INCIDENT_ACTIONS:
            return
        row = self.current()
        if row is None:
            return
        if row.vm_id is None:
            raise EnterpriseError(f"{row.vm} on {row.host} is not one of XE's VMs")
        if action == "destroy":
            body = f"{row.vm} on {row.host} is stopped at once, without a clean shutdown."
            if not await self.app.push_screen_wait(
                TypedConfirmDialog(f"Destroy {row.vm}?", body, row.vm)
            ):
                return
        state = await self.data.vm_action(row.vm_id, action)
        status = self.query_one("#inc-status", Static)
        status.remove_class("-error")
        status.update(Text(f"{row.vm}: {action} → {state}"))
        self.app.notify(f"{row.vm}: {state}", title=f"{action.capitalize()} {row.vm}")


class XeIncidentFlows(_Base):
    """``i`` on the Enterprise screen: the fleet incidents screen."""

    data: XeData

    def action_fleet_incidents(self) -> None:
        read_only = bool(getattr(self, "read_only", False))  # the screen's (an auditor's)
        self.app.push_screen(XeIncidentsScreen(self.data, read_only=read_only))


__all__ = ["Incident", "XeIncidentFlows", "XeIncidentsScreen", "age", "incidents", "ordered"]
