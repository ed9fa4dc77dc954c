"""The Enterprise screen's forms against real XE services and sim XPS hosts: Add enclave
(live swatch), Add tag / Remove tag, Add host (a task, then the CPU read from the host),
the hosts dialog (order, remove), Add SecLabel, Add domain (guest-type fields, default
host rule), the warnings' fix (Figure 24 → Add SecLabel → back to Add domain), the
auditor (not offered, and refused when forced), and snapshots at 160x48 and 80x24."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from rich.console import RenderableType
from textual import events
from textual.app import App
from textual.screen import Screen
from textual.widgets import OptionList, Select, Static
from textual.widgets._select import SelectCurrent, SelectOverlay

from tests._support.console import wait_for
from tests._support.keys import one_read
from tests._support.snapshots import settle, settled_screenshot
from tests._support.xe_console import (
    PASSWORD,
    URL,
    World,
    choose_new,
    field,
    form,
    move_to,
    ready,
    tree_lines,
    vm_names,
)
from xenon_tui._xe import Finding, XeLink
from xenon_tui.dialogs import ConfirmDialog, TypedConfirmDialog
from xenon_tui.dialogs._xe_form_hosts import HostsDialog, NewMenuDialog
from xenon_tui.dialogs._xe_forms import (
    DEFAULT_HOST,
    NO_SECLABEL,
    AddDomainDialog,
    AddEnclaveDialog,
    AddHostDialog,
    AddSecLabelDialog,
    AddTagDialog,
    HostCpuDialog,
    PullDown,
    XeForm,
    domain_body,
    parse_color,
)
from xenon_tui.dialogs._xe_warnings import Fix, PolicyWarningsDialog, finding_fix
from xenon_tui.widgets._xe_tasks import XeTaskPanel

# -- helpers ----------------------------------------------------------------------------------


def error(screen: XeForm, name: str) -> str:
    return str(screen.query_one(f"#error-{name}", Static).render())


def choices(screen: XeForm, name: str) -> tuple[tuple[str, str], ...]:
    return next(f.choices for f in screen.fields if f.name == name)


def shown_rows(screen: XeForm) -> set[str]:
    """The fields whose rows are mounted (a field not shown is not)."""
    return {f.name for f in screen.fields if screen.query(f"#row-{f.name}")}


async def admin(world: World) -> Any:
    root = world.factory(XeLink(URL, "", "root", "admin", None))
    await root.login("root", PASSWORD)
    return root


# -- without XE --------------------------------------------------------------------------------


def test_colours_are_hex_or_three_numbers() -> None:
    assert parse_color("#0CC807") == parse_color("0cc807") == "#0cc807"
    assert parse_color("12, 200, 7") == parse_color("12 200 7") == "#0cc807"
    for bad in ("", "#12345", "256, 0, 0", "1, 2", "-1 2 3", "#gg0000", "\uff11, 2, 3"):
        assert parse_color(bad) is None, bad


def test_the_domain_body_leaves_the_default_rule_and_empty_fields_to_xe() -> None:
    values = {
        "seclabel": NO_SECLABEL,
        "guest_type": "pv",
        "os": "linux",
        "kernel": " /boot/vmlinuz ",
        "ramdisk": "",
        "cmdline": "",
        "bootloader": "",
        "memory_mb": "2048",
        "maxmem_mb": "4096",
        "vcpus": "2",
        "maxvcpus": "4",
        "host": DEFAULT_HOST,
        "run": "no",
    }
    assert domain_body(values) == {
        "os": "linux",
        "run": False,
        "memory_mb": 2048,
        "maxmem_mb": 4096,
        "vcpus": 2,
        "maxvcpus": 4,
        "kernel": "/boot/vmlinuz",
    }


def test_a_finding_offers_its_obvious_fix() -> None:
    no_label = Finding("XE-VM-NO-SECLABEL", "has no SecLabel", ("ED-domu-1", "Enclave D"))
    assert finding_fix(no_label) == Fix(
        "seclabel", "Enclave D", "Create a SecLabel in Enclave D first"
    )
    assert finding_fix(Finding("XE-ENCLAVE-NO-HOST", "no host", ("Enclave Q",))) == Fix(
        "tag", "Enclave Q", "Assign Enclave Q to a host (Add tag to host)"
    )
    assert finding_fix(Finding("XE-VM-MEMORY", "too much", ("x",))) is None


# -- opening (issue #13: Add domain took 1.9 s to build under load) ---------------------------

LABELS = [("EB-seclabel — PVHVM-Combined", "label-1")]
HOSTS = [("xenon-1", "host-1"), ("xenon-2", "host-2")]
ENCLAVES = [("Enclave A", "enclave-A"), ("Enclave B", "enclave-B")]


class FormApp(App[None]):
    """A bare app that opens a form (when told) and keeps what it was dismissed with."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[dict[str, str] | None] = []
        self.first_frames: dict[str, str] = {}
        """A form's class name → what its first drawn frame showed ("opening" or "fields")."""

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        # Headless, a frame is composed and dropped here: what a terminal would show first.
        if renderable is not None and isinstance(screen, XeForm):
            shown = "fields" if screen.query(".field") else "opening"
            self.first_frames.setdefault(type(screen).__name__, shown)
        super()._display(screen, renderable)

    def open(self, dialog: XeForm, keys: list[tuple[str, str | None]] = []) -> None:  # noqa: B006
        """Opens ``dialog`` with ``keys`` typed at once behind the key that opened it."""
        self.push_screen(dialog, self.results.append)
        for key, character in keys:
            self.post_message(events.Key(key, character))


