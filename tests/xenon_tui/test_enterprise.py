"""The Enterprise screen against real XE services (in-process API, SQLite) and real sim XPS
hosts enforcing the report's §4.2 policy: Hosts panel, enclave VMs, filter, help, the
host console and back, VM actions, migration, policy service warnings, error mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual import events
from textual.widgets import Input, OptionList

from tests._support.console import wait_for
from tests._support.snapshots import settled_screenshot
from tests._support.xe_console import (
    URL,
    World,
    field,
    form,
    open_running_vm_menu,
    ready,
    rows,
    status,
    tree_lines,
    vm_names,
    vm_state,
)
from xenon_tui._config import ConsoleConfig
from xenon_tui._errors import ConfigError
from xenon_tui._xe import EnterpriseError, XeData, XeLink
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import TypedConfirmDialog
from xenon_tui.dialogs._xe_forms import AddDomainDialog
from xenon_tui.dialogs._xe_help import XeHelpScreen
from xenon_tui.dialogs._xe_vm import MigrateDialog, VmActionsDialog
from xenon_tui.dialogs._xe_warnings import PolicyWarningsDialog
from xenon_tui.screens._enterprise import XE_REFRESH_S
from xenon_tui.widgets._xe_tasks import XeTaskPanel
from xenon_tui.widgets._xe_vms import XeVmTable


async def test_the_enterprise_view_is_first_with_hosts_enclaves_and_vms(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        assert app.screen is app.enterprise
        lines = tree_lines(app)
        hosts = [line for line in lines if not line.startswith("  ")]
        assert [h.split()[0] for h in hosts] == ["xenon-1", "xenon-2", "xenon-3"]
        assert all("converged" in h and "v1/1" in h for h in hosts), hosts
        # Enclave A on two hosts, B and C on all three (the report's §4.2).
        enclaves = [line.strip() for line in lines if line.startswith("  ")]
        assert enclaves.count("Enclave A") == 2
        assert enclaves.count("Enclave B") == 3 and enclaves.count("Enclave C") == 3
        # xenon-1's first enclave (B; A is on xenon-2 and xenon-3): its VMs across hosts,
        # with host, state and SecLabel by name as in Figure 29.
        assert lines[1].strip() == "Enclave B"
        assert all(name.startswith("EB-") for name in vm_names(app)), vm_names(app)
        shown = rows(app)
        assert {v.seclabel for v in shown} == {"EB-seclabel"}
        assert {v.host for v in shown} <= {"xenon-1", "xenon-2", "xenon-3"}
        assert {v.state for v in shown} == {"stopped"}
        # j: Enclave C; j again: host xenon-2, whose first enclave is A.
        await pilot.press("j")
        await wait_for(pilot, lambda: all(n.startswith("EC-") for n in vm_names(app)))
        await pilot.press("j")
        await wait_for(pilot, lambda: all(n.startswith("EA-") for n in vm_names(app)))
        # The host console is a key away, and back (twice: the screen and its choice stay).
        # XE is not polled while the host console is shown.
        screen = app.enterprise
        assert screen is not None
        for _ in range(2):
            await pilot.press("ctrl+e")
            await wait_for(pilot, lambda: app.screen is app.host)
            await wait_for(pilot, lambda: not any(w.is_running for w in screen.workers))
            polls = screen.polls
            await pilot.pause(XE_REFRESH_S * 2.5)
            assert screen.polls == polls
            await pilot.press("ctrl+e")
            await wait_for(pilot, lambda: app.screen is app.enterprise)
            assert all(n.startswith("EA-") for n in vm_names(app)), vm_names(app)


async def test_filter_and_help(world: World, tmp_path: Path) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        everything = vm_names(app)
        assert len(everything) >= 2
        wanted = everything[-1]
        await pilot.press("slash", *wanted, "enter")
        await wait_for(pilot, lambda: vm_names(app) == [wanted])
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: vm_names(app) == everything)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, XeHelpScreen))
        help_widget = app.screen.query_one("#xe-help")
        shown = "\n".join(help_widget.render_line(y).text for y in range(help_widget.size.height))
        assert "Filter the VMs" in shown and "xe.vm.actions" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise)


async def test_the_task_panel_and_filter_line_are_built_when_first_shown(
    world: World, tmp_path: Path
) -> None:
    """The first frame builds neither hidden widget (the task panel, the `/` filter line);
    each is mounted on first use and works as before."""
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        polls = screen.polls
        await wait_for(pilot, lambda: screen.polls > polls + 1, 30)  # timers ran meanwhile
        assert not screen.query(XeTaskPanel) and not screen.query("#xe-filter")
        wanted = vm_names(app)[-1]
        await pilot.press("slash", *wanted, "enter")
        await wait_for(pilot, lambda: vm_names(app) == [wanted])
        line = screen.query_one("#xe-filter", Input)
        assert line.value == wanted and not line.has_class("-open")
        assert not screen.query(XeTaskPanel)
        await pilot.press("t")
        await wait_for(pilot, lambda: screen.query_one(XeTaskPanel).is_open)
        await wait_for(pilot, lambda: screen.task_polls > 0, 30)  # XE's recent tasks read
        await pilot.press("t")
        await wait_for(pilot, lambda: not screen.task_panel.is_open)
        assert len(screen.query(XeTaskPanel)) == 1


async def test_vm_actions_start_pause_destroy(world: World, tmp_path: Path) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        vm = vm_names(app)[0]
        assert vm_state(app, vm) == "stopped"
        # Keys typed together (Tab Enter in one write, as a terminal sends them) go to the
        # panel Tab moved to, not to the tree (whose Enter would open nothing).
        app.post_message(events.Key("tab", "\t"))
        app.post_message(events.Key("enter", "\r"))
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        assert app.screen.vm == vm
        await pilot.press("enter")  # a stopped VM's menu opens on Start
        await wait_for(pilot, lambda: vm_state(app, vm) == "running", 60)
        await pilot.press("full_stop")
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        await pilot.press("enter")  # a running VM's menu opens on Pause
        await wait_for(pilot, lambda: vm_state(app, vm) == "paused", 60)
        # Destroy asks for the name; a wrong one does nothing.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))
        await pilot.press("g", "j", "j", "enter")  # a paused VM's Destroy… (3rd)
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmDialog))
        await pilot.press(*"wrong", "enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, TypedConfirmDialog)
        await pilot.press(*["backspace"] * 5, *vm, "enter")
        await wait_for(pilot, lambda: vm_state(app, vm) == "stopped", 60)
        state = await world.clients[0].compute.vm_state(vm)
        assert state.run_state == "stopped"


async def test_migrate_shows_every_reason_then_progress_and_downtime(
    world: World, tmp_path: Path
) -> None:
    link = await world.link("oper")
    api = world.factory(link)
    await api.compute.vm_action("EA-domu-1", "start")
    app = world.console(link, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await open_running_vm_menu(pilot, app)
        await pilot.press("G", "enter")  # the last action: Migrate…
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateDialog), 30)
        dialog = app.screen
        assert isinstance(dialog, MigrateDialog)
        by_host = {t.host: t for t in dialog.targets}
        assert by_host["xenon-3"].allowed
        refused = by_host["xenon-1"]
        assert not refused.allowed
        assert {r.code for r in refused.reasons} == {"XE-MIG-ENCLAVE", "XE-MIG-SWITCH"}
        options = dialog.query_one("#targets", OptionList)
        prompts = "\n".join(
            str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
        )
        assert "XE-MIG-ENCLAVE" in prompts and "XE-MIG-SWITCH" in prompts
        # Refused hosts are disabled: g lands on the first allowed one, xenon-3.
        await pilot.press("g")
        highlighted = options.highlighted
        assert highlighted is not None
        assert options.get_option_at_index(highlighted).id == "xenon-3"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "downtime" in status(app), 90)
        line = status(app)
        assert "EA-domu-1 migrated to xenon-3: downtime" in line
        state = await api.compute.vm_state("EA-domu-1")
        assert state.host == "xenon-3"


async def test_a_refused_write_opens_the_policy_service_warnings(
    world: World, tmp_path: Path
) -> None:

    root = await world.admin()
    await root.policy.create_enclave("Enclave D", color="#336699")
    await root.policy.assign("Enclave D", "xenon-3")
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await wait_for(pilot, lambda: any("Enclave D" in line for line in tree_lines(app)))
        await pilot.press("G")  # the last line: xenon-3's last enclave, Enclave D
        screen = app.enterprise
        assert screen is not None
        enclave_d = next(e.id for e in screen.overview.enclaves.values() if e.name == "Enclave D")  # type: ignore[union-attr]
        await wait_for(pilot, lambda: screen.enclave == enclave_d)
        await pilot.press("a")
        # The fields are mounted after the frame (a form under load): wait for them.
        add = await form(pilot, app, AddDomainDialog)
        field(add, "kernel").value = "/boot/vmlinuz"
        await pilot.press(*"ED-domu-1", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyWarningsDialog), 30)
        dialog = app.screen
        assert isinstance(dialog, PolicyWarningsDialog)
        await wait_for(pilot, lambda: bool(dialog.query("#warnings")))  # composed
        codes = {f.code for f in dialog.findings}
        assert "XE-VM-NO-SECLABEL" in codes, dialog.findings
        shown = str(dialog.query_one("#warnings").render())
        assert "XE-VM-NO-SECLABEL" in shown and "ED-domu-1" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise)


async def test_xe_errors_become_console_errors_with_xe_message(world: World) -> None:
    bad = XeData(XeLink(URL, "not-a-token", "oper", "operator", None), world.factory)
    with pytest.raises(EnterpriseError) as info:
        await bad.overview()
    assert info.value.code == "unauthenticated" and info.value.title == "Xenon Enterprise"
    assert "not-a-token" not in info.value.message
    closed = XeData(XeLink("http://127.0.0.1:9", "t", "oper", "operator", None))
    with pytest.raises(EnterpriseError) as info:
        await closed.overview()
    assert info.value.code == "unreachable"
    await closed.aclose()
    aud = XeData(await world.link("aud"), world.factory)
    with pytest.raises(EnterpriseError) as info:
        await aud.vm_action("EA-domu-1", "start")
    assert info.value.code == "role_required"


def test_the_link_never_shows_its_token_and_is_checked_where_it_is_made() -> None:
    link = XeLink(URL, "secret-token-value", "oper", "operator", None)
    assert "secret-token-value" not in repr(link)
    with pytest.raises(ConfigError, match="XE URL must be"):
        XeLink("xe.example:8443", "t", "oper", "operator", None)
    with pytest.raises(ConfigError, match="invalid XE user name"):
        XeLink(URL, "t", "oper\x1b[2J", "operator", None)


def test_a_console_without_xe_loads_no_enterprise_module() -> None:
    # Memory per SSH session at the first frame: neither the Enterprise widgets nor httpx
    # and the XE models are loaded until the Enterprise view is shown.
    code = (
        "import sys\n"
        "from xenon_tui.app import XenonConsole\n"
        "from xenon_tui._config import ConsoleConfig\n"
        "XenonConsole(ConsoleConfig())\n"
        "from xenon_tui._xe import XeLink\n"
        "bad = [m for m in sys.modules if m.startswith(('xenon_tui.screens._enterprise',"
        " 'xenon_tui.widgets._xe_', 'xenon_tui.dialogs._xe_', 'httpx', 'enterprise_store'))]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot(world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int]) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        polls = screen.polls
        await wait_for(pilot, lambda: screen.polls > polls + 1, 30)
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg


async def test_a_host_that_cannot_take_the_policy_shows_retrying_with_its_error(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        root = await world.admin()
        # xenon-1's daemon stops; a new version cannot reach it.
        hosts = {h.name: h for h in world.hosts}
        await hosts["xenon-1"].stop()
        await root.policy.create_enclave("Enclave D", color="#336699")

        def xenon_1() -> str:
            return next(line for line in tree_lines(app) if line.startswith("xenon-1"))

        await wait_for(pilot, lambda: "retrying" in xenon_1(), 90)
        line = xenon_1()
        assert line.startswith("xenon-1  v2/1 retrying (") and "): " in line, line
        # Back: the host converges and its line says so.
        await hosts["xenon-1"].start()
        await wait_for(pilot, lambda: "v2/2 converged" in xenon_1(), 90)


async def test_an_unreachable_xe_is_shown_in_the_status_line(tmp_path: Path) -> None:
    link = XeLink("http://127.0.0.1:9", "t", "oper", "operator", None)
    app = XenonConsole(ConsoleConfig(config_path=tmp_path / "console.json"), xe=link)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.enterprise is not None)
        enterprise = app.enterprise
        assert enterprise is not None
        # Every notice posted is kept here (held, so no id is reused): a notice expires
        # after 8 s, and a poll on a loaded machine may take longer.
        posted: dict[int, Any] = {}

        def polled(n: int) -> bool:
            posted.update((id(x), x) for x in app._notifications)
            return enterprise.polls >= n

        await wait_for(pilot, lambda: polled(2) and bool(posted))
        assert status(app).startswith("XE: cannot reach http://127.0.0.1:9")
        polls = enterprise.polls
        await wait_for(pilot, lambda: polled(polls + 1))
        # One notification for the error, not one per poll.
        assert [n.title for n in posted.values()] == ["Xenon Enterprise"]


async def test_the_vm_table_redraws_only_what_changed() -> None:
    from textual.app import App, ComposeResult

    from xenon_tui._xe import VmRow

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield XeVmTable(id="vms")

    rows = [VmRow(f"id-{i}", f"vm-{i}", "xenon-1", "running", "EA-seclabel") for i in range(5)]
    app = One()
    async with app.run_test() as pilot:
        table = app.query_one(XeVmTable)
        table.show(rows)
        await pilot.pause()
        table.focus()
        await pilot.press("j", "j")
        assert table.current_vm() == rows[2]
        await pilot.pause()
        drawn = table.lines_drawn
        table.show(list(rows))  # a poll that brings the same rows: no line drawn again
        await pilot.pause()
        assert table.lines_drawn == drawn
        changed = [*rows[:3], VmRow("id-3", "vm-3", "xenon-2", "paused", "EA-seclabel"), rows[4]]
        table.show(changed)
        await pilot.pause()
        # Same rows: the changed VM's line alone is drawn again, the cursor stays.
        assert table.lines_drawn == drawn + 1
        assert table.current_vm() == rows[2]
        assert table.render_line(4).text.split() == ["vm-3", "xenon-2", "paused", "EA-seclabel"]
        table.show(changed[1:])  # a VM went away: redrawn, the cursor stays on its VM
        await pilot.pause()
        assert table.current_vm() == rows[2] and table.cursor_row == 1


async def test_an_auditor_is_not_offered_changes(world: World, tmp_path: Path) -> None:
    app = world.console(await world.link("aud"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None and screen.read_only
        assert "add_domain" not in {b.binding.action for b in screen.active_bindings.values()}
        await pilot.press("a")
        await pilot.pause(0.2)
        assert app.screen is screen  # no Add domain dialog
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, XeHelpScreen))
        help_widget = app.screen.query_one("#xe-help")
        shown = "\n".join(help_widget.render_line(y).text for y in range(help_widget.size.height))
        assert "Filter the VMs" in shown and "Add domain" not in shown


async def test_the_demos_local_console_opens_on_the_enterprise_view(tmp_path: Path) -> None:
    from xenon_tui.demo._run import DemoXe, local_console, xe_link
    from xenon_tui.screens._enterprise import EnterpriseScreen

    ca = tmp_path / "ca-cert.pem"
    ca.write_text("not read before the first request\n")
    xe = DemoXe(tmp_path, "https://127.0.0.1:9", ca, tmp_path / "ssh-credential")
    tls = {"ca": str(ca), "cert": str(tmp_path / "c.pem"), "key": str(tmp_path / "k.pem")}
    app = local_console([], tls, xe_link(xe, "xes_" + "a" * 43))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, EnterpriseScreen))
        assert app.screen is app.enterprise
        assert app.enterprise.link.user == "admin" and app.enterprise.link.role == "admin"
        assert app.enterprise.link.ca_file == ca
    without = local_console([], tls)
    async with without.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert without.enterprise is None and not isinstance(without.screen, EnterpriseScreen)
