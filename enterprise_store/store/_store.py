"""The store: one serialised writer with nested units, a pool of readers, the hot-insert path.

Write protocol (simonw/sqlite-utils' ``atomic``, SQLAlchemy Core underneath):

1. ``async with store.atomic() as conn`` takes the store's writer lock, checks out the one
   writer connection and opens a transaction (``BEGIN IMMEDIATE`` on SQLite: the database
   write lock is taken *now*, so a read-then-write unit never fails half-way on a lock
   upgrade);
2. an ``atomic()`` entered again inside it, in the same task, is a ``SAVEPOINT``: it rolls
   back alone on an exception and otherwise becomes part of the outer unit;
3. the outer unit commits when its block ends and rolls back on any exception, so the
   database holds either all of a unit or none of it. The audit record of a change is
   written inside the change's unit, so neither exists without the other.

``read()`` opens a reader transaction (a consistent snapshot on both backends); inside a
unit it reuses the unit's connection, so a service reads its own uncommitted writes.

The unit in progress is found through a ``ContextVar``: a task created inside a unit
inherits it and would share the connection, so code inside a unit never spawns tasks that
touch the store.

Every driver error leaves the store as an ``XeError``: a broken constraint is
:class:`Conflict`, a lost or locked database :class:`StoreUnavailable` (mapped once, in
:func:`translate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from enterprise_store._errors import Conflict, StoreUnavailable, XeError
from enterprise_store.store._engine import (
    Backend,
    StoreConfig,
    backend_of,
    describe,
    make_engines,
)

__all__ = ["Store", "translate"]

_UNIT: ContextVar[tuple[Store, AsyncConnection] | None] = ContextVar("xe_store_unit", default=None)
# Back-off before retrying a connection that could not be opened (PostgreSQL restarting).
_CONNECT_RETRIES = (0.1, 0.5, 1.5)
# A quick read waits at most this long for a lock before taking the threaded path.
_QUICK_BUSY_S = 0.01


# SQLSTATE classes of a lost or refused connection: 08 (connection exception: the
# server went away mid-statement, or refused the connection) and 57P (operator
# intervention: admin or crash shutdown, "the database system is starting up").
_LOST_SQLSTATES = ("08", "57P")


def _connection_lost(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what it wraps) says the connection to the database is gone:
    asyncpg's ``ConnectionDoesNotExistError`` / ``InterfaceError`` ("connection is
    closed"), a connection-class SQLSTATE, or a socket error."""
    seen = 0
    while exc is not None and seen < 8:
        seen += 1
        if isinstance(exc, OSError | TimeoutError | ConnectionError):
            return True
        state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if isinstance(state, str) and state.startswith(_LOST_SQLSTATES):
            return True
        module = type(exc).__module__
        if module.startswith("asyncpg") and type(exc).__name__ in (
            "ConnectionDoesNotExistError",
            "ConnectionFailureError",
            "InterfaceError",
            "InternalClientError",
        ):
            return True
        exc = exc.__cause__ or getattr(exc, "orig", None)
    return False


def translate(exc: BaseException) -> XeError | None:
    """The ``XeError`` for a database driver error, or None when it is a bug of ours.

    A lost connection (a PostgreSQL restart, a network cut: SQLAlchemy's invalidated
    connection, its ``OperationalError``/``InterfaceError``, asyncpg's own errors, a
    connection-class SQLSTATE, ``OSError``) is :class:`StoreUnavailable` (503, retried
    by clients; the pool's pre-ping replaces the dead connections).
    """
    if isinstance(exc, IntegrityError):
        return Conflict("the change conflicts with stored data (a name in use or a reference)")
    if isinstance(exc, DBAPIError):
        if (
            exc.connection_invalidated
            or type(exc).__name__ in ("OperationalError", "InterfaceError")
            or _connection_lost(exc.orig)
        ):
            return StoreUnavailable(f"the database is unavailable: {_first_line(exc.orig)}")
        return None
    if _connection_lost(exc):
        return StoreUnavailable(f"the database cannot be reached: {_first_line(exc)}")
    return None


