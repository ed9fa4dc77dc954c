"""History: every host's violations and statistics, and the ingestion cursors.

Revision ID: 0003_history
Revises: 0002_policy
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_history"
down_revision = "0002_policy"
branch_labels = None
depends_on = None

_NAME = 255


def upgrade() -> None:
    """Creates the history tables (empty: history starts when ingestion does)."""
    op.create_table(
        "history_violations",
        sa.Column("host_id", sa.String(36), nullable=False),
        sa.Column("epoch", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("domid", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(_NAME), nullable=False),
        sa.Column("vm_id", sa.String(36), nullable=True),
        sa.Column("enclave_id", sa.String(36), nullable=True),
        sa.Column("seclabel_id", sa.String(36), nullable=True),
        sa.Column("seclabel_name", sa.String(_NAME), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("hypercall", sa.Integer(), nullable=False),
        sa.Column("subop", sa.Integer(), nullable=False),
        sa.Column("peer", sa.Integer(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", "epoch", "seq", name="pk_history_violations"),
    )
    op.create_index("ix_history_violations_ts_us", "history_violations", ["ts_us"])
    op.create_index(
        "ix_history_violations_enclave_id_ts_us", "history_violations", ["enclave_id", "ts_us"]
    )
    op.create_table(
        "history_stats",
        sa.Column("host_id", sa.String(36), nullable=False),
        sa.Column("tier", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("domain", sa.String(_NAME), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("cpu_pct_sum", sa.Float(), nullable=False),
        sa.Column("mem_kb_sum", sa.Float(), nullable=False),
        sa.Column("vcpus_sum", sa.Float(), nullable=False),
        sa.Column("vm_id", sa.String(36), nullable=True),
        sa.Column("enclave_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("host_id", "tier", "domain", "ts_us", name="pk_history_stats"),
    )
    op.create_index("ix_history_stats_tier_ts_us", "history_stats", ["tier", "ts_us"])
    op.create_table(
        "history_cursors",
        sa.Column("host_id", sa.String(36), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("host_dropped", sa.BigInteger(), nullable=False),
        sa.Column("lost", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host_id", name="pk_history_cursors"),
    )


def downgrade() -> None:
    """Drops them (the stored history with them)."""
    for table in ("history_cursors", "history_stats", "history_violations"):
        op.drop_table(table)
