"""Database URLs and engines: SQLite (aiosqlite) by default, PostgreSQL (asyncpg) to scale out.

Each store has two engines on the same database: a *writer* with exactly one connection
(every write goes through it, serialised by the store's lock) and a pool of *readers*.

SQLite: WAL (readers never block the writer), ``busy_timeout`` (another process holding
the write lock is waited for, not failed at once), and the writer opens every transaction
with ``BEGIN IMMEDIATE``: a deferred transaction that reads first and writes later cannot
upgrade its lock once another writer went ahead, and fails at once whatever the timeout
(simonwillison.net/2025/Feb/17/sqlite-busy). The driver's own transaction handling is
switched off (``isolation_level = None``) so that the BEGIN we emit is the only one and
SAVEPOINTs nest inside it (SQLAlchemy's "sqlite_transactions" recipe).

PostgreSQL: ``pool_pre_ping`` so a connection that died with a server restart is replaced
at checkout. Behind PgBouncer in transaction mode (``pgbouncer=True``) asyncpg must not
cache prepared statements and must name them uniquely, with no pool of our own
(asyncpg#1058; SQLAlchemy's "Prepared Statement Name with PGBouncer").
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from enterprise_store._errors import InvalidInput

Backend = Literal["sqlite", "postgresql"]

_SQLITE_DRIVER = "sqlite+aiosqlite"
_PG_DRIVER = "postgresql+asyncpg"


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """How to reach the database.

    Attributes:
        url: A database URL (``sqlite:///…``, ``postgresql://…``) or a SQLite file path.
        pgbouncer: PostgreSQL behind PgBouncer in transaction mode (no statement cache,
            unique statement names, no local pool).
        busy_timeout_ms: SQLite: how long a writer waits for another process's lock.
        readers: Size of the reader pool.
        synchronous: SQLite ``PRAGMA synchronous``: FULL makes every commit durable
            against power loss, NORMAL only against a crash of the process.
    """

    url: str
    pgbouncer: bool = False
    busy_timeout_ms: int = 5000
    readers: int = 4
    synchronous: Literal["FULL", "NORMAL"] = "FULL"


def normalize_url(url: str) -> URL:
    """The SQLAlchemy URL for ``url``: a database URL or a SQLite file path.

    ``sqlite://`` becomes aiosqlite with an absolute path; ``postgres://`` and
    ``postgresql://`` become asyncpg.

    Raises:
        InvalidInput: Neither SQLite nor PostgreSQL, or a malformed URL.
    """
    text = url.strip()
    if not text:
        raise InvalidInput("the database URL is empty")
    if "://" not in text:
        return make_url(f"{_SQLITE_DRIVER}:///{Path(text).expanduser().resolve()}")
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise InvalidInput("malformed database URL") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise InvalidInput("SQLite needs a file (an in-memory database has one connection)")
        return parsed.set(
            drivername=_SQLITE_DRIVER, database=str(Path(database).expanduser().resolve())
        )
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername=_PG_DRIVER)
    raise InvalidInput(f"unsupported database {backend!r}: use SQLite or PostgreSQL")


def backend_of(url: URL) -> Backend:
    """``sqlite`` or ``postgresql``."""
    return "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"


def describe(url: URL) -> str:
    """The URL for logs and messages: the password is never shown."""
    return url.render_as_string(hide_password=True)


def _sqlite_engine(url: URL, config: StoreConfig, *, writer: bool) -> AsyncEngine:
    connect_args: dict[str, Any] = {"timeout": config.busy_timeout_ms / 1000}
    # Readers on Python >= 3.12: sqlite3's own PEP 249 transactions (autocommit=False) begin
    # inside the first statement's call, where an emitted BEGIN is three more round trips
    # to aiosqlite's thread (cursor, execute, close) on every read - a third of a request's.
    native_readers = not writer and sys.version_info >= (3, 12)
    if native_readers:
        connect_args["autocommit"] = False
    engine = create_async_engine(
        url,
        pool_size=1 if writer else max(1, config.readers),
        max_overflow=0,
        connect_args=connect_args,
        # Store.read()/atomic() always end their transaction themselves; a second ROLLBACK
        # on check-in would be one more round trip to the driver's thread per unit.
        pool_reset_on_return=None,
    )
    if native_readers:
        # journal_mode and foreign_keys cannot change inside the transaction sqlite3 has
        # already opened; WAL is a property of the file (the writer sets it), and readers
        # change no keys.
        pragmas: tuple[str, ...] = (f"PRAGMA busy_timeout={int(config.busy_timeout_ms)}",)
    else:
        pragmas = (
            "PRAGMA journal_mode=WAL",
            f"PRAGMA busy_timeout={int(config.busy_timeout_ms)}",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA synchronous={config.synchronous}",
        )
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if not native_readers:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    if not native_readers:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

    return engine


def _pg_engine(url: URL, config: StoreConfig, *, writer: bool) -> AsyncEngine:
    # Readers see one snapshot per transaction (a page and its count agree).
    options = {} if writer else {"isolation_level": "REPEATABLE READ"}
    if config.pgbouncer:
        return create_async_engine(
            url,
            poolclass=NullPool,
            execution_options=options,
            connect_args={
                "statement_cache_size": 0,
                "prepared_statement_cache_size": 0,
                "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__",
            },
        )
    return create_async_engine(
        url,
        pool_size=1 if writer else max(1, config.readers),
        max_overflow=0,
        pool_pre_ping=True,
        pool_reset_on_return=None,
        execution_options=options,
    )


def make_engines(config: StoreConfig) -> tuple[URL, AsyncEngine, AsyncEngine]:
    """The normalised URL, the writer engine (one connection) and the reader engine.

    Raises:
        InvalidInput: The URL is not usable.
    """
    url = normalize_url(config.url)
    factory = _sqlite_engine if backend_of(url) == "sqlite" else _pg_engine
    return url, factory(url, config, writer=True), factory(url, config, writer=False)
