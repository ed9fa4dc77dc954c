"""Configure domain…'s VIFs and Disks tabs (Figure 28) against real XE services and sim XPS
hosts: add / edit / remove rows, each typing error under its field, XE's refusal under the
list naming the VM, and the VIF and disk arriving in the host's own xl config (§4.3.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.app import App
from textual.widgets import Checkbox, Input, Label, OptionList, Select, TabbedContent, TextArea
from textual.widgets._select import SelectOverlay

from tests._support.console import wait_for
from tests._support.keys import one_read
from tests._support.snapshots import settled_screenshot
from tests._support.xe_console import World, ready, rows, status
from xenon_tui.dialogs._xe_config import ConfigureVmDialog, XlConfigDialog
from xenon_tui.dialogs._xe_devices import (
    DeviceList,
    DeviceRowDialog,
    DiskRow,
    VifRow,
    disk_field_problems,
    vif_field_problems,
)
from xenon_tui.dialogs._xe_forms import PullDown
from xps.policy import policy_from_dict
from xps.policy.generators import xl_config


def _target(vm: str) -> str:
    """A disk image in the sample hosts' file storage location of the VM's enclave."""
    return f"/var/lib/xenon/{vm[:2]}/{vm}-data.img"


async def _host_xl_config(world: World, host: str, vm: str) -> str:
    """The xl config the host itself generates for ``vm`` from the policy it enforces."""
    (xps,) = [h for h in world.hosts if h.name == host]
    client = await xps.console()
    stored = await client.get_policy()
    return xl_config(policy_from_dict(stored["policy"]), vm, vnc_password="test-mask")


async def _ip_on(world: World, host: str, bridge: str, last: str) -> str:
    """An address of the host's switch ``bridge``'s /16 (the host refuses others)."""
    (xps,) = [h for h in world.hosts if h.name == host]
    stored = await (await xps.console()).get_policy()
    switch = policy_from_dict(stored["policy"]).switch_named(bridge)
    assert switch.ip is not None
    return ".".join(switch.ip.split(".")[:2]) + f".1.{last}"


async def _open(pilot: Any, app: Any, tab: str) -> ConfigureVmDialog:
    await pilot.press("tab", "C")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfigureVmDialog), 30)
    dialog = app.screen
    assert isinstance(dialog, ConfigureVmDialog)
    # Once its first field has the focus: a tab chosen before its tabs were mounted was
    # undone (they open on the Extra XL tab), and the click on a VIFs button missed.
    await wait_for(pilot, lambda: dialog.ready, 30)
    tabs = dialog.query_one(TabbedContent)
    tabs.active = tab
    await wait_for(pilot, lambda: tabs.active == tab and tabs.get_pane(tab).region.area > 0)
    return dialog


async def _form(pilot: Any, app: Any, button: str, values: dict[str, str]) -> DeviceRowDialog[Any]:
    await pilot.click(button)
    await wait_for(pilot, lambda: isinstance(app.screen, DeviceRowDialog), 10)
    form = app.screen
    assert isinstance(form, DeviceRowDialog)
    for name, value in values.items():
        form.query_one(f"#row-{name}", Input).value = value
    return form


def test_the_forms_check_the_shape_of_each_field() -> None:
    assert vif_field_problems(VifRow("EAbr", "00:16:3E:F3:E2:D4", "172.19.1.5")) == {}
    assert set(vif_field_problems(VifRow("EA'br", "00:16:3e", "1.2.3.4,x"))) == {
        "bridge",
        "mac",
        "ip",
    }
    assert disk_field_problems(DiskRow("phy:/dev/vg/a", "xvdb", "r", "raw")) == {}
    bad = disk_field_problems(DiskRow("/srv/../etc/shadow", "sdb", "rw", "vmdk"))
    assert set(bad) == {"target", "vdev", "mode", "format"}
    assert "target" in disk_field_problems(DiskRow("/srv/a,b.img", "xvdb"))
    # Issue #13: a VIF's NIC model from a closed list, a CD-ROM read-only.
    assert vif_field_problems(VifRow("EAbr", model="rtl8139")) == {}
    assert set(vif_field_problems(VifRow("EAbr", model="pcnet"))) == {"model"}
    assert disk_field_problems(DiskRow("/srv/a.iso", "hdc", "r", cdrom=True)) == {}
    assert disk_field_problems(DiskRow("/srv/a.iso", "hdc", "w", cdrom=True)) == {
        "mode": "a CD-ROM is read-only: r"
    }
    assert VifRow("EAbr", model="e1000").body()["model"] == "e1000"
    assert "model" not in VifRow("EAbr").body()
    assert DiskRow("/srv/a.iso", "hdc", "r", cdrom=True).body()["cdrom"] is True
    assert "cdrom" not in DiskRow("/srv/a.img", "xvdb").body()
    assert "CD-ROM" in DiskRow("/srv/a.iso", "hdc", "r", cdrom=True).line()


class _FormApp(App[Any]):
    """Only the row form (no XE): what it offers and answers."""

    def __init__(self, row: Any, hvm: bool) -> None:
        super().__init__()
        self.row, self.hvm = row, hvm
        self.answer: Any = "none yet"

    def on_mount(self) -> None:
        self.push_screen(DeviceRowDialog("Add", self.row, hvm=self.hvm), self._answered)

    def _answered(self, row: Any) -> None:
        self.answer = row


@pytest.mark.parametrize("hvm", [True, False], ids=["hvm", "pv"])
async def test_the_vif_form_offers_the_nic_model_for_hvm_only(hvm: bool) -> None:
    app = _FormApp(VifRow("EBbr"), hvm)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceRowDialog), 10)
        assert len(app.screen.query(Select)) == (1 if hvm else 0)
        if hvm:
            app.screen.query_one("#row-model", Select).value = "virtio-net"
        await pilot.click("#row-ok")
        await wait_for(pilot, lambda: app.answer != "none yet", 10)
    assert app.answer == VifRow("EBbr", model="virtio-net" if hvm else None)


async def test_the_nic_model_is_a_pull_down_searched_by_the_keys_behind_its_enter() -> None:
    """The VIF form's NIC model is the forms' pull-down (its list built when opened) with
    their type-ahead: Enter and a search in one read choose it (#13)."""
    app = _FormApp(VifRow("EBbr", model="rtl8139"), True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceRowDialog), 10)
        model = app.screen.query_one("#row-model", Select)
        assert isinstance(model, PullDown) and not app.screen.query(SelectOverlay)
        assert model.value == "rtl8139"
        model.focus()
        await wait_for(pilot, lambda: model.has_focus)
        one_read(app, ["enter", *"vir", "enter"])
        await wait_for(pilot, lambda: model.value == "virtio-net" and not model.expanded)
        one_read(app, ["enter", *"e1000 (", "enter"])  # the first entry: no model line
        await wait_for(pilot, lambda: model.value == "" and not model.expanded)
        await pilot.click("#row-ok")
        await wait_for(pilot, lambda: app.answer != "none yet", 10)
    assert app.answer == VifRow("EBbr", model=None)


