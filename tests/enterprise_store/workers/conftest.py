"""Compute tests run on SQLite unless a test asks for PostgreSQL itself; the XPS hosts and
XE fixtures come from the ``tests._support.xe_hosts`` plugin."""

from __future__ import annotations

import pytest


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only here (PostgreSQL tests ask for ``pg_server`` themselves)."""
    return sqlite_url
