"""The soak's CI slice: 10^6 adversarial decisions, every allowed one checked by the
independent invariant checker (0 leaks), a prefix replayed identically in the reference
model, and test builds of the C module with injected engine bugs that the checker catches
within the same slice. ``python -m benchmarks.soak`` runs the same code for 10^9.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from benchmarks.soak import LEAK_RULES, SoakError, soak
from benchmarks.soak import replay as soak_replay
from native.build_msm import build_test_module
from tests._support.msm_workload import Adversary, RefWorkload
from xps.msm import (
    Binding,
    ConflictLevel,
    ConflictSet,
    Device,
    HypercallProfile,
    Msm,
    ObjType,
    PolicyObject,
    Role,
    SecLabel,
    Tag,
)
from xps.msm._convert import object_to_c, run_counts_from_c

SLICE = 10**6
WORLD_STARTS = 16  # msm_soak_world starts this many domains, each an event for the checker


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def shipped() -> Iterator[Any]:
    from native import _msm  # type: ignore[attr-defined,unused-ignore]

    yield _msm


def test_the_slice_has_no_leaks_under_every_attack(shipped: Any) -> None:
    res = soak(shipped.ffi, shipped.lib, SLICE)
    assert res.decisions >= SLICE
    assert res.leaks == 0, res.first_leaks
    # Every allowed decision reached the checker (plus the world's starts).
    assert res.checked == res.events + WORLD_STARTS
    assert (
        res.events
        == res.allowed
        + (res.channels - res.denied_channel)
        + (res.devices - res.devices_denied)
        + (res.starts - res.starts_denied)
        + res.destroys
    )
    # Each attack happened, and was refused most of the time but not always (allowed
    # decisions of every kind were checked).
    assert res.channels > res.denied_channel > 0
    assert res.devices > res.devices_denied > 0
    assert res.starts > res.starts_denied > 0
    assert res.destroys > 0
    assert res.denied_profile > 0 and res.denied_rate > 0
    assert res.domains_stopped > 0  # labels 3 and 8 stop a domain at 500 violations


def test_a_prefix_decides_as_the_reference_model() -> None:
    # ~130 simulated ms: several starts and destroys among the calls.
    assert soak_replay(60_000) >= 60_000


def test_the_replay_notices_a_different_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay can fail: a model whose adversary differs from the C run's disagrees."""
    run = RefWorkload.run

    def other(self: RefWorkload, duration_ns: int, adversary: Adversary | None = None) -> Any:
        return run(self, duration_ns, Adversary(channel=1_000_000))

    monkeypatch.setattr(RefWorkload, "run", other)
    with pytest.raises(SoakError, match="chunk 1: counts"):
        soak_replay(1_000)


