"""History: per-host ingestion leases (one server ingests a host's history at a time).

Revision ID: 0005_history_leases
Revises: 0004_compute
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_history_leases"
down_revision = "0004_compute"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Creates history_leases (empty: the first ingester to see a host takes it)."""
    op.create_table(
        "history_leases",
        sa.Column("host_id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("until_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("host_id"),
    )


def downgrade() -> None:
    """Drops history_leases."""
    op.drop_table("history_leases")
