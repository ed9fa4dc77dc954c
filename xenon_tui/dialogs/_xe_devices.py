"""The VIFs and Disks tabs of Configure domain… (Figure 28): a VM's VIFs and disks in XE as
editable lists (Add / Edit / Remove), and the one-row form each Add or Edit opens.

The form checks only the shape of what is typed, each problem under its field (a bridge
name, six hex pairs, an absolute path, ``xvd``/``hd`` …); what the values may be is XE's
(``XE-VM-VIF`` / ``XE-VM-DISK``, shown under the list with the VM's name when XE refuses).
An HVM guest's VIF form also offers the NIC it emulates (a closed list; other guest types
have no emulated NIC, so the choice is not shown); a disk's "CD-ROM" box makes it an ISO
drive, which is read-only: checking it sets the mode to ``r`` and locks it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select

from xenon_tui.dialogs._xe_forms import PullDown

__all__ = [
    "VIF_MODELS",
    "DeviceList",
    "DeviceRowDialog",
    "DiskRow",
    "VifRow",
    "disk_field_problems",
    "vif_field_problems",
]

MAX_DEVICES = 64
"""XE takes at most this many VIFs or disks per VM (``VifsIn``/``DisksIn``)."""

_BRIDGE = re.compile(r"[A-Za-z0-9_.-]{1,15}\Z")
_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}\Z")
_IP = re.compile(r"[0-9A-Fa-f.:]{2,45}\Z")
_PATH = re.compile(r"(phy:|file:)?/[A-Za-z0-9_.+@/-]*\Z")
_VDEV = re.compile(r"(xvd[a-z]{1,2}|hd[a-z])\Z")

VIF_MODELS = ("e1000", "rtl8139", "virtio-net")
"""The NICs an HVM guest's VIF may emulate (XE's ``VifIn.model``); none: e1000."""


@dataclass(frozen=True)
class VifRow:
    """A VIF as the console edits it (XE's ``VifOut``)."""

    bridge: str
    mac: str | None = None
    ip: str | None = None
    model: str | None = None

    def line(self) -> str:
        """One row of the VIFs list."""
        mac = self.mac or "(derived)"
        model = f"  model {self.model}" if self.model else ""
        return f"{self.bridge:<15}  mac {mac:<17}  ip {self.ip or '-'}{model}"

    def body(self) -> dict[str, Any]:
        """What ``XeClient.policy.set_vm_vifs`` sends."""
        body = {"bridge": self.bridge, "mac": self.mac, "ip": self.ip}
        if self.model:
            body["model"] = self.model
        return body


@dataclass(frozen=True)
class DiskRow:
    """A disk as the console edits it (XE's ``DiskOut``)."""

    target: str
    vdev: str
    mode: str = "w"
    format: str = "raw"
    cdrom: bool = False

    def line(self) -> str:
        """One row of the Disks list."""
        access = "CD-ROM" if self.cdrom else "read-only" if self.mode == "r" else "read-write"
        return f"{self.vdev:<5}  {access:<10}  {self.format:<5}  {self.target}"

    def body(self) -> dict[str, Any]:
        """What ``XeClient.policy.set_vm_disks`` sends."""
        body: dict[str, Any] = {
            "target": self.target,
            "vdev": self.vdev,
            "mode": self.mode,
            "format": self.format,
        }
        if self.cdrom:
            body["cdrom"] = True
        return body


def vif_field_problems(row: VifRow) -> dict[str, str]:
    """The shape problems of a VIF, by field."""
    out = {}
    if not _BRIDGE.match(row.bridge):
        out["bridge"] = "1..15 of A-Z a-z 0-9 _ . - (the host's switch)"
    if row.mac is not None and not _MAC.match(row.mac):
        out["mac"] = "six hex pairs like 00:16:3e:01:02:03, or empty"
    if row.ip is not None and not _IP.match(row.ip):
        out["ip"] = "an IPv4 or IPv6 address, or empty"
    if row.model is not None and row.model not in VIF_MODELS:
        out["model"] = f"one of {', '.join(VIF_MODELS)}, or the default (e1000)"
    return out


def disk_field_problems(row: DiskRow) -> dict[str, str]:
    """The shape problems of a disk, by field."""
    out = {}
    if not _PATH.match(row.target) or "/../" in f"{row.target}/":
        out["target"] = "an absolute path (or phy:/dev/… or file:/…), no .. or , ' \""
    if not _VDEV.match(row.vdev):
        out["vdev"] = "xvda, xvdb … or hda, hdb …"
    if row.mode not in ("r", "w"):
        out["mode"] = "r (read-only) or w (read-write)"
    elif row.cdrom and row.mode != "r":
        out["mode"] = "a CD-ROM is read-only: r"
    if row.format not in ("raw", "qcow2"):
        out["format"] = "raw or qcow2"
    return out


R = TypeVar("R", VifRow, DiskRow)

# (field, label, placeholder) per row type, in form order.
_FORM: dict[type, tuple[tuple[str, str, str], ...]] = {
    VifRow: (
        ("bridge", "Bridge (the host's switch)", "EAbr"),
        ("mac", "MAC address (empty: derived)", "00:16:3e:f3:e2:d4"),
        ("ip", "IP address (optional)", "172.19.1.102"),
    ),
    DiskRow: (
        ("target", "Target (path, file:/… or phy:/dev/…)", "/var/lib/xenon/EA/EA-domu-1.img"),
        ("vdev", "Guest device", "xvdb"),
        ("mode", "Mode: r (read-only) or w (read-write)", "w"),
        ("format", "Format: raw or qcow2", "raw"),
    ),
}
_CHECKS: dict[type, Callable[[Any], dict[str, str]]] = {
    VifRow: vif_field_problems,
    DiskRow: disk_field_problems,
}
_OPTIONAL = {"mac", "ip"}
_NO_MODEL = "e1000 (default)"

_ROW_CSS = """
DeviceRowDialog { align: center middle; background: $background 60%; }
DeviceRowDialog > Vertical {
    width: 90%; max-width: 80; height: auto; max-height: 95%;
    border: thick $primary; background: $surface; padding: 0 1;
}
DeviceRowDialog .title { text-style: bold; color: $primary; }
DeviceRowDialog #row-fields { height: auto; max-height: 16; }
DeviceRowDialog .field-error { color: $error; height: auto; }
DeviceRowDialog Select { width: 40; }
DeviceRowDialog #row-buttons { height: auto; align-horizontal: right; }
DeviceRowDialog Button { margin-left: 2; min-width: 10; }
"""


class DeviceRowDialog(ModalScreen[R | None], Generic[R]):
    """Add or edit one VIF or disk: a field per attribute, each problem under its field.
    Enter or OK checks and answers the row; Escape cancels. ``hvm``: the VIF's guest is
    HVM, so its NIC model is offered."""

    DEFAULT_CSS = _ROW_CSS
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str, row: R, *, hvm: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.row: R = row
        self.kind: type[R] = type(row)
        self.hvm = hvm

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title", markup=False)
            with VerticalScroll(id="row-fields"):
                for name, label, placeholder in _FORM[self.kind]:
                    yield Label(label, markup=False)
                    value = getattr(self.row, name)
                    yield Input(
                        value or "",
                        id=f"row-{name}",
                        placeholder=placeholder,
                        select_on_focus=False,
                    )
                    yield Label("", id=f"row-{name}-error", classes="field-error", markup=False)
                    if name == "target":  # in sight: it decides the mode below it
                        yield from self._cdrom_box()
                yield from self._model_select()
            with Horizontal(id="row-buttons"):
                yield Button("Cancel", id="row-cancel")
                yield Button("OK", id="row-ok", variant="primary")

    def _model_select(self) -> ComposeResult:
        if isinstance(self.row, VifRow) and self.hvm:
            yield Label("NIC the guest emulates (xl model=)", markup=False)
            model = self.row.model
            # The forms' pull-down: its list built when first opened, a search typed
            # behind the Enter that opens it kept (#13); "" is no model line (e1000).
            yield PullDown(
                [(_NO_MODEL, ""), *((m, m) for m in VIF_MODELS)],
                value=model if model in VIF_MODELS else "",
                id="row-model",
                compact=False,  # bordered, as this dialog's fields
            )
            yield Label("", id="row-model-error", classes="field-error", markup=False)

    def _cdrom_box(self) -> ComposeResult:
        if isinstance(self.row, DiskRow):
            yield Checkbox(
                "CD-ROM (an ISO image the guest sees as a read-only drive)",
                self.row.cdrom,
                id="row-cdrom",
            )

    def on_mount(self) -> None:
        for name in self._checked_fields():
            self.query_one(f"#row-{name}-error", Label).display = False
        if isinstance(self.row, DiskRow):
            self._lock_mode(self.row.cdrom)
        first = _FORM[self.kind][0][0]
        self.query_one(f"#row-{first}", Input).focus()

    def _checked_fields(self) -> list[str]:
        fields: list[str] = [field[0] for field in _FORM[self.kind]]
        return [*fields, "model"] if self.query(Select) else fields

    def _lock_mode(self, cdrom: bool) -> None:
        mode = self.query_one("#row-mode", Input)
        if cdrom:
            mode.value = "r"
        mode.disabled = cdrom

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        if event.checkbox.id == "row-cdrom":
            self._lock_mode(event.value)

    def typed(self) -> R:
        """The row as typed (empty optional fields as None)."""
        values: dict[str, Any] = {}
        for name, _, _ in _FORM[self.kind]:
            text = self.query_one(f"#row-{name}", Input).value.strip()
            values[name] = (text or None) if name in _OPTIONAL else text
        for select in self.query("#row-model").results(Select):
            chosen = select.value
            values["model"] = str(chosen) if isinstance(chosen, str) and chosen else None
        for box in self.query("#row-cdrom").results(Checkbox):
            values["cdrom"] = box.value
        row: R = replace(self.row, **values)
        return row

    def submit(self) -> None:
        row = self.typed()
        problems = _CHECKS[self.kind](row)
        for name in self._checked_fields():
            label = self.query_one(f"#row-{name}-error", Label)
            label.update(problems.get(name, ""))
            label.display = name in problems
        if not problems:
            self.dismiss(row)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "row-ok":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class DeviceList(Vertical, Generic[R]):
    """An editable list of VIFs or disks: the rows, Add / Edit / Remove, and XE's refusal
    of the list under it. Read-only shows the rows only."""

    DEFAULT_CSS = """
    DeviceList { height: 1fr; }
    DeviceList OptionList { height: 1fr; min-height: 3; }
    DeviceList .dev-bar { height: auto; }
    DeviceList .dev-bar Button { margin-right: 1; min-width: 8; }
    DeviceList .dev-error { color: $error; height: auto; }
    """

    class Changed(Message):
        """The rows changed (added, edited or removed)."""

    def __init__(
        self,
        kind: type[R],
        rows: Sequence[R],
        *,
        noun: str,
        read_only: bool = False,
        error: str = "",
        hvm: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.kind: type[R] = kind
        self.noun, self.read_only, self.hvm = noun, read_only, hvm
        self.rows: list[R] = list(rows)
        self._error = error

    def compose(self) -> ComposeResult:
        yield OptionList(*self._lines(), classes="dev-rows")
        yield Label(self._error, classes="dev-error", markup=False)
        if not self.read_only:
            with Horizontal(classes="dev-bar"):
                yield Button(f"Add {self.noun}…", classes="dev-add")
                yield Button("Edit…", classes="dev-edit")
                yield Button("Remove", classes="dev-remove", variant="error")

    def on_mount(self) -> None:
        self.query_one(".dev-error", Label).display = bool(self._error)

    def _lines(self) -> list[str]:
        return [r.line() for r in self.rows] or [f"(no {self.noun}s: the hosts' own are kept)"]

    def _redraw(self, highlight: int | None = None) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._lines())
        if self.rows and highlight is not None:
            options.highlighted = max(0, min(highlight, len(self.rows) - 1))
        self.post_message(self.Changed())

    def show_error(self, text: str) -> None:
        """XE's refusal of this list (empty: none)."""
        label = self.query_one(".dev-error", Label)
        label.update(text)
        label.display = bool(text)

    @property
    def current(self) -> int | None:
        """The highlighted row's index, if a row is highlighted."""
        index = self.query_one(OptionList).highlighted
        return index if self.rows and index is not None and index < len(self.rows) else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if not self.read_only and self.rows:
            self.edit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.has_class("dev-add"):
            self.add()
        elif event.button.has_class("dev-edit"):
            self.edit()
        elif event.button.has_class("dev-remove"):
            self.remove_current()

    def add(self) -> None:
        """Opens the form for a new row."""
        if len(self.rows) >= MAX_DEVICES:
            self.show_error(f"at most {MAX_DEVICES} {self.noun}s")
            return
        blank: Any = VifRow("") if self.kind is VifRow else DiskRow("", self._next_vdev())
        self.app.push_screen(DeviceRowDialog(f"Add {self.noun}", blank, hvm=self.hvm), self._added)

    def _added(self, row: R | None) -> None:
        if row is not None:
            self.rows.append(row)
            self._redraw(len(self.rows) - 1)

    def edit(self) -> None:
        """Opens the form on the highlighted row."""
        index = self.current
        if index is None:
            return
        title = f"Edit {self.noun} {index + 1}"

        def done(row: R | None) -> None:
            if row is not None:
                self.rows[index] = row
                self._redraw(index)

        self.app.push_screen(DeviceRowDialog(title, self.rows[index], hvm=self.hvm), done)

    def remove_current(self) -> None:
        """Removes the highlighted row."""
        index = self.current
        if index is not None:
            del self.rows[index]
            self._redraw(index)

    def _next_vdev(self) -> str:
        used = {getattr(r, "vdev", "") for r in self.rows}
        for letter in "abcdefghijklmnopqrstuvwxyz":
            if f"xvd{letter}" not in used:
                return f"xvd{letter}"
        return ""
