"""The XE policy's tables: one row per object, child tables for its lists, and the versions.

Each :mod:`enterprise_store.model` type has its table; what a dataclass holds as a tuple
(a host's storage and switches, a VM's switch restrictions and extra xl options, a
conflict set's enclaves, enclave-to-host assignments) is a child table, so one object's
change touches its own rows only. Two exceptions, both read and written whole: a host's
CPU flags are one space-separated text (a hundred flags per host would make a million
rows at 10,000 hosts, none ever queried alone) and a custom hypercall profile is its
canonical JSON (``profiles`` holds only profiles beyond the ten pre-defined ones).

Foreign keys hold references the consistency checker already requires (a dangling one is
an error finding, so no checked write breaks them); they are the second line. Children
cascade with their owner; references between objects do not, so a delete the checker
should have refused fails as :class:`~enterprise_store.Conflict` instead of spreading.

``policy_head`` is one row (made by the migration, version 0): the newest version. Every
write updates it in the write's transaction; on PostgreSQL its row lock orders the writes
of several servers, and a server whose cached snapshot is older than the head reloads.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from enterprise_store.store._schema import metadata

__all__ = [
    "POLICY_TABLES",
    "conflict_members",
    "conflict_sets",
    "dhcp_servers",
    "enclave_hosts",
    "enclaves",
    "host_storage",
    "host_switches",
    "hosts",
    "policy_head",
    "policy_versions",
    "profiles",
    "seclabels",
    "vm_disks",
    "vm_extra",
    "vm_switches",
    "vm_vifs",
    "vms",
]

_NAME = 255  # the checker allows 63 bytes; the column never is the tighter limit

hosts = Table(
    "hosts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(_NAME), nullable=False, unique=True),
    Column("address", String(_NAME), nullable=False),
    Column("port", Integer, nullable=False),
    # The XPS's read-only port (migration 0007); NULL: XE does not know one.
    Column("ro_port", Integer, nullable=True),
    # The Hosts panel order ("order" is an SQL keyword).
    Column("position", Integer, nullable=False),
    Column("color", String(7), nullable=False),
    Column("cpu_vendor", String(64), nullable=False, server_default=""),
    Column("cpu_family", Integer, nullable=True),
    Column("cpu_model", Integer, nullable=True),
    Column("cpu_stepping", Integer, nullable=True),
    Column("cpu_flags", Text, nullable=False, server_default=""),
    UniqueConstraint("address", "port", name="uq_hosts_address_port"),
    Index("ix_hosts_position", "position"),
)

host_storage = Table(
    "host_storage",
    metadata,
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(_NAME), primary_key=True),
)

host_switches = Table(
    "host_switches",
    metadata,
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(_NAME), primary_key=True),
    Column("enclave_id", String(36), ForeignKey("enclaves.id"), nullable=True),
)

enclaves = Table(
    "enclaves",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(_NAME), nullable=False, unique=True),
    Column("color", String(7), nullable=False),
)

# An assignment goes with either end (EnterprisePolicy.without drops it the same way).
enclave_hosts = Table(
    "enclave_hosts",
    metadata,
    Column(
        "enclave_id", String(36), ForeignKey("enclaves.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_enclave_hosts_host_id", "host_id"),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(_NAME), nullable=False, unique=True),
    Column("body", Text, nullable=False),
)

seclabels = Table(
    "seclabels",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(_NAME), nullable=False, unique=True),
    Column("enclave_id", String(36), ForeignKey("enclaves.id"), nullable=False),
    # No foreign key: the pre-defined profiles live in code, not in ``profiles``.
    Column("profile_id", String(36), nullable=False),
    Column("max_rate", Integer, nullable=False),
    Column("max_violations", BigInteger, nullable=False),
    Column("role", String(32), nullable=False),
    Index("ix_seclabels_enclave_id", "enclave_id"),
)

vms = Table(
    "vms",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(_NAME), nullable=False, unique=True),
    Column("enclave_id", String(36), ForeignKey("enclaves.id"), nullable=False),
    Column("seclabel_id", String(36), ForeignKey("seclabels.id"), nullable=True),
    Column("guest_type", String(16), nullable=False),
    Column("os", String(16), nullable=False),
    Column("kernel", Text, nullable=True),
    Column("ramdisk", Text, nullable=True),
    Column("cmdline", Text, nullable=True),
    Column("bootloader", Text, nullable=True),
    # Up to 2^32 - 1 (the checker's bound): wider than PostgreSQL's INTEGER.
    Column("memory_mb", BigInteger, nullable=False),
    Column("maxmem_mb", BigInteger, nullable=False),
    Column("vcpus", BigInteger, nullable=False),
    Column("maxvcpus", BigInteger, nullable=False),
    Column("host_id", String(36), ForeignKey("hosts.id"), nullable=True),
    Column("run", Boolean, nullable=False),
    Column("allow_network", Boolean, nullable=False),
    Column("max_vifs", BigInteger, nullable=True),
    Index("ix_vms_enclave_id", "enclave_id"),
    Index("ix_vms_host_id", "host_id"),
    Index("ix_vms_seclabel_id", "seclabel_id"),
)

vm_switches = Table(
    "vm_switches",
    metadata,
    Column("vm_id", String(36), ForeignKey("vms.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(_NAME), primary_key=True),
)

# Extra xl options keep their order (xl reads them top to bottom).
vm_extra = Table(
    "vm_extra",
    metadata,
    Column("vm_id", String(36), ForeignKey("vms.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("key", String(_NAME), nullable=False),
    Column("value", Text, nullable=False),
)

# A VM's VIFs and disks in XE (Figure 28, migration 0007), in order (the xl list's);
# a VIF's NIC model and a disk's CD-ROM flag came with migration 0009.
vm_vifs = Table(
    "vm_vifs",
    metadata,
    Column("vm_id", String(36), ForeignKey("vms.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("bridge", String(_NAME), nullable=False),
    Column("mac", String(64), nullable=True),
    Column("ip", String(_NAME), nullable=True),
    Column("model", String(16), nullable=True),
)

vm_disks = Table(
    "vm_disks",
    metadata,
    Column("vm_id", String(36), ForeignKey("vms.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("target", Text, nullable=False),
    Column("vdev", String(_NAME), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("format", String(16), nullable=False),
    Column("cdrom", Boolean, nullable=False, server_default=false()),
)

conflict_sets = Table(
    "conflict_sets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(_NAME), nullable=False, unique=True),
    Column("level", String(32), nullable=False),
)

conflict_members = Table(
    "conflict_members",
    metadata,
    Column(
        "conflict_id",
        String(36),
        ForeignKey("conflict_sets.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("enclave_id", String(36), ForeignKey("enclaves.id"), primary_key=True),
)

dhcp_servers = Table(
    "dhcp_servers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(_NAME), nullable=False, unique=True),
    Column("enclave_id", String(36), ForeignKey("enclaves.id"), nullable=False),
    Column("interface", String(64), nullable=False),
)

# One row per committed change. ``sha256`` is policy_sha256 of the snapshot as committed
# (its version number included), so a host's slice can be traced to the version it came from.
policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("sha256", String(64), nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("author", String(80), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object", String(300), nullable=False),
    # JSON list of the enclave UUIDs the change concerns ([] : enterprise-wide), so a
    # scoped reader sees the versions of their enclaves, like the audit log's records.
    Column("enclaves", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Index("ix_policy_versions_ts_us", "ts_us"),
)

policy_head = Table(
    "policy_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
)

POLICY_TABLES = (
    hosts,
    host_storage,
    enclaves,
    host_switches,
    enclave_hosts,
    profiles,
    seclabels,
    vms,
    vm_switches,
    vm_extra,
    vm_vifs,
    vm_disks,
    conflict_sets,
    conflict_members,
    dhcp_servers,
)
"""The object tables in an order where every table follows the tables it references."""
