"""A VM's configuration on the Enterprise screen: "View domain config" (Figure 27) and
"Configure domain…" (Figure 28: network restrictions, VIFs and disks, extra xl options).

The dialogs hold no XE call: they show what the flow read and dismiss with what the user
wants changed; the flow (``screens/_xe_config_flows.py``) writes it and, when XE refuses,
opens the dialog again with what was typed and XE's findings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)
from textual.widgets.text_area import Selection

from xenon_tui.dialogs._form import TypeAhead
from xenon_tui.dialogs._xe_devices import DeviceList, DiskRow, VifRow
from xenon_tui.dialogs._xe_forms import TypeAheadScreen

T = TypeVar("T")

MAX_MATCHES = 10_000
"""Most matches a search remembers (a one-letter search of a 1,000-host policy's XML)."""

MAX_EXTRA_LINES = 4096
"""XE keeps at most this many extra xl options per VM (``ExtraIn``)."""

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


# -- search ------------------------------------------------------------------------------------


class Matches(Generic[T]):
    """The matches of one search and which one is current; ``step`` wraps around."""

    def __init__(self, query: str, items: Sequence[T]) -> None:
        self.query = query
        self.items = tuple(items)
        self.index = -1

    def step(self, direction: int) -> T | None:
        """The next (``1``) or previous (``-1``) match, or None when there is none."""
        if not self.items:
            return None
        if self.index < 0:
            self.index = 0 if direction > 0 else len(self.items) - 1
        else:
            self.index = (self.index + direction) % len(self.items)
        return self.items[self.index]

    def where(self) -> str:
        """``2/5``, ``no match``, or ``0/5`` before the first jump."""
        if not self.items:
            return f"{self.query!r}: no match"
        more = "+" if len(self.items) >= MAX_MATCHES else ""
        return f"{self.query!r}: {self.index + 1}/{len(self.items)}{more}"


def find_in_text(text: str, query: str) -> list[tuple[int, int]]:
    """Where ``query`` occurs in ``text`` (case-insensitive): ``(row, column)`` of each
    match, in characters, as :class:`TextArea` locations are, at most MAX_MATCHES."""
    if not query:
        return []
    pattern = re.compile(re.escape(query), re.IGNORECASE)
    found: list[tuple[int, int]] = []
    for row, line in enumerate(text.split("\n")):
        for m in pattern.finditer(line):
            found.append((row, m.start()))
            if len(found) >= MAX_MATCHES:
                return found
    return found


class FindableText(TextArea):
    """Read-only text that `/` search moves through: each match is selected and scrolled
    into view (``search`` then ``step``)."""

    def __init__(self, text: str, *, id: str | None = None) -> None:
        super().__init__(text, read_only=True, soft_wrap=False, show_line_numbers=True, id=id)
        self.matches: Matches[tuple[int, int]] = Matches("", ())

    def search(self, query: str) -> Matches[tuple[int, int]]:
        """Finds ``query`` and selects the first match at or after the cursor."""
        self.matches = Matches(query, find_in_text(self.text, query))
        cursor = self.cursor_location
        after = [i for i, at in enumerate(self.matches.items) if at >= cursor]
        self.matches.index = (after[0] if after else 0) - 1
        self.step(1)
        return self.matches

    def step(self, direction: int) -> tuple[int, int] | None:
        """Selects the next or previous match (wrapping) and scrolls to it."""
        at = self.matches.step(direction)
        if at is not None:
            row, col = at
            self.selection = Selection((row, col), (row, col + len(self.matches.query)))
            self.scroll_cursor_visible(center=True)
        return at


# -- View domain config (Figure 27) ----------------------------------------------------------------

_VIEW_CSS = """
XlConfigDialog { align: center middle; background: $background 60%; }
XlConfigDialog > Vertical {
    width: 95%; max-width: 120; height: 95%;
    border: thick $primary; background: $surface; padding: 0 1;
}
XlConfigDialog #xl-head { dock: top; height: auto; }
XlConfigDialog .title { text-style: bold; color: $primary; }
XlConfigDialog .note { color: $text-muted; }
XlConfigDialog FindableText { height: 1fr; }
XlConfigDialog #xl-foot { dock: bottom; height: auto; }
XlConfigDialog #find { display: none; height: 1; border: none; padding: 0 1; }
XlConfigDialog .hint { height: 1; color: $text-muted; }
"""


class XlConfigDialog(ModalScreen[None]):
    """The xl configuration XE generates for a VM, read-only: scroll, `/` search, n/N."""

    DEFAULT_CSS = _VIEW_CSS
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "close", "Close"),
        # A priority key: its action moves the focus before the keys sent with it (one
        # read over SSH) are handed out, which a bubbling key's action would do after.
        Binding("slash", "find", "Search", priority=True),
        Binding("n", "step(1)", "Next match", show=False),
        Binding("N", "step(-1)", "Previous match", show=False),
    ]

    def __init__(self, vm: str, host: str, config: str) -> None:
        super().__init__()
        self.vm, self._host, self.config = vm, host, config

    def compose(self) -> ComposeResult:
        with Vertical():
            with Vertical(id="xl-head"):
                yield Label(
                    f"Domain config of {self.vm} (on {self._host})", classes="title", markup=False
                )
                yield Label(
                    "Generated by XE; network, disks and display are the host's (§4.3).",
                    classes="note",
                )
            with Vertical(id="xl-foot"):
                yield Input(id="find", placeholder="search (Enter finds, Esc closes)")
                yield Label(
                    "/ search · n/N next/previous · Esc closes",
                    id="find-status",
                    classes="hint",
                    markup=False,
                )
            yield FindableText(self.config, id="xl-config")

    def on_mount(self) -> None:
        self.query_one(FindableText).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # `/` typed into the search line is text.
        return not (action == "find" and isinstance(self.focused, Input))

    def action_find(self) -> None:
        line = self.query_one("#find", Input)
        # Shown now (not at the next style update), so keys sent with `/` reach it.
        line.display = True
        self.set_focus(line)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = self.query_one(FindableText)
        matches = text.search(event.value)
        self._close_find()
        self.query_one("#find-status", Label).update(f"{matches.where()} · n/N · Esc closes")

    def action_step(self, direction: int) -> None:
        text = self.query_one(FindableText)
        if text.step(direction) is not None:
            self.query_one("#find-status", Label).update(f"{text.matches.where()} · n/N")

    def _close_find(self) -> None:
        self.query_one("#find", Input).display = False
        self.set_focus(self.query_one(FindableText))

    def action_close(self) -> None:
        if self.query_one("#find", Input).display:
            self._close_find()
            return
        self.dismiss(None)


# -- Configure domain… (Figure 28) ---------------------------------------------------------


@dataclass(frozen=True)
class Network:
    """A VM's network restrictions as XE keeps them."""

    allow_network: bool = True
    switches: tuple[str, ...] = ()
    max_vifs: int | None = None


@dataclass(frozen=True)
class VmSettings:
    """What the Configure dialog edits: network restrictions, extra xl options, and XE's
    VIFs and disks of the VM."""

    network: Network
    extra: tuple[tuple[str, str], ...]
    vifs: tuple[VifRow, ...] = ()
    disks: tuple[DiskRow, ...] = ()


@dataclass(frozen=True)
class ConfigDraft:
    """What the user typed, kept when XE refuses it (the dialog opens again with it)."""

    allow_network: bool
    switches: str
    max_vifs: str
    extra: str
    vifs: tuple[VifRow, ...] = ()
    disks: tuple[DiskRow, ...] = ()


@dataclass(frozen=True)
class ConfigChange:
    """The dialog's answer: what to write (None: unchanged) and what was typed.

    ``reset`` asks XE for the guest type's template (an emptied extra box, as the
    report's note says, or the Reset button)."""

    network: Network | None
    extra: tuple[tuple[str, str], ...] | None
    reset: bool
    draft: ConfigDraft
    vifs: tuple[VifRow, ...] | None = None
    disks: tuple[DiskRow, ...] | None = None


def extra_text(extra: Sequence[tuple[str, str]]) -> str:
    """Extra xl options as the editor shows them: ``key = value`` per line."""
    return "".join(f"{k} = {v}\n" for k, v in extra)


