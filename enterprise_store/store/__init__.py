"""The XE store: schema, migrations, repositories over SQLite (default) or PostgreSQL."""

from enterprise_store.store._engine import Backend, StoreConfig, describe, normalize_url
from enterprise_store.store._migrate import current_revision, head_revision, upgrade
from enterprise_store.store._store import Store, translate

__all__ = [
    "Backend",
    "Store",
    "StoreConfig",
    "current_revision",
    "describe",
    "head_revision",
    "normalize_url",
    "translate",
    "upgrade",
]
