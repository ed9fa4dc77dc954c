"""The C workload loop (``msm_sim_run``) decides exactly as the reference model does, call
by call: same counts, same violation records in the same order, same per-domain counters,
states and CPU charge, over random worlds with profile and rate denials, violation stops,
all three misbehaviours and direct calls that move a domain's rate window ahead of the
loop's clock.

The loop is optimised (window step hoisted to the 1 ms slice, generator and window counter
in registers, a branch-free profile test); :mod:`tests._support.msm_workload` is the plain
call-by-call definition it must match.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests._support.msm_model import ModelError, RefMsm
from tests._support.msm_workload import RefWorkload
from xps.msm import (
    WORKLOAD_PROFILES,
    Binding,
    ConflictLevel,
    ConflictSet,
    DomainConfig,
    GuestOS,
    GuestType,
    HypercallProfile,
    Misbehaviour,
    Msm,
    MsmError,
    Role,
    RunCounts,
    SecLabel,
    Tag,
)

CONFIG = {"host_mem_kb": 64 * 2048, "host_cpus": 4, "ring_capacity": 64, "dom0_mem_kb": 2 * 2048}
MS = 1_000_000

_label = st.fixed_dictionaries(
    {
        "base": st.integers(0, len(WORKLOAD_PROFILES) - 1),
        "drop": st.sets(st.integers(0, 40), max_size=4),  # hypercalls taken out of the base
        "drop_subop": st.sets(st.integers(0, 12), max_size=3),  # and sub-ops of every row
        "max_rate": st.sampled_from([5, 20, 1, 120]) | st.integers(1, 120),
        "max_violations": st.sampled_from([40, 0, 5, 1]),
        "role": st.sampled_from([Role.NONE, Role.SECURITY]),
        "tag": st.sampled_from([0, 1, 2]),
    }
)
_domain = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(
            [
                (GuestType.PV, GuestOS.LINUX),
                (GuestType.PVH, GuestOS.LINUX),
                (GuestType.PVHVM, GuestOS.LINUX),
                (GuestType.PVHVM, GuestOS.WINDOWS),
                (GuestType.HVM, GuestOS.LINUX),
                (GuestType.HVM, GuestOS.WINDOWS),
            ]
        ),
        "vcpus": st.sampled_from([8, 4, 1]) | st.integers(1, 8),
        "load": st.sampled_from([1000, 333, 1, 0]) | st.integers(0, 1000),
        "label": st.sampled_from([0, 1, 2]),
        "mis": st.lists(
            st.tuples(
                st.sampled_from(
                    [Misbehaviour.CROSS_TAG, Misbehaviour.RATE_BURST, Misbehaviour.OUT_OF_PROFILE]
                ),
                st.sampled_from([20_000, 200_000, 500, 1_000_000, 0]),
            ),
            max_size=3,
        ),
    }
)
_step = st.one_of(
    st.tuples(
        st.just("run"),
        st.sampled_from([2 * MS, 2_345_678, 999_999, 1]) | st.integers(1, 2_500_000),
    ),
    st.tuples(
        st.just("call"),
        st.integers(0, 3),
        st.integers(0, 70),
        st.integers(0, 300),
        st.sampled_from([3 * MS, 1, 0]) | st.integers(0, 4 * MS),
    ),
    st.tuples(st.just("reset"), st.integers(0, 3)),
)


def _world(
    labels: list[dict[str, Any]], no_comm: bool, domains: list[dict[str, Any]]
) -> tuple[list[Any], list[DomainConfig]]:
    tags = [Tag(uuid.uuid4(), f"t{i}") for i in range(3)]
    objs: list[Any] = [*tags]
    if no_comm:
        objs.append(
            ConflictSet(
                uuid.uuid4(), "nc", ConflictLevel.NO_COMMUNICATION, (tags[0].id, tags[1].id)
            )
        )
    sls = []
    for i, lb in enumerate(labels):
        base = WORKLOAD_PROFILES[lb["base"]]
        prof = HypercallProfile(
            uuid.uuid4(),
            f"p{i}",
            base.hypercalls - lb["drop"],
            {nr: subs - lb["drop_subop"] for nr, subs in base.subops.items()},
        )
        sl = SecLabel(
            uuid.uuid4(),
            f"l{i}",
            prof.id,
            tags[lb["tag"]].id,
            role=lb["role"],
            max_rate=lb["max_rate"],
            max_violations=lb["max_violations"],
        )
        objs += [prof, sl]
        sls.append(sl)
    cfgs = []
    for i, d in enumerate(domains):
        gt, os_ = d["kind"]
        cfg = DomainConfig(uuid.uuid4(), f"d{i}", gt, os_, 2048, 2048, d["vcpus"], 8, d["load"])
        objs.append(Binding(cfg.uuid, sls[d["label"]].id))
        cfgs.append(cfg)
    return objs, cfgs


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except (MsmError, ModelError) as exc:
        return ("refused", exc.code)


def _compare(c: Msm, model: RefMsm, work: RefWorkload, ids: list[int]) -> None:
    got, dropped = c.drain_violations(4096)
    want, want_dropped = model.drain_violations(4096)
    assert got == want
    assert dropped == want_dropped
    for domid in [0, *ids]:
        ci, mi = c.domain(domid), model.domain(domid)
        assert (ci.state, ci.stopped_by_msm, ci.violations, ci.hypercalls) == (
            mi.state,
            mi.stopped_by_msm,
            mi.violations,
            mi.hypercalls,
        ), domid
        assert ci.cpu_ns == work.load[domid].cpu_ns, domid
    info, minfo = c.info(), model.info()
    assert (
        info.hypercalls_checked,
        info.hypercalls_denied,
        info.channels_checked,
        info.channels_denied,
        info.ring_dropped,
        info.ring_used,
    ) == (
        minfo.hypercalls_checked,
        minfo.hypercalls_denied,
        minfo.channels_checked,
        minfo.channels_denied,
        minfo.ring_dropped,
        minfo.ring_used,
    )
    assert info.now_ns == work.now_ns


@settings(max_examples=150)
@given(
    seed=st.integers(1, 2**32),
    labels=st.lists(_label, min_size=3, max_size=3),
    no_comm=st.booleans(),
    domains=st.lists(_domain, min_size=2, max_size=4),
    steps=st.lists(_step, min_size=1, max_size=6),
)
def test_sim_run_matches_the_call_by_call_model(
    seed: int,
    labels: list[dict[str, Any]],
    no_comm: bool,
    domains: list[dict[str, Any]],
    steps: list[tuple[Any, ...]],
) -> None:
    for counts in _run_both(seed, labels, no_comm, domains, steps):
        for name in ("denied_profile", "denied_rate", "denied_channel", "channels"):
            if getattr(counts, name):
                event(name)  # shown by --hypothesis-show-statistics
        if counts.domains_stopped:
            event("domains_stopped")
        if counts.ring_dropped:
            event("ring_dropped")


def test_cross_tag_channels_match_the_model() -> None:
    """Every channel outcome at once: allowed for a security label outside the no-comm set,
    denied between plain labels and inside the set, and a domain stopped by them."""
    labels = [
        {"base": 0, "drop": set(), "drop_subop": set(), "max_rate": 120, "max_violations": 0,
         "role": Role.NONE, "tag": 0},
        {"base": 1, "drop": set(), "drop_subop": set(), "max_rate": 120, "max_violations": 5,
         "role": Role.NONE, "tag": 1},
        {"base": 1, "drop": set(), "drop_subop": set(), "max_rate": 120, "max_violations": 0,
         "role": Role.SECURITY, "tag": 2},
    ]  # fmt: skip
    domains = [
        {"kind": kind, "vcpus": 8, "load": 1000, "label": i,
         "mis": [(Misbehaviour.CROSS_TAG, 200_000)]}
        for i, kind in enumerate(
            [(GuestType.PV, GuestOS.LINUX), (GuestType.PVH, GuestOS.LINUX),
             (GuestType.HVM, GuestOS.WINDOWS)]
        )
    ]  # fmt: skip
    first, second = _run_both(7, labels, True, domains, [("run", 3 * MS), ("run", 2_345_678)])
    assert first.channels > first.denied_channel > 0
    assert first.domains_stopped == 1  # the tag-1 domain, at 5 violations
    assert second.channels > second.denied_channel > 0


def test_a_window_moved_ahead_keeps_counting_across_slices() -> None:
    """A direct call 3 ms ahead of the sim clock moves the domain's rate window there; the
    loop's slices before it never reset the count (clocks never run backwards), so 80 calls
    per slice reach max_rate 120 in the second slice."""
    labels = [
        {"base": 0, "drop": set(), "drop_subop": set(), "max_rate": 120, "max_violations": 0,
         "role": Role.NONE, "tag": 0},
    ] * 3  # fmt: skip
    domains = [
        {"kind": (GuestType.PV, GuestOS.LINUX), "vcpus": 8, "load": 1000, "label": 0, "mis": []},
        {"kind": (GuestType.PV, GuestOS.LINUX), "vcpus": 8, "load": 1000, "label": 0, "mis": []},
    ]  # fmt: skip
    steps = [("run", MS), ("call", 0, 29, 0, 3 * MS), ("run", 3 * MS)]
    _, moved = _run_both(11, labels, False, domains, steps)
    # Domain 1: 240 calls in its moved window, which already counted the direct call;
    # domain 2's window moves with the slices: all 240 allowed.
    assert (moved.allowed, moved.denied_rate) == (119 + 240, 240 - 119)


def _run_both(
    seed: int,
    labels: list[dict[str, Any]],
    no_comm: bool,
    domains: list[dict[str, Any]],
    steps: list[tuple[Any, ...]],
) -> list[RunCounts]:
    """Runs the steps on the C sim and on the model side by side; the counts of each run."""
    runs: list[RunCounts] = []
    objs, cfgs = _world(labels, no_comm, domains)
    model = RefMsm(seed=seed, **CONFIG)
    work = RefWorkload(model)
    with Msm.open_sim(seed=seed, **CONFIG) as c:
        c.apply(objs)
        model.txn_begin(True)
        for obj in objs:
            model.txn_put(obj)
        model.txn_commit()
        ids = []
        for cfg, d in zip(cfgs, domains, strict=True):
            domid = c.create_domain(cfg)
            assert model.create_domain(cfg) == domid
            work.created(domid, d["load"])
            for kind, per_million in d["mis"]:
                c.set_misbehaviour(domid, kind, per_million)
                work.set_misbehaviour(domid, kind, per_million)
            ids.append(domid)
        for step in steps:
            if step[0] == "run":
                counts = c.run(step[1])
                assert counts == work.run(step[1])
                runs.append(counts)
            elif step[0] == "call":
                _, i, nr, subop, ahead = step
                domid, at = ids[i % len(ids)], work.now_ns + ahead
                assert _outcome(c.check_hypercall, domid, nr, subop, at) == _outcome(
                    model.check_hypercall, domid, nr, subop, at
                )
            else:
                domid = ids[step[1] % len(ids)]
                c.reset_violations(domid)
                model.reset_violations(domid)
                assert _outcome(c.unpause, domid) == _outcome(model.unpause, domid)
            _compare(c, model, work, ids)
    return runs
