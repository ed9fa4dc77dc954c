"""Propagation transitions per host (propagation_history): drift, retries, convergence.

Revision ID: 0008_propagation_history
Revises: 0007_vm_devices_ro_port
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_propagation_history"
down_revision = "0007_vm_devices_ro_port"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Creates the table empty: transitions are recorded from now on."""
    op.create_table(
        "propagation_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("host_id", sa.String(36), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("desired_version", sa.BigInteger(), nullable=False),
        sa.Column("observed_version", sa.BigInteger(), nullable=True),
        sa.Column("enforced_hash", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["hosts.id"],
            name="fk_propagation_history_host_id_hosts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_propagation_history"),
    )
    op.create_index("ix_propagation_history_host_id_id", "propagation_history", ["host_id", "id"])
    op.create_index("ix_propagation_history_ts_us", "propagation_history", ["ts_us"])


def downgrade() -> None:
    """Drops the table (and its indexes)."""
    op.drop_index("ix_propagation_history_ts_us", table_name="propagation_history")
    op.drop_index("ix_propagation_history_host_id_id", table_name="propagation_history")
    op.drop_table("propagation_history")
