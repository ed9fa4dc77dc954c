"""Shared XE fixtures: a real PostgreSQL server for the session, and a fresh store per test.

- ``pg_server`` (session): a PostgreSQL 15 server started from the Debian package
  (``initdb`` + ``pg_ctl``) in a temporary directory, listening only on a Unix socket
  there. ``initdb`` refuses root, so as root it runs as ``nobody``. Skips with the reason
  when it cannot start.
- ``db_url`` (function, parametrised ``sqlite`` / ``postgresql``): the URL of a fresh,
  empty database: a new SQLite file, or a new PostgreSQL database dropped afterwards.
- ``store`` (function): ``Store.open(db_url)``, closed afterwards.
- ``sqlite_url`` (function): a fresh SQLite database only (for tests that open the file
  directly, e.g. to tamper with it).
- ``clock`` (function): the fake wall clock the services run on (``clock.advance(s)``).
- ``services`` (function): :class:`Services` on ``db_url`` with the admin ``root``
  (password ``ADMIN_PASSWORD``) bootstrapped; scrypt at a test cost.
- ``login`` / ``make_user`` (function): real logins returning principals.
- ``ssh_key`` (function): ``ssh_key("ed25519" | "ecdsa" | "rsa2048")`` → a public key line.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from enterprise_store.services import (
    NewUser,
    Principal,
    Role,
    ServiceConfig,
    Services,
)
from enterprise_store.store import Store
from tests._support.xe_hosts import TEST_HASHER

PG_BIN = Path(os.environ.get("XENON_PG_BIN", "/usr/lib/postgresql/15/bin"))


@dataclass(frozen=True)
class PgServer:
    """A running PostgreSQL server reachable on a Unix socket in ``socket_dir``."""

    socket_dir: Path
    data_dir: Path
    run_as: list[str]

    def url(self, database: str) -> str:
        """The XE URL of ``database`` on this server."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Runs ``pg_ctl`` on this server's data directory as its owner."""
        return subprocess.run(
            [*self.run_as, str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def restart(self) -> None:
        """Restarts the server (fast shutdown: every client connection is cut)."""
        done = self.pg_ctl("-m", "fast", "-l", str(self.socket_dir / "server.log"), "-w", "restart")
        assert done.returncode == 0, done.stderr

    async def admin(self, sql: str) -> None:
        """Runs one statement on the ``postgres`` database (outside a transaction)."""
        import asyncpg

        conn = await asyncpg.connect(
            host=str(self.socket_dir), user="postgres", database="postgres"
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


def _run_as() -> list[str] | None:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "nobody", "--"]
    return None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for the test session (skips with the reason if impossible)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL not installed ({PG_BIN}/initdb missing: apt install postgresql)")
    run_as = _run_as()
    if run_as is None:
        pytest.skip("running as root without setpriv or runuser to drop to 'nobody' for initdb")
    # Not under pytest's tmp dir: that is 0700 root, and the server runs as nobody.
    root = Path(tempfile.mkdtemp(prefix="xe-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "nobody", "nogroup")
    server = PgServer(socket_dir=root, data_dir=root / "data", run_as=run_as)
    init = subprocess.run(
        [*run_as, str(PG_BIN / "initdb"), "-D", str(server.data_dir), "-U", "postgres",
         "-A", "trust", "-E", "UTF8", "--no-sync"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    options = f"-h '' -k {root} -c fsync=off -c max_connections=200"
    start = server.pg_ctl("-o", options, "-l", str(root / "server.log"), "-w", "start")
    if start.returncode != 0:
        log = (root / "server.log").read_text(errors="replace")[-500:]
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {start.stderr.strip()} {log}")
    try:
        yield server
    finally:
        server.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'xe.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'xe.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"xe_{uuid.uuid4().hex[:16]}"
    await server.admin(f'CREATE DATABASE "{name}"')
    try:
        yield server.url(name)
    finally:
        await asyncio.sleep(0)
        await server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """An open, migrated store on a fresh database."""
    opened = await Store.open(db_url)
    try:
        yield opened
    finally:
        await opened.close()


# -- services ------------------------------------------------------------------------------


class Clock:
    """A wall clock the test moves by hand (starts at a fixed, realistic time)."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward."""
        self.now += seconds


# scrypt at N=2^12 (4 MiB) instead of 2^15: the same code, an eighth of the work per hash.
ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture
def clock() -> Clock:
    """The services' clock."""
    return Clock()


@pytest.fixture
async def services(db_url: str, clock: Clock) -> AsyncIterator[Services]:
    """Services on a fresh database (each backend) with a bootstrapped admin ``root``."""
    opened = await Services.open(db_url, config=ServiceConfig(hasher=TEST_HASHER), clock=clock)
    try:
        await opened.users.bootstrap_admin("root", ADMIN_PASSWORD)
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def login(services: Services) -> Callable[..., Awaitable[Principal]]:
    """``await login(name, password=…)``: logs in for real and returns the principal."""

    async def do(name: str, password: str = ADMIN_PASSWORD, source: str = "192.0.2.1") -> Principal:
        session = await services.users.login(name, password, source=source)
        return await services.users.authenticate(session.token, source=source)

    return do


@pytest.fixture
def make_user(
    services: Services, login: Callable[..., Awaitable[Principal]]
) -> Callable[..., Awaitable[Principal]]:
    """``await make_user(name, role, scopes=None)``: created by root; returns their principal."""

    async def do(name: str, role: str, scopes: tuple[str, ...] | None = None) -> Principal:
        root = await login("root")
        await services.users.create_user(
            root,
            NewUser(name=name, role=Role(role), scopes=scopes, password=f"{name}-password-1"),
        )
        return await login(name, f"{name}-password-1")

    return do


def ssh_public_key(kind: str = "ed25519", comment: str = "test@host") -> str:
    """A fresh OpenSSH public key line (``ed25519``, ``ecdsa`` or ``rsaBITS``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    key: Any
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{line.decode()} {comment}"


@pytest.fixture
def ssh_key() -> Callable[..., str]:
    """``ssh_key(kind="ed25519")``: a fresh OpenSSH public key line."""
    return ssh_public_key


@pytest.fixture
def admin_password() -> str:
    """The bootstrapped ``root``'s password."""
    return ADMIN_PASSWORD
