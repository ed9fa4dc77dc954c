"""A VM's VIFs and disks in XE (vm_vifs, vm_disks) and a host's read-only port (hosts.ro_port).

Revision ID: 0007_vm_devices_ro_port
Revises: 0006_approvals
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_vm_devices_ro_port"
down_revision = "0006_approvals"
branch_labels = None
depends_on = None

_NAME = 255


def upgrade() -> None:
    """Creates both tables empty (no VM has XE VIFs or disks yet) and the nullable column
    (no host's read-only port is known yet)."""
    op.create_table(
        "vm_vifs",
        sa.Column("vm_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("bridge", sa.String(_NAME), nullable=False),
        sa.Column("mac", sa.String(64), nullable=True),
        sa.Column("ip", sa.String(_NAME), nullable=True),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vms.id"], name="fk_vm_vifs_vm_id_vms", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vm_id", "position", name="pk_vm_vifs"),
    )
    op.create_table(
        "vm_disks",
        sa.Column("vm_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("vdev", sa.String(_NAME), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vms.id"], name="fk_vm_disks_vm_id_vms", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vm_id", "position", name="pk_vm_disks"),
    )
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("ro_port", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drops the column and both tables."""
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("ro_port")
    op.drop_table("vm_disks")
    op.drop_table("vm_vifs")