@pytest.fixture(scope="module")
def bug_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Test builds of the module (never shipped): bit 1 flips the no-communication rule of
    SECURITY-role channels; 2 | 4 | 8 put the batched rate test off by one, turn the
    Chinese Wall off at domain start and drop the device tag check; 16 drops the
    label-level channel rule (interface 1.3: event_channel_op at both ends)."""
    out = {}
    for mask in (1, 2 | 4 | 8, 16):
        name = f"_msm_bug{mask}"
        out[mask] = build_test_module(
            tmp_path_factory.mktemp(name), name, (f"MSM_TEST_INJECT_BUG={mask}",)
        )
    return out


def test_a_flipped_channel_rule_is_caught_within_the_slice(bug_builds: dict[int, Path]) -> None:
    mod = _load(bug_builds[1], "_msm_bug1")
    res = soak(mod.ffi, mod.lib, SLICE)
    assert res.leaks > 0
    assert res.leaks == res.leaks_by_rule["channel"]
    first = res.first_leaks[0]
    assert (first["rule"], first["event"]) == ("channel", "channel")


def test_a_channel_rule_without_its_label_check_is_caught(bug_builds: dict[int, Path]) -> None:
    """The soak world's profile 2 has no event_channel_op: an engine that decides channels
    by tag only lets a same-tag peer (or dom0) reach its domains, and the checker says so."""
    mod = _load(bug_builds[16], "_msm_bug16")
    res = soak(mod.ffi, mod.lib, SLICE)
    assert res.leaks > 0
    assert res.leaks == res.leaks_by_rule["channel"]
    assert all(leak["rule"] == "channel" for leak in res.first_leaks)


def test_rate_wall_and_device_bugs_are_each_caught(bug_builds: dict[int, Path]) -> None:
    mod = _load(bug_builds[2 | 4 | 8], "_msm_bug14")
    res = soak(mod.ffi, mod.lib, SLICE)
    caught = {rule for rule, n in res.leaks_by_rule.items() if n}
    assert caught == {"rate", "coresidence", "device"}, res.first_leaks


# ------------------------------------------------------------ the checker alone

A, B, C = (uuid.uuid4() for _ in range(3))
PROFILE = HypercallProfile(uuid.uuid4(), "p", frozenset({17, 29, 32}), {29: frozenset({0})})
QUIET = HypercallProfile(uuid.uuid4(), "q", frozenset({29}), {29: frozenset({0})})
LABEL_A = SecLabel(uuid.uuid4(), "la", PROFILE.id, A, max_rate=2)
LABEL_B = SecLabel(uuid.uuid4(), "lb", PROFILE.id, B, role=Role.SECURITY)
LABEL_C = SecLabel(uuid.uuid4(), "lc", PROFILE.id, C)
LABEL_Q = SecLabel(uuid.uuid4(), "lq", QUIET.id, A)  # tag A without event_channel_op
DOM_A1, DOM_A2, DOM_B, DOM_C1, DOM_C2, DOM_Q, UNBOUND = (uuid.uuid4() for _ in range(7))
CHECKER_POLICY: list[PolicyObject] = [
    Tag(A, "a"),
    Tag(B, "b"),
    Tag(C, "c"),
    ConflictSet(uuid.uuid4(), "wall", ConflictLevel.NO_CORESIDENCE, (A, C)),
    ConflictSet(uuid.uuid4(), "quiet", ConflictLevel.NO_COMMUNICATION, (B, C)),
    PROFILE,
    QUIET,
    LABEL_A,
    LABEL_B,
    LABEL_C,
    LABEL_Q,
    Binding(DOM_A1, LABEL_A.id),
    Binding(DOM_A2, LABEL_A.id),
    Binding(DOM_B, LABEL_B.id),
    Binding(DOM_C1, LABEL_C.id),
    Binding(DOM_C2, LABEL_C.id),
    Binding(DOM_Q, LABEL_Q.id),
    Device(0x100, A),
]
START, CALL, CHAN, DEV, DESTROY = 4, 1, 2, 3, 5
MS = 1_000_000
# (kind, domid, a, b, ts, start uuid, the leak it must raise or None)
EVENTS: list[tuple[int, int, int, int, int, uuid.UUID | None, str | None]] = [
    (START, 1, 0, 0, 0, DOM_A1, None),
    (START, 2, 0, 0, 0, DOM_A2, None),
    (START, 3, 0, 0, 0, DOM_B, None),
    (CALL, 1, 17, 0, 0, None, None),
    (CALL, 1, 29, 0, 0, None, None),
    (CALL, 1, 29, 1, 0, None, "profile"),  # sub-op outside the bitmap
    (CALL, 1, 29, 300, 0, None, "profile"),  # sub-op past the bitmap
    (CALL, 1, 30, 0, 0, None, "profile"),  # hypercall outside the profile
    (CALL, 1, 64, 0, 0, None, "profile"),  # past the table
    (CALL, 2, 17, 999, 0, None, None),  # xen_version has no sub-ops: ignored
    (CALL, 1, 17, 0, MS, None, None),  # a new window
    (CALL, 1, 17, 0, MS + 1, None, None),
    (CALL, 1, 17, 0, MS + 2, None, "rate"),  # the third of max_rate 2
    (CALL, 1, 17, 0, MS - 5, None, "rate"),  # an earlier clock stays in the window
    (CHAN, 1, 1, 2, 0, None, None),  # same tag
    (CHAN, 1, 2, 0, 0, None, None),  # with dom0
    (CHAN, 1, 1, 3, 0, None, None),  # SECURITY role, no no-communication set
    (CHAN, 3, 1, 1, 0, None, None),
    (START, 7, 0, 0, 0, DOM_Q, None),
    (CHAN, 1, 1, 7, 0, None, "channel"),  # same tag A, but q's profile lacks 32
    (CHAN, 7, 2, 1, 0, None, "channel"),  # from q's end
    (CHAN, 0, 1, 7, 0, None, "channel"),  # dom0 to q
    (CHAN, 7, 1, 0, 0, None, "channel"),  # q to dom0
    (CHAN, 1, 2, 2, 0, None, None),  # same tag A, both with event_channel_op
    (START, 4, 0, 0, 0, DOM_C1, "coresidence"),  # C while A runs
    (CHAN, 3, 1, 4, 0, None, "channel"),  # SECURITY, but {B, C} is no-communication
    (CHAN, 1, 2, 4, 0, None, "channel"),  # A and C, neither privileged
    (CHAN, 1, 1, 77, 0, None, "unknown"),  # a peer that is not live
    (DEV, 1, 0x100, 0, 0, None, None),
    (DEV, 3, 0x100, 0, 0, None, "device"),  # another tag
    (DEV, 1, 0x200, 0, 0, None, "device"),  # not a device of the policy
    (DEV, 0, 0x100, 0, 0, None, "device"),  # dom0 has no tag
    (START, 5, 0, 0, 0, UNBOUND, "unlabelled"),
    (CALL, 9, 17, 0, 0, None, "unknown"),
    (DESTROY, 1, 0, 0, 0, None, None),
    (CALL, 1, 17, 0, 2 * MS, None, "unknown"),  # destroyed
    (DESTROY, 2, 0, 0, 0, None, None),
    (DESTROY, 4, 0, 0, 0, None, None),
    (DESTROY, 7, 0, 0, 0, None, None),
    (START, 6, 0, 0, 0, DOM_C2, None),  # no A is live any more
    (START, 6, 0, 0, 0, DOM_C2, "unknown"),  # already live
]


def _checker(ffi: Any, lib: Any) -> Any:
    chkp = ffi.new("msm_checker **")
    assert lib.msm_checker_new(chkp) == 0
    chk = ffi.gc(chkp[0], lib.msm_checker_free)
    for obj in CHECKER_POLICY:
        objtype, c = object_to_c(obj)
        assert lib.msm_checker_put(chk, int(objtype), c, ffi.sizeof(c[0])) == 0
    return chk


def test_the_checker_flags_exactly_the_forbidden_decisions(shipped: Any) -> None:
    ffi, lib = shipped.ffi, shipped.lib
    chk = _checker(ffi, lib)
    evs = ffi.new("msm_event[]", len(EVENTS))
    for ev, (kind, domid, a, b, ts, start, _) in zip(evs, EVENTS, strict=True):
        ev.kind, ev.domid, ev.a, ev.b, ev.ts_ns = kind, domid, a, b, ts
        if start is not None:
            ffi.memmove(ev.uuid.b, start.bytes, 16)
    lib.msm_checker_feed(chk, evs, len(EVENTS))
    res = ffi.new("msm_check_result *")
    assert lib.msm_checker_result(chk, res, ffi.sizeof(res[0])) == 0
    want = [(i, rule) for i, (*_, rule) in enumerate(EVENTS) if rule]
    by_rule = {name: int(res.by_rule[n]) for n, name in LEAK_RULES.items()}
    assert by_rule == {name: sum(r == name for _, r in want) for name in LEAK_RULES.values()}
    assert (res.events, res.leaks, res.n_first) == (len(EVENTS), len(want), 8)
    first = [(LEAK_RULES[res.first[i].rule], res.first[i].event.ts_ns) for i in range(8)]
    assert first == [(rule, EVENTS[i][4]) for i, rule in want[:8]]
    # The policy is frozen once events flowed.
    _, tag = object_to_c(Tag(uuid.uuid4(), "late"))
    assert lib.msm_checker_put(chk, int(ObjType.TAG), tag, ffi.sizeof(tag[0])) == 8  # ESTATE
    assert lib.msm_checker_put(chk, int(ObjType.TAG), tag, 1) == 2  # ESIZE


# ------------------------------------------------------------- msm_sim_run_ex


def _world_ctx(ffi: Any, lib: Any) -> Msm:
    msm = Msm.open_sim(seed=3)
    assert lib.msm_soak_world(msm.ctx, 7, ffi.NULL) == 0
    return msm


def test_run_ex_without_adversary_is_run_draw_for_draw(shipped: Any) -> None:
    """msm_sim_run, msm_sim_run_ex without a sink and with one: the same decisions."""
    ffi, lib = shipped.ffi, shipped.lib
    a, b, c = (_world_ctx(ffi, lib) for _ in range(3))
    with a, b, c:
        chk = _checker(ffi, lib)  # fed, but with another policy: only the counts matter
        for _ in range(3):
            want = a.run(7_654_321)
            outs = []
            for ctx, sink in ((b, False), (c, True)):
                p = ffi.new("msm_run_params *")
                p.duration_ns = 7_654_321
                if sink:
                    p.sink = ffi.addressof(lib, "msm_checker_feed")
                    p.sink_user = chk
                out = ffi.new("msm_run_ex_counts *")
                assert (
                    lib.msm_sim_run_ex(ctx.ctx, p, ffi.sizeof(p[0]), out, ffi.sizeof(out[0])) == 0
                )
                outs.append(out)
            for out in outs:
                got = run_counts_from_c(out.run)
                assert got == want
                assert (out.devices, out.starts, out.destroys) == (0, 0, 0)
            assert outs[0].events == 0 and outs[1].events == want.allowed
            drained = [m.drain_violations() for m in (a, b, c)]
            assert drained[0] == drained[1] == drained[2]
            infos = [m.info() for m in (a, b, c)]
            assert infos[0] == infos[1] == infos[2]


def test_run_ex_checks_its_arguments(shipped: Any) -> None:
    ffi, lib = shipped.ffi, shipped.lib
    with _world_ctx(ffi, lib) as msm:
        p, out = ffi.new("msm_run_params *"), ffi.new("msm_run_ex_counts *")
        ps, os_ = ffi.sizeof(p[0]), ffi.sizeof(out[0])
        assert lib.msm_sim_run_ex(msm.ctx, ffi.NULL, ps, out, os_) == 1
        assert lib.msm_sim_run_ex(msm.ctx, p, ps - 8, out, os_) == 2
        assert lib.msm_sim_run_ex(msm.ctx, p, ps, out, os_ + 8) == 2
        p.duration_ns = 60_000_000_001
        assert lib.msm_sim_run_ex(msm.ctx, p, ps, out, os_) == 3
        p.duration_ns = MS
        p.adversary._reserved = 1
        assert lib.msm_sim_run_ex(msm.ctx, p, ps, out, os_) == 1
        p.adversary._reserved = 0
        p.adversary.channel_per_million = 600_000
        p.adversary.call_per_million = 400_001
        assert lib.msm_sim_run_ex(msm.ctx, p, ps, out, os_) == 3
        p.adversary.call_per_million = 400_000
        p.adversary.lifecycle_per_million = 1_000_001
        assert lib.msm_sim_run_ex(msm.ctx, p, ps, out, os_) == 3
        p.adversary.lifecycle_per_million = 1_000_000
        assert lib.msm_sim_run_ex(msm.ctx, p, ps, out, os_) == 0
        assert out.run.channels > 0 and out.starts + out.destroys == 1


def test_cutting_the_run_at_whole_milliseconds_changes_nothing(shipped: Any) -> None:
    """The soak sizes its chunks freely and the replay uses 2 ms ones: both are one run."""
    ffi, lib = shipped.ffi, shipped.lib
    totals = []
    for chunks in ([1] * 12, [5, 2, 5], [12]):
        with _world_ctx(ffi, lib) as msm:
            sums = [0] * 6
            for ms in chunks:
                p, out = ffi.new("msm_run_params *"), ffi.new("msm_run_ex_counts *")
                p.duration_ns = ms * MS
                p.adversary.channel_per_million = p.adversary.device_per_million = 50_000
                p.adversary.call_per_million = p.adversary.lifecycle_per_million = 300_000
                rc = lib.msm_sim_run_ex(msm.ctx, p, ffi.sizeof(p[0]), out, ffi.sizeof(out[0]))
                assert rc == 0
                run = out.run
                row = [run.allowed, run.denied_profile, run.denied_rate, run.denied_channel]
                row += [out.devices_denied, out.starts_denied]
                sums = [s + int(v) for s, v in zip(sums, row, strict=True)]
            totals.append((sums, msm.drain_violations(), [d.name for d in msm.domains()]))
    assert totals[0] == totals[1] == totals[2]
    assert all(totals[0][0])  # every kind of decision happened
