"""check_change: every finding a change introduces, and nothing that check() would not say."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enterprise_store.checker import check, check_change
from enterprise_store.model import ConflictSet, EnterprisePolicy
from enterprise_store.policy import sample_xe_policy
from tests._support.xe_strategies import enterprises
from xps.policy import ConflictLevel


def _mutate(data: Any, p: EnterprisePolicy) -> EnterprisePolicy:
    """Applies one random change that can break (or fix) any rule."""
    pick = data.draw
    op = pick(
        st.sampled_from(["vm", "remove", "assign", "order", "conflict", "label", "rename", "clash"])
    )
    hosts = [h.id for h in p.hosts]
    enclaves = [e.id for e in p.enclaves]
    labels = [s.id for s in p.seclabels]
    if op == "vm" and p.vms:
        vm = pick(st.sampled_from(p.vms))
        field = pick(st.sampled_from(["seclabel", "enclave", "host", "run", "memory_mb"]))
        value: Any
        if field == "seclabel":
            value = pick(st.sampled_from([None, uuid.uuid4(), *labels]))
        elif field == "enclave":
            value = pick(st.sampled_from([uuid.uuid4(), *enclaves]))
        elif field == "host":
            value = pick(st.sampled_from([None, uuid.uuid4(), *hosts]))
        elif field == "run":
            value = not vm.run
        else:
            value = pick(st.sampled_from([0, vm.maxmem_mb, vm.maxmem_mb + 1]))
        return p.with_vm(dataclasses.replace(vm, **{field: value}))
    if op == "remove":
        kind = pick(
            st.sampled_from(["hosts", "enclaves", "seclabels", "vms", "conflicts", "profiles"])
        )
        items = getattr(p, kind)
        if items:
            return p.without(pick(st.sampled_from(items)).id, kinds=(kind,))
    if op == "assign" and enclaves and hosts:
        enclave, host = pick(st.sampled_from(enclaves)), pick(st.sampled_from(hosts))
        if p.carries(host, enclave):
            return p.without_assignment(enclave, host)
        return p.with_assignment(enclave, host)
    if op == "order" and len(p.hosts) >= 2:
        a, b = pick(st.lists(st.sampled_from(p.hosts), min_size=2, max_size=2, unique=True))
        p = p.with_host(dataclasses.replace(a, order=b.order))
        return p.with_host(dataclasses.replace(b, order=a.order - pick(st.sampled_from([0, 1]))))
    if op == "conflict" and len(enclaves) >= 2:
        pair = pick(st.lists(st.sampled_from(enclaves), min_size=2, max_size=2, unique=True))
        return p.with_conflict(
            ConflictSet(uuid.uuid4(), "CS-x", ConflictLevel.NO_CORESIDENCE, tuple(pair))
        )
    if op == "label" and p.seclabels:
        label = pick(st.sampled_from(p.seclabels))
        if pick(st.booleans()) and enclaves:
            return p.with_seclabel(
                dataclasses.replace(label, enclave=pick(st.sampled_from(enclaves)))
            )
        profile = pick(st.sampled_from(p.profiles))
        return p.with_seclabel(dataclasses.replace(label, profile=profile.id))
    if op == "clash":
        # Move a VM next to a running VM of an enclave a no-coresidence set keeps apart.
        for c in p.conflicts:
            if c.level is not ConflictLevel.NO_CORESIDENCE:
                continue
            members = [v for v in p.vms if v.enclave in c.enclaves]
            pairs = [(a, b) for a in members for b in members if a.enclave != b.enclave and b.run]
            if pairs:
                a, b = pick(st.sampled_from(pairs))
                there = p.host_of(b)
                if there is not None:
                    return p.with_vm(dataclasses.replace(a, host=there.id, run=True))
    if op == "rename" and len(p.vms) >= 2:
        a, b = pick(st.lists(st.sampled_from(p.vms), min_size=2, max_size=2, unique=True))
        return p.with_vm(dataclasses.replace(a, name=b.name))
    return p


def _assert_sound_and_complete(before: EnterprisePolicy, after: EnterprisePolicy) -> None:
    full_after = Counter(check(after))
    full_before = Counter(check(before))
    partial = Counter(check_change(before, after))
    # Sound: only findings check() itself reports …
    assert not partial - full_after, list(partial - full_after)
    # … complete: every finding the change introduced.
    introduced = full_after - full_before
    assert not introduced - partial, list(introduced - partial)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(enterprises(), st.data())
def test_check_change_reports_what_a_change_introduces(policy: EnterprisePolicy, data: Any) -> None:
    before = policy
    for _ in range(data.draw(st.integers(0, 2))):
        before = _mutate(data, before)
    after = _mutate(data, before)
    _assert_sound_and_complete(before, after)


def test_from_a_clean_policy_a_change_gets_exactly_the_full_check() -> None:
    p = sample_xe_policy()
    vm = p.vm_named("EB-domu-1")
    after = p.with_vm(dataclasses.replace(vm, host=p.host_named("xenon-2").id, seclabel=None))
    assert Counter(check_change(p, after)) == Counter(check(after))
    assert {f.code for f in check_change(p, after)} == {
        "XE-VM-NO-SECLABEL",
        "XE-CONFLICT-CORESIDENT",
    }


def test_unrelated_old_findings_are_left_out() -> None:
    p = sample_xe_policy()
    broken = p.with_vm(dataclasses.replace(p.vm_named("EC-domu-1"), memory_mb=0))
    after = broken.with_vm(dataclasses.replace(broken.vm_named("EA-domu-1"), memory_mb=512))
    assert [f.code for f in check(after)] == ["XE-VM-MEMORY"]
    assert check_change(broken, after) == []


def test_removing_an_enclave_flags_its_vms() -> None:
    p = sample_xe_policy()
    after = p.without(p.enclave_named("Enclave C").id)
    codes = Counter(f.code for f in check_change(p, after))
    # Four VMs and one SecLabel of Enclave C, a conflict set and a DHCP server name it.
    assert codes["XE-VM-ENCLAVE"] == 4
    assert codes["XE-SECLABEL-ENCLAVE"] == 1
    assert codes["XE-CONFLICT-UNKNOWN"] == 1
    assert codes["XE-DHCP-ENCLAVE"] == 1


@settings(max_examples=100, deadline=None)
@given(enterprises(), st.data())
def test_check_change_sees_a_vm_moved_into_a_conflict(policy: EnterprisePolicy, data: Any) -> None:
    # The general property rarely draws this move; it is the one an incremental
    # co-residence check is most likely to miss.
    moves = []
    for c in policy.conflicts:
        if c.level is ConflictLevel.NO_CORESIDENCE:
            members = [v for v in policy.vms if v.enclave in c.enclaves]
            moves += [(a, b) for a in members for b in members if a.enclave != b.enclave and b.run]
    if not moves:
        return
    a, b = data.draw(st.sampled_from(moves))
    there = policy.host_of(b)
    assert there is not None
    after = policy.with_vm(dataclasses.replace(a, host=there.id, run=True))
    assert any(f.code == "XE-CONFLICT-CORESIDENT" for f in check(after))
    _assert_sound_and_complete(policy, after)
