"""The Enterprise view's Hosts tree keeps the user's cursor across a poll's redraw."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from xenon_tui._xe import EnclaveRow, HostRow, Overview
from xenon_tui.widgets import _xe_hosts as hosts_module
from xenon_tui.widgets._xe_hosts import XeHostsTree, host_label

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


def propagating(ov: Overview, host: str, attempts: int) -> Overview:
    """``ov`` with ``host`` retrying its propagation (``attempts`` so far)."""
    from enterprise_store.client import PropagationOut

    since = "2026-12-07T05:00:00Z"
    state = PropagationOut.model_validate(
        {
            "host_id": host,
            "host": host,
            "state": "retrying",
            "desired": {"version": 2, "slice_sha256": None},
            "observed": {
                "version": 1,
                "enforced_hash": None,
                "attempts": attempts,
                "last_error": "timed out",
                "since": since,
            },
            "lag_s": 1.0,
            "next_attempt_at": since,
            "connection": "connecting",
        }
    )
    hosts = tuple(replace(h, propagation=state) if h.id == host else h for h in ov.hosts)
    return Overview(hosts, ov.enclaves)


async def test_a_poll_that_changed_nothing_draws_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #13: a poll every 2 s during a 1,000-host propagation; one whose overview did
    not change works out no label and sets none, one where a host's state changed sets that
    host's label only, and the cursor stays on its node through both."""
    labelled: list[str] = []

    def counted_label(host: HostRow) -> Text:
        labelled.append(host.id)
        return host_label(host)

    monkeypatch.setattr(hosts_module, "host_label", counted_label)
    app = TreeApp()
    async with app.run_test(size=(60, 20)) as pilot:
        tree = app.query_one(XeHostsTree)
        first = overview({"h1": ("A",), "h2": ("A",), "h3": ("A",)})
        tree.show(first)
        await pilot.pause()
        tree.move_cursor(tree._by_key[("enclave", "h2/A")])
        await pilot.pause()
        rebuilt: list[object] = []
        rebuild = tree._rebuild

        def counted_rebuild(*args: Any) -> None:
            rebuilt.append(args)
            rebuild(*args)

        monkeypatch.setattr(tree, "_rebuild", counted_rebuild)
        updates = {key: node._updates for key, node in tree._by_key.items()}
        labelled.clear()
        tree.show(first)  # the same overview again: the poll that changed nothing
        assert labelled == []
        assert {key: node._updates for key, node in tree._by_key.items()} == updates
        retrying = propagating(first, "h3", 4)
        tree.show(retrying)
        tree.show(retrying)
        await pilot.pause()
        changed = [key for key, node in tree._by_key.items() if node._updates != updates[key]]
        assert changed == [("host", "h3")]
        assert "retrying (4)" in str(tree._by_key[("host", "h3")].label)
        assert rebuilt == []
        assert at_cursor(tree) == ("enclave", "h2/A")
