"""The runbook panel of a guided incident: pause → capture → quarantine → fix → verify →
close, each one key, each skippable with a reason (``s`` on the selected step).
Quarantine asks which form: ``q`` the quarantine SecLabel, ``v`` detach its VIFs."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from xenon_tui._work import run_flow
from xenon_tui.dialogs import InputDialog
from xenon_tui.flows import _incident as inc
from xenon_tui.flows._console import Console

KEYS = {"pause": "p", "capture": "c", "quarantine": "q", "fix": "f", "verify": "v", "close": "x"}


def _required(what: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        text = value.strip()
        if not text:
            return f"A {what} is required."
        if len(text) > 500:
            return f"The {what} is longer than 500 characters."
        return None

    return check


class RunbookScreen(ModalScreen[None]):
    """One domain's incident runbook.

    Args:
        console: The host console that runs the steps' flows.
        book: The runbook (its incident, if one is open, already found).
        verify_s: How long verify watches for a recurrence.
    """

    DEFAULT_CSS = """
    RunbookScreen { align: center middle; }
    RunbookScreen > Vertical {
        width: 100%; max-width: 110; height: auto; max-height: 100%;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    RunbookScreen #runbook-title { text-style: bold; }
    RunbookScreen #runbook-steps { height: auto; margin: 1 0; }
    RunbookScreen #runbook-detail { height: auto; color: $text-muted; }
    RunbookScreen #runbook-keys { height: auto; margin-top: 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        # While quarantine asks which form (first: they take q, v and Esc then).
        Binding(
            "q",
            "choose('seclabel')",
            "Quarantine: move to the quarantine SecLabel",
            id="runbook.quarantine.seclabel",
        ),
        Binding("v", "choose('vifs')", "Quarantine: detach its VIFs", id="runbook.quarantine.vifs"),
        Binding("escape", "choose(None)", "Quarantine: cancel", id="runbook.quarantine.cancel"),
        Binding("p", "run('pause')", "Pause", id="runbook.pause"),
        Binding("c", "run('capture')", "Capture", id="runbook.capture"),
        Binding(
            "q",
            "run('quarantine')",
            "Quarantine (asks: q SecLabel / v detach VIFs)",
            id="runbook.quarantine",
        ),
        Binding("f", "run('fix')", "Fix", id="runbook.fix"),
        Binding("v", "run('verify')", "Verify", id="runbook.verify"),
        Binding("x", "run('close')", "Close", id="runbook.close"),
        Binding("s", "skip", "Skip selected", id="runbook.skip"),
        Binding("T", "timeline", "Timeline", id="runbook.timeline"),
        Binding("up,k", "move(-1)", "Up", show=False, id="runbook.up"),
        Binding("down,j", "move(1)", "Down", show=False, id="runbook.down"),
        Binding("enter", "run_selected", "Run selected", show=False, id="runbook.enter"),
        Binding("escape", "dismiss_panel", "Back", id="runbook.back"),
        # Its own ?: over an XE session the host console's ? is that screen's binding,
        # which a screen shown over it never reaches.
        Binding("question_mark", "keys_help", "Help", show=False, id="runbook.help"),
    ]

    def __init__(self, console: Console, book: inc.Runbook, verify_s: int | None = None) -> None:
        super().__init__()
        self.console = console
        self.book = book
        self.verify_s = verify_s if verify_s is not None else inc.VERIFY_S
        self.cursor = STEP_INDEX.get(book.next_step() or "close", 0)
        self.watching = False
        """Verify's watch is running (other steps wait for it)."""
        self.choosing = False
        """Quarantine asks which form (q / v / Esc answer)."""
        self.offered: tuple[str, ...] = tuple(inc.FORMS)
        """The forms it asks about (after one could not be done: the others)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("", id="runbook-title", markup=False)
            yield Static("", id="runbook-steps")
            yield Static("", id="runbook-detail", markup=False)
            yield Static(
                "p pause  c capture  q quarantine (q SecLabel / v VIFs)  f fix  v verify  "
                "x close  s skip (reason)  T timeline  ↑↓  ? keys  Esc back",
                id="runbook-keys",
                markup=False,
            )

    def on_mount(self) -> None:
        self.refresh_panel()

    def refresh_panel(self) -> None:
        """Draws the title, the steps with their records and the detail lines."""
        book = self.book
        state = book.incident["state"] if book.incident else "not captured yet"
        ident = book.incident["id"] if book.incident else "incident"
        self.query_one("#runbook-title", Label).update(
            f"{ident} · {book.domain} on {book.address} · {state}"
            + (f" · via XE ({book.xe.host})" if book.xe is not None else "")
        )
        status = book.status()
        text = Text()
        for i, step in enumerate(inc.STEPS):
            mark = "▶" if i == self.cursor else " "
            outcome, user, note = status.get(step, ("", "", None))
            style = {"done": "green", "skipped": "yellow"}.get(outcome, "")
            text.append(f"{mark} {KEYS[step]}  {step:<11}", style="bold" if mark != " " else "")
            text.append(f"{outcome or 'to do':<8}", style=style)
            said = f" {user}" if user else ""
            if note:
                said += f": {note}"
            text.append(said[:80])
            if i < len(inc.STEPS) - 1:
                text.append("\n")
        self.query_one("#runbook-steps", Static).update(text)
        self.query_one("#runbook-detail", Static).update("\n".join(book.detail))

    def _flow(self, flow: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        async def run() -> None:
            self.watching = flow is inc.verify
            try:
                await flow(self.console, self.book, *args)
            finally:
                self.watching = False
                offer, self.book.offer = self.book.offer, ()
                if offer:  # quarantine could not be done that way: it asks again
                    self.choosing, self.offered = True, offer
                if self.is_attached:
                    # On to the next step without a record (a step that recorded
                    # nothing, like quarantine, stays selected for s).
                    self.cursor = STEP_INDEX.get(self.book.next_step() or "", self.cursor)
                    self.refresh_panel()

        run_flow(self, "runbook", run)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The form's keys only while quarantine asks which (then they come first), and
        only those of the forms it asks about (Esc always)."""
        if action == "choose" or action.startswith("choose("):  # keys_help passes it whole
            form = parameters[0] if parameters else action[len("choose(") :].strip("()'\"")
            return self.choosing and (form in ("", "None", None) or form in self.offered)
        return True

    def action_keys_help(self) -> None:
        self.show_help()

    def show_help(self) -> None:
        """`?`: the runbook's keys (with the quarantine's choice while it asks), headed
        as the runbook's own: Xenon Enterprise only when its steps go through XE."""
        from xenon_tui.dialogs._xe_help import keys_help

        xe = self.book.xe
        heading = "Runbook" if xe is None else f"Runbook through Xenon Enterprise ({xe.host})"
        self.app.push_screen(keys_help(self, "Runbook", heading))

    def action_choose(self, form: str | None) -> None:
        """Quarantine's answer: ``seclabel``, ``vifs`` or None (cancelled)."""
        if form is not None and form not in self.offered:
            # v read while only q is offered (its VIFs could not be detached): the
            # question stands; the panel says why.
            self.app.bell()
            return
        self.choosing = False
        if self._busy():
            return
        if form is None:
            self.book.detail = ["Quarantine cancelled: the step stays to do (or s to skip)."]
            self.refresh_panel()
            return
        what = inc.FORMS[form][1]
        self.book.detail = [f"Quarantine {self.book.domain}: {what}…"]
        self._flow(inc.quarantine, form)
        self.refresh_panel()

    def _ask_form(self) -> None:
        held = self.book.incident.get("quarantine") if self.book.incident else None
        if held:  # the flow says what is held and how verify restores it
            self._flow(inc.quarantine)
            return
        self.choosing, self.offered = True, tuple(inc.FORMS)
        self.book.detail = [
            f"Quarantine {self.book.domain} how?",
            *(f"  {key}  {what}" for key, what in inc.FORMS.values()),
            "  Esc  cancel",
        ]

    def action_move(self, delta: int) -> None:
        self.choosing = False
        self.cursor = (self.cursor + delta) % len(inc.STEPS)
        self.refresh_panel()

    def action_run_selected(self) -> None:
        self.action_run(inc.STEPS[self.cursor])

    def _busy(self) -> bool:
        """True (and says so) while verify watches: another step started now would end
        the watch (the steps share one worker) and verify would never be recorded."""
        if self.watching:
            self.notify(
                f"Verify is watching {self.book.domain}: its result comes first.",
                title="Runbook",
                severity="warning",
            )
        return self.watching

    def action_run(self, step: str) -> None:
        if self.choosing and step in ("quarantine", "verify"):
            # q / v read with the q that asked (a non-priority binding is resolved
            # before the earlier key's action ran): they answer the question.
            self.action_choose("seclabel" if step == "quarantine" else "vifs")
            return
        self.choosing = False
        if self._busy():
            return
        self.cursor = STEP_INDEX[step]
        if step == "pause":
            self._flow(inc.pause)
        elif step == "capture":
            self._flow(inc.capture)
        elif step == "quarantine":
            self._ask_form()
        elif step == "fix":
            self._flow(inc.fix)
        elif step == "verify":
            self._flow(inc.verify, self.verify_s, self._panel_tick)
        elif step == "close":
            self.app.push_screen(
                InputDialog(
                    f"Close {self.book.domain}'s incident",
                    "Note (required): what happened and what was done",
                    validate=_required("note"),
                ),
                self._close_with,
            )
        self.refresh_panel()

    def _panel_tick(self) -> None:
        if self.is_attached:
            self.refresh_panel()

    def _close_with(self, note: str | None) -> None:
        if note:
            self._flow(inc.close, note.strip())

    def action_skip(self) -> None:
        self.choosing = False
        if self._busy():
            return
        step = inc.STEPS[self.cursor]

        def skipped(reason: str | None) -> None:
            if reason:
                self._flow(inc.skip, step, reason.strip())

        self.app.push_screen(
            InputDialog(f"Skip {step}", "Reason (required)", validate=_required("reason")),
            skipped,
        )

    def action_timeline(self) -> None:
        """`T`: this incident's timeline (once captured)."""
        if self.book.incident is None:
            self.notify("Capture (c) first: the timeline is the incident's record.")
            return
        show_incident_timeline(self, self.console, self.book.address, self.book.incident["id"])

    def action_dismiss_panel(self) -> None:
        if self.choosing:  # Esc read with the q that asked: it cancels the question
            self.action_choose(None)
            return
        self.dismiss(None)


