"""``/api/v1/policy/approvals`` and the client: two-person activation over HTTP (issue #14
§4) — the list with its diff, approve/reject with a note, the author refused with a token,
operators and auditors refused, propagate refused as problem+json naming the enclave, the
version, its author and who may approve, and the operations in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from enterprise_store._errors import ApprovalRequired, Forbidden, InvalidInput, RoleRequired
from enterprise_store.client import XeClient
from enterprise_store.services import Principal, Services

AsUser = Callable[..., Awaitable[XeClient]]


async def test_approvals_over_http(
    services: Services, app: FastAPI, as_user: AsUser, xe: Callable[..., Awaitable[XeClient]]
) -> None:
    await services.policy.add_host(Principal.system(), name="h1", address="10.0.0.1")
    root = await as_user("root")
    await root.policy.create_enclave(name="A")
    await root.policy.assign("A", "h1")
    alice, bob = await as_user("alice", "admin"), await as_user("bob", "admin")
    oper, aud = await as_user("oper", "operator"), await as_user("aud", "auditor")
    with pytest.raises(RoleRequired):
        await oper.policy.update_enclave("A", requires_approval=True)
    await alice.policy.update_enclave("A", requires_approval=True)
    written = await alice.policy.create_seclabel(name="sA", enclave="A", profile="PV-Combined")
    listed = await aud.policy.approvals()
    assert listed.held and [e.enclave for e in listed.enclaves] == ["A"]
    [item] = listed.items
    assert (item.version, item.enclave, item.state) == (written.version, "A", "pending")
    assert item.authors == ["alice"] and item.approvers == "admins other than alice"
    assert "+    SecLabel sA" in item.diff
    # propagate: 409 problem+json naming the enclave, version, author, who may approve
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as raw:
        token = (
            await raw.post(
                "/api/v1/auth/login",
                json={"username": "root", "password": "correct horse battery staple"},
            )
        ).json()["token"]
        answer = await raw.post("/api/v1/propagation", headers={"Authorization": f"Bearer {token}"})
        doc = (await raw.get("/openapi.json")).json()
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == "approval_required"
    assert (body["version"], body["enclave"], body["authors"]) == (written.version, "A", ["alice"])
    assert body["approvers"] == "admins other than alice" and body["state"] == "pending"
    with pytest.raises(ApprovalRequired) as raised:
        await root.compute.propagate()
    assert raised.value.approvers == "admins other than alice"
    assert raised.value.version == written.version
    # alice with an API token is alice
    issued = await alice.create_token("ci")
    robot = await xe(token=issued.token)
    with pytest.raises(Forbidden) as own:
        await robot.policy.approve(written.version, "ship it")
    assert own.value.code == "approval_own_change"
    for who in (oper, aud):
        with pytest.raises(RoleRequired):
            await who.policy.approve(written.version, "ok")
        with pytest.raises(RoleRequired):
            await who.policy.reject(written.version, "no")
    with pytest.raises(InvalidInput):
        await bob.policy.approve(written.version, "")
    [done] = await bob.policy.approve(written.version, "reviewed the SecLabel")
    assert (done.state, done.decided_by, done.note) == ("approved", "bob", "reviewed the SecLabel")
    after = await aud.policy.approvals()
    assert not after.held and after.items == []
    [history] = (await aud.policy.approvals(written.version)).items
    assert history.state == "approved"
    accepted = await root.compute.propagate()
    assert accepted.task_id
    # documented: role, the problem statuses
    paths = doc["paths"]
    assert paths["/api/v1/policy/approvals"]["get"]["x-required-role"] == "auditor"
    for verb in ("approve", "reject"):
        op = paths[f"/api/v1/policy/approvals/{{version}}/{verb}"]["post"]
        assert op["x-required-role"] == "admin"
        assert {"403", "404", "409"} <= set(op["responses"])
        assert "approval_own_change" in op["description"]
