"""Documented MSM semantics, each scenario run on the C library and on the reference model."""

from __future__ import annotations

import dataclasses
from uuid import UUID, uuid4

import pytest

from tests._support.msm_scenario import Both, Failed, World
from xps.msm import (
    Binding,
    ChannelKind,
    ConflictLevel,
    ConflictSet,
    Decision,
    Device,
    DomainConfig,
    HypercallProfile,
    ObjType,
    Role,
    RunState,
    SecLabel,
    Tag,
    Transaction,
    ViolationKind,
)


def cfg(uuid: object, name: str, **kw: object) -> DomainConfig:
    return DomainConfig(uuid, name, mem_kb=2048, maxmem_kb=2048, **kw)  # type: ignore[arg-type]


def code(both: Both, name: str, *args: object) -> str:
    with pytest.raises(Failed) as info:
        both.call(name, *args)
    return info.value.code


def test_chinese_wall(both: Both) -> None:
    w = World()
    for name, tag in [("a", "A"), ("b", "B"), ("c", "C"), ("a2", "A")]:
        w.bind(name, tag)
    both.apply(w.objects())
    a = both.call("create_domain", cfg(w.doms["a"], "a"))
    assert code(both, "create_domain", cfg(w.doms["b"], "b")) == "MSM_ECONFLICT"
    c = both.call("create_domain", cfg(w.doms["c"], "c"))
    a2 = both.call("create_domain", cfg(w.doms["a2"], "a2"))  # same type co-runs
    assert (a, c, a2) == (1, 2, 3)
    both.call("shutdown", a)  # a shut-down domain still holds its Chinese Wall counts
    both.call("destroy", a2)
    assert code(both, "create_domain", cfg(w.doms["b"], "b")) == "MSM_ECONFLICT"
    both.call("destroy", a)
    b = both.call("create_domain", cfg(w.doms["b"], "b"))
    assert b == 4  # domids are not reused

    # A new set {B, C} clashes with running b and c: refused, nothing changes.
    gen = both.call("info").generation
    clash = ConflictSet(uuid4(), "bc", ConflictLevel.NO_CORESIDENCE, (w.tags["B"], w.tags["C"]))
    with pytest.raises(Failed) as info:
        both.apply([*w.objects(), clash])
    assert info.value.code == "MSM_EVALIDATE"
    err = info.value.__cause__.error if both.kind == "c" else info.value.__cause__.commit_error
    assert err.rule.name == "CONFLICT"
    assert (err.domid, err.id, err.other) == (b, w.doms["b"], w.tags["C"])
    assert both.call("info").generation == gen
    assert not both.call("info").txn_open
    # A no-communication set does not keep domains apart.
    clash = ConflictSet(clash.id, "bc", ConflictLevel.NO_COMMUNICATION, clash.tags)
    assert both.apply([*w.objects(), clash]) == gen + 1


def test_max_violations_stop_and_reset(both: Both) -> None:
    w = World(max_violations=3)
    w.bind("x", "A")
    both.apply(w.objects())
    x = both.call("create_domain", cfg(w.doms["x"], "x"))
    for i in range(3):
        assert both.call("check_hypercall", x, 36, 0, i) is Decision.DENY_PROFILE
    info = both.call("domain", x)
    assert (info.state, info.stopped_by_msm, info.violations) == (RunState.PAUSED, True, 3)
    assert code(both, "check_hypercall", x, 1, 0, 5) == "MSM_ESTATE"
    assert code(both, "unpause", x) == "MSM_EVIOLATIONS"
    assert code(both, "reboot", x) == "MSM_EVIOLATIONS"
    both.call("reset_violations", x)
    info = both.call("domain", x)
    assert (info.state, info.stopped_by_msm, info.violations) == (RunState.PAUSED, False, 0)
    both.call("unpause", x)
    assert both.call("check_hypercall", x, 1, 0, 6) is Decision.ALLOW
    records, dropped = both.call("drain_violations", 10)
    assert [r.count for r in records] == [1, 2, 3] and dropped == 0


def test_ring_overflow_counts_dropped(both: Both) -> None:
    w = World()
    w.bind("x", "A")
    both.apply(w.objects())
    x = both.call("create_domain", cfg(w.doms["x"], "x"))
    for i in range(20):
        both.call("check_hypercall", x, 64 + i, 7, 1000 * i)
    info = both.call("info")
    assert (info.ring_used, info.ring_dropped, info.hypercalls_denied) == (16, 4, 20)
    records, dropped = both.call("drain_violations", 10)
    assert dropped == 4
    assert [r.nr for r in records] == list(range(64, 74))
    assert all(r.subop == 0 and r.kind is ViolationKind.PROFILE and r.peer is None for r in records)
    assert records[0].seclabel == w.labels["A"].id
    records, dropped = both.call("drain_violations", 4096)
    assert [r.count for r in records] == list(range(11, 17)) and dropped == 0
    assert both.call("info").ring_dropped == 4


