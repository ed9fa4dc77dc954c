"""``xenon console --xe URL``: the login dialog against a real ``xenon xe serve``.

XE's own messages reach the user: a wrong password, and the lockout's back-off after
repeated failures; a good password gives the console a link for that user and role.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from enterprise_store.client import XeClient
from tests._support.xe_cli import serve_xe, xenon
from xenon_tui._errors import ConfigError
from xenon_tui._xe import XeLink
from xenon_tui.cli._console_args import check_xe_args
from xenon_tui.dialogs._login import LoginApp, LoginDialog, logout

PASSWORD = "login-admin-password-1"
AUDREY = "audrey-password-12345"


@pytest.fixture
async def xe(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    state = tmp_path / "xe"
    code, _, err = await xenon(
        "xe", "init", "--state-dir", str(state), "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 0, err
    proc, url = await serve_xe(state)
    ca = state / "pki" / "ca-cert.pem"
    try:
        async with XeClient(url, ca=ca) as admin:
            await admin.login("admin", PASSWORD)
            await admin.create_user("audrey", "auditor", password=AUDREY)
            await admin.create_user("olga", "operator", password="olga-password-12345")
        yield url, ca
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def _attempt(pilot: object, dialog: LoginDialog, user: str, password: str) -> str:
    dialog.query_one("#login-user").value = user  # type: ignore[attr-defined]
    dialog.query_one("#login-password").value = password  # type: ignore[attr-defined]
    dialog.submit()
    await dialog.app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]
    return dialog.status


async def test_wrong_passwords_show_xes_words_then_the_lockout(xe: tuple[str, Path]) -> None:
    url, ca = xe
    app = LoginApp(url, ca, "olga")
    async with app.run_test(size=(100, 30)) as pilot:
        dialog = app.screen
        assert isinstance(dialog, LoginDialog)
        assert dialog.query_one("#login-password").has_focus  # the name is filled in
        assert await _attempt(pilot, dialog, "olga", "wrong") == "invalid user name or password"
        assert dialog.query_one("#login-password").value == ""  # type: ignore[attr-defined]
        status = ""
        for _ in range(8):  # five failures lock the account (XE's rule)
            status = await _attempt(pilot, dialog, "olga", "wrong")
            if status.startswith("too many"):
                break
        assert re.fullmatch(r"too many failed logins: try again in \d+ s", status), status
        # Locked: even the right password is refused with the back-off, as XE says it.
        status = await _attempt(pilot, dialog, "olga", "olga-password-12345")
        assert status.startswith("too many failed logins: try again in")
        assert app.return_value is None and app.screen is dialog


async def test_a_good_password_gives_the_console_that_users_link(xe: tuple[str, Path]) -> None:
    url, ca = xe
    app = LoginApp(url, ca)
    async with app.run_test(size=(100, 30)) as pilot:
        dialog = app.screen
        assert isinstance(dialog, LoginDialog)
        await pilot.click("#login-ok")
        assert dialog.status == "Give a user name and a password."
        await pilot.click("#login-user")
        await pilot.press(*"audrey", "enter", *AUDREY, "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
    link = app.return_value
    assert isinstance(link, XeLink)
    assert (link.user, link.role, link.url, link.ca_file) == ("audrey", "auditor", url, ca)
    async with XeClient(url, token=link.token, ca=ca) as me:
        assert (await me.whoami()).name == "audrey"
    assert await logout(link)
    async with XeClient(url, token=link.token, ca=ca) as me:
        with pytest.raises(Exception, match="invalid or expired credential"):
            await me.whoami()


async def test_cancel_gives_no_link(tmp_path: Path) -> None:
    app = LoginApp("https://127.0.0.1:1", None, "x")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("escape")
    assert app.return_value is None


async def test_xe_unreachable_is_said(tmp_path: Path) -> None:
    app = LoginApp("https://127.0.0.1:1", None, "x")
    async with app.run_test(size=(100, 30)) as pilot:
        dialog = app.screen
        assert isinstance(dialog, LoginDialog)
        status = await _attempt(pilot, dialog, "x", "y")
    assert status.startswith("cannot reach https://127.0.0.1:1")


def test_xe_arguments_are_checked(tmp_path: Path) -> None:
    def args(**kw: object) -> argparse.Namespace:
        base: dict[str, object] = {"xe": None, "xe_ca": None, "xe_user": ""}
        return argparse.Namespace(**(base | kw))

    check_xe_args(args())
    check_xe_args(args(xe="https://xe.example:8443"))
    for bad in (args(xe="xe.example"), args(xe_user="a"),
                args(xe="https://x:1", xe_ca=tmp_path / "none.pem")):  # fmt: skip
        with pytest.raises(ConfigError):
            check_xe_args(bad)
