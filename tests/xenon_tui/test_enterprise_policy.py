"""The policy as tree / XML / text (Figure 30, §4.2.5, key `p`) against real XE services
over sim hosts with the §4.2 policy: each tab read when first shown, `/` search with n/N."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.widgets import Label, TabbedContent, Tree

from tests._support.console import wait_for
from tests._support.keys import one_read
from tests._support.snapshots import settled_screenshot
from tests._support.xe_console import World, ready
from xenon_tui._xe import EnterpriseError
from xenon_tui.dialogs._xe_config import FindableText, find_in_text
from xenon_tui.screens._xe_policy import XePolicyScreen, parse_tree

TREE = """XE policy version 3
├── Hosts (2)
│   ├── xenon-1
│   │   └── Enclave A
│   └── xenon-2
└── Enclaves (1)
    └── Enclave A
"""


def test_xe_s_box_drawn_tree_parses_to_depths_and_labels() -> None:
    assert parse_tree(TREE) == [
        (0, "XE policy version 3"),
        (1, "Hosts (2)"),
        (2, "xenon-1"),
        (3, "Enclave A"),
        (2, "xenon-2"),
        (1, "Enclaves (1)"),
        (2, "Enclave A"),
    ]
    with pytest.raises(EnterpriseError, match="not a node"):
        parse_tree("root\nnot a node line\n")


async def _policy_screen(app: Any, pilot: Any) -> XePolicyScreen:
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, XePolicyScreen), 30)
    screen = app.screen
    assert isinstance(screen, XePolicyScreen)
    await wait_for(pilot, lambda: "tree" in screen.loaded, 30)
    return screen


def _labels(node: Any) -> list[str]:
    out = [str(node.label)]
    for child in node.children:
        out += _labels(child)
    return out


async def test_tree_xml_and_text_each_read_when_first_shown_with_search(
    world: World, tmp_path: Path
) -> None:
    root = world.clients[0]
    app = world.console(await world.link("aud"), tmp_path)  # reading: an auditor may
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = await _policy_screen(app, pilot)
        assert set(screen.loaded) == {"tree"}  # the other tabs are read when shown
        tree = screen.query_one("#policy-tree", Tree)
        labels = _labels(tree.root)
        assert labels == [label for _, label in parse_tree(await root.policy.render("tree"))]
        assert labels[0].startswith("XE policy version")
        sections = [str(n.label).split(" (")[0] for n in tree.root.children]
        assert sections == [
            "Hosts",
            "Enclaves",
            "Conflict sets",
            "DHCP servers",
            "Hypercall profiles in use",
        ]
        # `/` in the tree: every node naming EA-domu-1, its branches opened to show it.
        await pilot.press("slash", *"ea-domu-1", "enter")
        await pilot.pause()
        count = sum("EA-domu-1" in label for label in labels)
        assert count >= 2  # under its host and under Enclave A
        first = screen.tree_match
        assert first is not None and "EA-domu-1" in str(first.label)
        await wait_for(pilot, lambda: tree.cursor_node is first)
        parent = first.parent
        while parent is not None:
            assert parent.is_expanded
            parent = parent.parent
        await pilot.press("n")
        second = screen.tree_match
        assert second is not None and second is not first and "EA-domu-1" in str(second.label)
        await wait_for(pilot, lambda: tree.cursor_node is second)
        assert f"2/{count}" in str(screen.query_one("#policy-status", Label).render())
        # 2: the XML, read now; search jumps between matches.
        await pilot.press("2")
        await wait_for(pilot, lambda: "xml" in screen.loaded, 30)
        xml = screen.query_one("#policy-xml", FindableText)
        assert xml.text == await root.policy.render("xml")
        assert xml.text.lstrip().startswith("<")
        await pilot.press("slash", *"EA-domu-1", "enter")
        await pilot.pause()
        want = find_in_text(xml.text, "EA-domu-1")
        assert want and xml.selection.start == want[0]
        await pilot.press("N")
        assert xml.selection.start == want[-1]
        # 3: the text form.
        await pilot.press("3")
        await wait_for(pilot, lambda: "text" in screen.loaded, 30)
        text = screen.query_one("#policy-text", FindableText)
        assert text.text == await root.policy.render("text")
        await pilot.press("slash", *"enclave c", "enter")
        await pilot.pause()
        assert text.selected_text.lower() == "enclave c"
        assert screen.query_one(TabbedContent).active == "tab-text"
        # Esc: back to the Enterprise view.
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise)


async def test_search_typed_in_one_read_with_the_slash_reaches_the_search_line(
    world: World, tmp_path: Path
) -> None:
    # Seen in tmux over the demo: `/EB-domu-1⏎` sent at once searched for '' (the search
    # line could take the focus only at the next style update, after the keys went by).
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        screen = await _policy_screen(app, pilot)
        await pilot.pause()
        one_read(app, "/dhcp-eb\r")
        await wait_for(pilot, lambda: screen.tree_match is not None)
        assert screen.tree_match is not None and "dhcp-eb" in str(screen.tree_match.label)
        await pilot.press("3")
        await wait_for(pilot, lambda: "text" in screen.loaded, 30)
        await pilot.pause()
        one_read(app, "/enclave c\r")
        text = screen.query_one("#policy-text", FindableText)
        await wait_for(pilot, lambda: text.selected_text.lower() == "enclave c")


async def _settled(pilot: Any, app: Any) -> None:
    """Two more polls done and none running: the view behind the dialog stays as drawn."""
    screen = app.enterprise
    polls = screen.polls
    await wait_for(pilot, lambda: screen.polls > polls + 1, 30)
    await wait_for(pilot, lambda: not any(w.is_running for w in screen.workers), 30)


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot(world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int]) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        await _settled(pilot, app)
        screen = await _policy_screen(app, pilot)
        # The hosts' lines name their ports (port 0 in tests): closed for a stable picture.
        screen.query_one("#policy-tree", Tree).root.children[0].collapse()
        await pilot.press("slash", *"dhcp-eb", "enter")
        await wait_for(pilot, lambda: screen.tree_match is not None)
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg
