"""The API through the real client (httpx over ASGI): models, errors, paging, operations."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from enterprise_store.client import (
    Forbidden,
    InvalidInput,
    LockedOut,
    NotFound,
    RoleRequired,
    Unauthenticated,
    XeClient,
)
from enterprise_store.services import Services

Make = Callable[..., Awaitable[XeClient]]
ENCLAVE_A = str(uuid.UUID(int=0xA))


async def test_login_whoami_logout(xe: Make, admin_password: str) -> None:
    client = await xe()
    session = await client.login("root", admin_password)
    assert session.user.name == "root" and session.user.role == "admin"
    assert (await client.whoami()).name == "root"
    await client.logout()
    with pytest.raises(Unauthenticated):
        await client.whoami()
    stale = await xe(session.token)
    with pytest.raises(Unauthenticated):
        await stale.whoami()


async def test_user_round_trip_through_the_client(as_user: Make) -> None:
    root = await as_user("root")
    created = await root.create_user(
        "alice",
        "operator",
        display_name="Alice",
        scopes=[ENCLAVE_A.upper()],
        generate_password=True,
    )
    assert created.one_time_password and created.user.scopes == [ENCLAVE_A]
    assert created.user.must_change_password
    user = await root.update_user("alice", role="auditor", scopes=None)
    assert (user.role, user.scopes) == ("auditor", None)
    user = await root.update_user("alice", enabled=False)
    assert not user.enabled and user.role == "auditor"
    assert (await root.get_user("alice")).enabled is False
    await root.delete_user("alice")
    with pytest.raises(NotFound, match="no user 'alice'"):
        await root.get_user("alice")


async def test_errors_come_back_as_the_services_classes(
    xe: Make, as_user: Make, app: FastAPI
) -> None:
    op = await as_user("op", "operator")
    with pytest.raises(RoleRequired) as refused:
        await op.create_user("bob", "auditor")
    assert refused.value.code == "role_required" and "admin role" in refused.value.message
    with pytest.raises(InvalidInput):  # refused by the request model (422)
        await op.create_user("Bad Name", "auditor")
    anonymous = await xe()
    with pytest.raises(Unauthenticated):
        await anonymous.list_users()
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await anonymous.login("op", "wrong password!!")
    with pytest.raises(LockedOut) as locked:
        await anonymous.login("op", "op-password-1")
    assert locked.value.retry_after_s == 30
    # the wire format: RFC 9457 with the stable code, and the standard headers
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as raw:
        answer = await raw.post("/api/v1/auth/login", json={"username": "op", "password": "x"})
        assert answer.status_code == 429 and answer.headers["retry-after"] == "30"
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert body["type"] == "urn:xenon:xe:problem:locked_out" and body["status"] == 429
        assert body["code"] == "locked_out" and body["instance"] == "/api/v1/auth/login"
        answer = await raw.get("/api/v1/users")
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        answer = await raw.post(
            "/api/v1/auth/login", json={"username": "op", "password": "s3cr3t-value", "x": 1}
        )
        assert answer.status_code == 422 and "s3cr3t-value" not in answer.text
        assert {tuple(e["loc"]) for e in answer.json()["errors"]} == {("body", "x")}


async def test_password_change_required_is_forbidden_until_changed(as_user: Make, xe: Make) -> None:
    root = await as_user("root")
    otp = (await root.create_user("newbie", "auditor", generate_password=True)).one_time_password
    assert otp
    newbie = await xe()
    await newbie.login("newbie", otp)
    with pytest.raises(Forbidden) as refused:
        await newbie.list_users()
    assert refused.value.code == "password_change_required"
    await newbie.change_password("newbie", otp, "my-own-password-1")
    assert [u.name for u in (await newbie.list_users()).items] == ["newbie", "root"]


async def test_collections_page_with_cursors_and_select_fields(as_user: Make) -> None:
    root = await as_user("root")
    for i in range(7):
        await root.create_user(f"user{i}", "auditor")
    page = await root.list_users(limit=3)
    assert [u.name for u in page.items] == ["root", "user0", "user1"] and page.next_cursor
    names = [u.name async for u in root.iter_users()]
    assert names == ["root", *(f"user{i}" for i in range(7))]
    slim = await root.list_users(fields=["name", "role"], limit=2, q="user")
    assert [u.model_dump(exclude_none=True) for u in slim.items] == [
        {"name": "user0", "role": "auditor"},
        {"name": "user1", "role": "auditor"},
    ]
    with pytest.raises(InvalidInput, match="unknown fields"):
        await root.list_users(fields=["name", "password_hash"])
    with pytest.raises(InvalidInput, match="invalid cursor"):
        await root.list_users(cursor="not-a-cursor")
    audit = await root.list_audit(action="user.create", limit=5)
    assert len(audit.items) == 5 and audit.next_cursor
    rest = await root.list_audit(action="user.create", cursor=audit.next_cursor)
    assert len(rest.items) == 2 and rest.next_cursor is None
    fields = await root.list_audit_fields(["seq", "action"], limit=1)
    assert fields.items[0].model_dump(exclude_none=True).keys() == {"seq", "action"}


async def test_tokens_ssh_keys_and_the_service_session(
    as_user: Make, xe: Make, ssh_key: Callable[..., str]
) -> None:
    alice = await as_user("alice", "operator")
    line = ssh_key()
    key = await alice.add_ssh_key("alice", line, comment="laptop")
    assert [k.fingerprint for k in await alice.list_ssh_keys("alice")] == [key.fingerprint]
    ci = await alice.create_token("ci", role="auditor", ttl_s=3600)
    robot = await xe(ci.token)
    assert (await robot.whoami()).name == "alice"
    with pytest.raises(RoleRequired):  # the token is an auditor, its owner an operator
        await robot.add_ssh_key("root", ssh_key())
    mine = await alice.list_tokens(kind="api")
    assert [t.name for t in mine.items] == ["ci"]
    await alice.revoke_token(ci.info.id)
    with pytest.raises(Unauthenticated):
        await robot.whoami()
    root = await as_user("root")
    console = await xe((await root.create_token("console", kind="service")).token)
    session = await console.service_session("alice", line)
    as_alice = await xe(session.token)
    assert (await as_alice.whoami()).name == "alice"
    with pytest.raises(Unauthenticated):
        await console.service_session("root", line)
    await alice.remove_ssh_key("alice", key.id)
    with pytest.raises(Unauthenticated):  # the key no longer opens a session
        await console.service_session("alice", line)


async def test_audit_verify_through_the_api(as_user: Make, services: Services) -> None:
    root = await as_user("root")
    await root.create_user("bob", "auditor")
    report = await root.verify_audit()
    assert report.ok and report.count >= 3 and "|" in report.fingerprint
    again = await root.verify_audit(expect=report.fingerprint)
    assert again.ok
    bad = await root.verify_audit(expect="0" * 64 + "|" + "f" * 64)
    assert not bad.ok and {p.code for p in bad.problems} == {"fingerprint_missing"}
    records = await root.list_audit(actor="root", action="user.create")
    assert records.items[0].object == "user:bob" and records.items[0].source == "192.0.2.10"


async def test_operations_endpoints_and_per_app_metrics(
    xe: Make, services: Services, admin_password: str
) -> None:
    from enterprise_store.api import create_app

    client = await xe()
    assert (await client.healthz()).status == "ok"
    ready = await client.readyz()
    assert ready.status == "ready" and ready.checks == {"store": "ok"}
    await client.login("root", admin_password)
    await client.list_users()
    text = await client.metrics_text()
    assert 'xe_http_requests_total{method="GET",route="/api/v1/users",status="200"} 1.0' in text
    assert 'route="/api/v1/users/{name}"' not in text
    other = create_app(services)  # a second app in this process: its own registry
    async with XeClient("http://t", transport=httpx.ASGITransport(app=other)) as fresh:
        assert "/api/v1/users" not in await fresh.metrics_text()


async def test_readyz_reports_a_dead_worker(xe: Make, services: Services) -> None:
    import asyncio

    async def crash() -> None:
        raise RuntimeError("worker died")

    task = asyncio.create_task(crash())
    await asyncio.gather(task, return_exceptions=True)
    services.workers["ingest"] = task
    ready = await (await xe()).readyz()
    assert ready.status == "not_ready" and ready.checks["worker:ingest"].startswith("stopped")
    del services.workers["ingest"]


async def test_request_bodies_are_bounded(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as raw:
        answer = await raw.post("/api/v1/auth/login", content=b"{" + b" " * (1024 * 1024 + 1))
        assert answer.status_code == 413 and answer.json()["code"] == "too_large"


async def test_openapi_declares_every_operations_role_and_problem_errors(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as raw:
        doc = (await raw.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    roles = {"none", "any", "auditor", "operator", "admin", "service"}
    operations = [(p, m, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(operations) >= 17
    for path, method, op in operations:
        role = op["x-required-role"]
        assert role in roles, (path, method)
        assert f"Required role: {role}" in op["description"], (path, method)
        for status, response in op["responses"].items():
            if int(status) >= 400 and path != "/readyz":
                assert list(response["content"]) == ["application/problem+json"], (path, status)
    assert doc["paths"]["/api/v1/users"]["post"]["x-required-role"] == "admin"
    assert doc["paths"]["/api/v1/auth/service-sessions"]["post"]["x-required-role"] == "service"
    assert "HTTPValidationError" not in doc["components"]["schemas"]


async def test_method_not_allowed_lists_every_method_of_the_path(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as raw:
        answer = await raw.request("PUT", "/api/v1/users")
        assert answer.status_code == 405 and answer.json()["code"] == "method_not_allowed"
        assert answer.headers["allow"] == "GET, POST, HEAD"
        answer = await raw.request("PUT", "/api/v1/users/alice/ssh-keys/k1")
        assert answer.headers["allow"] == "DELETE"
