"""Loss of the PostgreSQL connection: every driver form of it is ``StoreUnavailable``
(503, retried), ``/readyz`` says not ready while the server is away and ready once it is
back, and a write retried after it succeeds with nothing committed lost."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError

from enterprise_store._errors import StoreUnavailable
from enterprise_store.api import create_app
from enterprise_store.client import XeClient
from enterprise_store.services import PasswordHasher, ServiceConfig, Services
from enterprise_store.store._store import translate

PASSWORD = "correct horse battery staple"


def _wrapped(orig: BaseException, *, invalidated: bool = False) -> DBAPIError:
    return DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        ConnectionResetError("reset by peer"),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        _wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")),
        _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed")),
        _wrapped(ValueError("anything"), invalidated=True),
    ],
    ids=lambda e: type(e).__name__ + ":" + str(getattr(e, "orig", e))[:20],
)
def test_every_form_of_a_lost_connection_is_store_unavailable(exc: BaseException) -> None:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc.__cause__ = exc.orig
    assert isinstance(translate(exc), StoreUnavailable)


def test_a_statement_error_is_not_mistaken_for_a_lost_connection() -> None:
    assert translate(_wrapped(asyncpg.exceptions.UndefinedTableError("no such table"))) is None
    assert translate(ValueError("ours")) is None


async def _until(predicate: Any, limit_s: float = 60.0) -> None:
    async with asyncio.timeout(limit_s):
        for _ in range(int(limit_s / 0.2) + 1):
            if await predicate():
                return
            await asyncio.sleep(0.2)
    raise AssertionError(f"not within {limit_s} s")


@pytest.mark.slow
async def test_postgresql_outage_shows_in_readyz_and_loses_nothing(
    db_url: str, request: pytest.FixtureRequest
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    pg = request.getfixturevalue("pg_server")
    services = await Services.open(db_url, config=ServiceConfig(hasher=PasswordHasher(n=2**12)))
    transport = httpx.ASGITransport(app=create_app(services), client=("192.0.2.10", 4711))
    xe = XeClient("http://xe.test", transport=transport)
    stopped = False
    try:
        await services.users.bootstrap_admin("root", PASSWORD)
        await xe.login("root", PASSWORD)
        for name in ("E1", "E2"):
            await xe.policy.create_enclave(name)
        assert (await xe.readyz()).status == "ready"

        options = (pg.data_dir / "postmaster.opts").read_text()
        stop = pg.pg_ctl("-m", "fast", "-w", "stop")
        assert stop.returncode == 0, stop.stderr
        stopped = True
        ready = await xe.readyz()
        assert ready.status == "not_ready"
        assert ready.checks["store"] != "ok"
        with pytest.raises(StoreUnavailable):
            await xe.policy.create_enclave("E3")

        # The same command line the server ran with (socket directory, no TCP).
        args = options.split(maxsplit=1)[1].strip() if " " in options else ""
        start = pg.pg_ctl("-o", _server_options(args), "-l", str(pg.socket_dir / "server.log"),
                          "-w", "start")  # fmt: skip
        assert start.returncode == 0, start.stderr
        stopped = False

        async def is_ready() -> bool:
            return (await xe.readyz()).status == "ready"

        await _until(is_ready)
        created = await _retried(lambda: xe.policy.create_enclave("E3"))
        assert created.item.name == "E3"
        names = [e.name for e in (await xe.policy.list_enclaves()).items]
        assert names == ["E1", "E2", "E3"]
    finally:
        if stopped:
            pg.pg_ctl("-o", f"-h '' -k {pg.socket_dir} -c fsync=off -c max_connections=200",
                      "-l", str(pg.socket_dir / "server.log"), "-w", "start")  # fmt: skip
        await xe.aclose()
        await services.close()


def _server_options(opts: str) -> str:
    """postmaster.opts holds quoted arguments after the binary ("-D" "DIR" "-h" "" ...):
    keep everything but the data directory, which pg_ctl passes itself."""
    import shlex

    words = shlex.split(opts)
    out: list[str] = []
    skip = False
    for w in words:
        if skip:
            skip = False
            continue
        if w == "-D":
            skip = True
            continue
        out.append(shlex.quote(w))
    return " ".join(out)


async def _retried(write: Any, attempts: int = 10) -> Any:
    """What a client does with a 503: try again a little later."""
    for _ in range(attempts - 1):
        try:
            return await write()
        except StoreUnavailable:
            await asyncio.sleep(0.5)
    return await write()
