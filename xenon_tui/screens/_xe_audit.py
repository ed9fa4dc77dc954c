"""XE's audit log (``L`` on the Enterprise screen): newest first, a page at a time,
filtered by actor, action, object and time, with "verify chain" and its fingerprint."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, NamedTuple, TypeVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from xenon_tui._work import run_flow
from xenon_tui._xe import XeData, XeLink, bounded
from xenon_tui.dialogs import TextDialog
from xenon_tui.dialogs._form import Field, FormDialog, Values
from xenon_tui.widgets._keyline import KeyLine
from xenon_tui.widgets._xe_tasks import counted, printable

if TYPE_CHECKING:
    from enterprise_store.client import AuditRecordOut, AuditVerifyOut

T = TypeVar("T")

PAGE_SIZE = 50
"""Records per page (one request; the log can hold millions)."""


class AuditColumn(NamedTuple):
    """One column of the log: its key, header and width in cells (padding not counted)."""

    key: str
    label: str
    width: int


WIDE_FROM = 100
"""Table widths from here show the record number and roomier columns."""


def audit_columns(width: int) -> list[AuditColumn]:
    """The log's columns for a table ``width`` cells wide (its scrollbar included).

    Fixed widths, not the table's auto widths: those are measured on the table's next
    idle, and a screen read before it showed "Actor" as "syste" and the time as its date
    (the §4.2 walk over SSH, at 80x24 and 160x48). Who, what, when and the outcome keep
    readable widths; the object takes what is left (at least 10 cells, cut with an
    ellipsis) and the record number (also in Details) is dropped below ``WIDE_FROM``."""
    wide = width >= WIDE_FROM
    cols = [
        AuditColumn("ts", "Time (UTC)", 19),
        AuditColumn("actor", "Actor", 16 if wide else 8),
        AuditColumn("action", "Action", 24 if wide else 18),
        AuditColumn("result", "Result", 18 if wide else 9),
    ]
    if wide:
        cols.append(AuditColumn("seq", "#", 7))
    # 2 cells of padding per column and 2 for the vertical scrollbar.
    rest = width - 2 - sum(c.width + 2 for c in cols) - 2
    cols.insert(3, AuditColumn("object", "Object", max(10, min(60, rest))))
    return cols


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, its cut end shown as an ellipsis."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


@dataclass(frozen=True)
class AuditFilter:
    """What the log is narrowed to (empty: everything)."""

    actor: str = ""
    action: str = ""
    object: str = ""
    since: str = ""
    until: str = ""

    def params(self) -> dict[str, str | None]:
        """The list_audit keyword arguments (times in ISO 8601, UTC when none is given)."""
        return {
            "actor": self.actor or None,
            "action": self.action or None,
            "object": self.object or None,
            "since": iso_time(self.since) if self.since else None,
            "until": iso_time(self.until) if self.until else None,
        }

    def describe(self) -> str:
        """``actor=root action=user.`` or ``everything``."""
        parts = [f"{k}={v}" for k, v in self.__dict__.items() if v]
        return " ".join(parts) or "everything"


def iso_time(text: str) -> str:
    """``text`` (``2026-12-07``, ``2026-12-07 04:30``, any ISO 8601) as an aware ISO time.

    Raises:
        ValueError: Not a time.
    """
    when = dt.datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.isoformat()


def filter_problems(values: Values) -> dict[str, str]:
    """Each bad filter field's message (empty: usable)."""
    errors = {}
    limits = {"actor": 80, "action": 64, "object": 200}
    for name, limit in limits.items():
        value = values[name].strip()
        if len(value) > limit or not value.isprintable():
            errors[name] = f"At most {limit} printable characters."
    for name in ("since", "until"):
        if values[name].strip():
            try:
                iso_time(values[name])
            except ValueError:
                errors[name] = "A time like 2026-12-07 or 2026-12-07T04:30 (UTC)."
    return errors


