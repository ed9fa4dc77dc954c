"""`/` and the filter text in one read (a fast typist over SSH): the filter line, built on its
first use, gets every key typed after `/`, and none reaches the Enterprise screen's bindings."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tests._support.console import wait_for
from tests._support.keys import one_read
from tests._support.xe_console import World, ready, vm_names

pytestmark = pytest.mark.timeout(120)


async def test_slash_and_the_filter_text_in_one_read(world: World, tmp_path: Path) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        first = vm_names(app)[0]
        text = first[:-1]  # "EB-domu-" style: `a` of Add domain is not in it, `n` New… may be
        one_read(app, ["/", *text])
        line = None

        def typed() -> bool:
            nonlocal line
            found = list(screen.query("#xe-filter"))
            line = found[0] if found else None
            return isinstance(line, Input) and line.value == text

        await wait_for(pilot, typed, 30)
        assert app.screen is screen  # no key opened a dialog (n New…, d, …)
        # The table is filtered after the line was drawn (the key's echo first).
        await wait_for(
            pilot, lambda: all(text.lower() in name.lower() for name in vm_names(app)), 30
        )
        # A `/` typed into the open line is text, not a second open.
        one_read(app, ["/", "x"])
        await wait_for(pilot, lambda: line is not None and line.value == f"{text}/x", 30)
