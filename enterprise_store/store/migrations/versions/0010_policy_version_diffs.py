"""The readable diff of every policy version: policy_version_diffs.

Revision ID: 0010_policy_version_diffs
Revises: 0009_vif_model_disk_cdrom
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_policy_version_diffs"
down_revision = "0009_vif_model_disk_cdrom"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Creates the table empty: versions made before it have no diff (the API says so)."""
    op.create_table(
        "policy_version_diffs",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("scope", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", "scope", name="pk_policy_version_diffs"),
    )


def downgrade() -> None:
    """Drops the table."""
    op.drop_table("policy_version_diffs")
