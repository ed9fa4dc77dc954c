"""The Users screen (u on the Enterprise screen) against real XE services: admins add,
change roles, reset passwords and remove users; everyone changes their own password and SSH
keys; XE refuses every admin action an operator forces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pytest_textual_snapshot import SVGImageExtension

from enterprise_store.client import NotFound
from tests._support.console import wait_for
from tests._support.keys import one_read
from tests._support.snapshots import settled_screenshot
from tests._support.xe_console import PASSWORD, URL, World, open_screen
from xenon_tui._xe import EnterpriseError, XeLink
from xenon_tui.dialogs import ConfirmDialog, InputDialog, TextDialog
from xenon_tui.screens._xe_users import (
    ADMIN_ACTIONS,
    SecretForm,
    SshKeysDialog,
    TypedNameConfirm,
    XeUsersScreen,
    key_problem,
)

NEW_PASSWORD = "a-new-enterprise-password-2"


def public_key(comment: str = "test@xenon") -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{line.decode()} {comment}"


async def users_screen(pilot: Any, app: Any) -> XeUsersScreen:
    return await open_screen(
        pilot, app, "u", XeUsersScreen, lambda s: s.loads >= 1 and bool(s.users)
    )


def role_of(screen: XeUsersScreen, name: str) -> str | None:
    return next((u.role for u in screen.users if u.name == name), None)


def select(screen: XeUsersScreen, name: str) -> None:
    screen.query_one("#users").move_cursor(row=[u.name for u in screen.users].index(name))  # type: ignore[attr-defined]


async def test_an_admin_adds_changes_resets_and_removes_a_user(
    world: World, tmp_path: Path
) -> None:
    root = await world.admin()
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await users_screen(pilot, app)
        by_name = {u.name: u for u in screen.users}
        assert list(by_name) == ["aud", "oper", "root"]
        assert by_name["root"].role == "admin" and by_name["root"].tokens
        assert by_name["oper"].keys == 0 and by_name["oper"].tokens == 0
        # Add: name, role (operator by default), password (masked).
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, SecretForm))
        assert app.screen.query_one("#field-password").password  # type: ignore[attr-defined]
        await pilot.press(*"newbie", "enter", "enter", *NEW_PASSWORD, "enter")
        await wait_for(pilot, lambda: "newbie" in [u.name for u in screen.users], 30)
        assert (await root.get_user("newbie")).role == "operator"
        # Role: operator -> auditor.
        select(screen, "newbie")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        await pilot.press("ctrl+u", *"auditor", "enter")
        await wait_for(pilot, lambda: role_of(screen, "newbie") == "auditor", 30)
        assert (await root.get_user("newbie")).role == "auditor"
        # Reset with a blank password: XE makes a one-time password, shown once.
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SecretForm))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog), 30)
        shown = str(app.screen.query_one("#text").render())
        otp = shown.split("\n")[-1].strip()
        assert len(otp) >= 12, shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: next(u for u in screen.users if u.name == "newbie").otp)
        assert (await root.get_user("newbie")).must_change_password
        # Remove asks for the user's name.
        select(screen, "newbie")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedNameConfirm))
        assert "user name (newbie)" in str(app.screen.query_one("#typed-entry Label").render())
        await pilot.press(*"newbie", "enter")
        await wait_for(pilot, lambda: "newbie" not in [u.name for u in screen.users], 30)
        with pytest.raises(NotFound):
            await root.get_user("newbie")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.enterprise)


async def test_everyone_changes_their_own_password_and_ssh_keys(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await users_screen(pilot, app)
        # Admin actions are not offered to an operator.
        actions = {b.binding.action for b in screen.active_bindings.values()}
        assert not actions & ADMIN_ACTIONS and {"ssh_keys", "change_password"} <= actions
        # Its help lists this screen's keys (not the host console's), without the admin ones.
        screen.show_help()  # what ? should open here (the app's ? is the lead's to route)
        await wait_for(pilot, lambda: bool(app.screen.query("XeHelpScreen #xe-help")))
        help_widget = app.screen.query_one("#xe-help")
        shown = "\n".join(help_widget.render_line(y).text for y in range(help_widget.size.height))
        assert "users.keys" in shown and "users.password" in shown and "users.add" not in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        # Own SSH keys: add one, see it, remove it.
        key = public_key("oper@laptop")
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, SshKeysDialog), 30)
        assert app.screen.user == "oper" and app.screen.keys == []  # type: ignore[attr-defined]
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
        await pilot.press(*"not a key", "enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, InputDialog)  # refused before XE is asked
        await pilot.press("ctrl+u", *key, "enter")
        await wait_for(
            pilot, lambda: isinstance(app.screen, SshKeysDialog) and len(app.screen.keys) == 1, 30
        )
        keys = await world.services.users.list_ssh_keys(
            await world.services.users.authenticate(screen.link.token, source="test"), "oper"
        )
        assert [k.comment for k in keys] == ["oper@laptop"]
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.click("#confirm")
        await wait_for(
            pilot, lambda: isinstance(app.screen, SshKeysDialog) and not app.screen.keys, 30
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        # Own password: masked fields, the new one twice.
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, SecretForm))
        await pilot.press(*PASSWORD, "enter", *NEW_PASSWORD, "enter", *NEW_PASSWORD, "enter")
        status = screen.query_one("#users-status")
        await wait_for(pilot, lambda: "password was changed" in str(status.render()), 30)
        check = world.factory(XeLink(URL, "", "oper", "operator", None))
        await check.login("oper", NEW_PASSWORD)


async def test_xe_refuses_every_admin_action_an_operator_forces(
    world: World, tmp_path: Path
) -> None:
    app = world.console(await world.link("oper"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await users_screen(pilot, app)
        forced = {
            "add user": screen.do_add_user("intruder", "admin", NEW_PASSWORD),
            "remove user": screen.do_remove_user("aud"),
            "change role": screen.do_set_role("oper", "admin"),
            "reset password": screen.do_reset_password("aud", None),
            "add key": screen.do_add_key("aud", public_key()),
            "revoke tokens": screen.do_revoke_tokens("aud"),
        }
        for what, call in forced.items():
            with pytest.raises(EnterpriseError) as info:
                await call
            assert info.value.code == "role_required", (what, info.value)
        # Through the keys of a patched screen that offers everything: XE's message shows.
        screen.check_action = lambda action, parameters: True  # type: ignore[method-assign]
        select(screen, "aud")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedNameConfirm))
        await pilot.press(*"aud", "enter")
        notes = app._notifications
        await wait_for(pilot, lambda: any("delete users" in n.message for n in notes), 30)
        assert [u.name for u in screen.users] == ["aud", "oper", "root"]


async def test_a_form_typed_in_one_burst_lands_in_the_fields_enter_moved_to(
    world: World, tmp_path: Path
) -> None:
    # Over SSH a typist's keys arrive in one read: Enter must move the focus before the
    # next key is handed out (seen in tmux: the password went into the Role field).
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await users_screen(pilot, app)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, SecretForm))
        password = "burstpassword2026"
        # Name, Enter, Enter (the role stays operator), the password, Enter: one read.
        one_read(app, f"bob\r\r{password}\r")
        await wait_for(pilot, lambda: role_of(screen, "bob") is not None, 60)
        assert role_of(screen, "bob") == "operator"
        check = world.factory(XeLink(URL, "", "bob", "operator", None))
        await check.login("bob", password)


def test_key_lines_are_checked_before_xe_is_asked() -> None:
    assert key_problem(public_key()) == ""
    assert key_problem("ssh-rsa AAAA\x1b[2J") != ""
    assert key_problem("-----BEGIN OPENSSH PRIVATE KEY-----") != ""


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot(world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int]) -> None:
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=size) as pilot:
        await users_screen(pilot, app)
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg
