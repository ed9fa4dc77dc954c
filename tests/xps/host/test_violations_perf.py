"""The packed (fast) violations path gives exactly what the record-by-record path gave.

A straightforward reference (one dict and one log line per record, the formatting the
monitor had before it worked on packed batches) is compared with the monitor on real
drains of the simulated hypervisor and on generated batches.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xps.host._violations import Labels, ViolationMonitor
from xps.msm import (
    DEMO_DOMAINS,
    DOMID_INVALID,
    HYPERCALL_NAMES,
    VIOLATION_RECORD,
    Misbehaviour,
    Msm,
    MsmError,
    SecLabel,
    Violation,
    ViolationKind,
    demo_policy,
)
from xps.msm._convert import violations_from_packed

LABEL = UUID("43821506-6bc8-5771-bead-ac96a6dead2f")
OTHER = UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
EPOCH = 1_795_000_000_123_456_789
KINDS = {1: "profile", 2: "rate", 3: "channel"}


def reference(
    v: Violation, seq: int, names: dict[int, str], labels: dict[UUID, Labels]
) -> tuple[dict[str, Any], str]:
    """One record's dict and log line, computed the slow and obvious way."""
    ts_ns = v.ts_ns + EPOCH
    sec, rem = divmod(ts_ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{rem // 1_000_000:03d}Z"
    label = labels.get(v.seclabel)
    d = {
        "seq": seq,
        "ts": stamp,
        "ts_ns": ts_ns,
        "domid": v.domid,
        "domain": names.get(v.domid, f"domain-{v.domid}"),
        "seclabel": None if v.seclabel.int == 0 else str(v.seclabel),
        "seclabel_name": label.seclabel_name if label else "",
        "profile": label.profile if label else "",
        "kind": KINDS.get(int(v.kind)) or str(int(v.kind)),
        "hypercall": v.nr,
        "hypercall_name": HYPERCALL_NAMES.get(v.nr) or f"hypercall_{v.nr}",
        "subop": v.subop,
        "peer": v.peer,
        "count": v.count,
    }
    line = (
        f"{d['ts']} seq={seq} domid={d['domid']} domain={d['domain']}"
        f" seclabel={d['seclabel_name'] or d['seclabel'] or '-'} kind={d['kind']}"
        f" hypercall={d['hypercall_name']}({d['hypercall']}) subop={d['subop']}"
        f" peer={'-' if d['peer'] is None else d['peer']} count={d['count']}"
    )
    return d, line


class Rig:
    """A monitor over a temp log with a mutable name table and the events it published."""

    def __init__(self, path: Path, keep: int, labels: dict[UUID, Labels]) -> None:
        self.names: dict[int, str] = {}
        self.labels = labels
        self.events: list[dict[str, Any]] = []
        self.log = path / "xenon-msm-violations.log"
        self.mon = ViolationMonitor(
            self.log,
            keep,
            EPOCH,
            lambda domid: self.names.get(domid, f"domain-{domid}"),
            self.events.append,
        )
        self.mon.set_labels(labels)

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def sim() -> Any:
    with Msm.open_sim(seed=7, ring_capacity=1 << 16) as ctx:
        yield ctx


def misbehave(ctx: Msm) -> dict[int, str]:
    """The demo policy, never stopping a guest, every guest misbehaving a lot."""
    objs = [replace(o, max_violations=0) if isinstance(o, SecLabel) else o for o in demo_policy()]
    ctx.apply(objs)
    started: dict[int, str] = {}
    for d in DEMO_DOMAINS:
        try:
            domid = ctx.create_domain(d.config)
        except MsmError:
            continue  # the demo's vault is refused (no co-residence with secret)
        kind = d.misbehaviour or Misbehaviour.OUT_OF_PROFILE
        ctx.set_misbehaviour(domid, kind, 200_000)
        started[domid] = d.config.name
    assert len(started) >= 4
    return started


def test_sim_drain_matches_reference(sim: Msm, tmp_path: Path) -> None:
    started = misbehave(sim)
    sim.run(20_000_000)
    # The same ring contents through both drains: decode the packed batch both ways.
    data, dropped = sim.drain_violations_packed(1 << 16)
    assert dropped == 0 and len(data) % VIOLATION_RECORD.size == 0
    n = len(data) // VIOLATION_RECORD.size
    assert n > 1000  # the demo misbehaves: a real batch, several domains and kinds
    rig = Rig(tmp_path, 1 << 20, {})
    rig.names.update(started)
    out, names = rig.mon.ingest_packed(data)
    sim.run(5_000_000)
    records, _ = sim.drain_violations(1 << 16)
    out += rig.mon.ingest(records)
    packed = violations_from_packed(data)
    assert names == {v.domid: rig.names.get(v.domid, f"domain-{v.domid}") for v in packed}
    assert len(names) >= 4
    assert {d["kind"] for d in out} == {"profile", "rate", "channel"}
    rig.mon.close()
    everything = packed + records
    expected = [reference(v, i + 1, rig.names, {}) for i, v in enumerate(everything)]
    assert out == [d for d, _ in expected]
    assert rig.lines() == [line for _, line in expected]
    assert rig.mon.since(0, 100_000)["violations"] == out
    assert [e["last_seq"] for e in rig.events] == [n, len(out)]


def test_packed_drain_and_record_drain_agree(tmp_path: Path) -> None:
    # Two sims with the same seed produce the same ring; one drained packed, one not.
    with Msm.open_sim(seed=3) as a, Msm.open_sim(seed=3) as b:
        for ctx in (a, b):
            misbehave(ctx)
            ctx.run(20_000_000)
        data, da = a.drain_violations_packed(777)
        records, db = b.drain_violations(777)
    assert da == db and len(records) == 777 and len(data) == 777 * VIOLATION_RECORD.size
    for v, row in zip(records, VIOLATION_RECORD.iter_unpack(data), strict=True):
        peer = DOMID_INVALID if v.peer is None else v.peer
        assert row == (
            v.ts_ns,
            v.domid,
            int(v.kind),
            v.seclabel.bytes,
            v.nr,
            v.subop,
            peer,
            v.count,
        )


def _violation(i: int, domid: int, kind: int, label: int, nr: int) -> Violation:
    seclabel = (UUID(int=0), LABEL, OTHER, UUID(int=99))[label]
    peer = domid + 1 if kind == 3 else None
    # Timestamps cross second boundaries and repeat milliseconds.
    return Violation(i * 333_333_333 // 7, domid, ViolationKind(kind), seclabel, nr, i % 5, peer, i)


batches = st.lists(
    st.lists(
        st.tuples(
            st.integers(0, 5),  # domid
            st.sampled_from([1, 2, 3]),  # kind
            st.integers(0, 3),  # seclabel
            st.sampled_from([1, 36, 37, 63, 99]),  # hypercall
        ),
        max_size=12,
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=batches, keep=st.integers(1, 30), data=st.data())
def test_window_and_queries_match_reference(
    tmp_path_factory: pytest.TempPathFactory, batches: list[Any], keep: int, data: Any
) -> None:
    tmp = tmp_path_factory.mktemp("mon")
    labels = {LABEL: Labels("EA-seclabel", "PV-Combined")}
    rig = Rig(tmp, keep, labels)
    expected: list[tuple[dict[str, Any], str]] = []
    i = 0
    for batch in batches:
        recs = []
        for domid, kind, label, nr in batch:
            i += 1
            recs.append(_violation(i, domid, kind, label, nr))
        # Domains get (re)named between batches: a record keeps the name it was drained with.
        rig.names[i % 6] = f"dom-{i}"
        expected += [
            reference(v, len(expected) + k + 1, rig.names, labels) for k, v in enumerate(recs)
        ]
        out = rig.mon.ingest(recs)
        assert out == [d for d, _ in expected[len(expected) - len(recs) :]]
    rig.mon.close()
    assert rig.lines() == [line for _, line in expected]
    kept = [d for d, _ in expected][-keep:]
    total = len(expected)
    since = data.draw(st.integers(0, total + 2))
    limit = data.draw(st.integers(1, 40))
    got = rig.mon.since(since, limit)
    assert got["last_seq"] == total and got["dropped"] == 0
    assert got["violations"] == [d for d in kept if d["seq"] > since][:limit]
    published = [d for e in rig.events for d in e["violations"]]
    assert published == [d for d, _ in expected]


def test_labels_apply_to_later_queries(tmp_path: Path) -> None:
    rig = Rig(tmp_path, 100, {LABEL: Labels("old-name", "old-profile")})
    (first,) = rig.mon.ingest([_violation(1, 1, 1, 1, 36)])
    assert first["seclabel_name"] == "old-name"
    rig.mon.set_labels({LABEL: Labels("new-name", "new-profile")})
    (again,) = rig.mon.since(0)["violations"]
    assert again["seclabel_name"] == "new-name" and again["profile"] == "new-profile"
    assert {k: v for k, v in again.items() if k not in ("seclabel_name", "profile")} == {
        k: v for k, v in first.items() if k not in ("seclabel_name", "profile")
    }
    rig.mon.close()


def test_drain_in_bounded_batches_returns_touched_domids(sim: Msm, tmp_path: Path) -> None:
    misbehave(sim)
    sim.run(5_000_000)
    pending = sim.info().ring_used
    assert pending > 300
    rig = Rig(tmp_path, 1 << 20, {})
    touched = rig.mon.drain(sim, 100, 3)  # at most 300 records in this call
    assert rig.mon.last_seq == 300 and len(rig.events) == 3
    assert touched == {d["domid"] for e in rig.events for d in e["violations"]}
    rest = rig.mon.drain(sim, 4096, 64)
    assert rig.mon.last_seq == pending and sim.info().ring_used == 0
    assert rest  # the rest touched domains too
    rig.mon.close()