def verify_text(result: AuditVerifyOut, alert: str = "bold") -> Text:
    """The verification's outcome: OK or every problem (``alert``: the theme's error
    style), and the fingerprint to keep."""
    text = Text()
    if result.ok:
        text.append(f"The chain is intact: {result.count} records verified.\n", style="bold")
    else:
        text.append(f"The chain is BROKEN ({result.count} records read):\n", style=alert)
        for p in result.problems:
            text.append(f"  #{p.seq} {p.code}: {printable(p.message)}\n")
        if result.truncated_problems:
            text.append("  … more problems not listed\n")
    text.append("\nFingerprint (keep it elsewhere; a later check proves it is still in "
                "the chain):\n")  # fmt: skip
    text.append(result.fingerprint, style="bold")
    return text


def record_text(r: AuditRecordOut) -> Text:
    """One record in full: who, what, result, details and its place in the chain."""
    text = Text()
    for label, value in (
        ("seq", r.seq), ("time", r.ts.isoformat()), ("actor", r.actor), ("source", r.source),
        ("action", r.action), ("object", r.object), ("result", r.result),
        ("enclaves", ", ".join(r.enclaves) or "—"), ("hash", r.hash), ("prev", r.prev_hash),
    ):  # fmt: skip
        text.append(f"{label:>9}  ", style="bold")
        text.append(printable(value, 300) + "\n")
    text.append("  details\n", style="bold")
    details = json.dumps(r.details, indent=2, sort_keys=True, default=str)
    text.append("".join(c if c.isprintable() or c == "\n" else " " for c in details[:4000]))
    return text


