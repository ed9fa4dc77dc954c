"""80x24 is a first-class size (issue #12 §8): what an operator acts on stays on screen.

Each test drives the console with injected state (``tests._support.screens``) at 80x24 and
reads the terminal as the user sees it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from textual.containers import ScrollableContainer
from textual.screen import ModalScreen
from textual.widgets import Button, Input

from tests._support.console import wait_for
from tests._support.screens import STATS, injected_app, prepare, screen_lines, view_shown
from tests._support.snapshots import settle
from xenon_tui.dialogs import (
    ConfirmDialog,
    HelpScreen,
    InputDialog,
    TextDialog,
    TypedConfirmDialog,
)
from xenon_tui.dialogs._form import Field, FormDialog
from xenon_tui.dialogs._help import help_rows, help_table
from xenon_tui.dialogs._import import ImportScreen
from xenon_tui.dialogs._profile_import import ProfileImportScreen
from xenon_tui.widgets import DomainsTable, ViolationLog
from xenon_tui.widgets._perf import PerfView
from xps.policy import export_template, sample_policy

SMALL = (80, 24)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The log shows UTC times; pin the zone for the texts the tests look for."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _header_and_row(app: Any) -> tuple[str, str]:
    """The log's header line (it names the hypercall column) and the row below it."""
    lines = screen_lines(app)
    index = next(i for i, line in enumerate(lines) if "Hyp" in line and "Xenon" not in line)
    return lines[index], lines[index + 1]


def _aligned(header: str, row: str) -> bool:
    """The hypercall title starts where the hypercall (``hcNN``) does."""
    return header.index("Hyp") == row.index("hc3")


async def _violations(pilot: Any) -> ViolationLog:
    await prepare()(pilot)
    await pilot.press("5")
    await view_shown(pilot, "violations")
    log = pilot.app.query_one(ViolationLog)
    await wait_for(pilot, lambda: len(log.window) == 60 and log.has_focus)
    await pilot.pause()
    return log


async def test_violations_keep_domain_hypercall_and_count_at_80x24() -> None:
    """It showed Time/Seq/Domain/SecLabel only: nothing an operator acts on past the domain."""
    app = injected_app()
    async with app.run_test(size=SMALL) as pilot:
        log = await _violations(pilot)
        newest = log.selected()
        assert newest is not None and newest["seq"] == 60
        header, row = _header_and_row(app)
        for title in ("Domain", "Hypercall", "Count"):
            assert title in header, header
        # seq 60: EA-domu-1, kind profile, hc35, count 1 — all on the visible line.
        assert "hc35" in row and row.rstrip(" ▁▂▃▄▅▆▇█▉▊▋▌▍▎▏│").endswith("1"), row
        # What gave way is the least important: the profile, the sequence number, SecLabel.
        assert "Profile" not in header and "Seq" not in header


async def test_violations_header_scrolls_with_the_rows() -> None:
    """Right scrolled the rows under a fixed header; resizing back left them misaligned."""
    app = injected_app()
    async with app.run_test(size=SMALL) as pilot:
        log = await _violations(pilot)
        await pilot.press("right", "right", "right", "right")
        await pilot.pause()
        assert _aligned(*_header_and_row(app))
        for size in ((160, 48), SMALL):
            await pilot.resize_terminal(*size)
            await settle(pilot, app)
            header, row = _header_and_row(app)
            assert _aligned(header, row), (size, header, row)
        # Narrower than the kept columns: the line scrolls sideways, header included.
        await pilot.resize_terminal(44, 24)
        await settle(pilot, app)
        assert log.max_scroll_x > 0
        before = _header_and_row(app)
        await pilot.press("right", "right", "right")
        await pilot.pause()
        assert log.scroll_x > 0
        header, row = _header_and_row(app)
        assert header != before[0] and _aligned(header, row), (header, row)


async def test_domains_keep_the_violations_column_at_80x24() -> None:
    """Domains lost its Viol. column: the name, run state and violations stay."""
    app = injected_app()
    async with app.run_test(size=SMALL) as pilot:
        await prepare()(pilot)
        await pilot.press("4")
        await view_shown(pilot, "domains")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3 and table.has_focus)
        await pilot.pause()
        lines = screen_lines(app)
        header = next(line for line in lines if "Name" in line)
        for title in ("Name", "Run state", "Viol."):
            assert title in header, header
        row = next(line for line in lines if "EB-domu-1" in line)
        assert row.index("0", header.index("Viol.")) == header.index("Viol."), (header, row)
        # Wide, every column is back.
        await pilot.resize_terminal(160, 48)
        await settle(pilot, app)
        header = next(line for line in screen_lines(app) if "Name" in line)
        for title in ("Domid", "State", "vCPUs", "SecLabel", "Tag", "Viol."):
            assert title in header, header


async def test_performance_keeps_the_top_offender_at_80x24() -> None:
    """With more domains than lines, the bar chart dropped the busiest one (dom-d)."""
    app = injected_app()
    async with app.run_test(size=SMALL) as pilot:
        await prepare()(pilot)
        await pilot.press("6")
        await view_shown(pilot, "perf")
        perf = app.query_one(PerfView)
        await wait_for(pilot, lambda: perf.is_mounted and perf.size.height > 0)
        perf.show_stats(STATS, [])
        await settle(pilot, app)
        lines = screen_lines(app)
        bars = [line for line in lines if "┤" in line]
        cpu = [line.split("┤")[0].split("│")[-1].strip() for line in bars]
        # The memory chart's names: after the CPU chart's bar (its blocks) on the same line.
        mem = [
            re.split("[█▏▎▍▌▋▊▉│]", line.split("┤")[1])[-1].strip()
            for line in bars
            if line.count("┤") > 1
        ]
        assert "dom-d" in cpu, lines
        assert any(name.startswith("dom-c") for name in mem), lines  # the most memory
        # The notice strip (one line above the mode band) leaves room for five at 80x24.
        assert any("CPU % top 5/8" in line for line in lines), lines


LONG = "\n".join(f"+ change {i}: a line of a long preview" for i in range(120))


def _dialogs() -> dict[str, Callable[[], ModalScreen[Any]]]:
    """Every kind of dialog the console opens, each with more content than 80x24 holds."""
    policy = sample_policy()
    fields = [Field(f"f{i}", f"Field {i}", str(i), "a hint under the field") for i in range(9)]
    return {
        "confirm": lambda: ConfirmDialog("Make active?", LONG, confirm="Make active"),
        "typed-confirm": lambda: TypedConfirmDialog("Destroy EA-domu-1?", LONG, "EA-domu-1"),
        "input": lambda: InputDialog("Export", "File to write:", value="/tmp/policy.xml"),
        "text": lambda: TextDialog("xl configuration of EA-domu-1", LONG),
        "form": lambda: FormDialog("Edit seclabel EA-seclabel", fields, lambda values: {}),
        "help": lambda: HelpScreen({}, read_only=False),
        "profile-import": lambda: ProfileImportScreen(policy, policy.profiles, "profiles.xml"),
        "template-import": lambda: ImportScreen(
            export_template(policy), policy.hardware, "template.xml"
        ),
    }


@pytest.mark.parametrize("name", list(_dialogs()))
@pytest.mark.parametrize("size", [SMALL, (160, 48)], ids=["80x24", "160x48"])
async def test_every_dialog_fits_with_its_controls_reachable(
    name: str, size: tuple[int, int]
) -> None:
    """Edit dialogs' Save/Cancel were off-screen at 80x24: every dialog fits on the screen,
    its buttons and fields are visible and Tab reaches each, and what does not fit scrolls
    (to its last line) inside the dialog."""
    app = injected_app()
    async with app.run_test(size=size) as pilot:
        dialog = _dialogs()[name]()
        app.push_screen(dialog)
        await wait_for(pilot, lambda: app.screen is dialog and dialog.is_mounted)
        await settle(pilot, app)
        screen = app.screen
        assert screen is dialog
        frame = screen.children[0]
        assert screen.region.contains_region(frame.region), (frame.region, screen.region)
        controls = [w for w in screen.query("*") if isinstance(w, Button | Input)]
        reached = set()
        for _ in range(len(controls) + 2):
            await pilot.press("tab")
            await pilot.pause()
            focused = screen.focused
            if isinstance(focused, Button | Input):  # scrolled into view when focused
                reached.add(focused)
                x, y = focused.region.center
                assert screen.get_widget_at(x, y)[0] is focused, focused
        assert set(controls) <= reached, [c for c in controls if c not in reached]
        scrolls = [w for w in screen.query(ScrollableContainer) if not isinstance(w, Input)]
        for scroll in scrolls:
            # Inside the frame and under no control: its last line can be read.
            assert frame.content_region.contains_region(scroll.region), (scroll, scroll.region)
            for control in controls:
                if scroll not in control.ancestors:
                    assert not scroll.region.overlaps(control.region), (scroll, control)
            scroll.scroll_end(animate=False, immediate=True)
            await pilot.pause()
            assert scroll.scroll_y == scroll.max_scroll_y


@pytest.mark.parametrize("size", [SMALL, (160, 48)], ids=["80x24", "160x48"])
async def test_help_shows_no_internal_ids_and_reads_whole(size: tuple[int, int]) -> None:
    """Help showed an internal "id" column (and cut the descriptions to fit it)."""
    app = injected_app()
    async with app.run_test(size=size) as pilot:
        await prepare()(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "app.help" not in text and "view.domains" not in text, text
        assert " id " not in next(line for line in text.splitlines() if "Keys" in line)
        assert "Performance" in text and "Hypercall profiles" in text, text


def test_help_lists_the_performance_toggles() -> None:
    """``t`` (host total / one domain) and ``x`` (CPU / memory) were missing from `?`."""
    rows = {row.id: row for row in help_rows({}, read_only=False)["Performance"]}
    assert rows["perf.scope"].keys == "t" and "domain" in rows["perf.scope"].description.lower()
    assert rows["perf.metric"].keys == "x" and "memory" in rows["perf.metric"].description.lower()
    console = Console(width=66, record=True)
    console.print(help_table({}, read_only=False))
    lines = console.export_text().splitlines()
    assert any(line.split()[:2] == ["t", "│"] and "Host/domain" in line for line in lines)
    assert any(line.split()[:2] == ["x", "│"] and "CPU/memory" in line for line in lines)
