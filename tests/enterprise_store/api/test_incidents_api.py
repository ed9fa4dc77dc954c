"""``/api/v1/hosts/{host}/incidents``: a runbook walked through XE against real sim XPS
daemons as XE's hosts; every step is in XE's audit chain (actor, host, incident, VM,
step) and the chain verifies; XE performs the quarantine on the host; auditors and
operators of another enclave are refused (and the refusal is audited)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from enterprise_store.api import create_app
from enterprise_store.client import InvalidInput, OutOfScope, RoleRequired, XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import NewUser, Principal, Role, Services

PASSWORD = "incidents-api-password-1"
DOM = "EA-domu-1"


@pytest.fixture
async def world(
    xe_services: Callable[..., Any], xps_hosts: Callable[..., Any]
) -> AsyncIterator[tuple[Services, Any, Callable[..., Any]]]:
    hosts = await xps_hosts(3)
    services: Services = await xe_services()
    policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
    await services.policy.import_policy(Principal.system(), policy)
    await services.compute.propagator.reconcile_once()
    await services.users.bootstrap_admin("root", PASSWORD)
    enclave_b = str(policy.enclave_named("Enclave B").id)
    for name, role, scopes in (
        ("oper", Role.OPERATOR, None),
        ("aud", Role.AUDITOR, None),
        ("oper-b", Role.OPERATOR, (enclave_b,)),
    ):
        await services.users.create_user(
            Principal.system(),
            NewUser(name=name, role=role, password=PASSWORD, scopes=scopes),
        )
    runs_on = policy.host_of(policy.vm_named(DOM))
    assert runs_on is not None
    await services.compute.vm_action(Principal.system(), DOM, "start")
    host = next(h for h in hosts if h.name == runs_on.name)
    app = create_app(services)
    clients: list[XeClient] = []

    async def client(user: str) -> XeClient:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.31", 4712))
        c = XeClient("http://xe.test", transport=transport, timeout=60)
        clients.append(c)
        await c.login(user, PASSWORD)
        return c

    yield services, host, client
    for c in clients:
        await c.aclose()


async def test_a_runbook_through_xe_is_in_the_audit_chain(world: Any) -> None:
    _, host, client = world
    oper = await client("oper")
    opened = await oper.incidents.open(host.name, DOM)
    iid = opened.incident["id"]
    assert opened.host == host.name and opened.incident["opened_by"] == "oper"
    await oper.incidents.step(host.name, iid, "pause")
    q = await oper.incidents.step(host.name, iid, "quarantine")
    assert q.incident["steps"][-1]["label_after"] == "Enclave A-quarantine"
    await oper.incidents.step(host.name, iid, "fix", "skipped", "profile is right")
    await oper.incidents.step(host.name, iid, "unquarantine")
    await oper.incidents.step(host.name, iid, "verify")
    closed = await oper.incidents.step(host.name, iid, "close", note="guest patched")
    assert closed.incident["state"] == "closed"
    again = await oper.incidents.reopen(host.name, iid, "it came back")
    assert again.incident["state"] == "open"

    # The host kept the XE user as the operator of every step.
    kept = await host.host.get_incident(iid)
    assert {s["user"] for s in kept["steps"]} == {"oper"}

    root = await client("root")
    page = await root.list_audit(actor="oper", limit=50)
    mine = [r for r in reversed(page.items) if r.action.startswith("incident.")]
    assert [r.action for r in mine] == [
        "incident.open",
        "incident.step.pause",
        "incident.step.quarantine",
        "incident.step.fix",
        "incident.step.unquarantine",
        "incident.step.verify",
        "incident.step.close",
        "incident.reopen",
    ]
    for r in mine:
        assert r.result == "ok" and r.details["host"] == host.name
        assert r.details["vm"] == DOM and r.details["incident"] == iid
        assert r.enclaves  # the VM's enclave: scoped auditors see it
    quarantine = mine[2].details
    assert (quarantine["label_before"], quarantine["label_after"]) == (
        "EA-seclabel",
        "Enclave A-quarantine",
    )
    assert mine[3].details["outcome"] == "skipped" and mine[3].details["note"] == (
        "profile is right"
    )
    assert mine[6].details["note"] == "guest patched"
    verified = await root.verify_audit()
    assert verified.ok and verified.count >= len(mine)


async def test_auditors_and_other_enclaves_are_refused_and_audited(world: Any) -> None:
    _, host, client = world
    oper = await client("oper")
    iid = (await oper.incidents.open(host.name, DOM)).incident["id"]
    aud = await client("aud")
    with pytest.raises(RoleRequired):
        await aud.incidents.step(host.name, iid, "close", note="nothing to see")
    with pytest.raises(RoleRequired):
        await aud.incidents.open(host.name, "EA-domu-3")
    other = await client("oper-b")
    with pytest.raises(OutOfScope):
        await other.incidents.step(host.name, iid, "quarantine")
    with pytest.raises(InvalidInput):
        await oper.incidents.step(host.name, iid, "quarantine", "skipped")  # no reason
    kept = await host.host.get_incident(iid)
    assert [s["step"] for s in kept["steps"]] == ["capture"]
    root = await client("root")
    refused = [
        (r.actor, r.action, r.result)
        for r in (await root.list_audit(limit=50)).items
        if r.action.startswith("incident.") and r.result != "ok"
    ]
    assert ("aud", "incident.step.close", "refused:role_required") in refused
    assert ("oper-b", "incident.step.quarantine", "refused:out_of_scope") in refused
    assert (await root.verify_audit()).ok


async def test_a_vif_detach_through_xe_names_the_form_and_the_vifs_in_the_audit_chain(
    world: Any,
) -> None:
    _, host, client = world
    oper = await client("oper")
    before = (await host.host.get_policy("active"))["policy"]
    dom_id = next(d["id"] for d in before["domains"] if d["name"] == DOM)
    macs = [v["mac"] for v in before["vifs"] if v["domain"] == dom_id]
    assert macs
    iid = (await oper.incidents.open(host.name, DOM)).incident["id"]
    with pytest.raises(InvalidInput):
        await oper.incidents.step(host.name, iid, "pause", form="vifs")

    q = await oper.incidents.step(host.name, iid, "quarantine", form="vifs")

    rec = q.incident["steps"][-1]
    assert rec["form"] == "vifs" and [v["mac"] for v in rec["vifs"]] == macs
    assert q.incident["quarantine"]["form"] == "vifs"
    active = (await host.host.get_policy("active"))["policy"]
    assert not [v for v in active["vifs"] if v["domain"] == dom_id]
    back = await oper.incidents.step(host.name, iid, "unquarantine")
    assert back.incident["quarantine"] is None
    active = (await host.host.get_policy("active"))["policy"]
    assert [v["mac"] for v in active["vifs"] if v["domain"] == dom_id] == macs

    root = await client("root")
    page = await root.list_audit(actor="oper", limit=50)
    mine = [r for r in reversed(page.items) if r.action.startswith("incident.step.")]
    assert [(r.action, r.result) for r in mine] == [
        ("incident.step.pause", "refused:invalid_input"),
        ("incident.step.quarantine", "ok"),
        ("incident.step.unquarantine", "ok"),
    ]
    for r in mine[1:]:
        assert r.details["form"] == "vifs" and r.details["vm"] == DOM
        assert [v["mac"] for v in r.details["vifs"]] == macs
        assert all(v["switch_name"] and v["ip"] for v in r.details["vifs"])
    assert (await root.verify_audit()).ok
