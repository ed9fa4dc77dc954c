"""The XE policy: hosts, enclaves, assignments, profiles, SecLabels, VMs, conflict sets,
DHCP servers, and the policy versions.

Revision ID: 0002_policy
Revises: 0001_identity_and_audit
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_policy"
down_revision = "0001_identity_and_audit"
branch_labels = None
depends_on = None

_NAME = 255


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(36), nullable=False)


def _name() -> sa.Column[str]:
    return sa.Column("name", sa.String(_NAME), nullable=False)


def upgrade() -> None:
    """Creates the policy tables and the head row (version 0: the empty policy)."""
    op.create_table(
        "hosts",
        _id(),
        _name(),
        sa.Column("address", sa.String(_NAME), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("color", sa.String(7), nullable=False),
        sa.Column("cpu_vendor", sa.String(64), nullable=False, server_default=""),
        sa.Column("cpu_family", sa.Integer(), nullable=True),
        sa.Column("cpu_model", sa.Integer(), nullable=True),
        sa.Column("cpu_stepping", sa.Integer(), nullable=True),
        sa.Column("cpu_flags", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_hosts"),
        sa.UniqueConstraint("name", name="uq_hosts_name"),
        sa.UniqueConstraint("address", "port", name="uq_hosts_address_port"),
    )
    op.create_index("ix_hosts_position", "hosts", ["position"])
    op.create_table(
        "host_storage",
        sa.Column("host_id", sa.String(36), nullable=False),
        _name(),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name="fk_host_storage_host_id_hosts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("host_id", "name", name="pk_host_storage"),
    )
    op.create_table(
        "enclaves",
        _id(),
        _name(),
        sa.Column("color", sa.String(7), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_enclaves"),
        sa.UniqueConstraint("name", name="uq_enclaves_name"),
    )
    op.create_table(
        "host_switches",
        sa.Column("host_id", sa.String(36), nullable=False),
        _name(),
        sa.Column("enclave_id", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name="fk_host_switches_host_id_hosts", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enclave_id"], ["enclaves.id"], name="fk_host_switches_enclave_id_enclaves"
        ),
        sa.PrimaryKeyConstraint("host_id", "name", name="pk_host_switches"),
    )
    op.create_table(
        "enclave_hosts",
        sa.Column("enclave_id", sa.String(36), nullable=False),
        sa.Column("host_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["enclave_id"],
            ["enclaves.id"],
            name="fk_enclave_hosts_enclave_id_enclaves",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name="fk_enclave_hosts_host_id_hosts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("enclave_id", "host_id", name="pk_enclave_hosts"),
    )
    op.create_index("ix_enclave_hosts_host_id", "enclave_hosts", ["host_id"])
    op.create_table(
        "profiles",
        _id(),
        _name(),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_profiles"),
        sa.UniqueConstraint("name", name="uq_profiles_name"),
    )
    op.create_table(
        "seclabels",
        _id(),
        _name(),
        sa.Column("enclave_id", sa.String(36), nullable=False),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("max_rate", sa.Integer(), nullable=False),
        sa.Column("max_violations", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["enclave_id"], ["enclaves.id"], name="fk_seclabels_enclave_id_enclaves"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_seclabels"),
        sa.UniqueConstraint("name", name="uq_seclabels_name"),
    )
    op.create_index("ix_seclabels_enclave_id", "seclabels", ["enclave_id"])
    op.create_table(
        "vms",
        _id(),
        _name(),
        sa.Column("enclave_id", sa.String(36), nullable=False),
        sa.Column("seclabel_id", sa.String(36), nullable=True),
        sa.Column("guest_type", sa.String(16), nullable=False),
        sa.Column("os", sa.String(16), nullable=False),
        sa.Column("kernel", sa.Text(), nullable=True),
        sa.Column("ramdisk", sa.Text(), nullable=True),
        sa.Column("cmdline", sa.Text(), nullable=True),
        sa.Column("bootloader", sa.Text(), nullable=True),
        sa.Column("memory_mb", sa.BigInteger(), nullable=False),
        sa.Column("maxmem_mb", sa.BigInteger(), nullable=False),
        sa.Column("vcpus", sa.BigInteger(), nullable=False),
        sa.Column("maxvcpus", sa.BigInteger(), nullable=False),
        sa.Column("host_id", sa.String(36), nullable=True),
        sa.Column("run", sa.Boolean(), nullable=False),
        sa.Column("allow_network", sa.Boolean(), nullable=False),
        sa.Column("max_vifs", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["enclave_id"], ["enclaves.id"], name="fk_vms_enclave_id_enclaves"),
        sa.ForeignKeyConstraint(
            ["seclabel_id"], ["seclabels.id"], name="fk_vms_seclabel_id_seclabels"
        ),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], name="fk_vms_host_id_hosts"),
        sa.PrimaryKeyConstraint("id", name="pk_vms"),
        sa.UniqueConstraint("name", name="uq_vms_name"),
    )
    op.create_index("ix_vms_enclave_id", "vms", ["enclave_id"])
    op.create_index("ix_vms_host_id", "vms", ["host_id"])
    op.create_index("ix_vms_seclabel_id", "vms", ["seclabel_id"])
    op.create_table(
        "vm_switches",
        sa.Column("vm_id", sa.String(36), nullable=False),
        _name(),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vms.id"], name="fk_vm_switches_vm_id_vms", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vm_id", "name", name="pk_vm_switches"),
    )
    op.create_table(
        "vm_extra",
        sa.Column("vm_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(_NAME), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vms.id"], name="fk_vm_extra_vm_id_vms", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vm_id", "position", name="pk_vm_extra"),
    )
    op.create_table(
        "conflict_sets",
        _id(),
        _name(),
        sa.Column("level", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conflict_sets"),
        sa.UniqueConstraint("name", name="uq_conflict_sets_name"),
    )
    op.create_table(
        "conflict_members",
        sa.Column("conflict_id", sa.String(36), nullable=False),
        sa.Column("enclave_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["conflict_id"],
            ["conflict_sets.id"],
            name="fk_conflict_members_conflict_id_conflict_sets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["enclave_id"], ["enclaves.id"], name="fk_conflict_members_enclave_id_enclaves"
        ),
        sa.PrimaryKeyConstraint("conflict_id", "enclave_id", name="pk_conflict_members"),
    )
    op.create_table(
        "dhcp_servers",
        _id(),
        _name(),
        sa.Column("enclave_id", sa.String(36), nullable=False),
        sa.Column("interface", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["enclave_id"], ["enclaves.id"], name="fk_dhcp_servers_enclave_id_enclaves"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dhcp_servers"),
        sa.UniqueConstraint("name", name="uq_dhcp_servers_name"),
    )
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object", sa.String(300), nullable=False),
        sa.Column("enclaves", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_policy_versions"),
    )
    op.create_index("ix_policy_versions_ts_us", "policy_versions", ["ts_us"])
    head = op.create_table(
        "policy_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_head"),
    )
    # Made here, like audit_head: its row lock orders the writes of several servers on
    # PostgreSQL, which two first writes inserting it could not do.
    op.bulk_insert(head, [{"id": 1, "version": 0, "sha256": ""}])


def downgrade() -> None:
    """Drops them (the XE policy with them: export it first)."""
    for table in (
        "policy_head",
        "policy_versions",
        "dhcp_servers",
        "conflict_members",
        "conflict_sets",
        "vm_extra",
        "vm_switches",
        "vms",
        "seclabels",
        "profiles",
        "enclave_hosts",
        "host_switches",
        "enclaves",
        "host_storage",
        "hosts",
    ):
        op.drop_table(table)
