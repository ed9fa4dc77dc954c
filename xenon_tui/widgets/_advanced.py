"""Advanced tab (§3.2.1.2): profiles, tags, conflicts, SecLabels, hardware, switches, storage."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from xenon_tui._actions import bindings, check_scoped
from xenon_tui._errors import ConsoleError
from xenon_tui._policy_data import hex_color, policy_of
from xenon_tui.messages import ClearFilter

if TYPE_CHECKING:
    from xenon_tui._state import ServerState
    from xps.policy import Policy

TABS: dict[str, str] = {
    "profiles": "Hypercall Profiles",
    "tags": "Tags",
    "conflicts": "Conflicts",
    "seclabels": "SecLabels",
    "hardware": "Hardware",
    "switches": "Network Switches",
    "storage": "Storage Locations",
}

Row = tuple[str, list[Any], str]  # key, cells, details


def _name(policy: Policy, getter: str, key: Any) -> str:
    try:
        return str(getattr(policy, getter)(key).name)
    except Exception:
        return f"? {key}"


def rows_for(tab: str, policy: Policy) -> tuple[tuple[str, ...], list[Row]]:
    """Column titles and rows (key, cells, details text) of one Advanced sub-tab."""
    from xps.policy import hypercall_name

    if tab == "profiles":
        return ("Name", "Hypercalls", "Families"), [
            (
                str(p.id),
                [p.name, str(len(p.hypercalls)), ",".join(sorted(str(f) for f in p.guest_family))],
                f"{p.name}  {p.id}\n{p.description}\n\nHypercalls:\n"
                + ", ".join(f"{n}:{hypercall_name(n)}" for n in sorted(p.hypercalls))
                + "".join(
                    f"\n  {hypercall_name(nr)} sub-ops: {sorted(ops)}" for nr, ops in p.subops
                ),
            )
            for p in policy.profiles
        ]
    if tab == "tags":
        return ("Name", "Colour", "UUID"), [
            (
                str(t.id),
                [
                    Text(t.name, style=f"bold {hex_color(t.color)}"),
                    Text("■■ " + hex_color(t.color), style=hex_color(t.color)),
                    str(t.id),
                ],
                f"Tag {t.name}\nUUID {t.id}\ncolour {hex_color(t.color)}",
            )
            for t in policy.tags
        ]
    if tab == "conflicts":
        return ("Name", "Level", "Tags"), [
            (
                str(c.id),
                [c.name, str(c.level), ", ".join(_name(policy, "tag", t) for t in c.tags)],
                f"Conflict set {c.name}\nUUID {c.id}\nlevel {c.level}",
            )
            for c in policy.conflicts
        ]
    if tab == "seclabels":
        return ("Name", "Tag", "Profile", "Role", "Rate/ms", "Max viol."), [
            (
                str(s.id),
                [
                    s.name,
                    _name(policy, "tag", s.tag),
                    _name(policy, "profile", s.profile),
                    str(s.role),
                    str(s.max_rate),
                    str(s.max_violations),
                ],
                f"SecLabel {s.name}\nUUID {s.id}",
            )
            for s in policy.seclabels
        ]
    if tab == "hardware":
        hw = policy.hardware
        rows: list[Row] = [
            (f"cpu{c.index}", ["CPU", f"{c.index}: {c.model}", "-"], c.model) for c in hw.cpus
        ]
        rows += [
            (
                d.bdf,
                [
                    "PCI",
                    f"{d.bdf} {d.device_name or d.class_name} ({d.kind})",
                    _name(policy, "tag", d.tag) if d.tag else "unassigned",
                ],
                f"{d.bdf} {d.vendor_name} {d.device_name}",
            )
            for d in hw.pci
        ]
        rows += [
            (
                d.path,
                [
                    "Disk",
                    f"{d.name} {d.path}",
                    _name(policy, "tag", d.tag) if d.tag else "unassigned",
                ],
                d.path,
            )
            for d in hw.disks
        ]
        return ("Kind", "Resource", "Enclave"), rows
    if tab == "switches":
        return ("Name", "Mode", "Tag", "Address", "VIFs"), [
            (
                str(s.id),
                [
                    s.name,
                    str(s.mode),
                    _name(policy, "tag", s.tag),
                    f"{s.ip or ''}/{s.netmask or ''}",
                    str(sum(1 for v in policy.vifs if v.switch == s.id)),
                ],
                f"Switch {s.name} ({s.mode})\ncontroller {s.controller or '-'}\n"
                f"gateway {s.gateway or '-'}  dns {', '.join(s.dns) or '-'}\n\nVIFs:\n"
                + "\n".join(
                    f"  {_name(policy, 'domain', v.domain)}  {v.mac}  {v.ip or 'dhcp'}"
                    for v in policy.vifs
                    if v.switch == s.id
                ),
            )
            for s in policy.switches
        ]
    if tab == "storage":
        return ("Name", "Mode", "Tag", "Base path"), [
            (
                str(loc.id),
                [loc.name, str(loc.mode), _name(policy, "tag", loc.tag), loc.base_path],
                f"Storage {loc.name}\ndriver domain "
                f"{_name(policy, 'domain', loc.driver_domain) if loc.driver_domain else 'dom0'}\n"
                "Domains: "
                + ", ".join(
                    d.name for d in policy.domains if any(k.location == loc.id for k in d.disks)
                ),
            )
            for loc in policy.storage
        ]
    raise KeyError(tab)


# How long show_tab keeps trying to focus a sub-tab's list: 40 x 50 ms.
_FOCUS_TRIES = 40
_FOCUS_RETRY_S = 0.05


class AdvancedTable(DataTable[Any]):
    """One Advanced list; its keys are the object ids."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *bindings("list"),
        *bindings("advanced"),
    ]

    def __init__(self, tab: str) -> None:
        super().__init__(id=f"adv-{tab}", cursor_type="row", zebra_stripes=True)
        self.tab = tab
        self.entries: list[Row] = []

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return check_scoped(self, "advanced", action, parameters)

    def fill(self, columns: Iterable[str], rows: list[Row], needle: str) -> None:
        """Replaces the content (rows whose text contains ``needle``)."""
        self.clear(columns=True)
        self.add_columns(*columns)
        self.entries = [r for r in rows if not needle or needle in " ".join(map(str, r[1])).lower()]
        for key, cells, _ in self.entries:
            self.add_row(*cells, key=key)

    def selected_key(self) -> str | None:
        """Id of the object under the cursor."""
        if not self.entries:
            return None
        return self.entries[min(self.cursor_row, len(self.entries) - 1)][0]

    def action_new_item(self) -> None:
        self.post_message(AdvancedView.Edit(self.tab, "new", None))

    def action_edit_item(self) -> None:
        self.post_message(AdvancedView.Edit(self.tab, "edit", self.selected_key()))

    def action_delete_item(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.post_message(AdvancedView.Edit(self.tab, "delete", key))

    def action_import_profile(self) -> None:
        # Profiles whichever tab runs it (`:import-profile`); the flow shows that tab.
        self.post_message(AdvancedView.Edit("profiles", "import", None))

    def action_export_profile(self) -> None:
        self.post_message(AdvancedView.Edit("profiles", "export", None))

    def action_list_first(self) -> None:
        self.action_scroll_top()

    def action_list_last(self) -> None:
        self.action_scroll_bottom()

    def action_clear_filter(self) -> None:
        self.post_message(ClearFilter())


class AdvancedView(Vertical):
    """The seven Advanced sub-tabs; read-only in Live mode."""

    DEFAULT_CSS = """
    AdvancedView { height: 1fr; }
    AdvancedView #adv-mode { height: auto; padding: 0 1; background: $panel; }
    AdvancedView Horizontal { height: 1fr; }
    AdvancedView AdvancedTable { width: 3fr; }
    AdvancedView .adv-details { width: 2fr; border: round $panel; padding: 0 1;
                                background: $surface; }
    AdvancedView.-stacked .adv-body { layout: vertical; }
    AdvancedView.-stacked AdvancedTable { width: 1fr; height: 3fr; }
    AdvancedView.-stacked .adv-details { width: 1fr; height: 2fr; }
    """

    STACK_BELOW = 90
    """Narrower than this (an 80x24 terminal), the details go under the list, not beside it:
    side by side, the list lost its third column and the details wrapped every value."""

    class Edit(Message):
        """A new/edit/delete request on an Advanced list (``key`` = object id)."""

        def __init__(self, tab: str, op: str, key: str | None) -> None:
            super().__init__()
            self.tab, self.op, self.key = tab, op, key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.policy: Policy | None = None
        self.editor = False
        self._filter = ""
        self._focus_wanted: str | None = None
        self._focus_from: Widget | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="adv-mode")
        with TabbedContent(id="adv-tabs"):
            for tab, title in TABS.items():
                with TabPane(title, id=f"adv-pane-{tab}"), Horizontal(classes="adv-body"):
                    yield AdvancedTable(tab)
                    yield Static("", id=f"adv-details-{tab}", classes="adv-details")

    def focus(self, scroll_visible: bool = True) -> AdvancedView:
        self.focus_target().focus(scroll_visible)
        return self

    def focus_target(self) -> AdvancedTable:
        """The widget that takes this view's focus (the visible sub-tab's list)."""
        return self.table(self.active_tab)

    @property
    def active_tab(self) -> str:
        """The visible sub-tab name (``profiles``…)."""
        active = self.query_one("#adv-tabs", TabbedContent).active or "adv-pane-profiles"
        return active.removeprefix("adv-pane-")

    def table(self, tab: str) -> AdvancedTable:
        """The list widget of a sub-tab."""
        return self.query_one(f"#adv-{tab}", AdvancedTable)

    def show_tab(self, tab: str) -> None:
        """Makes a sub-tab visible and focuses its list."""
        self._focus_wanted = tab
        self._focus_from = self.app.focused

        def activate() -> None:
            self.query_one("#adv-tabs", TabbedContent).active = f"adv-pane-{tab}"
            # The pane becomes visible on a later refresh; focus it then.
            self.call_after_refresh(self._settle_focus, _FOCUS_TRIES)

        # A freshly mounted TabbedContent sets its initial tab first; switch after that.
        self.call_after_refresh(activate)

    def _settle_focus(self, tries: int) -> None:
        """Focuses the wanted list until it is shown and keeps the focus.

        On a busy machine the switch, the layout and Textual's own focus repairs (a list
        that is hidden loses its focus, to nothing) land in any order; one focus call
        can be undone by the next refresh. Gives up when the user has moved elsewhere.
        """
        tab = self._focus_wanted
        if tab is None:
            return
        if not all(node.display for node in self.ancestors_with_self if isinstance(node, Widget)):
            self._focus_wanted = None  # another view is shown now: focusing would flip back
            return
        self._restack()
        table = self.table(tab)
        focused = self.app.focused
        if focused is table and self.active_tab == tab and table.region.area:
            self._focus_wanted = None
            return
        if focused not in (None, table, self._focus_from) and not isinstance(
            focused, AdvancedTable
        ):
            self._focus_wanted = None  # the user took the focus elsewhere
            return
        if self.active_tab != tab:
            self.query_one("#adv-tabs", TabbedContent).active = f"adv-pane-{tab}"
        self.screen.set_focus(table)  # at once: a deferred focus could land mid-typing
        if tries > 0:
            self.set_timer(_FOCUS_RETRY_S, lambda: self._settle_focus(tries - 1))

    def select(self, tab: str, key: str) -> None:
        """Moves the cursor of a sub-tab to an object."""
        table = self.table(tab)
        for index, row in enumerate(table.entries):
            if row[0] == key:
                table.move_cursor(row=index)
                break

    def on_resize(self) -> None:
        self._restack()

    def on_mount(self) -> None:
        self.call_after_refresh(self._restack)

    def on_show(self) -> None:
        self.call_after_refresh(self._restack)

    def _restack(self, tries: int = 20) -> None:
        """Puts the details under the list when the view is narrow.

        Not from Resize alone: under load Textual may lay the view out at its first size
        without ever sending it a Resize (its layout map rebuilt early, e.g. when a region
        is read), and the side panel stayed beside a 53-column list at 80x24. So the size
        is also read after the mount, on show and while the focus settles (a view not yet
        laid out tries again after the next refresh, a bounded number of times).
        """
        width = self.size.width
        if width == 0:
            if tries > 0:
                self.call_after_refresh(self._restack, tries - 1)
            return
        self.set_class(width < self.STACK_BELOW, "-stacked")

    def show_policy(self, state: ServerState, *, editor: bool) -> None:
        """Shows the staged policy in Editor mode (else the active one)."""
        self.editor = editor
        try:
            staged = policy_of(state.staged) if editor else None
            self.policy = staged or policy_of(state.policy)
        except ConsoleError:
            self.policy = None  # the Policy tab already reported it
        mode = (
            "Policy Editor: n new, Enter edit, Del remove, I/X import/export profiles"
            " (edits are staged)"
            if editor
            else "Live mode: read-only (press m for Policy Editor mode)"
        )
        self.query_one("#adv-mode", Static).update(mode)
        self._fill()

    def set_filter(self, text: str) -> None:
        """Filters every list."""
        self._filter = text.strip().lower()
        self._fill()

    def _fill(self) -> None:
        for tab in TABS:
            table = self.table(tab)
            if self.policy is None:
                table.fill(("(no policy)",), [], "")
                continue
            columns, rows = rows_for(tab, self.policy)
            table.fill(columns, rows, self._filter)
            self._details(tab)

    def _details(self, tab: str) -> None:
        table = self.table(tab)
        index = table.cursor_row
        text = table.entries[index][2] if 0 <= index < len(table.entries) else ""
        self.query_one(f"#adv-details-{tab}", Static).update(Text(text))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(event.data_table, AdvancedTable):
            self._details(event.data_table.tab)
