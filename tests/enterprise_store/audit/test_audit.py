"""The audit chain: appends commit with their change; verify finds removed, altered, reordered."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace

import pytest

from enterprise_store.audit import (
    GENESIS,
    AuditEntry,
    AuditLog,
    AuditQuery,
    AuditRecord,
    ChainVerifier,
    canonical_json,
    clean_text,
    record_hash,
)
from enterprise_store.store import Store


def _entry(i: int, **kw: object) -> AuditEntry:
    base: dict[str, object] = {
        "actor": "alice",
        "source": "127.0.0.1",
        "action": "user.create",
        "object": f"user:u{i}",
        "result": "ok",
    }
    base.update(kw)
    return AuditEntry(**base)  # type: ignore[arg-type]


async def _fill(log: AuditLog, store: Store, n: int) -> None:
    for i in range(1, n + 1):
        async with store.atomic() as conn:
            await log.append(conn, [_entry(i)])


async def test_appended_records_chain_and_verify(store: Store) -> None:
    log = AuditLog(store)
    await _fill(log, store, 5)
    report = await log.verify()
    assert report.ok, report.problems
    assert report.count == 5
    oldest, newest = report.fingerprint.split("|")
    page, _ = await log.list(AuditQuery(limit=10))
    assert [r.seq for r in page] == [5, 4, 3, 2, 1]
    assert page[-1].prev_hash == GENESIS and page[-1].hash == oldest
    assert page[0].hash == newest
    assert all(r.hash == record_hash(r) for r in page)


async def test_empty_chain_verifies_with_empty_fingerprint(store: Store) -> None:
    report = await AuditLog(store).verify()
    assert report.ok and report.count == 0 and report.fingerprint == ""


async def test_a_record_commits_and_rolls_back_with_its_change(store: Store) -> None:
    log = AuditLog(store)
    with pytest.raises(RuntimeError, match="change failed"):
        async with store.atomic() as conn:
            await log.append(conn, [_entry(1)])
            raise RuntimeError("change failed")
    assert await log.count() == 0
    await log.record(_entry(2))
    assert await log.count() == 1 and (await log.verify()).ok


async def test_append_outside_a_unit_is_refused(store: Store) -> None:
    log = AuditLog(store)
    async with store.read() as conn:
        with pytest.raises(RuntimeError, match="inside the change"):
            await log.append(conn, [_entry(1)])


async def test_secrets_in_details_are_redacted_and_text_is_escaped(store: Store) -> None:
    log = AuditLog(store)
    rec = await log.record(
        _entry(
            1,
            actor="evil\nuser\x1b[31m",
            details={"password": "hunter2", "nested": {"api_token": "xea_x"}, "role": "admin"},
        )
    )
    assert rec.actor == "evil\\x0auser\\x1b[31m"
    assert rec.details == {
        "password": "[redacted]",
        "nested": {"api_token": "[redacted]"},
        "role": "admin",
    }
    assert "hunter2" not in canonical_json(rec.body())
    assert clean_text("x" * 500, 10) == "x" * 9 + "…"


def test_canonical_json_refuses_floats() -> None:
    with pytest.raises(TypeError):
        canonical_json({"a": 1.5})
    assert canonical_json({"b": [1, "é"], "a": None}) == '{"a":null,"b":[1,"é"]}'


async def test_list_filters_and_pages(store: Store) -> None:
    log = AuditLog(store)
    async with store.atomic() as conn:
        await log.append(
            conn,
            [
                _entry(
                    i,
                    action="user.delete" if i % 3 == 0 else "user.create",
                    result="refused:role_required" if i % 4 == 0 else "ok",
                    actor="bob" if i % 2 else "alice",
                )
                for i in range(1, 13)
            ],
        )
    page, nxt = await log.list(AuditQuery(limit=5))
    assert [r.seq for r in page] == [12, 11, 10, 9, 8] and nxt == 8
    page, nxt = await log.list(AuditQuery(limit=5, before_seq=nxt))
    assert [r.seq for r in page] == [7, 6, 5, 4, 3] and nxt == 3
    page, nxt = await log.list(AuditQuery(limit=5, before_seq=nxt))
    assert [r.seq for r in page] == [2, 1] and nxt is None
    deletes, _ = await log.list(AuditQuery(action="user.delete"))
    assert [r.seq for r in deletes] == [12, 9, 6, 3]
    users, _ = await log.list(AuditQuery(action="user."))
    assert len(users) == 12
    refused, _ = await log.list(AuditQuery(result="refused"))
    assert [r.seq for r in refused] == [12, 8, 4]
    bob, _ = await log.list(AuditQuery(actor="bob", action="user.create"))
    assert [r.seq for r in bob] == [11, 7, 5, 1]
    evens, nxt = await log.list(AuditQuery(limit=2), visible=lambda r: r.seq % 2 == 0)
    assert [r.seq for r in evens] == [12, 10] and nxt == 10
    evens, nxt = await log.list(AuditQuery(limit=2, before_seq=4), visible=lambda r: r.seq % 2 == 0)
    assert [r.seq for r in evens] == [2] and nxt is None


async def test_two_stores_on_one_database_append_one_chain(db_url: str) -> None:
    """Two processes (two stores) appending at once still make one unbroken chain."""
    first, second = await Store.open(db_url), await Store.open(db_url)
    try:

        async def writer(store: Store, tag: str) -> None:
            log = AuditLog(store)
            for i in range(25):
                await log.record(_entry(i, actor=tag))

        await asyncio.gather(writer(first, "a"), writer(second, "b"))
        report = await AuditLog(first).verify()
        assert report.ok, report.problems
        assert report.count == 50
    finally:
        await first.close()
        await second.close()


# -- tampering, directly in the SQLite file ------------------------------------------------


@pytest.fixture
async def chain(sqlite_url: str) -> tuple[Store, sqlite3.Connection]:
    store = await Store.open(sqlite_url)
    await _fill(AuditLog(store), store, 6)
    raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    yield store, raw  # type: ignore[misc]
    raw.close()
    await store.close()


async def _problems(store: Store) -> list[tuple[int, str]]:
    report = await AuditLog(store).verify()
    assert not report.ok
    return [(p.seq, p.code) for p in report.problems]


async def test_removed_record_is_named(chain: tuple[Store, sqlite3.Connection]) -> None:
    store, raw = chain
    raw.execute("DELETE FROM audit_log WHERE seq = 3")
    problems = await _problems(store)
    assert (4, "gap") in problems and (4, "broken_link") in problems
    report = await AuditLog(store).verify()
    assert any("record 4 does not follow record 2" in p.message for p in report.problems)


async def test_altered_record_is_named(chain: tuple[Store, sqlite3.Connection]) -> None:
    store, raw = chain
    raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    assert await _problems(store) == [(2, "altered")]


async def test_altered_details_are_named(chain: tuple[Store, sqlite3.Connection]) -> None:
    store, raw = chain
    raw.execute("UPDATE audit_log SET details = '{\"x\":1}' WHERE seq = 5")
    assert await _problems(store) == [(5, "altered")]


async def test_reordered_records_are_named(chain: tuple[Store, sqlite3.Connection]) -> None:
    store, raw = chain
    # swap the positions of records 2 and 4 (a reorder keeps every row, changes the order)
    raw.execute("UPDATE audit_log SET seq = -1 WHERE seq = 2")
    raw.execute("UPDATE audit_log SET seq = 2 WHERE seq = 4")
    raw.execute("UPDATE audit_log SET seq = 4 WHERE seq = -1")
    problems = await _problems(store)
    assert {seq for seq, _ in problems} >= {2, 3, 4, 5}
    assert (2, "altered") in problems and (3, "broken_link") in problems


async def test_removed_oldest_record_is_found(chain: tuple[Store, sqlite3.Connection]) -> None:
    store, raw = chain
    raw.execute("DELETE FROM audit_log WHERE seq = 1")
    assert (2, "bad_genesis") in await _problems(store)


async def test_removed_newest_records_are_found(chain: tuple[Store, sqlite3.Connection]) -> None:
    store, raw = chain
    raw.execute("DELETE FROM audit_log WHERE seq >= 5")
    assert await _problems(store) == [(6, "truncated")]


async def test_a_rewritten_chain_fails_the_fingerprint_kept_elsewhere(
    chain: tuple[Store, sqlite3.Connection],
) -> None:
    """Someone who recomputes every hash after an edit passes the chain checks; only the
    fingerprint taken before catches it."""
    store, raw = chain
    before = (await AuditLog(store).verify()).fingerprint
    rows = raw.execute(
        "SELECT seq, ts_us, actor, source, action, object, result, enclaves, details "
        "FROM audit_log ORDER BY seq"
    ).fetchall()
    prev = GENESIS
    for seq, ts, actor, source, action, obj, result, _enc, _det in rows:
        rec = AuditRecord(
            seq, ts, "mallory" if seq == 3 else actor, source, action, obj, result, (), {}, prev
        )
        rec = replace(rec, hash=record_hash(rec))
        raw.execute(
            "UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (rec.actor, rec.prev_hash, rec.hash, seq),
        )
        prev = rec.hash
    raw.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))
    assert (await AuditLog(store).verify()).ok  # the rewrite is self-consistent
    report = await AuditLog(store).verify(expect=before)
    assert not report.ok
    assert [p.code for p in report.problems] == ["fingerprint_missing"]


def test_verifier_caps_the_problem_list() -> None:
    verifier = ChainVerifier(max_problems=3)
    verifier.feed(
        AuditRecord(i, 0, "a", "s", "x", "o", "ok", (), {}, GENESIS, "bad") for i in range(1, 10)
    )
    report = verifier.finish((9, "bad"))
    assert not report.ok and len(report.problems) == 3 and report.truncated_problems
