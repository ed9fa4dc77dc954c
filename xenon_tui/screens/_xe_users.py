"""XE's users (``u`` on the Enterprise screen; the report's Alt+U): admins add, remove,
change roles, reset passwords, manage SSH keys and revoke tokens; everyone changes their own
password and SSH keys. XE enforces the roles; the screen only hides what it would refuse."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from xenon_tui._work import run_flow
from xenon_tui._xe import XeData, XeLink, bounded
from xenon_tui.dialogs import ConfirmDialog, InputDialog, TextDialog, TypedConfirmDialog
from xenon_tui.dialogs._form import Field, FormDialog, Values
from xenon_tui.dialogs._xe_help import keys_help
from xenon_tui.widgets._keyline import KeyLine
from xenon_tui.widgets._xe_tasks import printable

if TYPE_CHECKING:
    from enterprise_store.client import SshKeyOut, UserCreated

T = TypeVar("T")

ROLES = ("admin", "operator", "auditor")
KEY_PREFIXES = ("ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-", "sk-ssh-ed25519@", "sk-ecdsa-")
ADMIN_ACTIONS = frozenset(
    {"add_user", "remove_user", "set_role", "reset_password", "revoke_tokens"}
)


@dataclass(frozen=True)
class UserRow:
    """A user as the list shows it."""

    name: str
    role: str
    enabled: bool
    otp: bool
    """A one-time password is pending (must be changed at the next login)."""
    keys: int | None
    tokens: int | None
    """Active credentials (None: not the caller's to count)."""
    scopes: int | None


def user_problem(name: str) -> str:
    """The message for a bad user name ("" when it is fine)."""
    if not name:
        return "A name is needed."
    if len(name) > 64 or any(c.isspace() or not c.isprintable() for c in name):
        return "A name is up to 64 printable characters without spaces."
    return ""


def key_problem(key: str) -> str:
    """The message for a bad OpenSSH public key line ("" when it looks like one)."""
    key = key.strip()
    if not key.startswith(KEY_PREFIXES):
        return "An OpenSSH public key line: ssh-ed25519 AAAA… comment"
    if len(key) > 8192 or not key.isprintable():
        return "A public key is one printable line of at most 8192 characters."
    return ""


class SecretForm(FormDialog):
    """A form whose ``secret`` fields are masked (passwords are never shown); Enter in a
    burst of keys is the base form's (:class:`FormDialog`)."""

    def __init__(
        self,
        title: str,
        fields: list[Field],
        validate: Callable[[Values], dict[str, str]],
        secret: frozenset[str],
    ) -> None:
        super().__init__(title, fields, validate)
        self._secret = secret

    def on_mount(self) -> None:
        for name in self._secret:
            self.query_one(f"#field-{name}", Input).password = True


class TypedNameConfirm(TypedConfirmDialog):
    """Typed confirmation that asks for a user's name (not a domain's)."""

    def on_mount(self) -> None:
        self.query_one("#typed-entry Label", Label).update(
            f"Type the user name ({self.expected}) to confirm:"
        )


class SshKeysDialog(ModalScreen[tuple[str, str] | None]):
    """A user's SSH keys; ``a`` adds, ``d`` removes the highlighted one, Esc closes.

    Dismisses ``("add", "")``, ``("remove", key_id)`` or None.
    """

    DEFAULT_CSS = """
    SshKeysDialog { align: center middle; background: $background 60%; }
    SshKeysDialog > Vertical { width: 90%; max-width: 110; height: auto; max-height: 90%;
                               border: thick $primary; background: $surface; padding: 0 1; }
    SshKeysDialog .title { text-style: bold; color: $primary; dock: top; }
    SshKeysDialog #keys-help { dock: bottom; color: $text-muted; }
    SshKeysDialog OptionList { height: auto; max-height: 100%; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "close", "Close"),
        Binding("a", "add", "Add key"),
        Binding("d,delete", "remove", "Remove key"),
    ]

    def __init__(self, user: str, keys: list[SshKeyOut], *, may_change: bool) -> None:
        super().__init__()
        self.user, self.keys, self.may_change = user, keys, may_change

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"SSH keys of {self.user} ({len(self.keys)})", classes="title")
            options = [
                Option(
                    Text(
                        f"{k.algorithm}  {k.fingerprint}  {printable(k.comment, 60)}",
                        no_wrap=True,
                        overflow="ellipsis",
                    ),
                    id=k.id,
                )
                for k in self.keys
            ]
            yield OptionList(*options, id="keys")
            hint = "a add · d remove · Esc close" if self.may_change else "Esc close"
            if not self.keys:
                hint = f"No SSH key yet. {hint}"
            yield Static(hint, id="keys-help")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.may_change or action not in ("add", "remove")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_add(self) -> None:
        self.dismiss(("add", ""))

    def action_remove(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            key_id = options.get_option_at_index(options.highlighted).id
            if key_id:
                self.dismiss(("remove", key_id))


class XeUsersScreen(Screen[None]):
    """XE's users, refreshed after every change.

    Args:
        data: The session's XE data access (its client).
        link: The session's link (its user and role).
    """

    DEFAULT_CSS = """
    XeUsersScreen #users-title { dock: top; height: 1; background: $panel; padding: 0 1; }
    XeUsersScreen #users { height: 1fr; }
    XeUsersScreen #users-status { height: auto; max-height: 3; padding: 0 1; }
    XeUsersScreen #users-status.-error { color: $error; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,q", "back", "Back", show=False, id="users.back"),
        Binding("a", "add_user", "Add", id="users.add"),
        Binding("d,delete", "remove_user", "Remove", id="users.remove"),
        Binding("r", "set_role", "Role", id="users.role"),
        Binding("w", "reset_password", "Reset", id="users.reset"),
        Binding("k", "ssh_keys", "Keys", id="users.keys"),
        Binding("x", "revoke_tokens", "Revoke", id="users.revoke"),
        Binding("p", "change_password", "Password", id="users.password"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="users.refresh"),
    ]

    def __init__(self, data: XeData, link: XeLink) -> None:
        super().__init__()
        self.data, self.link = data, link
        self.users: list[UserRow] = []
        self.loads = 0  # finished loads (tests wait on it)

    @property
    def is_admin(self) -> bool:
        """Admin actions are offered (XE decides anyway)."""
        return self.link.role == "admin"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.is_admin or action not in ADMIN_ACTIONS

    def compose(self) -> ComposeResult:
        title = Text("⛨ Users", style="bold")
        title.append(f" — {self.link.user} ({self.link.role}) · Esc back")
        yield Static(title, id="users-title")
        table: DataTable[str | Text] = DataTable(id="users", cursor_type="row")
        yield table
        yield Static("reading users…", id="users-status")
        yield KeyLine(id="users-keys")

    def on_mount(self) -> None:
        table = self.query_one("#users", DataTable)
        for key, label in (
            ("name", "Name"), ("role", "Role"), ("enabled", "Enabled"), ("otp", "OTP"),
            ("keys", "SSH keys"), ("tokens", "Tokens"), ("scopes", "Scope"),
        ):  # fmt: skip
            table.add_column(label, key=key)
        table.focus()
        self.action_refresh()

    # -- reading -----------------------------------------------------------------------------

    def action_refresh(self) -> None:
        run_flow(self, "xe-users-load", self._load)

    async def _load(self) -> None:
        try:
            self.users = await self.read_users()
        finally:
            self.loads += 1
        self._show()
        self._status(f"{len(self.users)} users · XE {self.link.url}")

    async def read_users(self) -> list[UserRow]:
        """Every user with its SSH key count and (admins: everyone's, others: one's own)
        active credential count."""
        client = self.data.client
        users = await bounded(_collect(client.iter_users()))
        tokens: Counter[str] = Counter()
        who = "*" if self.is_admin else None
        cursor = None
        while True:
            page = await bounded(client.list_tokens(user=who, limit=500, cursor=cursor))
            tokens.update(t.user or "" for t in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        rows = []
        for u in sorted(users, key=lambda u: u.name.casefold()):
            keys = len(await bounded(client.list_ssh_keys(u.name)))
            counted = self.is_admin or u.name == self.link.user
            rows.append(
                UserRow(
                    u.name,
                    str(u.role),
                    u.enabled,
                    u.must_change_password,
                    keys,
                    tokens[u.name] if counted else None,
                    None if u.scopes is None else len(u.scopes),
                )
            )
        return rows

    def _show(self) -> None:
        table = self.query_one("#users", DataTable)
        current = self.current()
        table.clear()
        for u in self.users:
            table.add_row(
                Text(printable(u.name, 64), style="bold" if u.name == self.link.user else ""),
                u.role,
                "yes" if u.enabled else Text("disabled", style="italic"),
                "pending" if u.otp else "—",
                "—" if u.keys is None else str(u.keys),
                "—" if u.tokens is None else str(u.tokens),
                "every enclave" if u.scopes is None else f"{u.scopes} enclaves",
                key=u.name,
            )
        names = [u.name for u in self.users]
        if current is not None and current.name in names:
            table.move_cursor(row=names.index(current.name))

    def current(self) -> UserRow | None:
        """The user under the cursor."""
        table = self.query_one("#users", DataTable)
        if not self.users or table.cursor_row is None:
            return None
        return self.users[min(table.cursor_row, len(self.users) - 1)]

    def _status(self, text: str) -> None:
        self.query_one("#users-status", Static).update(Text(text))

    # -- XE writes (XE checks the caller's role on each) -------------------------------------

    async def do_add_user(self, name: str, role: str, password: str | None) -> UserCreated:
        """Creates a user (no password: XE generates a one-time password)."""
        return await bounded(
            self.data.client.create_user(
                name, cast(Any, role), password=password, generate_password=password is None
            )
        )

    async def do_remove_user(self, name: str) -> None:
        """Deletes a user."""
        await bounded(self.data.client.delete_user(name))

    async def do_set_role(self, name: str, role: str) -> None:
        """Changes a user's role."""
        await bounded(self.data.client.update_user(name, role=cast(Any, role)))

    async def do_reset_password(self, name: str, password: str | None) -> str | None:
        """Resets a password; returns the one-time password XE made when none was given."""
        return await bounded(self.data.client.reset_password(name, password))

    async def do_keys(self, name: str) -> list[SshKeyOut]:
        """A user's SSH keys."""
        return await bounded(self.data.client.list_ssh_keys(name))

    async def do_add_key(self, name: str, public_key: str) -> SshKeyOut:
        """Adds an SSH public key to a user."""
        return await bounded(self.data.client.add_ssh_key(name, public_key.strip()))

    async def do_remove_key(self, name: str, key_id: str) -> None:
        """Removes one of a user's SSH keys."""
        await bounded(self.data.client.remove_ssh_key(name, key_id))

    async def do_revoke_tokens(self, name: str) -> int:
        """Revokes every active credential of a user; returns how many."""
        page = await bounded(self.data.client.list_tokens(user=name, limit=500))
        for token in page.items:
            await bounded(self.data.client.revoke_token(token.id))
        return len(page.items)

    async def do_change_password(self, old: str, new: str) -> None:
        """Changes the session user's own password."""
        await bounded(self.data.client.change_password(self.link.user, old, new))

    # -- flows -------------------------------------------------------------------------------

    async def ask(self, dialog: ModalScreen[T]) -> T:
        """Shows a dialog and waits for its value (only from a worker)."""
        return await self.app.push_screen_wait(dialog)

    def _flow(self, flow: Callable[..., Awaitable[Any]], *args: Any) -> None:
        run_flow(self, "xe-users", self._then_reload, flow, *args)

    async def _then_reload(self, flow: Callable[..., Awaitable[Any]], *args: Any) -> None:
        try:
            await flow(*args)
        finally:
            self.users = await self.read_users()
            self._show()

    def action_back(self) -> None:
        self.dismiss(None)

    def show_help(self) -> None:
        """`?`: this screen's keys (those it offers the user), from its bindings."""
        self.app.push_screen(keys_help(self, "Users"))

    def action_add_user(self) -> None:
        self._flow(self._add_user)

    async def _add_user(self) -> None:
        fields = [
            Field("name", "Name"),
            Field("role", "Role", "operator", hint=" | ".join(ROLES)),
            Field("password", "Password", hint="blank: XE makes a one-time password"),
        ]

        def check(v: Values) -> dict[str, str]:
            errors = {"name": user_problem(v["name"].strip())}
            if v["role"].strip() not in ROLES:
                errors["role"] = f"One of {', '.join(ROLES)}."
            return {k: m for k, m in errors.items() if m}

        values = await self.ask(SecretForm("Add user", fields, check, frozenset({"password"})))
        if values is None:
            return
        name = values["name"].strip()
        created = await self.do_add_user(name, values["role"].strip(), values["password"] or None)
        self._status(f"{name} added as {created.user.role}")
        if created.one_time_password:
            await self._show_otp(name, created.one_time_password)

    async def _show_otp(self, name: str, otp: str) -> None:
        body = (
            f"{name}'s one-time password (shown this once; {name} changes it at the first "
            f"login):\n\n  {otp}"
        )
        await self.ask(TextDialog(f"One-time password for {name}", body))

    def action_remove_user(self) -> None:
        if (user := self.current()) is not None:
            self._flow(self._remove_user, user.name)

    async def _remove_user(self, name: str) -> None:
        body = f"{name} can no longer log in; their SSH keys and tokens are removed."
        if await self.ask(TypedNameConfirm(f"Remove user {name}?", body, name)):
            await self.do_remove_user(name)
            self._status(f"{name} removed")

    def action_set_role(self) -> None:
        if (user := self.current()) is not None:
            self._flow(self._set_role, user)

    async def _set_role(self, user: UserRow) -> None:
        role = await self.ask(
            InputDialog(
                f"Role of {user.name}",
                f"New role ({', '.join(ROLES)}):",
                value=user.role,
                validate=lambda v: None if v.strip() in ROLES else f"One of {', '.join(ROLES)}.",
            )
        )
        if role and role.strip() != user.role:
            await self.do_set_role(user.name, role.strip())
            self._status(f"{user.name} is now {role.strip()}")

    def action_reset_password(self) -> None:
        if (user := self.current()) is not None:
            self._flow(self._reset_password, user.name)

    async def _reset_password(self, name: str) -> None:
        field = Field("password", "New password", hint="blank: XE makes a one-time password")
        values = await self.ask(
            SecretForm(f"Reset {name}'s password", [field], lambda v: {}, frozenset({"password"}))
        )
        if values is None:
            return
        otp = await self.do_reset_password(name, values["password"] or None)
        self._status(f"{name}'s password was reset")
        if otp:
            await self._show_otp(name, otp)

    def action_ssh_keys(self) -> None:
        user = self.current()
        # Everyone manages their own keys; an admin anyone's (others: one's own).
        name = user.name if user is not None and self.is_admin else self.link.user
        self._flow(self._ssh_keys, name)

    async def _ssh_keys(self, name: str) -> None:
        while True:
            keys = await self.do_keys(name)
            may = self.is_admin or name == self.link.user
            choice = await self.ask(SshKeysDialog(name, keys, may_change=may))
            if choice is None:
                return
            what, key_id = choice
            if what == "add":
                line = await self.ask(
                    InputDialog(
                        f"Add an SSH key to {name}",
                        "OpenSSH public key line (ssh-ed25519 AAAA… comment):",
                        validate=lambda v: key_problem(v) or None,
                    )
                )
                if line:
                    added = await self.do_add_key(name, line)
                    self._status(f"{name}: key {added.fingerprint} added")
            elif what == "remove":
                key = next((k for k in keys if k.id == key_id), None)
                shown = key.fingerprint if key is not None else key_id
                if await self.ask(ConfirmDialog(f"Remove {name}'s key?", shown, confirm="Remove")):
                    await self.do_remove_key(name, key_id)
                    self._status(f"{name}: key {shown} removed")

    def action_revoke_tokens(self) -> None:
        if (user := self.current()) is not None:
            self._flow(self._revoke_tokens, user.name)

    async def _revoke_tokens(self, name: str) -> None:
        page = await bounded(self.data.client.list_tokens(user=name, limit=500))
        if not page.items:
            self._status(f"{name} has no active token")
            return
        lines = [f"{t.kind:8} {printable(t.name, 60)}" for t in page.items]
        if name == self.link.user:
            lines.append("\nThis console's own session is one of them: it ends too.")
        ok = await self.ask(
            ConfirmDialog(
                f"Revoke {len(page.items)} tokens of {name}?", "\n".join(lines), confirm="Revoke"
            )
        )
        if ok:
            count = await self.do_revoke_tokens(name)
            self._status(f"{name}: {count} tokens revoked")

    def action_change_password(self) -> None:
        self._flow(self._change_password)

    async def _change_password(self) -> None:
        fields = [
            Field("old", "Current password"),
            Field("new", "New password"),
            Field("again", "New password again"),
        ]

        def check(v: Values) -> dict[str, str]:
            if not v["old"]:
                return {"old": "Your current password is needed."}
            if not v["new"]:
                return {"new": "A new password is needed."}
            if v["new"] != v["again"]:
                return {"again": "The two new passwords differ."}
            return {}

        values = await self.ask(
            SecretForm(
                f"Change {self.link.user}'s password",
                fields,
                check,
                frozenset({"old", "new", "again"}),
            )
        )
        if values is None:
            return
        await self.do_change_password(values["old"], values["new"])
        self._status(f"{self.link.user}'s password was changed")


async def _collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


__all__ = ["SecretForm", "SshKeysDialog", "UserRow", "XeUsersScreen", "key_problem"]
