"""Log in to Xenon Enterprise with a user name and password (the report's Figure 18).

``xenon console --xe URL`` (no SSH) shows :class:`LoginDialog` first: it asks XE
(``POST /api/v1/auth/login`` through :class:`~enterprise_store.client.XeClient`) and,
on success, gives back an :class:`~xenon_tui._xe.XeLink` for that user and role. A
refusal is shown as XE words it (a wrong password, or the lockout's back-off: "too many
failed logins: try again in N s"); the password field is cleared, the user name kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from enterprise_store.client import XeClient, XeError
from themes import THEMES
from xenon_tui._xe import CALL_TIMEOUT_S, XeLink

LoginCall = Callable[[str, str], Any]
_MAX_NAME = 64
_MAX_PASSWORD = 1024


class LoginDialog(ModalScreen[XeLink | None]):
    """User name and password for XE; dismisses with the session's link (None: cancelled).

    Args:
        url: XE's base URL.
        ca_file: CA bundle that signed XE's certificate (None: the system store).
        user: A user name to fill in.
    """

    DEFAULT_CSS = """
    LoginDialog { align: center middle; background: $background 60%; }
    LoginDialog > Vertical { width: 64; max-width: 95%; height: auto; border: thick $primary;
                             background: $surface; padding: 0 1; }
    LoginDialog .title { text-style: bold; color: $primary; }
    LoginDialog Input { margin: 0 0 1 0; }
    LoginDialog #login-status { color: $error; height: auto; min-height: 1; }
    LoginDialog Horizontal { height: auto; align-horizontal: right; }
    LoginDialog Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, url: str, ca_file: Path | None = None, user: str = "") -> None:
        super().__init__()
        self.url, self.ca_file, self._user = url, ca_file, user
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Log in to Xenon Enterprise", classes="title", markup=False)
            yield Label(self.url, markup=False)
            yield Label("User name", markup=False)
            yield Input(self._user, id="login-user", max_length=_MAX_NAME)
            yield Label("Password", markup=False)
            yield Input(id="login-password", password=True, max_length=_MAX_PASSWORD)
            yield Static("", id="login-status", markup=False)
            with Horizontal():
                yield Button("Log in", id="login-ok", variant="primary")
                yield Button("Cancel", id="login-cancel")

    def on_mount(self) -> None:
        target = "#login-password" if self._user else "#login-user"
        self.query_one(target, Input).focus()

    @property
    def status(self) -> str:
        """The message shown under the fields (XE's words after a refusal)."""
        return str(self.query_one("#login-status", Static).content)

    def _say(self, text: str) -> None:
        self.query_one("#login-status", Static).update(text)

    @on(Input.Submitted, "#login-user")
    def _next_field(self) -> None:
        self.query_one("#login-password", Input).focus()

    @on(Input.Submitted, "#login-password")
    @on(Button.Pressed, "#login-ok")
    def submit(self) -> None:
        """Sends the name and password to XE (once at a time)."""
        user = self.query_one("#login-user", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        if not user or not password:
            self._say("Give a user name and a password.")
            return
        if not self.busy:
            self.busy = True
            self._say("Logging in…")
            self._login(user, password)

    @work(exclusive=True, group="xe-login")
    async def _login(self, user: str, password: str) -> None:
        try:
            link = await self._ask_xe(user, password)
        except XeError as exc:
            # XE's own words: "invalid user name or password", "too many failed logins:
            # try again in 40 s", "cannot reach https://…".
            self._refused(exc.message)
            return
        finally:
            self.busy = False
        self.dismiss(link)

    async def _ask_xe(self, user: str, password: str) -> XeLink:
        async with XeClient(self.url, ca=self.ca_file, timeout=CALL_TIMEOUT_S) as xe:
            session = await xe.login(user, password)
        return XeLink(
            url=self.url,
            token=session.token,
            user=session.user.name,
            role=str(session.user.role),
            ca_file=self.ca_file,
        )

    def _refused(self, message: str) -> None:
        if not self.is_attached:
            return
        self._say(message)
        field = self.query_one("#login-password", Input)
        field.value = ""
        field.focus()

    @on(Button.Pressed, "#login-cancel")
    def action_cancel(self) -> None:
        """Closes the dialog without a session."""
        self.dismiss(None)


class LoginApp(App[XeLink | None]):
    """Runs :class:`LoginDialog` alone on the terminal; its return value is the link."""

    def __init__(self, url: str, ca_file: Path | None = None, user: str = "") -> None:
        super().__init__()
        self._dialog_args = (url, ca_file, user)

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = THEMES[0].name
        self.push_screen(LoginDialog(*self._dialog_args), self.exit)


async def logout(link: XeLink) -> bool:
    """Ends the link's XE session (best effort: False when XE could not be told)."""
    try:
        async with XeClient(
            link.url, token=link.token, ca=link.ca_file, timeout=CALL_TIMEOUT_S
        ) as xe:
            await xe.logout()
    except XeError:
        return False
    return True


def ask_login(url: str, ca_file: Path | None = None, user: str = "") -> XeLink | None:
    """Asks for a user name and password on this terminal; the link, or None (cancelled)."""
    return LoginApp(url, ca_file, user).run()


__all__ = ["LoginApp", "LoginDialog", "ask_login", "logout"]
