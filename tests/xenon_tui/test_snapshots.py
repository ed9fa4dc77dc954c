"""SVG snapshots of every view and dialog at 160x48 and 80x24 (deterministic injected state).

The state is what a daemon sends (``tests._support.screens``), put in place without a
network so that ports and clocks do not change the pictures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests._support.console import wait_for
from tests._support.screens import (
    ADDRESS,
    DATA,
    dialog_open,
    injected_app,
    prepare,
    pressed,
    run_steps,
    view_open,
    view_shown,
)
from tests._support.snapshots import SIZES, staged_policies

_app = injected_app
_prepare = prepare


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The log shows local time: pin the zone so the pictures are the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", SIZES)
def test_violations_live(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(_prepare(), view_open("violations"), pressed("down"))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_domains_live(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(_prepare(), view_open("domains"))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_policy_editor(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(_prepare(editor=True), view_open("policy"))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_advanced_seclabels_editor(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(_prepare(editor=True, advanced="seclabels"))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(_prepare(), pressed("question_mark"), dialog_open("HelpScreen"))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_performance(snap_compare: Any, size: tuple[int, int]) -> None:
    """Eight domains: at 80x24 the bars keep the busiest ones (dom-d first of all)."""
    run = run_steps(_prepare(stats=True), view_open("perf"))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_advanced_live(snap_compare: Any, size: tuple[int, int]) -> None:
    run = run_steps(_prepare(advanced="seclabels"))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


def _dialogs() -> dict[str, Callable[[], Any]]:
    """Each dialog the console opens, with the injected host's contents."""
    from xenon_tui.dialogs import InputDialog
    from xenon_tui.dialogs._import import ImportScreen
    from xenon_tui.dialogs._profile_import import ProfileImportScreen
    from xps.policy import export_template, sample_policy

    policy = sample_policy()
    return {
        "input": lambda: InputDialog(
            "Export signed policy", "File to write:", value="/tmp/xenon-policy.xml"
        ),
        "template_import": lambda: ImportScreen(
            export_template(policy), policy.hardware, "template.xml"
        ),
        "profile_import": lambda: ProfileImportScreen(policy, policy.profiles, "profiles.xml"),
    }


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", list(_dialogs()))
def test_dialog(snap_compare: Any, name: str, size: tuple[int, int]) -> None:
    run = run_steps(_prepare(), dialog_open(_dialogs()[name]))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("name", "keys"), [("xl_config", "y"), ("destroy", "D")])
def test_domain_dialog(snap_compare: Any, name: str, keys: str, size: tuple[int, int]) -> None:
    """From the domains list: the xl configuration (text) and the typed-name confirmation."""
    kind = {"xl_config": "TextDialog", "destroy": "TypedConfirmDialog"}[name]
    run = run_steps(_prepare(), view_open("domains"), pressed(keys), dialog_open(kind))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_diff_preview(snap_compare: Any, size: tuple[int, int]) -> None:
    """``d`` in the Policy Editor: the staged changes against the active policy."""
    from xenon_tui.dialogs import TextDialog
    from xenon_tui.widgets._diffview import DiffView

    active, staged = staged_policies()

    def make() -> Any:
        body = DiffView(active, staged, DATA["domains"])
        return TextDialog(f"Staged vs active — {ADDRESS}", body)

    run = run_steps(_prepare(editor=True), dialog_open(make))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_discard_changes_question(snap_compare: Any, size: tuple[int, int]) -> None:
    """Escape on a changed form asks before throwing the changes away."""
    run = run_steps(
        _prepare(editor=True, advanced="seclabels"),
        pressed("enter"),
        dialog_open("FormDialog"),
        pressed("end", *"-x", "escape"),
        dialog_open("ConfirmDialog"),
    )
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_violations_filtered_and_pinned(snap_compare: Any, size: tuple[int, int]) -> None:
    """The tab line says what the log shows: its filter and a pinned selection."""

    async def filtered(pilot: Any) -> None:
        log = pilot.app.query_one("#violation-log")
        await wait_for(pilot, lambda: log.window.filter == "eb-domu")
        await view_shown(pilot, "violations")  # the focus back from the command line

    run = run_steps(
        _prepare(),
        view_open("violations"),
        pressed("slash", *"eb-domu", "enter"),
        filtered,
        pressed("down"),
    )
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_domains_sorted_by_cpu(snap_compare: Any, size: tuple[int, int]) -> None:
    async def sorted_by_cpu(pilot: Any) -> None:
        table = pilot.app.query_one("#domains-table")
        await wait_for(pilot, lambda: table.order_by == "cpu")

    run = run_steps(_prepare(), view_open("domains"), pressed("C"), sorted_by_cpu)
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_seclabel_form(snap_compare: Any, size: tuple[int, int]) -> None:
    """The SecLabel edit form: ranges in the hints, Save/Cancel reachable at 80x24."""
    run = run_steps(
        _prepare(editor=True, advanced="seclabels"), pressed("enter"), dialog_open("FormDialog")
    )
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_activation_preview(snap_compare: Any, size: tuple[int, int]) -> None:
    """The activation confirmation: the diff in names and colours, the warning first."""
    from xenon_tui.dialogs import ConfirmDialog
    from xenon_tui.widgets._diffview import DiffView

    active, staged = staged_policies()

    def make() -> Any:
        body = DiffView(active, staged, DATA["domains"])
        title = f"Make this policy & host configuration active on {ADDRESS}?"
        return ConfirmDialog(title, body, confirm="Make active")

    run = run_steps(_prepare(editor=True), dialog_open(make))
    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run)
