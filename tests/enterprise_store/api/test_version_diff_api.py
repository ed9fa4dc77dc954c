"""``GET /api/v1/policy/versions/{version}/diff`` and ``XeClient.policy.version_diff``
(issue #14 §3): a version of an enclave not requiring approval has its diff over HTTP,
404 problem+json for unknown versions, a scoped auditor's 404 for another enclave's,
401 without a credential, and the auditor role in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from enterprise_store._errors import NotFound
from enterprise_store.client import XeClient
from enterprise_store.services import Principal, Services

AsUser = Callable[..., Awaitable[XeClient]]


async def test_a_version_diff_over_http(services: Services, app: FastAPI, as_user: AsUser) -> None:
    await services.policy.add_host(Principal.system(), name="h1", address="10.0.0.1")
    root = await as_user("root")
    await root.policy.create_enclave(name="A")
    b = await root.policy.create_enclave(name="B")
    await root.policy.assign("A", "h1")
    await root.policy.create_seclabel(name="sA", enclave="A", profile="PV-Combined")
    made = await root.policy.create_vm(
        name="vm-a", enclave="A", seclabel="sA", guest_type="pv", kernel="/k"
    )
    aud = await as_user("aud", "auditor")
    diff = await aud.policy.version_diff(made.version)
    assert diff.version == made.version and diff.recorded and diff.reason is None
    [one] = diff.diffs
    assert one.name == "A" and "+    VM vm-a" in one.diff
    with pytest.raises(NotFound):
        await aud.policy.version_diff(made.version + 1)
    scoped = await as_user("carol", "auditor", scopes=[b.item.id])
    with pytest.raises(NotFound):
        await scoped.policy.version_diff(made.version)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as raw:
        path = f"/api/v1/policy/versions/{made.version}/diff"
        assert (await raw.get(path)).status_code == 401
        token = (
            await raw.post(
                "/api/v1/auth/login",
                json={"username": "root", "password": "correct horse battery staple"},
            )
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        missing = await raw.get(f"/api/v1/policy/versions/{made.version + 5}/diff", headers=auth)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        spec = (await raw.get("/openapi.json", headers=auth)).json()
    operation = spec["paths"]["/api/v1/policy/versions/{version}/diff"]["get"]
    assert operation["x-required-role"] == "auditor"
