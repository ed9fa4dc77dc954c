"""Manage authorization: list, add and remove a server's authorized client certificates."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from xenon_tui._work import run_flow
from xenon_tui.dialogs._basic import ConfirmDialog, InputDialog


class AuthStore(Protocol):
    """A server's authorization store (``flows.Authorizations``); raises ConsoleError."""

    async def entries(self) -> list[dict[str, Any]]:
        """The authorized certificates (alias, subject, fingerprint)."""
        ...

    async def add(self, alias: str, pem_file: str) -> None:
        """Authorizes the certificate in ``pem_file`` under ``alias``."""
        ...

    async def remove(self, alias: str) -> None:
        """Removes the certificate authorized under ``alias``."""
        ...


class AuthDialog(ModalScreen[None]):
    """The *Manage authorization* dialog of one server (a: add, Delete: remove).

    Its requests run as workers of the app, which shows what they fail with; the dialog
    stays open and lists the store again after each change.
    """

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

    def __init__(self, address: str, store: AuthStore) -> None:
        super().__init__()
        self.address, self.store = address, store
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

    def reload(self) -> None:
        """Reads the server's authorization store (in a worker)."""
        run_flow(self, "auth", self._reload)

    async def _reload(self) -> None:
        entries = await self.store.entries()
        if not self.is_attached:
            return  # closed meanwhile
        self.entries = entries
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

    def action_add(self) -> None:
        run_flow(self, "auth-edit", self._add)

    async def _add(self) -> None:
        alias = await self.app.push_screen_wait(InputDialog("Add authorization", "Alias:"))
        if not alias:
            return
        path = await self.app.push_screen_wait(
            InputDialog("Add authorization", "Client certificate (PEM file):")
        )
        if not path:
            return
        await self.store.add(alias, path)
        self.reload()

    def action_remove(self) -> None:
        run_flow(self, "auth-edit", self._remove)

    async def _remove(self) -> None:
        index = self.query_one("#auth-list", OptionList).highlighted
        if index is None or index >= len(self.entries):
            return
        alias = str(self.entries[index].get("alias"))
        if not await self.app.push_screen_wait(
            ConfirmDialog(f"Remove {alias}?", "Its holder loses remote access.", confirm="Remove")
        ):
            return
        await self.store.remove(alias)
        self.reload()

    def action_close(self) -> None:
        self.dismiss(None)
