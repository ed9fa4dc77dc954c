"""The XE schema as SQLAlchemy Core tables: one definition for SQLite and PostgreSQL.

Times are integer microseconds since the Unix epoch (``*_us``): the same type, ordering and
arithmetic on both backends, no time-zone conversion in a driver. Identifiers are UUID
strings. JSON values (scopes, details) are canonical JSON text, so what the audit chain
hashes is exactly what the row holds.

Alembic migrations (``store/migrations``) create these tables; a test compares the migrated
database with this metadata, so the two cannot drift apart.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

# Stable constraint names: Alembic batch mode on SQLite and PostgreSQL both need them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, server_default=""),
    Column("role", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("password_hash", Text, nullable=True),
    Column("password_must_change", Boolean, nullable=False, server_default=false()),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until_us", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)

# A user without rows here is unscoped (every enclave); with rows, only those enclaves.
user_scopes = Table(
    "user_scopes",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("enclave", String(36), primary_key=True),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    # session (login), api (automation), service (the SSH console server's credential)
    Column("kind", String(16), nullable=False),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("name", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=True),
    Column("scopes", Text, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=True),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("created_by", String(80), nullable=False),
    Index("ix_tokens_user_id", "user_id"),
    Index("ix_tokens_expires_at_us", "expires_at_us"),
)

ssh_keys = Table(
    "ssh_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("algorithm", String(64), nullable=False),
    Column("fingerprint", String(100), nullable=False, unique=True),
    Column("public_key", Text, nullable=False),
    Column("comment", String(200), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    Index("ix_ssh_keys_user_id", "user_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("source", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object", String(200), nullable=False),
    Column("result", String(80), nullable=False),
    Column("enclaves", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("hash", name="uq_audit_log_hash"),
    Index("ix_audit_log_ts_us", "ts_us"),
    Index("ix_audit_log_actor", "actor"),
    Index("ix_audit_log_action", "action"),
)

# One row (id = 1, made by the first migration with seq 0): the chain's newest record.
# Every append updates it in the same transaction; on PostgreSQL its row lock orders the
# appends of several processes, and a truncated tail (rows deleted behind the head's back)
# is visible to verify.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# The policy's tables (0002_policy), the history's (0003_history) and Compute's
# (0004_compute) live in their own modules on this metadata; importing them here means
# whoever holds ``metadata`` holds every table.
from enterprise_store.store import (  # noqa: E402, F401
    _compute_schema,
    _history_schema,
    _policy_schema,
)
