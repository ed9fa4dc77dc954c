"""The fleet violations view: every connected host's violations, host → domain → hypercall.

Counts are kept per host as violations arrive (:class:`HostCounts`, fed by the host
console for every server, shown or not); the table is a :class:`DataTable` of group rows
whose selection stays on its group (its row key) whatever the counts or the sort do, like
the Domains list. Actions on a row are routed to the row's host.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from xenon_tui._actions import bindings, check_scoped
from xenon_tui.messages import ClearFilter

RATE_S = 10
"""Rates are violations per second over the last this many seconds (violation time)."""

SORTS = ("count", "rate", "name")

Key = tuple[str, str]
"""(domain, hypercall) of one group."""


RawKey = tuple[Any, Any, Any]
"""(domain, hypercall, sub-op) as a record has them: formatted only when drawn."""


def _key(raw: RawKey) -> Key:
    domain, call, subop = raw
    call = str(call if call is not None else "?")
    return (str(domain), f"{call}/{subop}" if subop not in (None, -1) else call)


@dataclass
class HostCounts:
    """One host's violations by (domain, hypercall): totals, per-second counts of the last
    :data:`RATE_S` seconds, and the newest record of each (what the actions use).

    Counting is per record on the console's hot path (10k/s pushed): the keys are the
    record's own values, turned into names only when the view draws them.
    """

    raw_totals: dict[RawKey, int] = field(default_factory=dict)
    recent: dict[int, dict[RawKey, int]] = field(default_factory=dict)
    raw_last: dict[RawKey, Mapping[str, Any]] = field(default_factory=dict)

    def add(self, rows: Iterable[Mapping[str, Any]], now: float | None = None) -> None:
        """Counts a batch of violation records (oldest first); one record is one
        violation (its ``count`` is the domain's running total)."""
        floor = int(time.time() if now is None else now) - RATE_S
        totals, recent, last = self.raw_totals, self.recent, self.raw_last
        bucket_second, bucket = -1, {}
        for row in rows:
            get = row.get
            call = get("hypercall_name") or get("hypercall")
            key = (get("domain") or get("domid", "?"), call, get("subop"))
            totals[key] = totals.get(key, 0) + 1
            last[key] = row
            ts_ns = get("ts_ns")
            second = ts_ns // 1_000_000_000 if isinstance(ts_ns, int) else floor + RATE_S
            if second > floor:
                if second != bucket_second:
                    bucket_second, bucket = second, recent.setdefault(second, {})
                bucket[key] = bucket.get(key, 0) + 1
        for second in [s for s in recent if s <= floor]:
            del recent[second]

    @property
    def totals(self) -> dict[Key, int]:
        """Violations of each (domain, hypercall) group."""
        out: dict[Key, int] = {}
        for raw, n in self.raw_totals.items():
            key = _key(raw)
            out[key] = out.get(key, 0) + n
        return out

    @property
    def last(self) -> dict[Key, Mapping[str, Any]]:
        """The newest record of each group."""
        return {_key(raw): row for raw, row in self.raw_last.items()}

    def rates(self, now: float | None = None) -> dict[Key, float]:
        """Violations per second of each group over the last :data:`RATE_S` seconds."""
        floor = int(time.time() if now is None else now) - RATE_S
        out: dict[Key, float] = {}
        for second, bucket in self.recent.items():
            if second > floor:
                for raw, n in bucket.items():
                    key = _key(raw)
                    out[key] = out.get(key, 0.0) + n / RATE_S
        return out


@dataclass(frozen=True)
class FleetHost:
    """What the view shows of one server: its address, its name and its counts."""

    address: str
    label: str
    counts: HostCounts


@dataclass(frozen=True)
class FleetRow:
    """One row: a host, one of its domains, or one hypercall of a domain."""

    key: str
    address: str
    level: int
    domain: str | None
    call: str | None
    count: int
    rate: float
    label: str


_COLUMNS = ("Host / domain / hypercall", "Count", "Rate/s")


def fleet_rows(hosts: Iterable[FleetHost], order: str, now: float | None = None) -> list[FleetRow]:
    """The grouped rows, each level sorted by ``order`` (count and rate biggest first)."""

    def ordered(items: list[tuple[str, int, float]]) -> list[tuple[str, int, float]]:
        items = sorted(items, key=lambda i: i[0].lower())
        if order == "count":
            return sorted(items, key=lambda i: i[1], reverse=True)
        if order == "rate":
            return sorted(items, key=lambda i: (i[2], i[1]), reverse=True)
        return items

    out: list[FleetRow] = []
    groups: list[tuple[FleetHost, dict[str, dict[str, tuple[int, float]]]]] = []
    for host in hosts:
        rates = host.counts.rates(now)
        domains: dict[str, dict[str, tuple[int, float]]] = {}
        for (domain, call), count in host.counts.totals.items():
            domains.setdefault(domain, {})[call] = (count, rates.get((domain, call), 0.0))
        groups.append((host, domains))

    def host_sum(domains: dict[str, dict[str, tuple[int, float]]]) -> tuple[int, float]:
        calls = [v for d in domains.values() for v in d.values()]
        return sum(c for c, _ in calls), sum(r for _, r in calls)

    summed = {h.address: host_sum(d) for h, d in groups}
    by_address = {h.address: (h, d) for h, d in groups}
    for address, _, _ in ordered([(h.address, *summed[h.address]) for h, _ in groups]):
        host, domains = by_address[address]
        total, rate = summed[address]
        out.append(FleetRow(f"h|{address}", address, 0, None, None, total, rate, host.label))
        per_domain = {
            name: (sum(c for c, _ in calls.values()), sum(r for _, r in calls.values()))
            for name, calls in domains.items()
        }
        for domain, count, rate in ordered([(n, *v) for n, v in per_domain.items()]):
            out.append(
                FleetRow(f"d|{address}|{domain}", address, 1, domain, None, count, rate, domain)
            )
            calls = domains[domain]
            for call, ccount, crate in ordered([(c, *v) for c, v in calls.items()]):
                key = f"c|{address}|{domain}|{call}"
                out.append(FleetRow(key, address, 2, domain, call, ccount, crate, call))
    return out


class FleetViolations(DataTable[Any]):
    """Violations of every connected host, grouped host → domain → hypercall."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *bindings("list"),
        *bindings("fleet"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "fleet-violations--host",
        "fleet-violations--hot",
    }

    DEFAULT_CSS = """
    FleetViolations > .fleet-violations--host { text-style: bold; }
    FleetViolations > .fleet-violations--hot { color: $status-bad; }
    """

    class Act(Message):
        """The user asked for ``action`` (``pause``, ``profile``, ``resolve``) on a row."""

        def __init__(self, action: str, row: FleetRow, violation: Mapping[str, Any]) -> None:
            super().__init__()
            self.action = action
            self.row = row
            self.violation = violation

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return check_scoped(self, "fleet", action, parameters)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.order_by = "count"
        self._hosts: list[FleetHost] = []
        self._rows: list[FleetRow] = []
        self._cells: dict[str, tuple[Any, ...]] = {}
        self._filter = ""

    def on_mount(self) -> None:
        for title in _COLUMNS:
            self.add_column(title, key=title)

    @property
    def rows_shown(self) -> list[FleetRow]:
        """The rows in the shown order."""
        return list(self._rows)

    def set_hosts(self, hosts: Iterable[FleetHost], now: float | None = None) -> None:
        """Redraws from the hosts' counts, keeping the selection on its group."""
        self._hosts = list(hosts)
        self._redraw(now)

    def set_filter(self, text: str) -> None:
        """A `/` filter: rows of the domains or hypercalls whose name contains it."""
        self._filter = text.strip().lower()
        self._redraw()

    def sort_by(self, order: str) -> None:
        """Sorts each level by ``count``, ``rate`` or ``name``."""
        if order not in SORTS:
            raise ValueError(f"unknown sort {order!r}")
        self.order_by = order
        self._redraw()

    def _matches(self, row: FleetRow) -> bool:
        if not self._filter or row.level == 0:
            return True
        return self._filter in f"{row.domain} {row.call or ''}".lower()

    def _cells_of(self, row: FleetRow) -> tuple[Any, ...]:
        indent = "  " * row.level
        host_style = self.get_component_rich_style("fleet-violations--host", partial=True)
        hot = self.get_component_rich_style("fleet-violations--hot", partial=True)
        label = Text(f"{indent}{row.label}", style=host_style if row.level == 0 else "")
        rate = Text(f"{row.rate:.1f}", style=hot if row.rate >= 1 else "")
        return (label, str(row.count), rate)

    def _redraw(self, now: float | None = None) -> None:
        keep = self.selected()
        rows = [r for r in fleet_rows(self._hosts, self.order_by, now) if self._matches(r)]
        # A domain or call row that the filter keeps needs its parents to make sense.
        if self._filter:
            wanted = {r.domain for r in rows if r.level == 2}
            rows = [r for r in rows if r.level != 1 or r.domain in wanted or self._matches(r)]
        cells = {r.key: self._cells_of(r) for r in rows}
        same = [r.key for r in rows] == [r.key for r in self._rows]
        self._rows = rows
        if same and self.row_count == len(rows):
            for key, value in cells.items():
                old = self._cells.get(key)
                if old != value:
                    for title, new, before in zip(_COLUMNS, value, old or (), strict=False):
                        if new != before:
                            self.update_cell(key, title, new)
            self._cells = cells
            return
        self._cells = cells
        self.clear()
        target = 0
        for index, row in enumerate(rows):
            self.add_row(*cells[row.key], key=row.key)
            if keep is not None and row.key == keep.key:
                target = index
        if self.row_count:
            self.move_cursor(row=target)

    def selected(self) -> FleetRow | None:
        """The row under the cursor."""
        if not self._rows or not self.row_count:
            return None
        return self._rows[min(self.cursor_row, len(self._rows) - 1)]

    def _violation(self, row: FleetRow) -> Mapping[str, Any]:
        """The newest record of the row's group (a host row: none)."""
        host = next((h for h in self._hosts if h.address == row.address), None)
        if host is None or row.domain is None:
            return {}
        last = host.counts.last
        keys = [k for k in last if k[0] == row.domain and row.call in (None, k[1])]
        newest = max((last[k] for k in keys), key=lambda v: v.get("seq", 0), default=None)
        return newest or {"domain": row.domain}

    def _act(self, action: str) -> None:
        row = self.selected()
        if row is None or row.domain is None:
            self.notify("Select a domain or a hypercall row.", title="Fleet violations")
            return
        self.post_message(self.Act(action, row, self._violation(row)))

    def action_pause_domain(self) -> None:
        self._act("pause")

    def action_open_profile(self) -> None:
        self._act("profile")

    def action_resolve(self) -> None:
        self._act("resolve")

    def action_sort_by(self, order: str) -> None:
        self.sort_by(order)

    def action_list_first(self) -> None:
        self.action_scroll_top()

    def action_list_last(self) -> None:
        self.action_scroll_bottom()

    def action_clear_filter(self) -> None:
        self.post_message(ClearFilter())
