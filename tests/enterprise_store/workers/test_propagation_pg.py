"""Two XE servers on one PostgreSQL database never propagate one version to a host twice."""

from __future__ import annotations

import asyncio
from typing import Any

from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services


async def test_two_servers_split_the_hosts_and_each_version_is_activated_once(
    xe_services: Any, xps_hosts: Any, pg_url: str
) -> None:
    # Staging is slow on every host, so the two servers' passes overlap.
    hosts = await xps_hosts(3, stage_delay_s=0.3)
    a: Services = await xe_services(node_id="server-a", url=pg_url)
    b: Services = await xe_services(node_id="server-b", url=pg_url)
    policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
    await a.policy.import_policy(Principal.system(), policy)
    generations = {h.name: (await h.host.get_policy())["generation"] for h in hosts}
    activations: dict[str, int] = {h.name: 0 for h in hosts}
    for round_ in range(3):
        if round_:
            current = await a.policy.current()
            label = current.seclabel_named("EB-seclabel")  # every host carries Enclave B
            await b.policy.update_seclabel(
                Principal.system(), label.id, {"max_rate": label.max_rate + 1}
            )
        head = (await a.policy.current()).version
        reports = await asyncio.gather(
            a.compute.propagator.reconcile_once(), b.compute.propagator.reconcile_once()
        )
        # Whatever one server claimed, the other did not: no host twice in one round.
        claimed = [set(r.activated) | set(r.unchanged) | set(r.failed) for r in reports]
        assert not claimed[0] & claimed[1]
        # Both passes together leave every host at the head (a second pass picks up any
        # host the first found claimed by the other server).
        for _ in range(20):
            rows = await a.compute.propagator.states()
            if all(r.observed_version == head for r in rows.values()):
                break
            await asyncio.gather(
                a.compute.propagator.reconcile_once(), b.compute.propagator.reconcile_once()
            )
        rows = await b.compute.propagator.states()
        assert all(r.observed_version == head and r.state == "converged" for r in rows.values())
        for h in hosts:
            activations[h.name] += 1
    after = {h.name: (await h.host.get_policy())["generation"] for h in hosts}
    assert {n: after[n] - generations[n] for n in after} == activations
