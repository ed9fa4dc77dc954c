"""The XE policy model: canonical order, lookups, placement by the default rule, evolution."""

from __future__ import annotations

import dataclasses
import random
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enterprise_store._errors import NotFound
from enterprise_store.model import (
    Assignment,
    ConflictSet,
    CpuFacts,
    Enclave,
    EnterprisePolicy,
    Host,
    HostSwitch,
    NetworkRestrictions,
    SecLabel,
    Vm,
)
from enterprise_store.policy import sample_xe_policy
from tests._support.xe_strategies import enterprises
from xps.policy import ConflictLevel, GuestType, predefined_profile, predefined_profiles


def _ids(n: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=i + 1, version=4) for i in range(n)]


def _small() -> EnterprisePolicy:
    h1, h2, h3, a, b, la, vm1, vm2 = _ids(8)
    hosts = (
        Host(h1, "zeta", "10.0.0.1", order=2),
        Host(h2, "alpha", "10.0.0.2", order=3),
        Host(h3, "mid", "10.0.0.3", order=1),
    )
    pv = predefined_profile("PV-Combined").id
    return EnterprisePolicy(
        version=3,
        hosts=hosts,
        enclaves=(Enclave(a, "A"), Enclave(b, "B")),
        # A on zeta and alpha; B on alpha only.
        assignments=(Assignment(a, h2), Assignment(a, h1), Assignment(b, h2)),
        seclabels=(SecLabel(la, "LA", a, pv),),
        vms=(
            Vm(vm1, "one", a, la, GuestType.PV, kernel="/k"),
            Vm(vm2, "two", a, la, GuestType.PV, kernel="/k", host=h2),
        ),
    )


def test_hosts_are_kept_in_panel_order_and_the_rest_by_name() -> None:
    p = _small()
    assert [h.name for h in p.hosts] == ["mid", "zeta", "alpha"]
    assert [e.name for e in p.enclaves] == ["A", "B"]
    assert [v.name for v in p.vms] == ["one", "two"]
    assert p.profiles == tuple(sorted(predefined_profiles(), key=lambda x: x.name))


def test_order_of_construction_does_not_matter() -> None:
    p = _small()
    rng = random.Random(7)
    shuffled = {
        attr: tuple(rng.sample(getattr(p, attr), len(getattr(p, attr))))
        for attr in ("hosts", "enclaves", "assignments", "seclabels", "vms", "profiles")
    }
    assert EnterprisePolicy(version=3, **shuffled) == p


def test_duplicate_assignments_collapse() -> None:
    p = _small()
    again = p.with_assignment(p.assignments[0].enclave, p.assignments[0].host)
    assert again.assignments == p.assignments


def test_lookups_by_id_and_name() -> None:
    p = _small()
    zeta = p.host_named("zeta")
    assert p.host(zeta.id) is zeta
    assert p.vm(p.vm_named("two").id).host == p.host_named("alpha").id
    assert p.seclabel_named("LA").enclave == p.enclave_named("A").id
    assert p.profile_named("PV-Combined") == predefined_profile("PV-Combined")
    with pytest.raises(NotFound, match="no host named 'nope'"):
        p.host_named("nope")
    with pytest.raises(NotFound):
        p.vm(uuid.uuid4())


def test_default_placement_is_the_first_host_in_panel_order_that_carries_the_enclave() -> None:
    p = _small()
    a, b = p.enclave_named("A").id, p.enclave_named("B").id
    # "mid" is first in the panel but carries neither enclave.
    assert [h.name for h in p.hosts_of(a)] == ["zeta", "alpha"]
    assert p.default_host(a) == p.host_named("zeta")
    assert p.default_host(b) == p.host_named("alpha")
    one, two = p.vm_named("one"), p.vm_named("two")
    assert p.host_of(one) == p.host_named("zeta")
    assert p.host_of(two) == p.host_named("alpha")
    assert [v.name for v in p.vms_on(p.host_named("zeta").id)] == ["one"]
    assert p.vms_on(p.host_named("mid").id) == ()
    # Moving alpha to the front of the panel moves the unpinned VM, not the pinned one.
    moved = p.with_host(dataclasses.replace(p.host_named("alpha"), order=0))
    assert moved.host_of(moved.vm_named("one")) == moved.host_named("alpha")
    assert moved.host_of(moved.vm_named("two")) == moved.host_named("alpha")


def test_pinned_fixes_the_default_host() -> None:
    p = _small()
    one = p.vm_named("one")
    pinned = p.pinned(one)
    assert pinned.host == p.host_named("zeta").id
    assert p.pinned(pinned) is pinned
    lonely = dataclasses.replace(one, enclave=uuid.uuid4(), host=None)
    assert p.pinned(lonely) is lonely
    assert p.host_of(lonely) is None


def test_enclaves_of_a_host_and_members_of_an_enclave() -> None:
    p = _small()
    alpha = p.host_named("alpha").id
    assert [e.name for e in p.enclaves_of(alpha)] == ["A", "B"]
    assert p.carries(alpha, p.enclave_named("B").id)
    assert not p.carries(p.host_named("zeta").id, p.enclave_named("B").id)
    a = p.enclave_named("A").id
    assert [s.name for s in p.seclabels_of(a)] == ["LA"]
    assert [v.name for v in p.vms_in(a)] == ["one", "two"]


def test_assignments_to_unknown_objects_carry_nothing() -> None:
    p = _small().with_assignment(uuid.uuid4(), uuid.uuid4())
    assert len(p.assignments) == 4
    assert [h.name for h in p.hosts_of(p.enclave_named("A").id)] == ["zeta", "alpha"]


