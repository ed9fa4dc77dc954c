"""Approvals (key ``V``): two-person activation per enclave (issue #14 §4) in the console.

The policy versions waiting for a second admin, oldest first; the selected one's readable
diff of each enclave it changed (approved text → its text), its authors and who may
approve; beside it (below it on a narrow terminal) XE's what-if of that version on every
host it reaches: behaviour allowed now it would deny (the outage), recorded violations it
would fix, running domains refused, channel/device pairs that change. ``a`` approves and
``r`` rejects with a required note (XE checks the role and that the caller authored none
of it, and audits both); approving a version whose what-if denies something allowed now
asks for the names of the hosts that would deny to be typed, and one a host could not
answer for (or whose what-if failed) asks for a confirmation. An auditor or operator may
read the list and the what-if; ``a`` and ``r`` are offered to admins only (hidden, not
just disabled, for other roles). XE enforces the role either way: a decision forced
through anyway is refused and the refusal is shown.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from xenon_tui._work import run_flow
from xenon_tui._xe import EnterpriseError, XeData, bounded
from xenon_tui.dialogs._whatif import (
    WHATIF_TIMEOUT_S,
    Line,
    WhatIfConfirmDialog,
    WhatIfReport,
    fleet_whatif_lines,
)

if TYPE_CHECKING:
    from textual.screen import Screen

    from enterprise_store.client import ApprovalOut, ApprovalsOut, WhatIfOut

    _Base = Screen[None]
else:
    _Base = object

__all__ = ["XeApprovalsFlow", "XeApprovalsScreen", "approval_whatif_lines", "diff_text"]

NARROW = 120
"""Below this width the what-if is shown below the diff instead of beside it."""

_HELP = "↑/↓ version · a approve · r reject (a note is required) · Ctrl+R reload · Esc back"
_READ_HELP = "↑/↓ version · approve/reject: admins only · Ctrl+R reload · Esc back"
DECIDES = "admin"
"""The role offered approve/reject (XE also refuses the authors of the version)."""


def _printable(text: str, limit: int) -> str:
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def diff_text(item: ApprovalOut) -> Text:
    """The item's header and diff as styled text (added green, removed red); no markup is
    read from XE's text."""
    out = Text()
    out.append(f"version {item.version} · enclave {_printable(item.enclave, 80)}", "bold")
    out.append(f" · {item.state} · by {_printable(', '.join(item.authors), 120)}\n")
    if item.state == "pending":
        out.append(f"{_printable(item.approvers, 160)} may approve or reject it\n", "italic")
    elif item.decided_by:
        out.append(f"{item.state} by {_printable(item.decided_by, 80)}: ")
        out.append(_printable(item.note or "", 300) + "\n")
    for line in item.diff.splitlines():
        shown = _printable(line, 400)
        if line.startswith(("+++", "---")):
            out.append(shown + "\n", "bold")
        elif line.startswith("+"):
            out.append(shown + "\n", "green")
        elif line.startswith("-"):
            out.append(shown + "\n", "red")
        elif line.startswith("@@"):
            out.append(shown + "\n", "cyan")
        else:
            out.append(shown + "\n")
    return out


def approval_whatif_lines(version: int, answer: WhatIfOut | EnterpriseError | None) -> list[Line]:
    """The what-if of a waiting ``version`` as the approver reads it (None: being asked)."""
    if answer is None:
        return [
            ("head", f"What-if of version {version}"),
            ("item", "asking the hosts what it would do… (each host has 20 s)"),
        ]
    if isinstance(answer, EnterpriseError):
        return [
            ("head", f"What-if of version {version}"),
            ("warn", f"What-if unavailable: XE: {answer.message}"),
            ("item", "You decide without it (Ctrl+R asks again)."),
        ]
    head = f"What-if of version {version} on its hosts (last {answer.minutes} min)"
    if answer.requested_version is not None and answer.version != version:
        head = (
            f"What-if of version {answer.version}, the newest: it holds version "
            f"{version}'s change and newer ones (last {answer.minutes} min)"
        )
    lines: list[Line] = [("head", head)]
    lines.extend(fleet_whatif_lines(answer))
    return lines


class _Report(WhatIfReport):
    """The what-if pane's report, whose lines are replaced as the answer arrives."""

    def show(self, lines: list[Line]) -> None:
        self.lines = list(lines)
        self.remove_children()
        self.mount_all(list(self.compose()))


