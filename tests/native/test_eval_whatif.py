"""The MSM evaluation (what-if) mode: C == the reference model, and no live side effects."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._support import msm_strategies as S
from tests._support.msm_model import ModelError, RefEval
from xps.msm import (
    Binding,
    CommitRefused,
    ConflictLevel,
    ConflictSet,
    Decision,
    Device,
    DomainConfig,
    EvalDecision,
    Evaluation,
    EventKind,
    HypercallProfile,
    InvalidArgument,
    Msm,
    MsmError,
    ObjType,
    Role,
    Rule,
    SecLabel,
    Tag,
    WrongState,
    pack_event,
)

NIL = UUID(int=0)
UNBOUND = UUID("99999999-0000-0000-0000-000000000001")
DOMIDS = [0, 1, 2, 3, 4]

Event = tuple[int, int, int, int, int, UUID]


# Strategies built once: a composite that builds new ones per draw spends its time in
# hypothesis' strategy bookkeeping, not in the code under test.
_HEADS = st.lists(st.sampled_from(S.DOMAINS), max_size=4, unique=True)
_STEPS = st.sampled_from([0, 0, 0, 0, 1, 250_000, 1_000_000, 3_000_000])
_KINDS = st.sampled_from([1, 1, 1, 1, 1, 2, 2, 3, 4, 5])
_ANY_DOMID = st.sampled_from(DOMIDS)
_DOMU = st.sampled_from(DOMIDS[1:])
_NRS = st.sampled_from(S.CALL_NRS)
_SUBOPS = st.sampled_from(S.CALL_SUBOPS)
_CHANNEL_KINDS = st.sampled_from([1, 2])
_PEERS = {d: st.sampled_from([p for p in DOMIDS if p != d]) for d in DOMIDS}
_BDFS = st.sampled_from([*S.BDFS, 0x0200])
_START_UUIDS = st.sampled_from([*S.DOMAINS, UNBOUND])
_REPEATS = st.sampled_from([1, 1, 1, 4])


@st.composite
def event_streams(draw: st.DrawFn) -> list[Event]:
    """Streams over a few domids: starts (bound or not), calls bunched into 1 ms windows,
    channels, devices and destroys, with non-decreasing timestamps."""
    n = draw(st.integers(0, 60))
    ts = 0
    # Most streams open by starting a few domains (as a what-if starts the running ones).
    heads = draw(_HEADS)
    out: list[Event] = [(0, 4, i + 1, 0, 0, u) for i, u in enumerate(heads)]
    for _ in range(n):
        ts += draw(_STEPS)
        kind = draw(_KINDS)
        domid = draw(_ANY_DOMID if kind in (1, 2, 3) else _DOMU)
        a = b = 0
        u = NIL
        if kind == 1:
            a, b = draw(_NRS), draw(_SUBOPS)
        elif kind == 2:
            a, b = draw(_CHANNEL_KINDS), draw(_PEERS[domid])
        elif kind == 3:
            a = draw(_BDFS)
        elif kind == 4:
            u = draw(_START_UUIDS)
        # A call is sometimes repeated in its window, so rate limits of 1..3 are reached.
        repeat = draw(_REPEATS) if kind == 1 else 1
        out.extend([(ts, kind, domid, a, b, u)] * repeat)
    return out


def pack(events: list[Event]) -> bytes:
    return b"".join(
        pack_event(kind, domid, a, b, ts, u if u != NIL else None)
        for ts, kind, domid, a, b, u in events
    )


def c_decide(ev: Evaluation, events: list[Event]) -> list[int]:
    decisions, counts = ev.run(pack(events))
    assert counts.events == len(events)
    assert sum(counts.by_decision.values()) == len(events)
    return list(decisions)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objs=S.valid_policies(), streams=st.lists(event_streams(), min_size=1, max_size=3))
def test_c_evaluation_equals_the_reference_model(
    objs: list[Any], streams: list[list[Event]]
) -> None:
    c = Evaluation(objs)
    m = RefEval(objs)
    for events in streams:  # several batches: live domains and windows carry over
        assert c_decide(c, events) == m.run(events)


@settings(max_examples=100, deadline=None)
@given(objs=st.lists(S.policy_objects, max_size=12))
def test_seal_refuses_what_a_commit_refuses(objs: list[Any]) -> None:
    try:
        RefEval(objs)
        want: tuple[Any, ...] = ("ok",)
    except ModelError as exc:
        want = ("err", exc.code, exc.commit_error)
    try:
        Evaluation(objs)
        got: tuple[Any, ...] = ("ok",)
    except CommitRefused as exc:
        got = ("err", exc.code, exc.error)
    except MsmError as exc:
        got = ("err", exc.code, None)
    assert got == want


def _small_policy() -> tuple[list[Any], dict[str, UUID]]:
    t_red, t_blue = UUID(int=0x11), UUID(int=0x12)
    p_min = UUID(int=0x21)
    sl_red, sl_blue, sl_sec = UUID(int=0x31), UUID(int=0x32), UUID(int=0x33)
    d_red, d_blue, d_sec = UUID(int=0x41), UUID(int=0x42), UUID(int=0x43)
    objs = [
        Tag(t_red, "red"),
        Tag(t_blue, "blue"),
        HypercallProfile(p_min, "min", frozenset({17, 29, 32}), {29: frozenset({0, 1})}),
        SecLabel(sl_red, "red-l", p_min, t_red, Role.NONE, 2, 0),
        SecLabel(sl_blue, "blue-l", p_min, t_blue, Role.NONE, 2, 0),
        SecLabel(sl_sec, "sec-l", p_min, t_blue, Role.SECURITY, 2, 0),
        Binding(d_red, sl_red),
        Binding(d_blue, sl_blue),
        Binding(d_sec, sl_sec),
        ConflictSet(UUID(int=0x51), "wall", ConflictLevel.NO_CORESIDENCE, (t_red, t_blue)),
        Device(0x0100, t_red),
    ]
    return objs, {"red": d_red, "blue": d_blue, "sec": d_sec}


def test_each_rule_gives_its_decision() -> None:
    objs, dom = _small_policy()
    ev = Evaluation(objs)
    E, D = EventKind, EvalDecision
    got = ev.run_events(
        [
            pack_event(E.HYPERCALL, 1, 17, 0, 0),  # domid 1 not started
            pack_event(E.START, 1, domain=dom["red"]),
            pack_event(E.START, 2, domain=dom["blue"]),  # red and blue never coreside
            pack_event(E.START, 3, domain=UNBOUND),
            pack_event(E.HYPERCALL, 1, 17, 0, 10),
            pack_event(E.HYPERCALL, 1, 29, 1, 10),
            pack_event(E.HYPERCALL, 1, 29, 2, 10),  # sub-op 2 not in the profile
            pack_event(E.HYPERCALL, 1, 17, 0, 10),  # the third call of the window
            pack_event(E.HYPERCALL, 1, 17, 0, 1_000_010),  # a new window
            pack_event(E.HYPERCALL, 0, 37, 0, 10),  # dom0
            pack_event(E.DEVICE, 1, 0x0100),
            pack_event(E.DEVICE, 1, 0x0200),  # not in the policy
            pack_event(E.CHANNEL, 1, 1, 0),  # with dom0
            pack_event(E.CHANNEL, 1, 2, 2),  # peer refused at start
            pack_event(E.DESTROY, 1),
            pack_event(E.START, 2, domain=dom["blue"]),  # red gone: admitted now
            pack_event(E.START, 3, domain=dom["sec"]),
            pack_event(E.CHANNEL, 2, 1, 3),  # same tag
            pack_event(E.DESTROY, 1),
        ]
    )
    assert got == [
        D.NOT_RUNNING,
        D.ALLOW,
        D.DENY_CONFLICT,
        D.DENY_UNLABELLED,
        D.ALLOW,
        D.ALLOW,
        D.DENY_PROFILE,
        D.DENY_RATE,
        D.ALLOW,
        D.ALLOW,
        D.ALLOW,
        D.DENY_DEVICE,
        D.ALLOW,
        D.NOT_RUNNING,
        D.ALLOW,
        D.ALLOW,
        D.ALLOW,
        D.ALLOW,
        D.NOT_RUNNING,
    ]


def test_a_channel_to_a_domain_without_event_channel_op_is_denied() -> None:
    """Interface 1.3 in the evaluation: the staged profile of each end decides too."""
    objs, dom = _small_policy()
    quiet = HypercallProfile(UUID(int=0x22), "quiet", frozenset({29}), {29: frozenset({0})})
    d_q = UUID(int=0x44)
    objs += [quiet, SecLabel(UUID(int=0x34), "q-l", quiet.id, UUID(int=0x12), Role.NONE, 2, 0)]
    objs.append(Binding(d_q, UUID(int=0x34)))
    E, D = EventKind, EvalDecision
    got = Evaluation(objs).run_events(
        [
            pack_event(E.START, 2, domain=dom["blue"]),
            pack_event(E.START, 3, domain=dom["sec"]),
            pack_event(E.START, 4, domain=d_q),  # blue's tag, the quiet profile
            pack_event(E.CHANNEL, 2, 1, 3),  # same tag, both with event_channel_op
            pack_event(E.CHANNEL, 2, 1, 4),  # same tag: refused by q's profile
            pack_event(E.CHANNEL, 4, 2, 2),  # and from q's end
            pack_event(E.CHANNEL, 0, 1, 4),  # dom0 too
            pack_event(E.CHANNEL, 4, 1, 0),
            pack_event(E.CHANNEL, 2, 1, 0),
        ]
    )
    assert got == [D.ALLOW] * 4 + [D.DENY_CHANNEL] * 4 + [D.ALLOW]
    assert got == RefEval(objs).run(
        [
            (0, int(k), domid, a, b, u)
            for k, domid, a, b, u in [
                (E.START, 2, 0, 0, dom["blue"]),
                (E.START, 3, 0, 0, dom["sec"]),
                (E.START, 4, 0, 0, d_q),
                (E.CHANNEL, 2, 1, 3, NIL),
                (E.CHANNEL, 2, 1, 4, NIL),
                (E.CHANNEL, 4, 2, 2, NIL),
                (E.CHANNEL, 0, 1, 4, NIL),
                (E.CHANNEL, 4, 1, 0, NIL),
                (E.CHANNEL, 2, 1, 0, NIL),
            ]
        ]
    )


def test_a_malformed_batch_decides_nothing() -> None:
    objs, dom = _small_policy()
    ev = Evaluation(objs)
    bad = pack_event(EventKind.START, 1, domain=dom["red"]) + pack_event(EventKind.CHANNEL, 1, 3, 2)
    with pytest.raises(InvalidArgument, match="event 1: bad channel kind 3"):
        ev.run(bad)
    # The start in the refused batch did not happen: red is not live.
    assert ev.run_events([pack_event(EventKind.HYPERCALL, 1, 17, 0)]) == [EvalDecision.NOT_RUNNING]
    for event in (
        pack_event(9, 1),
        pack_event(EventKind.HYPERCALL, 0x7FF0, 17),
        pack_event(EventKind.START, 0, domain=dom["red"]),
        pack_event(EventKind.DESTROY, 0),
        pack_event(EventKind.CHANNEL, 1, 1, 1),
    ):
        with pytest.raises(InvalidArgument):
            ev.run(event)
    with pytest.raises(ValueError, match="whole number"):
        ev.run(b"x" * 41)


def test_a_staged_policy_that_would_not_commit_is_refused() -> None:
    objs, _ = _small_policy()
    objs.append(
        SecLabel(UUID(int=0x34), "dangling", UUID(int=0x99), UUID(int=0x11), Role.NONE, 1, 0)
    )
    with pytest.raises(CommitRefused) as info:
        Evaluation(objs)
    assert info.value.error.rule is Rule.DANGLING_PROFILE


def _live_world(seed: int) -> tuple[Msm, int]:
    objs, dom = _small_policy()
    ctx = Msm.open_sim(seed=seed)
    ctx.apply(objs, empty=True)
    domid = ctx.create_domain(DomainConfig(dom["red"], "red-vm", mem_kb=2048, maxmem_kb=2048))
    return ctx, domid


def _snapshot(ctx: Msm) -> tuple[Any, ...]:
    return ctx.info(), ctx.domains(), ctx.policy(ObjType.PROFILE), ctx.policy(ObjType.BINDING)


def test_an_evaluation_leaves_the_live_context_untouched() -> None:
    """Same seed, same calls: the context an evaluation ran beside ends identical to one
    without, down to its rate windows (decisions after) and its violation ring."""
    objs, dom = _small_policy()
    a, domid = _live_world(5)
    b, _ = _live_world(5)
    with a, b:
        # Two calls in the live window at t=5 ms on both: max_rate 2 is reached there.
        for ctx in (a, b):
            assert ctx.check_hypercall(domid, 17, 0, 5_000_000) is Decision.ALLOW
            assert ctx.check_hypercall(domid, 17, 0, 5_000_001) is Decision.ALLOW
        before = _snapshot(a)
        # The staged policy sees the same domid hammer the same window, deny, start and
        # destroy domains: none of it may reach `a`.
        staged = [o for o in objs if not isinstance(o, ConflictSet)]
        ev = Evaluation(staged)
        stream = [pack_event(EventKind.START, domid, domain=dom["red"])]
        stream += [pack_event(EventKind.HYPERCALL, domid, 17, 0, 5_000_000)] * 1000
        stream += [pack_event(EventKind.HYPERCALL, domid, 37, 0, 6_000_000)] * 1000
        stream += [pack_event(EventKind.START, 7, domain=dom["blue"])]
        stream += [pack_event(EventKind.DESTROY, domid)]
        _, counts = ev.run(b"".join(stream))
        assert counts.by_decision[EvalDecision.DENY_RATE] == 998
        assert counts.by_decision[EvalDecision.DENY_PROFILE] == 1000
        assert _snapshot(a) == before
        # The live window still holds 2 calls: the third at 5 ms is the same on both.
        for ctx in (a, b):
            assert ctx.check_hypercall(domid, 17, 0, 5_000_002) is Decision.DENY_RATE
        assert _snapshot(a) == _snapshot(b)
        assert a.drain_violations() == b.drain_violations()
        assert a.domain(domid).violations == 1


def test_run_before_seal_and_put_after_seal_are_state_errors() -> None:
    # Through the raw ABI: the Python class always seals in its constructor.
    from xps.msm._lib import check, ffi, lib

    out = ffi.new("msm_eval **")
    check(lib.msm_eval_new(out))
    ev = ffi.gc(out[0], lib.msm_eval_free)
    dec = ffi.new("uint8_t[1]")
    events = ffi.new("msm_event[1]")
    events[0].kind = 1
    with pytest.raises(WrongState):
        check(lib.msm_eval_run(ev, events, ffi.sizeof("msm_event"), 1, dec, ffi.NULL, 0))
    check(lib.msm_eval_seal(ev, ffi.NULL, 0))
    tag = ffi.new("msm_tag *")
    tag.id.b[0] = 1
    tag.name = b"t"
    with pytest.raises(WrongState):
        check(lib.msm_eval_put(ev, 2, tag, ffi.sizeof("msm_tag")))
    with pytest.raises(WrongState):
        check(lib.msm_eval_seal(ev, ffi.NULL, 0))
    check(lib.msm_eval_run(ev, events, ffi.sizeof("msm_event"), 1, dec, ffi.NULL, 0))
    assert dec[0] == EvalDecision.ALLOW  # dom0
