"""Finish what an incident needs (issue #12 §3), against real sim daemons: resolve a domain
the MSM stopped, acknowledge violations (kept by the host, seen by every console), and a
notice for each domain change this console did not ask for, naming its origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._support.console import console_config, stopped_by_msm, wait_connected, wait_for
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import InputDialog
from xenon_tui.dialogs._resolve import ResolveDialog
from xenon_tui.screens._host import notice_text
from xenon_tui.widgets import DomainsTable, ViolationLog
from xenon_tui.widgets._viewtabs import ViewTabs

DOM = "EA-domu-1"


def _row(table: DomainsTable, name: str) -> dict[str, Any]:
    return next((dict(d) for d in table.domains if d.get("name") == name), {})


def _notes(app: XenonConsole) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def _console(pki: Any, daemon: Any, tmp: Path, user: str, **kw: Any) -> XenonConsole:
    app = XenonConsole(console_config(pki, daemon, tmp=tmp, **kw))
    app.console_user = user  # what the SSH console sets: the session's user
    return app


async def _select_domain(pilot: Any, app: XenonConsole, name: str) -> DomainsTable:
    await pilot.press("4")
    table = app.query_one(DomainsTable)
    await wait_for(pilot, lambda: bool(_row(table, name)) and app.focused is table)
    table.move_cursor(row=[d["name"] for d in table.domains].index(name))
    await pilot.pause()
    return table


async def test_u_points_to_resolve_which_resets_and_resumes_with_a_note(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await stopped_by_msm(xps_daemon)
    app = _console(xps_pki, xps_daemon, tmp_path, "alice")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        table = await _select_domain(pilot, app, DOM)
        await wait_for(pilot, lambda: bool(_row(table, DOM).get("stopped_by_msm")))
        await pilot.press("u")
        await wait_for(pilot, lambda: any("Press r to resolve" in n for n in _notes(app)))
        assert "Resolve" in app.query_one("#keys").render().plain  # on the key line
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ResolveDialog))
        # A wrong name and a missing note are both refused; nothing is sent.
        await pilot.press(*"EA-domu-2", "enter", "enter")
        assert isinstance(app.screen, ResolveDialog)
        assert "does not match" in app.screen.query_one("#resolve-error").render().plain
        app.screen.query_one("#typed").value = ""
        await pilot.press(*DOM, "enter")  # the focus went back to the name
        await pilot.press("enter")  # an empty note
        assert "note is required" in app.screen.query_one("#resolve-error").render().plain
        await pilot.press(*"rate fixed in profile", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ResolveDialog))
        await xps_daemon.wait_log("Received request AddressViolations", wait_s=10)
        await wait_for(pilot, lambda: _row(table, DOM).get("run_state") == "running", wait_s=15)
        lines = (await client.get_log_msgs())["lines"]
        assert any('violations addressed by alice: "rate fixed in profile"' in ln for ln in lines)
        # Its own change raised no "changed elsewhere" notice.
        assert not any("changed elsewhere" in n for n in _notes(app))
        assert "changed elsewhere" not in app.query_one("#notices").text  # type: ignore[attr-defined]


async def test_a_read_only_console_is_not_offered_resolve(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    await stopped_by_msm(xps_daemon)
    app = _console(xps_pki, xps_daemon, tmp_path, "auditor", read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await _select_domain(pilot, app, DOM)
        assert "Resolve" not in app.query_one("#keys").render().plain
        await pilot.press("r")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ResolveDialog)
        await pilot.press("5", "ctrl+l")
        await wait_for(pilot, lambda: any("cannot record" in n for n in _notes(app)))
        assert not isinstance(app.screen, InputDialog)


async def test_acks_come_from_the_host_to_every_console_and_after_a_reconnect(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    await stopped_by_msm(xps_daemon)
    alice = _console(xps_pki, xps_daemon, tmp_path / "a", "alice")
    bob = _console(xps_pki, xps_daemon, tmp_path / "b", "bob")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with alice.run_test(size=(160, 48)) as pa, bob.run_test(size=(160, 48)) as pb:
        await wait_connected(pa, alice)
        await wait_connected(pb, bob)
        log_a, log_b = alice.query_one(ViolationLog), bob.query_one(ViolationLog)
        await wait_for(pa, lambda: len(log_a.window) > 3)
        await pa.press("5", "down", "down")  # pinned on the third newest row
        chosen = log_a.selected()
        assert chosen is not None
        await pa.press("ctrl+l")
        await wait_for(pa, lambda: isinstance(alice.screen, InputDialog))
        await pa.press(*"looking into it", "enter")
        address = next(iter(alice.servers))
        await wait_for(pa, lambda: not isinstance(alice.screen, InputDialog))
        await xps_daemon.wait_log("Received request AcknowledgeViolations", wait_s=10)
        await wait_for(pb, lambda: len(bob.host.acks_of(address)) == 1)
        ack = bob.host.acks_of(address).items[0]
        assert ack["user"] == "alice" and ack["up_to_seq"] == chosen["seq"]
        assert ack["note"] == "looking into it" and ack["domain"] is None
        # Bob's log dims it and, on that row, says who acknowledged it.
        await wait_for(pb, lambda: log_b.acks.covering(chosen) is not None)
        newer = next(
            log_b.window.row(i)
            for i in range(len(log_b.window))
            if log_b.window.row(i)["seq"] > chosen["seq"]
        )
        assert log_b.acks.covering(newer) is None
        await pb.press("5")
        index = next(
            i for i in range(len(log_b.window)) if log_b.window.row(i)["seq"] == chosen["seq"]
        )
        await pb.press(*["down"] * index)
        await wait_for(pb, lambda: "acked by alice" in bob.query_one(ViewTabs).status())
        await wait_for(pa, lambda: len(alice.host.acks_of(address)) == 1)
    # A console that connects afterwards shows the same acknowledgement.
    carol = _console(xps_pki, xps_daemon, tmp_path / "a", "carol")
    async with carol.run_test(size=(160, 48)) as pc:
        await wait_connected(pc, carol)
        await wait_for(pc, lambda: len(carol.host.acks_of(address)) == 1)
        assert carol.query_one(ViolationLog).acks.covering(chosen) is not None


async def test_changes_made_elsewhere_are_noticed_with_their_origin(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    daemon = await start_xps()
    client = daemon.client()
    await client.connect()
    await client.create_domain(DOM)
    alice = _console(xps_pki, daemon, tmp_path / "a", "alice")
    bob = _console(xps_pki, daemon, tmp_path / "b", "bob")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with alice.run_test(size=(160, 48)) as pa, bob.run_test(size=(160, 48)) as pb:
        await wait_connected(pa, alice)
        await wait_connected(pb, bob)
        shown = {alice: _strip_log(alice), bob: _strip_log(bob)}
        await _select_domain(pa, alice, DOM)
        await pa.press("p")
        await wait_for(pb, lambda: any(f"{DOM} paused by console alice" in n for n in shown[bob]))
        # The demo's simulated operator: a client that names no user.
        await client.unpause_domain(DOM)
        for app, pilot in ((alice, pa), (bob, pb)):
            await wait_for(
                pilot,
                lambda app=app: any(
                    "unpaused by a client that named no user" in n for n in shown[app]
                ),
            )
        assert not any("paused by console alice" in n for n in shown[alice])
        assert not any("changed elsewhere" in n for n in _notes(alice) + _notes(bob))


def _strip_log(app: Any) -> list[str]:
    """Every summary the app's notice strip shows from now on (it keeps only the newest)."""
    from xenon_tui.widgets import NoticeStrip

    strip = app.query_one(NoticeStrip)
    seen: list[str] = []
    show = strip.show

    def record(summary: str) -> None:
        seen.append(summary)
        show(summary)

    strip.show = record
    return seen


def test_notice_wording() -> None:
    data = {"name": DOM, "reason": "max_violations"}
    assert notice_text(data, "MSM violation limit", "console a") == (
        f"{DOM} was stopped by the MSM at its violation limit."
    )
    assert notice_text({"name": DOM, "reason": "pause"}, "console a", "console a") == (
        f"{DOM} paused by console a (another session)."
    )
    assert "did not say" in str(notice_text({"name": DOM, "reason": "pause"}, None, "x"))
