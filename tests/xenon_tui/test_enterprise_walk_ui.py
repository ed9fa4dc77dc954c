"""The UI findings of the §4.2 walk (issue #13, session 9) against real XE services over
sim hosts: the audit log readable at 80x24, the role always in the Enterprise title, task
results in words, counts in the right number."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from tests._support.console import wait_for
from tests._support.snapshots import settled_screenshot
from tests._support.xe_console import PASSWORD, World, open_screen, ready
from xenon_tui.screens._xe_audit import XeAuditScreen, audit_columns, clip
from xenon_tui.screens._xe_hold import title_text
from xenon_tui.widgets._xe_tasks import counted, outcome

HOLD = "v12 waits for approval by an admin other than alice"


def _lines(widget: Any) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def test_the_audit_log_keeps_who_what_when_and_outcome_at_80x24(
    world: World, tmp_path: Path
) -> None:
    # A long object (a user with a long name) pushed Result off an 80-column screen.
    name = "walk-" + uuid.uuid4().hex[:27]  # 32 characters, the most XE takes
    root = await world.admin()
    await root.create_user(name, "auditor", password=PASSWORD)
    app = world.console(await world.link("aud"), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(
            pilot, app, "L", XeAuditScreen, lambda s: s.loads >= 1 and bool(s.records)
        )
        table = screen.query_one("#audit", DataTable)
        # The widths hold as soon as the rows are in (not only after the table's idle).
        widths = [c.get_render_width(table) for c in table.ordered_columns]
        assert sum(widths) <= table.size.width - 2, widths
        await settled_screenshot(pilot, app)
        lines = _lines(table)
        record = next(r for r in screen.records if r.action == "user.create" and name in r.object)
        row = next(line for line in lines if record.ts.strftime("%H:%M:%S") in line and
                   "user.create" in line and "user:walk-" in line)  # fmt: skip
        assert record.ts.strftime("%Y-%m-%d %H:%M:%S") in row
        assert "root" in row and row.rstrip().endswith("ok"), row
        assert "…" in row  # the object is cut, visibly
        header = lines[0]
        for label in ("Time (UTC)", "Actor", "Action", "Object", "Result"):
            assert label in header, header
        await pilot.resize_terminal(160, 48)
        await wait_for(pilot, lambda: any(c.key == "seq" for c in screen.columns))
        await settled_screenshot(pilot, app)
        assert name in "\n".join(_lines(table))  # room enough: the whole object


def test_audit_columns_at_both_sizes() -> None:
    for width in (80, 160):
        cols = {c.key: c.width for c in audit_columns(width)}
        assert sum(w + 2 for w in cols.values()) + 2 <= width  # + the scrollbar
        assert cols["ts"] == 19 and cols["actor"] >= 8 and cols["action"] >= 18
        assert cols["result"] >= 9 and cols["object"] >= 10
    assert "seq" not in {c.key for c in audit_columns(80)}
    assert clip("refused:forbidden", 9) == "refused:…" and clip("ok", 9) == "ok"


@pytest.mark.parametrize("role", ["auditor", "operator", "admin"])
@pytest.mark.parametrize("width", [158, 78, 40])
def test_the_title_always_shows_the_role(role: str, width: int) -> None:
    for hold in (HOLD, None):
        shown = title_text("aud", role, hold, width=width).plain
        assert len(shown) <= width, shown
        assert shown.endswith(f"aud ({role})"), shown
        if hold is not None:
            assert "V to review" in shown
            assert shown.startswith("⛨ v12 waits" if width >= 78 else ("⛨ v12", "⛨ held"))
    shown = title_text("a" * 90, "auditor", HOLD, width=78).plain
    assert len(shown) <= 78 and shown.endswith("… (auditor)"), shown
    assert title_text("aud", "auditor", HOLD, width=158).plain == (
        f"⛨ {HOLD} — V to review  ·  aud (auditor)"
    )
    assert title_text("aud", "auditor", None).plain == "⛨ Xenon Enterprise — aud (auditor)"


async def test_add_host_result_reads_as_a_sentence(empty_world: World) -> None:
    root = await empty_world.admin()
    host = empty_world.hosts[0]
    started = await root.compute.add_host(host.name, "127.0.0.1", host.port)
    task = await root.compute.wait_task(started.task_id, 90)
    assert task.state == "succeeded", task.error
    said = outcome(task)
    assert said.startswith(f"host {host.name} added in policy v"), said
    assert "CPU " in said and "Xen 4.17.0-xenon-sim" in said, said
    assert not any(c in said for c in "{}[]'="), said


def test_counts_are_singular_or_plural() -> None:
    assert counted(1, "VM") == "1 VM" and counted(0, "VM") == "0 VMs"
    assert counted(1000, "host") == "1,000 hosts"
    assert counted(1, "policy", "policies") == "1 policy"
    assert counted(2, "policy", "policies") == "2 policies"


async def test_an_enclave_with_one_vm_says_1_vm(world: World, tmp_path: Path) -> None:
    from enterprise_store.services import Principal

    services = world.services
    policy = await services.policy.current()
    for enclave in policy.enclaves:  # one VM left in each
        for vm in [v for v in policy.vms if v.enclave == enclave.id][1:]:
            await services.policy.delete_vm(Principal.system(), vm.id)
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        enclave = app.screen.query_one("#xe-enclave")
        await wait_for(pilot, lambda: "Enclave" in str(enclave.render()), 30)
        shown = str(enclave.render())
        assert shown.endswith("·  1 VM"), shown
