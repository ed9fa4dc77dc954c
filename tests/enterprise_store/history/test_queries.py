"""The History service over really ingested data, on SQLite and PostgreSQL: scope, grouped
counts against direct counts, paging, filters, statistics series."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import func, select

from enterprise_store._errors import InvalidInput, NotFound, RoleRequired
from enterprise_store.services import Principal
from enterprise_store.services._history import StatsQuery, ViolationQuery
from enterprise_store.store._history_schema import history_violations


async def _direct(data: Any, **where: Any) -> int:
    t = history_violations
    query = select(func.count()).select_from(t).where(*(t.c[k] == v for k, v in where.items()))
    async with data.services.store.read() as conn:
        return int((await conn.execute(query)).scalar() or 0)


async def _every(data: Any, caller: Principal, query: ViolationQuery) -> list[Any]:
    out: list[Any] = []
    while True:
        page = await data.history.violations(caller, query)
        out.extend(page.items)
        if page.next is None:
            return out
        query = dataclasses.replace(query, after=page.next)


async def test_scope_hides_other_enclaves_and_whole_hosts(
    ingested: Any, make_user: Any, login: Any
) -> None:
    data = ingested
    b_id = data.enclave["Enclave B"]
    scoped = await make_user("audb", "auditor", scopes=(b_id,))
    everyone = await make_user("aud", "auditor")
    window = ViolationQuery(since_us=data.since_us, until_us=data.until_us, limit=1000)

    mine = await _every(data, scoped, window)
    assert mine and {v.enclave_id for v in mine} == {b_id}
    assert len(mine) == await _direct(data, enclave_id=b_id)
    all_ = await _every(data, everyone, window)
    assert len(all_) == await _direct(data) > len(mine)
    # Naming an enclave outside the scope finds nothing, as if it had no violations.
    c_id = data.enclave["Enclave C"]
    outside = ViolationQuery(enclave=c_id, since_us=data.since_us, until_us=data.until_us)
    assert (await data.history.violations(scoped, outside)).items == ()
    summary = await data.history.violation_summary(scoped, window)
    assert summary.total == len(mine)
    assert {g.enclave_id for g in summary.groups} == {b_id}

    series = await data.history.stats(scoped, StatsQuery(range="10m"))
    assert series.series and all(s.enclave_id == b_id and s.domain for s in series.series)
    with pytest.raises(RoleRequired):
        await data.history.stats(scoped, StatsQuery(domain="", range="10m"))
    with pytest.raises(RoleRequired):
        await data.history.ingest_status(scoped)
    whole = await data.history.stats(everyone, StatsQuery(domain="", range="10m"))
    assert [s.domain for s in whole.series] == [""] and whole.series[0].points
    assert whole.step_s == 0 and all(p.samples == 1 for p in whole.series[0].points)
    [cursor] = await data.history.ingest_status(everyone)
    assert cursor.host_name == "xenon-1" and cursor.seq == len(all_)

    service = Principal(name="service:console", kind="service", role=None)
    with pytest.raises(RoleRequired):
        await data.history.violations(service, window)


async def test_grouped_counts_equal_direct_counts(ingested: Any, login: Any) -> None:
    data = ingested
    root = await login("root")
    window = ViolationQuery(since_us=data.since_us, until_us=data.until_us)
    summary = await data.history.violation_summary(root, window)
    assert not summary.truncated
    assert summary.total == sum(g.violations for g in summary.groups) == await _direct(data)
    minutes = (data.until_us - data.since_us) / 60e6
    for g in summary.groups:
        where = {"host_id": g.host_id, "domain": g.domain, "hypercall": g.hypercall}
        assert g.violations == await _direct(data, **where)
        assert g.vm_name == g.domain and g.enclave_name and g.host_name == "xenon-1"
        assert g.per_minute == round(g.violations / minutes, 3)
        assert g.hypercall_name and not g.hypercall_name.startswith("hypercall_")
    assert [g.violations for g in summary.groups] == sorted(
        (g.violations for g in summary.groups), reverse=True
    )
    # Filters by name and the truncation flag.
    top = summary.groups[0]
    by_vm = await data.history.violation_summary(
        root, ViolationQuery(vm=top.vm_name, since_us=data.since_us, until_us=data.until_us)
    )
    assert by_vm.total == await _direct(data, vm_id=top.vm_id)
    one = await data.history.violation_summary(root, window, limit=1)
    assert one.truncated == (len(summary.groups) > 1) and one.total == summary.total


async def test_pages_filters_and_refusals(ingested: Any, login: Any) -> None:
    data = ingested
    root = await login("root")
    seen: list[tuple[int, int]] = []
    after = None
    while True:
        page = await data.history.violations(root, ViolationQuery(limit=97, after=after))
        seen.extend((v.epoch, v.seq) for v in page.items)
        if page.next is None:
            break
        after = page.next
    assert len(seen) == len(set(seen)) == await _direct(data)
    assert seen == sorted(seen, reverse=True)  # newest first (one host, one run)

    rate = await _every(data, root, ViolationQuery(kind="rate", limit=1000))
    assert rate and {v.kind for v in rate} == {"rate"}
    assert len(rate) == await _direct(data, kind="rate")
    host = await data.history.violations(root, ViolationQuery(host="xenon-1", limit=1))
    assert host.items[0].host_id == data.host_id

    for bad in (
        ViolationQuery(kind="other"),
        ViolationQuery(limit=0),
        ViolationQuery(after="not-a-cursor"),
        ViolationQuery(since_us=10, until_us=5),
        ViolationQuery(domain="x" * 256),
        ViolationQuery(domain="nul\x00"),
        ViolationQuery(host="lone \udc80 surrogate"),
    ):
        with pytest.raises(InvalidInput):
            await data.history.violations(root, bad)
    with pytest.raises(NotFound):
        await data.history.violations(root, ViolationQuery(host="no-such-host"))
    with pytest.raises(InvalidInput):
        await data.history.stats(root, StatsQuery(range="5m"))

    vm = next(iter(data.vm.values()))
    two_h = await data.history.stats(root, StatsQuery(vm=str(vm.id), range="2h"))
    assert two_h.step_s == 60 and len(two_h.series) <= 1
    for s in two_h.series:
        assert s.domain == vm.name and all(p.samples >= 1 for p in s.points)
