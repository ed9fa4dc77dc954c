"""The store on a real SQLite file and a real PostgreSQL server: units, savepoints, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from enterprise_store._errors import Conflict, InvalidInput, StoreUnavailable
from enterprise_store.store import Store, StoreConfig, current_revision, head_revision
from enterprise_store.store._schema import audit_log, metadata, users

AUDIT_COLUMNS = ["seq", "ts_us", "actor", "source", "action", "object", "result", "enclaves",
                 "details", "prev_hash", "hash"]  # fmt: skip


def _user(i: int) -> dict[str, object]:
    return {"id": f"id-{i}", "name": f"user{i}", "role": "auditor", "created_at_us": 1,
            "updated_at_us": 1}  # fmt: skip


async def _names(store: Store) -> list[str]:
    async with store.read() as conn:
        return list((await conn.execute(select(users.c.name).order_by(users.c.name))).scalars())


async def test_open_migrates_to_head_and_the_schema_matches_the_metadata(store: Store) -> None:
    import importlib
    import pkgutil

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import enterprise_store.store as package

    # Every table module puts its tables on the one metadata: load them all first.
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.endswith("_schema"):
            importlib.import_module(f"{package.__name__}.{info.name}")

    assert await current_revision(store) == head_revision()

    def diff(sync_conn: object) -> list[object]:
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(ctx, metadata))

    async with store.read() as conn:
        assert await conn.run_sync(diff) == []


async def test_reopening_a_migrated_database_keeps_its_rows(db_url: str) -> None:
    async with await Store.open(db_url) as first, first.atomic() as conn:
        await conn.execute(users.insert().values(**_user(1)))
    async with await Store.open(db_url) as second:
        assert await _names(second) == ["user1"]
        assert await current_revision(second) == head_revision()


async def test_two_stores_migrating_one_database_at_once_both_open(db_url: str) -> None:
    stores = await asyncio.gather(Store.open(db_url), Store.open(db_url))
    try:
        for s in stores:
            assert await current_revision(s) == head_revision()
    finally:
        for s in stores:
            await s.close()


async def test_a_unit_commits_all_or_nothing(store: Store) -> None:
    async with store.atomic() as conn:
        await conn.execute(users.insert().values(**_user(1)))
    with pytest.raises(RuntimeError):
        async with store.atomic() as conn:
            await conn.execute(users.insert().values(**_user(2)))
            raise RuntimeError("fails after the first write")
    assert await _names(store) == ["user1"]


async def test_nested_unit_is_a_savepoint_that_rolls_back_alone(store: Store) -> None:
    async with store.atomic() as conn:
        await conn.execute(users.insert().values(**_user(1)))
        with pytest.raises(ValueError):
            async with store.atomic() as inner:
                assert inner is conn
                await inner.execute(users.insert().values(**_user(2)))
                raise ValueError("inner fails")
        async with store.atomic() as inner:
            await inner.execute(users.insert().values(**_user(3)))
    assert await _names(store) == ["user1", "user3"]


async def test_read_inside_a_unit_sees_its_uncommitted_writes_and_others_do_not(
    store: Store,
) -> None:
    seen_outside: list[list[str]] = []
    async with store.atomic() as conn:
        await conn.execute(users.insert().values(**_user(1)))
        assert await _names(store) == ["user1"]
        # Another task is outside the unit: it reads the committed state.
        seen_outside.append(await asyncio.create_task(_names_in_fresh_context(store)))
    assert seen_outside == [[]]
    assert await _names(store) == ["user1"]


async def _names_in_fresh_context(store: Store) -> list[str]:
    from enterprise_store.store import _store

    _store._UNIT.set(None)  # a task not started by the unit's code (e.g. another request)
    return await _names(store)


class Crash(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch it on the way)."""


async def test_crash_before_commit_leaves_nothing(db_url: str) -> None:
    armed = False

    def crash(step: str) -> None:
        if armed and step == "before_commit":
            raise Crash("simulated crash")

    async with await Store.open(db_url, checkpoint=crash) as crashing:
        armed = True
        with pytest.raises(Crash):
            async with crashing.atomic() as conn:
                await conn.execute(users.insert().values(**_user(1)))
    async with await Store.open(db_url) as store:
        assert await _names(store) == []


async def test_concurrent_units_are_serialised(store: Store) -> None:
    async with store.atomic() as conn:
        await conn.execute(users.insert().values(**_user(0)))

    async def bump() -> None:
        async with store.atomic() as conn:
            n = (await conn.execute(select(users.c.failed_logins))).scalar_one()
            await asyncio.sleep(0)  # every other unit gets the chance to interleave
            await conn.execute(users.update().values(failed_logins=n + 1))

    await asyncio.gather(*(bump() for _ in range(40)))
    async with store.read() as conn:
        assert (await conn.execute(select(users.c.failed_logins))).scalar_one() == 40


async def test_insert_many_is_one_unit_and_a_conflict_keeps_no_row(store: Store) -> None:
    rows = [(i, i, "a", "s", "x", "o", "ok", "[]", "{}", "p", f"h{i}") for i in range(1, 2501)]
    assert await store.insert_many(audit_log, AUDIT_COLUMNS, rows, batch_size=1000) == 2500
    dup = [(5000, 1, "a", "s", "x", "o", "ok", "[]", "{}", "p", "new"), rows[0]]
    with pytest.raises(Conflict):
        await store.insert_many(audit_log, AUDIT_COLUMNS, dup)
    async with store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(audit_log))).scalar() == 2500


