"""The typed API over the sim backend: memory scrub, workload determinism, round trips."""

from __future__ import annotations

import uuid

import pytest

import xps.msm as msm_mod
from native import _msm  # type: ignore[attr-defined]
from tests._support.msm_scenario import World
from xps.msm import (
    HYPERCALL_NAMES,
    SUBOP_HYPERCALLS,
    Busy,
    CommitRefused,
    ConflictLevel,
    ConflictSet,
    DomainConfig,
    GuestOS,
    GuestType,
    HypercallProfile,
    InvalidArgument,
    Misbehaviour,
    Msm,
    MsmError,
    ObjType,
    OutOfRange,
    Rule,
    RunState,
    Status,
    Tag,
    VersionMismatch,
    WrongState,
    format_bdf,
    hypercall_number,
    parse_bdf,
)
from xps.msm._errors import error_for
from xps.msm._lib import check_interface_version

MiB = 1024


def test_scrub_new_domain_reads_only_zeros(sim: Msm) -> None:
    w = World()
    w.bind("old", "A")
    w.bind("new", "A")
    sim.apply(w.objects())
    old = sim.create_domain(DomainConfig(w.doms["old"], "old", mem_kb=4 * MiB, maxmem_kb=4 * MiB))
    pattern = bytes(range(256)) * 16
    size = 4 * MiB * 1024
    for off in range(0, size, 64 * 1024):  # one page in every 16
        sim.write_memory(old, off, pattern)
    sim.write_memory(old, size - 3, b"end")
    assert sim.read_memory(old, 64 * 1024, 4096) == pattern
    before = sim.info()
    sim.destroy(old)
    after = sim.info()
    assert after.pages_scrubbed - before.pages_scrubbed == size // (64 * 1024) + 1
    assert after.free_mem_kb - before.free_mem_kb == 4 * MiB
    new = sim.create_domain(DomainConfig(w.doms["new"], "new", mem_kb=4 * MiB, maxmem_kb=4 * MiB))
    assert sim.read_memory(new, 0, size) == bytes(size)
    with pytest.raises(OutOfRange):
        sim.read_memory(new, size - 1, 2)


def test_reboot_scrubs_and_keeps_violations(sim: Msm) -> None:
    w = World()
    w.bind("x", "A")
    sim.apply(w.objects())
    x = sim.create_domain(DomainConfig(w.doms["x"], "x", mem_kb=2 * MiB, maxmem_kb=2 * MiB))
    sim.write_memory(x, 4096, b"secret")
    sim.check_hypercall(x, 36, 0, 0)
    sim.reboot(x)
    assert sim.read_memory(x, 4096, 6) == bytes(6)
    assert sim.domain(x).violations == 1


def _busy_world(sim: Msm, seed_domains: int = 3) -> World:
    w = World(hypercalls=frozenset(range(64)), max_rate=300, max_violations=50)
    # A profile allowing every sub-op too, so only injected misbehaviour is denied.
    w.profile = HypercallProfile(
        w.profile.id,
        "all",
        frozenset(range(64)),
        {nr: frozenset(range(256)) for nr in SUBOP_HYPERCALLS}
        | {36: frozenset(), 35: frozenset(), 7: frozenset()},
    )
    names = ["a", "c", "c2"][:seed_domains]
    for n in names:
        w.bind(n, "A" if n == "a" else "C")
    sim.apply(w.objects())
    kinds = [GuestType.PV, GuestType.HVM, GuestType.PVH]
    for i, n in enumerate(names):
        d = sim.create_domain(
            DomainConfig(w.doms[n], n, kinds[i], GuestOS.LINUX, 2 * MiB, 2 * MiB, 2, 2, 800)
        )
        sim.set_misbehaviour(d, Misbehaviour(i + 1), 10_000)
    return w


def _run(seed: int) -> tuple[object, list[object], list[object]]:
    with Msm.open_sim(seed=seed, ring_capacity=1 << 16) as sim:
        _busy_world(sim)
        counts = sim.run(200_000_000)
        records, _ = sim.drain_violations(1 << 16)
        # Violations carry random-per-run ids of the World, so compare their shape.
        shape = [(r.ts_ns, r.domid, r.kind, r.nr, r.subop, r.peer, r.count) for r in records]
        return counts, shape, [d.cpu_ns for d in sim.domains()]


def test_workload_is_deterministic_per_seed() -> None:
    a, b, c = _run(11), _run(11), _run(12)
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]
    counts = a[0]
    assert counts.hypercalls == counts.allowed + counts.denied_profile + counts.denied_rate
    assert counts.denied_profile > 0 and counts.denied_rate > 0 and counts.channels > 0
    assert counts.elapsed_ns == 200_000_000


def test_run_stops_misbehaving_domains(sim: Msm) -> None:
    _busy_world(sim)
    counts = sim.run(2_000_000_000)
    stopped = [d for d in sim.domains() if d.stopped_by_msm]
    assert counts.domains_stopped == len(stopped) > 0
    assert all(d.state == RunState.PAUSED and d.violations >= 50 for d in stopped)
    info = sim.info()
    assert info.now_ns == 2_000_000_000
    assert info.hypercalls_checked == counts.hypercalls
    assert counts.ring_dropped == info.ring_dropped


def test_policy_round_trip_sorted_by_key(sim: Msm) -> None:
    tags = [Tag(uuid.UUID(bytes=bytes([b]) + bytes(15)), f"t{b}") for b in (9, 3, 200, 1)]
    wall = ConflictSet(
        uuid.uuid4(), "w", ConflictLevel.NO_COMMUNICATION, (tags[2].id, tags[0].id, tags[1].id)
    )
    prof = HypercallProfile(
        uuid.uuid4(),
        "p",
        frozenset({0, 29, 36, 63}),
        {29: frozenset({0, 255}), 36: frozenset({1, 128}), 12: frozenset()},
    )
    assert sim.apply([*tags, wall, prof]) == 1
    assert sim.policy(ObjType.TAG) == sorted(tags, key=lambda t: t.id.bytes)
    assert sim.policy(ObjType.CONFLICT) == [wall]
    assert sim.policy(ObjType.PROFILE) == [prof]
    assert dict(prof.subops) == {29: frozenset({0, 255}), 36: frozenset({1, 128})}
    assert sim.policy(ObjType.SECLABEL) == []


def test_transaction_context_manager(sim: Msm) -> None:
    tag = Tag(uuid.uuid4(), "t")
    with sim.transaction() as txn:
        txn.put(tag)
    assert sim.info().generation == 1 and not sim.info().txn_open
    with pytest.raises(RuntimeError), sim.transaction() as txn:
        txn.put(Tag(uuid.uuid4(), "u"))
        raise RuntimeError("abandon")
    assert sim.policy(ObjType.TAG) == [tag] and not sim.info().txn_open
    with pytest.raises(CommitRefused) as info, sim.transaction() as txn:
        txn.put(Tag(uuid.uuid4(), "t"))
    assert info.value.rule is Rule.DUPLICATE_NAME and info.value.objtype is ObjType.TAG
    assert not sim.info().txn_open
    sim.transaction()
    with pytest.raises(Busy):
        sim.transaction()


def test_closed_context_and_bad_arguments(sim: Msm) -> None:
    with pytest.raises(OutOfRange):
        sim.check_hypercall(-1, 0, 0, 0)
    with pytest.raises(InvalidArgument):
        sim.transaction().put("not an object")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Tag(uuid.uuid4(), "x" * 64)
    with pytest.raises(InvalidArgument):
        Tag(uuid.uuid4(), "nul\0inside")
    with pytest.raises(InvalidArgument):
        HypercallProfile(uuid.uuid4(), "p", frozenset({1}), {1: frozenset({0})})
    with pytest.raises(OutOfRange):
        HypercallProfile(uuid.uuid4(), "p", frozenset({64}))
    sim.close()
    sim.close()
    assert sim.closed
    with pytest.raises(WrongState):
        sim.info()


def test_every_status_maps_to_its_error_and_code() -> None:
    for status in Status:
        if status is Status.OK:
            continue
        err = error_for(status, "detail")
        name = _msm.ffi.string(_msm.lib.msm_status_name(status)).decode()
        assert err.code == name == status.code
        assert err.status == status and err.detail == "detail"
        assert isinstance(err, MsmError)
    unknown = error_for(99)
    assert type(unknown) is MsmError and unknown.code == "MSM_STATUS_99"
    assert _msm.ffi.string(_msm.lib.msm_status_name(99)) == b"MSM_UNKNOWN"


def test_interface_version_check() -> None:
    assert msm_mod.EXPECTED_INTERFACE_VERSION == _msm.lib.MSM_INTERFACE_VERSION
    check_interface_version(0x00010007)  # a newer minor is fine
    with pytest.raises(VersionMismatch, match=r"interface 2\.0"):
        check_interface_version(0x00020000)


def test_hypercall_tables_and_bdf() -> None:
    assert HYPERCALL_NAMES[36] == "domctl" and HYPERCALL_NAMES[11] == "unused"
    assert 43 not in HYPERCALL_NAMES and HYPERCALL_NAMES[55] == "arch_7"
    assert len(HYPERCALL_NAMES) == 51
    assert {7, 12, 20, 24, 26, 27, 29, 30, 32, 33, 34, 35, 36, 41} == SUBOP_HYPERCALLS
    assert hypercall_number("__HYPERVISOR_xsm_op") == 27 == hypercall_number("xsm_op")
    with pytest.raises(InvalidArgument):
        hypercall_number("nope")
    assert parse_bdf("0000:03:00.0") == 0x300
    assert parse_bdf("1:ff:1f.7") == 0x1_FFFF
    assert parse_bdf("03:01.2") == 0x30A
    assert format_bdf(0x1_FFFF) == "0001:ff:1f.7"
    for text in ["0000:03:00", "03:20.0", "x:03:00.0", "03:00.8"]:
        with pytest.raises(InvalidArgument):
            parse_bdf(text)
    for bdf in [0, 0x300, 0xFFFF_FFFF]:
        assert parse_bdf(format_bdf(bdf)) == bdf