def parse_extra(text: str) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """``key = value`` lines (blank lines and ``#`` comments skipped) and what is wrong
    with the others, by line number. Values are XE's to judge (numbers, quoted strings,
    lists); here only the shape is checked."""
    pairs: list[tuple[str, str]] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY.match(key) or not value:
            problems.append(f"line {number}: {stripped[:60]!r} is not 'key = value'")
            continue
        pairs.append((key, value))
    if len(pairs) > MAX_EXTRA_LINES:
        problems.append(f"at most {MAX_EXTRA_LINES} extra options, not {len(pairs)}")
    return tuple(pairs), problems


def parse_switches(text: str) -> tuple[str, ...]:
    """Switch names, comma or space separated, each once."""
    return tuple(dict.fromkeys(s for s in re.split(r"[,\s]+", text.strip()) if s))


_CONFIGURE_CSS = """
ConfigureVmDialog { align: center middle; background: $background 60%; }
ConfigureVmDialog > Vertical {
    width: 95%; max-width: 110; height: 95%;
    border: thick $primary; background: $surface; padding: 0 1;
}
ConfigureVmDialog #cfg-head { dock: top; height: auto; }
ConfigureVmDialog .title { text-style: bold; color: $primary; }
ConfigureVmDialog #cfg-error { color: $error; text-style: bold; height: auto; }
ConfigureVmDialog #cfg-buttons { dock: bottom; height: auto; align-horizontal: right; }
ConfigureVmDialog Button { margin-left: 2; min-width: 10; }
ConfigureVmDialog TabbedContent { height: 1fr; }
ConfigureVmDialog TabPane { padding: 0 1; height: 1fr; }
ConfigureVmDialog .hint { color: $text-muted; height: auto; width: 100%; }
ConfigureVmDialog .field-label { margin-top: 1; }
ConfigureVmDialog #extra { height: 1fr; min-height: 4; }
ConfigureVmDialog #extra-bar { height: auto; align-horizontal: left; }
ConfigureVmDialog .devices-hint { color: $text-muted; height: auto; width: 100%; }
"""


