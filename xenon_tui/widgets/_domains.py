"""Live-mode domains list: run state per domain and the lifecycle actions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, RowKey

from xenon_tui._actions import bindings, check_scoped
from xenon_tui.messages import ClearFilter
from xenon_tui.widgets._shown import displayed

_COLUMNS = (
    "Domid",
    "Name",
    "State",
    "Run state",
    "Mem MB",
    "vCPUs",
    "CPU s",
    "SecLabel",
    "Tag",
    "Viol.",
)
# Which columns give way first as the table narrows (the last ones): the domain, its run
# state and its violations are what an operator acts on, so they stay at every width.
_PRIORITY = (
    "Name",
    "Run state",
    "Viol.",
    "CPU s",
    "Mem MB",
    "SecLabel",
    "Domid",
    "Tag",
    "vCPUs",
    "State",
)
_KEPT = 3
"""The first this many of ``_PRIORITY`` are shown however narrow (the table then scrolls)."""
_RUN_MARKS = ("running", "paused", "shutdown")  # run states drawn in a colour
SORTS = ("domid", "name", "cpu", "mem", "viol")
"""Sort orders (``:sort NAME``): the default (running by domid), or a column."""
_SORT_COLUMN = {"name": "Name", "cpu": "CPU s", "mem": "Mem MB", "viol": "Viol."}
_MARKS = (*_RUN_MARKS, "violations")


def _drop(cache: Any, hit: Callable[[Any], bool]) -> None:
    """Discards the entries of a Textual ``LRUCache`` whose key ``hit`` picks."""
    keys = cache.keys()
    for key in [k for k in keys if hit(k)]:
        cache.discard(key)


class DomainsTable(DataTable[Any]):
    """One row per domain from ``GetDomainRunStates``, filterable with `/`, sortable.

    The selection stays on the same domain whatever the refreshes or the sort do; a
    refresh that changes no row redraws nothing, one that changes cells draws those cells
    again (not the whole table: DataTable's ``update_cell`` renders every cell anew), and
    a hidden table is drawn once it is shown.
    """

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *bindings("list"),
        *bindings("domains"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        f"domains-table--{mark}" for mark in _MARKS
    }

    DEFAULT_CSS = """
    DomainsTable > .domains-table--running { color: $status-ok; }
    DomainsTable > .domains-table--paused { color: $status-warn; }
    DomainsTable > .domains-table--shutdown { text-style: dim; }
    DomainsTable > .domains-table--violations { color: $status-bad; text-style: bold; }
    """

    class DomainAction(Message):
        """The user asked for a lifecycle method (``PauseDomain``…) on a domain."""

        def __init__(self, method: str, domain: Mapping[str, Any]) -> None:
            super().__init__()
            self.method = method
            self.domain = domain

    class Show(Message):
        """The user asked for the xl config or the VNC endpoint of a domain."""

        def __init__(self, what: str, domain: Mapping[str, Any]) -> None:
            super().__init__()
            self.what = what
            self.domain = domain

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return check_scoped(self, "domains", action, parameters)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._domains: list[Mapping[str, Any]] = []
        self._shown: list[Mapping[str, Any]] = []
        self._cells: dict[str, tuple[Any, ...]] = {}
        self._filter = ""
        self._marks: dict[str, Style] = {}
        self.order_by = "domid"
        self.descending = False
        # Violations per second from the last two refreshes: name -> (count, at, rate).
        self._rates: dict[str, tuple[int, float, float]] = {}
        # The columns shown (those that fit the width, by ``_PRIORITY``), in table order.
        self._visible: tuple[str, ...] = _COLUMNS
        # Rows arrived while the view was hidden: drawn when it is shown.
        self._behind = False

    def on_mount(self) -> None:
        self._marks = self._mark_styles()
        self._add_columns()
        if self._behind:  # domains handed over before it was mounted
            self._redraw()
        # Published after the new theme's CSS is applied, so the marks are its colours.
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _add_columns(self) -> None:
        arrow = "▼" if self.descending else "▲"
        for title in self._visible:
            self.add_column(self._label(title, arrow), key=title)

    def _label(self, title: str, arrow: str = "▲") -> str:
        return f"{title}{arrow}" if _SORT_COLUMN.get(self.order_by) == title else title

    def _fit(self, rows: Mapping[str, tuple[Any, ...]]) -> tuple[str, ...]:
        """The columns that fit the table's width, by priority, in table order."""
        width = self.scrollable_content_region.width
        if width <= 0:
            return self._visible
        pad = 2 * self.cell_padding
        need: dict[str, int] = {}
        for index, title in enumerate(_COLUMNS):
            cells = [cell_len(str(cells[index])) for cells in rows.values()]
            need[title] = max([cell_len(self._label(title)), *cells]) + pad
        shown: set[str] = set()
        used = 0
        for rank, title in enumerate(_PRIORITY):
            if rank >= _KEPT and used + need[title] > width:
                break
            shown.add(title)
            used += need[title]
        return tuple(t for t in _COLUMNS if t in shown)

    def on_resize(self) -> None:
        if self._fit(self._cells) != self._visible:
            self._redraw(rebuild=True)

    def _shown_cells(self, cells: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(c for c, t in zip(cells, _COLUMNS, strict=True) if t in self._visible)

    def _mark_styles(self) -> dict[str, Style]:
        """The theme's style of each mark (component classes, so theme variables)."""
        return {
            mark: self.get_component_rich_style(f"domains-table--{mark}", partial=True)
            for mark in _MARKS
        }

    def _theme_changed(self, _theme: object) -> None:
        marks = self._mark_styles()
        if marks != self._marks:  # the cells are text in the old colours: draw them again
            self._marks = marks
            self._redraw(rebuild=True)

    @property
    def domains(self) -> list[Mapping[str, Any]]:
        """The domains currently listed (after the filter, in the shown order)."""
        return list(self._shown)

    def _matches(self, d: Mapping[str, Any]) -> bool:
        if not self._filter:
            return True
        hay = f"{d.get('name')} {d.get('seclabel_name')} {d.get('tag_name')} {d.get('run_state')}"
        return self._filter in hay.lower()

    def rate(self, name: str) -> float:
        """Violations per second of a domain between the last two refreshes."""
        return self._rates.get(name, (0, 0.0, 0.0))[2]

    def set_domains(self, domains: Iterable[Mapping[str, Any]]) -> None:
        """Replaces the rows, keeping the cursor on the same domain."""
        self._domains = list(domains)
        now = time.monotonic()
        rates: dict[str, tuple[int, float, float]] = {}
        for d in self._domains:
            name, count = str(d.get("name")), int(d.get("violations") or 0)
            before = self._rates.get(name)
            if before is None or count < before[0]:
                rates[name] = (count, now, 0.0)
            elif count == before[0]:
                # Unchanged: the rate decays only once a refresh interval has passed.
                rates[name] = before if now - before[1] < 5 else (count, before[1], 0.0)
            else:
                rates[name] = (count, now, (count - before[0]) / max(now - before[1], 0.1))
        self._rates = rates
        self._redraw()

    def set_filter(self, text: str) -> None:
        """Applies a `/` filter."""
        self._filter = text.strip().lower()
        self._redraw()

    def on_show(self) -> None:
        if self._behind:
            self._redraw()

    def sort_by(self, column: str) -> None:
        """Sorts by ``name``, ``cpu``, ``mem``, ``viol`` (rate, then count) or ``domid``;
        the same column again reverses the order."""
        if column not in SORTS:
            raise ValueError(f"unknown sort {column!r}")
        if column == self.order_by:
            self.descending = not self.descending
        else:
            # Biggest first for the numbers an operator hunts for; names A to Z.
            self.order_by, self.descending = column, column in {"cpu", "mem", "viol"}
        self._redraw(rebuild=True)

    def _ordered(self) -> list[Mapping[str, Any]]:
        shown = [d for d in self._domains if self._matches(d)]
        if self.order_by == "domid":
            # Running domains by domid first, then the stopped ones by name.
            return sorted(
                shown,
                key=lambda d: (
                    d.get("domid") in ("", None),
                    str(d.get("domid", "")).zfill(6),
                    str(d.get("name", "")),
                ),
            )
        keys: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "name": lambda d: str(d.get("name", "")).lower(),
            "cpu": lambda d: float(d.get("cpu_s") or 0),
            "mem": lambda d: float(d.get("mem_mb") or 0),
            "viol": lambda d: (self.rate(str(d.get("name"))), int(d.get("violations") or 0)),
        }
        ordered = sorted(shown, key=lambda d: str(d.get("name", "")))  # ties by name
        return sorted(ordered, key=keys[self.order_by], reverse=self.descending)

    def _row(self, d: Mapping[str, Any]) -> tuple[Any, ...]:
        marks = self._marks
        run = str(d.get("run_state", ""))
        violations = int(d.get("violations") or 0)
        rate = self.rate(str(d.get("name")))
        # The MSM stops a domain by pausing it at its violation limit; a domain shut
        # down (by anyone) is just shut down, whatever the flag still says.
        by_msm = " (MSM)" if d.get("stopped_by_msm") and run == "paused" else ""
        return (
            str(d.get("domid", "")),
            str(d.get("name", "")),
            str(d.get("state", "")),
            Text(run + by_msm, style=marks.get(run, "") if run in _RUN_MARKS else ""),
            str(d.get("mem_mb", "")),
            str(d.get("vcpus", "")),
            f"{float(d.get('cpu_s') or 0):.1f}",
            str(d.get("seclabel_name") or ""),
            str(d.get("tag_name") or ""),
            Text(
                f"{violations} +{rate:.0f}/s" if rate >= 0.5 else str(violations),
                style=marks.get("violations", "") if violations else "",
            ),
        )

    def _redraw(self, *, rebuild: bool = False) -> None:
        if not self.is_mounted:
            # A link change can hand the domains over after the view was added and before
            # on_mount gave the table its columns: rows then have nowhere to go.
            self._behind = True
            return
        if not rebuild and self.columns and not displayed(self):
            self._behind = True  # nobody sees it: its cells are drawn when it is shown
            return
        self._behind = False
        keep = self.selected()
        keep_name = keep.get("name") if keep else None
        ordered = self._ordered()
        rows = {str(d.get("name")): self._row(d) for d in ordered}
        same_rows = [str(d.get("name")) for d in ordered] == [
            str(d.get("name")) for d in self._shown
        ]
        self._shown = ordered
        visible = self._fit(rows)
        if visible != self._visible:
            self._visible, rebuild = visible, True
        if same_rows and not rebuild and self.columns:
            # Same domains in the same order: only the cells that changed are redrawn.
            changed: dict[str, dict[str, Any]] = {}
            for name, cells in rows.items():
                old = self._cells.get(name)
                if old == cells:
                    continue
                for title, value, before in zip(_COLUMNS, cells, old or (), strict=False):
                    if value != before and title in self._visible:
                        changed.setdefault(name, {})[title] = value
            self._cells = rows
            if changed and not self._patch_cells(changed):
                for name, cells_of in changed.items():
                    for title, value in cells_of.items():
                        self.update_cell(name, title, value, update_width=True)
            return
        self._cells = rows
        self.clear(columns=rebuild)
        if rebuild:
            self._add_columns()
        target = 0
        for index, (name, cells) in enumerate(rows.items()):
            self.add_row(*self._shown_cells(cells), key=name)
            if name == keep_name:
                target = index
        if self.row_count:
            self.move_cursor(row=target)

    def _patch_cells(self, changed: Mapping[str, Mapping[str, Any]]) -> bool:
        """Puts new values in cells and draws only those cells' rows again.

        DataTable's ``update_cell`` counts an update that keys every render cache, so each
        changed CPU-s cell rendered all cells of the table again (the Domains view's main
        idle cost: the running domains' CPU seconds change with every sample). Here only
        the changed cells' cache entries and their rows' lines are dropped. False (nothing
        done) when a value is wider than its column, which then has to grow, or when the
        table's internals are not the ones this was written against.
        """
        try:
            rows = {RowKey(name): dict(cells) for name, cells in changed.items()}
            for row_key, cells in rows.items():
                if row_key not in self._row_locations:
                    return False
                for title, value in cells.items():
                    column = self.columns.get(ColumnKey(title))
                    width = value.cell_len if isinstance(value, Text) else cell_len(str(value))
                    if column is None or width > column.content_width:
                        return False
            indexes = {int(self._row_locations.get(row_key) or 0) for row_key in rows}
            regions = [self._get_row_region(index) for index in indexes]
            for row_key, cells in rows.items():
                data = self._data[row_key]
                for title, value in cells.items():
                    data[ColumnKey(title)] = value
            _drop(self._cell_render_cache, lambda k: k[1] in rows.get(k[0], ()))
            _drop(self._row_render_cache, lambda k: k[0] in rows)
            _drop(self._row_renderable_cache, lambda k: k[1] in indexes)
            _drop(self._line_cache, lambda k: any(r.y <= k[0] < r.bottom for r in regions))
        except AttributeError:  # another Textual: the general way
            return False
        for index in indexes:
            self.refresh_row(index)
        return True

    def selected(self) -> Mapping[str, Any] | None:
        """The domain under the cursor."""
        shown = self._shown
        if not shown or not self.row_count:
            return None
        return shown[min(self.cursor_row, len(shown) - 1)]

    def action_domain(self, method: str) -> None:
        d = self.selected()
        if d is not None:
            self.post_message(self.DomainAction(method, d))

    def action_xl_config(self) -> None:
        d = self.selected()
        if d is not None:
            self.post_message(self.Show("xl_config", d))

    def action_vnc(self) -> None:
        d = self.selected()
        if d is not None:
            self.post_message(self.Show("vnc", d))

    def action_sort_by(self, column: str) -> None:
        self.sort_by(column)

    def action_list_first(self) -> None:
        self.action_scroll_top()

    def action_list_last(self) -> None:
        self.action_scroll_bottom()

    def action_clear_filter(self) -> None:
        self.post_message(ClearFilter())