async def test_insert_many_refuses_unknown_columns(store: Store) -> None:
    with pytest.raises(ValueError, match="no columns"):
        await store.insert_many(audit_log, ["seq", "nope"], [(1, 2)])


async def test_sqlite_is_wal_with_busy_timeout_and_foreign_keys(sqlite_url: str) -> None:
    async with await Store.open(StoreConfig(url=sqlite_url, busy_timeout_ms=4321)) as store:
        async with store.atomic() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 4321
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 2  # FULL
        async with store.read() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 4321
        assert await store.integrity_check() == ["ok"]


async def test_sqlite_writer_takes_the_write_lock_at_begin(sqlite_url: str) -> None:
    """BEGIN IMMEDIATE: another process cannot start writing while a unit is open, even
    before the unit has written anything (a deferred BEGIN would let it in)."""
    path = sqlite_url.removeprefix("sqlite:///")
    async with await Store.open(sqlite_url) as store:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            async with store.atomic():
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            other.execute("BEGIN IMMEDIATE")  # free again once the unit ended
            other.execute("ROLLBACK")
        finally:
            other.close()


async def test_sqlite_lock_held_by_another_process_is_store_unavailable(sqlite_url: str) -> None:
    path = sqlite_url.removeprefix("sqlite:///")
    async with await Store.open(StoreConfig(url=sqlite_url, busy_timeout_ms=50)) as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreUnavailable, match="locked"):
                async with store.atomic() as conn:
                    await conn.execute(users.insert().values(**_user(1)))
            other.execute("ROLLBACK")
        finally:
            other.close()
        async with store.atomic() as conn:  # the store works again
            await conn.execute(users.insert().values(**_user(1)))


def test_urls_are_normalised_and_bad_ones_refused(tmp_path: Path) -> None:
    from enterprise_store.store import describe, normalize_url

    assert normalize_url(str(tmp_path / "a.db")).drivername == "sqlite+aiosqlite"
    assert normalize_url("postgres://u:secret@h/db").drivername == "postgresql+asyncpg"
    assert "secret" not in describe(normalize_url("postgresql://u:secret@h/db"))
    for bad in ("", "mysql://h/db", "sqlite://", "sqlite:///:memory:"):
        with pytest.raises(InvalidInput):
            normalize_url(bad)


async def test_unreachable_postgresql_is_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable):
        await Store.open(f"postgresql://postgres@/xe?host={tmp_path}")


async def test_postgresql_pgbouncer_settings_work(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    async with await Store.open(StoreConfig(url=db_url, pgbouncer=True)) as store:
        async with store.atomic() as conn:
            await conn.execute(users.insert().values(**_user(1)))
        for _ in range(3):  # statements are not cached under a reused name
            assert await _names(store) == ["user1"]


@pytest.mark.slow
async def test_postgresql_restart_is_survived(db_url: str, request: pytest.FixtureRequest) -> None:
    """Pooled connections die with a server restart; the next unit gets a fresh one."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    pg_server = request.getfixturevalue("pg_server")
    async with await Store.open(db_url) as store:
        async with store.atomic() as conn:
            await conn.execute(users.insert().values(**_user(1)))
        assert await _names(store) == ["user1"]
        pg_server.restart()
        assert await _names(store) == ["user1"]
        async with store.atomic() as conn:
            await conn.execute(users.insert().values(**_user(2)))
        await store.ping()
        assert await _names(store) == ["user1", "user2"]


async def test_driver_level_reads_see_committed_rows_and_their_units_writes(store: Store) -> None:
    sql = "SELECT name FROM users WHERE role = ? ORDER BY name"
    async with store.atomic() as conn:
        await conn.execute(users.insert().values(**_user(1)))
        # inside the unit: the unit's own connection, its uncommitted row included
        assert [r[0] for r in await store.quick_fetch(sql, ("auditor",))] == ["user1"]
        assert [r[0] for r in await store.fetch_all(conn, sql, ("auditor",))] == ["user1"]
        outside = asyncio.create_task(_quick_in_fresh_context(store, sql))
        assert await outside == []  # another task does not see it before the commit
    assert [r[0] for r in await store.quick_fetch(sql, ("auditor",))] == ["user1"]
    async with store.read() as conn:
        rows = await store.fetch_all(
            conn,
            "SELECT name, failed_logins FROM users WHERE failed_logins = ? AND id = ?",
            (0, "id-1"),
        )
        assert [tuple(r) for r in rows] == [("user1", 0)]


async def _quick_in_fresh_context(store: Store, sql: str) -> list[str]:
    from enterprise_store.store import _store

    _store._UNIT.set(None)
    return [r[0] for r in await store.quick_fetch(sql, ("auditor",))]


async def test_quick_reads_wait_for_no_lock(sqlite_url: str) -> None:
    """A WAL reader is not blocked by a writer holding the write lock (another process)."""
    path = sqlite_url.removeprefix("sqlite:///")
    async with await Store.open(sqlite_url) as store:
        async with store.atomic() as conn:
            await conn.execute(users.insert().values(**_user(1)))
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("DELETE FROM users")
            rows = await store.quick_fetch("SELECT name FROM users", ())
            assert [r[0] for r in rows] == ["user1"]
            other.execute("COMMIT")
            assert await store.quick_fetch("SELECT name FROM users", ()) == []
        finally:
            other.close()
