"""Compute: long-running tasks, per-host propagation state (desired vs observed), host facts.

Revision ID: 0004_compute
Revises: 0003_history
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_compute"
down_revision = "0003_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Creates the tasks, propagation and host_info tables (empty)."""
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False, server_default="0"),
        sa.Column("message", sa.Text(), nullable=False, server_default=""),
        sa.Column("object", sa.String(200), nullable=False),
        sa.Column("enclaves", sa.Text(), nullable=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("resumable", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("started_at_us", sa.BigInteger(), nullable=True),
        sa.Column("finished_at_us", sa.BigInteger(), nullable=True),
        sa.Column("heartbeat_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_state", "tasks", ["state"])
    op.create_index("ix_tasks_created_at_us", "tasks", ["created_at_us"])
    op.create_table(
        "propagation",
        sa.Column("host_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("desired_version", sa.BigInteger(), nullable=False),
        sa.Column("desired_sha256", sa.String(64), nullable=True),
        sa.Column("desired_since_us", sa.BigInteger(), nullable=False),
        sa.Column("observed_version", sa.BigInteger(), nullable=True),
        sa.Column("enforced_hash", sa.String(64), nullable=True),
        sa.Column("activated_hash", sa.String(64), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("since_us", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("reconverge", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name="fk_propagation_host_id_hosts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("host_id", name="pk_propagation"),
    )
    op.create_table(
        "host_info",
        sa.Column("host_id", sa.String(36), nullable=False),
        sa.Column("hypervisor", sa.Text(), nullable=False),
        sa.Column("cpu_source", sa.String(16), nullable=False),
        sa.Column("prior_policy_name", sa.String(255), nullable=True),
        sa.Column("prior_policy_sha256", sa.String(64), nullable=True),
        sa.Column("prior_policy_xml", sa.Text(), nullable=True),
        sa.Column("added_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name="fk_host_info_host_id_hosts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("host_id", name="pk_host_info"),
    )


def downgrade() -> None:
    """Drops them (task history and propagation state go; the hosts stay)."""
    for table in ("host_info", "propagation", "tasks"):
        op.drop_table(table)
