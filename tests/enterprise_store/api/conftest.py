"""API fixtures: the app over the ``services`` fixture, and real clients through ASGI.

- ``app`` (function): ``create_app(services)``.
- ``xe`` (function): ``await xe(token=None)`` → an :class:`XeClient` talking to ``app``
  through ``httpx.ASGITransport`` (closed at teardown).
- ``as_user`` (function): ``await as_user(name, role, scopes=None)`` → a client logged in
  as a new user made by ``root`` (``as_user("root")`` logs in as root).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from enterprise_store.api import create_app
from enterprise_store.client import XeClient
from enterprise_store.services import Services

ROOT_PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(services: Services) -> FastAPI:
    """The XE API over the test's services."""
    return create_app(services)


@pytest.fixture
async def xe(app: FastAPI) -> AsyncIterator[Callable[..., Awaitable[XeClient]]]:
    """A factory of clients bound to ``app`` (through ASGI, no socket)."""
    clients: list[XeClient] = []

    async def make(token: str | None = None) -> XeClient:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 4711))
        client = XeClient("http://xe.test", token=token, transport=transport)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def as_user(
    xe: Callable[..., Awaitable[XeClient]],
) -> Callable[..., Awaitable[XeClient]]:
    """A client logged in as ``root`` or as a new user made by root."""

    async def make(name: str, role: str = "admin", scopes: list[str] | None = None) -> XeClient:
        client = await xe()
        if name == "root":
            await client.login("root", ROOT_PASSWORD)
            return client
        root = await make("root")
        await root.create_user(name, role, scopes=scopes, password=f"{name}-password-1")  # type: ignore[arg-type]
        await client.login(name, f"{name}-password-1")
        return client

    return make


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """API tests run on SQLite only: the service suite covers both backends."""
    return sqlite_url
