"""The Enterprise view's Hosts tree keeps the user's cursor across a poll's redraw."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from xenon_tui._xe import EnclaveRow, HostRow, Overview
from xenon_tui.widgets._xe_hosts import XeHostsTree

pytestmark = pytest.mark.timeout(60)


def overview(enclaves_of: dict[str, tuple[str, ...]]) -> Overview:
    names = sorted({e for es in enclaves_of.values() for e in es})
    enclaves = {
        e: EnclaveRow(
            e, f"Enclave {e}", "#2878c8", tuple(h for h, es in enclaves_of.items() if e in es)
        )
        for e in names
    }
    hosts = tuple(HostRow(h, h, "127.0.0.1", 9443, es, None) for h, es in enclaves_of.items())
    return Overview(hosts, enclaves)


class TreeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield XeHostsTree(id="hosts")


def at_cursor(tree: XeHostsTree) -> object:
    node = tree.cursor_node
    return None if node is None else node.data


async def test_a_key_pressed_before_the_redraw_is_drawn_is_kept() -> None:
    """`g` pressed between a poll's rebuild and the next refresh: the cursor goes to the top
    and stays there (the rebuild used to put it back on the old host after the refresh, so
    the next form opened on the wrong host: the SSH walk's Add tag to host at 80x24)."""
    app = TreeApp()
    async with app.run_test(size=(60, 20)) as pilot:
        tree = app.query_one(XeHostsTree)
        tree.focus()
        tree.show(overview({"h1": (), "h2": ("A",), "h3": ("A",)}))
        await pilot.pause()
        await pilot.press("down", "down")
        assert at_cursor(tree) == ("enclave", "h2/A")
        # A poll adds an enclave to h1 (a new shape: the tree is rebuilt), then `g` at once.
        tree.show(overview({"h1": ("B",), "h2": ("A", "B"), "h3": ("A", "B")}))
        tree.action_first()
        await pilot.pause()
        await pilot.pause()
        assert at_cursor(tree) == ("host", "h1")


async def test_a_redraw_keeps_the_cursor_on_its_node() -> None:
    app = TreeApp()
    async with app.run_test(size=(60, 20)) as pilot:
        tree = app.query_one(XeHostsTree)
        tree.show(overview({"h1": (), "h2": ("A",)}))
        await pilot.pause()
        tree.move_cursor(tree._by_key[("enclave", "h2/A")])
        tree.show(overview({"h1": ("A", "B"), "h2": ("A",)}))  # two lines above it now
        await pilot.pause()
        assert at_cursor(tree) == ("enclave", "h2/A")
        assert tree.cursor_line == 4