def test_rate_window(both: Both) -> None:
    w = World(max_rate=2)
    w.bind("x", "A")
    both.apply(w.objects())
    x = both.call("create_domain", cfg(w.doms["x"], "x"))
    calls = [0, 500_000, 999_999, 1_000_000, 200_000, 1_500_000, 2_000_000]
    got = [both.call("check_hypercall", x, 29, 1, t) for t in calls]
    A, R = Decision.ALLOW, Decision.DENY_RATE
    # The earlier 200 us call counts in the 1 ms window of the previous call.
    assert got == [A, A, R, A, A, R, A]
    # Sub-op outside the bitmap and sub-op >= 256 are profile denials, recorded as issued.
    assert both.call("check_hypercall", x, 29, 2, 3_000_000) is Decision.DENY_PROFILE
    assert both.call("check_hypercall", x, 29, 300, 3_000_001) is Decision.DENY_PROFILE
    records, _ = both.call("drain_violations", 100)
    assert [(r.kind, r.subop) for r in records][-2:] == [
        (ViolationKind.PROFILE, 2),
        (ViolationKind.PROFILE, 300),
    ]
    both.call("reboot", x)  # the rate window restarts with the domain
    assert both.call("check_hypercall", x, 1, 0, 0) is Decision.ALLOW
    assert both.call("domain", x).hypercalls == 10


def test_channels(both: Both) -> None:
    w = World(hypercalls=frozenset({1, 29, 32}))  # event_channel_op: the label rule holds
    for name, tag in [("a1", "A"), ("a2", "A"), ("c", "C")]:
        w.bind(name, tag)
    sec = w.bind("sec", "B")
    objs = w.objects(wall=False)
    objs.append(
        w.labels["B"].__class__(w.labels["B"].id, "lB", w.profile.id, w.tags["B"], Role.SECURITY)
    )
    both.apply(objs)
    a1, a2, c, s = (both.call("create_domain", cfg(w.doms[n], n)) for n in ["a1", "a2", "c", "sec"])
    assert sec == w.doms["sec"]
    ev, gr = ChannelKind.EVTCHN, ChannelKind.GRANT
    assert both.call("check_channel", ev, a1, a2, 0) is Decision.ALLOW
    assert both.call("check_channel", ev, a1, 0, 0) is Decision.ALLOW
    assert both.call("check_channel", gr, 0, c, 0) is Decision.ALLOW
    assert both.call("check_channel", gr, a1, c, 5) is Decision.DENY_CHANNEL
    assert both.call("check_channel", ev, s, c, 0) is Decision.ALLOW
    assert code(both, "check_channel", ev, a1, a1, 0) == "MSM_EINVAL"
    assert code(both, "check_channel", 3, a1, c, 0) == "MSM_EINVAL"
    assert code(both, "check_channel", ev, a1, 99, 0) == "MSM_ENOENT"
    # A no-communication set between B and C takes the security domain's exception away.
    nocomm = ConflictSet(uuid4(), "nc", ConflictLevel.NO_COMMUNICATION, (w.tags["B"], w.tags["C"]))
    both.apply([*objs, nocomm])
    assert both.call("check_channel", ev, c, s, 9) is Decision.DENY_CHANNEL
    records, _ = both.call("drain_violations", 10)
    assert [(r.domid, r.nr, r.peer, r.kind, r.ts_ns) for r in records] == [
        (a1, 20, c, ViolationKind.CHANNEL, 5),
        (c, 32, s, ViolationKind.CHANNEL, 9),
    ]
    info = both.call("info")
    assert (info.channels_checked, info.channels_denied) == (6, 2)


