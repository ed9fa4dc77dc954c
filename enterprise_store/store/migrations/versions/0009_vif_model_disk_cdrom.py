"""A VIF's emulated NIC model (vm_vifs.model) and a CD-ROM disk (vm_disks.cdrom).

Revision ID: 0009_vif_model_disk_cdrom
Revises: 0008_propagation_history
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_vif_model_disk_cdrom"
down_revision = "0008_propagation_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Adds both columns; the VIFs and disks already stored keep their meaning (no model:
    e1000 on HVM; a disk, not a CD-ROM)."""
    with op.batch_alter_table("vm_vifs") as batch:
        batch.add_column(sa.Column("model", sa.String(16), nullable=True))
    with op.batch_alter_table("vm_disks") as batch:
        batch.add_column(
            sa.Column("cdrom", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Drops both columns."""
    with op.batch_alter_table("vm_disks") as batch:
        batch.drop_column("cdrom")
    with op.batch_alter_table("vm_vifs") as batch:
        batch.drop_column("model")
