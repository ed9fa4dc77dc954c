"""Live-mode domains list: run state per domain and the lifecycle actions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from xenon_tui._actions import bindings, check_scoped

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
_RUN_MARKS = ("running", "paused", "shutdown")  # run states drawn in a colour
_MARKS = (*_RUN_MARKS, "violations")


class DomainsTable(DataTable[Any]):
    """One row per domain from ``GetDomainRunStates``, filterable with `/`."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *bindings("domains")
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
        self._filter = ""
        self._marks: dict[str, Style] = {}

    def on_mount(self) -> None:
        self._marks = self._mark_styles()
        self.add_columns(*_COLUMNS)
        # Published after the new theme's CSS is applied, so the marks are its colours.
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

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
            self._redraw()

    @property
    def domains(self) -> list[Mapping[str, Any]]:
        """The domains currently listed (after the filter)."""
        return [d for d in self._domains if self._matches(d)]

    def _matches(self, d: Mapping[str, Any]) -> bool:
        if not self._filter:
            return True
        hay = f"{d.get('name')} {d.get('seclabel_name')} {d.get('tag_name')} {d.get('run_state')}"
        return self._filter in hay.lower()

    def set_domains(self, domains: Iterable[Mapping[str, Any]]) -> None:
        """Replaces the rows, keeping the cursor on the same domain."""
        # Running domains by domid first, then the stopped ones by name.
        self._domains = sorted(
            domains,
            key=lambda d: (
                d.get("domid") in ("", None),
                str(d.get("domid", "")).zfill(6),
                str(d.get("name", "")),
            ),
        )
        self._redraw()

    def set_filter(self, text: str) -> None:
        """Applies a `/` filter."""
        self._filter = text.strip().lower()
        self._redraw()

    def _redraw(self) -> None:
        keep = self.selected()
        keep_name = keep.get("name") if keep else None
        marks = self._marks
        self.clear()
        target = 0
        for index, d in enumerate(self.domains):
            run = str(d.get("run_state", ""))
            violations = int(d.get("violations") or 0)
            self.add_row(
                str(d.get("domid", "")),
                str(d.get("name", "")),
                str(d.get("state", "")),
                Text(
                    run + (" (MSM)" if d.get("stopped_by_msm") else ""),
                    style=marks.get(run, "") if run in _RUN_MARKS else "",
                ),
                str(d.get("mem_mb", "")),
                str(d.get("vcpus", "")),
                f"{float(d.get('cpu_s') or 0):.1f}",
                str(d.get("seclabel_name") or ""),
                str(d.get("tag_name") or ""),
                Text(str(violations), style=marks.get("violations", "") if violations else ""),
                key=str(d.get("name")),
            )
            if d.get("name") == keep_name:
                target = index
        if self.row_count:
            self.move_cursor(row=target)

    def selected(self) -> Mapping[str, Any] | None:
        """The domain under the cursor."""
        shown = self.domains
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