def burst(*keys: str) -> list[tuple[str, str | None]]:
    """Keys as one read from a terminal brings them: text, or a key's name in <…>."""
    out: list[tuple[str, str | None]] = []
    for key in keys:
        if key.startswith("<"):
            out.append((key.strip("<>"), None))
        else:
            out += [(c, c) for c in key]
    return out


async def test_add_domain_mounts_only_the_boot_fields_of_its_guest_type() -> None:
    """One container per field, and the boot fields of other guest types not mounted at
    all (they were built and hidden: 120 widgets for pvh, 87 now); what was typed in a
    field that goes away is kept for when it comes back, and left out of the values."""
    dialog = AddDomainDialog("Enclave B", LABELS, HOSTS, "xenon-1")
    app = FormApp()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(dialog)
        await wait_for(pilot, lambda: dialog.ready)
        assert len(list(dialog.walk_children())) <= 90
        order = [f.name for f in dialog.fields]
        rows = lambda: [w.id for w in dialog.query_one("#form-fields").children]  # noqa: E731
        assert rows() == [f"row-{n}" for n in order if n != "bootloader"]  # pvh
        field(dialog, "kernel").value = "/boot/vmlinuz"
        field(dialog, "guest_type").value = "hvm"
        await wait_for(pilot, lambda: not dialog.query("#row-kernel"))
        boot = {"kernel", "ramdisk", "cmdline", "bootloader"}
        assert rows() == [f"row-{n}" for n in order if n not in boot]
        assert not boot & set(dialog.values()) and dialog.all_values()["kernel"] == "/boot/vmlinuz"
        field(dialog, "guest_type").value = "pv"
        await wait_for(pilot, lambda: bool(dialog.query("#row-bootloader")))
        assert rows() == [f"row-{n}" for n in order]  # in the form's order, not appended
        assert field(dialog, "kernel").value == "/boot/vmlinuz"
        assert dialog.values()["kernel"] == "/boot/vmlinuz" and dialog.changed


async def test_a_large_form_draws_its_frame_first_and_keeps_the_keys_typed_meanwhile() -> None:
    """Add host (eleven fields) shows "opening…" in its frame, then its fields; a burst
    typed before they exist lands field by field: Enter moves on, Backspace edits the
    field it reaches (posted to the app at once, Textual ran the four Backspaces after
    the digits behind them: "944336477")."""
    dialog = AddHostDialog()
    app = FormApp()
    async with app.run_test(size=(160, 48)) as pilot:
        keys = burst("xenon-9", "<enter>", "127.0.0.1", "<enter>", *["<backspace>"] * 4, "36477")
        app.open(dialog, keys)
        assert not dialog.ready
        await wait_for(pilot, lambda: dialog.ready)
        await pilot.pause()
        assert app.first_frames == {"AddHostDialog": "opening"}  # the frame before its fields
        assert not dialog.query("#form-opening")
        values = dialog.all_values()
        assert (values["name"], values["address"], values["port"]) == (
            "xenon-9",
            "127.0.0.1",
            "36477",
        )
        assert field(dialog, "port").has_focus


async def test_keys_typed_while_the_fields_mount_and_right_after_keep_their_order() -> None:
    """The SSH walk's third Add host under load: keys came in several reads, some while the
    fields were mounted, some as they became ready; "127.0.0.1" was handled after the
    Enter behind it and went nowhere. Then, ready, one read of Backspaces and digits: the
    Backspaces ran after the digits ("9443" + "44883" → "94434")."""
    app = FormApp()
    async with app.run_test(size=(160, 48)) as pilot:
        dialog = AddHostDialog()
        app.open(dialog, burst("xen"))
        for key, character in burst("on-3", "<enter>", "127.0.0.1", "<enter>"):
            app.post_message(events.Key(key, character))
            await asyncio.sleep(0.002)  # a read at a time while the fields mount
        await wait_for(pilot, lambda: dialog.ready)
        for key, character in burst(*["<backspace>"] * 4, "44883"):  # one read
            app.post_message(events.Key(key, character))
        await wait_for(pilot, lambda: dialog.all_values()["port"] != "9443")
        await pilot.pause()
        values = dialog.all_values()
        assert (values["name"], values["address"], values["port"]) == (
            "xenon-3",
            "127.0.0.1",
            "44883",
        )


async def test_ctrl_s_typed_before_the_fields_exist_saves_what_was_typed_or_says_why_not() -> None:
    dialog = AddHostDialog()
    app = FormApp()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(dialog, burst("xenon-9", "<ctrl+s>"))
        await wait_for(pilot, lambda: dialog.ready)
        await pilot.pause()
        # Refused clearly: the address is missing; the form stays open with the name.
        assert app.screen is dialog and app.results == []
        assert "address" in error(dialog, "address")
        assert field(dialog, "name").value == "xenon-9"
    app = FormApp()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(AddHostDialog(), burst("xenon-9", "<tab>", "10.0.0.9", "<ctrl+s>"))
        await wait_for(pilot, lambda: bool(app.results))
        saved = app.results[0]
        assert saved is not None
        assert (saved["name"], saved["address"], saved["port"]) == ("xenon-9", "10.0.0.9", "9443")


async def test_a_pull_down_builds_its_list_when_first_opened_with_the_keys_of_a_select() -> None:
    """A form's pull-downs mount no option list as the form opens (each cost 15-29 ms of
    CPU there); opened, one behaves as Textual's Select: Enter opens it, typing finds a
    choice, Enter takes it, Escape closes it and leaves the form open; a click opens it."""
    profiles = [(f"P{i}-Combined (pv)", f"profile-{i}") for i in range(10)]
    dialog = AddSecLabelDialog(ENCLAVES, profiles, enclave="enclave-B")
    app = FormApp()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(dialog)
        await wait_for(pilot, lambda: dialog.ready)
        pulls = list(dialog.query(PullDown))
        assert [p.id for p in pulls] == ["field-enclave", "field-profile", "field-role"]
        assert isinstance(pulls[0], Select) and not dialog.query(SelectOverlay)
        assert dialog.all_values()["enclave"] == "enclave-B"
        profile = field(dialog, "profile")
        dialog.set_focus(profile)
        await pilot.press("enter")
        await wait_for(pilot, lambda: profile.expanded)
        one_read(app, [*"p7", "enter"])  # as the SSH walk's choose(): ▲ shown, then these
        await wait_for(pilot, lambda: profile.value == "profile-7")
        await wait_for(pilot, lambda: profile.has_focus and not profile.expanded)
        assert profile.query_one(SelectCurrent).label == "P7-Combined (pv)"
        assert len(dialog.query(SelectOverlay)) == 1  # built for the one opened
        await pilot.press("down")  # opens it again, at the chosen one
        await wait_for(pilot, lambda: profile.expanded)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: profile.value == "profile-8" and not profile.expanded)
        await pilot.press("enter", "escape")
        await wait_for(pilot, lambda: not profile.expanded and profile.has_focus)
        assert app.screen is dialog and profile.value == "profile-8"
        role = field(dialog, "role")
        await pilot.click("#field-role")
        await wait_for(pilot, lambda: role.expanded)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not role.expanded)
        assert app.screen is dialog and dialog.values()["profile"] == "profile-8"


async def test_a_search_typed_in_the_read_that_opens_a_pull_down_reaches_its_list() -> None:
    """Enter on a closed pull-down and the letters behind it in one read (a fast typist,
    a paste, tmux send-keys): the letters search the list the Enter opened, as typed into
    an open Select; they were lost (#13). Once built, the same again; Escape closes."""
    profiles = [(f"P{i}-Combined (pv)", f"profile-{i}") for i in range(10)]
    dialog = AddSecLabelDialog(ENCLAVES, profiles, enclave="enclave-B")
    app = FormApp()
    async with app.run_test(size=(160, 48)) as pilot:
        app.open(dialog)
        await wait_for(pilot, lambda: dialog.ready)
        profile = field(dialog, "profile")
        dialog.set_focus(profile)
        await wait_for(pilot, lambda: profile.has_focus)
        assert not dialog.query(SelectOverlay)  # closed, never built
        one_read(app, ["enter", *"p7", "enter"])
        await wait_for(pilot, lambda: profile.value == "profile-7" and not profile.expanded)
        await wait_for(pilot, lambda: profile.has_focus)
        one_read(app, ["down", *"p3", "enter"])  # built now: the same
        await wait_for(pilot, lambda: profile.value == "profile-3" and not profile.expanded)
        await wait_for(pilot, lambda: profile.has_focus)
        one_read(app, ["enter", *"p5", "escape"])
        await wait_for(pilot, lambda: not profile.expanded and profile.has_focus)
        await pilot.pause()
        assert app.screen is dialog and profile.value == "profile-3"
        assert dialog.values()["profile"] == "profile-3"


# -- against XE ----------------------------------------------------------------------------------


async def test_add_enclave_with_a_live_swatch_then_tag_and_untag_it(
    world: World, tmp_path: Path
) -> None:
    api = await admin(world)
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await choose_new(pilot, app, "enclave")
        dialog = await form(pilot, app, AddEnclaveDialog)
        await pilot.press(*"Enclave Z", "tab")
        color = field(dialog, "color")
        assert color.has_focus
        color.value = ""
        await pilot.press(*"300, 1, 1")
        swatch = dialog.query_one("#swatch", Static)
        assert "not a colour" in str(swatch.render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog and "Not a colour" in error(dialog, "color")
        field(dialog, "id").value = "not-a-uuid"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "A UUID" in error(dialog, "id")
        field(dialog, "id").value = ""
        color.value = ""
        await pilot.press(*"12, 200, 7")
        assert "#0cc807" in str(swatch.render()) and "rgb(12, 200, 7)" in str(swatch.render())
        await pilot.press("ctrl+s")
        # Then the tag: the new enclave on the host under the cursor (xenon-1).
        tag = await form(pilot, app, AddTagDialog)
        enclave = await api.policy.get_enclave("Enclave Z")
        assert enclave.color == "#0cc807" and enclave.hosts == []
        assert field(tag, "enclave").value == enclave.id
        host = await api.policy.get_host("xenon-1")
        assert field(tag, "host").value == host.id
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Enclave Z" in [x.strip() for x in tree_lines(app)], 30)
        assert (await api.policy.get_enclave("Enclave Z")).hosts == [host.id]
        # Remove the tag: cursor on it, n → Remove tag → confirm.
        await move_to(pilot, app, "Enclave Z")
        await choose_new(pilot, app, "untag")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Enclave Z from xenon-1" in str(app.screen.query_one(".title").render())
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: "Enclave Z" not in [x.strip() for x in tree_lines(app)], 30)
        assert (await api.policy.get_enclave("Enclave Z")).hosts == []


async def test_add_host_runs_its_task_then_offers_the_cpu_read_from_the_host(
    world: World, xps_hosts: Any, tmp_path: Path
) -> None:
    (extra,) = await xps_hosts(1)
    api = await admin(world)
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await choose_new(pilot, app, "host")
        dialog = await form(pilot, app, AddHostDialog)
        await pilot.press("ctrl+s")  # nothing typed: each missing field says so
        await pilot.pause()
        assert "name is needed" in error(dialog, "name")
        assert "address" in error(dialog, "address")
        await pilot.press(*"xenon-4", "enter", *"127.0.0.1", "enter")
        port = field(dialog, "port")
        assert port.has_focus
        port.value = ""
        await pilot.press(*"70000", "ctrl+s")
        await pilot.pause()
        assert "outside 1..65535" in error(dialog, "port")
        port.value = str(extra.port)
        field(dialog, "ro_port").value = str(extra.server.ports["read_only"])
        field(dialog, "flags").value = "sse2 bad/flag"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "bad/flag" in error(dialog, "flags")
        field(dialog, "flags").value = ""
        await pilot.press("ctrl+s")
        cpu = await form(pilot, app, HostCpuDialog)
        stored = await api.policy.get_host("xenon-4")
        assert stored.ro_port == extra.server.ports["read_only"]  # for auditors' consoles
        # Filled from what XE read from the host, and editable.
        assert field(cpu, "vendor").value == stored.cpu.vendor != ""
        assert field(cpu, "flags").value == " ".join(stored.cpu.flags)
        field(cpu, "model").value = "85"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.enterprise)
        await wait_for(pilot, lambda: any(x.startswith("xenon-4") for x in tree_lines(app)), 30)
        # The form closes before its write is done (under two workers the host was read
        # before it): wait for the console to say it is saved.
        saved = "xenon-4: CPU saved"
        await wait_for(pilot, lambda: any(n.message == saved for n in app._notifications), 30)
        host = await api.policy.get_host("xenon-4")
        assert host.cpu.model == 85 and host.cpu.vendor == stored.cpu.vendor
        assert host.port == extra.port and host.address == "127.0.0.1"
        tasks = await api.compute.tasks(kind="host.add")
        assert tasks and tasks[0].state == "succeeded"
        # The task panel names it and shows how it ended.
        panel = app.screen.query_one(XeTaskPanel)
        assert panel.is_open and panel.titles[tasks[0].id] == "Add host xenon-4 (127.0.0.1)"
        await wait_for(pilot, lambda: panel.tasks.get(tasks[0].id) is not None, 30)
        assert panel.tasks[tasks[0].id].state == "succeeded"


async def test_the_hosts_dialog_reorders_and_removes_hosts(world: World, tmp_path: Path) -> None:
    api = await admin(world)
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, HostsDialog), 30)
        # xenon-1 to the end: B's and C's VMs would default to xenon-2 with A's, which
        # their conflict set forbids: XE refuses with its findings (Figure 24).
        await pilot.press("J", "J", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyWarningsDialog), 30)
        assert "XE-CONFLICT-CORESIDENT" in {f.code for f in app.screen.findings}
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise, 30)
        # xenon-3 before xenon-2 is allowed.
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, HostsDialog), 30)
        await pilot.press("G", "K", "enter")
        await wait_for(pilot, lambda: tree_lines(app)[3].startswith("xenon-3"), 30)
        names = [h.name async for h in api.policy.iter_hosts()]
        assert names == ["xenon-1", "xenon-3", "xenon-2"]
        # Remove xenon-2 (now last): G, d, type its name.
        xenon2 = await api.policy.get_host("xenon-2")
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, HostsDialog), 30)
        await pilot.press("G", "d")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmDialog))
        await pilot.press(*"xenon-2", "enter")
        # A VM is placed there: XE's refusal names it, and XE may re-place it (force).
        # (pushed is not composed: under two workers its body was not there yet)
        body_shown = lambda: bool(app.screen.query("#confirm-body"))  # noqa: E731
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog) and body_shown(), 30)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "EC-domu-2" in body and "move them first" in body
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HostsDialog), 30)
        shown = [o.id for o in app.screen.query_one(OptionList).options]
        assert len(shown) == 2
        await pilot.press("escape")
        assert [h.name async for h in api.policy.iter_hosts()] == ["xenon-1", "xenon-3"]
        assert (await api.policy.get_vm("EC-domu-2")).placed_on != xenon2.id


