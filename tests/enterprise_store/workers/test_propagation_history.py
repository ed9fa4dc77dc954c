"""Issue #14: XE keeps each host's propagation *transitions* (drift with its reason, retry,
convergence), not only its current state — written once per transition, never per poll,
bounded per host (the oldest pruned in the same transaction), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from typing import Any

from enterprise_store.services import Principal, Services
from enterprise_store.store._compute_repo import ComputeRepo, TransitionRow
from tests._support.xe_hosts import fast
from tests._support.xe_propagation import (
    converged,
    edit_behind_xe,
    placed,
    sample_world,
    until,
)


async def _history(services: Services, host_id: str) -> list[TransitionRow]:
    """The host's transitions, oldest first."""
    async with services.store.read() as conn:
        rows = await ComputeRepo().propagation_history(conn, [host_id], limit=10_000)
    return rows[::-1]


async def _drift_and_reconverge(services: Services, hosts: list[Any]) -> None:
    propagator = services.compute.propagator
    policy = await services.policy.current()
    target = hosts[0]
    host_id = str(policy.host_named(target.name).id)
    at_head = converged(services, host_id, policy.version)
    await until(at_head)
    first = await _history(services, host_id)
    assert [(t.from_state, t.to_state) for t in first] == [("pending", "converged")]
    xe_hash = (await propagator.states())[host_id].activated_hash
    assert xe_hash is not None
    changed = await edit_behind_xe(target)

    async def drifted() -> bool:
        row = (await propagator.states())[host_id]
        return row.state == "drifted" and row.enforced_hash == changed["sha256"]

    await until(drifted)
    for _ in range(5):  # polls of a drifted host write nothing
        await propagator.reconcile_once()
    await services.compute.reconverge(Principal.system(), host_id)
    await until(at_head)
    for _ in range(3):  # nor do polls of a converged one
        await propagator.reconcile_once()
    later = (await _history(services, host_id))[len(first) :]
    assert [(t.from_state, t.to_state) for t in later] == [
        ("converged", "drifted"),
        ("drifted", "converged"),
    ]
    drift, back = later
    assert drift.reason == f"enforces {changed['sha256'][:12]}, XE activated {xe_hash[:12]}"
    assert drift.enforced_hash == changed["sha256"]
    assert drift.desired_version == drift.observed_version == policy.version
    assert back.reason is None and back.enforced_hash == xe_hash
    assert first[0].ts_us <= drift.ts_us <= back.ts_us and first[0].id < drift.id < back.id


async def test_a_drift_then_converge_writes_exactly_two_transitions_with_the_reason(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await sample_world(xe_services, xps_hosts, start=True)
    await _drift_and_reconverge(services, hosts)


async def test_a_quarantine_drift_records_the_incident_as_its_reason(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await sample_world(xe_services, xps_hosts, start=True)
    policy = await services.policy.current()
    target, host_id = placed(policy, hosts, "EA-domu-1")
    at_head = converged(services, host_id, policy.version)
    await until(at_head)
    seen = len(await _history(services, host_id))
    console = await target.console()
    inc = await console.open_incident("EA-domu-1", "alice")
    await console.incident_step(inc["id"], "quarantine", "done", "alice")
    reason = f"quarantine of VM EA-domu-1, incident {inc['id']}"

    async def explained() -> bool:
        return any(t.reason == reason for t in await _history(services, host_id))

    await until(explained)
    await console.incident_step(inc["id"], "unquarantine", "done", "alice")
    await until(at_head)
    later = (await _history(services, host_id))[seen:]
    # The event may drift it first (the hash mismatch), the next read says why.
    assert later[0].from_state == "converged" and later[-1].to_state == "converged"
    assert all(t.to_state == "drifted" for t in later[:-1])
    assert reason in [t.reason for t in later[:-1]]
    assert later[-1].from_state == "drifted"
    # Only changes: no two drift rows in a row with the same reason.
    reasons = [t.reason for t in later[:-1]]
    assert all(a != b for a, b in itertools.pairwise(reasons)), reasons


async def test_the_history_is_bounded_per_host_and_pruned_oldest_first(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await sample_world(
        xe_services, xps_hosts, propagation=fast(history_per_host=3)
    )
    propagator = services.compute.propagator
    await propagator.reconcile_once()
    policy = await services.policy.current()
    label = policy.seclabel_named("EB-seclabel")  # every host carries Enclave B
    for i in range(3):  # each new version: converged -> pending -> converged
        await services.policy.update_seclabel(
            Principal.system(), label.id, {"max_rate": label.max_rate + 1 + i}
        )
        await propagator.reconcile_once()
    for h in hosts:
        host_id = str(policy.host_named(h.name).id)
        kept = await _history(services, host_id)
        assert len(kept) == 3, kept  # 7 written
        assert [(t.from_state, t.to_state) for t in kept] == [
            ("pending", "converged"),
            ("converged", "pending"),
            ("pending", "converged"),
        ]
        head = (await services.policy.current()).version
        assert kept[-1].observed_version == head


async def test_on_postgresql_too(xe_services: Any, xps_hosts: Any, pg_url: str) -> None:
    services, hosts = await sample_world(xe_services, xps_hosts, start=True, url=pg_url)
    await _drift_and_reconverge(services, hosts)
