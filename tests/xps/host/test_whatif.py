"""Allowed-call counts and the policy what-if on a sim host: what a staged policy would
fix and deny, decided by the MSM's evaluation mode, with nothing of the host changed."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest

from xps.host import Host, InvalidArgument, PolicyInvalid
from xps.msm import SUBOP_HYPERCALLS
from xps.policy import ConflictLevel, ConflictSet, Policy, serialize_policy

DOMAIN = "EA-domu-1"


EVENT_CHANNEL_OP = 32


@pytest.fixture
def host(sim_host: Host) -> Host:
    return sim_host


async def _calls_of(host: Host, name: str) -> dict[tuple[int, int], int]:
    """Waits (a liveness bound) until the host has counted calls of ``name``."""
    async with asyncio.timeout(20):
        while True:
            got = await host.call_counts(10, name)
            if got["calls"]:
                return {(c["hypercall"], c["subop"]): c["count"] for c in got["calls"]}
            await asyncio.sleep(0.05)


def _xml(policy: Policy) -> str:
    return serialize_policy(policy).decode()


def _without_call(policy: Policy, domain: str, nr: int, subop: int) -> tuple[Policy, str]:
    """``policy`` with (nr, subop) dropped from the profile of ``domain``'s SecLabel."""
    dom = next(d for d in policy.domains if d.name == domain)
    assert dom.seclabel is not None
    profile = policy.profile(policy.seclabel(dom.seclabel).profile)
    if nr in SUBOP_HYPERCALLS:
        subops = tuple((n, ops - {subop} if n == nr else ops) for n, ops in profile.subops)
        changed = dataclasses.replace(profile, subops=subops)
    else:
        changed = dataclasses.replace(profile, hypercalls=profile.hypercalls - {nr})
    return policy.with_profile(changed), profile.name


async def test_call_counts_are_kept_per_domain_and_call(host: Host) -> None:
    await host.create_domain(DOMAIN)
    calls = await _calls_of(host, DOMAIN)
    assert all(n > 0 for n in calls.values())
    everyone = await host.call_counts(10)
    assert {c["domain"] for c in everyone["calls"]} >= {DOMAIN}
    row = everyone["calls"][0]
    assert row["hypercall_name"] and row["count"] >= everyone["calls"][-1]["count"]
    for bad in (0, 1441, True, "10"):
        with pytest.raises(InvalidArgument):
            await host.call_counts(bad)  # type: ignore[arg-type]


async def test_the_active_policy_changes_nothing(host: Host) -> None:
    await host.create_domain(DOMAIN)
    await _calls_of(host, DOMAIN)
    active = host.state.policy
    assert active is not None
    out = await host.what_if(xml=_xml(active))
    assert out["denied_calls"] == [] and out["domains"] == []
    assert out["channels"] == [] and out["devices"] == []
    assert out["denies_allowed"] is False


async def test_a_profile_missing_a_call_the_domain_makes_is_reported(host: Host) -> None:
    await host.create_domain(DOMAIN)
    calls = await _calls_of(host, DOMAIN)
    (nr, subop), counted = max(calls.items(), key=lambda kv: kv[1])
    active = host.state.policy
    assert active is not None
    staged, profile = _without_call(active, DOMAIN, nr, subop)
    generation = host.state.store.generation
    ring = host.state.require_msm().info()

    out = await host.what_if(xml=_xml(staged), minutes=10)

    assert out["denies_allowed"] is True
    row = next(r for r in out["denied_calls"] if r["domain"] == DOMAIN and r["hypercall"] == nr)
    assert (row["subop"], row["reason"], row["profile"]) == (subop, "profile", profile)
    assert row["calls"] >= counted
    assert row["text"] == (
        f"{DOMAIN} made {row['calls']:,} {row['hypercall_name']}/{subop} calls in the last "
        f"10 min; the staged {profile} profile denies them"
    )
    # Nothing of the host moved: same policy in force, same MSM generation.
    assert host.state.policy is active
    assert host.state.store.generation == generation
    assert host.state.require_msm().info().generation == ring.generation


