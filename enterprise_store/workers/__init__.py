"""Background workers of an XE process: ingestion of the hosts' history, propagation of
each host's slice, XE's connections to its hosts, and long-running tasks."""

from enterprise_store.workers._hosts import HostLink, HostPool, XeIdentity, host_error
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
from enterprise_store.workers._propagation import (
    PassReport,
    PolicySource,
    PropagationConfig,
    Propagator,
    SliceSigner,
    backoff_s,
)
from enterprise_store.workers._slices import Made, SliceMaker
from enterprise_store.workers._tasks import TaskContext, TaskHandler, TaskRunner, error_of

__all__ = [
    "STATS_TIERS",
    "HostEndpoint",
    "HostEvent",
    "HostEventSource",
    "HostLink",
    "HostPool",
    "IngestCollector",
    "IngestConfig",
    "IngestSnapshot",
    "Ingester",
    "Made",
    "PassReport",
    "PolicySource",
    "PropagationConfig",
    "Propagator",
    "SliceMaker",
    "SliceSigner",
    "StatsTier",
    "TaskContext",
    "TaskHandler",
    "TaskRunner",
    "XeIdentity",
    "XpsHostsSource",
    "backoff_s",
    "error_of",
    "host_error",
    "register_ingest_metrics",
    "start_ingestion",
]