class XeApprovalsScreen(ModalScreen[None]):
    """The versions waiting for approval, the diff of the selected one, approve/reject.

    Args:
        data: The Enterprise screen's XE access.
    """

    DEFAULT_CSS = """
    XeApprovalsScreen { background: $background; }
    XeApprovalsScreen > Vertical { height: 1fr; }
    XeApprovalsScreen #approvals-title { height: 1; background: $panel; padding: 0 1;
                                         text-style: bold; width: 1fr; }
    XeApprovalsScreen #approvals-list { height: auto; max-height: 8; }
    XeApprovalsScreen #approvals-body { height: 1fr; }
    XeApprovalsScreen #approvals-body.-narrow { layout: vertical; }
    XeApprovalsScreen #approvals-diff { height: 1fr; width: 1fr; padding: 0 1; }
    XeApprovalsScreen #approvals-whatif { height: 1fr; width: 1fr; padding: 0 1;
                                          border-left: vkey $panel; }
    XeApprovalsScreen #approvals-body.-narrow #approvals-whatif { border-left: none;
                                          border-top: hkey $panel; }
    XeApprovalsScreen #approvals-note { display: none; height: 1; border: none; padding: 0 1; }
    XeApprovalsScreen #approvals-note.-open { display: block; }
    XeApprovalsScreen #approvals-status { height: auto; max-height: 3; padding: 0 1;
                                          color: $text-muted; }
    XeApprovalsScreen #approvals-status.-error { color: $error; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "close", "Back"),
        Binding("a", "decide('approve')", "Approve"),
        Binding("r", "decide('reject')", "Reject"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self, data: XeData) -> None:
        super().__init__()
        self.data = data
        self.answer: ApprovalsOut | None = None
        self.loads = 0  # finished reads (tests wait on it)
        self.verb: str | None = None  # the decision whose note is being typed
        # version -> XE's what-if of it (or why there is none); asked once per version
        self.whatifs: dict[int, WhatIfOut | EnterpriseError] = {}
        self._asking: dict[int, asyncio.Future[WhatIfOut | EnterpriseError]] = {}

    @property
    def decides(self) -> bool:
        """Whether the session's role is offered approve and reject."""
        return self.data.link.role == DECIDES

    @property
    def help_text(self) -> str:
        """The status line's keys for this session's role."""
        return _HELP if self.decides else _READ_HELP

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Not offered to other roles: hidden from the footer and help, the key does nothing.
        return action != "decide" or self.decides

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Approvals — two-person activation", id="approvals-title")
            yield OptionList(id="approvals-list")
            with Horizontal(id="approvals-body"):
                with VerticalScroll(id="approvals-diff"):
                    yield Static("reading the approvals from XE…", id="approvals-text")
                with VerticalScroll(id="approvals-whatif"):
                    yield _Report([], id="approvals-whatif-report")
            yield Input(
                id="approvals-note", placeholder="note (required; Enter sends, Esc cancels)"
            )
            yield Static(self.help_text, id="approvals-status", markup=False)

    def on_mount(self) -> None:
        self._fit(self.app.size.width)
        self.action_reload()

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        self.query_one("#approvals-body").set_class(width < NARROW, "-narrow")

    # -- reading -----------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.whatifs = {v: a for v, a in self.whatifs.items() if not isinstance(a, Exception)}
        run_flow(self, "xe-approvals-read", self._read)

    async def _read(self) -> None:
        try:
            self.answer = await bounded(self.data.client.policy.approvals())
        except EnterpriseError as exc:
            self._status(f"XE: {exc.message}", error=True)
            return
        finally:
            self.loads += 1
        self._show()

    def _show(self, keep: int | None = None) -> None:
        answer = self.answer
        assert answer is not None
        options = self.query_one(OptionList)
        options.clear_options()
        flagged = ", ".join(e.enclave for e in answer.enclaves) or "none"
        title = f"Approvals — enclaves requiring a second admin: {_printable(flagged, 100)}"
        if answer.held:
            title += " · their hosts held"
        self.query_one("#approvals-title", Label).update(Text(title))
        for item in answer.items:
            label = Text(f"v{item.version}  {_printable(item.enclave, 60)}  {item.state}  ")
            label.append(f"by {_printable(', '.join(item.authors), 60)}", "italic")
            options.add_option(Option(label, id=f"{item.version}:{item.enclave_id}"))
        if not answer.items:
            self.query_one("#approvals-text", Static).update(
                Text("Nothing waits for approval.", "italic")
            )
            self.query_one(_Report).show([])
            return
        options.highlighted = min(keep or 0, len(answer.items) - 1)
        options.focus()
        self._show_diff()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_diff()

    @property
    def selected(self) -> ApprovalOut | None:
        """The highlighted item."""
        answer = self.answer
        index = self.query_one(OptionList).highlighted
        if answer is None or index is None or not 0 <= index < len(answer.items):
            return None
        return answer.items[index]

    def _show_diff(self) -> None:
        item = self.selected
        if item is not None:
            self.query_one("#approvals-text", Static).update(diff_text(item))
            self._show_whatif(item.version)
            if item.version not in self.whatifs and item.version not in self._asking:
                self.run_worker(
                    self._ask_whatif(item.version),
                    group=f"xe-approvals-whatif-{item.version}",
                    exit_on_error=False,
                )

    def _show_whatif(self, version: int) -> None:
        item = self.selected
        if item is None or item.version != version or not self.is_attached:
            return
        self.query_one(_Report).show(approval_whatif_lines(version, self.whatifs.get(version)))

    async def _ask_whatif(self, version: int) -> WhatIfOut | EnterpriseError:
        """XE's what-if of ``version`` (asked once; a second caller waits for the first)."""
        asking = self._asking.get(version)
        if asking is not None:
            return await asking
        future: asyncio.Future[WhatIfOut | EnterpriseError]
        future = asyncio.get_running_loop().create_future()
        self._asking[version] = future
        answer: WhatIfOut | EnterpriseError = EnterpriseError("the what-if was cancelled")
        try:
            answer = await bounded(
                self.data.client.policy.whatif(version=version), WHATIF_TIMEOUT_S
            )
        except EnterpriseError as exc:
            answer = exc
        finally:
            # Also when cancelled (the screen closed): whoever waits is told.
            del self._asking[version]
            future.set_result(answer)
        self.whatifs[version] = answer
        self._show_whatif(version)
        return answer

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#approvals-status", Static)
        status.update(Text(_printable(text, 400)))
        status.set_class(error, "-error")

    # -- deciding ----------------------------------------------------------------------------

    def action_decide(self, verb: str) -> None:
        item = self.selected
        if item is None:
            self._status("Nothing selected: nothing waits for approval")
            return
        self.verb = verb
        note = self.query_one("#approvals-note", Input)
        note.value = ""
        note.placeholder = (
            f"why {verb} version {item.version}? (required; Enter sends, Esc cancels)"
        )
        note.add_class("-open")
        note.focus()

    def action_close(self) -> None:
        note = self.query_one("#approvals-note", Input)
        if note.has_class("-open"):
            note.remove_class("-open")
            self.verb = None
            self.query_one(OptionList).focus()
            self._status(self.help_text)
            return
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        item, verb = self.selected, self.verb
        text = event.value.strip()
        if item is None or verb is None:
            return
        if not text:
            self._status("A note is required", error=True)
            return
        event.input.remove_class("-open")
        self.verb = None
        self.query_one(OptionList).focus()
        run_flow(self, "xe-approvals-decide", self._decide, item.version, verb, text)

    async def _confirmed(self, version: int) -> bool:
        """Before approving: the what-if of ``version``. True at once when it denies
        nothing and every host answered; else its findings are shown and the names of the
        hosts that would deny must be typed (a failed what-if: one confirmation)."""
        answer = self.whatifs.get(version)
        if answer is None:
            self._status(f"Asking the hosts for the what-if of version {version}…")
            answer = await self._ask_whatif(version)
        if isinstance(answer, EnterpriseError):
            title, expected = f"Approve version {version} without a what-if?", None
        elif not answer.denies_allowed and not answer.unanswered:
            return True
        else:
            denying = [h.host for h in answer.hosts if h.denies_allowed]
            expected = ", ".join(denying) if denying else None
            title = f"Approve policy version {version}?"
            if denying:
                title += f" It would deny behaviour allowed now on {expected}"
        dialog = WhatIfConfirmDialog(
            title,
            approval_whatif_lines(version, answer),
            Static("", id="confirm-body"),
            expected=expected,
            confirm="Approve",
            prompt="Type the host names ({expected}) to approve it anyway:",
        )
        confirmed: bool = await self.app.push_screen_wait(dialog)
        return confirmed

    async def _decide(self, version: int, verb: str, note: str) -> None:
        policy = self.data.client.policy
        if verb == "approve" and not await self._confirmed(version):
            self._status(f"Policy version {version} was not approved")
            return
        call = policy.approve if verb == "approve" else policy.reject
        try:
            await bounded(call(version, note))
        except EnterpriseError as exc:
            self._status(f"XE refused: {exc.message}", error=True)
            return
        done = "approved" if verb == "approve" else "rejected"
        await self._read()
        self._status(f"Policy version {version} {done}")


class XeApprovalsFlow(_Base):
    """The Enterprise screen's ``V``: opens :class:`XeApprovalsScreen` (a mixin)."""

    data: XeData

    def action_approvals(self) -> None:
        self.app.push_screen(XeApprovalsScreen(self.data))