async def test_add_seclabel_and_add_domain_with_every_field(world: World, tmp_path: Path) -> None:
    api = await admin(world)
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None and screen.overview is not None
        enclave = screen.overview.enclaves[screen.enclave or ""]
        await choose_new(pilot, app, "seclabel")
        dialog = await form(pilot, app, AddSecLabelDialog)
        assert field(dialog, "enclave").value == enclave.id
        profiles = [label for label, _ in choices(dialog, "profile")]
        assert any("PV-Combined" in str(p) for p in profiles), profiles
        await pilot.press(*"EB-pv-label", "enter")
        profile = next(v for label, v in choices(dialog, "profile") if "PV-Combined" in label)
        field(dialog, "profile").value = profile
        field(dialog, "max_rate").value = "70000"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "outside 1..65535" in error(dialog, "max_rate")
        field(dialog, "max_rate").value = "500"
        field(dialog, "max_violations").value = "3"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.enterprise, 30)
        label = await api.policy.get_seclabel("EB-pv-label")
        assert (label.enclave, label.profile, label.max_rate, label.max_violations, label.role) == (
            enclave.id,
            profile,
            500,
            3,
            "none",
        )
        await wait_for(
            pilot, lambda: "EB-pv-label" in str(screen.query_one("#xe-seclabels").render()), 30
        )
        # Add domain: the boot fields follow the guest type; the default host is shown.
        await pilot.press("a")
        dialog = await form(pilot, app, AddDomainDialog)
        assert {"kernel", "ramdisk", "cmdline"} <= shown_rows(dialog)
        assert "bootloader" not in shown_rows(dialog)  # pvh
        host_choices = [label for label, _ in choices(dialog, "host")]
        assert host_choices[0] == f"default: first host with {enclave.name} (xenon-1)"
        field(dialog, "guest_type").value = "hvm"
        boot = {"kernel", "ramdisk", "cmdline", "bootloader"}
        await wait_for(pilot, lambda: not boot & shown_rows(dialog))
        field(dialog, "guest_type").value = "pv"
        await wait_for(pilot, lambda: {"kernel", "bootloader"} <= shown_rows(dialog))
        await pilot.press(*"EB-domu-new")
        field(dialog, "seclabel").value = label.id
        field(dialog, "bootloader").value = "pygrub"
        field(dialog, "memory_mb").value = "4096"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "max. memory" in error(dialog, "memory_mb")
        field(dialog, "maxmem_mb").value = "4096"
        field(dialog, "vcpus").value = "2"
        field(dialog, "maxvcpus").value = "2"
        xenon3 = await api.policy.get_host("xenon-3")
        field(dialog, "host").value = xenon3.id
        field(dialog, "run").value = "no"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "EB-domu-new" in vm_names(app), 30)
        vm = await api.policy.get_vm("EB-domu-new")
        assert (vm.guest_type, vm.seclabel, vm.bootloader, vm.kernel) == (
            "pv",
            label.id,
            "pygrub",
            None,
        )
        assert (vm.memory_mb, vm.maxmem_mb, vm.vcpus, vm.maxvcpus) == (4096, 4096, 2, 2)
        assert (vm.host, vm.run) == (xenon3.id, False)