async def test_the_cdrom_box_makes_the_disk_read_only() -> None:
    app = _FormApp(DiskRow("", "hdc"), False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceRowDialog), 10)
        form = app.screen
        mode = form.query_one("#row-mode", Input)
        assert (mode.value, mode.disabled) == ("w", False)
        form.query_one("#row-target", Input).value = "/var/lib/xenon/EB/install.iso"
        form.query_one("#row-cdrom", Checkbox).value = True
        await wait_for(pilot, lambda: mode.disabled and mode.value == "r", 10)
        form.query_one("#row-cdrom", Checkbox).value = False
        await wait_for(pilot, lambda: not mode.disabled, 10)
        form.query_one("#row-cdrom", Checkbox).value = True
        await wait_for(pilot, lambda: mode.disabled, 10)
        await pilot.click("#row-ok")
        await wait_for(pilot, lambda: app.answer != "none yet", 10)
    assert app.answer == DiskRow("/var/lib/xenon/EB/install.iso", "hdc", "r", "raw", cdrom=True)


async def test_a_vif_and_a_disk_set_in_the_console_arrive_in_the_host_s_xl_config(
    world: World, tmp_path: Path
) -> None:
    root = world.clients[0]
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        vm, host = rows(app)[0].name, rows(app)[0].host
        bridge, target = f"{vm[:2]}br", _target(vm)  # the sample's switch of its enclave
        before = await _host_xl_config(world, host, vm)
        assert target not in before
        ip1, ip2 = (
            await _ip_on(world, host, bridge, "150"),
            await _ip_on(world, host, bridge, "151"),
        )
        dialog = await _open(pilot, app, "tab-vifs")
        # A wrong bridge and MAC: each problem under its field, the form stays.
        form = await _form(
            pilot, app, "#vifs .dev-add", {"bridge": "EA br", "mac": "00:16", "ip": ""}
        )
        await pilot.click("#row-ok")
        await pilot.pause()
        assert app.screen is form
        assert form.query_one("#row-bridge-error", Label).display
        assert "A-Z" in str(form.query_one("#row-bridge-error", Label).render())
        assert form.query_one("#row-mac-error", Label).display
        assert not form.query_one("#row-ip-error", Label).display
        form.query_one("#row-bridge", Input).value = bridge
        form.query_one("#row-mac", Input).value = "02:16:3E:00:00:0A"
        form.query_one("#row-ip", Input).value = ip1
        form.query_one("#row-ip", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is dialog)
        vifs = dialog.query_one("#vifs", DeviceList)
        assert vifs.rows == [VifRow(bridge, "02:16:3E:00:00:0A", ip1)]
        # Edit it (Enter on the row), then a disk on the Disks tab.
        vifs.query_one(OptionList).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceRowDialog))
        app.screen.query_one("#row-ip", Input).value = ip2
        await pilot.click("#row-ok")
        await wait_for(pilot, lambda: app.screen is dialog)
        assert vifs.rows[0].ip == ip2
        dialog.query_one(TabbedContent).active = "tab-disks"
        await pilot.pause()
        form = await _form(pilot, app, "#disks .dev-add", {"target": target, "mode": "r"})
        assert form.query_one("#row-vdev", Input).value == "xvda"  # the first free one
        form.query_one("#row-vdev", Input).value = "xvdb"
        await pilot.click("#row-ok")
        await wait_for(pilot, lambda: app.screen is dialog)
        # A second disk, removed again.
        form = await _form(
            pilot, app, "#disks .dev-add", {"target": f"/var/lib/xenon/{vm[:2]}/x.img"}
        )
        await pilot.click("#row-ok")
        await pilot.pause()
        await wait_for(pilot, lambda: app.screen is dialog)
        disks = dialog.query_one("#disks", DeviceList)
        assert len(disks.rows) == 2
        await pilot.click("#disks .dev-remove")
        assert disks.rows == [DiskRow(target, "xvdb", "r", "raw")]
        # An ISO as a CD-ROM (issue #13): the box makes it read-only.
        iso = f"/var/lib/xenon/{vm[:2]}/install.iso"
        form = await _form(pilot, app, "#disks .dev-add", {"target": iso, "vdev": "xvdc"})
        form.query_one("#row-cdrom", Checkbox).value = True
        await wait_for(pilot, lambda: form.query_one("#row-mode", Input).value == "r")
        await pilot.click("#row-ok")
        await wait_for(pilot, lambda: app.screen is dialog)
        assert disks.rows[-1] == DiskRow(iso, "xvdc", "r", "raw", cdrom=True)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.enterprise, 30)
        await wait_for(pilot, lambda: status(app).endswith("configuration saved"), 30)
        saved = await root.policy.get_vm(vm)
        assert [(v.bridge, v.mac, v.ip) for v in saved.vifs] == [(bridge, "02:16:3e:00:00:0a", ip2)]
        assert [(d.target, d.vdev, d.mode, d.cdrom) for d in saved.disks] == [
            (target, "xvdb", "r", False),
            (iso, "xvdc", "r", True),
        ]
        # View domain config names them.
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, XlConfigDialog), 30)
        shown = app.screen.query_one("#xl-config", TextArea).text
        assert f"# disk 1: {target},raw,xvdb,r" in shown
        assert f"# disk 2: {iso},raw,xvdc,r,devtype=cdrom" in shown
        await pilot.press("escape")
    task = await root.compute.wait_task((await root.compute.propagate()).task_id, 90)
    assert task.state == "succeeded", task.error
    after = await _host_xl_config(world, host, vm)
    # (an HVM guest's VIF also gets its NIC type from the host's generator)
    assert f"vif = [ 'mac=02:16:3e:00:00:0a,bridge={bridge},ip={ip2}" in after
    assert (
        f"disk = [ '{target},raw,xvdb,ro', "
        f"'format=raw,vdev=xvdc,access=ro,devtype=cdrom,target={iso}' ]"
    ) in after


