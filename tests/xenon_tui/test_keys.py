"""k9s keyboard habits and the Domains view (issue #12 §7): list keys everywhere, sorting,
Enter to switch host, host names in `:connect` and clone, plain wording, a live list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests._support.console import console_config, wait_connected, wait_for
from tests._support.screens import view_shown
from tests._support.scripted_host import ScriptedHost, small_policy
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import ConfirmDialog, InputDialog, TextDialog
from xenon_tui.dialogs._help import help_table
from xenon_tui.screens._host import DOMAINS_REFRESH_S
from xenon_tui.widgets import DomainsTable, ServersPanel


class NamedHost(ScriptedHost):
    """A scripted host that reports its own host name."""

    def __init__(self, hostname: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.hostname = hostname

    async def hypervisor_info(self) -> dict[str, Any]:
        return {**await super().hypervisor_info(), "hostname": self.hostname}


async def _two_hosts(start_xps: Any) -> tuple[Any, NamedHost, Any, NamedHost]:
    a, b = NamedHost("xenon-1"), NamedHost("xenon-2", policy=small_policy(name="other"))
    return await start_xps(a), a, await start_xps(b), b


async def test_list_keys_move_in_the_domains_list_and_y_shows_the_xl_config(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        await view_shown(pilot, "domains")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3 and app.focused is table)
        await pilot.press("j")
        assert table.selected()["name"] == "EA-domu-2"
        await pilot.press("G")
        assert table.selected()["name"] == "EB-domu-1"
        await pilot.press("k")
        assert table.selected()["name"] == "EA-domu-2"
        await pilot.press("g")  # the first row, no longer the xl config
        assert table.selected()["name"] == "EA-domu-1"
        assert not isinstance(app.screen, TextDialog)
        await pilot.press("end", "home")
        assert table.selected()["name"] == "EA-domu-1"
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        assert 'name = "EA-domu-1"' in str(app.screen.query_one("#text").render())


def test_help_lists_the_list_keys_and_the_new_xl_config_key() -> None:
    from rich.console import Console

    console = Console(width=160, record=True)
    console.print(help_table({}, read_only=False))
    text = console.export_text()
    assert "Every list" in text
    assert "Home g" in text and "End G" in text and ":nofilter" in text
    xl_line = next(line for line in text.splitlines() if "xl config" in line)
    assert xl_line.split()[0] == "y"


async def test_sort_keys_and_sort_command(scripted: Any, xps_pki: Any, tmp_path: Path) -> None:
    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        await view_shown(pilot, "domains")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3 and app.focused is table)
        await pilot.press("C")  # CPU, biggest first
        assert [d["name"] for d in table.domains] == ["EB-domu-1", "EA-domu-2", "EA-domu-1"]
        await pilot.press("C")  # again: reversed
        assert [d["name"] for d in table.domains] == ["EA-domu-1", "EA-domu-2", "EB-domu-1"]
        await pilot.press("colon", *"sort name", "enter")
        await wait_for(pilot, lambda: table.order_by == "name")
        assert [d["name"] for d in table.domains] == ["EA-domu-1", "EA-domu-2", "EB-domu-1"]
        await pilot.press("colon", *"sort nonsense", "enter")
        await pilot.pause()
        assert any("sort by what" in n.message for n in app._notifications)


async def test_moving_in_the_server_list_switches_host_only_on_enter(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    ra, _a, rb, _b = await _two_hosts(start_xps)
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    first, second = (f"127.0.0.1:{r.rw_port}" for r in (ra, rb))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app, first)
        await wait_connected(pilot, app, second)
        panel = app.query_one(ServersPanel)
        await pilot.press("1", "j")
        assert panel.current == second
        assert app.current == first  # only highlighted
        await pilot.press("enter")
        assert app.current == second
        line = str(panel.get_option_at_index(1).prompt)
        assert line.startswith("▸ ")


async def test_connect_and_clone_accept_known_host_names(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    ra, _a, rb, b = await _two_hosts(start_xps)
    app = XenonConsole(console_config(xps_pki, ra, rb, tmp=tmp_path))
    second = f"127.0.0.1:{rb.rw_port}"
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await wait_connected(pilot, app, second)
        await pilot.press("colon", *"connect xenon-2", "enter")
        await wait_for(pilot, lambda: app.current == second)
        assert len(app.servers) == 2  # not a new "xenon-2:8443"
        assert not [n for n in app._notifications if n.severity == "error"]
        # Clone from the first server to the second, named by its host name.
        await pilot.press("1", "home", "L")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        dialog = app.screen
        dialog.query_one("Input").value = "XENON-2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: ("ActivatePolicy", None) in b.calls)


async def test_start_on_a_running_domain_says_it_runs_and_msm_mark_only_when_paused(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        await view_shown(pilot, "domains")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3 and app.focused is table)
        await pilot.press("s")
        await wait_for(pilot, lambda: bool(app._notifications))
        messages = [n.message for n in app._notifications]
        assert any("EA-domu-1 is already running" in m for m in messages), messages
        assert not any(c[0] == "CreateDomain" for c in host.calls)
        # A shut-down domain whose MSM flag is still set is just "shutdown".
        table.set_domains(
            [
                {"domid": "", "name": "EA-domu-1", "run_state": "shutdown", "stopped_by_msm": True},
                {"domid": 2, "name": "EA-domu-2", "run_state": "paused", "stopped_by_msm": True},
            ]
        )
        cells = [str(table.get_row_at(i)[3]) for i in range(2)]
        assert cells == ["paused (MSM)", "shutdown"]


async def test_domains_refresh_by_themselves_and_only_changed_cells_redraw(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    assert DOMAINS_REFRESH_S <= 10  # the safety read of what no event announces
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("4")
        await view_shown(pilot, "domains")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3 and app.focused is table)
        rebuilds: list[int] = []
        clear = table.clear
        table.clear = lambda columns=False: (rebuilds.append(1), clear(columns))[1]  # type: ignore[method-assign]
        host.run["EA-domu-2"] = "paused"  # changed on the host, no event sent
        await wait_for(
            pilot,
            lambda: any(
                d["name"] == "EA-domu-2" and d["run_state"] == "paused" for d in table.domains
            ),
            wait_s=30,
        )
        assert rebuilds == []  # one cell updated, the table not rebuilt
        assert "paused" in str(table.get_row("EA-domu-2")[3])


async def test_list_keys_and_escape_in_the_policy_tree(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    from textual.widgets import Tree

    from xenon_tui.widgets._viewtabs import ViewTabs

    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("2")
        await view_shown(pilot, "policy")
        tree = app.query_one("#objects-tree", Tree)
        await wait_for(pilot, lambda: app.focused is tree and tree.last_line > 2)
        await pilot.press("home", "j")
        assert tree.cursor_line == 1
        await pilot.press("G")
        assert tree.cursor_line == tree.last_line
        await pilot.press("g")
        assert tree.cursor_line == 0
        await pilot.press("slash", *"EB-", "enter")
        await wait_for(pilot, lambda: "filter /EB-" in app.query_one(ViewTabs).status())
        await wait_for(pilot, lambda: app.focused is tree)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "filter" not in app.query_one(ViewTabs).status())