def _batched(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    # itertools.batched is 3.12+; the project supports 3.11.
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _first_line(exc: BaseException | None) -> str:
    text_ = str(exc) if exc is not None else "unknown error"
    return text_.splitlines()[0][:200] if text_ else type(exc).__name__


class Store:
    """An open XE database. Use :meth:`open`; close with :meth:`close` or ``async with``.

    Args:
        url: The normalised database URL.
        writer: Engine with the one writer connection.
        reader: Engine with the reader pool.
        checkpoint: Test hook called with ``"before_commit"`` and ``"after_commit"`` around
            each outer unit's commit (a test raises there to simulate a crash).
    """

    def __init__(
        self,
        url: URL,
        writer: AsyncEngine,
        reader: AsyncEngine,
        *,
        checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.backend: Backend = backend_of(url)
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()
        self._checkpoint = checkpoint or (lambda step: None)
        self._insert_sql: dict[tuple[str, tuple[str, ...]], str] = {}
        self._pg_sql: dict[str, str] = {}
        self._quick: sqlite3.Connection | None = None
        self._quick_failed = False

    @classmethod
    async def open(
        cls,
        config: StoreConfig | str,
        *,
        migrate: bool = True,
        checkpoint: Callable[[str], None] | None = None,
    ) -> Store:
        """Opens the database and (by default) brings its schema to the newest migration.

        Raises:
            InvalidInput: The URL is not usable.
            StoreUnavailable: The database cannot be reached.
        """
        if isinstance(config, str):
            config = StoreConfig(url=config)
        url, writer, reader = make_engines(config)
        store = cls(url, writer, reader, checkpoint=checkpoint)
        try:
            if migrate:
                from enterprise_store.store._migrate import upgrade

                await upgrade(store)
            else:
                await store.ping()
        except BaseException:
            await store.close()
            raise
        return store

    @property
    def description(self) -> str:
        """The database URL without its password (for logs)."""
        return describe(self.url)

    @property
    def paramstyle(self) -> str:
        """The driver's placeholder style (``qmark`` for SQLite, ``numeric_dollar`` for asyncpg)."""
        return str(self._writer.dialect.paramstyle)

    async def close(self) -> None:
        """Closes every connection."""
        if self._quick is not None:
            self._quick.close()
            self._quick = None
        await self._writer.dispose()
        await self._reader.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def in_unit(self) -> bool:
        """Whether the current task is inside one of this store's write units."""
        unit = _UNIT.get()
        return unit is not None and unit[0] is self

    async def _connect(self, engine: AsyncEngine) -> AsyncConnection:
        delays = iter(_CONNECT_RETRIES if self.backend == "postgresql" else ())
        while True:
            try:
                return await engine.connect()
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                error = translate(exc)
                if not isinstance(error, StoreUnavailable):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise error from exc
                await asyncio.sleep(delay)

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[AsyncConnection]:
        """A write unit: the outer one a transaction, nested ones savepoints.

        Raises:
            Conflict: A constraint refused a write.
            StoreUnavailable: The database is unreachable or stayed locked.
        """
        unit = _UNIT.get()
        if unit is not None and unit[0] is self:
            conn = unit[1]
            try:
                async with conn.begin_nested():
                    yield conn
            except SQLAlchemyError as exc:
                raise (translate(exc) or exc) from exc
            return
        async with self._lock:
            conn = await self._connect(self._writer)
            token = _UNIT.set((self, conn))
            try:
                try:
                    trans = await conn.begin()
                except SQLAlchemyError as exc:
                    raise (translate(exc) or exc) from exc
                try:
                    yield conn
                    self._checkpoint("before_commit")
                    await trans.commit()
                except BaseException as exc:
                    with contextlib.suppress(SQLAlchemyError, OSError):
                        await trans.rollback()
                    if isinstance(exc, SQLAlchemyError | OSError):
                        raise (translate(exc) or exc) from exc
                    raise
                self._checkpoint("after_commit")
            finally:
                _UNIT.reset(token)
                with contextlib.suppress(SQLAlchemyError, OSError):
                    await conn.close()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot; inside a write unit, the unit's own connection.

        Raises:
            StoreUnavailable: The database is unreachable.
        """
        unit = _UNIT.get()
        if unit is not None and unit[0] is self:
            yield unit[1]
            return
        conn = await self._connect(self._reader)
        try:
            try:
                trans = await conn.begin()
            except SQLAlchemyError as exc:
                raise (translate(exc) or exc) from exc
            try:
                yield conn
            except SQLAlchemyError as exc:
                raise (translate(exc) or exc) from exc
            finally:
                with contextlib.suppress(SQLAlchemyError, OSError):
                    await trans.rollback()
        finally:
            with contextlib.suppress(SQLAlchemyError, OSError):
                await conn.close()

    def insert_sql(self, table: Table, columns: Sequence[str]) -> str:
        """The driver-level ``INSERT`` for ``columns`` of ``table`` in the driver's placeholders."""
        key = (table.name, tuple(columns))
        sql = self._insert_sql.get(key)
        if sql is None:
            known = set(table.columns.keys())
            unknown = [c for c in columns if c not in known]
            if unknown:
                raise ValueError(f"{table.name} has no columns {unknown}")
            quote = self._writer.dialect.identifier_preparer.quote
            if self.paramstyle == "qmark":
                marks = ", ".join("?" for _ in columns)
            elif self.paramstyle == "numeric_dollar":
                marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
            else:  # pragma: no cover - only the two drivers above are configured
                raise ValueError(f"unsupported paramstyle {self.paramstyle}")
            # Identifiers come from the Table object and are quoted; values are bound.
            sql = (
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
                f"VALUES ({marks})"
            )
            self._insert_sql[key] = sql
        return sql

    async def insert_many(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        batch_size: int = 1000,
    ) -> int:
        """The hot-insert path: driver-level ``executemany`` in one write unit.

        SQLAlchemy Core's ``insert()`` compiles and processes each row in Python; the
        driver's batch does not: 100k rows measured 0.3x raw aiosqlite through Core vs
        0.7x through ``exec_driver_sql`` (issue #11). Rows are tuples in ``columns`` order
        and are passed to the driver as they are (no type processing).

        Returns:
            The number of rows inserted.

        Raises:
            Conflict: A row broke a constraint (none of the rows is kept).
            StoreUnavailable: The database is unreachable.
        """
        sql = self.insert_sql(table, columns)
        count = 0
        async with self.atomic() as conn:
            for chunk in _batched(rows, batch_size):
                await conn.exec_driver_sql(sql, chunk)
                count += len(chunk)
        return count

    async def fetch_all(
        self, conn: AsyncConnection, sql: str, params: Sequence[Any] = ()
    ) -> list[Sequence[Any]]:
        """The hot-read path: a driver-level SELECT, rows as tuples in column order.

        ``sql`` is written with ``?`` placeholders (and must not contain a literal ``?``).
        On SQLite it runs straight on aiosqlite (one round trip to its thread; SQLAlchemy's
        cursor adapter makes four: cursor, execute, fetchall, close), in the transaction
        of ``conn``; on PostgreSQL the placeholders become ``$n`` and it goes through
        ``exec_driver_sql`` (no statement compilation) so it joins the unit's transaction.
        Every request authenticates through here: Core's statement building and result
        processing were most of a small request's CPU time.
        """
        if self.backend == "sqlite":
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            rows = await driver.execute_fetchall(sql, tuple(params))
            return list(rows)
        pg_sql = self._pg_sql.get(sql)
        if pg_sql is None:
            parts = sql.split("?")
            pg_sql = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
            self._pg_sql[sql] = pg_sql
        result = await conn.exec_driver_sql(pg_sql, tuple(params))
        return list(result.all())

    def _quick_connection(self) -> sqlite3.Connection | None:
        if self._quick is None and not self._quick_failed:
            path = self.url.database or ""
            try:
                conn = sqlite3.connect(
                    f"file:{path}?mode=ro",
                    uri=True,
                    isolation_level=None,  # each SELECT is its own read transaction
                    timeout=_QUICK_BUSY_S,
                    check_same_thread=False,  # used from the event loop's thread only
                )
                conn.execute("PRAGMA query_only=1")
            except sqlite3.Error:
                self._quick_failed = True
                return None
            self._quick = conn
        return self._quick

    async def quick_fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """A small, consistent read (ONE statement) by the fastest way there is.

        On SQLite outside a write unit it runs synchronously on the event loop's thread,
        on a read-only connection of its own: a WAL reader never waits for the writer, and
        a point lookup or a page of 100 rows takes tens of microseconds, where a trip to
        aiosqlite's thread and back costs ~0.5 ms of GIL hand-over on a busy box (every
        request authenticates). Only for statements whose result is bounded (a key
        lookup, a page with LIMIT); if the database is busy (a checkpoint, recovery) it
        falls back to the threaded path. Elsewhere (PostgreSQL, inside a unit): a
        :meth:`read` snapshot and :meth:`fetch_all`.
        """
        if self.backend == "sqlite" and not self.in_unit:
            conn = self._quick_connection()
            if conn is not None:
                try:
                    return list(conn.execute(sql, tuple(params)).fetchall())
                except sqlite3.OperationalError:
                    pass  # busy or locked: take the path that may wait
        async with self.read() as unit:
            return await self.fetch_all(unit, sql, params)

    def change_stamp(self) -> int | None:
        """A number that changes whenever another connection commits to the database
        (SQLite's ``PRAGMA data_version`` on the quick reader), for caching a read until the
        next commit; None where there is none (PostgreSQL, inside a write unit, a busy
        database): read again."""
        if self.backend != "sqlite" or self.in_unit:
            return None
        conn = self._quick_connection()
        if conn is None:
            return None
        try:
            row = conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            return None
        return None if row is None else int(row[0])

    async def ping(self, limit_s: float = 2.0) -> None:
        """Proves the database answers (``SELECT 1`` on a reader).

        Raises:
            StoreUnavailable: No answer within ``limit_s`` seconds.
        """
        timeout = limit_s
        try:
            async with asyncio.timeout(timeout):
                conn = await self._connect(self._reader)
                try:
                    await conn.execute(text("SELECT 1"))
                finally:
                    with contextlib.suppress(SQLAlchemyError, OSError):
                        await conn.close()
        except TimeoutError as exc:
            raise StoreUnavailable(f"the database did not answer within {timeout:g} s") from exc
        except SQLAlchemyError as exc:
            raise (translate(exc) or StoreUnavailable(_first_line(exc))) from exc

    async def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check`` (``["ok"]`` when sound); PostgreSQL: ``["ok"]``."""
        if self.backend != "sqlite":
            return ["ok"]
        async with self.read() as conn:
            result = await conn.exec_driver_sql("PRAGMA integrity_check")
            return [str(row[0]) for row in result]