def show_incident_timeline(
    screen: ModalScreen[None], console: Console, address: str, incident_id: str
) -> None:
    """Reads one incident's timeline from the host and shows it over ``screen``."""

    async def show() -> None:
        from xenon_tui.flows._timeline import one_incident_timeline
        from xenon_tui.screens._timeline import TimelineScreen

        timeline, meta = await one_incident_timeline(console, address, incident_id)
        if screen.is_attached:
            await screen.app.push_screen(
                TimelineScreen(timeline, meta, Path.cwd() / "xenon-reports")
            )

    run_flow(screen, "timeline", show)


STEP_INDEX = {step: i for i, step in enumerate(inc.STEPS)}


def _stamp(ts: object) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts)) if isinstance(ts, float) else ""


class IncidentsScreen(ModalScreen[None]):
    """The host's incidents (`:incidents`): newest first; `/` searches (the host matches
    id, domain, users and notes in any case), Enter shows one's runbook, `r` reopens a
    closed one with a note, `o` cycles all / open / closed."""

    DEFAULT_CSS = """
    IncidentsScreen > Vertical { width: 100%; height: 100%; background: $surface; }
    IncidentsScreen #incidents-title { text-style: bold; padding: 0 1; }
    IncidentsScreen #incidents-search { display: none; }
    IncidentsScreen #incidents-search.-shown { display: block; }
    IncidentsScreen DataTable { height: 1fr; }
    IncidentsScreen #incidents-keys { height: auto; color: $text-muted; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="incidents.search"),
        Binding("r", "reopen", "Reopen", id="incidents.reopen"),
        Binding("o", "cycle_state", "All/open/closed", id="incidents.state"),
        Binding("T", "timeline", "Timeline", id="incidents.timeline"),
        Binding("enter", "open_selected", "Runbook", show=False, id="incidents.open"),
        Binding("escape", "back", "Back", id="incidents.back"),
        Binding("question_mark", "keys_help", "Help", show=False, id="incidents.help"),
    ]
    STATES = ("all", "open", "closed")

    def __init__(self, console: Console, address: str) -> None:
        super().__init__()
        self.console = console
        self.address = address
        self.query_text: str | None = None
        self.state = "all"
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("", id="incidents-title", markup=False)
            yield Input(placeholder="search id, domain, user, note", id="incidents-search")
            yield DataTable(id="incidents-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                "/ search  Enter runbook  T timeline  r reopen  o all/open/closed  Esc back",
                id="incidents-keys",
                markup=False,
            )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("ID", "State", "Domain", "Opened by", "Opened (UTC)", "Last", "Note")
        table.focus()
        self.reload()

    def reload(self) -> None:
        """Asks the host again with the current search and state."""

        async def load() -> None:
            self.rows = await inc.incidents(self.console, self.address, self.query_text, self.state)
            if self.is_attached:
                self._draw()

        run_flow(self, "incidents", load)

    def _draw(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in self.rows:
            table.add_row(
                row["id"],
                row["state"],
                row["domain"],
                row["opened_by"],
                _stamp(row["opened_at"]),
                row["last_step"] or "",
                (row["last_note"] or "")[:40],
                key=row["id"],
            )
        search = f" · “{self.query_text}”" if self.query_text else ""
        self.query_one("#incidents-title", Label).update(
            f"Incidents on {self.address} · {self.state}{search} · {len(self.rows)}"
        )

    def selected(self) -> dict[str, Any] | None:
        """The incident under the cursor."""
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def action_search(self) -> None:
        field = self.query_one("#incidents-search", Input)
        field.add_class("-shown")
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if len(text) > 128 or not text.isprintable():
            self.notify("A search is at most 128 printable characters.", severity="warning")
            return
        self.query_text = text or None
        event.input.remove_class("-shown")
        self.query_one(DataTable).focus()
        self.reload()

    def action_cycle_state(self) -> None:
        self.state = self.STATES[(self.STATES.index(self.state) + 1) % len(self.STATES)]
        self.reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_selected()

    def action_open_selected(self) -> None:
        row = self.selected()
        if row is not None:
            run_flow(
                self, "incidents", inc.runbook_of, self.console, self.address, row["id"], self._show
            )

    def _show(self, book: inc.Runbook) -> None:
        self.app.push_screen(RunbookScreen(self.console, book))

    def action_timeline(self) -> None:
        """`T`: the selected incident's timeline."""
        row = self.selected()
        if row is not None:
            show_incident_timeline(self, self.console, self.address, row["id"])

    def action_reopen(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row["state"] != "closed":
            self.notify(f"{row['id']} is open.", title="Reopen", severity="warning")
            return

        async def reopened(note: str | None) -> None:
            if note:
                await inc.reopen(self.console, self.address, row["id"], note.strip())
                self.reload()

        def asked(note: str | None) -> None:
            if note:
                run_flow(self, "incidents", reopened, note)

        self.app.push_screen(
            InputDialog(f"Reopen {row['id']}", "Why (required)", validate=_required("reason")),
            asked,
        )

    def action_keys_help(self) -> None:
        """`?`: this screen's keys (its own binding, as the runbook's)."""
        from xenon_tui.dialogs._xe_help import keys_help

        self.app.push_screen(keys_help(self, "Incidents"))

    def action_back(self) -> None:
        field = self.query_one("#incidents-search", Input)
        if field.has_class("-shown"):
            field.remove_class("-shown")
            self.query_one(DataTable).focus()
            return
        self.dismiss(None)