class XeAuditScreen(Screen[None]):
    """The audit log, newest first, one page at a time.

    Args:
        data: The session's XE data access.
        link: The session's link (shown in the title).
    """

    DEFAULT_CSS = """
    XeAuditScreen #audit-title { dock: top; height: 1; background: $panel; padding: 0 1; }
    XeAuditScreen #audit-filter { height: 1; padding: 0 1; color: $text-muted; }
    XeAuditScreen #audit { height: 1fr; }
    XeAuditScreen #audit-status { height: auto; max-height: 3; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "back", "Back", show=False, id="audit.back"),
        Binding("f", "filter", "Filter", id="audit.filter"),
        Binding("n,pagedown", "older", "Older", id="audit.older"),
        Binding("b,pageup", "newer", "Newer", id="audit.newer"),
        Binding("v", "verify", "Verify chain", id="audit.verify"),
        Binding("d", "details", "Details", id="audit.details"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="audit.refresh"),
    ]

    def __init__(self, data: XeData, link: XeLink) -> None:
        super().__init__()
        self.data, self.link = data, link
        self.filter = AuditFilter()
        self.records: list[AuditRecordOut] = []
        self.cursors: list[str | None] = [None]
        """The cursor of every page read so far (the first is None); the last is shown."""
        self.next_cursor: str | None = None
        self.loads = 0  # finished loads (tests wait on it)
        self.page_size = PAGE_SIZE
        self.last_verify: AuditVerifyOut | None = None
        self.columns: list[AuditColumn] = []
        """The columns drawn now (they follow the screen's width)."""

    def compose(self) -> ComposeResult:
        title = Text("⛨ Audit log", style="bold")
        title.append(f" — {self.link.user} ({self.link.role}) · newest first · Esc back")
        yield Static(title, id="audit-title")
        yield Static("", id="audit-filter")
        table: DataTable[str | Text] = DataTable(id="audit", cursor_type="row")
        yield table
        yield Static("reading the audit log…", id="audit-status")
        yield KeyLine(id="audit-keys")

    def on_mount(self) -> None:
        table = self.query_one("#audit", DataTable)
        self._set_columns(self.app.size.width)
        table.focus()
        self._read()

    def on_resize(self, event: events.Resize) -> None:
        if audit_columns(event.size.width) != self.columns:
            self._set_columns(event.size.width)
            self._show(keep_cursor=True)

    def _set_columns(self, width: int) -> None:
        table = self.query_one("#audit", DataTable)
        table.clear(columns=True)
        self.columns = audit_columns(width)
        for c in self.columns:
            table.add_column(c.label, key=c.key, width=c.width)

    # -- reading -----------------------------------------------------------------------------

    def _read(self) -> None:
        run_flow(self, "xe-audit", self._load)

    async def _load(self) -> None:
        try:
            page = await bounded(
                self.data.client.list_audit(
                    limit=self.page_size, cursor=self.cursors[-1], **self.filter.params()
                )
            )
        finally:
            self.loads += 1
        self.records, self.next_cursor = list(page.items), page.next_cursor
        self._show()

    def _show(self, *, keep_cursor: bool = False) -> None:
        table = self.query_one("#audit", DataTable)
        row = table.cursor_row if keep_cursor else 0
        table.clear()
        for r in self.records:
            refused = r.result != "ok"
            cells: dict[str, str | Text] = {
                "ts": r.ts.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "actor": printable(r.actor, 80),
                "action": printable(r.action, 64),
                "object": printable(r.object, 200),
                "result": printable(r.result, 64),
                "seq": str(r.seq),
            }
            shown: list[str | Text] = []
            for c in self.columns:
                value = clip(str(cells[c.key]), c.width)
                style = self._alert() if c.key == "result" and refused else ""
                shown.append(Text(value, style=style) if style else value)
            table.add_row(*shown, key=str(r.seq))
        if self.records:
            table.move_cursor(row=min(row, len(self.records) - 1))
        self.query_one("#audit-filter", Static).update(
            Text(f"Filter: {printable(self.filter.describe())}  (f changes it)")
        )
        page = len(self.cursors)
        more = "n: older" if self.next_cursor else "the oldest page"
        back = " · b: newer" if page > 1 else ""
        self._status(f"Page {page} · {counted(len(self.records), 'record')} · {more}{back}")

    def _status(self, text: str) -> None:
        self.query_one("#audit-status", Static).update(Text(text))

    def current(self) -> AuditRecordOut | None:
        """The record under the cursor."""
        table = self.query_one("#audit", DataTable)
        if not self.records:
            return None
        return self.records[min(table.cursor_row, len(self.records) - 1)]

    # -- keys --------------------------------------------------------------------------------

    async def ask(self, dialog: ModalScreen[T]) -> T:
        """Shows a dialog and waits for its value (only from a worker)."""
        return await self.app.push_screen_wait(dialog)

    def action_back(self) -> None:
        self.dismiss(None)

    def _alert(self) -> str:
        """The theme's error colour, bold (refusals, a broken chain)."""
        return f"bold {self.app.theme_variables['error']}"

    def show_help(self) -> None:
        """`?`: this screen's keys, from its bindings."""
        from xenon_tui.dialogs._xe_help import keys_help

        self.app.push_screen(keys_help(self, "Audit log"))

    def action_refresh(self) -> None:
        self._read()

    def action_older(self) -> None:
        if self.next_cursor is not None:
            self.cursors.append(self.next_cursor)
            self._read()

    def action_newer(self) -> None:
        if len(self.cursors) > 1:
            self.cursors.pop()
            self._read()

    def action_filter(self) -> None:
        run_flow(self, "xe-audit-filter", self._ask_filter)

    async def _ask_filter(self) -> None:
        f = self.filter
        fields = [
            Field("actor", "Actor (user name)", f.actor),
            Field("action", "Action", f.action, hint="exact, or a prefix ending in '.' (user.)"),
            Field("object", "Object", f.object),
            Field("since", "Since (UTC)", f.since, hint="2026-12-07 or 2026-12-07T04:30"),
            Field("until", "Until (UTC)", f.until),
        ]
        values = await self.ask(FormDialog("Filter the audit log", fields, filter_problems))
        if values is None:
            return
        self.filter = replace(f, **{k: v.strip() for k, v in values.items()})
        self.cursors = [None]
        await self._load()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    def action_details(self) -> None:
        record = self.current()
        if record is not None:
            self.app.push_screen(TextDialog(f"Audit record #{record.seq}", record_text(record)))

    def action_verify(self) -> None:
        run_flow(self, "xe-audit-verify", self._verify)

    async def _verify(self) -> None:
        self._status("Verifying the audit chain…")
        result = await bounded(self.data.client.verify_audit())
        self.last_verify = result
        word = "intact" if result.ok else "BROKEN"
        self._status(f"Chain {word}: {result.count} records · fingerprint {result.fingerprint}")
        await self.ask(TextDialog("Audit chain", verify_text(result, self._alert())))


__all__ = [
    "AuditColumn",
    "AuditFilter",
    "XeAuditScreen",
    "audit_columns",
    "clip",
    "iso_time",
    "verify_text",
]