async def test_xe_s_refusal_is_shown_under_the_list_with_the_vm_and_keeps_the_rows(
    world: World, tmp_path: Path
) -> None:
    root = world.clients[0]
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        vm = rows(app)[0].name
        allowed = (await root.policy.get_vm(vm)).network.switches
        dialog = await _open(pilot, app, "tab-vifs")
        # A bridge of the right shape that the VM's network restrictions do not allow.
        await _form(pilot, app, "#vifs .dev-add", {"bridge": "ZZbr"})
        await pilot.click("#row-ok")
        await wait_for(pilot, lambda: app.screen is dialog)
        await pilot.press("ctrl+s")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ConfigureVmDialog) and app.screen is not dialog,
            30,
        )
        again = app.screen
        assert isinstance(again, ConfigureVmDialog)
        assert again.query_one(TabbedContent).active == "tab-vifs"
        under = str(again.query_one("#vifs .dev-error", Label).render())
        assert "XE-VM-VIF" in under and vm in str(again.query_one("#cfg-error", Label).render())
        assert "ZZbr" in under and all(s in under for s in allowed)
        assert again.query_one("#vifs", DeviceList).rows == [VifRow("ZZbr")]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise)
    assert (await root.policy.get_vm(vm)).vifs == []


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
@pytest.mark.parametrize("which", ["vifs", "disks", "form"])
async def test_snapshot(
    world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int], which: str
) -> None:
    root = world.clients[0]
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        vm = rows(app)[0].name
        await root.policy.set_vm_vifs(vm, [{"bridge": f"{vm[:2]}br", "ip": "172.19.1.150"}])
        disk = {"target": _target(vm), "vdev": "xvdb", "mode": "r"}
        await root.policy.set_vm_disks(vm, [disk])
        screen = app.enterprise
        assert screen is not None
        polls = screen.polls
        await wait_for(pilot, lambda: screen.polls > polls + 1, 30)
        await wait_for(pilot, lambda: not any(w.is_running for w in screen.workers), 30)
        await _open(pilot, app, "tab-disks" if which == "disks" else "tab-vifs")
        if which == "form":
            await pilot.click("#vifs .dev-add")
            await wait_for(pilot, lambda: isinstance(app.screen, DeviceRowDialog), 10)
            app.screen.query_one("#row-bridge", Input).value = "EA br"
            await pilot.click("#row-ok")
            error = app.screen.query_one("#row-bridge-error", Label)
            await wait_for(pilot, lambda: bool(error.display), 10)
            ok = app.screen.query_one("#row-ok")
            await wait_for(pilot, lambda: not ok.has_class("-active"), 10)  # the press flash
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg
