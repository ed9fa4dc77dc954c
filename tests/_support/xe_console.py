"""The Enterprise screen's world for console tests: XE services (in-process API, SQLite)
over three running sim XPS hosts with the report's §4.2 policy, logins to it, and helpers
reading the screen. A pytest plugin (tests/conftest.py): ``world`` and ``db_url`` are
fixtures every console test may ask for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from textual.widgets import OptionList, Static

from enterprise_store.api import create_app
from enterprise_store.client import XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import NewUser, Principal, Role, Services
from tests._support.console import wait_for
from xenon_tui._config import ConsoleConfig, ServerEntry, TlsFiles
from xenon_tui._xe import NOT_READ, XeLink
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs._xe_form_hosts import NewMenuDialog
from xenon_tui.dialogs._xe_forms import XeForm
from xenon_tui.dialogs._xe_vm import VmActionsDialog
from xenon_tui.widgets._xe_hosts import XeHostsTree
from xenon_tui.widgets._xe_vms import XeVmTable

PASSWORD = "enterprise-view-password-1"
URL = "http://xe.test"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """XE's database: a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'xe.db'}"


@dataclass
class World:
    """XE with the §4.2 policy over three running sim hosts, and logins to it."""

    services: Services
    app: FastAPI
    clients: list[XeClient]
    hosts: list[Any]

    def factory(self, link: XeLink) -> XeClient:
        transport = httpx.ASGITransport(app=self.app, client=("192.0.2.30", 4711))
        client = XeClient(link.url, token=link.token, transport=transport, timeout=60)
        self.clients.append(client)
        return client

    async def admin(self) -> XeClient:
        """An API client logged in as the admin ``root``."""
        root = self.factory(XeLink(URL, "", "root", "admin", None))
        await root.login("root", PASSWORD)
        return root

    async def link(self, user: str = "oper") -> XeLink:
        client = self.factory(XeLink(URL, "", user, "", None))
        session = await client.login(user, PASSWORD)
        who = await client.whoami()
        return XeLink(URL, session.token, user, str(who.role), None)

    def console(self, link: XeLink, tmp: Path) -> XenonConsole:
        config = ConsoleConfig(config_path=tmp / "console.json")
        return XenonConsole(config, xe=link, xe_client_factory=self.factory)

    def host_console(
        self, link: XeLink, tmp: Path, servers: tuple[ServerEntry, ...] = ()
    ) -> XenonConsole:
        """A console whose host console holds the test PKI's console certificate (it can
        connect to the sim hosts' XPS daemons), with ``servers`` configured."""
        pki = self.hosts[0].pki
        cert, key = pki.clients["console"]
        config = ConsoleConfig(
            config_path=tmp / "console.json",
            tls=TlsFiles(ca=pki.ca, cert=cert, key=key),
            servers=servers,
        )
        return XenonConsole(config, xe=link, xe_client_factory=self.factory)


@pytest.fixture
async def world(xe_services: Callable[..., Any], xps_hosts: Any) -> AsyncIterator[World]:
    services: Services = await xe_services(start=True)
    await services.users.bootstrap_admin("root", PASSWORD)
    for name, role in (("aud", Role.AUDITOR), ("oper", Role.OPERATOR)):
        await services.users.create_user(
            Principal.system(), NewUser(name=name, role=role, password=PASSWORD)
        )
    hosts = await xps_hosts(3)
    policy = sample_xe_policy({x.name: ("127.0.0.1", x.port) for x in hosts})
    await services.policy.import_policy(Principal.system(), policy)
    w = World(services, create_app(services), [], hosts)
    root = await w.admin()
    task = await root.compute.wait_task((await root.compute.propagate()).task_id, 90)
    assert task.state == "succeeded", task.error
    yield w
    for c in w.clients:
        await c.aclose()


@pytest.fixture
async def empty_world(xe_services: Callable[..., Any], xps_hosts: Any) -> AsyncIterator[World]:
    """XE with no policy yet (the users only) and three running sim hosts it does not
    know: the start of the report's §4.2 walk."""
    services: Services = await xe_services(start=True)
    await services.users.bootstrap_admin("root", PASSWORD)
    for name, role in (("aud", Role.AUDITOR), ("oper", Role.OPERATOR)):
        await services.users.create_user(
            Principal.system(), NewUser(name=name, role=role, password=PASSWORD)
        )
    w = World(services, create_app(services), [], await xps_hosts(3))
    yield w
    for c in w.clients:
        await c.aclose()


