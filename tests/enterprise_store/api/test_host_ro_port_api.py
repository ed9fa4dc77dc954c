"""PATCH /api/v1/hosts/{ref} and a host's read-only port (issue #13): absent = unchanged,
a port = set, null = cleared (the console then reaches no read-only socket of that host);
every other value is refused as problem+json."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from enterprise_store.client import XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services

Client = Callable[..., Awaitable[XeClient]]
HOST = "xenon-1"


async def _patch(app: FastAPI, token: str, body: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return await c.patch(
            f"/api/v1/hosts/{HOST}", headers={"Authorization": f"Bearer {token}"}, json=body
        )


@pytest.fixture
async def root(as_user: Client, services: Services) -> XeClient:
    await services.policy.import_policy(Principal.system(), sample_xe_policy())
    return await as_user("root")


async def test_null_clears_the_read_only_port(
    root: XeClient, app: FastAPI, services: Services, db_url: str
) -> None:
    written = await root.policy.update_host(HOST, ro_port=9543)
    assert written.item.ro_port == 9543
    version = written.version
    # Absent: unchanged (another field changes, the port stays).
    answer = await _patch(app, str(root.token), {"port": 9444})
    assert answer.status_code == 200, answer.text
    assert answer.json()["item"]["ro_port"] == 9543
    # null: cleared, in a new audited version; a fresh read of the database agrees.
    answer = await _patch(app, str(root.token), {"ro_port": None})
    assert answer.status_code == 200, answer.text
    assert answer.json()["item"]["ro_port"] is None
    assert answer.json()["version"] == version + 2
    fresh = await Services.open(db_url)  # a second process's read of the database
    try:
        assert (await fresh.policy.current()).host_named(HOST).ro_port is None
    finally:
        await fresh.close()
    assert (await root.policy.get_host(HOST)).ro_port is None
    actions = [r.action for r in (await root.list_audit(limit=5)).items]
    assert actions.count("policy.host.update") >= 3, actions
    # The client says the same with ro_port=None.
    await root.policy.update_host(HOST, ro_port=9543)
    cleared = await root.policy.update_host(HOST, ro_port=None)
    assert cleared.item.ro_port is None
    # Clearing a port that is not set changes nothing and writes no version.
    again = await root.policy.update_host(HOST, ro_port=None)
    assert again.item.ro_port is None


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "greater than or equal to 1"),
        (65536, "less than or equal to 65535"),
        ("none", "valid integer"),
        (9543.5, "fractional part"),
        ([9543], "valid integer"),
    ],
)
async def test_other_values_are_refused(
    root: XeClient, app: FastAPI, value: Any, words: str
) -> None:
    await root.policy.update_host(HOST, ro_port=9543)
    answer = await _patch(app, str(root.token), {"ro_port": value})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert words in answer.text
    assert (await root.policy.get_host(HOST)).ro_port == 9543
