"""The activation confirmation with the host's policy what-if above the staged diff.

The what-if (XPS ``WhatIf``) comes first: behaviour allowed now that the staged policy
would deny (in the error colour, each denied call's text), then the recorded violations
it would fix, running domains it would refuse, and channel/device pairs that change.
When it would deny anything allowed now, the confirmation needs the host's name typed
(like Destroy); otherwise Make active stays one key. A what-if that failed says so and
the operator still decides (the activation itself is the host's decision).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from xenon_tui.dialogs._basic import Body, ConfirmDialog, _body

__all__ = ["WhatIfConfirmDialog", "WhatIfReport", "fleet_whatif_lines", "whatif_lines"]

TOP_DENIED = 20
"""Denied calls listed one per line; the rest are counted."""
TOP_FIXED = 5
"""Fixed violation kinds listed (the most frequent first)."""
TOP_PAIRS = 10
"""Domains, channel and device pairs listed per section."""

Line = tuple[str, str]
"""(CSS class, text): ``deny`` (error colour, bold), ``ok``, ``warn``, ``head``, ``item``."""


def _more(lines: list[Line], total: int, shown: int, noun: str) -> None:
    if total > shown:
        lines.append(("item", f"  … and {total - shown:,} more {noun}"))


def _fixed_line(row: Mapping[str, Any]) -> str:
    call = f"{row.get('hypercall_name') or row.get('hypercall')}/{row.get('subop')}"
    what = {"channel": "channel", "device": "device"}.get(str(row.get("kind")), call)
    if row.get("kind") in ("channel", "device") and row.get("peer") is not None:
        what = f"{what} to {row.get('peer')}"
    return f"  {row.get('domain')}: {row.get('kind')} {what}: {int(row.get('count') or 0):,}"


def _verb(active: Any, staged: Any) -> str:
    def word(allowed: Any) -> str:
        return "allowed" if allowed else "denied"

    return f"{word(active)} → {word(staged)}"


def whatif_lines(result: Mapping[str, Any] | None, error: str | None = None) -> list[Line]:
    """The what-if as classed lines, the headline first.

    ``error``: why the what-if could not be had (then ``result`` is ignored).
    """
    if error is not None or result is None:
        why = error or "no answer"
        return [
            ("warn", f"What-if unavailable: {why}"),
            ("item", "The host still checks the policy when it makes it active; you decide."),
        ]
    minutes = int(result.get("minutes") or 0)
    denied: Sequence[Mapping[str, Any]] = result.get("denied_calls") or []
    domains: Sequence[Mapping[str, Any]] = result.get("domains") or []
    channels: Sequence[Mapping[str, Any]] = result.get("channels") or []
    devices: Sequence[Mapping[str, Any]] = result.get("devices") or []
    fixed: Sequence[Mapping[str, Any]] = result.get("fixed") or []
    lines: list[Line] = []
    if result.get("denies_allowed"):
        lines.append(("deny", f"⚠ Would deny behaviour allowed now (last {minutes} min):"))
        for row in denied[:TOP_DENIED]:
            lines.append(("deny", f"  {row.get('text')}"))
        _more(lines, len(denied), TOP_DENIED, "denied calls")
        for row in domains[:TOP_PAIRS]:
            lines.append(("deny", f"  {row.get('text')}"))
        lost_channels = [c for c in channels if c.get("active") and not c.get("staged")]
        lost_devices = [d for d in devices if d.get("active") and not d.get("staged")]
        for c in lost_channels[:TOP_PAIRS]:
            lines.append(("deny", f"  channel {c.get('a')} ↔ {c.get('b')} would be denied"))
        for d in lost_devices[:TOP_PAIRS]:
            lines.append(
                ("deny", f"  device {d.get('device')} → {d.get('domain')} would be denied")
            )
    else:
        lines.append(("ok", f"Denies nothing allowed in the last {minutes} min."))
    if fixed:
        total = sum(int(f.get("count") or 0) for f in fixed)
        noun = "violation" if total == 1 else "violations"
        lines.append(("head", f"Fixes {total:,} recorded {noun}:"))
        top = sorted(fixed, key=lambda f: -int(f.get("count") or 0))[:TOP_FIXED]
        lines.extend(("item", _fixed_line(f)) for f in top)
        _more(lines, len(fixed), TOP_FIXED, "kinds")
    else:
        lines.append(("item", "Fixes no recorded violation."))
    if domains:
        lines.append(("head", f"Running domains refused: {len(domains)}"))
        lines.extend(
            ("item", f"  {d.get('domain')}: {d.get('outcome')}") for d in domains[:TOP_PAIRS]
        )
        _more(lines, len(domains), TOP_PAIRS, "domains")
    if channels:
        lines.append(("head", f"Channel changes: {len(channels)}"))
        lines.extend(
            ("item", f"  {c.get('a')} ↔ {c.get('b')}: {_verb(c.get('active'), c.get('staged'))}")
            for c in channels[:TOP_PAIRS]
        )
        _more(lines, len(channels), TOP_PAIRS, "pairs")
    if devices:
        lines.append(("head", f"Device changes: {len(devices)}"))
        lines.extend(
            (
                "item",
                f"  {d.get('device')} → {d.get('domain')}: "
                f"{_verb(d.get('active'), d.get('staged'))}",
            )
            for d in devices[:TOP_PAIRS]
        )
        _more(lines, len(devices), TOP_PAIRS, "pairs")
    skipped = int(result.get("rate_not_evaluated") or 0)
    if skipped:
        lines.append(
            ("item", f"{skipped:,} rate violations not evaluated (rates are not replayed).")
        )
    return _quarantine_lines(result) + lines


def _quarantine_lines(result: Mapping[str, Any]) -> list[Line]:
    """First of all: a quarantine the activation keeps (the policy binds the VM to its
    ordinary SecLabel) or cannot keep (then the host refuses it)."""
    out: list[Line] = []
    refused = result.get("quarantine_refused")
    if refused:
        out.append(("deny", f"⚠ The host will refuse it: {refused}"))
    kept: Sequence[Any] = result.get("quarantines_kept") or []
    if kept:
        out.append(("warn", f"Keeps quarantined (verify releases): {', '.join(map(str, kept))}"))
    return out


def fleet_whatif_lines(answer: Any) -> list[Line]:
    """XE's what-if of a version (``xe.policy.whatif()``: per host) as classed lines: the
    hosts that would deny behaviour allowed now first, then those that could not answer,
    then the rest."""
    hosts = list(answer.hosts)
    denying = [h for h in hosts if h.denies_allowed]
    lines: list[Line] = []
    if denying:
        names = ", ".join(h.host for h in denying)
        lines.append(("deny", f"⚠ Would deny behaviour allowed now on {names}"))
    elif not answer.unanswered:
        lines.append(("ok", f"Denies nothing allowed in the last {answer.minutes} min."))
    if answer.unanswered:
        lines.append(("warn", f"Could not answer: {', '.join(answer.unanswered)}"))

    def order(h: Any) -> tuple[int, str]:
        return (0 if h.denies_allowed else 1 if h.state == "unanswered" else 2, h.host)

    for host in sorted(hosts, key=order):
        if host.state == "unchanged":
            lines.append(("item", f"{host.host}: unchanged"))
        elif host.state != "answered" or host.result is None:
            lines.append(("warn", f"{host.host}: could not answer: {host.error}"))
        else:
            lines.append(("head", f"{host.host}:"))
            lines.extend((cls, f"  {text}") for cls, text in whatif_lines(host.result))
    return lines


class WhatIfReport(Vertical):
    """The what-if findings, one Static per line (classed for colour)."""

    DEFAULT_CSS = """
    WhatIfReport { height: auto; margin-bottom: 1; }
    WhatIfReport Static { height: auto; }
    WhatIfReport .deny { color: $error; text-style: bold; }
    WhatIfReport .warn { color: $warning; text-style: bold; }
    WhatIfReport .ok { color: $success; text-style: bold; }
    WhatIfReport .head { text-style: bold; }
    WhatIfReport .sub { padding-left: 2; }
    """

    def __init__(self, lines: Sequence[Line], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines = list(lines)

    def compose(self) -> ComposeResult:
        for cls, text in self.lines:
            if text.startswith("  "):  # an item: indented as a block (wrapped lines too)
                yield Static(text[2:], markup=False, classes=f"{cls} sub")
            else:
                yield Static(text, markup=False, classes=cls)

    @property
    def text(self) -> str:
        """The report as plain text (one line per finding)."""
        return "\n".join(text for _, text in self.lines)


class WhatIfConfirmDialog(ConfirmDialog):
    """Make active, with the host's what-if above the diff.

    ``expected``: the host name to type before it is made active (when the what-if says
    it would deny behaviour allowed now); None keeps the one-key confirmation (Tab, Enter).
    The body scrolls with the arrows and PageUp/PageDown; the buttons stay docked. When
    the body is cut (at 80x24 the report alone is taller than the dialog) a line above
    the buttons says how much is below (or above, at the end) and which key shows it.
    """

    DEFAULT_CSS = """
    WhatIfConfirmDialog #whatif-foot { height: auto; dock: bottom; }
    WhatIfConfirmDialog #whatif-more { color: $warning; text-style: bold; display: none; }
    WhatIfConfirmDialog #whatif-more.-shown { display: block; }
    WhatIfConfirmDialog #whatif-foot Horizontal { dock: none; margin-top: 0; }
    WhatIfConfirmDialog #typed-error { color: $error; display: none; }
    WhatIfConfirmDialog #typed-error.-shown { display: block; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("up", "scroll_body('up')", "Scroll up", show=False),
        Binding("down", "scroll_body('down')", "Scroll down", show=False),
        Binding("pageup", "scroll_body('page_up')", "Page up", show=False),
        Binding("pagedown", "scroll_body('page_down')", "Page down", show=False),
    ]

    def __init__(
        self,
        title: str,
        report: Sequence[Line],
        body: Body,
        *,
        expected: str | None = None,
        confirm: str = "Make active",
        prompt: str = "Type the host name ({expected}) to make it active:",
    ) -> None:
        super().__init__(title, body, confirm=confirm)
        self.report = list(report)
        self.expected = expected
        self._prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title", markup=False)
            with VerticalScroll(id="confirm-scroll", can_focus=False):
                yield WhatIfReport(self.report, id="whatif")
                yield _body(self._body, "confirm-body")
            with Vertical(id="whatif-foot"):
                yield Static("", id="whatif-more", markup=False)
                if self.expected is not None:
                    yield Label(self._prompt.format(expected=self.expected), markup=False)
                    yield Input(placeholder=self.expected, id="typed")
                    yield Label("", id="typed-error", markup=False)
                with Horizontal():
                    yield Button("Cancel", id="cancel")
                    yield Button(self._confirm, id="confirm", variant="error")

    def on_mount(self) -> None:
        # ConfirmDialog's own on_mount (run after this one) focuses Cancel.
        if self.expected is not None:
            self.call_after_refresh(self.query_one("#typed", Input).focus)
        found = self.query("#confirm-scroll").results(VerticalScroll)
        scroll = next(found, None)
        if scroll is None:  # closed before it was composed
            return
        self.watch(scroll, "scroll_y", self._show_cut, init=False)
        self.watch(scroll, "virtual_size", self._show_cut, init=False)
        self.call_after_refresh(self._show_cut)

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_cut)

    def cut_text(self) -> str:
        """What the line above the buttons says: the body's lines below its visible part
        (``↓ N more lines below (PgDn)``), or at its end those above; "" when it all shows."""
        scroll = self.query_one("#confirm-scroll", VerticalScroll)
        below = max(0, round(scroll.max_scroll_y - scroll.scroll_y))
        above = max(0, round(scroll.scroll_y))
        if below:
            return f"↓ {below:,} more line{'s' if below != 1 else ''} below (PgDn, ↓)"
        if above:
            return f"↑ {above:,} line{'s' if above != 1 else ''} above (PgUp, ↑)"
        return ""

    def _show_cut(self) -> None:
        if not self.is_attached or not self.query("#whatif-more"):
            return
        more = self.query_one("#whatif-more", Static)
        text = self.cut_text()
        shown = more.has_class("-shown")
        more.update(text)
        more.set_class(bool(text), "-shown")
        if shown != bool(text):  # the body's height changed by that line: count again
            self.call_after_refresh(self._show_cut)

    def _typed_ok(self, value: str) -> bool:
        if self.expected is None or value == self.expected:
            return True
        error = self.query_one("#typed-error", Label)
        error.update(f"The name does not match {self.expected!r}; nothing was done.")
        error.add_class("-shown")
        return False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._typed_ok(event.value):
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        event.prevent_default()  # not ConfirmDialog's handler: the typed name is checked
        if event.button.id != "confirm":
            self.dismiss(False)
            return
        typed = self.query_one("#typed", Input).value if self.expected is not None else ""
        if self._typed_ok(typed):
            self.dismiss(True)


WHATIF_TIMEOUT_S = 60.0
"""How long Propagate waits for XE's what-if (XE bounds each host by its own deadline)."""


async def confirm_propagation(screen: Any) -> bool:
    """Before Propagate: XE's what-if of the newest version on every host it reaches.

    Propagate stays one key when it denies nothing and every host answered; otherwise the
    findings are shown, and when a host would deny behaviour allowed now the word
    ``propagate`` must be typed. A what-if that fails says so and the operator decides.
    ``screen`` provides ``data.client`` (an ``XeClient``) and ``ask`` (from a worker).
    """
    from xenon_tui._xe import EnterpriseError, bounded

    try:
        answer = await bounded(screen.data.client.policy.whatif(), WHATIF_TIMEOUT_S)
    except EnterpriseError as exc:
        lines = whatif_lines(None, exc.message)
        title, denies = "Propagate the policy without a what-if?", False
    else:
        if not answer.denies_allowed and not answer.unanswered:
            return True
        lines = fleet_whatif_lines(answer)
        title = f"Propagate policy version {answer.version} to every host?"
        denies = bool(answer.denies_allowed)
    dialog = WhatIfConfirmDialog(
        title,
        lines,
        Static("", id="confirm-body"),
        expected="propagate" if denies else None,
        confirm="Propagate",
        prompt="Type {expected} to propagate it anyway:",
    )
    return bool(await screen.ask(dialog))
