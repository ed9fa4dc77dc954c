"""The Policy service warnings dialog (Figure 24): why XE refused a write, finding by finding,
and the fix where one is obvious ("create a SecLabel in Enclave A first" opens Add SecLabel
for Enclave A)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from xenon_tui._xe import Finding


@dataclass(frozen=True)
class Fix:
    """An obvious fix of a finding: ``kind`` is ``seclabel`` (add a SecLabel to
    ``enclave``) or ``tag`` (assign ``enclave`` to a host)."""

    kind: str
    enclave: str
    title: str


def finding_fix(finding: Finding) -> Fix | None:
    """The obvious fix of a finding, where there is one (from its code and objects)."""
    objects = finding.objects
    if finding.code == "XE-VM-NO-SECLABEL" and len(objects) >= 2:
        return Fix("seclabel", objects[1], f"Create a SecLabel in {objects[1]} first")
    if finding.code == "XE-ENCLAVE-NO-HOST" and objects:
        return Fix("tag", objects[0], f"Assign {objects[0]} to a host (Add tag to host)")
    return None


def findings_fixes(findings: Sequence[Finding]) -> list[Fix]:
    """Each distinct fix of these findings, in their order."""
    fixes: list[Fix] = []
    for f in findings:
        fix = finding_fix(f)
        if fix is not None and fix not in fixes:
            fixes.append(fix)
    return fixes


def findings_text(findings: Sequence[Finding]) -> Text:
    """Each finding: its code, its message, the objects by name, and the hint if any."""
    text = Text()
    for i, f in enumerate(findings):
        if i:
            text.append("\n\n")
        text.append(f.code, style="bold")
        text.append(f"  {f.message}")
        if f.objects:
            text.append("\n  objects: ", style="dim")
            text.append(", ".join(f.objects))
        if f.hint:
            text.append(f"\n  fix: {f.hint}", style="italic")
    return text


class PolicyWarningsDialog(ModalScreen[Fix | None]):
    """Lists the policy service's findings for a refused write; Escape closes.

    Where a finding has an obvious fix the dialog offers it: Enter dismisses with the
    highlighted :class:`Fix` (the flow opens it, then returns to the refused action).
    Without one, Enter closes too.
    """

    DEFAULT_CSS = """
    PolicyWarningsDialog { align: center middle; background: $background 60%; }
    PolicyWarningsDialog > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    PolicyWarningsDialog .title { width: 100%; text-style: bold; color: $warning; }
    PolicyWarningsDialog VerticalScroll { height: auto; max-height: 30; margin-top: 1; }
    PolicyWarningsDialog #warnings-fixes { height: auto; max-height: 6; border: none; }
    PolicyWarningsDialog .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "close", "Close"),
        Binding("enter", "fix", "Fix", show=False),
        Binding("j,down", "scroll('down')", "Down", show=False),
        Binding("k,up", "scroll('up')", "Up", show=False),
    ]

    def __init__(self, title: str, message: str, findings: Sequence[Finding]) -> None:
        super().__init__()
        self._title, self._message, self.findings = title, message, tuple(findings)
        self.fixes = findings_fixes(self.findings)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Policy service warnings — {self._title}", classes="title", markup=False)
            yield Static(self._message, markup=False, id="warnings-message")
            with VerticalScroll(id="warnings-body"):
                yield Static(findings_text(self.findings), id="warnings")
            if self.fixes:
                yield OptionList(
                    *(Option(f"→ {fix.title}", id=str(i)) for i, fix in enumerate(self.fixes)),
                    id="warnings-fixes",
                )
                yield Label(
                    "Enter: the fix, then back to what was refused · Esc closes", classes="hint"
                )
            else:
                yield Label("Enter or Esc closes", classes="hint")

    def on_mount(self) -> None:
        if self.fixes:
            options = self.query_one("#warnings-fixes", OptionList)
            options.highlighted = 0
            self.set_focus(options)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.fixes[int(event.option.id or 0)])

    def action_fix(self) -> None:
        if not self.fixes:
            self.dismiss(None)
            return
        at = self.query_one("#warnings-fixes", OptionList).highlighted
        self.dismiss(self.fixes[at or 0])

    def action_scroll(self, how: str) -> None:
        body = self.query_one("#warnings-body", VerticalScroll)
        body.scroll_down() if how == "down" else body.scroll_up()

    def action_close(self) -> None:
        self.dismiss(None)
