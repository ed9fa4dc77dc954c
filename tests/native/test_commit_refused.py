"""A refused commit names its objects: name and UUID, not only the ids the C side reports."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

import pytest

from tests._support.msm_scenario import World
from xps.msm import (
    Binding,
    CommitError,
    CommitRefused,
    Device,
    DomainConfig,
    HypercallProfile,
    Msm,
    ObjType,
    Rule,
    Tag,
    parse_bdf,
)
from xps.msm._errors import describe_commit_error, error_for

NIC = parse_bdf("0000:03:00.0")


def _refused(m: Msm, objects: list[object], **kw: object) -> CommitRefused:
    with pytest.raises(CommitRefused) as info:
        m.apply(objects, **kw)  # type: ignore[arg-type]
    return info.value


def _start(m: Msm, w: World, name: str) -> int:
    return m.create_domain(DomainConfig(w.doms[name], name, mem_kb=2048, maxmem_kb=2048))


def _duplicate_name(m: Msm, w: World) -> tuple[CommitRefused, list[str]]:
    twin = Tag(uuid.uuid4(), "A")
    exc = _refused(m, [*w.objects(), twin])
    return exc, ["two tags named 'A'", str(w.tags["A"]), str(twin.id)]


def _dangling_profile(m: Msm, w: World) -> tuple[CommitRefused, list[str]]:
    objs = [o for o in w.objects() if not isinstance(o, HypercallProfile)]
    exc = _refused(m, objs)
    label = min(w.labels.values(), key=lambda s: s.id.bytes)  # the first in key order
    return exc, [
        f"SecLabel {label.name!r} (uuid {label.id}) names a profile",
        f"not in the policy (uuid {w.profile.id})",
    ]


def _dangling_tag(m: Msm, w: World) -> tuple[CommitRefused, list[str]]:
    exc = _refused(m, [o for o in w.objects() if not (isinstance(o, Tag) and o.name == "B")])
    return exc, [f"conflict set 'wall' (uuid {w.wall.id}) names a tag", str(w.tags["B"])]


def _dangling_seclabel(m: Msm, w: World) -> tuple[CommitRefused, list[str]]:
    label = w.labels["A"]
    objs = [o for o in w.objects() if o != label]
    # Domains are bound by UUID: their names come from the caller (the host's policy).
    exc = _refused(m, objs, names={w.doms["web"]: "web"})
    return exc, [f"domain 'web' (uuid {w.doms['web']}) is bound to a SecLabel", str(label.id)]


def _device_dangling_tag(m: Msm, w: World) -> tuple[CommitRefused, list[str]]:
    ghost = uuid.uuid4()
    exc = _refused(m, [*w.objects(), Device(NIC, ghost)])
    return exc, ["PCI device 0000:03:00.0 names a tag", str(ghost)]


def _running_unlabelled(m: Msm, w: World) -> tuple[CommitRefused, list[str]]:
    m.apply(w.objects())
    domid = _start(m, w, "web")
    exc = _refused(m, [o for o in w.objects() if not isinstance(o, Binding)])
    return exc, [f"live domain 'web' (domid {domid}, uuid {w.doms['web']}) would have no SecLabel"]


def _conflict(m: Msm, w: World) -> tuple[CommitRefused, list[str]]:
    w.bind("db", "B")
    m.apply(w.objects(wall=False))
    _start(m, w, "web")
    db = _start(m, w, "db")
    exc = _refused(m, w.objects())
    return exc, [
        f"live domain 'db' (domid {db}, uuid {w.doms['db']}) may not run",
        f"tag 'A' (uuid {w.tags['A']})",
    ]


def _device_tag(m: Msm, w: World) -> tuple[CommitRefused, list[str]]:
    m.apply([*w.objects(), Device(NIC, w.tags["A"])])
    domid = _start(m, w, "web")
    m.assign_device(domid, NIC)
    exc = _refused(m, [*w.objects(), Device(NIC, w.tags["B"])])
    return exc, [
        f"PCI device 0000:03:00.0 assigned to live domain 'web' (domid {domid})",
        f"would have tag 'B' (uuid {w.tags['B']})",
    ]


# rule -> (scenario, object type reported); each scenario starts from a fresh sim and
# a World with domain "web" bound to tag A.
CASES: dict[str, tuple[Callable[[Msm, World], tuple[CommitRefused, list[str]]], ObjType | None]] = {
    "DUPLICATE_NAME": (_duplicate_name, ObjType.TAG),
    "DANGLING_PROFILE": (_dangling_profile, ObjType.SECLABEL),
    "DANGLING_TAG": (_dangling_tag, ObjType.CONFLICT),
    "DANGLING_TAG/device": (_device_dangling_tag, ObjType.DEVICE),
    "DANGLING_SECLABEL": (_dangling_seclabel, ObjType.BINDING),
    "RUNNING_UNLABELLED": (_running_unlabelled, None),
    "CONFLICT": (_conflict, None),
    "DEVICE_TAG": (_device_tag, ObjType.DEVICE),
}


def test_every_rule_the_sim_reports_has_a_test() -> None:
    # LIMIT is never reported by the sim (msm_txn_put refuses first): see below.
    tested = {name.split("/")[0] for name in CASES}
    assert tested == {r.name for r in Rule} - {"NONE", "LIMIT"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refusal_names_its_objects(case: str, sim: Msm) -> None:
    scenario, objtype = CASES[case]
    w = World()
    w.bind("web", "A")
    exc, phrases = scenario(sim, w)
    message = str(exc)
    assert exc.rule is Rule[case.split("/")[0]] and exc.objtype is objtype
    assert message.startswith("commit: MSM_EVALIDATE: ")
    assert message.endswith(f"(rule {exc.rule.name})")
    for phrase in phrases:
        assert phrase in message, (phrase, message)
    assert not sim.info().txn_open  # apply aborted; the old policy stays in force


def test_names_come_from_the_active_policy_for_objects_not_staged_again(sim: Msm) -> None:
    w = World()
    sim.apply(w.objects())
    txn = sim.transaction()  # from the active policy: 'wall' is not put again
    txn.delete(ObjType.TAG, w.tags["B"])
    with pytest.raises(CommitRefused) as info:
        txn.commit()
    txn.abort()
    assert f"conflict set 'wall' (uuid {w.wall.id}) names a tag" in str(info.value)
    # A staged rename wins over the active name.
    txn = sim.transaction()
    txn.put(dataclasses.replace(w.wall, name="wall-v2"))
    txn.delete(ObjType.TAG, w.tags["B"])
    with pytest.raises(CommitRefused) as info:
        txn.commit()
    txn.abort()
    assert f"conflict set 'wall-v2' (uuid {w.wall.id})" in str(info.value)


def test_an_unnamed_object_is_cited_by_uuid() -> None:
    ghost, missing = uuid.uuid4(), uuid.uuid4()
    err = CommitError(Rule.DANGLING_SECLABEL, ObjType.BINDING, ghost, 0, None, missing)
    assert describe_commit_error(err) == (
        f"domain (uuid {ghost}) is bound to a SecLabel that is not in the policy (uuid {missing})"
    )


def test_limit_and_unknown_rules_keep_the_library_detail() -> None:
    # The sim never reports LIMIT (a full table refuses the put); the xen backend may.
    label = uuid.uuid4()
    err = CommitError(Rule.LIMIT, ObjType.SECLABEL, label, 0, None, None)
    exc = error_for(13, "seclabel table full", what="commit", commit_error=err)
    assert f"SecLabel (uuid {label}) exceeds a table limit" in str(exc)
    assert exc.detail == "seclabel table full"
    odd = CommitError(99, None, None, 0, None, None)
    exc = error_for(13, "rule 99 from a newer hypervisor", what="commit", commit_error=odd)
    assert str(exc) == "commit: MSM_EVALIDATE: rule 99 from a newer hypervisor (rule 99)"