async def test_a_running_domain_without_a_seclabel_is_reported(host: Host) -> None:
    domid = (await host.create_domain(DOMAIN))["domid"]
    active = host.state.policy
    assert active is not None
    dom = next(d for d in active.domains if d.name == DOMAIN)
    staged = dataclasses.replace(
        active,
        domains=tuple(d for d in active.domains if d.id != dom.id),
        vifs=tuple(v for v in active.vifs if v.domain != dom.id),
    )
    out = await host.what_if(xml=_xml(staged))
    assert out["domains"] == [
        {
            "domain": DOMAIN,
            "domid": domid,
            "outcome": "unlabelled",
            "text": f"{DOMAIN} would lose its SecLabel (no binding in {staged.name})",
        }
    ]
    assert out["denies_allowed"] is True


async def test_violations_the_staged_policy_allows_are_fixed(host: Host) -> None:
    await host.create_domain(DOMAIN)
    await host.set_misbehaviour(DOMAIN, "out_of_profile", 20_000)
    async with asyncio.timeout(20):  # liveness bound: wait for profile violations
        while True:
            seen = (await host.violations(0, 100_000))["violations"]
            kinds = {(v["hypercall"], v["subop"]) for v in seen if v["kind"] == "profile"}
            if kinds:
                break
            await asyncio.sleep(0.05)
    await host.set_misbehaviour(DOMAIN, "out_of_profile", 0)
    nr, subop = sorted(kinds)[0]
    active = host.state.policy
    assert active is not None
    dom = next(d for d in active.domains if d.name == DOMAIN)
    assert dom.seclabel is not None
    profile = active.profile(active.seclabel(dom.seclabel).profile)
    subops = dict(profile.subops)
    if nr in SUBOP_HYPERCALLS:
        subops[nr] = subops.get(nr, frozenset()) | {subop}
    widened = dataclasses.replace(
        profile, hypercalls=profile.hypercalls | {nr}, subops=tuple(sorted(subops.items()))
    )
    out = await host.what_if(xml=_xml(active.with_profile(widened)))
    fixed = [f for f in out["fixed"] if f["domain"] == DOMAIN]
    assert any((f["hypercall"], f["subop"]) == (nr, subop) and f["count"] >= 1 for f in fixed)
    assert out["denied_calls"] == []


async def test_a_malformed_policy_is_refused(host: Host) -> None:
    with pytest.raises(PolicyInvalid):
        await host.what_if(xml="<policy>")
    with pytest.raises(InvalidArgument):
        await host.what_if(xml="<x/>", policy={})
    with pytest.raises(InvalidArgument):
        await host.what_if(xml="<x/>", minutes=0)


def test_call_history_windows_tiers_bound_and_file() -> None:
    from xps.host._calls import MAX_KEYS, CallHistory

    h = CallHistory()
    t0 = 1_700_000_000.0 // 900 * 900  # on a 15-minute boundary
    for minute in range(180):  # three hours, one call a minute, plus a burst at the end
        h.add(t0 + minute * 60, "vm", 20, 0, 1)
    h.add(t0 + 179 * 60, "vm", 29, 1, 50)
    h.add(t0 + 179 * 60, "other", 20, 0, 7)
    assert h.totals(1) == {("vm", 20, 0): 1, ("vm", 29, 1): 50, ("other", 20, 0): 7}
    assert h.totals(10, "vm") == {("vm", 20, 0): 10, ("vm", 29, 1): 50}
    assert h.totals(120)[("vm", 20, 0)] == 120  # minute buckets keep 2 h
    assert h.totals(180)[("vm", 20, 0)] == 180  # 15-minute buckets beyond
    assert h.result(10)["calls"][0] == {
        "domain": "vm",
        "hypercall": 29,
        "hypercall_name": "sched_op",
        "subop": 1,
        "count": 50,
    }
    # Bounded: keys past MAX_KEYS in one minute are counted as dropped, not kept.
    for i in range(MAX_KEYS + 10):
        h.add(t0 + 180 * 60, f"d{i}", 1, 0, 2)
    assert len(h.totals(1)) == MAX_KEYS
    assert h.dropped == 20
    # A day later the minute tier is empty and the 15-minute tier kept the last 24 h only.
    h.add(t0 + 180 * 60 + 86_400, "vm", 1, 0, 1)
    assert h.totals(1) == {("vm", 1, 0): 1}
    day = h.totals(1440)
    assert day == {("vm", 1, 0): 1}  # the last 24 h only
    back = CallHistory.from_json(h.to_json())
    assert back.totals(1440) == h.totals(1440) and back.dropped == h.dropped
    with pytest.raises(InvalidArgument):
        CallHistory.from_json(b'{"version": 9}')


