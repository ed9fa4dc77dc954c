"""Background workers of an XE process: ingestion of the hosts' history (and, beside it,
propagation and tasks)."""

from enterprise_store.workers._ingest import (
    STATS_TIERS,
    HostEvent,
    HostEventSource,
    IngestConfig,
    Ingester,
    IngestSnapshot,
    StatsTier,
)
from enterprise_store.workers._ingest_metrics import IngestCollector, register_ingest_metrics
from enterprise_store.workers._ingest_run import start_ingestion
from enterprise_store.workers._ingest_xps import HostEndpoint, XpsHostsSource

__all__ = [
    "STATS_TIERS",
    "HostEndpoint",
    "HostEvent",
    "HostEventSource",
    "IngestCollector",
    "IngestConfig",
    "IngestSnapshot",
    "Ingester",
    "StatsTier",
    "XpsHostsSource",
    "register_ingest_metrics",
    "start_ingestion",
]
