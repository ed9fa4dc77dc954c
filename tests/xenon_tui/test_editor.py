"""Policy Editor mode against a real daemon: band, forms with validation, stage, activate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import xps.policy
from tests._support.console import (
    console_config,
    edit_first_seclabel,
    enter_editor,
    wait_connected,
    wait_for,
)
from tests._support.scripted_host import violation
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import ConfirmDialog, TextDialog
from xenon_tui.dialogs._form import FormDialog
from xenon_tui.widgets import ModeBand, ServersPanel, ViolationLog


async def test_mode_band_names_mode_and_server(scripted: Any, xps_pki: Any, tmp_path: Path) -> None:
    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        band = app.query_one(ModeBand)
        assert band.has_class("-live") and "LIVE MODE" in str(band.render())
        await pilot.press("m")
        assert band.has_class("-editor") and not band.has_class("-live")
        # The host's own name (GetHypervisorInfo) first, then the address it was reached at.
        where = f"simhost (127.0.0.1:{running.rw_port})"
        assert f"POLICY EDITOR MODE — {where}" in str(band.render())
        assert app.sub_title == f"{where} — Policy Editor"
        line = str(app.query_one(ServersPanel).get_option_at_index(0).prompt)
        assert line.startswith("▸ ● simhost 127.0.0.1:")


async def test_seclabel_form_shows_field_errors_then_stages(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await edit_first_seclabel(pilot, app)
        form = app.screen
        form.query_one("#field-max_rate").value = "fast"
        await pilot.press("ctrl+s")
        assert "whole number" in str(form.query_one("#error-max_rate").render())
        form.query_one("#field-max_rate").value = "250"
        form.query_one("#field-profile").value = "No-Such-Profile"
        await pilot.press("ctrl+s")
        assert "no such profile" in str(form.query_one("#error-profile").render())
        assert not any(c[0] == "StagePolicy" for c in host.calls)
        form.query_one("#field-profile").value = "PV-LinuxGeneric"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(c[0] == "StagePolicy" for c in host.calls))
        assert host.staged is not None
        assert host.staged.seclabel_named("EA-seclabel").max_rate == 250
        # The staged policy is what the editor now shows.
        await wait_for(
            pilot,
            lambda: (
                app.current_state.staged is not None and "250" in app.current_state.staged["xml"]
            ),
        )


@pytest.mark.skipif(
    not hasattr(xps.policy, "validate"), reason="xps.policy.validate is not exported yet"
)
async def test_rule_message_next_to_field(scripted: Any, xps_pki: Any, tmp_path: Path) -> None:
    running, _host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await edit_first_seclabel(pilot, app)
        app.screen.query_one("#field-name").value = ""
        await pilot.press("ctrl+s")
        error = str(app.screen.query_one("#error-name").render())
        # The form's title names the object; its errors do not name it again.
        assert error == "name must be 1..63 bytes [XP026]"


async def test_duplicate_name_keeps_the_form_open(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    """Renaming to another SecLabel's name closed the form (the finding was about the
    other SecLabel) and the daemon then refused it: what was typed was lost."""
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await pilot.press("colon", *"seclabels", "enter")
        await wait_for(pilot, lambda: getattr(app.focused, "tab", None) == "seclabels")
        await pilot.press("down", "enter")  # the second one: EB-seclabel
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        form = app.screen
        assert form.query_one("#field-name").value == "EB-seclabel"
        form.query_one("#field-name").value = "EA-seclabel"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "XP016" in str(form.query_one("#error-name").render()))
        assert app.screen is form
        assert not any(c[0] == "StagePolicy" for c in host.calls)


async def test_seclabel_numbers_say_their_range(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    """99999999999 max violations said "must be a whole number"; 0 was not explained."""
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await edit_first_seclabel(pilot, app)
        form = app.screen
        assert "0 = never stops it" in str(form.query_one("#hint-max_violations").render())
        form.query_one("#field-max_violations").value = "99999999999"
        form.query_one("#field-max_rate").value = "70000"
        await pilot.press("ctrl+s")
        error = str(form.query_one("#error-max_violations").render())
        assert error == "99999999999 is outside 0..4294967295"
        assert str(form.query_one("#error-max_rate").render()) == "70000 is outside 1..65535"
        form.query_one("#field-max_violations").value = "4294967295"
        form.query_one("#field-max_rate").value = "65535"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: host.staged is not None)
        label = host.staged.seclabel_named("EA-seclabel")
        assert (label.max_violations, label.max_rate) == (4294967295, 65535)


async def test_diff_and_activate_after_confirmation(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    from tests._support.scripted_host import small_policy

    host.staged = small_policy(rate=77)
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        assert "max rate: 1000 → 77" in str(app.screen.query_one("#text").render())
        await pilot.press("escape")
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")  # the focused button is Cancel: nothing happens
        await pilot.pause(0.2)
        assert ("ActivatePolicy", None) not in host.calls
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: ("ActivatePolicy", None) in host.calls)
        assert host.active.seclabel_named("EA-seclabel").max_rate == 77
        await wait_for(pilot, lambda: app.current_state.info.get("policy_generation") == 2)


async def test_violation_opens_profile_with_missing_call(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        host.emit_violations(1, hypercall=35)  # xenoprof_op: not in PV-LinuxGeneric
        await pilot.press("5")
        await wait_for(pilot, lambda: len(app.query_one(ViolationLog).window) == 1)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        assert app.query_one(ModeBand).has_class("-editor")
        calls = app.screen.query_one("#field-hypercalls").value
        assert xps.policy.hypercall_name(35) in calls
        # sysctl takes sub-commands and the record names none: the same edit lists them
        # and asks for them (it used to stage with a warning and need a second edit).
        await pilot.press("ctrl+s")
        wanted = "sysctl (35) sub-commands: readconsole (1), physinfo (3)"
        await wait_for(pilot, lambda: wanted in str(app.screen.query_one("#error-subops").render()))
        assert isinstance(app.screen, FormDialog)
        assert not any(c[0] == "StagePolicy" for c in host.calls)
        field = app.screen.query_one("#field-subops")
        field.value = "; ".join(filter(None, [field.value, "sysctl=physinfo"]))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: host.staged is not None)
        staged = host.staged.profile_named("PV-LinuxGeneric")
        assert 35 in staged.hypercalls and staged.subop_map()[35] == {3}
        assert 35 not in host.active.profile_named("PV-LinuxGeneric").hypercalls


async def test_violation_sub_command_is_offered_in_the_same_edit(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        row = violation(host.seq + 1, hypercall=35)
        row["subop"] = 1  # sysctl readconsole
        host.seq += 1
        host.history.append(row)
        data = {"violations": [row], "last_seq": host.seq, "dropped": 0}
        host.emit({"event": "violations", "data": data})
        await pilot.press("5")
        await wait_for(pilot, lambda: len(app.query_one(ViolationLog).window) == 1)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog))
        assert "sysctl=readconsole" in app.screen.query_one("#field-subops").value
        assert "readconsole (1)" in str(app.screen.query_one("#hint-subops").render())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: host.staged is not None)
        assert host.staged.profile_named("PV-LinuxGeneric").subop_map()[35] == {1}
