"""Console workflows against real XPS daemons serving the real sim Host (MSM in C)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._support.console import (
    clone_to_the_other_server,
    console_config,
    edit_first_seclabel,
    enter_editor,
    wait_connected,
    wait_for,
)
from tests._support.screens import view_shown
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import ConfirmDialog, TextDialog, TypedConfirmDialog
from xenon_tui.widgets import DomainsTable, ModeBand, ViolationLog
from xps.msm import ObjType

DOM = "EA-domu-1"


def _row(table: DomainsTable, name: str) -> dict[str, Any]:
    return next((dict(d) for d in table.domains if d.get("name") == name), {})


async def _client(daemon: Any) -> Any:
    client = daemon.client()
    await client.connect()
    return client


async def _daemon_state(client: Any, name: str) -> str | None:
    states = await client.call("GetDomainRunStates")
    return next((d["run_state"] for d in states["domains"] if d["name"] == name), None)


async def _wait_daemon(pilot: Any, client: Any, name: str, want: set[str | None]) -> None:
    """Pumps the app until the daemon reports ``name`` in one of the ``want`` states."""
    seen: list[str | None] = []

    async def check() -> bool:
        seen.append(await _daemon_state(client, name))
        return seen[-1] in want

    for _ in range(300):
        if await check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"{name} never reached {want}: last states {seen[-3:]}")


async def _select(pilot: Any, app: XenonConsole, name: str) -> DomainsTable:
    await pilot.press("4")
    await view_shown(pilot, "domains")
    table = app.query_one(DomainsTable)
    await wait_for(pilot, lambda: bool(_row(table, name)) and app.focused is table)
    names = [d["name"] for d in table.domains]
    table.move_cursor(row=names.index(name))
    await pilot.pause()
    assert table.selected()["name"] == name
    return table


async def test_domain_lifecycle_start_pause_unpause_destroy(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await _client(xps_daemon)
    assert await _daemon_state(client, DOM) is None  # configured in the policy, not running
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        table = await _select(pilot, app, DOM)
        assert _row(table, DOM)["run_state"] == "shutdown"
        await pilot.press("s")
        await wait_for(pilot, lambda: _row(table, DOM).get("run_state") == "running", wait_s=15)
        assert await _daemon_state(client, DOM) == "running"

        table = await _select(pilot, app, DOM)
        await pilot.press("p")
        await wait_for(pilot, lambda: _row(table, DOM).get("run_state") == "paused", wait_s=15)
        assert await _daemon_state(client, DOM) == "paused"

        table = await _select(pilot, app, DOM)
        await pilot.press("u")
        await wait_for(pilot, lambda: _row(table, DOM).get("run_state") == "running", wait_s=15)
        assert await _daemon_state(client, DOM) == "running"

        # Destroy: the wrong name is refused and the domain keeps running.
        table = await _select(pilot, app, DOM)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmDialog))
        await pilot.press(*"EA-domu-2", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmDialog)
        assert "does not match" in str(app.screen.query_one("#typed-error").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TypedConfirmDialog))
        assert "DestroyDomain" not in xps_daemon.log_text()
        assert await _daemon_state(client, DOM) == "running"
        # The right name destroys it on the daemon.
        table = await _select(pilot, app, DOM)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmDialog))
        await pilot.press(*DOM, "enter")
        await xps_daemon.wait_log("Received request DestroyDomain", wait_s=10)
        await _wait_daemon(pilot, client, DOM, {None, "shutdown"})
        await wait_for(
            pilot, lambda: _row(table, DOM).get("run_state") in (None, "shutdown"), wait_s=15
        )


async def test_violation_alert_then_pause_from_the_row(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await _client(xps_daemon)
    await client.call("CreateDomain", name=DOM)
    assert await _daemon_state(client, DOM) == "running"
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("1")  # away from the log: the alert stays unacknowledged
        band = app.query_one(ModeBand)
        assert band.alert == 0
        await client.call("SetMisbehaviour", domain=DOM, kind="out_of_profile", per_million=200_000)
        log = app.query_one(ViolationLog)
        await wait_for(pilot, lambda: len(log.window) > 0 and band.alert > 0, wait_s=15)
        assert "new violation" in str(band.render())
        assert "⚠" in str(app.query_one("#views").label("violations"))
        await client.call("SetMisbehaviour", domain=DOM, kind="out_of_profile", per_million=0)
        await pilot.press("5")
        assert band.alert == 0
        row = log.selected()
        assert row["domain"] == DOM and row["kind"] == "profile"
        await pilot.press("p")
        await xps_daemon.wait_log("Received request PauseDomain", wait_s=10)
        await _wait_daemon(pilot, client, DOM, {"paused"})
        await pilot.press("4")  # the Domains view is built when first shown
        await view_shown(pilot, "domains")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: _row(table, DOM).get("run_state") == "paused", wait_s=15)


def _rate(policy: dict[str, Any], name: str) -> int:
    return int(next(s for s in policy["seclabels"] if s["name"] == name)["max_rate"])


async def test_editor_stages_and_activates_a_new_rate(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await _client(xps_daemon)
    before = await client.call("GetPolicy", which="active")
    old_rate = _rate(before["policy"], "EA-seclabel")
    new_rate = old_rate + 123
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await edit_first_seclabel(pilot, app)
        app.screen.query_one("#field-max_rate").value = str(new_rate)
        await pilot.press("ctrl+s")
        await xps_daemon.wait_log("Received request StagePolicy", wait_s=10)
        diff = await client.call("GetStagedDiff")
        assert diff["staged"] is True
        assert "max_rate" in str(diff["diff"]) and str(new_rate) in str(diff["diff"])
        staged = await client.call("GetPolicy", which="staged")
        assert _rate(staged["policy"], "EA-seclabel") == new_rate
        # Not active yet.
        assert _rate((await client.call("GetPolicy"))["policy"], "EA-seclabel") == old_rate
        await wait_for(pilot, lambda: app.current_state.staged is not None)
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")
        await xps_daemon.wait_log("Received request ActivatePolicy", wait_s=10)
        gen = before["generation"] + 1
        # The console re-reads the active policy once the daemon announces it.
        await wait_for(
            pilot, lambda: (app.current_state.policy or {}).get("generation") == gen, wait_s=15
        )
        assert _rate(app.current_state.policy["policy"], "EA-seclabel") == new_rate
    after = await client.call("GetPolicy", which="active")
    assert after["generation"] == gen
    assert _rate(after["policy"], "EA-seclabel") == new_rate
    assert (await client.call("GetHypervisorInfo"))["policy_generation"] == gen
    assert (await client.call("GetStagedDiff"))["staged"] is False
    # The C MSM itself enforces the new rate (its active SecLabel table, not the stored XML).
    in_msm = xps_daemon.host._msm.policy(ObjType.SECLABEL)
    assert [s.max_rate for s in in_msm if s.name == "EA-seclabel"] == [new_rate]


async def test_compare_then_clone_between_two_sim_daemons(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    ra, rb = await start_xps(), await start_xps()
    ca, cb = await _client(ra), await _client(rb)
    # Give B a different policy through its own API.
    policy = (await cb.call("GetPolicy"))["policy"]
    label = next(s for s in policy["seclabels"] if s["name"] == "EA-seclabel")
    label["max_rate"] = int(label["max_rate"]) + 7
    await cb.call("StagePolicy", policy=policy)
    await cb.call("ActivatePolicy")
    sha_a = (await ca.call("GetPolicy"))["sha256"]
    activations = rb.log_text().count("request ActivatePolicy")
    assert activations == 1
    assert (await cb.call("GetPolicy"))["sha256"] != sha_a
    a, b = f"127.0.0.1:{ra.rw_port}", f"127.0.0.1:{rb.rw_port}"
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, a)
        await wait_connected(pilot, app, b)
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        assert "max_rate" in str(app.screen.query_one("#text").render())
        assert app.servers[b].match == "≠"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TextDialog))
        await clone_to_the_other_server(pilot, app, "max_rate")
        await wait_for(
            pilot, lambda: rb.log_text().count("request ActivatePolicy") > activations, wait_s=15
        )
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await pilot.press("C")
        await wait_for(pilot, lambda: app.servers[b].match == "=", wait_s=15)
    assert (await cb.call("GetPolicy"))["sha256"] == sha_a
    assert (await ca.call("GetPolicy"))["sha256"] == sha_a


async def test_console_forgets_staged_policy_after_activation(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path
) -> None:
    client = await _client(xps_daemon)
    policy = (await client.call("GetPolicy"))["policy"]
    label = next(s for s in policy["seclabels"] if s["name"] == "EA-seclabel")
    label["max_rate"] = int(label["max_rate"]) + 5
    await client.call("StagePolicy", policy=policy)
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await wait_for(pilot, lambda: app.current_state.staged is not None)
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")
        await wait_for(
            pilot, lambda: (app.current_state.policy or {}).get("generation") == 2, wait_s=15
        )
        # The refresh after the activation asks for the (now gone) staged policy.
        await xps_daemon.wait_log("there is no staged policy", wait_s=10)
        await wait_for(pilot, lambda: app.current_state.staged is None)
        assert app.current_state.info.get("policy_generation") == 2
