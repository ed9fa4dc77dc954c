"""Xenon Enterprise: the store's hot-insert path and the API's read latency, each against
its baseline measured in the same run.

``python -m benchmarks.xe --json`` (``--only KEY`` to run some) measures:

- ``ingest_rows_per_s``: 100,000 history-like rows in batches of 1,000 through
  ``Store.insert_many`` (the store's writer lock, ``BEGIN IMMEDIATE``, driver-level
  ``executemany``, commit per batch) into a SQLite file; ``raw_executemany_rows_per_s``:
  the same rows with plain aiosqlite ``executemany`` + commit per batch on a second file
  with the same pragmas (WAL, synchronous=FULL). Medians of 3 alternating rounds; goal
  ``ingest >= 0.5 x raw``.
- ``api_p50_ms``: ``GET /api/v1/users?limit=100`` (a page of 100 of 1,000 users, bearer
  token checked against the store) from the real ``xenon xe serve`` over HTTPS;
  ``echo_p50_ms``: a bare ASGI app answering 200 with a tiny JSON body on the same stack
  (uvicorn, the same TLS 1.3 context). Each server in its own process; one keep-alive
  httpx client per target, bursts of 25 requests taking turns so that both see the same
  load (the box is shared); goal ``api <= 2 x echo``. ``*_server_cpu_ms_per_req`` (each
  server process's CPU time over its requests, from /proc) is the load-independent view.
  ``api_whoami_p50_ms`` (a one-object read) is reported beside it.

Each key is one function in ``MEASUREMENTS`` (later keys, e.g. the checker's
``check_ms_10k_hosts_100k_vms``, add one entry). Progress goes to stderr; one JSON object
is printed last and written to ``benchmarks/results/xe.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "xe.json"
ROWS = 100_000
BATCH = 1_000
ROUNDS = 3
USERS = 1_000
REQUESTS = 600
WARMUP = 50
BURST = 25
PASSWORD = "benchmark-admin-password"
COLUMNS = ("ts_us", "host", "vm", "seclabel", "nr", "subop", "kind", "count")


def progress(message: str) -> None:
    """Progress to stderr (stdout carries only the final JSON)."""
    print(f"[xe-bench] {message}", file=sys.stderr, flush=True)


def _rows(n: int) -> list[tuple[Any, ...]]:
    rng = random.Random(11)
    base = 1_750_000_000_000_000
    return [
        (
            base + i * 137,
            f"host-{rng.randrange(1000):04d}",
            f"vm-{rng.randrange(10000):05d}",
            f"EA-{rng.randrange(40)}",
            rng.randrange(64),
            rng.randrange(256),
            rng.choice(("not_in_profile", "rate", "channel")),
            rng.randrange(1, 10),
        )
        for i in range(n)
    ]


# -- ingest vs raw executemany -------------------------------------------------------------


async def _ingest_once(path: Path, rows: list[tuple[Any, ...]]) -> float:
    from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table

    from enterprise_store.store import Store

    meta = MetaData()
    table = Table(
        "bench_violations",
        meta,
        Column("id", Integer, primary_key=True),
        Column("ts_us", BigInteger, nullable=False),
        Column("host", String(64)),
        Column("vm", String(64)),
        Column("seclabel", String(64)),
        Column("nr", Integer),
        Column("subop", Integer),
        Column("kind", String(16)),
        Column("count", Integer),
    )
    async with await Store.open(f"sqlite:///{path}") as store:
        async with store.atomic() as conn:
            await conn.run_sync(meta.create_all)
        start = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            await store.insert_many(table, COLUMNS, rows[i : i + BATCH], batch_size=BATCH)
        elapsed = time.perf_counter() - start
    return len(rows) / elapsed


async def _raw_once(path: Path, rows: list[tuple[Any, ...]]) -> float:
    import aiosqlite

    async with aiosqlite.connect(path) as db:
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA busy_timeout=5000",
        ):
            await db.execute(pragma)
        await db.execute(
            "CREATE TABLE bench_violations (id INTEGER PRIMARY KEY, ts_us BIGINT NOT NULL, "
            "host VARCHAR(64), vm VARCHAR(64), seclabel VARCHAR(64), nr INTEGER, "
            "subop INTEGER, kind VARCHAR(16), count INTEGER)"
        )
        await db.commit()
        marks = ", ".join("?" * len(COLUMNS))
        sql = f"INSERT INTO bench_violations ({', '.join(COLUMNS)}) VALUES ({marks})"
        start = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            await db.executemany(sql, rows[i : i + BATCH])
            await db.commit()
        elapsed = time.perf_counter() - start
    return len(rows) / elapsed


async def ingest_rows_per_s() -> dict[str, Any]:
    """``ingest_rows_per_s`` and ``raw_executemany_rows_per_s``, same rows, same run."""
    rows = _rows(ROWS)
    ingest: list[float] = []
    raw: list[float] = []
    with tempfile.TemporaryDirectory(prefix="xe-bench-ingest-") as tmp:
        for r in range(ROUNDS):
            order = [("raw", _raw_once), ("ingest", _ingest_once)]
            if r % 2:
                order.reverse()
            for name, fn in order:
                rate = await fn(Path(tmp) / f"{name}-{r}.db", rows)
                (raw if name == "raw" else ingest).append(rate)
                progress(f"round {r + 1}: {name} {rate:,.0f} rows/s")
    result: dict[str, Any] = {
        "ingest_rows_per_s": round(statistics.median(ingest)),
        "raw_executemany_rows_per_s": round(statistics.median(raw)),
    }
    result["ingest_vs_raw"] = round(
        result["ingest_rows_per_s"] / result["raw_executemany_rows_per_s"], 2
    )
    return result


# -- API read vs bare echo -----------------------------------------------------------------


def _echo_main(state: Path) -> None:
    """(Subprocess) a bare ASGI echo on uvicorn with XE's TLS context."""
    from enterprise_store.api import bind, server_tls_context, url_for

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"echo":true}'})

    import uvicorn

    sock = bind("127.0.0.1", 0)
    tls = server_tls_context(
        state / "pki" / "xe-server-cert.pem", state / "pki" / "xe-server-key.pem"
    )
    config = uvicorn.Config(
        app,
        ssl_context_factory=lambda _c, _d: tls,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    server = uvicorn.Server(config)
    (state / "echo-url").write_text(url_for(sock))
    server.run(sockets=[sock])


def _start(cmd: list[str], ready: Path) -> subprocess.Popen[bytes]:
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {' '.join(cmd)}")
        time.sleep(0.05)
    time.sleep(0.3)  # the file is written as the socket starts accepting
    return proc


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _interleaved_p50_ms(
    targets: dict[str, tuple[str, str, str | None]],
    ca: Path,
    pids: dict[str, int] | None = None,
) -> dict[str, float]:
    """p50 latency of each ``name: (base URL, path, token)``: bursts of ``BURST`` sequential
    requests per target, targets taking turns (one keep-alive client each), so that every
    target sees the same load on a shared box while its connection and server stay warm."""
    import httpx

    from enterprise_store.client import tls_context

    clients = {
        name: httpx.AsyncClient(
            base_url=url,
            verify=tls_context(ca),
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
        for name, (url, _path, token) in targets.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in targets}
    cpu: dict[str, float] = dict.fromkeys(targets, 0.0)
    pids = pids or {}
    try:
        for burst in range((WARMUP + REQUESTS) // BURST):
            for name, (_url, path, _token) in targets.items():
                pid = pids.get(name)
                before = _cpu_s(pid) if pid and burst * BURST >= WARMUP else None
                for i in range(BURST):
                    start = time.perf_counter()
                    response = await clients[name].get(path)
                    elapsed = time.perf_counter() - start
                    response.raise_for_status()
                    if burst * BURST + i >= WARMUP:
                        samples[name].append(elapsed * 1000)
                if pid and before is not None:
                    cpu[name] += _cpu_s(pid) - before
    finally:
        for client in clients.values():
            await client.aclose()
    out = {name: statistics.median(values) for name, values in samples.items()}
    for name in pids:
        out[name.replace("p50_ms", "server_cpu_ms_per_req")] = cpu[name] * 1000 / REQUESTS
    return out


async def _prepare_state(state: Path) -> None:
    from enterprise_store.services import NewUser, Principal, Role, Services

    init = subprocess.run(  # noqa: ASYNC221 - set-up before anything is measured
        [
            sys.executable,
            "-m",
            "enterprise_store.cli",
            "init",
            "--state-dir",
            str(state),
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if init.returncode != 0:
        raise RuntimeError(init.stderr)
    services = await Services.open(f"sqlite:///{state / 'xe.db'}")
    try:
        system = Principal.system()
        for i in range(USERS - 1):
            role = (Role.AUDITOR, Role.OPERATOR, Role.ADMIN)[i % 3]
            await services.users.create_user(system, NewUser(name=f"user{i:04d}", role=role))
    finally:
        await services.close()


async def api_p50_ms() -> dict[str, Any]:
    """``api_p50_ms`` (user list page) and ``echo_p50_ms`` on the same server stack."""
    from enterprise_store.client import XeClient

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="xe-bench-api-") as tmp:
        state = Path(tmp) / "xe"
        await _prepare_state(state)
        ca = state / "pki" / "ca-cert.pem"
        progress(f"{USERS} users stored")

        echo = _start(
            [sys.executable, "-m", "benchmarks.xe", "--echo", str(state)], state / "echo-url"
        )
        serve = None
        try:
            serve = _start(
                [
                    sys.executable,
                    "-m",
                    "enterprise_store.cli",
                    "serve",
                    "--state-dir",
                    str(state),
                    "--listen",
                    "127.0.0.1:0",
                    "--quiet",
                    "--no-access-log",
                ],
                state / "xe-server.json",
            )
            echo_url = (state / "echo-url").read_text()
            url = json.loads((state / "xe-server.json").read_text())["url"]
            async with XeClient(url, ca=ca) as xe:
                token = (await xe.login("admin", PASSWORD)).token
            p50 = await _interleaved_p50_ms(
                {
                    "echo_p50_ms": (echo_url, "/echo", None),
                    "api_p50_ms": (url, "/api/v1/users?limit=100", token),
                    "api_whoami_p50_ms": (url, "/api/v1/auth/whoami", token),
                },
                ca,
                pids={
                    "echo_p50_ms": echo.pid,
                    "api_p50_ms": serve.pid,
                    "api_whoami_p50_ms": serve.pid,
                },
            )
            result.update({k: round(v, 3) for k, v in p50.items()})
            progress(
                f"echo p50 {result['echo_p50_ms']} ms, api p50 {result['api_p50_ms']} ms, "
                f"whoami {result['api_whoami_p50_ms']} ms"
            )
        finally:
            for proc in (echo, serve):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=30)
    result["api_vs_echo"] = round(result["api_p50_ms"] / result["echo_p50_ms"], 2)
    result["api_vs_echo_server_cpu"] = round(
        result["api_server_cpu_ms_per_req"] / max(result["echo_server_cpu_ms_per_req"], 1e-3), 2
    )
    return result


def _history_ingest() -> Callable[[], Coroutine[Any, Any, dict[str, Any]]]:
    # The real ingestion path (the Ingester into history_violations): benchmarks/xe_ingest.py.
    from benchmarks.xe_ingest import ingest_rows_per_s as history_ingest_rows_per_s

    return history_ingest_rows_per_s


def _propagate() -> Callable[[], Coroutine[Any, Any, dict[str, Any]]]:
    # A version to 1,000 simulated hosts over established mTLS: benchmarks/xe_propagate.py.
    from benchmarks.xe_propagate import propagate_s_1000_hosts

    return propagate_s_1000_hosts


MEASUREMENTS: dict[str, Callable[[], Coroutine[Any, Any, dict[str, Any]]]] = {
    "ingest_rows_per_s": _history_ingest(),
    "api_p50_ms": api_p50_ms,
    "propagate_s_1000_hosts": _propagate(),
}
GOALS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "ingest_rows_per_s>=0.5*raw": lambda r: r["ingest_vs_raw"] >= 0.5,
    "api_p50_ms<=2*echo": lambda r: r["api_vs_echo"] <= 2.0,
}


def main() -> int:
    """``python -m benchmarks.xe --json``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    parser.add_argument("--only", action="append", choices=sorted(MEASUREMENTS))
    parser.add_argument("--echo", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        _echo_main(args.echo)
        return 0
    result: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    for key in args.only or list(MEASUREMENTS):
        progress(f"measuring {key}")
        result.update(asyncio.run(MEASUREMENTS[key]()))
    result["goals"] = {name: goal(result) for name, goal in GOALS.items() if _has(result, name)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


def _has(result: dict[str, Any], goal: str) -> bool:
    return ("ingest_vs_raw" in result) if goal.startswith("ingest") else ("api_vs_echo" in result)


if __name__ == "__main__":
    sys.exit(main())
