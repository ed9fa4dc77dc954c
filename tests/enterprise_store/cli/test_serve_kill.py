"""kill -9 of ``xenon xe serve`` while four clients write: on restart every acknowledged
write is there, nothing is half-written (each user has its audit record and each
``user.create ok`` record its user), the chain verifies and SQLite's integrity check is ok.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from enterprise_store.audit import AuditLog, AuditQuery
from enterprise_store.client import ServiceUnreachable, XeClient, XeError
from enterprise_store.store import Store
from enterprise_store.store._schema import users

ROUNDS = 2
WRITERS = 4


async def _hammer(url: str, ca: Path, password: str, pid: int, kill_after: int) -> list[str]:
    acknowledged: list[str] = []
    enough = asyncio.Event()
    async with XeClient(url, ca=ca, timeout=30) as admin:
        await admin.login("admin", password)

        async def writer(w: int) -> None:
            for i in range(10_000):
                name = f"w{w}_{os.getpid() % 1000}_{i}_{random.randrange(10**6)}"
                try:
                    await admin.create_user(name, "auditor")
                except (ServiceUnreachable, XeError):
                    return
                acknowledged.append(name)
                if len(acknowledged) >= kill_after:
                    enough.set()

        tasks = [asyncio.create_task(writer(w)) for w in range(WRITERS)]
        async with asyncio.timeout(90):  # liveness bound, not a timing assertion
            await enough.wait()
        os.kill(pid, signal.SIGKILL)
        await asyncio.gather(*tasks, return_exceptions=True)
    return acknowledged


async def _inspect(db: Path) -> tuple[set[str], set[str], list[str], bool]:
    async with await Store.open(f"sqlite:///{db}", migrate=False) as store:
        integrity = await store.integrity_check()
        async with store.read() as conn:
            names = set((await conn.execute(select(users.c.name))).scalars())
        log = AuditLog(store)
        records, _ = await log.list(AuditQuery(action="user.create", result="ok", limit=1000))
        created = {r.object.removeprefix("user:") for r in records}
        report = await log.verify()
    return names, created, integrity, report.ok


@pytest.mark.slow
def test_kill_9_during_writes_loses_nothing_committed_and_leaves_nothing_half_written(
    xe_state: Path,
    start_serve: Callable[..., tuple[subprocess.Popen[str], str]],
    admin_password_cli: str,
) -> None:
    all_acknowledged: set[str] = set()
    for _ in range(ROUNDS):
        proc, url = start_serve(xe_state)
        acknowledged = asyncio.run(
            _hammer(
                url,
                xe_state / "pki" / "ca-cert.pem",
                admin_password_cli,
                proc.pid,
                kill_after=random.randint(10, 60),
            )
        )
        assert proc.wait(timeout=30) == -signal.SIGKILL
        all_acknowledged |= set(acknowledged)
        names, created, integrity, chain_ok = asyncio.run(_inspect(xe_state / "xe.db"))
        assert integrity == ["ok"]
        assert chain_ok
        assert all_acknowledged <= names  # nothing acknowledged is lost
        assert names - {"admin"} == created  # no user without its record, no record without user
    proc, url = start_serve(xe_state)  # and it comes back up

    async def login() -> str:
        async with XeClient(url, ca=xe_state / "pki" / "ca-cert.pem") as xe:
            await xe.login("admin", admin_password_cli)
            return (await xe.verify_audit()).fingerprint

    assert "|" in asyncio.run(login())
