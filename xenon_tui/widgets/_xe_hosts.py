"""The Enterprise screen's Hosts panel: a tree host → enclaves with propagation state."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from xenon_tui._xe import EnclaveRow, HostRow, Overview, first_enclave, host_enclaves
from xenon_tui.widgets._xe_keys import xe_bindings

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_ERROR_SHOWN = 60  # characters of a host's last propagation error in its line

HOST_PAGE = 100
"""Hosts drawn at a time: a line "… N more hosts" draws the next page when the cursor
reaches it (a Tree of 1,000 hosts and their enclaves takes most of a second to build)."""

MORE: tuple[str, str] = ("more", "")


def swatch_style(color: str) -> Style:
    """The background of an enclave's swatch: its own RGB (Figure 23); data, not theme."""
    return Style(bgcolor=color if _HEX.match(color) else None)


def propagation_text(host: HostRow) -> Text:
    """``v3/v2 retrying (4): connection refused`` — desired/observed version and state."""
    p = host.propagation
    if p is None:
        return Text("not propagated", style="dim")
    observed = "-" if p.observed.version is None else str(p.observed.version)
    line = Text(f"v{p.desired.version}/{observed} ")
    style = {"converged": "", "pending": "italic", "held": "italic"}.get(p.state, "bold")
    line.append(p.state, style=style)
    if p.state in ("retrying", "drifted") and p.observed.attempts:
        line.append(f" ({p.observed.attempts})")
    if p.observed.last_error and p.state != "converged":
        error = " ".join(p.observed.last_error.split())
        if len(error) > _ERROR_SHOWN:
            error = error[: _ERROR_SHOWN - 1] + "…"
        line.append(f": {error}", style="dim")
    return line


def host_label(host: HostRow) -> Text:
    """A host's tree line: name, then its propagation state."""
    label = Text(host.name, style="bold")
    label.append("  ")
    label.append_text(propagation_text(host))
    return label


def enclave_label(enclave: EnclaveRow) -> Text:
    """An enclave's tree line: its colour swatch and name."""
    label = Text("  ", style=swatch_style(enclave.color))
    label.append(f" {enclave.name}")
    return label


NodeData = tuple[str, str]  # ("host" | "enclave", id)


class XeHostsTree(Tree[NodeData]):
    """Hosts in panel order, each with the enclaves assigned to it.

    :meth:`show` redraws only what changed: the tree is rebuilt when hosts or their
    enclaves change, otherwise only the labels that differ are set. The first
    :data:`HOST_PAGE` hosts are drawn; the cursor on the last line draws the next page.
    """

    DEFAULT_CSS = """
    XeHostsTree { border: round $primary 40%; background: $surface; }
    XeHostsTree:focus { border: round $primary; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *xe_bindings("list")
    ]

    class EnclaveChosen(Message):
        """The cursor is on an enclave (or on a host: its first enclave)."""

        def __init__(self, enclave: str | None) -> None:
            super().__init__()
            self.enclave = enclave

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Hosts", id=id)
        self.show_root = False
        self.guide_depth = 2
        self._shape: tuple[tuple[str, tuple[str, ...]], ...] = ()  # the drawn hosts
        self._drawn: tuple[tuple[tuple[str, tuple[str, ...]], ...], int] = ((), 0)
        self._labels: dict[NodeData, Text] = {}
        self._by_key: dict[NodeData, TreeNode[NodeData]] = {}
        self._overview: Overview | None = None
        self.limit = HOST_PAGE
        self._shown_limit = 0  # the limit the overview was drawn at

    def show(self, overview: Overview) -> None:
        """Draws ``overview`` (hosts in panel order, their enclaves by name); the overview
        drawn last, at the same page, draws nothing (a poll that changed nothing)."""
        if overview is self._overview and self.limit == self._shown_limit:
            return
        self._overview, self._shown_limit = overview, self.limit
        # Only the drawn hosts are worked out (a poll of 1,000 hosts redraws a page).
        shape = tuple((h.id, host_enclaves(overview, h)) for h in overview.hosts[: self.limit])
        drawn = (shape, max(0, len(overview.hosts) - self.limit))
        labels: dict[NodeData, Text] = {}
        for (host_id, enclaves), h in zip(drawn[0], overview.hosts, strict=False):
            labels[("host", host_id)] = host_label(h)
            for e in enclaves:
                labels[("enclave", f"{host_id}/{e}")] = enclave_label(overview.enclaves[e])
        self._shape = shape
        if drawn != self._drawn:
            self._rebuild(drawn, labels)
        else:
            for key, label in labels.items():
                if self._labels.get(key) != label:
                    self._by_key[key].set_label(label)
        self._drawn, self._labels = drawn, labels

    def more(self) -> None:
        """Draws the next page of hosts (if any)."""
        if self._overview is not None and self._drawn[1]:
            self.limit += HOST_PAGE
            self.show(self._overview)

    def _rebuild(
        self,
        drawn: tuple[tuple[tuple[str, tuple[str, ...]], ...], int],
        labels: dict[NodeData, Text],
    ) -> None:
        shape, more = drawn
        cursor = self.cursor_node.data if self.cursor_node is not None else None
        if cursor == MORE and shape:  # the next page: the cursor on its first host
            cursor = ("host", shape[len(self._drawn[0])][0]) if self._drawn[0] else None
        self.clear()
        self._by_key = {}
        for host_id, enclaves in shape:
            node = self.root.add(labels[("host", host_id)], data=("host", host_id), expand=True)
            self._by_key[("host", host_id)] = node
            for e in enclaves:
                key = ("enclave", f"{host_id}/{e}")
                self._by_key[key] = node.add_leaf(labels[key], data=key)
        if more:
            label = Text(f"… {more:,} more host{'' if more == 1 else 's'}", style="italic")
            self._by_key[MORE] = self.root.add_leaf(label, data=MORE)
        target = self._by_key.get(cursor) if cursor is not None else None
        if target is None and shape:
            first = shape[0]
            target = self._by_key.get(
                ("enclave", f"{first[0]}/{first[1][0]}") if first[1] else ("host", first[0])
            )
        if target is not None:
            # Lays the new nodes out now (Tree numbers its lines lazily) and puts the cursor
            # back at once: restoring it after the next refresh undid a key pressed in
            # between (`g` before a poll's redraw left the cursor on the old host).
            _ = self._tree_lines
            self.move_cursor(target)

    def enclave_at_cursor(self) -> str | None:
        """The enclave under the cursor (a host: its first enclave)."""
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        kind, ref = node.data
        if kind == "more":
            return None
        if kind == "enclave":
            return ref.split("/", 1)[1]
        for host_id, enclaves in self._shape:
            if host_id == ref and enclaves:
                return enclaves[0]
        return None

    def first_enclave(self) -> str | None:
        """The first enclave of the first host that has one (where the cursor starts)."""
        return None if self._overview is None else first_enclave(self._overview)

    def host_at_cursor(self) -> str | None:
        """The id of the host under the cursor (or of the enclave's host)."""
        node = self.cursor_node
        if node is None or node.data is None or node.data == MORE:
            return None
        return node.data[1].split("/", 1)[0]

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        event.stop()
        if event.node.data == MORE:
            self.call_later(self.more)
            return
        self.post_message(self.EnclaveChosen(self.enclave_at_cursor()))

    def action_first(self) -> None:
        self.cursor_line = 0

    def action_last(self) -> None:
        self.cursor_line = max(0, self.last_line)
