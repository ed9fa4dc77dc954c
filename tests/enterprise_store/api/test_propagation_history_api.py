"""``GET /api/v1/propagation/history`` through the real client over real XPS hosts: each
host's transitions newest first, paged by cursor, narrowed by host and time, scoped by
the caller's enclaves like the propagation state; bad input is refused."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from enterprise_store.client import NotFound
from enterprise_store.services import NewUser, Principal, Role, Services
from tests._support.xe_api import PASSWORD, import_sample, world

__all__ = ["world"]  # the fixture (tests/_support/xe_api.py)

ROUTE = "/api/v1/propagation/history"


async def _at_head(services: Services) -> None:
    """Waits (liveness bound only) until every host is converged at the head (its
    transitions are written in the same transaction as its state)."""
    propagator = services.compute.propagator
    head = (await services.policy.current()).version
    async with asyncio.timeout(60):
        while True:
            rows = (await propagator.states()).values()
            if len(rows) == 3 and all(
                (r.state, r.observed_version) == ("converged", head) for r in rows
            ):
                return
            await propagator.wait_changed(0.2)


async def _two_versions(services: Services) -> None:
    """Version 1 everywhere, then version 2 everywhere (the workers run): 3 transitions a
    host."""
    await _at_head(services)
    policy = await services.policy.current()
    label = policy.seclabel_named("EB-seclabel")  # every host carries Enclave B
    await services.policy.update_seclabel(
        Principal.system(), label.id, {"max_rate": label.max_rate + 1}
    )
    services.compute.propagator.poke()
    await _at_head(services)


async def test_history_pages_narrows_and_is_scoped(world: Any, xps_hosts: Any) -> None:
    services, client = world
    hosts = await xps_hosts(3)
    await import_sample(services, hosts)
    await _two_versions(services)
    aud = await client("aud")
    whole = await aud.compute.propagation_history(limit=1000)
    assert whole.next_cursor is None
    ids = [t.id for t in whole.items]
    assert ids == sorted(ids, reverse=True)  # newest first
    head = (await services.policy.current()).version
    for name in ("xenon-1", "xenon-2", "xenon-3"):
        mine = [(t.from_state, t.to_state) for t in whole.items if t.host == name][::-1]
        assert mine == [
            ("pending", "converged"),
            ("converged", "pending"),
            ("pending", "converged"),
        ]
    assert all(t.observed_version == head for t in whole.items[:3])
    # Paging: two at a time gives the same rows.
    paged, cursor = [], None
    while True:
        page = await aud.compute.propagation_history(limit=2, cursor=cursor)
        assert len(page.items) <= 2
        paged += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [t.id for t in paged] == ids
    # One host (by name or UUID), and since.
    one = await aud.compute.propagation_history(host="xenon-2")
    host_id = str((await services.policy.current()).host_named("xenon-2").id)
    assert {t.host_id for t in one.items} == {host_id} and len(one.items) == 3
    by_id = await aud.compute.propagation_history(host=host_id)
    assert [t.id for t in by_id.items] == [t.id for t in one.items]
    cut = whole.items[len(whole.items) // 2]
    since = await aud.compute.propagation_history(since=cut.at, limit=1000)
    assert since.items and all(t.ts_us >= cut.ts_us for t in since.items)
    later = await aud.compute.propagation_history(
        since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    assert later.items == []
    # Scoped: an auditor of Enclave A sees the hosts carrying it, only.
    policy = await services.policy.current()
    enclave = policy.enclave_named("Enclave A")
    carrying = {h.name for h in policy.hosts if enclave.id in policy.enclave_ids_of(h.id)}
    assert carrying and carrying != {"xenon-1", "xenon-2", "xenon-3"}
    await services.users.create_user(
        Principal.system(),
        NewUser(name="auda", role=Role.AUDITOR, scopes=(str(enclave.id),), password=PASSWORD),
    )
    scoped = await client("auda")
    seen = await scoped.compute.propagation_history(limit=1000)
    assert {t.host for t in seen.items} == carrying
    outside = next(n for n in ("xenon-1", "xenon-2", "xenon-3") if n not in carrying)
    try:
        await scoped.compute.propagation_history(host=outside)
    except NotFound:
        pass
    else:  # pragma: no cover - the assertion names the failure
        raise AssertionError(f"a scoped auditor read {outside}'s history")


async def test_bad_input_is_refused(world: Any, xps_hosts: Any) -> None:
    services, client = world
    await import_sample(services, await xps_hosts(3))
    aud = await client("aud")
    http = aud._http
    auth = {"Authorization": f"Bearer {aud.token}"}
    for params, status in (
        ({"limit": "0"}, 422),
        ({"limit": "1001"}, 422),
        ({"limit": "many"}, 422),
        ({"since": "yesterday"}, 422),
        ({"host": ""}, 422),
        ({"host": "x" * 256}, 422),
        ({"cursor": "not-a-cursor"}, 422),
        ({"cursor": "eyJrIjoiLTEifQ"}, 422),  # {"k":"-1"}: a cursor, not this route's
        ({"host": "no-such-host"}, 404),
    ):
        response = await http.get(ROUTE, params=params, headers=auth)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    anonymous = await http.get(ROUTE)
    assert anonymous.status_code == 401
    doc = (await http.get("/openapi.json")).json()
    op = doc["paths"][ROUTE]["get"]
    assert op["x-required-role"] == "auditor"
    assert {p["name"] for p in op["parameters"]} == {"host", "since", "limit", "cursor"}
