"""The ingester's counters as Prometheus metrics in an app's own registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from enterprise_store.workers._ingest import Ingester

__all__ = ["IngestCollector", "register_ingest_metrics"]


class IngestCollector(Collector):
    """Reads the ingester's snapshot at each scrape (nothing is updated on the hot path).

    Args:
        ingester: The ingester, or a callable returning the running one (None: nothing
            to report yet, e.g. an app whose services start ingestion later).
    """

    def __init__(self, ingester: Ingester | Callable[[], Ingester | None]) -> None:
        self._ingester = ingester

    def collect(self) -> Iterator[Metric]:
        """The metric families of one scrape."""
        ingester = self._ingester if isinstance(self._ingester, Ingester) else self._ingester()
        if ingester is None:
            return
        s = ingester.snapshot()
        rows = CounterMetricFamily(
            "xe_ingest_rows", "History rows stored, by table.", labels=["table"]
        )
        rows.add_metric(["violations"], s.violations)
        rows.add_metric(["stats"], s.samples)
        yield rows
        yield GaugeMetricFamily(
            "xe_ingest_rows_per_second",
            "Violation and raw statistics rows stored per second over the last 10 s.",
            value=s.rate,
        )
        yield GaugeMetricFamily(
            "xe_ingest_queue_rows", "Rows waiting for the history writer.", value=s.queue_rows
        )
        yield GaugeMetricFamily(
            "xe_ingest_queue_limit_rows", "Bound of the history queue.", value=s.queue_limit
        )
        yield CounterMetricFamily(
            "xe_ingest_dropped_rows",
            "Rows given up: malformed, statistics samples that found the queue full, "
            "batches the store refused.",
            value=s.dropped,
        )
        yield CounterMetricFamily(
            "xe_ingest_lost_violations",
            "Violations gone from a host's window before XE could fetch them.",
            value=s.lost,
        )
        yield CounterMetricFamily(
            "xe_ingest_host_restarts", "Restarts of hosts' XPS detected.", value=s.restarts
        )
        yield CounterMetricFamily("xe_ingest_batches", "History units written.", value=s.batches)
        yield GaugeMetricFamily(
            "xe_ingest_store_ok",
            "1 when the last history write succeeded, 0 while the store is unavailable.",
            value=1 if s.store_ok else 0,
        )
        dropped = ingester.source_dropped
        if dropped is not None:
            yield CounterMetricFamily(
                "xe_ingest_source_dropped_events",
                "Host events dropped by the connections' buffers (violations are fetched back).",
                value=dropped,
            )


def register_ingest_metrics(
    registry: CollectorRegistry, ingester: Ingester | Callable[[], Ingester | None]
) -> IngestCollector:
    """Adds the ingester's metrics to ``registry`` (an app's ``Metrics.registry``)."""
    collector = IngestCollector(ingester)
    registry.register(collector)
    return collector
