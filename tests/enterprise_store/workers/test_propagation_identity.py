"""A server without XE's client certificate runs no propagation worker.

Every attempt of such a worker fails before it reaches a host, yet claims the host's row
first: on a shared store it would lease hosts away from a node that can reach them,
record failures there and push their back-off towards its cap.
"""

from __future__ import annotations

from typing import Any

from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, ServiceConfig, Services
from enterprise_store.services._compute_types import ComputeConfig
from tests._support.xe_hosts import FAST, TEST_HASHER


async def test_no_identity_no_propagation_worker(db_url: str, xps_hosts: Any) -> None:
    hosts = await xps_hosts(3)
    services = await Services.open(
        db_url,
        config=ServiceConfig(hasher=TEST_HASHER),
        compute=ComputeConfig(identity=None, node_id="no-pki", propagation=FAST),
    )
    try:
        policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
        await services.policy.import_policy(Principal.system(), policy)
        services.start_workers()
        assert "propagation" not in services.workers
        assert "tasks" in services.workers
        ready = await services.readiness()
        assert "worker:propagation" not in ready
        assert all(v == "ok" for v in ready.values())
    finally:
        await services.close()


async def test_with_identity_the_worker_runs(xe_services: Any) -> None:
    services: Services = await xe_services(start=True)
    assert "propagation" in services.workers
    assert (await services.readiness())["worker:propagation"] == "ok"
