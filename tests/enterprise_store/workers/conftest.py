"""Compute tests run on SQLite unless a test asks for PostgreSQL itself (``pg_url``); the XPS
hosts and XE fixtures come from the ``tests._support.xe_hosts`` plugin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only here (PostgreSQL tests ask for ``pg_server`` themselves)."""
    return sqlite_url


@pytest.fixture
async def pg_url(pg_server: Any) -> AsyncIterator[str]:
    """A fresh PostgreSQL database of the session's server, dropped afterwards."""
    name = f"xe_{uuid.uuid4().hex[:16]}"
    await pg_server.admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
