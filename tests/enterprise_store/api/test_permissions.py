"""Table-driven: every mutating endpoint refuses every role below it and every scope outside it.

Each row names one mutating operation, the role it needs, and how a request for it is
built against a fixed world: ``root`` (unscoped admin); ``target`` (operator of enclave B)
with an SSH key and an API token; callers at every role, unscoped, and an admin of enclave
A. For each role below the required one the API must answer 403 ``role_required`` (or 401
with no credential); for the admin of A acting on B, 404 (scope hides) or 403
``out_of_scope`` (placing something in B). After every refusal the world is unchanged and
the refusal is in the audit log. A catalogue test proves the table covers every mutating
route the app has.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from enterprise_store.audit import AuditQuery
from enterprise_store.services import Principal, Services

ENCLAVE_A = str(uuid.UUID(int=0xA))
ENCLAVE_B = str(uuid.UUID(int=0xB))
# The policy world: hosts H1 (A and B) and H2 (B); B's SecLabel, VM, DHCP server; a set of A, B.
HOST_1 = str(uuid.UUID(int=0x101))
HOST_2 = str(uuid.UUID(int=0x102))
LABEL_B = str(uuid.UUID(int=0x201))
VM_B = str(uuid.UUID(int=0x301))
CONFLICT_AB = str(uuid.UUID(int=0x401))
DHCP_B = str(uuid.UUID(int=0x501))
LADDER = ("auditor", "operator", "admin")


@dataclass(frozen=True)
class World:
    """Ids the rows need."""

    key_id: str
    token_id: str
    public_key: str


@dataclass(frozen=True)
class Row:
    """One mutating operation."""

    method: str
    route: str  # the route template, as the app declares it
    role: str  # required: auditor | operator | admin | any | self | service
    path: Callable[[World], str]
    body: Callable[[World], Any] | None = None
    # what the admin of enclave A gets for the out-of-scope variant (None: no variant)
    scoped: tuple[int, str] | None = None


TABLE: tuple[Row, ...] = (
    Row("POST", "/api/v1/users", "admin", lambda w: "/api/v1/users",
        lambda w: {"name": "newcomer", "role": "auditor", "scopes": [ENCLAVE_B]},
        scoped=(403, "out_of_scope")),
    Row("PATCH", "/api/v1/users/{name}", "admin", lambda w: "/api/v1/users/target",
        lambda w: {"enabled": False}, scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/users/{name}", "admin", lambda w: "/api/v1/users/target",
        scoped=(404, "not_found")),
    Row("POST", "/api/v1/users/{name}/password-reset", "admin",
        lambda w: "/api/v1/users/target/password-reset", lambda w: {},
        scoped=(404, "not_found")),
    Row("POST", "/api/v1/users/{name}/ssh-keys", "admin",
        lambda w: "/api/v1/users/target/ssh-keys",
        lambda w: {"public_key": _fresh_key()}, scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/users/{name}/ssh-keys/{key_id}", "admin",
        lambda w: f"/api/v1/users/target/ssh-keys/{w.key_id}", scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/tokens/{token_id}", "admin",
        lambda w: f"/api/v1/tokens/{w.token_id}", scoped=(404, "not_found")),
    Row("POST", "/api/v1/tokens", "admin", lambda w: "/api/v1/tokens",
        lambda w: {"name": "console", "kind": "service"}, scoped=(403, "role_required")),
    Row("POST", "/api/v1/users/{name}/password", "self",
        lambda w: "/api/v1/users/target/password",
        lambda w: {"old_password": "target-password-1", "new_password": "another-password-1"},
        scoped=(404, "not_found")),
    Row("POST", "/api/v1/auth/service-sessions", "service",
        lambda w: "/api/v1/auth/service-sessions",
        lambda w: {"username": "target", "public_key": w.public_key}),
    Row("POST", "/api/v1/auth/logout", "any", lambda w: "/api/v1/auth/logout"),
    # -- the policy: operators of the object's enclaves; hosts enterprise-wide --
    Row("POST", "/api/v1/enclaves", "operator", lambda w: "/api/v1/enclaves",
        lambda w: {"name": "Enclave N"}, scoped=(403, "out_of_scope")),
    Row("PATCH", "/api/v1/enclaves/{ref}", "operator", lambda w: f"/api/v1/enclaves/{ENCLAVE_B}",
        lambda w: {"color": "#010203"}, scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/enclaves/{ref}", "operator",
        lambda w: f"/api/v1/enclaves/{ENCLAVE_B}", scoped=(404, "not_found")),
    Row("PUT", "/api/v1/enclaves/{ref}/hosts/{host}", "operator",
        lambda w: f"/api/v1/enclaves/{ENCLAVE_B}/hosts/{HOST_1}", scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/enclaves/{ref}/hosts/{host}", "operator",
        lambda w: f"/api/v1/enclaves/{ENCLAVE_B}/hosts/{HOST_2}", scoped=(404, "not_found")),
    Row("PATCH", "/api/v1/hosts/{ref}", "operator", lambda w: f"/api/v1/hosts/{HOST_2}",
        lambda w: {"color": "#010203"}, scoped=(403, "out_of_scope")),
    Row("PUT", "/api/v1/host-order", "operator", lambda w: "/api/v1/host-order",
        lambda w: {"hosts": [HOST_2, HOST_1]}, scoped=(403, "out_of_scope")),
    Row("POST", "/api/v1/seclabels", "operator", lambda w: "/api/v1/seclabels",
        lambda w: {"name": "sN", "enclave": ENCLAVE_B, "profile": "PV-Combined"},
        scoped=(403, "out_of_scope")),
    Row("PATCH", "/api/v1/seclabels/{ref}", "operator", lambda w: f"/api/v1/seclabels/{LABEL_B}",
        lambda w: {"max_rate": 7}, scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/seclabels/{ref}", "operator",
        lambda w: f"/api/v1/seclabels/{LABEL_B}", scoped=(404, "not_found")),
    Row("POST", "/api/v1/vms", "operator", lambda w: "/api/v1/vms",
        lambda w: {"name": "vN", "enclave": ENCLAVE_B, "seclabel": LABEL_B,
                   "guest_type": "pv", "kernel": "/boot/vmlinuz"},
        scoped=(403, "out_of_scope")),
    Row("PATCH", "/api/v1/vms/{ref}", "operator", lambda w: f"/api/v1/vms/{VM_B}",
        lambda w: {"run": False}, scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/vms/{ref}", "operator", lambda w: f"/api/v1/vms/{VM_B}",
        scoped=(404, "not_found")),
    Row("PUT", "/api/v1/vms/{ref}/network", "operator", lambda w: f"/api/v1/vms/{VM_B}/network",
        lambda w: {"allow_network": False}, scoped=(404, "not_found")),
    Row("PUT", "/api/v1/vms/{ref}/extra", "operator", lambda w: f"/api/v1/vms/{VM_B}/extra",
        lambda w: {"extra": [["max_grant_frames", "64"]]}, scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/vms/{ref}/extra", "operator",
        lambda w: f"/api/v1/vms/{VM_B}/extra", scoped=(404, "not_found")),
    Row("PUT", "/api/v1/vms/{ref}/vifs", "operator", lambda w: f"/api/v1/vms/{VM_B}/vifs",
        lambda w: {"vifs": []}, scoped=(404, "not_found")),
    Row("PUT", "/api/v1/vms/{ref}/disks", "operator", lambda w: f"/api/v1/vms/{VM_B}/disks",
        lambda w: {"disks": []}, scoped=(404, "not_found")),
    Row("POST", "/api/v1/conflict-sets", "operator", lambda w: "/api/v1/conflict-sets",
        lambda w: {"name": "cN", "level": "no-coresidence", "enclaves": [ENCLAVE_A, ENCLAVE_B]},
        scoped=(403, "out_of_scope")),
    Row("PATCH", "/api/v1/conflict-sets/{ref}", "operator",
        lambda w: f"/api/v1/conflict-sets/{CONFLICT_AB}", lambda w: {"name": "renamed"},
        scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/conflict-sets/{ref}", "operator",
        lambda w: f"/api/v1/conflict-sets/{CONFLICT_AB}", scoped=(404, "not_found")),
    Row("POST", "/api/v1/dhcp-servers", "operator", lambda w: "/api/v1/dhcp-servers",
        lambda w: {"name": "dN", "enclave": ENCLAVE_B, "interface": "eth9"},
        scoped=(403, "out_of_scope")),
    Row("PATCH", "/api/v1/dhcp-servers/{ref}", "operator",
        lambda w: f"/api/v1/dhcp-servers/{DHCP_B}", lambda w: {"interface": "eth8"},
        scoped=(404, "not_found")),
    Row("DELETE", "/api/v1/dhcp-servers/{ref}", "operator",
        lambda w: f"/api/v1/dhcp-servers/{DHCP_B}", scoped=(404, "not_found")),
    # -- compute: hosts through XPS (enterprise-wide), VMs of an enclave, tasks --
    Row("POST", "/api/v1/hosts/actions/add", "admin", lambda w: "/api/v1/hosts/actions/add",
        lambda w: {"name": "h9", "address": "10.0.0.9"}, scoped=(403, "out_of_scope")),
    Row("POST", "/api/v1/hosts/{ref}/actions/remove", "admin",
        lambda w: f"/api/v1/hosts/{HOST_2}/actions/remove", scoped=(403, "out_of_scope")),
    Row("POST", "/api/v1/hosts/{ref}/propagation/reconverge", "admin",
        lambda w: f"/api/v1/hosts/{HOST_2}/propagation/reconverge",
        scoped=(403, "out_of_scope")),
    Row("POST", "/api/v1/propagation", "operator", lambda w: "/api/v1/propagation",
        scoped=(403, "out_of_scope")),
    Row("POST", "/api/v1/vms/{ref}/actions/{action}", "operator",
        lambda w: f"/api/v1/vms/{VM_B}/actions/start", scoped=(404, "not_found")),
    Row("POST", "/api/v1/vms/{ref}/actions/migrate", "operator",
        lambda w: f"/api/v1/vms/{VM_B}/actions/migrate", lambda w: {"to": HOST_2},
        scoped=(404, "not_found")),
    Row("POST", "/api/v1/tasks/{task_id}/cancel", "operator",
        lambda w: f"/api/v1/tasks/{uuid.UUID(int=0x601)}/cancel", scoped=(404, "not_found")),
    # -- host incidents through XE (audited); steps name an incident only the host knows --
    Row("POST", "/api/v1/hosts/{ref}/incidents", "operator",
        lambda w: f"/api/v1/hosts/{HOST_1}/incidents", lambda w: {"domain": "vB"},
        scoped=(403, "out_of_scope")),
    Row("POST", "/api/v1/hosts/{ref}/incidents/{incident}/steps", "operator",
        lambda w: f"/api/v1/hosts/{HOST_1}/incidents/INC-1/steps", lambda w: {"step": "pause"}),
    Row("POST", "/api/v1/hosts/{ref}/incidents/{incident}/reopen", "operator",
        lambda w: f"/api/v1/hosts/{HOST_1}/incidents/INC-1/reopen", lambda w: {"note": "why"}),
    # -- two-person activation: admins other than the version's authors --
    Row("POST", "/api/v1/policy/approvals/{version}/approve", "admin",
        lambda w: "/api/v1/policy/approvals/3/approve", lambda w: {"note": "ok"}),
    Row("POST", "/api/v1/policy/approvals/{version}/reject", "admin",
        lambda w: "/api/v1/policy/approvals/3/reject", lambda w: {"note": "no"}),
    # A POST that changes nothing (the what-if asks the hosts): an auditor may.
    Row("POST", "/api/v1/policy/whatif", "auditor", lambda w: "/api/v1/policy/whatif",
        lambda w: {}),
)  # fmt: skip
# Not in the table: POST /api/v1/auth/login is the one mutating call with no credential.
PUBLIC = {("POST", "/api/v1/auth/login")}


def _fresh_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _below(role: str) -> list[str]:
    """Caller roles that must be refused, ``none`` (no credential) included."""
    if role == "service":
        return ["none", *LADDER]
    if role in ("any", "self"):
        return ["none"]
    return ["none", *LADDER[: LADDER.index(role)]]


async def _world(
    app: FastAPI, services: Services, admin_password: str
) -> tuple[World, dict[str, str]]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:

        async def login(name: str, password: str) -> str:
            answer = await c.post(
                "/api/v1/auth/login", json={"username": name, "password": password}
            )
            assert answer.status_code == 200, answer.text
            return str(answer.json()["token"])

        root = {"Authorization": f"Bearer {await login('root', admin_password)}"}
        users = {
            "target": ("operator", [ENCLAVE_B]),
            "c_auditor": ("auditor", None),
            "c_operator": ("operator", None),
            "c_admin_a": ("admin", [ENCLAVE_A]),
        }
        tokens = {}
        for name, (role, scopes) in users.items():
            answer = await c.post(
                "/api/v1/users",
                headers=root,
                json={
                    "name": name,
                    "role": role,
                    "scopes": scopes,
                    "password": f"{name}-password-1",
                },
            )
            assert answer.status_code == 201, answer.text
            tokens[name] = await login(name, f"{name}-password-1")
        target = {"Authorization": f"Bearer {tokens['target']}"}
        public_key = _fresh_key()
        key = await c.post(
            "/api/v1/users/target/ssh-keys", headers=target, json={"public_key": public_key}
        )
        api = await c.post("/api/v1/tokens", headers=target, json={"name": "automation"})
        assert key.status_code == 201 and api.status_code == 201
        callers = {
            "auditor": tokens["c_auditor"],
            "operator": tokens["c_operator"],
            "admin": await login("root", admin_password),
            "admin_a": tokens["c_admin_a"],
        }
        world = World(key_id=key.json()["id"], token_id=api.json()["info"]["id"],
                      public_key=public_key)  # fmt: skip
        await _policy_world(c, root, services)
        return world, callers


async def _policy_world(c: httpx.AsyncClient, root: dict[str, str], services: Services) -> None:
    """Hosts H1 (A, B) and H2 (B); B's SecLabel, VM and DHCP server; a set of A and B."""
    # Hosts join through Compute, which reads their XPS (none here): its Policy step.
    await services.policy.add_host(Principal.system(), id=HOST_1, name="h1", address="10.0.0.1")
    await services.policy.add_host(Principal.system(), id=HOST_2, name="h2", address="10.0.0.2")
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/api/v1/enclaves", {"id": ENCLAVE_A, "name": "Enclave A"}),
        ("POST", "/api/v1/enclaves", {"id": ENCLAVE_B, "name": "Enclave B"}),
        ("PUT", f"/api/v1/enclaves/{ENCLAVE_A}/hosts/{HOST_1}", None),
        ("PUT", f"/api/v1/enclaves/{ENCLAVE_B}/hosts/{HOST_1}", None),
        ("PUT", f"/api/v1/enclaves/{ENCLAVE_B}/hosts/{HOST_2}", None),
        ("POST", "/api/v1/seclabels",
         {"id": LABEL_B, "name": "sB", "enclave": ENCLAVE_B, "profile": "PV-Combined"}),
        ("POST", "/api/v1/vms", {"id": VM_B, "name": "vB", "enclave": ENCLAVE_B,
                                 "seclabel": LABEL_B, "guest_type": "pv", "kernel": "/k",
                                 "host": HOST_2}),
        ("POST", "/api/v1/conflict-sets", {"id": CONFLICT_AB, "name": "cAB",
                                           "level": "no-communication",
                                           "enclaves": [ENCLAVE_A, ENCLAVE_B]}),
        ("POST", "/api/v1/dhcp-servers",
         {"id": DHCP_B, "name": "dB", "enclave": ENCLAVE_B, "interface": "eth3"}),
    ]  # fmt: skip
    for method, path, body in calls:
        answer = await c.request(method, path, headers=root, json=body)
        assert answer.status_code in (200, 201), answer.text


