"""Collection pages are built from JSON remembered per policy snapshot, and the host list
reads the propagation table through a cache kept until the next commit: the page must be
exactly what the one-object read (validated models) answers, and every change — a policy
write, a propagation row written by another connection — must show in the next page."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import update

from enterprise_store.client import XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services
from enterprise_store.store._compute_schema import propagation

Client = Callable[..., Awaitable[XeClient]]
SHA = "ab" * 32


async def _hosts(xe: XeClient, **params: Any) -> list[dict[str, Any]]:
    response = await xe._request("GET", "/api/v1/hosts", params=params)
    page = response.json()
    assert page["next_cursor"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


async def _one(xe: XeClient, ref: str) -> dict[str, Any]:
    found: dict[str, Any] = (await xe._request("GET", f"/api/v1/hosts/{ref}")).json()
    return found


async def _seed(services: Services) -> list[str]:
    written = await services.policy.import_policy(Principal.system(), sample_xe_policy())
    hosts = [str(h.id) for h in (await services.policy.current()).hosts]
    rows = [
        (h, "converged", written.version, SHA, 1, written.version, SHA, SHA, SHA, 0, None,
         1_000_000, 0, False, None, None)
        for h in hosts[:-1]  # the last host has no row yet
    ]  # fmt: skip
    await services.store.insert_many(propagation, [c.name for c in propagation.columns], rows)
    return hosts


async def test_host_page_is_the_validated_models_and_follows_every_change(
    services: Services, as_user: Client
) -> None:
    hosts = await _seed(services)
    xe = await as_user("root")
    for _ in range(2):  # the second page comes from what the first one remembered
        page = await _hosts(xe)
        assert [h["id"] for h in page] == hosts
        for item in page:
            assert item == await _one(xe, item["id"])
    assert page[0]["propagation"]["state"] == "converged"
    assert page[-1]["propagation"] is None or page[-1]["propagation"]["state"] == "pending"

    selected = await _hosts(xe, fields="name,propagation")
    assert [set(h) for h in selected] == [{"name", "propagation"}] * len(hosts)
    assert selected[0]["propagation"] == page[0]["propagation"]

    # A policy write: the next page is of the new snapshot.
    await xe.policy.update_host(hosts[0], color=[1, 2, 3])
    page = await _hosts(xe)
    assert page[0]["color"] == "#010203"
    assert page[0] == await _one(xe, hosts[0])

    # A propagation row changed by another connection (another server, the worker).
    async with services.store.atomic() as conn:
        await conn.execute(
            update(propagation)
            .where(propagation.c.host_id == hosts[1])
            .values(state="retrying", attempts=3, last_error="host unreachable")
        )
    page = await _hosts(xe)
    assert page[1]["propagation"]["state"] == "retrying"
    assert page[1]["propagation"]["observed"]["attempts"] == 3
    assert page[1]["propagation"]["observed"]["last_error"] == "host unreachable"
    assert page[1] == await _one(xe, hosts[1])


async def test_scoped_pages_are_their_own_views(services: Services, as_user: Client) -> None:
    hosts = await _seed(services)
    policy = await services.policy.current()
    enclave = policy.enclaves[0]
    root = await as_user("root")
    everything = await _hosts(root)
    scoped = await as_user("alice", "operator", scopes=[str(enclave.id)])
    mine = await _hosts(scoped)
    assert {h["id"] for h in mine} == {str(h.id) for h in policy.hosts_of(enclave.id)}
    assert {h["id"] for h in mine} < set(hosts)
    for item in mine:
        assert item["enclaves"] == [str(enclave.id)]
        assert item == await _one(scoped, item["id"])
    assert await _hosts(root) == everything  # the scoped view did not leak into root's


async def test_a_hosts_state_is_rebuilt_only_when_its_row_name_or_lag_changes(
    services: Services,
) -> None:
    """The host list asks for 100 hosts' states per request: a host that is not behind gets
    the same state object back (its JSON is then found by identity), and a new name or a
    new row gives a new one; a host behind its version is rebuilt (its lag grows)."""
    hosts = await _seed(services)
    policy = await services.policy.current()
    host = policy.hosts[0]
    system = Principal.system()
    first = (await services.compute.propagation_lookup(system))(host)
    again = (await services.compute.propagation_lookup(system))(host)
    assert first is not None and first.state == "converged"
    assert again is first

    renamed = dataclasses.replace(host, name="renamed-host")
    state = (await services.compute.propagation_lookup(system))(renamed)
    assert state is not None and state.host == "renamed-host" and state is not first

    async with services.store.atomic() as conn:
        await conn.execute(
            update(propagation)
            .where(propagation.c.host_id == hosts[0])
            .values(desired_version=propagation.c.desired_version + 1, desired_since_us=1)
        )
    behind = (await services.compute.propagation_lookup(system))(host)
    assert behind is not None and behind.desired_version == first.desired_version + 1
    assert behind.lag_s > 0
    assert (await services.compute.propagation_lookup(system))(host) is not behind
