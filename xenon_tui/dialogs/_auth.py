"""Manage authorization: list, add and remove a server's authorized client certificates."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from xenon_tui._errors import ConfigError, ConsoleError
from xenon_tui.dialogs._basic import ConfirmDialog, InputDialog

if TYPE_CHECKING:
    from xenon_tui.app import XenonConsole

_MAX_PEM = 64 * 1024


def _read_pem(path: str) -> str:
    pem_path = Path(path).expanduser()
    if pem_path.stat().st_size > _MAX_PEM:
        raise ConfigError(f"{path} is too large for a certificate")
    return pem_path.read_text()


def _entries(result: dict[str, Any]) -> list[dict[str, Any]]:
    items = result.get("authorizations", result.get("entries", []))
    return [i if isinstance(i, dict) else {"alias": str(i)} for i in items]


class AuthDialog(ModalScreen[None]):
    """The *Manage authorization* dialog of one server (a: add, Delete: remove)."""

    DEFAULT_CSS = """
    AuthDialog { align: center middle; background: $background 60%; }
    AuthDialog > Vertical { width: 90%; max-width: 110; height: 70%; border: thick $primary;
                            background: $surface; padding: 0 1; }
    AuthDialog .title { text-style: bold; color: $primary; }
    AuthDialog OptionList { height: 1fr; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "close", "Close"),
        Binding("a", "add", "Add certificate"),
        Binding("delete", "remove", "Remove"),
    ]

    def __init__(self, console: XenonConsole, address: str) -> None:
        super().__init__()
        self.console, self.address = console, address
        self.entries: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                f"Authorized client certificates — {self.address}", classes="title", markup=False
            )
            yield Label("a: add a PEM certificate   Delete: remove   Esc: close", markup=False)
            yield OptionList(id="auth-list")

    def on_mount(self) -> None:
        self.reload()

    @work(group="auth", exclusive=True, exit_on_error=False)
    async def reload(self) -> None:
        """Reads the server's authorization store."""
        try:
            result = await self.console.call(self.address, "ListAuthorizations")
        except ConsoleError as exc:
            self.console.show_error(exc)
            return
        self.entries = _entries(result)
        options = self.query_one("#auth-list", OptionList)
        options.clear_options()
        for e in self.entries:
            fp = str(e.get("fingerprint", ""))[:23]
            options.add_option(Option(f"{e.get('alias')}  {e.get('subject', '')}  {fp}"))
        if not self.entries:
            options.add_option(
                Option("(empty: only loopback clients are authorized)", disabled=True)
            )
        options.focus()

    @work(group="auth-edit", exclusive=True, exit_on_error=False)
    async def action_add(self) -> None:
        alias = await self.app.push_screen_wait(InputDialog("Add authorization", "Alias:"))
        if not alias:
            return
        path = await self.app.push_screen_wait(
            InputDialog("Add authorization", "Client certificate (PEM file):")
        )
        if not path:
            return
        try:
            pem = await asyncio.to_thread(_read_pem, path)
            if "-----BEGIN CERTIFICATE-----" not in pem:
                raise ConfigError(f"{path} holds no PEM certificate")
            await self.console.call(self.address, "AddAuthorization", alias=alias, cert_pem=pem)
        except OSError as exc:
            self.console.show_error(ConfigError(f"cannot read {path}: {exc.strerror}"))
            return
        except ConsoleError as exc:
            self.console.show_error(exc)
            return
        self.reload()

    @work(group="auth-edit", exclusive=True, exit_on_error=False)
    async def action_remove(self) -> None:
        index = self.query_one("#auth-list", OptionList).highlighted
        if index is None or index >= len(self.entries):
            return
        alias = str(self.entries[index].get("alias"))
        if not await self.app.push_screen_wait(
            ConfirmDialog(f"Remove {alias}?", "Its holder loses remote access.", confirm="Remove")
        ):
            return
        try:
            await self.console.call(self.address, "RemoveAuthorization", alias=alias)
        except ConsoleError as exc:
            self.console.show_error(exc)
            return
        self.reload()

    def action_close(self) -> None:
        self.dismiss(None)
