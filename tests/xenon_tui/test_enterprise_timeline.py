"""The timeline from the Enterprise view (``T``) against real XE services over three sim
XPS hosts: a VM made to violate its profile on its host (XE ingests the violations), paused
by an operator through XE, the policy propagated; ``T`` on the VM shows every kind on one
axis and exports a report naming the scope and the XE user. The reads are bounded (and say
so), and each scope reads only its own violations."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.app import App

from enterprise_store.client import XeError
from enterprise_store.schemas import AuditRecordOut
from enterprise_store.schemas_history import ViolationOut
from enterprise_store.services import Principal
from tests._support.console import wait_for
from tests._support.snapshots import settled_screenshot
from tests._support.xe_approvals import alice_changes_a_vm
from tests._support.xe_console import World, move_to, ready, vm_names
from tests._support.xe_incidents import VM, misbehaving, recorded
from xenon_tui._incident_report import ReportMeta, export
from xenon_tui._timeline import Timeline, TimelineEvent
from xenon_tui._xe_timeline import (
    CONVERGE_MARK,
    DIFF_MAX_LINES,
    DRIFT_MARK,
    Scope,
    audit_event,
    bounded_diff,
    violation_event,
    xe_timeline,
)
from xenon_tui.dialogs._xe_help import XeHelpScreen
from xenon_tui.screens._xe_timeline_flows import XeTimelineScreen
from xenon_tui.widgets._timeline import TimelineList
from xenon_tui.widgets._xe_vms import XeVmTable


async def test_t_on_a_vm_shows_violations_actions_policy_and_propagation_and_exports(
    world: World, tmp_path: Path
) -> None:
    root = await misbehaving(world)
    oper = world.factory(await world.link("oper"))
    # Its host may have stopped it at its violation limit: then XE refuses (audited too).
    with contextlib.suppress(XeError):
        await oper.compute.vm_action(VM, "pause")
    task = await root.compute.wait_task((await root.compute.propagate()).task_id, 90)
    assert task.state == "succeeded", task.error
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        enterprise = app.enterprise
        assert enterprise is not None
        enterprise.timeline_dir = tmp_path / "reports"
        assert VM in vm_names(app)
        await pilot.press("tab")  # the VM table, then down to the VM
        table = enterprise.query_one(XeVmTable)
        for _ in range(len(vm_names(app))):
            current = table.current_vm()
            if current is not None and current.name == VM:
                break
            await pilot.press("j")
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, XeTimelineScreen), 60)
        screen = app.screen
        assert isinstance(screen, XeTimelineScreen)
        timeline = screen.timeline
        totals = timeline.totals()
        assert totals.get("violation", 0) >= 5, totals
        assert {"action", "policy", "propagation"} <= set(totals), totals
        violations = list(timeline.events(["violation"]))
        assert {e.subject for e in violations} == {VM}  # only this VM's
        actions = [e.summary for e in timeline.events(["action"])]
        assert any(s.startswith("oper: vm.pause vm:") for s in actions), actions
        assert any(s.startswith("root: vm.start vm:") for s in actions), actions
        policy = list(timeline.events(["policy"]))
        assert all(len(str(e.detail["sha256"])) == 64 for e in policy)
        propagation = [e.summary for e in timeline.events(["propagation"])]
        assert any("root: propagate v" in s and "started" in s for s in propagation)
        assert any("propagate v" in s and "succeeded" in s for s in propagation)
        title = str(screen.query_one("#timeline-title").render())
        assert f"VM {VM}" in title and "(XE)" in title
        await pilot.press("x")
        assert sorted(p.suffix for p in screen.exported) == [".html", ".json", ".md"]
        report = json.loads(next(p for p in screen.exported if p.suffix == ".json").read_text())
        assert f"VM {VM}" in json.dumps(report) and "oper (XE)" in json.dumps(report)
        html = next(p for p in screen.exported if p.suffix == ".html").read_text()
        assert f"Timeline of VM {VM} (XE)" in html and "oper (XE)" in html
        # ? is the timeline's own help, also where it is shown as a dialog.
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, XeHelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is enterprise)


async def test_reads_are_bounded_and_scoped(world: World) -> None:
    await recorded(world)  # EB-domu-1 22 and EC-domu-2 25 on xenon-1, EA-domu-1 5 on xenon-2
    client = world.factory(await world.link("oper"))
    vm = await client.policy.get_vm(VM)
    cut = await xe_timeline(client, Scope("vm", vm.id, VM), "oper", max_violations=7)
    assert cut.timeline.totals()["violation"] == 7
    assert cut.notes == ["only the newest 7 violations (XE holds more)"]
    assert "only the newest 7 violations" in cut.meta.scope
    whole = await xe_timeline(client, Scope("vm", vm.id, VM), "oper")
    assert whole.timeline.totals()["violation"] == 22 and whole.notes == []
    host = await client.policy.get_host("xenon-2")
    on_host = await xe_timeline(client, Scope("host", host.id, "xenon-2"), "oper")
    assert {e.subject for e in on_host.timeline.events(["violation"])} == {"EA-domu-1"}
    enclave = await client.policy.get_enclave("Enclave B")
    in_b = await xe_timeline(client, Scope("enclave", enclave.id, "Enclave B"), "oper")
    assert {e.subject for e in in_b.timeline.events(["violation"])} == {VM}
    assert in_b.meta.title == "Timeline of enclave Enclave B (XE)"


async def test_a_hosts_timeline_shows_its_drift_mark_with_the_reason_and_its_convergence(
    world: World, tmp_path: Path
) -> None:
    """Issue #14: a quarantine on a host drifts it (XE records why); the restore converges
    it. ``T`` on that host in the Hosts panel: its timeline holds the drift mark with the
    incident as its reason, then the converge mark, and the list shows the drift line."""
    services = world.services
    propagator = services.compute.propagator
    policy = await services.policy.current()
    name = policy.host_of(policy.vm_named("EA-domu-1")).name  # type: ignore[union-attr]
    host_id = str(policy.host_named(name).id)
    daemon = next(h for h in world.hosts if h.name == name)

    async def until(state: str, reason: str | None = None) -> None:
        async with asyncio.timeout(60):  # liveness bound only
            while True:
                row = (await propagator.states()).get(host_id)
                found = row is not None and row.state == state
                if found and (reason is None or row.last_error == reason):  # type: ignore[union-attr]
                    return
                await propagator.wait_changed(0.2)

    await until("converged")
    console = await daemon.console()
    inc = await console.open_incident("EA-domu-1", "alice")
    await console.incident_step(inc["id"], "quarantine", "done", "alice")
    reason = f"quarantine of VM EA-domu-1, incident {inc['id']}"
    await until("drifted", reason)
    await console.incident_step(inc["id"], "unquarantine", "done", "alice")
    await until("converged")
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await move_to(pilot, app, name, host=True)
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, XeTimelineScreen), 60)
        screen = app.screen
        assert isinstance(screen, XeTimelineScreen)
        events = list(screen.timeline.events())
        marks = [e.summary for e in events if e.summary.startswith((DRIFT_MARK, CONVERGE_MARK))]
        drift = next(i for i, e in enumerate(events) if e.summary.endswith(f"— {reason}"))
        assert events[drift].summary.startswith(f"{DRIFT_MARK} {name}: drift")
        assert events[drift].detail["reason"] == reason and events[drift].detail["to"] == "drifted"
        assert marks[-1] == f"{CONVERGE_MARK} {name}: converged, enforces v{policy.version}" + (
            " (drift over)"
        ), marks
        # Only this host's transitions.
        assert all(f" {name}: " in m for m in marks), marks
        await pilot.press("g", *["right_square_bracket"] * drift)
        listing = screen.query_one(TimelineList)
        await wait_for(pilot, lambda: screen.index - 1 == drift)
        await wait_for(pilot, lambda: reason in listing.render().plain)
        line = next(x for x in listing.render().plain.splitlines() if reason in x)
        assert f"propagation {DRIFT_MARK} {name}: drift" in line, line


# -- the screen, from fixed records (the snapshots do not move) -------------------------------

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _fixed() -> Timeline:
    """The builder's formatters over fixed XE records: 40 violations, a pause, a policy
    version, a propagation."""
    tl = Timeline("VM EB-domu-1")
    rows = []
    for i in range(40):
        at = T0 + dt.timedelta(seconds=3 * i)
        v = ViolationOut(
            host_id="h1", host_name="xenon-1", epoch=1, seq=i + 1, ts=at,
            ts_us=int(at.timestamp() * 1e6), domid=7, domain=VM, vm_id="v1", vm_name=VM,
            enclave_id="e1", enclave_name="Enclave B", seclabel_id="s1",
            seclabel_name="EB-label", kind="profile", hypercall=36, hypercall_name="domctl",
            subop=i % 3, peer=None, count=i + 1,
        )  # fmt: skip
        rows.append(v)
    tl.add("violation", rows, [r.ts_us / 1e6 for r in rows], violation_event)
    paused = T0 + dt.timedelta(seconds=125)
    audit = AuditRecordOut(
        seq=41, ts=paused, ts_us=int(paused.timestamp() * 1e6), actor="oper", source="ssh",
        action="compute.vm.pause", object="vm:EB-domu-1", result="ok", enclaves=["e1"],
        details={}, prev_hash="0" * 64, hash="1" * 64,
    )  # fmt: skip
    tl.add("action", [audit], [audit.ts_us / 1e6], audit_event)
    start = T0.timestamp()
    tl.add_events(
        [
            TimelineEvent(start + 150, "policy", "v3", "v3 by root: enclave.update (sha256 ab…)"),
            TimelineEvent(start + 160, "propagation", "policy:v3", "root: propagate v3 started"),
            TimelineEvent(start + 170, "propagation", "xenon-1", "xenon-1: converged, v3"),
        ]
    )
    return tl


class _Host(App[None]):
    def __init__(self, screen: XeTimelineScreen) -> None:
        super().__init__()
        self._timeline_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self._timeline_screen)


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot(tmp_path: Path, snapshot: Any, size: tuple[int, int]) -> None:
    meta = ReportMeta("Timeline of VM EB-domu-1 (XE)", "oper (XE)", "VM EB-domu-1: 40 violations")
    app = _Host(XeTimelineScreen(_fixed(), meta, tmp_path))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg


async def test_an_exported_xe_timeline_holds_the_diff_of_a_policy_version(
    world: World, tmp_path: Path
) -> None:
    """Issue #14 §3: the report's policy versions carry their diff (what XE keeps of a
    version: the enclave's text before → after for an enclave requiring approval), shown
    in the exported HTML, Markdown and JSON, beside the version's hash."""
    version = await alice_changes_a_vm(world)  # EA-domu-1: 256 MiB more, waits for approval
    client = world.factory(await world.link("oper"))
    vm = await client.policy.get_vm("EA-domu-1")
    built = await xe_timeline(client, Scope("vm", vm.id, vm.name), "oper")
    event = next(e for e in built.timeline.events(["policy"]) if e.subject == f"v{version}")
    diff = str(event.detail["diff"])
    removed = [x for x in diff.splitlines() if x.startswith("-") and not x.startswith("---")]
    added = [x for x in diff.splitlines() if x.startswith("+") and not x.startswith("+++")]
    assert any(str(vm.memory_mb - 256) in x for x in removed), diff
    assert any(str(vm.memory_mb) in x for x in added), diff
    assert len(str(event.detail["sha256"])) == 64
    paths = export(built.timeline, built.meta, tmp_path / "reports", "xe")
    changed = added[0]
    html_text = next(p for p in paths if p.suffix == ".html").read_text()
    assert f"<pre>{html.escape(diff)}" in html_text and html.escape(changed) in html_text
    md = next(p for p in paths if p.suffix == ".md").read_text()
    assert "## Policy diffs" in md and f"\n{changed}\n" in md
    record = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    assert changed in json.dumps(record)


async def test_a_version_of_an_enclave_not_requiring_approval_has_its_diff(
    world: World,
) -> None:
    """Issue #14 §3: every version's diff reaches the report, not only those of enclaves
    requiring two-person approval (XE keeps a diff of each version it makes): root gives
    EB-domu-1 (Enclave B: no approval) 128 MiB more; its version's event holds B's diff."""
    services = world.services
    vm = (await services.policy.current()).vm_named("EB-domu-1")
    bigger = {"memory_mb": vm.memory_mb + 128, "maxmem_mb": vm.maxmem_mb + 128}
    version = (await services.policy.update_vm(Principal.system(), vm.id, bigger)).version
    assert (await services.policy.approvals(Principal.system(), version=version)) == []
    client = world.factory(await world.link("oper"))
    built = await xe_timeline(client, Scope("vm", str(vm.id), vm.name), "oper")
    event = next(e for e in built.timeline.events(["policy"]) if e.subject == f"v{version}")
    diff = str(event.detail["diff"])
    assert f"-       memory {vm.memory_mb}/{vm.maxmem_mb} MB" in diff, diff
    assert f"+       memory {vm.memory_mb + 128}/{vm.maxmem_mb + 128} MB" in diff, diff
    assert "    VM EB-domu-1" in diff


def test_a_long_diff_is_cut_and_says_how_many_lines_are_left_out() -> None:
    text = "\n".join(f"+line {i}" for i in range(DIFF_MAX_LINES + 7))
    cut = bounded_diff(text).splitlines()
    assert cut[:-1] == text.splitlines()[:DIFF_MAX_LINES]
    assert cut[-1] == "… 7 more lines"
    assert bounded_diff("+a\n-b\n") == "+a\n-b"
