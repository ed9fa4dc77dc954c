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
from tests._support.screens import ADDRESS, DATA, injected_app, prepare
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
    assert snap_compare(_app(), press=["5", "down"], terminal_size=size, run_before=_prepare())


@pytest.mark.parametrize("size", SIZES)
def test_domains_live(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), press=["4"], terminal_size=size, run_before=_prepare())


@pytest.mark.parametrize("size", SIZES)
def test_policy_editor(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        _app(), press=["2", "wait:300"], terminal_size=size, run_before=_prepare(editor=True)
    )


@pytest.mark.parametrize("size", SIZES)
def test_advanced_seclabels_editor(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        _app(),
        press=["wait:200"],
        terminal_size=size,
        run_before=_prepare(editor=True, advanced="seclabels"),
    )


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(_app(), press=["question_mark"], terminal_size=size, run_before=_prepare())


@pytest.mark.parametrize("size", SIZES)
def test_performance(snap_compare: Any, size: tuple[int, int]) -> None:
    """Eight domains: at 80x24 the bars keep the busiest ones (dom-d first of all)."""
    assert snap_compare(
        _app(), press=["6", "wait:300"], terminal_size=size, run_before=_prepare(stats=True)
    )


@pytest.mark.parametrize("size", SIZES)
def test_advanced_live(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        _app(), press=["wait:200"], terminal_size=size, run_before=_prepare(advanced="seclabels")
    )


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
    prepare = _prepare()

    async def run_before(pilot: Any) -> None:
        await prepare(pilot)
        pilot.app.push_screen(_dialogs()[name]())
        await pilot.pause(0.1)

    assert snap_compare(_app(), press=["wait:100"], terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("name", "keys"), [("xl_config", "y"), ("destroy", "D")])
def test_domain_dialog(snap_compare: Any, name: str, keys: str, size: tuple[int, int]) -> None:
    """From the domains list: the xl configuration (text) and the typed-name confirmation."""
    assert snap_compare(
        _app(), press=["4", "wait:200", keys, "wait:300"], terminal_size=size, run_before=_prepare()
    )


@pytest.mark.parametrize("size", SIZES)
def test_diff_preview(snap_compare: Any, size: tuple[int, int]) -> None:
    """``d`` in the Policy Editor: the staged changes against the active policy."""
    from xenon_tui.dialogs import TextDialog
    from xenon_tui.widgets._diffview import DiffView

    active, staged = staged_policies()
    prepare = _prepare(editor=True)

    async def run_before(pilot: Any) -> None:
        await prepare(pilot)
        body = DiffView(active, staged, DATA["domains"])
        pilot.app.push_screen(TextDialog(f"Staged vs active — {ADDRESS}", body))
        await pilot.pause(0.1)

    assert snap_compare(_app(), press=["wait:100"], terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_discard_changes_question(snap_compare: Any, size: tuple[int, int]) -> None:
    """Escape on a changed form asks before throwing the changes away."""
    prepared = _prepare(editor=True, advanced="seclabels")

    async def run_before(pilot: Any) -> None:
        # Each step waits for what it opens: a loaded machine (two test workers) can take
        # longer than a fixed pause to open the form (failed in CI at 80x24).
        await prepared(pilot)
        app = pilot.app
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: type(app.screen).__name__ == "FormDialog" and app.focused is not None
        )
        await pilot.press("end", *"-x", "escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        await pilot.pause(0.1)

    assert snap_compare(_app(), press=[], terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_violations_filtered_and_pinned(snap_compare: Any, size: tuple[int, int]) -> None:
    """The tab line says what the log shows: its filter and a pinned selection."""
    press = ["5", "slash", *"eb-domu", "enter", "wait:100", "down"]
    assert snap_compare(_app(), press=press, terminal_size=size, run_before=_prepare())


@pytest.mark.parametrize("size", SIZES)
def test_domains_sorted_by_cpu(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(
        _app(), press=["4", "C", "wait:300"], terminal_size=size, run_before=_prepare()
    )


@pytest.mark.parametrize("size", SIZES)
def test_seclabel_form(snap_compare: Any, size: tuple[int, int]) -> None:
    """The SecLabel edit form: ranges in the hints, Save/Cancel reachable at 80x24."""
    assert snap_compare(
        _app(),
        press=["enter", "wait:300"],
        terminal_size=size,
        run_before=_prepare(editor=True, advanced="seclabels"),
    )


@pytest.mark.parametrize("size", SIZES)
def test_activation_preview(snap_compare: Any, size: tuple[int, int]) -> None:
    """The activation confirmation: the diff in names and colours, the warning first."""
    from xenon_tui.dialogs import ConfirmDialog
    from xenon_tui.widgets._diffview import DiffView

    active, staged = staged_policies()
    body = DiffView(active, staged, DATA["domains"])
    prepare = _prepare(editor=True)

    async def run_before(pilot: Any) -> None:
        await prepare(pilot)
        title = f"Make this policy & host configuration active on {ADDRESS}?"
        pilot.app.push_screen(ConfirmDialog(title, body, confirm="Make active"))
        await pilot.pause(0.1)

    assert snap_compare(_app(), press=["wait:100"], terminal_size=size, run_before=run_before)
