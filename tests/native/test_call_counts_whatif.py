"""Allowed-call counters (``msm_calls_drain``): exact per minute, bounded, drained like
violations. The what-if's "allowed behaviour it would deny" is built on them."""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

from native._msm import ffi, lib

from xps.msm import (
    Binding,
    CallCount,
    Decision,
    DomainConfig,
    HypercallProfile,
    Msm,
    Role,
    SecLabel,
    Tag,
    install_demo,
)

MINUTE = 60_000_000_000
TAG, PROF, SL, DOM = UUID(int=1), UUID(int=2), UUID(int=3), UUID(int=4)


def _world(ctx: Msm, profile: HypercallProfile | None = None) -> int:
    prof = profile or HypercallProfile(
        PROF, "p", frozenset({1, 17, 20, 29}), {20: frozenset({0, 5}), 29: frozenset({1})}
    )
    ctx.apply(
        [Tag(TAG, "t"), prof, SecLabel(SL, "l", PROF, TAG, Role.NONE, 65535, 0), Binding(DOM, SL)]
    )
    return ctx.create_domain(DomainConfig(DOM, "vm", mem_kb=2048, maxmem_kb=2048))


def _drain_all(ctx: Msm) -> tuple[list[CallCount], int]:
    out: list[CallCount] = []
    lost = 0
    while True:
        got, dropped = ctx.drain_call_counts(1000)
        lost += dropped
        if not got:
            return out, lost
        out.extend(got)


def _sum(records: list[CallCount]) -> Counter[tuple[int, int, int, int]]:
    total: Counter[tuple[int, int, int, int]] = Counter()
    for r in records:
        total[(r.minute_ns, r.domid, r.nr, r.subop)] += r.count
    return total


def test_allowed_calls_are_counted_per_call_and_minute() -> None:
    with Msm.open_sim() as ctx:
        d = _world(ctx)
        calls = [
            (20, 5, 1_000),
            (20, 5, 2_000),
            (20, 0, 3_000),
            (17, 99, 4_000),  # xen_version has no sub-ops: counted as sub-op 0
            (17, 0, MINUTE - 1),
            (17, 0, MINUTE),  # the next minute
            (20, 6, 5_000),  # sub-op not allowed: a violation, not a count
            (36, 0, 6_000),  # hypercall not allowed
        ]
        got = [ctx.check_hypercall(d, nr, sub, ts) for nr, sub, ts in calls]
        assert got[:6] == [Decision.ALLOW] * 6
        assert got[6:] == [Decision.DENY_PROFILE] * 2
        assert ctx.check_hypercall(0, 36, 0, 7_000) is Decision.ALLOW  # dom0: not counted
        records, lost = _drain_all(ctx)
        assert lost == 0
        assert {r.domain for r in records} == {DOM}
        assert _sum(records) == {
            (0, d, 20, 5): 2,
            (0, d, 20, 0): 1,
            (0, d, 17, 0): 2,
            (MINUTE, d, 17, 0): 1,
        }
        assert ctx.drain_call_counts() == ([], 0)  # drained means gone
        assert len(ctx.drain_violations()[0]) == 2


def test_a_run_counts_exactly_what_it_allowed() -> None:
    """Over two simulated minutes of the demo (misbehaviour, bursts, a stopped domain),
    the counts add up to the run's allowed calls, per call as the event sink saw them."""
    with Msm.open_sim(seed=3) as ctx:
        install_demo(ctx)
        seen: Counter[tuple[int, int, int, int]] = Counter()

        @ffi.callback("void(void *, const msm_event *, uint32_t)")
        def sink(user: Any, events: Any, n: int) -> None:
            for i in range(n):
                e = events[i]
                if e.kind == 1:
                    sub = (
                        e.b if e.a in (7, 12, 20, 24, 26, 27, 29, 30, 32, 33, 34, 35, 36, 41) else 0
                    )
                    seen[(e.ts_ns // MINUTE * MINUTE, e.domid, e.a, sub)] += 1

        allowed = 0
        drained: list[CallCount] = []
        p = ffi.new("msm_run_params *")
        p.sink = sink
        out = ffi.new("msm_run_ex_counts *")
        for _ in range(5):  # 5 x 25 s, drained between runs as XPS does
            p.duration_ns = 25_000_000_000
            assert lib.msm_sim_run_ex(ctx.ctx, p, ffi.sizeof(p[0]), out, ffi.sizeof(out[0])) == 0
            allowed += out.run.allowed
            got, lost = _drain_all(ctx)
            assert lost == 0
            drained += got
        assert allowed > 1_000_000
        assert sum(r.count for r in drained) == allowed
        assert _sum(drained) == seen
        assert {r.minute_ns for r in drained} == {0, MINUTE, 2 * MINUTE}


def test_many_distinct_calls_in_a_minute_stay_exact() -> None:
    """More distinct (hypercall, sub-op) pairs than a domain's table holds: it is moved to
    the records early, nothing is lost."""
    everything = HypercallProfile(
        PROF,
        "all",
        frozenset(range(64)),
        {nr: frozenset(range(256)) for nr in (12, 20, 29, 32, 33, 34, 36)},
    )
    with Msm.open_sim() as ctx:
        d = _world(ctx, everything)
        want: Counter[tuple[int, int, int, int]] = Counter()
        for i in range(3000):
            nr = (12, 20, 29, 32, 33, 34, 36)[i % 7]
            sub = (i * 37) % 256
            assert ctx.check_hypercall(d, nr, sub, i * 1000) is Decision.ALLOW
            want[(0, d, nr, sub)] += 1
        records, lost = _drain_all(ctx)
        assert lost == 0
        assert _sum(records) == want


def test_a_full_record_ring_drops_and_says_how_many_calls() -> None:
    everything = HypercallProfile(
        PROF, "all", frozenset(range(64)), {nr: frozenset(range(256)) for nr in (20, 29)}
    )
    with Msm.open_sim() as ctx:
        d = _world(ctx, everything)
        total = 0
        # 70,000 minutes with one call each: one record per minute, past the ring's 65,536.
        for minute in range(70_000):
            assert ctx.check_hypercall(d, 20, minute % 256, minute * MINUTE) is Decision.ALLOW
            total += 1
        records, lost = _drain_all(ctx)
        assert len(records) == 65_536
        assert sum(r.count for r in records) + lost == total
        assert lost == total - 65_536


def test_a_destroyed_domain_keeps_its_counts_until_drained() -> None:
    with Msm.open_sim() as ctx:
        d = _world(ctx)
        for i in range(5):
            ctx.check_hypercall(d, 29, 1, i)
        ctx.destroy(d)
        records, _ = _drain_all(ctx)
        assert _sum(records) == {(0, d, 29, 1): 5}