class ConfigureVmDialog(TypeAheadScreen[ConfigChange | None]):
    """Figure 28: a VM's network restrictions, where its VIFs and disks come from, and its
    extra xl options. Ctrl+S saves what changed; Escape cancels.

    Keys typed while the flow read the VM (``type_ahead``) and before its first field had
    the focus are handled in order once it has, as the forms' are
    (:class:`~xenon_tui.dialogs._xe_forms.TypeAheadScreen`)."""

    DEFAULT_CSS = _CONFIGURE_CSS
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(
        self,
        vm: str,
        guest_type: str,
        current: VmSettings,
        *,
        draft: ConfigDraft | None = None,
        error: str = "",
        field_errors: dict[str, str] | None = None,
        tab: str = "tab-extra",
        type_ahead: TypeAhead | None = None,
    ) -> None:
        super().__init__(type_ahead)
        self.vm, self.guest_type, self.current = vm, guest_type, current
        net = current.network
        self.draft = draft or ConfigDraft(
            net.allow_network,
            ", ".join(net.switches),
            "" if net.max_vifs is None else str(net.max_vifs),
            extra_text(current.extra),
            current.vifs,
            current.disks,
        )
        self._error = error
        self._field_errors = field_errors or {}
        self._tab = tab
        self._reset_asked = False

    def compose(self) -> ComposeResult:
        with Vertical():
            with Vertical(id="cfg-head"):
                yield Label(
                    f"Configure {self.vm} ({self.guest_type})", classes="title", markup=False
                )
                yield Label(self._error, id="cfg-error", markup=False)
            with Horizontal(id="cfg-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save (Ctrl+S)", id="save", variant="primary")
            with TabbedContent(initial=self._tab):
                with TabPane("Network restrictions", id="tab-network"):
                    yield Checkbox("Network allowed", self.draft.allow_network, id="allow")
                    yield Label(
                        "Switches it may attach to (empty: any of its enclave's):",
                        classes="field-label",
                    )
                    yield Input(
                        self.draft.switches,
                        id="switches",
                        select_on_focus=False,
                        placeholder="EAbr, EAbr2",
                    )
                    yield Label(
                        "Most VIFs per host (0..64, empty: no limit):", classes="field-label"
                    )
                    yield Input(self.draft.max_vifs, id="max-vifs", select_on_focus=False)
                with TabPane("VIFs", id="tab-vifs"):
                    yield Static(_VIFS_NOTE, classes="devices-hint")
                    yield DeviceList(
                        VifRow,
                        self.draft.vifs,
                        noun="VIF",
                        error=self._field_errors.get("vifs", ""),
                        hvm=self.guest_type == "hvm",
                        id="vifs",
                    )
                with TabPane("Disks", id="tab-disks"):
                    yield Static(_DISKS_NOTE, classes="devices-hint")
                    yield DeviceList(
                        DiskRow,
                        self.draft.disks,
                        noun="disk",
                        error=self._field_errors.get("disks", ""),
                        id="disks",
                    )
                with TabPane("Extra XL configuration", id="tab-extra"):
                    yield Label(
                        "key = value per line. To reset to the guest type's template, clear "
                        "the box (or Reset) and save.",
                        classes="hint",
                    )
                    yield TextArea(
                        self.draft.extra, id="extra", soft_wrap=False, show_line_numbers=True
                    )
                    with Horizontal(id="extra-bar"):
                        yield Button(f"Reset to the {self.guest_type} template", id="reset")

    def on_mount(self) -> None:
        self.query_one("#cfg-error", Label).display = bool(self._error)
        self.call_after_refresh(self._ready)

    async def _ready(self) -> None:
        # The first field of the tab shown now (one chosen meanwhile, by a click, stays:
        # focusing a field of another tab would switch back to it).
        first = {
            "tab-network": "#allow",
            "tab-vifs": "#vifs OptionList",
            "tab-disks": "#disks OptionList",
        }
        shown = self.query_one(TabbedContent).active or self._tab
        self.set_focus(self.query_one(first.get(shown, "#extra")))
        await self.take_typed_keys()

    def on_key(self, event: events.Key) -> None:
        # Tab moves between fields (the app's dialog Tab); in the editor it is no indent.
        if event.key == "tab" and isinstance(self.focused, TextArea):
            event.prevent_default()

    def typed(self) -> ConfigDraft:
        """What the dialog holds now."""
        return ConfigDraft(
            self.query_one("#allow", Checkbox).value,
            self.query_one("#switches", Input).value,
            self.query_one("#max-vifs", Input).value,
            self.query_one("#extra", TextArea).text,
            tuple(self.query_one("#vifs", DeviceList).rows),
            tuple(self.query_one("#disks", DeviceList).rows),
        )

    def _show_error(self, message: str) -> None:
        label = self.query_one("#cfg-error", Label)
        label.update(message)
        label.display = bool(message)

    def action_save(self) -> None:
        draft = self.typed()
        problems: list[str] = []
        network: Network | None = None
        max_text = draft.max_vifs.strip()
        max_vifs: int | None = None
        if max_text:
            if not max_text.isascii() or not max_text.isdigit() or int(max_text) > 64:
                problems.append(f"Most VIFs: {max_text[:20]!r} is not a whole number 0..64")
            else:
                max_vifs = int(max_text)
        wanted = Network(draft.allow_network, parse_switches(draft.switches), max_vifs)
        if wanted != self.current.network and not problems:
            network = wanted
        pairs, extra_problems = parse_extra(draft.extra)
        problems += [f"Extra XL configuration, {p}" for p in extra_problems]
        if problems:
            self._show_error("\n".join(problems))
            return
        reset = self._reset_asked and not pairs
        if not pairs and self.current.extra:
            reset = True
        extra = pairs if pairs != self.current.extra and pairs else None
        vifs = draft.vifs if draft.vifs != self.current.vifs else None
        disks = draft.disks if draft.disks != self.current.disks else None
        if network is None and extra is None and not reset and vifs is None and disks is None:
            self.dismiss(None)  # nothing changed
            return
        self.dismiss(ConfigChange(network, extra, reset, draft, vifs, disks))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        elif event.button.id == "reset":
            self._reset_asked = True
            self.query_one("#extra", TextArea).text = ""
            self._show_error("")
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)


_VIFS_NOTE = (
    "Each VIF goes on the host's switch named by its bridge (§4.3.1) when XE propagates; "
    "none here: the host's own VIFs are kept. Enter edits a row."
)
_DISKS_NOTE = (
    "Each disk goes on the host's storage location of the VM's enclave (phy: a device, "
    "else an image file, §4.3.3); none here: the host's own disks are kept."
)
