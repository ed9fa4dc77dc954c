"""The Audit log screen (L on the Enterprise screen) against real XE services: newest first,
paged, filtered by actor/action/object/time, and "verify chain" with its fingerprint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension

from tests._support.console import wait_for
from tests._support.snapshots import settled_screenshot
from tests._support.xe_console import PASSWORD, World, open_screen
from xenon_tui.dialogs import TextDialog
from xenon_tui.dialogs._form import FormDialog
from xenon_tui.screens._xe_audit import AuditFilter, XeAuditScreen, filter_problems, iso_time


async def audit_screen(pilot: Any, app: Any) -> XeAuditScreen:
    return await open_screen(
        pilot, app, "L", XeAuditScreen, lambda s: s.loads >= 1 and bool(s.records)
    )


async def test_the_log_is_newest_first_paged_and_filtered(world: World, tmp_path: Path) -> None:
    # Something to find: an operator's refused write among the admin's logins.
    oper = world.factory(await world.link("oper"))
    with pytest.raises(Exception, match="create users"):
        await oper.create_user("intruder", "admin", password=PASSWORD)
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await audit_screen(pilot, app)
        seqs = [r.seq for r in screen.records]
        assert seqs == sorted(seqs, reverse=True) and len(seqs) > 6
        # Pages of five: n goes to older records, b comes back.
        screen.page_size = 5
        loads = screen.loads
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.loads > loads and len(screen.records) == 5)
        first = [r.seq for r in screen.records]
        assert first == seqs[:5]
        loads = screen.loads
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.loads > loads)
        assert [r.seq for r in screen.records] == seqs[5:10]
        assert "Page 2" in str(screen.query_one("#audit-status").render())
        loads = screen.loads
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.loads > loads)
        assert [r.seq for r in screen.records] == first
        # Filter: actor oper, the refusals of user changes, since an hour ago.
        screen.page_size = 50
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        loads = screen.loads
        await pilot.press(*"oper", "enter", *"user.", "enter", "enter", *since, "enter", "enter")
        await wait_for(pilot, lambda: screen.loads > loads and app.screen is screen, 30)
        assert screen.records, "the operator's refused create is in the log"
        assert {r.actor for r in screen.records} == {"oper"}
        assert all(r.action.startswith("user.") for r in screen.records)
        assert any(r.result != "ok" for r in screen.records)
        shown = str(screen.query_one("#audit-filter").render())
        assert "actor=oper" in shown and "action=user." in shown
        # Enter shows a record in full.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        body = str(app.screen.query_one("#text").render())
        assert "actor  oper" in body and "hash" in body
        await pilot.press("escape")


async def test_an_auditor_verifies_the_chain_and_sees_its_fingerprint(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("aud"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await audit_screen(pilot, app)
        screen.show_help()  # what ? should open here (the app's ? is the lead's to route)
        await wait_for(pilot, lambda: bool(app.screen.query("XeHelpScreen #xe-help")))
        help_widget = app.screen.query_one("#xe-help")
        shown = "\n".join(help_widget.render_line(y).text for y in range(help_widget.size.height))
        assert "Verify chain" in shown and "audit.filter" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog), 30)
        result = screen.last_verify
        assert result is not None and result.ok and result.count > 0
        body = str(app.screen.query_one("#text").render())
        assert "The chain is intact" in body and result.fingerprint in body
        assert result.fingerprint in str(screen.query_one("#audit-status").render())
        # The fingerprint is XE's own: a later verification still finds it in the chain.
        root = await world.admin()
        assert (await root.verify_audit(expect=result.fingerprint)).ok
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


def test_filters_are_checked_before_xe_is_asked() -> None:
    good = {"actor": "root", "action": "user.", "object": "", "since": "2026-12-07", "until": ""}
    assert filter_problems(good) == {}
    bad = {**good, "since": "yesterday", "actor": "x\x1b[2J"}
    assert set(filter_problems(bad)) == {"since", "actor"}
    assert iso_time("2026-12-07T04:30") == "2026-12-07T04:30:00+00:00"
    assert AuditFilter(actor="root").params()["actor"] == "root"
    assert AuditFilter().describe() == "everything"


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot(world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int]) -> None:
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=size) as pilot:
        screen = await audit_screen(pilot, app)
        # Times and hashes change every run: the snapshot shows a filter whose rows are
        # the same each time (no rows: the time filter is in the future).
        screen.filter = AuditFilter(actor="root", since="2100-01-01")
        loads = screen.loads
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.loads > loads)
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg
