"""The Compute tables (0004_compute): long-running tasks, per-host propagation state, host facts.

``tasks``: one row per long-running operation (host add, propagation of a version,
migration). ``owner`` is the node (server process identity) running it and
``heartbeat_us`` the last time that node said so: a task whose owner stopped is found
by its stale heartbeat (another node) or by its owner id (the same node, restarted).

``propagation``: one row per host, Kubernetes' spec/status split (enterprise-anchors §5).
Desired ``{desired_version, desired_sha256}`` is what XE wants the host to enforce;
observed ``{observed_version, enforced_hash, attempts, last_error, since_us}`` is what the
host last reported. ``activated_hash`` is the hash XE itself last activated there: a host
reporting anything else drifted. ``lease_owner``/``lease_until_us`` say which node is
propagating to the host right now, so two servers on one database never stage the same
version on one host at once (claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

``host_info``: what the host's XPS told XE when it joined (hypervisor facts) and the
policy it enforced before XE took over (its export, kept for the operator).

``propagation_history`` (0008_propagation_history): the host's propagation *transitions*
(in-sync → drifted → retrying → converged …), a condition's ``lastTransitionTime`` in the
Kubernetes mould, kept as a log: one row per change of state (or of a drift's reason),
never one per poll, at most :data:`HISTORY_PER_HOST` rows a host (the oldest are pruned in
the transaction that adds one). ``reason`` is text from the host or its exchange (capped).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)

from enterprise_store.store._schema import metadata

__all__ = ["HISTORY_PER_HOST", "host_info", "propagation", "propagation_history", "tasks"]

HISTORY_PER_HOST = 1000
"""Propagation transitions kept per host (the newest)."""
REASON_MAX = 1000
"""Longest reason kept (characters)."""

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),
    # queued | running | succeeded | failed | cancelled
    Column("state", String(16), nullable=False),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("message", Text, nullable=False, server_default=""),
    Column("object", String(200), nullable=False),
    # JSON list of enclave UUIDs the task concerns; NULL: enterprise-wide.
    Column("enclaves", Text, nullable=True),
    Column("params", Text, nullable=False),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_by", String(80), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("resumable", Boolean, nullable=False, server_default=false()),
    Column("cancel_requested", Boolean, nullable=False, server_default=false()),
    Column("timeout_s", Float, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("started_at_us", BigInteger, nullable=True),
    Column("finished_at_us", BigInteger, nullable=True),
    Column("heartbeat_us", BigInteger, nullable=False),
    Index("ix_tasks_state", "state"),
    Index("ix_tasks_created_at_us", "created_at_us"),
)

propagation = Table(
    "propagation",
    metadata,
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True),
    # pending | converged | retrying | drifted | held
    Column("state", String(16), nullable=False),
    Column("desired_version", BigInteger, nullable=False),
    Column("desired_sha256", String(64), nullable=True),
    Column("desired_since_us", BigInteger, nullable=False),
    Column("observed_version", BigInteger, nullable=True),
    Column("enforced_hash", String(64), nullable=True),
    Column("activated_hash", String(64), nullable=True),
    Column("content_sha256", String(64), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("since_us", BigInteger, nullable=False),
    Column("next_attempt_us", BigInteger, nullable=False, server_default="0"),
    Column("reconverge", Boolean, nullable=False, server_default=false()),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until_us", BigInteger, nullable=True),
)

host_info = Table(
    "host_info",
    metadata,
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True),
    Column("hypervisor", Text, nullable=False),
    Column("cpu_source", String(16), nullable=False),
    Column("prior_policy_name", String(255), nullable=True),
    Column("prior_policy_sha256", String(64), nullable=True),
    Column("prior_policy_xml", Text, nullable=True),
    Column("added_at_us", BigInteger, nullable=False),
)

propagation_history = Table(
    "propagation_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    # NULL: the host's first recorded state
    Column("from_state", String(16), nullable=True),
    Column("to_state", String(16), nullable=False),
    Column("desired_version", BigInteger, nullable=False),
    Column("observed_version", BigInteger, nullable=True),
    Column("enforced_hash", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    Index("ix_propagation_history_host_id_id", "host_id", "id"),
    Index("ix_propagation_history_ts_us", "ts_us"),
)
