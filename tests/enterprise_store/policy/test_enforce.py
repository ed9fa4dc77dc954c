"""The sample's slices loaded into the real MSM (sim backend): each host enforces only its slice."""

from __future__ import annotations

import dataclasses

import pytest

from enterprise_store.checker import check
from enterprise_store.policy import build_slice, sample_host_policies, sample_xe_policy
from xps.policy import to_msm_domain, to_msm_objects

msm = pytest.importorskip("xps.msm")

_XE = sample_xe_policy()
_LOCAL = sample_host_policies(_XE)


def _slice(host: str):  # type: ignore[no-untyped-def]
    return build_slice(_XE, _XE.host_named(host).id, _LOCAL[host]).policy


@pytest.mark.parametrize("host", ["xenon-1", "xenon-2", "xenon-3"])
def test_a_host_runs_its_vms_and_refuses_the_others(host: str) -> None:
    mine = _slice(host)
    with msm.Msm.open_sim(seed=5) as m:
        assert m.apply(to_msm_objects(mine)) == 1
        for d in mine.domains:
            m.create_domain(to_msm_domain(d, load_permille=500))
        assert {d.name for d in m.domains() if d.domid != 0} == {d.name for d in mine.domains}
        counts = m.run(50_000_000)
        assert counts.denied_profile == counts.denied_rate == counts.domains_stopped == 0
        # A VM of another host is bound to no SecLabel here, even of an enclave it carries.
        others = [d for h in _LOCAL if h != host for d in _slice(h).domains]
        assert others
        for stranger in others:
            with pytest.raises(msm.NoLabel):
                m.create_domain(to_msm_domain(stranger))


def test_the_no_coresidence_set_reaches_the_msm() -> None:
    # EB-domu-1 placed on xenon-2 but not meant to run: the checker allows it, and the
    # MSM's Chinese Wall refuses to start it while Enclave A runs there.
    vm = _XE.vm_named("EB-domu-1")
    xe = _XE.with_vm(dataclasses.replace(vm, host=_XE.host_named("xenon-2").id, run=False))
    assert check(xe) == []
    x2 = build_slice(xe, xe.host_named("xenon-2").id, _LOCAL["xenon-2"]).policy
    with msm.Msm.open_sim(seed=6) as m:
        m.apply(to_msm_objects(x2))
        m.create_domain(to_msm_domain(x2.domain_named("EA-domu-1")))
        with pytest.raises(msm.Conflict):
            m.create_domain(to_msm_domain(x2.domain_named("EB-domu-1")))