def tree_lines(app: XenonConsole) -> list[str]:
    tree = app.screen.query_one(XeHostsTree)
    lines = []

    def walk(node: Any, depth: int) -> None:
        for child in node.children:
            lines.append("  " * depth + str(child.label))
            walk(child, depth + 1)

    walk(tree.root, 0)
    return lines


def rows(app: XenonConsole) -> list[Any]:
    return app.screen.query_one(XeVmTable).rows_shown


def vm_names(app: XenonConsole) -> list[str]:
    return [v.name for v in app.screen.query_one(XeVmTable).rows_shown]


def vm_state(app: XenonConsole, name: str) -> str | None:
    rows = app.screen.query_one(XeVmTable).rows_shown
    return next((v.state for v in rows if v.name == name), None)


def status(app: XenonConsole) -> str:
    return str(app.screen.query_one("#xe-status", Static).render())


async def ready(pilot: Any, app: XenonConsole) -> None:
    """Waits for the Enterprise screen's first full draw (hosts and the first enclave, the
    run states of the VMs on screen read)."""
    await wait_for(pilot, lambda: app.enterprise is not None, 30)
    await wait_for(pilot, lambda: bool(vm_names(app)), 60)
    await wait_for(pilot, lambda: rows(app)[0].state != NOT_READ, 60)


async def open_running_vm_menu(pilot: Any, app: XenonConsole, name: str = "EA-domu-1") -> None:
    """From the Enterprise view's first frame: host xenon-2's first enclave (A), once
    ``name`` (started by the test) reads running there, its VM menu open."""
    await pilot.press("j", "j")  # host xenon-2: its first enclave, A
    await wait_for(pilot, lambda: vm_state(app, name) == "running", 60)
    names = vm_names(app)
    await pilot.press("tab", "g", *["j"] * names.index(name), "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, VmActionsDialog))


S = TypeVar("S")


async def open_screen(
    pilot: Any, app: XenonConsole, key: str, kind: type[S], loaded: Callable[[S], bool]
) -> S:
    """From the Enterprise screen's first full draw, ``key`` opens a screen of ``kind``;
    waits (bounded) until ``loaded(screen)`` (its first rows in) and returns it."""
    await ready(pilot, app)
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, kind))
    screen = app.screen
    assert isinstance(screen, kind)
    await wait_for(pilot, lambda: loaded(screen), 30)
    return screen


# -- the forms (n New…, a Add domain): a person's keys ----------------------------------


async def choose_new(pilot: Any, app: XenonConsole, item: str) -> None:
    """`n`, then the menu entry ``item`` (moved to with j as a person would)."""
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewMenuDialog))
    options = app.screen.query_one(OptionList)
    target = options.get_option_index(item)
    while options.highlighted != target:
        await pilot.press("j")
    await pilot.press("enter")


async def form(pilot: Any, app: XenonConsole, kind: type[XeForm]) -> XeForm:
    """Waits for a form of ``kind`` on top, its fields drawn."""
    await wait_for(pilot, lambda: isinstance(app.screen, kind) and app.screen.ready, 30)
    screen = app.screen
    assert isinstance(screen, XeForm)
    return screen


def field(screen: XeForm, name: str) -> Any:
    """A form's field widget (an Input or a Select)."""
    return screen.query_one(f"#field-{name}")


async def move_to(pilot: Any, app: XenonConsole, line: str, *, host: bool = False) -> None:
    """Puts the Hosts panel's cursor on the first line that is ``line`` (g, then j); with
    ``host``, on the line of host ``line``, whose version and state may change meanwhile."""
    await pilot.press("g")
    lines = [x.strip() for x in tree_lines(app)]
    index = (
        next(i for i, x in enumerate(lines) if x.startswith(line + " "))
        if host
        else lines.index(line)
    )
    for _ in range(index):
        await pilot.press("j")
