"""Policy tab (§3.2.1.1): Unassigned Hardware, Domains/SecLabels/Enclaves, Enclaves view."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static, Tree

from xenon_tui._actions import bindings
from xenon_tui._errors import ConsoleError
from xenon_tui._policy_data import hex_color, policy_of
from xenon_tui.messages import ClearFilter

if TYPE_CHECKING:
    from xenon_tui._state import ServerState
    from xps.policy import Policy


def generation_of(state: ServerState) -> int | None:
    """The XPS generation of the host's active policy (GetPolicy, else GetHypervisorInfo)."""
    for value in ((state.policy or {}).get("generation"), state.info.get("policy_generation")):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def staged_changes(state: ServerState) -> int:
    """How many objects the host's staged policy changes against its active one (0 when
    nothing is staged, or the staged policy equals the active one). A change of the
    policy's own attributes (name, version) counts as one object."""
    staged_result, active_result = state.staged, state.policy
    if not staged_result or not active_result:
        return 0
    key = (active_result.get("sha256"), id(active_result))
    cached = staged_result.get("_changes")
    if isinstance(cached, tuple) and cached[0] == key:
        return int(cached[1])
    try:
        staged, active = policy_of(staged_result), policy_of(active_result)
    except ConsoleError:
        return 0
    if staged is None or active is None:
        return 0
    from xps.policy import diff

    d = diff(active, staged)
    count = sum(len(s.added) + len(s.removed) + len(s.changed) for s in d.sections)
    count += 1 if d.attributes else 0
    staged_result["_changes"] = (key, count)
    return count


def staged_label(count: int) -> str:
    """``staged: 3 changes`` (the badge's text)."""
    return f"staged: {count} change{'' if count == 1 else 's'}"


class ListTree(Tree[Any]):
    """A policy tree with the keys of every list (j/k, g/G, Home/End, Esc)."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [*bindings("list")]

    def action_list_first(self) -> None:
        self.action_scroll_home()

    def action_list_last(self) -> None:
        self.action_scroll_end()

    def action_clear_filter(self) -> None:
        self.post_message(ClearFilter())


def _hardware_label(item: Any) -> str:
    if hasattr(item, "bdf"):
        return f"{item.bdf} {item.device_name or item.class_name} ({item.kind})"
    if hasattr(item, "size_bytes"):
        return f"{item.name} {item.path} {item.size_bytes // 2**30} GiB"
    if hasattr(item, "bus"):
        return f"usb {item.bus}:{item.dev} {item.name}"
    return f"{getattr(item, 'name', '?')} {getattr(item, 'path', '')}"


def unassigned_hardware(policy: Policy) -> dict[str, list[str]]:
    """Hardware not bound to any enclave, grouped by kind (the left tree's content)."""
    hw = policy.hardware
    groups: dict[str, list[str]] = {}
    for title, items in (
        ("PCI devices", hw.pci),
        ("Disks", hw.disks),
        ("USB", hw.usb),
        ("Input", hw.input),
    ):
        free = [_hardware_label(i) for i in items if getattr(i, "tag", None) is None]
        if free:
            groups[title] = free
    return groups


def enclave_members(policy: Policy) -> dict[UUID, dict[str, list[str]]]:
    """Tag id -> {"Domains", "Switches", "Storage", "Hardware"} names (the Enclaves view)."""
    out: dict[UUID, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for d in policy.domains:
        tag = policy.domain_tag(d)
        if tag is not None:
            label = policy.seclabel(d.seclabel).name if d.seclabel else "-"
            out[tag]["Domains"].append(f"{d.name} [{d.guest_type}] {label}")
    for s in policy.switches:
        out[s.tag]["Switches"].append(f"{s.name} ({s.mode}) {s.ip or ''}".rstrip())
    for loc in policy.storage:
        out[loc.tag]["Storage"].append(f"{loc.name} ({loc.mode}) {loc.base_path}")
    hw = policy.hardware
    for item in (*hw.pci, *hw.disks, *hw.usb, *hw.input):
        tag = getattr(item, "tag", None)
        if tag is not None:
            out[tag]["Hardware"].append(_hardware_label(item))
    return out


class PolicyView(Vertical, can_focus=False):
    """The three panels of the Policy tab for the current server's policy."""

    DEFAULT_CSS = """
    PolicyView { height: 1fr; }
    PolicyView #policy-title { height: auto; padding: 0 1; background: $panel; }
    PolicyView Horizontal { height: 1fr; }
    PolicyView #policy-left { width: 1fr; }
    PolicyView Tree { height: 1fr; border: round $panel; background: $surface; }
    PolicyView Tree:focus { border: round $primary; }
    PolicyView #enclaves { width: 1fr; border: round $panel; background: $surface; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._policy: Policy | None = None
        self._filter = ""

    def compose(self) -> ComposeResult:
        yield Static("No policy", id="policy-title")
        with Horizontal():
            with Vertical(id="policy-left"):
                yield ListTree("Unassigned Hardware", id="hw-tree")
                yield ListTree("Domains, SecLabels & Enclaves", id="objects-tree")
            with VerticalScroll(id="enclaves"):
                yield Static("", id="enclaves-body")

    def focus(self, scroll_visible: bool = True) -> PolicyView:
        self.focus_target().focus(scroll_visible)
        return self

    def focus_target(self) -> Tree[Any]:
        """The widget that takes this view's focus."""
        return self.query_one("#objects-tree", Tree)

    @property
    def policy(self) -> Policy | None:
        """The policy shown."""
        return self._policy

    def show_policy(self, state: ServerState, *, editor: bool) -> None:
        """Shows the staged policy in Editor mode (if any), else the active one."""
        try:
            staged = policy_of(state.staged) if editor else None
            policy = staged or policy_of(state.policy)
        except ConsoleError as exc:
            self.app.notify(exc.message, title=exc.title, severity="error")
            policy, staged = None, None
        self._policy = policy
        which = "staged" if staged is not None else "active"
        title = self.query_one("#policy-title", Static)
        if policy is None:
            title.update("No policy received yet")
        else:
            ro = "" if editor else " — read-only (Live mode)"
            gen = generation_of(state)
            on = f"generation {gen}" if gen is not None else "generation ?"
            if staged is not None:
                on = f"over {on}"
            count = staged_changes(state)
            badge = f" — {staged_label(count)}" if count else ""
            title.update(f"{which} policy {policy.name!r} {on}{badge}{ro}")
        self._rebuild()

    def set_filter(self, text: str) -> None:
        """Keeps only tree leaves containing ``text``."""
        self._filter = text.strip().lower()
        self._rebuild()

    def _keep(self, text: str) -> bool:
        return not self._filter or self._filter in text.lower()

    def _rebuild(self) -> None:
        hw_tree = self.query_one("#hw-tree", Tree)
        obj_tree = self.query_one("#objects-tree", Tree)
        body = self.query_one("#enclaves-body", Static)
        hw_tree.clear()
        obj_tree.clear()
        policy = self._policy
        if policy is None:
            body.update("")
            return
        for group, labels in unassigned_hardware(policy).items():
            node = hw_tree.root.add(group, expand=True)
            for label in labels:
                if self._keep(label):
                    node.add_leaf(label)
        hw_tree.root.expand()
        self._fill_objects(policy, obj_tree)
        body.update(self.enclaves_renderable(policy))

    def _fill_objects(self, policy: Policy, tree: Tree[Any]) -> None:
        root = tree.root
        enclaves = root.add("Enclaves", expand=True)
        for tag in policy.tags:
            tag_node = enclaves.add(
                Text(tag.name, style=f"bold {hex_color(tag.color)}"), expand=True
            )
            for label in policy.seclabels:
                if label.tag != tag.id:
                    continue
                sl = tag_node.add(f"SecLabel {label.name} (rate {label.max_rate}/ms)", expand=True)
                for d in policy.domains:
                    if d.seclabel == label.id and self._keep(d.name):
                        sl.add_leaf(f"{d.name} [{d.guest_type}, {d.memory_mb} MB]")
        switches = root.add("Network switches", expand=True)
        for s in policy.switches:
            if self._keep(s.name):
                switches.add_leaf(f"{s.name} ({s.mode}) {s.ip or ''}/{s.netmask or ''}")
        storage = root.add("Storage locations", expand=True)
        for loc in policy.storage:
            if self._keep(loc.name):
                storage.add_leaf(f"{loc.name} ({loc.mode}) {loc.base_path}")
        root.expand()

    @staticmethod
    def enclaves_renderable(policy: Policy) -> RenderableType:
        """One panel per enclave, drawn in the tag's colour."""
        members = enclave_members(policy)
        panels: list[RenderableType] = []
        for tag in policy.tags:
            colour = hex_color(tag.color)
            parts = members.get(tag.id, {})
            text = Text()
            for section in ("Domains", "Switches", "Storage", "Hardware"):
                names = parts.get(section, [])
                if names:
                    text.append(f"{section}\n", style="bold")
                    for name in names:
                        text.append(f"  {name}\n")
            if not text:
                text.append("(empty)", style="dim")
            panels.append(
                Panel(text, title=f"Enclave {tag.name}", border_style=colour, title_align="left")
            )
        return Group(*panels) if panels else Text("No enclaves (tags) in this policy")
