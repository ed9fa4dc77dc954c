"""Two-person approval per enclave: enclave_approval and policy_approvals.

Revision ID: 0006_approvals
Revises: 0005_history_leases
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_approvals"
down_revision = "0005_history_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Creates both tables empty: no enclave requires approval until an admin says so."""
    op.create_table(
        "enclave_approval",
        sa.Column("enclave_id", sa.String(36), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("set_by", sa.String(80), nullable=False),
        sa.Column("set_at_us", sa.BigInteger(), nullable=False),
        sa.Column("disable_requested_by", sa.String(80), nullable=True),
        sa.PrimaryKeyConstraint("enclave_id", name="pk_enclave_approval"),
    )
    op.create_table(
        "policy_approvals",
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("enclave_id", sa.String(36), nullable=False),
        sa.Column("enclave_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("authors", sa.Text(), nullable=False),
        sa.Column("base_version", sa.BigInteger(), nullable=False),
        sa.Column("base_text", sa.Text(), nullable=False),
        sa.Column("new_text", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(80), nullable=True),
        sa.Column("decided_at_us", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("version", "enclave_id", name="pk_policy_approvals"),
    )
    op.create_index("ix_policy_approvals_state", "policy_approvals", ["state"])
    op.create_index("ix_policy_approvals_enclave_id", "policy_approvals", ["enclave_id"])


def downgrade() -> None:
    """Drops both tables."""
    op.drop_index("ix_policy_approvals_enclave_id", table_name="policy_approvals")
    op.drop_index("ix_policy_approvals_state", table_name="policy_approvals")
    op.drop_table("policy_approvals")
    op.drop_table("enclave_approval")