def test_evolution_returns_new_snapshots() -> None:
    p = _small()
    one = p.vm_named("one")
    bigger = p.with_vm(dataclasses.replace(one, memory_mb=512))
    assert p.vm_named("one").memory_mb == 1024 and bigger.vm_named("one").memory_mb == 512
    assert len(bigger.vms) == 2
    assert bigger.bumped().version == 4 and p.version == 3
    gone = p.without(p.host_named("alpha").id)
    assert [h.name for h in gone.hosts] == ["mid", "zeta"]
    assert all(a.host != p.host_named("alpha").id for a in gone.assignments)
    a, zeta = p.enclave_named("A").id, p.host_named("zeta").id
    assert p.without_assignment(a, zeta).hosts_of(a) == (p.host_named("alpha"),)
    with pytest.raises(NotFound):
        p.without_assignment(p.enclave_named("B").id, zeta)
    with pytest.raises(NotFound):
        p.without(uuid.uuid4())
    # A host id is not a VM id: kinds narrows the search.
    with pytest.raises(NotFound):
        p.without(zeta, kinds=("vms",))


def test_value_objects_normalise_their_collections() -> None:
    h = Host(
        uuid.uuid4(),
        "h",
        "10.0.0.1",
        color=[1, 2, 3],  # type: ignore[arg-type]
        shared_storage=("b", "a", "b"),
        switches=(HostSwitch("y"), HostSwitch("x"), HostSwitch("y")),
    )
    assert h.color == (1, 2, 3) and h.shared_storage == ("a", "b")
    assert [s.name for s in h.switches] == ["x", "y"]
    e1, e2 = uuid.uuid4(), uuid.uuid4()
    c1 = ConflictSet(uuid.uuid4(), "c", ConflictLevel.NO_CORESIDENCE, (e1, e2))
    assert c1 == dataclasses.replace(c1, enclaves=(e2, e1))
    assert NetworkRestrictions(switches=("b", "a")).switches == ("a", "b")
    assert CpuFacts(flags={"b", "a"}).flags == frozenset({"a", "b"})  # type: ignore[arg-type]
    assert not CpuFacts().known and CpuFacts("GenuineIntel").known
    vm = Vm(uuid.uuid4(), "v", e1, None, "pv", extra=[("k", 1)])  # type: ignore[arg-type, list-item]
    assert vm.guest_type is GuestType.PV and vm.extra == (("k", "1"),)


def test_sample_places_vms_as_in_figure_31() -> None:
    p = sample_xe_policy()
    per_host = {h.name: sorted(v.name for v in p.vms_on(h.id)) for h in p.hosts}
    assert per_host["xenon-3"] == [
        "EA-domu-3",
        "EA-domu-4",
        "EA-domu-5",
        "EC-domu-3",
        "EC-domu-4",
    ]
    # Enclave A spans xenon-2 and xenon-3: its unplaced VMs land on xenon-2.
    assert per_host["xenon-2"] == ["EA-domu-1", "EA-domu-2", "EC-domu-2"]
    assert per_host["xenon-1"] == ["EB-domu-1", "EB-domu-2", "EB-domu-3", "EC-domu-1"]


@settings(max_examples=50, deadline=None)
@given(enterprises())
def test_every_vm_is_on_exactly_one_host(policy: EnterprisePolicy) -> None:
    placed = [vm.id for h in policy.hosts for vm in policy.vms_on(h.id)]
    assert sorted(placed) == sorted(vm.id for vm in policy.vms)
    for vm in policy.vms:
        host = policy.host_of(vm)
        assert host is not None and policy.carries(host.id, vm.enclave)
        assert vm in policy.vms_on(host.id)


@settings(max_examples=80, deadline=None)
@given(enterprises(), st.data())
def test_evolution_keeps_every_collection_canonical(policy: EnterprisePolicy, data: Any) -> None:
    # with_*/without keep the order themselves (no re-sort); it must be the order a
    # freshly built snapshot of the same objects has.
    p = policy
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["vm", "host", "drop", "assign", "unassign", "label"]))
        if op == "vm" and p.vms:
            vm = data.draw(st.sampled_from(p.vms))
            name = data.draw(st.sampled_from(["", "a", "zz", vm.name + "x", p.vms[0].name]))
            p = p.with_vm(dataclasses.replace(vm, name=name or vm.name, memory_mb=7))
        elif op == "vm" and p.enclaves:  # after the last enclave is dropped there is none
            e = p.enclaves[0]
            vid = data.draw(st.uuids())  # drawn, not uuid4(): replays must draw the same
            p = p.with_vm(Vm(vid, "new", e.id, None, GuestType.PV, kernel="/k"))
        elif op == "host" and p.hosts:
            h = data.draw(st.sampled_from(p.hosts))
            p = p.with_host(dataclasses.replace(h, order=data.draw(st.integers(-5, 50))))
        elif op == "drop":
            kind = data.draw(st.sampled_from(["vms", "hosts", "enclaves", "seclabels"]))
            items = getattr(p, kind)
            if items:
                p = p.without(data.draw(st.sampled_from(items)).id, kinds=(kind,))
        elif op == "assign" and p.hosts and p.enclaves:
            e, h = data.draw(st.sampled_from(p.enclaves)), data.draw(st.sampled_from(p.hosts))
            p = p.with_assignment(e.id, h.id)
        elif op == "unassign" and p.assignments:
            a = data.draw(st.sampled_from(p.assignments))
            p = p.without_assignment(a.enclave, a.host)
        elif op == "label" and p.seclabels:
            label = data.draw(st.sampled_from(p.seclabels))
            p = p.with_seclabel(dataclasses.replace(label, name="m-" + label.name))
        rebuilt = EnterprisePolicy(**{f.name: getattr(p, f.name) for f in dataclasses.fields(p)})
        assert rebuilt == p
    for vm in p.vms:
        assert p.host_of(vm) == rebuilt.host_of(vm)
