"""Hypercall profile import (XML, JSON, clashes, bad files) and JSON export, on a real daemon."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests._support.console import console_config, wait_connected, wait_for
from tests._support.scripted_host import small_policy
from xenon_tui._profile_io import Fit, fit, read_profiles
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import ConfirmDialog, InputDialog
from xenon_tui.dialogs._profile_import import ProfileImportScreen
from xenon_tui.widgets import ModeBand
from xps.policy import HypercallProfile, serialize_policy


async def _open_import(pilot: Any, app: XenonConsole, path: Path) -> None:
    await wait_connected(pilot, app)
    await pilot.press("m")
    await wait_for(pilot, lambda: app.query_one(ModeBand).has_class("-editor"))
    await pilot.press("colon", *"import-profile", "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
    app.screen.query_one("#value").value = str(path)
    await pilot.press("enter")


def _staged_names(host: Any) -> set[str]:
    return {p.name for p in host.staged.profiles} if host.staged else set()


async def test_import_from_policy_xml_stages_new_profiles(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    extra = HypercallProfile(uuid.UUID(int=0xABC), "Imported-A", frozenset({0, 1, 2}))
    source = small_policy().with_profile(extra)
    (tmp_path / "other.xml").write_bytes(serialize_policy(source))
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await _open_import(pilot, app, tmp_path / "other.xml")
        await wait_for(pilot, lambda: isinstance(app.screen, ProfileImportScreen))
        screen = app.screen
        # The profile the server already has is listed but not picked.
        assert screen.chosen == {"Imported-A"}
        rows = screen.query_one("#import-profiles")
        assert "already present" in str(rows.get_row("PV-LinuxGeneric"))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Imported-A" in _staged_names(host))
        assert host.staged.profile_named("Imported-A").hypercalls == frozenset({0, 1, 2})
        assert "Imported-A" not in {p.name for p in host.active.profiles}


async def test_export_json_then_import_it_as_a_new_profile(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    out = tmp_path / "pv.json"
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("colon", *"export-profile", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        app.screen.query_one("#value").value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, out.exists)
    assert out.stat().st_mode & 0o777 == 0o600
    entry = json.loads(out.read_text())
    assert entry["name"] == "PV-LinuxGeneric"
    entry.update(name="PV-Copy", id=str(uuid.UUID(int=0xC0FFEE)), hypercalls=[0, 1])
    entry["subops"] = []
    out.write_text(json.dumps(entry))
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await _open_import(pilot, app, out)
        await wait_for(pilot, lambda: isinstance(app.screen, ProfileImportScreen))
        assert app.screen.chosen == {"PV-Copy"}
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "PV-Copy" in _staged_names(host))
        assert host.staged.profile_named("PV-Copy").id == uuid.UUID(int=0xC0FFEE)


async def test_name_clash_is_refused_unless_replace_is_confirmed(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    existing = host.active.profile_named("PV-LinuxGeneric")
    entry = {"id": str(uuid.UUID(int=0xBAD)), "name": "PV-LinuxGeneric", "hypercalls": [0, 1, 2]}
    path = tmp_path / "clash.json"
    path.write_text(json.dumps(entry))
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await _open_import(pilot, app, path)
        await wait_for(pilot, lambda: isinstance(app.screen, ProfileImportScreen))
        screen = app.screen
        assert screen.chosen == set()
        await pilot.press("space")  # a clash cannot simply be picked
        assert screen.chosen == set()
        assert any(n.title == "Clash" and "name in use" in n.message for n in app._notifications)
        await pilot.press("ctrl+s")
        assert any(n.title == "Not imported" for n in app._notifications)
        assert app.screen is screen
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")  # not confirmed: still nothing to replace
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.replace == set()
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: screen.replace == {"PV-LinuxGeneric"})
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: host.staged is not None)
    replaced = host.staged.profile_named("PV-LinuxGeneric")
    # Replaced in place: SecLabels keep pointing at the same UUID.
    assert replaced.id == existing.id and replaced.hypercalls == frozenset({0, 1, 2})
    assert len(host.staged.profiles) == 1


async def test_bad_files_give_a_titled_error_and_stage_nothing(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    bad = {
        "broken.json": b'{"id": "nope", "name": 3}',
        "truncated.xml": b"<policy xmlns='urn:xenon:policy:1'><profiles>",
        "entity.xml": b'<!DOCTYPE p [<!ENTITY e "x">]><policy>&e;</policy>',
        "other.txt": b"hello",
        "missing.json": None,
    }
    expected = {
        "broken.json": "not a profile: id: not a UUID",
        "truncated.xml": "Premature end of data",
        "entity.xml": "DTDs and entity references are refused",
        "other.txt": "expected policy/template XML",
        "missing.json": "No such file",
    }
    for name, data in bad.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        for name in bad:
            # Notifications expire (8 s): on a slow machine counting them is not enough.
            seen = list(app._notifications)  # held, so their ids are not reused
            before = set(map(id, seen))
            if name == "broken.json":
                await _open_import(pilot, app, tmp_path / name)
            else:
                await pilot.press("colon", *"import-profile", "enter")
                await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
                app.screen.query_one("#value").value = str(tmp_path / name)
                await pilot.press("enter")

            # Only the import's notice: the link may say something meanwhile under load
            # (a stale heartbeat) that is no answer to this file.
            def fresh(b: set[int] = before) -> list[Any]:
                return [n for n in app._notifications if id(n) not in b and n.title == "Import"]

            await wait_for(pilot, lambda: bool(fresh()))
            note = fresh()[0]
            assert note.severity == "error", (name, note.message)
            assert "Traceback" not in note.message
            assert expected[name] in note.message, (name, note.message)
            assert not isinstance(app.screen, ProfileImportScreen | InputDialog)
    assert host.staged is None


def test_profiles_read_from_template_and_signed_exports(xps_pki: Any) -> None:
    from xps.policy import export_template, serialize_template, sign_policy

    extra = HypercallProfile(uuid.UUID(int=0xDEF), "From-File", frozenset({3}))
    source = small_policy().with_profile(extra)
    template = serialize_template(export_template(source))
    signed = sign_policy(source, xps_pki.server_key.read_bytes(), xps_pki.server_cert.read_bytes())
    assert b"Signature" in signed
    for data in (template, signed):
        profiles = read_profiles(data, small_policy())
        assert {p.name for p in profiles} == {"PV-LinuxGeneric", "From-File"}
    assert fit(small_policy(), extra) is Fit.NEW
    assert fit(small_policy(), small_policy().profiles[0]) is Fit.SAME
    clash = HypercallProfile(small_policy().profiles[0].id, "Renamed")
    assert fit(small_policy(), clash) is Fit.UUID_CLASH
