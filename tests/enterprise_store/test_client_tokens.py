"""XeClient.with_token (issue #13): one client's connections (TLS, timeouts, pool,
problem+json errors) asking XE as another user, as the SSH server does for each login's
hosts and logout; and a client that keeps no cookie, so nothing of one user's answer goes
with another's request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from enterprise_store.api import create_app
from enterprise_store.client import Unauthenticated, XeClient
from enterprise_store.services import NewUser, Principal, Role, Services

PASSWORD = "client-tokens-password-1"
URL = "http://xe.test"


async def test_with_token_asks_as_another_user_and_closes_nothing(
    xe_services: Callable[..., Any],
) -> None:
    services: Services = await xe_services()
    await services.users.bootstrap_admin("root", PASSWORD)
    await services.users.create_user(
        Principal.system(), NewUser(name="oper", role=Role.OPERATOR, password=PASSWORD)
    )
    transport = httpx.ASGITransport(app=create_app(services), client=("192.0.2.41", 4711))
    async with XeClient(URL, transport=transport) as login:
        oper_token = (await login.login("oper", PASSWORD)).token
    async with XeClient(URL, transport=transport) as root:
        await root.login("root", PASSWORD)
        oper = root.with_token(oper_token)
        assert (await oper.whoami()).name == "oper"
        assert (await oper.policy.list_host_fields(["name", "port"], limit=5)).items == []
        assert (await root.whoami()).name == "root"  # its own token unchanged
        await oper.aclose()  # closes nothing: the client it came from still asks
        assert (await root.whoami()).name == "root"
        await root.with_token(oper_token).logout()
        with pytest.raises(Unauthenticated):
            await root.with_token(oper_token).whoami()
        assert (await root.whoami()).name == "root"


async def test_no_cookie_of_an_answer_goes_with_a_later_request() -> None:
    seen: list[str] = []
    app = FastAPI()

    @app.get("/healthz")
    async def healthz(request: Request, response: Response) -> dict[str, str]:
        seen.append(request.headers.get("cookie", ""))
        response.set_cookie("sid", "of-the-first-user")
        return {"status": "ok"}

    transport = httpx.ASGITransport(app=app)
    async with XeClient(URL, token="a", transport=transport) as xe:
        await xe.healthz()
        await xe.with_token("b").healthz()
        await xe.healthz()
    assert seen == ["", "", ""]
