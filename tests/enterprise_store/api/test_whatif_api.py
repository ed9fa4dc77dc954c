"""``POST /api/v1/policy/whatif`` through the real client, with real sim XPS daemons as
XE's hosts: per host, what the newest version would deny of what the host recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from enterprise_store.api import create_app
from enterprise_store.client import NotFound, XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import NewUser, Principal, Role, Services
from tests._support.xe_whatif import DOM, narrowing

PASSWORD = "whatif-api-password-1"


@pytest.fixture
async def world(
    xe_services: Callable[..., Any], xps_hosts: Callable[..., Any]
) -> AsyncIterator[tuple[Services, list[Any], Callable[..., Any]]]:
    hosts = await xps_hosts(3)
    services: Services = await xe_services()
    policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
    await services.policy.import_policy(Principal.system(), policy)
    await services.compute.propagator.reconcile_once()
    await services.users.bootstrap_admin("root", PASSWORD)
    await services.users.create_user(
        Principal.system(), NewUser(name="aud", role=Role.AUDITOR, password=PASSWORD)
    )
    enclave_b = str(policy.enclave_named("Enclave B").id)
    await services.users.create_user(
        Principal.system(),
        NewUser(name="aud-b", role=Role.AUDITOR, password=PASSWORD, scopes=(enclave_b,)),
    )
    app = create_app(services)
    clients: list[XeClient] = []

    async def client(user: str | None = "root") -> XeClient:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.30", 4711))
        c = XeClient("http://xe.test", transport=transport, timeout=60)
        clients.append(c)
        if user is not None:
            await c.login(user, PASSWORD)
        return c

    yield services, hosts, client
    for c in clients:
        await c.aclose()


async def test_an_auditor_sees_the_denial_on_the_host_that_runs_the_vm(world: Any) -> None:
    services, hosts, client = world
    system = Principal.system()
    aud = await client("aud")
    same = await aud.policy.whatif()
    assert [h.state for h in same.hosts] == ["unchanged"] * 3 and not same.denies_allowed

    n = await narrowing(services, hosts)
    runs_on, narrower = n.host, n.profile
    await services.policy.update_seclabel(system, n.label.id, {"profile": narrower})
    head = (await services.policy.current()).version

    out = await aud.policy.whatif(minutes=10)

    assert out.version == head and out.minutes == 10
    assert out.denies_allowed and out.unanswered == []
    there = next(h for h in out.hosts if h.host == runs_on.name)
    assert there.state == "answered" and there.denies_allowed and there.result is not None
    texts = [r["text"] for r in there.result["denied_calls"] if r["domain"] == DOM]
    assert texts and texts[0].endswith(f"the staged {narrower} profile denies them")
    assert (await aud.policy.whatif(version=head)).version == head

    # An auditor of Enclave B alone gets no rows about Enclave A's VM.
    scoped = await (await client("aud-b")).policy.whatif()
    assert not scoped.denies_allowed
    assert next(h for h in scoped.hosts if h.host == runs_on.name).state == "answered"
    for h in scoped.hosts:
        result = h.result or {}
        rows = [r for key in ("denied_calls", "domains", "fixed") for r in result.get(key, [])]
        assert all(not r["domain"].startswith("EA-") for r in rows), h

    with pytest.raises(NotFound):
        await aud.policy.whatif(version=head - 1)
    root = await client()
    bad = await root._http.post(
        "/api/v1/policy/whatif",
        json={"minutes": 0},
        headers={"Authorization": f"Bearer {root.token}"},
    )
    assert bad.status_code == 422
    anonymous = await client(None)
    refused = await anonymous._http.post("/api/v1/policy/whatif", json={})
    assert refused.status_code == 401


async def test_the_what_if_of_a_version_waiting_for_approval(world: Any) -> None:
    """An approver asks the what-if of the waiting version itself (issue #14 §4: the diff
    and the what-if), also after a newer version changed another enclave: the answer is
    the head's (which holds the waiting change) and says which version was asked for. A
    version with nothing waiting is still a 404, as is one an auditor scoped elsewhere
    cannot see. The read is not audited."""
    services, hosts, client = world
    system = Principal.system()
    policy = await services.policy.current()
    n = await narrowing(services, hosts)
    runs_on, narrower = n.host, n.profile
    await services.policy.set_requires_approval(system, n.vm.enclave, True)
    await services.policy.update_seclabel(system, n.label.id, {"profile": narrower})
    waiting_version = (await services.policy.current()).version
    other = policy.vm_named("EB-domu-1")  # Enclave B does not require approval
    bigger = {"memory_mb": other.memory_mb + 128, "maxmem_mb": other.maxmem_mb + 128}
    await services.policy.update_vm(system, other.id, bigger)
    head = (await services.policy.current()).version
    assert head == waiting_version + 1

    aud = await client("aud")
    before = len((await aud.list_audit(limit=500)).items)
    out = await aud.policy.whatif(version=waiting_version)
    assert (out.version, out.requested_version) == (head, waiting_version)
    there = next(h for h in out.hosts if h.host == runs_on.name)
    assert there.denies_allowed and out.denies_allowed
    assert (await aud.policy.whatif()).requested_version is None
    assert len((await aud.list_audit(limit=500)).items) == before  # reads are not audited

    with pytest.raises(NotFound, match="waits for approval"):
        await aud.policy.whatif(version=waiting_version - 1)  # nothing of it waits
    with pytest.raises(NotFound):
        await (await client("aud-b")).policy.whatif(version=waiting_version)  # Enclave A's