async def test_channel_pairs_that_change_are_listed(host: Host) -> None:
    """Two running domains of one tag may open channels now; a staged profile without
    event_channel_op closes them (MSM 1.3: both ends' profiles need it): the pair is listed
    as allowed now, denied staged, and counts as a denial."""
    for name in ("EA-domu-1", "EA-domu-3"):
        await host.create_domain(name)
    active = host.state.policy
    assert active is not None
    out = await host.what_if(xml=_xml(active))
    assert out["channels"] == []  # the active policy changes no pair
    dom = next(d for d in active.domains if d.name == "EA-domu-1")
    assert dom.seclabel is not None
    profile = active.profile(active.seclabel(dom.seclabel).profile)
    closed = dataclasses.replace(
        profile,
        hypercalls=profile.hypercalls - {EVENT_CHANNEL_OP},
        subops=tuple((n, ops) for n, ops in profile.subops if n != EVENT_CHANNEL_OP),
    )
    out = await host.what_if(xml=_xml(active.with_profile(closed)))
    pairs = {(c["a"], c["b"]): (c["active"], c["staged"]) for c in out["channels"]}
    assert pairs == {("EA-domu-1", "EA-domu-3"): (True, False)}
    assert out["denies_allowed"] is True


async def test_a_domain_a_new_conflict_set_would_refuse_is_listed(host: Host) -> None:
    for name in ("EA-domu-1", "EB-domu-1"):
        await host.create_domain(name)
    active = host.state.policy
    assert active is not None
    tag_of = {s.id: s.tag for s in active.seclabels}
    ea, eb = (
        tag_of[next(d.seclabel for d in active.domains if d.name == n)]
        for n in ("EA-domu-1", "EB-domu-1")
    )
    apart = ConflictSet(
        id=uuid.uuid4(), name="EA-EB-apart", level=ConflictLevel.NO_CORESIDENCE, tags=(ea, eb)
    )
    staged = dataclasses.replace(active, conflicts=(*active.conflicts, apart))
    out = await host.what_if(xml=_xml(staged))
    assert [(d["domain"], d["outcome"]) for d in out["domains"]] == [("EB-domu-1", "conflict")]
    assert "no-coresidence conflict set" in out["domains"][0]["text"]
    assert out["denies_allowed"] is True


async def test_device_pairs_that_change_are_listed(host: Host) -> None:
    """Issue #14 §1: a staged policy that gives Enclave A's storage controller to Enclave B,
    takes the tag off Enclave B's storage controller and gives an untagged network function
    to Enclave A: each pair of a device and a running domain whose decision changes is
    listed (allowed now, denied staged: a denial; or the other way round)."""
    for name in ("EA-domu-1", "EB-domu-1"):
        await host.create_domain(name)
    active = host.state.policy
    assert active is not None
    out = await host.what_if(xml=_xml(active))
    assert out["devices"] == []  # the active policy changes no pair
    tag = {t.name: t.id for t in active.tags}
    pci = {d.bdf: d for d in active.hardware.pci}
    assert pci["0000:02:00.0"].tag == tag["Enclave A"] and pci["0000:03:00.3"].tag is None
    moved = {
        "0000:02:00.0": tag["Enclave B"],  # given to another tag
        "0000:04:00.0": None,  # removed from Enclave B
        "0000:03:00.3": tag["Enclave A"],  # given to Enclave A
    }
    hardware = dataclasses.replace(
        active.hardware,
        pci=tuple(
            dataclasses.replace(d, tag=moved[d.bdf]) if d.bdf in moved else d
            for d in active.hardware.pci
        ),
    )
    out = await host.what_if(xml=_xml(active.with_hardware(hardware)))
    pairs = {(x["device"], x["domain"]): (x["active"], x["staged"]) for x in out["devices"]}
    assert pairs == {
        ("0000:02:00.0", "EA-domu-1"): (True, False),
        ("0000:02:00.0", "EB-domu-1"): (False, True),
        ("0000:04:00.0", "EB-domu-1"): (True, False),
        ("0000:03:00.3", "EA-domu-1"): (False, True),
    }
    assert out["denies_allowed"] is True
