"""History tables: every host's violations and statistics, and each host's ingestion cursor.

Rows are facts as the host reported them, plus the XE objects they were attributed to
when they were ingested (``vm_id``, ``enclave_id``): a scoped reader filters on the
enclave a violation belonged to *then*, and a VM deleted later does not rewrite its past.
No foreign keys: history outlives the hosts and VMs it names (an auditor still reads the
violations of a removed host), and a host's removal must not cascade into a delete of
millions of rows in one transaction; retention pruning removes rows in small batches.

Violations are numbered by their host: ``seq`` counts from 1 in each run of the host's
XPS (its window is in memory), so the key is ``(host_id, epoch, seq)`` where ``epoch``
counts the runs XE has seen; ``history_cursors`` holds the newest stored record per host,
written in the same transaction as the rows, which is what a restarted ingester resumes
from.

Statistics are kept in tiers like XPS's own history (``xps/host/_stats.py``): tier 0 is
every sample, tiers 1 and 2 are buckets holding sums and a sample count (the mean is
``sum / n``), so a sample is added to a bucket with one upsert and never re-read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table

from enterprise_store.store._schema import metadata

__all__ = [
    "HISTORY_TABLES",
    "STATS_TIERS",
    "StatsTier",
    "history_cursors",
    "history_stats",
    "history_violations",
]


@dataclass(frozen=True, slots=True)
class StatsTier:
    """A statistics resolution: samples as they come (``step_s`` 0) or means over
    ``step_s`` buckets, kept for ``keep_s``."""

    step_s: int
    keep_s: int


STATS_TIERS = (StatsTier(0, 600), StatsTier(60, 7200), StatsTier(3600, 7 * 86400))
"""What ``history_stats.tier`` numbers: XPS's own tiers (``xps/host/_stats.py``: 5 s samples
for 10 min, 1 min for 2 h, 1 h for a week), the first at whatever interval the host
samples, so the console draws the same ranges from a host and from XE."""

_NAME = 255

history_violations = Table(
    "history_violations",
    metadata,
    Column("host_id", String(36), primary_key=True),
    Column("epoch", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("domid", Integer, nullable=False),
    Column("domain", String(_NAME), nullable=False),
    Column("vm_id", String(36), nullable=True),
    Column("enclave_id", String(36), nullable=True),
    Column("seclabel_id", String(36), nullable=True),
    Column("seclabel_name", String(_NAME), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("hypercall", Integer, nullable=False),
    Column("subop", Integer, nullable=False),
    Column("peer", Integer, nullable=True),
    Column("count", BigInteger, nullable=False),
    # Range scans (queries, pruning) and a scoped reader's enclaves; every other filter
    # narrows one of these.
    Index("ix_history_violations_ts_us", "ts_us"),
    Index("ix_history_violations_enclave_id_ts_us", "enclave_id", "ts_us"),
)

history_stats = Table(
    "history_stats",
    metadata,
    Column("host_id", String(36), primary_key=True),
    Column("tier", Integer, primary_key=True, autoincrement=False),
    # The domain's name on the host; "" is the whole host (a domain name is never empty).
    Column("domain", String(_NAME), primary_key=True),
    Column("ts_us", BigInteger, primary_key=True, autoincrement=False),
    Column("n", Integer, nullable=False),
    Column("cpu_pct_sum", Float, nullable=False),
    Column("mem_kb_sum", Float, nullable=False),
    Column("vcpus_sum", Float, nullable=False),
    Column("vm_id", String(36), nullable=True),
    Column("enclave_id", String(36), nullable=True),
    Index("ix_history_stats_tier_ts_us", "tier", "ts_us"),
)

history_cursors = Table(
    "history_cursors",
    metadata,
    Column("host_id", String(36), primary_key=True),
    Column("epoch", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    # The stored record's host timestamp in ns: with seq, it tells a reconnect to the same
    # run of the host's XPS from one to a restarted XPS whose numbering began again.
    Column("ts_ns", BigInteger, nullable=False),
    # The host's own count of violations its MSM ring overflowed (reported, not ours).
    Column("host_dropped", BigInteger, nullable=False),
    # Records XE never got: gone from the host's window before XE could fetch them.
    Column("lost", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)

history_leases = Table(
    "history_leases",
    metadata,
    # One server ingests a host's history at a time (two ``xenon xe serve`` on one
    # PostgreSQL): the owner's node id and until when it holds the host.
    Column("host_id", String(36), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("until_us", BigInteger, nullable=False),
)

HISTORY_TABLES = (history_violations, history_stats, history_cursors, history_leases)
"""Every history table, in creation order."""
