"""Issue #13: what the Enterprise screen does between keys while XE propagates. A poll every
2 s that brings what is already drawn builds no VM row, works out no host label and hands
nothing to the table or the tree; rows of a large enclave are built off the UI loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests._support.console import wait_for
from tests._support.xe_console import World, ready, vm_names
from xenon_tui import _xe as xe_module
from xenon_tui.widgets import _xe_hosts as hosts_module
from xenon_tui.widgets._xe_hosts import XeHostsTree
from xenon_tui.widgets._xe_vms import XeVmTable

pytestmark = pytest.mark.timeout(120)


async def test_a_poll_that_brings_nothing_new_builds_nothing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every enclave's rows are built in a thread here (the path of 10,000 VMs).
    monkeypatch.setattr(xe_module, "ROWS_IN_THREAD", 0, raising=False)
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        names = vm_names(app)

        async def poll() -> None:
            await wait_for(
                pilot,
                lambda: not any(w.group == "xe-poll" and w.is_running for w in screen.workers),
            )
            polls = screen.polls
            screen.refresh_xe()
            await wait_for(pilot, lambda: screen.polls > polls, 60)

        await poll()  # the run states of the VMs on screen are read by now
        built: list[str] = []
        labelled: list[str] = []
        handed: list[int] = []
        real_row, real_label = xe_module.VmRow, hosts_module.host_label

        def row(*args: Any, **kw: Any) -> Any:
            built.append(str(args[1] if len(args) > 1 else kw.get("name")))
            return real_row(*args, **kw)

        def label(host: Any) -> Any:
            labelled.append(host.id)
            return real_label(host)

        monkeypatch.setattr(xe_module, "VmRow", row)
        monkeypatch.setattr(hosts_module, "host_label", label)
        table, tree = screen.query_one(XeVmTable), screen.query_one(XeHostsTree)
        show = table.show

        def counted_show(vms: Any) -> None:
            handed.append(len(vms))
            show(vms)

        monkeypatch.setattr(table, "show", counted_show)
        rebuild = tree._rebuild

        def counted_rebuild(*args: Any) -> None:
            handed.append(-1)
            rebuild(*args)

        monkeypatch.setattr(tree, "_rebuild", counted_rebuild)
        detail = screen.detail
        for _ in range(2):
            await poll()
        assert built == [] and labelled == [] and handed == []
        assert screen.detail is detail
        assert vm_names(app) == names
