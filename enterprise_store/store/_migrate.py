"""Alembic migrations, run at open inside the store's writer unit; scripts ship as package data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from enterprise_store.store._store import Store

__all__ = ["MIGRATIONS", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: "XEMIGRAT" as a 64-bit integer; held until the unit commits.
_PG_MIGRATION_LOCK = int.from_bytes(b"XEMIGRAT", "big") - (1 << 63)


def _config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(_config(connection), "head")


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    rev = MigrationContext.configure(connection).get_current_revision()
    return None if rev is None else str(rev)


def head_revision() -> str:
    """The newest migration this code knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return str(head)


async def upgrade(store: Store) -> None:
    """Brings the schema to the newest migration in one write unit (no-op when current).

    Raises:
        StoreUnavailable: The database cannot be reached or stays locked.
    """
    async with store.atomic() as conn:
        if store.backend == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        await conn.run_sync(_upgrade)


async def current_revision(store: Store) -> str | None:
    """The migration the database is at (None before the first)."""
    async with store.read() as conn:
        return await conn.run_sync(_current)