async def test_a_warning_with_a_fix_opens_add_seclabel_then_returns_to_add_domain(
    world: World, tmp_path: Path
) -> None:
    api = await admin(world)
    await api.policy.create_enclave("Enclave D", color="#336699")
    await api.policy.assign("Enclave D", "xenon-3")
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await wait_for(pilot, lambda: any("Enclave D" in line for line in tree_lines(app)))
        await pilot.press("G")  # xenon-3's last enclave: Enclave D
        screen = app.enterprise
        assert screen is not None and screen.overview is not None
        enclave_d = next(e.id for e in screen.overview.enclaves.values() if e.name == "Enclave D")
        await wait_for(pilot, lambda: screen.enclave == enclave_d)
        await pilot.press("a")
        dialog = await form(pilot, app, AddDomainDialog)
        assert field(dialog, "seclabel").value == NO_SECLABEL
        await pilot.press(*"ED-domu-1")
        field(dialog, "kernel").value = "/boot/vmlinuz"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyWarningsDialog), 30)
        warnings = app.screen
        assert isinstance(warnings, PolicyWarningsDialog)
        assert warnings.fixes == [
            Fix("seclabel", "Enclave D", "Create a SecLabel in Enclave D first")
        ]
        await pilot.press("enter")
        labels = await form(pilot, app, AddSecLabelDialog)
        assert field(labels, "enclave").value == enclave_d
        await pilot.press(*"ED-seclabel", "ctrl+s")
        # Back to the refused action, with what was typed.
        again = await form(pilot, app, AddDomainDialog)
        assert again is not dialog
        assert field(again, "name").value == "ED-domu-1"
        assert field(again, "kernel").value == "/boot/vmlinuz"
        made = await api.policy.get_seclabel("ED-seclabel")
        assert field(again, "seclabel").value == made.id
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "ED-domu-1" in vm_names(app), 30)
        assert (await api.policy.get_vm("ED-domu-1")).seclabel == made.id


async def test_an_auditor_is_not_offered_the_forms_and_xe_refuses_them(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("aud"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        offered = {b.binding.action for b in screen.active_bindings.values()}
        assert not {"new", "hosts", "add_domain"} & offered
        await pilot.press("n")
        await pilot.pause(0.2)
        assert app.screen is screen
        # Forced (a patched console offering it anyway): XE refuses, with its message.
        screen.action_new()
        await wait_for(pilot, lambda: isinstance(app.screen, NewMenuDialog))
        await pilot.press("j", "enter")  # Add enclave
        await form(pilot, app, AddEnclaveDialog)
        await pilot.press(*"Enclave X", "ctrl+s")
        await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications), 30)
        note = next(n for n in app._notifications if n.severity == "error")
        assert "admin" in note.message or "role" in note.message, note.message
    names = [e.name async for e in (await admin(world)).policy.iter_enclaves()]
    assert "Enclave X" not in names


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot_forms(
    world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int]
) -> None:
    """Add enclave (its swatch), Add domain (pv: every boot field shown), the hosts dialog
    and the warnings with their fix."""
    app = world.console(await world.link("root"), tmp_path)
    shots = []
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        screen = app.enterprise
        assert screen is not None
        await choose_new(pilot, app, "enclave")
        await form(pilot, app, AddEnclaveDialog)
        await pilot.press(*"Enclave Z")
        await settle(pilot, app)  # its text cursor steady (drawn), not in a blink phase
        shots.append(await settled_screenshot(pilot, app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, HostsDialog), 30)
        await pilot.press("J")
        shots.append(await settled_screenshot(pilot, app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("a")
        dialog = await form(pilot, app, AddDomainDialog)
        await pilot.press(*"EB-domu-9")
        field(dialog, "guest_type").value = "pv"
        await wait_for(pilot, lambda: "bootloader" in shown_rows(dialog))
        await settle(pilot, app)
        shots.append(await settled_screenshot(pilot, app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: app.screen is screen)
        finding = Finding(
            "XE-VM-NO-SECLABEL",
            "VM ED-domu-1 has no SecLabel (enclave Enclave D)",
            ("ED-domu-1", "Enclave D"),
            "create a SecLabel in Enclave D first",
        )
        app.push_screen(
            PolicyWarningsDialog("Add domain ED-domu-1", "XE refused the change", [finding])
        )
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyWarningsDialog))
        shots.append(await settled_screenshot(pilot, app))
    names = ("add-enclave", "hosts", "add-domain", "warnings-fix")
    for name, shot in zip(names, shots, strict=True):
        assert snapshot(name=name, extension_class=SVGImageExtension) == shot
