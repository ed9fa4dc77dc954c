"""The enterprise policy as a tree, as XML and as text (§4.2.5, Figure 30), with search.

Each tab is read from XE (``GET /policy?format=…``) when it is first shown; `/` searches
the shown tab and n/N move between its matches (tree nodes are expanded to show them).
"""

from __future__ import annotations

import re
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from xenon_tui._xe import EnterpriseError, XeData, bounded
from xenon_tui.dialogs._xe_config import MAX_MATCHES, FindableText, Matches

TABS: tuple[tuple[str, str], ...] = (("tree", "Tree"), ("xml", "XML"), ("text", "Text"))
"""(XE's format, tab title), in tab order; keys 1, 2, 3."""

_BRANCH = ("├── ", "└── ")
_INDENT = ("│   ", "    ")

MAX_TREE_NODES = 200_000
"""Most tree lines drawn (a 1,000-host, 10,000-VM policy is about 25,000)."""


def parse_tree(text: str) -> list[tuple[int, str]]:
    """``(depth, label)`` of each line of XE's box-drawn tree (``format=tree``); the first
    line is the root (depth 0). Labels are XE's, control characters already escaped."""
    lines = text.splitlines()
    if not lines:
        return []
    nodes = [(0, lines[0])]
    for line in lines[1 : MAX_TREE_NODES + 1]:
        depth, rest = 1, line
        while rest[:4] in _INDENT:
            depth, rest = depth + 1, rest[4:]
        if rest[:4] not in _BRANCH:
            raise EnterpriseError(f"XE's policy tree has a line that is not a node: {line[:80]!r}")
        nodes.append((depth, rest[4:]))
    return nodes


def build_tree(tree: Tree[None], nodes: list[tuple[int, str]]) -> None:
    """Fills ``tree`` from :func:`parse_tree`'s rows: the root and its sections open."""
    tree.clear()
    if not nodes:
        return
    tree.root.set_label(nodes[0][1])
    parents: list[TreeNode[None]] = [tree.root]
    for depth, label in nodes[1:]:
        del parents[depth:]
        parent = parents[-1]
        node = parent.add(label, expand=depth == 1)
        parents.append(node)
    _leaves(tree.root)
    tree.root.expand()


def _leaves(node: TreeNode[None]) -> None:
    for child in node.children:
        if child.children:
            _leaves(child)
        else:
            child.allow_expand = False


def _walk(node: TreeNode[None]) -> list[TreeNode[None]]:
    out = [node]
    for child in node.children:
        out += _walk(child)
    return out


class XePolicyScreen(ModalScreen[None]):
    """The policy in three tabs (tree, XML, text), each with `/` search and n/N.

    Args:
        data: The Enterprise screen's XE access (its client and token).
    """

    DEFAULT_CSS = """
    XePolicyScreen { background: $background; }
    XePolicyScreen > Vertical { height: 1fr; }
    XePolicyScreen #policy-title { dock: top; height: 1; background: $panel; padding: 0 1;
                                   text-style: bold; }
    XePolicyScreen TabbedContent { height: 1fr; }
    XePolicyScreen TabPane { padding: 0; height: 1fr; }
    XePolicyScreen #policy-foot { dock: bottom; height: auto; }
    XePolicyScreen #policy-find { display: none; height: 1; border: none; padding: 0 1; }
    XePolicyScreen #policy-status { height: 1; padding: 0 1; color: $text-muted; }
    XePolicyScreen .loading { padding: 1 2; color: $text-muted; }
    XePolicyScreen .-error { color: $error; }
    XePolicyScreen Tree, XePolicyScreen FindableText { height: 1fr; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "close", "Back"),
        # A priority key: its action moves the focus before the keys sent with it (one
        # read over SSH) are handed out, which a bubbling key's action would do after.
        Binding("slash", "find", "Search", priority=True),
        Binding("n", "step(1)", "Next match"),
        Binding("N", "step(-1)", "Previous match"),
        Binding("1", "tab('tree')", "Tree", show=False),
        Binding("2", "tab('xml')", "XML", show=False),
        Binding("3", "tab('text')", "Text", show=False),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self, data: XeData) -> None:
        super().__init__()
        self.data = data
        self.loaded: dict[str, str] = {}  # format -> XE's text, once shown
        self._loading: set[str] = set()  # formats being read (each is read once)
        self._tree_matches: Matches[TreeNode[None]] = Matches("", ())

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("XE policy — 1 tree · 2 XML · 3 text", id="policy-title")
            with Vertical(id="policy-foot"):
                yield Input(id="policy-find", placeholder="search this tab (Enter finds)")
                yield Label(
                    "/ search · n/N next/previous · 1/2/3 tabs · Enter opens/closes a node "
                    "· Esc back",
                    id="policy-status",
                    markup=False,
                )
            with TabbedContent(id="policy-tabs"):
                for fmt, title in TABS:
                    with TabPane(title, id=f"tab-{fmt}"):
                        yield Static("reading the policy from XE…", classes="loading")

    def on_mount(self) -> None:
        self._load("tree")

    @property
    def shown(self) -> str:
        """The format of the shown tab."""
        active = self.query_one(TabbedContent).active or "tab-tree"
        return active.removeprefix("tab-")

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        fmt = (event.pane.id or "").removeprefix("tab-")
        if fmt in self.loaded:
            self._focus_content(fmt)
        else:
            self._load(fmt)

    def action_tab(self, fmt: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{fmt}"

    def action_reload(self) -> None:
        fmt = self.shown
        if fmt in self.loaded:
            del self.loaded[fmt]
            self._loading.discard(fmt)
        self._load(fmt)

    def _load(self, fmt: str) -> None:
        # Once per tab: two reads filling one pane at the same time would each wait for
        # the other's removal of its children.
        if fmt in self._loading or fmt not in dict(TABS):
            return
        self._loading.add(fmt)
        self._read(fmt)

    @work(group="xe-policy-load", exit_on_error=False)
    async def _read(self, fmt: str) -> None:
        pane = self.query_one(f"#tab-{fmt}", TabPane)
        try:
            text = await bounded(self.data.client.policy.render(fmt))  # type: ignore[arg-type]
            nodes = parse_tree(text) if fmt == "tree" else []
        except EnterpriseError as exc:
            await pane.remove_children()
            await pane.mount(Static(f"XE: {exc.message}", classes="loading -error", markup=False))
            self.app.notify(exc.message, title=exc.title, severity="error", timeout=8)
            self._loading.discard(fmt)  # Ctrl+R reads it again
            return
        await pane.remove_children()
        if fmt == "tree":
            tree: Tree[None] = Tree("", id="policy-tree")
            build_tree(tree, nodes)  # before it is shown: no empty frame
            await pane.mount(tree)
        else:
            await pane.mount(FindableText(text, id=f"policy-{fmt}"))
        self.loaded[fmt] = text
        if self.shown == fmt:
            self._focus_content(fmt)

    def _focus_content(self, fmt: str) -> None:
        widgets = self.query_one(f"#tab-{fmt}", TabPane).query("Tree, FindableText")
        if widgets:
            self.set_focus(widgets.first())

    # -- search ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # `/` typed into the search line is text.
        return not (action == "find" and isinstance(self.focused, Input))

    def action_find(self) -> None:
        line = self.query_one("#policy-find", Input)
        # Shown now, not at the next style update: keys sent with the `/` (one read over
        # SSH) must reach the search line, which can take the focus only once shown.
        line.display = True
        self.set_focus(line)

    @on(Input.Submitted, "#policy-find")
    def _find_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#policy-find", Input).display = False
        self._focus_content(self.shown)
        self.search(event.value)

    def search(self, query: str) -> str:
        """Searches the shown tab and goes to the first match; returns the status line."""
        fmt = self.shown
        if fmt not in self.loaded:
            where = "the policy is still being read"
        elif fmt == "tree":
            tree = self.query_one("#policy-tree", Tree)
            pattern = re.compile(re.escape(query), re.IGNORECASE) if query else None
            found = [
                n for n in _walk(tree.root) if pattern is not None and pattern.search(str(n.label))
            ]
            self._tree_matches = Matches(query, found[:MAX_MATCHES])
            self._step_tree(1)
            where = self._tree_matches.where()
        else:
            where = self.query_one(f"#policy-{fmt}", FindableText).search(query).where()
        self._set_status(where)
        return where

    def action_step(self, direction: int) -> None:
        fmt = self.shown
        if fmt not in self.loaded:
            return
        if fmt == "tree":
            self._step_tree(direction)
            self._set_status(self._tree_matches.where())
        else:
            text = self.query_one(f"#policy-{fmt}", FindableText)
            text.step(direction)
            self._set_status(text.matches.where())

    def _step_tree(self, direction: int) -> None:
        node = self._tree_matches.step(direction)
        if node is None:
            return
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        tree = self.query_one("#policy-tree", Tree)
        # The lines are rebuilt after the expansion: move once they are.
        self.call_after_refresh(tree.move_cursor, node)

    @property
    def tree_match(self) -> TreeNode[None] | None:
        """The tree node of the current match (tests read it)."""
        m = self._tree_matches
        return m.items[m.index] if 0 <= m.index < len(m.items) else None

    def _set_status(self, where: str) -> None:
        self.query_one("#policy-status", Label).update(f"{where} · n/N · / search · Esc back")

    def action_close(self) -> None:
        line = self.query_one("#policy-find", Input)
        if line.display:
            line.display = False
            self._focus_content(self.shown)
            return
        self.dismiss(None)