def test_a_channel_needs_event_channel_op_at_both_ends(both: Both) -> None:
    """Interface 1.3: a same-tag peer (or dom0) is refused a channel to a domain whose
    profile lacks event_channel_op (the quarantine profile), at either end."""
    w = World(hypercalls=frozenset({1, 29, 32}))
    for name in ("a1", "a2", "q"):
        w.bind(name, "A")
    quiet = HypercallProfile(uuid4(), "quiet", frozenset({29}), {29: frozenset({0, 1})})
    q_label = SecLabel(uuid4(), "lQ", quiet.id, w.tags["A"])
    objs = [o for o in w.objects() if not (isinstance(o, Binding) and o.domain == w.doms["q"])]
    both.apply([*objs, quiet, q_label, Binding(w.doms["q"], q_label.id)])
    a1, a2, q = (both.call("create_domain", cfg(w.doms[n], n)) for n in ("a1", "a2", "q"))
    ev, gr = ChannelKind.EVTCHN, ChannelKind.GRANT
    assert both.call("check_channel", ev, a1, a2, 1) is Decision.ALLOW
    assert both.call("check_channel", gr, a2, a1, 1) is Decision.ALLOW
    refused = [(a1, q), (q, a1), (0, q), (q, 0)]
    for kind in (ev, gr):
        for src, dst in refused:
            assert both.call("check_channel", kind, src, dst, 7) is Decision.DENY_CHANNEL
    records, _ = both.call("drain_violations", 20)
    assert [(r.domid, r.peer, r.nr, r.kind) for r in records] == [
        (src, dst, nr, ViolationKind.CHANNEL) for nr in (32, 20) for src, dst in refused
    ]
    info = both.call("info")
    assert (info.channels_checked, info.channels_denied) == (10, 8)
    # The label decides: q's SecLabel given the full profile, the same channels are allowed.
    both.apply(
        [
            *objs,
            quiet,
            dataclasses.replace(q_label, profile=w.profile.id),
            Binding(w.doms["q"], q_label.id),
        ]
    )
    for src, dst in refused:
        assert both.call("check_channel", ev, src, dst, 8) is Decision.ALLOW


def test_devices(both: Both) -> None:
    w = World()
    w.bind("a", "A")
    w.bind("c", "C")
    dev_a, dev_c = 0x0300, 0x1_0008
    both.apply([*w.objects(), Device(dev_a, w.tags["A"]), Device(dev_c, w.tags["C"])])
    a = both.call("create_domain", cfg(w.doms["a"], "a"))
    c = both.call("create_domain", cfg(w.doms["c"], "c"))
    assert code(both, "assign_device", a, dev_c) == "MSM_EDENIED"
    assert code(both, "assign_device", 0, dev_a) == "MSM_EDENIED"
    assert code(both, "assign_device", a, 0x999) == "MSM_ENOENT"
    both.call("assign_device", a, dev_a)
    assert code(both, "assign_device", a, dev_a) == "MSM_EBUSY"
    assert code(both, "release_device", c, dev_a) == "MSM_ENOENT"
    # Re-tagging an assigned device is refused at commit.
    with pytest.raises(Failed):
        both.apply([*w.objects(), Device(dev_a, w.tags["C"]), Device(dev_c, w.tags["C"])])
    both.call("destroy", a)  # releases the device
    both.call("assign_device", c, dev_c)
    both.call("release_device", c, dev_c)
    assert code(both, "release_device", c, dev_c) == "MSM_ENOENT"


def test_lifecycle_and_domid_wrap(both: Both) -> None:
    w = World()
    w.bind("keep", "C")
    w.bind("x", "C")
    both.apply(w.objects())
    keep = both.call("create_domain", cfg(w.doms["keep"], "keep", paused=True))
    assert both.call("domain", keep).state is RunState.PAUSED
    assert code(both, "pause", 0) == "MSM_EINVAL"
    assert code(both, "destroy", 0) == "MSM_EINVAL"
    assert code(both, "create_domain", cfg(w.doms["keep"], "other")) == "MSM_EEXIST"
    assert code(both, "create_domain", cfg(w.doms["x"], "Domain-0")) == "MSM_EEXIST"
    assert code(both, "create_domain", cfg(uuid4(), "nolabel")) == "MSM_ENOLABEL"
    x = both.call("create_domain", cfg(w.doms["x"], "x"))
    both.call("shutdown", x, 3)
    assert (both.call("domain", x).state, both.call("domain", x).shutdown_reason) == (
        RunState.SHUTDOWN,
        3,
    )
    assert code(both, "shutdown", x, 0) == "MSM_ESTATE"
    assert code(both, "unpause", x) == "MSM_ESTATE"
    both.call("reboot", x)
    assert both.call("domain", x).state is RunState.RUNNING
    both.call("destroy", x)
    # Domids run up to 0x7FEF, wrap to 1 and skip live domains.
    last = x
    for _ in range(0x7FEF - 2):
        last = both.call("create_domain", cfg(w.doms["x"], "x"))
        both.call("destroy", last)
    assert last == 0x7FEF
    assert both.call("create_domain", cfg(w.doms["x"], "x")) == 2