async def _snapshot(app: FastAPI, admin_password: str) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        token = (
            await c.post(
                "/api/v1/auth/login", json={"username": "root", "password": admin_password}
            )
        ).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        users = (
            await c.get("/api/v1/users", headers=h, params={"fields": "name,role,enabled,scopes"})
        ).json()
        keys = (await c.get("/api/v1/users/target/ssh-keys", headers=h)).json()
        toks = (
            await c.get("/api/v1/tokens", headers=h, params={"user": "*", "kind": "api"})
        ).json()
        policy = (await c.get("/api/v1/policy", headers=h, params={"format": "json"})).json()
        return (
            users["items"],
            [k["id"] for k in keys["items"]],
            [t["id"] for t in toks["items"]],
            policy,
        )


@pytest.mark.parametrize("row", TABLE, ids=lambda r: f"{r.method} {r.route}")
async def test_each_mutating_endpoint_refuses_roles_below_and_scopes_outside(
    row: Row, app: FastAPI, services: Services, admin_password: str
) -> None:
    world, callers = await _world(app, services, admin_password)
    before = await _snapshot(app, admin_password)
    cases: list[tuple[str, int, str]] = [
        (caller, 401 if caller == "none" else 403,
         "unauthenticated" if caller == "none" else "role_required")
        for caller in _below(row.role)
    ]  # fmt: skip
    if row.role == "self":  # somebody else, whatever their role, is refused
        cases += [("admin", 403, "forbidden"), ("operator", 403, "forbidden")]
    if row.scoped is not None:
        cases.append(("admin_a", *row.scoped))
    assert cases, "a row must refuse someone"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.1", 1)), base_url="http://t"
    ) as c:
        for caller, status, code in cases:
            headers = {} if caller == "none" else {"Authorization": f"Bearer {callers[caller]}"}
            body = None if row.body is None else row.body(world)
            answer = await c.request(row.method, row.path(world), headers=headers, json=body)
            assert (answer.status_code, answer.json().get("code")) == (status, code), (
                caller,
                answer.text,
            )
    assert await _snapshot(app, admin_password) == before
    records, _ = await services.audit_log.list(AuditQuery(result="refused", limit=1000))
    refused = [r for r in records if r.source == "198.51.100.1"]
    authenticated = [c for c in cases if c[0] != "none"]
    assert len(refused) == len(authenticated)


def test_the_table_covers_every_mutating_route(services: Services) -> None:
    from enterprise_store.api import create_app

    paths = create_app(services).openapi()["paths"]
    mutating = {
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert len(mutating) >= 36
    covered = {(row.method, row.route) for row in TABLE}
    assert mutating - PUBLIC == covered
