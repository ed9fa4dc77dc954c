"""History over HTTP: the routes through the real client (ASGI), the OpenAPI roles, the CLI
commands' output, and the ingestion metrics on /metrics."""

from __future__ import annotations

import argparse
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from enterprise_store._errors import InvalidInput, NotFound, RoleRequired, Unauthenticated
from enterprise_store.api import create_app
from enterprise_store.client import XeClient
from enterprise_store.services import Services
from enterprise_store.services._history import ViolationQuery
from enterprise_store.store._history_schema import history_violations
from enterprise_store.store._policy_schema import hosts
from enterprise_store.workers import start_ingestion


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """HTTP on SQLite only: the service tests cover both backends."""
    return sqlite_url


@pytest.fixture
def app(services: Services) -> FastAPI:
    return create_app(services)


@pytest.fixture
async def client(
    app: FastAPI, admin_password: str
) -> AsyncIterator[Callable[..., Awaitable[XeClient]]]:
    """``await client(name=None, password=None)``: a client over ASGI, logged in if named."""
    made: list[XeClient] = []

    async def make(name: str | None = None, password: str | None = None) -> XeClient:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 4711))
        xe = XeClient("http://xe.test", transport=transport)
        made.append(xe)
        if name is not None:
            await xe.login(name, password or admin_password)
        return xe

    yield make
    for xe in made:
        await xe.aclose()


async def test_routes_answer_what_the_service_answers(
    ingested: Any, client: Any, make_user: Any, login: Any
) -> None:
    root = await client("root")
    service_root = await login("root")
    window = {"since": _iso(ingested.since_us), "until": _iso(ingested.until_us)}

    page = await root.history.violations(limit=50, **window)
    assert len(page.items) == 50 and page.next_cursor
    again = await root.history.violations(limit=50, cursor=page.next_cursor, **window)
    assert not {(v.epoch, v.seq) for v in page.items} & {(v.epoch, v.seq) for v in again.items}
    first = page.items[0]
    assert first.host_name == "xenon-1" and first.vm_name == first.domain
    assert first.ts.timestamp() == pytest.approx(first.ts_us / 1e6)
    every = [v async for v in root.history.iter_violations(**window)]
    assert len(every) == (await root.history.summary(**window)).total

    picked = await root.history.violations_fields(["seq", "kind"], limit=3)
    assert [set(v.model_dump(exclude_none=True)) for v in picked.items] == [{"seq", "kind"}] * 3

    summary = await root.history.summary(**window)
    direct = await ingested.history.violation_summary(
        service_root, ViolationQuery(since_us=ingested.since_us, until_us=ingested.until_us)
    )
    assert summary.total == direct.total
    assert [(g.vm_name, g.hypercall, g.violations) for g in summary.groups] == [
        (g.vm_name, g.hypercall, g.violations) for g in direct.groups
    ]
    enclave_b = ingested.enclave["Enclave B"]
    by_name = await root.history.summary(enclave="Enclave B", **window)
    assert {g.enclave_id for g in by_name.groups} == {enclave_b}

    whole = await root.history.stats(host="xenon-1", domain="", range="10m")
    assert [s.domain for s in whole.series] == [""] and whole.series[0].points
    [cursor] = await root.history.ingest_status()
    assert cursor.host_name == "xenon-1" and cursor.lost == 0

    await make_user("audb", "auditor", scopes=(enclave_b,))
    scoped = await client("audb", "audb-password-1")
    mine = await scoped.history.summary(**window)
    assert {g.enclave_id for g in mine.groups} == {enclave_b} and mine.total < summary.total
    with pytest.raises(RoleRequired):
        await scoped.history.stats(domain="", range="10m")
    with pytest.raises(RoleRequired):
        await scoped.history.ingest_status()
    with pytest.raises(Unauthenticated):
        await (await client()).history.violations()
    with pytest.raises(InvalidInput):
        await root.history.violations(kind="bogus")
    with pytest.raises(InvalidInput):
        await root.history.violations(cursor="garbage")
    with pytest.raises(NotFound):
        await root.history.summary(vm="no-such-vm")


async def test_openapi_declares_the_auditor_role(client: Any) -> None:
    xe = await client()
    doc = (await xe._request("GET", "/openapi.json")).json()
    ops = {p: v["get"] for p, v in doc["paths"].items() if p.startswith("/api/v1/history")}
    assert set(ops) == {
        "/api/v1/history/violations",
        "/api/v1/history/violations/summary",
        "/api/v1/history/stats",
        "/api/v1/history/ingest",
    }
    assert {op["x-required-role"] for op in ops.values()} == {"auditor"}


async def test_cli_commands_print_the_history(
    ingested: Any, client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from enterprise_store.cli import register
    from enterprise_store.cli._history import HANDLERS

    parser = argparse.ArgumentParser(prog="xenon")
    register(parser.add_subparsers(dest="command"))
    root = await client("root")

    async def run(*argv: str) -> str:
        args = parser.parse_args(["xe", "history", *argv])
        assert await HANDLERS[args.xe_action](root, args) == 0
        return capsys.readouterr().out

    since, until = _iso(ingested.since_us), _iso(ingested.until_us)
    out = await run("summary", "--since", since, "--until", until)
    total = (await root.history.summary(since=since, until=until)).total
    assert re.search(rf"^{total} violations from ", out, re.M)
    assert "xenon-1" in out and "ENCLAVE" in out
    out = await run("violations", "--limit", "5", "--kind", "rate")
    assert len(out.strip().splitlines()) == 6 and out.count(" rate ") == 5
    out = await run("stats", "--host", "xenon-1", "--whole-host")
    assert "(whole host)" in out
    out = await run("ingest")
    assert "xenon-1" in out.splitlines()[1]


async def test_metrics_report_the_running_ingester(
    services: Services, client: Any, sim_hosts: Any, xe_policy: Any, put_policy: Any,
    xps_source: Any, ingest: Any, wait_for: Any,
) -> None:  # fmt: skip
    xe = await client()
    assert "xe_ingest_rows_total" not in await xe.metrics_text()  # no ingester yet
    await put_policy(services.store, xe_policy)
    sim = await sim_hosts.start("xenon-1")
    await sim.misbehave(sim.domains[0], ppm=20_000)
    async with xps_source(sim) as source, ingest(services.store, source) as ingester:
        services.ingester = ingester  # type: ignore[attr-defined]

        async def stored() -> bool:
            return ingester.snapshot().violations >= 20

        await wait_for(stored)
        text = await xe.metrics_text()
        snap = ingester.snapshot()
    values = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^(xe_ingest_[a-z_]+(?:\{[^}]*\})?) (\S+)$", text, re.M)
    }
    assert values['xe_ingest_rows_total{table="violations"}'] <= snap.violations
    assert values['xe_ingest_rows_total{table="violations"}'] >= 20
    assert values["xe_ingest_queue_limit_rows"] == 100_000
    assert values["xe_ingest_dropped_rows_total"] == 0
    assert values["xe_ingest_store_ok"] == 1
    assert "xe_ingest_rows_per_second" in values and "xe_ingest_queue_rows" in values
    assert "xe_ingest_source_dropped_events_total" in values


def _iso(us: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(us / 1e6, tz=dt.UTC).isoformat()


async def test_a_process_ingests_every_host_it_manages(
    services: Services, client: Any, sim_hosts: Any, xe_policy: Any, put_policy: Any,
    history_pki: Any, wait_for: Any,
) -> None:  # fmt: skip
    await put_policy(services.store, xe_policy)  # hosts at 127.0.0.1:9443-9445: nobody there
    one = await sim_hosts.start("xenon-1")
    three = await sim_hosts.start("xenon-3")
    for sim in (one, three):
        await sim.misbehave(sim.domains[0], ppm=20_000)

    async def move(sim: Any) -> None:  # the operator corrects the host's port
        async with services.store.atomic() as conn:
            change = hosts.update().where(hosts.c.id == sim.host_id).values(port=sim.port)
            await conn.execute(change)

    async def stored(sim: Any) -> int:
        async with services.store.read() as conn:
            query = select(func.count()).where(history_violations.c.host_id == sim.host_id)
            return int((await conn.execute(query)).scalar() or 0)

    await move(one)
    ingester = start_ingestion(services, history_pki.client_context(), hosts_every_s=0.2)
    assert services.ingester is ingester  # type: ignore[attr-defined]

    async def first() -> bool:
        return await stored(one) >= 20

    await wait_for(first)
    assert await stored(three) == 0
    await move(three)

    async def second() -> bool:
        return await stored(three) >= 20

    await wait_for(second)
    ready = await (await client()).readyz()
    assert ready.checks["worker:ingest"] == "ok"
    text = await (await client()).metrics_text()
    assert re.search(r'^xe_ingest_rows_total\{table="violations"\} [1-9]', text, re.M)
