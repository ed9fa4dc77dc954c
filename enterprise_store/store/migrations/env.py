"""Alembic environment of the XE store: runs on the connection the store hands over.

Migrations never open their own connection: :func:`enterprise_store.store.upgrade` runs
them inside the store's writer unit (``BEGIN IMMEDIATE`` on SQLite; an advisory lock on
PostgreSQL), so a migration and its version record commit together or not at all, and two
processes starting at once migrate one after the other. SQLite needs batch mode for
``ALTER`` (alembic.sqlalchemy.org/en/latest/batch.html).
"""

from __future__ import annotations

from alembic import context

from enterprise_store.store._schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("XE migrations run through enterprise_store.store.upgrade(), not alembic")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
