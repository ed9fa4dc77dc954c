"""Pick which hypercall profiles of a file to import; clashes are replaced only on confirm."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from xenon_tui._errors import ImportFileError
from xenon_tui._profile_io import Fit, fit, merged
from xenon_tui.dialogs._basic import ConfirmDialog

if TYPE_CHECKING:
    from xps.policy import HypercallProfile, Policy


def new_errors(base: Policy, candidate: Policy) -> list[str]:
    """``xps.policy.validate`` errors of ``candidate`` that ``base`` does not have."""
    from xps.policy import validate

    def errors(policy: Policy) -> list[str]:
        return [
            f"{f.message} [{f.code}]"
            for f in validate(policy)
            if str(getattr(f, "severity", "error")).lower().endswith("error")
        ]

    known = set(errors(base))
    return [e for e in errors(candidate) if e not in known]


class ProfileImportScreen(ModalScreen["Policy | None"]):
    """The profiles of a file with how each fits; dismisses with the policy to stage."""

    DEFAULT_CSS = """
    ProfileImportScreen { align: center middle; background: $background 60%; }
    ProfileImportScreen > Vertical { width: 95%; height: 80%; border: thick $primary;
                                     background: $surface; padding: 0 1; }
    ProfileImportScreen .title { text-style: bold; color: $primary; }
    ProfileImportScreen Label { width: 100%; }
    ProfileImportScreen DataTable { height: 1fr; }
    ProfileImportScreen #profile-import-report { height: auto; max-height: 12; }
    ProfileImportScreen > .profile-import-screen--replace {
        color: $status-text; background: $status-warn; text-style: bold;
    }
    ProfileImportScreen > .profile-import-screen--chosen {
        color: $status-text; background: $status-ok; text-style: bold;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "profile-import-screen--replace",
        "profile-import-screen--chosen",
    }
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("space", "pick", "Select"),
        Binding("r", "replace", "Replace…"),
        Binding("ctrl+s", "import_selected", "Import"),
    ]

    def __init__(self, policy: Policy, profiles: tuple[HypercallProfile, ...], source: str) -> None:
        super().__init__()
        self.policy, self.profiles, self.source = policy, profiles, source
        self.fits = {p.name: fit(policy, p) for p in profiles}
        self.chosen = {p.name for p in profiles if self.fits[p.name] is Fit.NEW}
        self.replace: set[str] = set()
        self.candidate: Policy | None = None
        self.errors: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Import hypercall profiles — {self.source}", classes="title", markup=False)
            yield Label(
                "Space: select   r: replace a clashing profile (asks first)   "
                "Ctrl+S: import (staged)   Esc: cancel",
                markup=False,
            )
            yield DataTable(id="import-profiles", cursor_type="row")
            yield Static("", id="profile-import-report", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("", "Name", "UUID", "Hypercalls", "Fits")
        self.check()

    def check(self) -> None:
        """Recomputes the staged candidate and its validation findings, then redraws."""
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        replace_style = self.get_component_rich_style(
            "profile-import-screen--replace", partial=True
        )
        chosen_style = self.get_component_rich_style("profile-import-screen--chosen", partial=True)
        for p in self.profiles:
            how = self.fits[p.name]
            mark = (
                Text(" R ", style=replace_style)
                if p.name in self.replace
                else Text(" ✓ ", style=chosen_style)
                if p.name in self.chosen
                else Text("   ")
            )
            status = "replace" if p.name in self.replace else how.value
            table.add_row(mark, p.name, str(p.id), str(len(p.hypercalls)), status, key=p.name)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        picked = [p for p in self.profiles if p.name in self.chosen]
        try:
            self.candidate = merged(self.policy, picked, self.replace)
            self.errors = new_errors(self.policy, self.candidate)
        except ImportFileError as exc:
            self.candidate, self.errors = None, [exc.message]
        except Exception as exc:  # a model rule rejected the combination
            self.candidate, self.errors = None, [str(exc)]
        if not picked:
            verdict = "Nothing selected."
        elif self.errors:
            verdict = f"{len(self.errors)} validation error(s); fix the file or deselect:"
        else:
            verdict = f"{len(picked)} profile(s) selected; valid. Ctrl+S stages them."
        report = "\n".join([verdict, *self.errors[:8]])
        self.query_one("#profile-import-report", Static).update(report)

    def _current(self) -> HypercallProfile | None:
        table = self.query_one(DataTable)
        return self.profiles[table.cursor_row] if table.row_count else None

    def action_pick(self) -> None:
        profile = self._current()
        if profile is None:
            return
        how = self.fits[profile.name]
        if profile.name in self.chosen:
            self.chosen.discard(profile.name)
            self.replace.discard(profile.name)
        elif how is Fit.NEW:
            self.chosen.add(profile.name)
        elif how is Fit.SAME:
            self.notify(f"{profile.name} is already in the policy.", title="Nothing to import")
            return
        else:
            self.notify(
                f"{profile.name}: {how.value}. Press r to replace it (asks first).",
                title="Clash",
                severity="warning",
            )
            return
        self.check()

    @work(group="profile-replace", exclusive=True)
    async def action_replace(self) -> None:
        profile = self._current()
        if profile is None:
            return
        how = self.fits[profile.name]
        if how not in (Fit.NAME_CLASH, Fit.UUID_CLASH):
            why = "cannot be replaced" if how is Fit.BOTH_CLASH else "does not clash"
            self.notify(f"{profile.name}: {how.value}; {why}.", title="Replace", severity="warning")
            return
        keep = "its UUID (SecLabels keep pointing at it)"
        ok = await self.app.push_screen_wait(
            ConfirmDialog(
                f"Replace profile {profile.name}?",
                f"The profile in the policy ({how.value}) is overwritten by the one in "
                f"{self.source}; it keeps {keep}. The change is only staged.",
                confirm="Replace",
            )
        )
        if ok:
            self.replace.add(profile.name)
            self.chosen.add(profile.name)
            self.check()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_pick()

    def action_import_selected(self) -> None:
        if self.candidate is None or self.errors or not self.chosen:
            reason = "; ".join(self.errors[:2]) or "select at least one new profile"
            self.notify(reason, title="Not imported", severity="warning")
            return
        self.dismiss(self.candidate)

    def action_cancel(self) -> None:
        self.dismiss(None)