def test_commit_failure_changes_nothing(both: Both) -> None:
    w = World()
    w.bind("a", "A")
    gen = both.apply(w.objects())
    a = both.call("create_domain", cfg(w.doms["a"], "a"))
    before = [both.call("policy", t) for t in ObjType]
    # Dropping the running domain's binding is refused (RUNNING_UNLABELLED).
    begin, put, commit, delete = (
        ("transaction", "put", "commit", "delete")
        if both.kind == "c"
        else ("txn_begin", "txn_put", "txn_commit", "txn_delete")
    )
    txn = both.call(begin, False)
    target = txn if both.kind == "c" else both.impl
    getattr(target, delete)(ObjType.BINDING, w.doms["a"])
    with pytest.raises(Exception) as info:
        getattr(target, commit)()
    err = getattr(info.value, "error", None) or getattr(info.value, "commit_error", None)
    assert (err.rule.name, err.domid, err.id, err.objtype) == (
        "RUNNING_UNLABELLED",
        a,
        w.doms["a"],
        None,
    )
    assert both.call("info").txn_open
    assert [both.call("policy", t) for t in ObjType] == before
    assert both.call("info").generation == gen
    getattr(target, put)(Binding(w.doms["a"], w.labels["C"].id))
    assert getattr(target, commit)() == gen + 1
    assert both.call("domain", a).tag == w.tags["C"]


def test_transaction_states(both: Both) -> None:
    txn = (
        ("transaction", "put", "delete", "commit", "abort")
        if both.kind == "c"
        else ("txn_begin", "txn_put", "txn_delete", "txn_commit", "txn_abort")
    )
    target: object = Transaction(both.impl) if both.kind == "c" else both.impl
    tag = Tag(uuid4(), "t")

    def on_txn(name: str, *args: object) -> str:
        try:
            getattr(target, name)(*args)
        except Exception as exc:  # MsmError or ModelError, both carry .code
            return str(getattr(exc, "code", exc))
        return "ok"

    assert on_txn(txn[1], tag) == "MSM_ESTATE"
    assert on_txn(txn[2], ObjType.TAG, tag.id) == "MSM_ESTATE"
    assert on_txn(txn[3]) == "MSM_ESTATE"
    assert on_txn(txn[4]) == "MSM_ESTATE"
    # An invalid object is refused for what it is before the missing transaction.
    assert on_txn(txn[1], Tag(UUID(int=0), "nil")) == "MSM_EINVAL"
    both.call(txn[0], False)
    assert code(both, txn[0], True) == "MSM_EBUSY"
    assert on_txn(txn[2], ObjType.TAG, tag.id) == "MSM_ENOENT"
    assert on_txn(txn[1], tag) == "ok"
    assert on_txn(txn[2], ObjType.TAG, tag.id) == "ok"
    assert on_txn(txn[4]) == "ok"
    assert both.call("info").generation == 0


BAD_CONFIGS = [
    # (field overrides, status): one bad field each, checked in declaration order.
    ({"uuid": UUID(int=0)}, "MSM_EINVAL"),
    ({"mem_kb": 0, "maxmem_kb": 0}, "MSM_ERANGE"),
    ({"maxmem_kb": 1024}, "MSM_ERANGE"),
    ({"max_vcpus": 129, "vcpus": 1}, "MSM_ERANGE"),
    ({"max_vcpus": 0, "vcpus": 0}, "MSM_ERANGE"),
    ({"vcpus": 3, "max_vcpus": 2}, "MSM_ERANGE"),
    ({"vcpus": 0}, "MSM_ERANGE"),
    ({"load_permille": 1001}, "MSM_ERANGE"),
    ({"load_permille": 1000, "mem_kb": 120 * 2048, "maxmem_kb": 120 * 2048}, "MSM_ENOSPC"),
    # The uuid check comes first even when a range is wrong too.
    ({"uuid": UUID(int=0), "load_permille": 5000}, "MSM_EINVAL"),
]


@pytest.mark.parametrize(("override", "status"), BAD_CONFIGS)
def test_domain_config_checks(both: Both, override: dict[str, object], status: str) -> None:
    w = World()
    w.bind("x", "A")
    both.apply(w.objects())
    base = {
        "uuid": w.doms["x"],
        "name": "x",
        "mem_kb": 2048,
        "maxmem_kb": 2048,
        "vcpus": 1,
        "max_vcpus": 2,
    }
    bad = DomainConfig(**{**base, **override})  # type: ignore[arg-type]
    assert code(both, "create_domain", bad) == status
    assert both.call("info").n_domains == 1


def test_reboot_restarts_the_rate_window(both: Both) -> None:
    w = World(max_rate=2)
    w.bind("x", "A")
    both.apply(w.objects())
    x = both.call("create_domain", cfg(w.doms["x"], "x"))
    both.call("check_hypercall", x, 1, 0, 5_000_000)
    both.call("reboot", x)
    got = [both.call("check_hypercall", x, 1, 0, t) for t in (0, 0, 1_500_000)]
    # Without the reset, 1.5 ms would still count in the 5 ms window of the old run.
    assert got == [Decision.ALLOW, Decision.ALLOW, Decision.ALLOW]
