"""The runbook through XE (issue #14 §2): a host console with an XE link, on a host XE
manages, opens and steps the incident through XE's API, so every step is in XE's audit
chain with the XE user, the incident, the host and the VM (and the chain verifies);
quarantine is performed by the host for XE. Real XE in-process over real sim hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Label

from enterprise_store.services import Principal
from tests._support.console import wait_for
from tests._support.xe_console import World, ready
from xenon_tui._config import ServerEntry
from xenon_tui.dialogs import ConfirmDialog, InputDialog
from xenon_tui.screens._runbook import IncidentsScreen, RunbookScreen
from xenon_tui.widgets import DomainsTable

DOM = "EA-domu-1"


def _panel(app: Any) -> str:
    screen = app.screen
    assert isinstance(screen, RunbookScreen)
    parts = [screen.query_one(f"#runbook-{n}").render() for n in ("title", "steps", "detail")]
    return "\n".join(str(getattr(p, "plain", p)) for p in parts)


async def _answer(pilot: Any, app: Any, text: str) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))


async def test_a_runbook_walked_through_xe_is_in_its_audit_chain(
    world: World, tmp_path: Path
) -> None:
    system = Principal.system()
    policy = await world.services.policy.current()
    runs_on = policy.host_of(policy.vm_named(DOM))
    assert runs_on is not None
    await world.services.compute.vm_action(system, DOM, "start")
    host = next(h for h in world.hosts if h.name == runs_on.name)
    server = f"127.0.0.1:{host.port}"
    entry = ServerEntry(host="127.0.0.1", port=host.port)
    app = world.host_console(await world.link("oper"), tmp_path, servers=(entry,))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+e")  # the host console, on a host XE manages
        await wait_for(pilot, lambda: app.screen is app.host, 30)
        await wait_for(pilot, lambda: (s := app.servers.get(server)) is not None and s.link.up)
        await pilot.press("4")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: app.focused is table and DOM in str(table.domains), 30)
        table.move_cursor(row=[d["name"] for d in table.domains].index(DOM))
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen), 30)
        assert f"via XE ({host.name})" in _panel(app)

        await pilot.press("c")
        await wait_for(pilot, lambda: "INC-1 opened by oper" in _panel(app), 30)
        await pilot.press("q", "q")  # the quarantine SecLabel (v: detach its VIFs)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), 30)
        body = app.screen.query_one("#confirm-body").render()
        assert f"{DOM} is running" in str(getattr(body, "plain", body))  # not paused first
        await wait_for(pilot, lambda: getattr(app.focused, "id", None) == "cancel")
        await pilot.press("tab")  # Cancel has the focus; Quarantine is next
        await wait_for(pilot, lambda: getattr(app.focused, "id", None) == "confirm")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        await wait_for(pilot, lambda: f"{DOM} quarantined" in _panel(app), 30)
        await wait_for(pilot, lambda: "▶ p  pause" in _panel(app))  # the first to do
        await pilot.press("j", "j", "j")
        await wait_for(pilot, lambda: "▶ f  fix" in _panel(app))
        await pilot.press("s")  # fix: skipped with a reason
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog), 30)
        await pilot.press(*"guest bug, not policy", "enter")
        await wait_for(pilot, lambda: "fix skipped" in _panel(app), 30)
        await pilot.press("x")
        await _answer(pilot, app, "guest patched")
        await wait_for(pilot, lambda: "closed: guest patched" in _panel(app), 30)
        assert f"{DOM} stays on Enclave A-quarantine" in _panel(app)  # closed unverified

        # :incidents: r reopens it through XE too.
        await pilot.press("escape", "colon", *"incidents", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentsScreen), 30)
        listed = app.screen
        assert isinstance(listed, IncidentsScreen)
        # Its ? is its own (over an XE session the host console's ? never reaches it).
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "XeHelpScreen", 30)
        title = app.screen.query_one(".title", Label).render()
        assert str(getattr(title, "plain", title)) == "Incidents — keys (Esc closes)"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is listed, 30)
        await wait_for(pilot, lambda: [r["state"] for r in listed.rows] == ["closed"], 30)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        await pilot.press(*"it came back", "enter")
        await wait_for(pilot, lambda: [r["state"] for r in listed.rows] == ["open"], 30)

    kept = await host.host.get_incident("INC-1")
    assert kept["state"] == "open" and {s["user"] for s in kept["steps"]} == {"oper"}
    root = world.factory(await world.link("root"))
    records = [
        r
        for r in reversed((await root.list_audit(actor="oper", limit=100)).items)
        if r.action.startswith("incident.")
    ]
    assert [(r.action, r.result) for r in records] == [
        ("incident.open", "ok"),
        ("incident.step.quarantine", "ok"),
        ("incident.step.fix", "ok"),
        ("incident.step.close", "ok"),
        ("incident.reopen", "ok"),
    ]
    for r in records:
        assert (r.details["host"], r.details["vm"], r.details["incident"]) == (
            host.name,
            DOM,
            "INC-1",
        )
    assert records[1].details["label_after"] == "Enclave A-quarantine"
    assert records[2].details["note"] == "guest bug, not policy"
    assert (await root.verify_audit()).ok
