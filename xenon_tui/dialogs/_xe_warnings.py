"""The Policy service warnings dialog (Figure 24): why XE refused a write, finding by finding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from xenon_tui._xe import Finding


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


class PolicyWarningsDialog(ModalScreen[None]):
    """Lists the policy service's findings for a refused write; Escape or Enter closes."""

    DEFAULT_CSS = """
    PolicyWarningsDialog { align: center middle; background: $background 60%; }
    PolicyWarningsDialog > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    PolicyWarningsDialog .title { width: 100%; text-style: bold; color: $warning; }
    PolicyWarningsDialog VerticalScroll { height: auto; max-height: 30; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,enter,q", "close", "Close"),
        Binding("j,down", "scroll('down')", "Down", show=False),
        Binding("k,up", "scroll('up')", "Up", show=False),
    ]

    def __init__(self, title: str, message: str, findings: Sequence[Finding]) -> None:
        super().__init__()
        self._title, self._message, self.findings = title, message, tuple(findings)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Policy service warnings — {self._title}", classes="title", markup=False)
            yield Static(self._message, markup=False, id="warnings-message")
            with VerticalScroll(id="warnings-body"):
                yield Static(findings_text(self.findings), id="warnings")

    def action_scroll(self, how: str) -> None:
        body = self.query_one("#warnings-body", VerticalScroll)
        body.scroll_down() if how == "down" else body.scroll_up()

    def action_close(self) -> None:
        self.dismiss(None)
