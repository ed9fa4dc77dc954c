"""Ingestion as a worker of an XE process: XE's own connection to every host it manages.

The hosts table is followed (hosts added or removed, addresses changed) every few
seconds; ingestion keeps its own connection per host beside the compute pool's, so a
flood of violations never queues in front of a control call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import TYPE_CHECKING

from enterprise_store._errors import StoreUnavailable
from enterprise_store.store._history_repo import HistoryRepo
from enterprise_store.workers._ingest import IngestConfig, Ingester
from enterprise_store.workers._ingest_xps import HostEndpoint, XpsHostsSource

if TYPE_CHECKING:  # the services may import workers: no cycle at run time
    from enterprise_store.services import Services

__all__ = ["start_ingestion"]

log = logging.getLogger("enterprise_store.ingest")


async def _follow_hosts(repo: HistoryRepo, source: XpsHostsSource, every_s: float) -> None:
    while True:
        try:
            rows = await repo.host_addresses()
        except StoreUnavailable as exc:
            log.warning("ingest: hosts not re-read: %s", exc.message)
        else:
            source.set_hosts(HostEndpoint(host, address, port) for host, address, port in rows)
        await asyncio.sleep(every_s)


def start_ingestion(
    services: Services,
    ssl_context: ssl.SSLContext,
    *,
    config: IngestConfig | None = None,
    hosts_every_s: float = 5.0,
) -> Ingester:
    """Starts ingesting every managed host's violations and statistics.

    The worker is ``services.workers["ingest"]`` (``/readyz`` reports it, closing the
    services stops it) and the ingester ``services.ingester`` (``/metrics`` reads it).

    Args:
        services: The process's services.
        ssl_context: XE's client TLS context for the hosts' XPS.
        config: Ingestion tunables.
        hosts_every_s: How often the hosts table is re-read.
    """
    source = XpsHostsSource([], ssl_context)
    if config is None:
        # Per-host leases under this server's node id: a second server on the database
        # ingests the other hosts, not the same ones twice.
        config = IngestConfig(node_id=services.compute.config.node_id)
    ingester = Ingester(services.store, source, config=config)

    async def run() -> None:
        async with source:
            follower = asyncio.create_task(
                _follow_hosts(ingester.repo, source, hosts_every_s), name="xe-ingest-hosts"
            )
            try:
                await ingester.run()
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower

    services.workers["ingest"] = asyncio.create_task(run(), name="xe-ingest")
    services.ingester = ingester
    return ingester
