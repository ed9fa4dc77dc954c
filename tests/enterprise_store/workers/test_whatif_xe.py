"""XE's policy what-if (issue #14 §1) against real sim XPS hosts: each host a version
reaches is asked WhatIf on its slice of the version (nothing on the hosts changes); a host
whose slice would not change is not asked; a host that cannot answer is reported."""

from __future__ import annotations

from typing import Any

import pytest

from enterprise_store._errors import InvalidInput, NotFound
from enterprise_store.services import Principal, Services
from enterprise_store.services._whatif import WhatIfService
from tests._support.xe_propagation import sample_world
from tests._support.xe_whatif import DOM, narrowing


async def _world(xe_services: Any, xps_hosts: Any) -> tuple[Services, list[Any]]:
    services, hosts = await sample_world(xe_services, xps_hosts)
    await services.compute.propagator.reconcile_once()
    return services, hosts


async def test_a_narrower_profile_is_reported_on_the_host_that_runs_the_vm(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, hosts = await _world(xe_services, xps_hosts)
    system = Principal.system()
    whatif = WhatIfService(services.policy, services.compute, host_timeout_s=30)

    same = await whatif.what_if(system)
    assert [h.state for h in same.hosts] == ["unchanged"] * 3
    assert same.denies_allowed is False

    n = await narrowing(services, hosts)
    runs_on, narrower = n.host, n.profile
    await services.policy.update_seclabel(system, n.label.id, {"profile": narrower})
    generations = {
        h.name: (await (await h.console()).get_policy("active"))["generation"] for h in hosts
    }

    out = await whatif.what_if(system, minutes=10)

    assert out.version == (await services.policy.current()).version
    by_name = {h.host: h for h in out.hosts}
    there = by_name[runs_on.name]
    assert there.state == "answered" and there.result is not None
    assert there.denies_allowed and out.denies_allowed
    rows = [r for r in there.result["denied_calls"] if r["domain"] == DOM]
    assert rows and all(r["profile"] == narrower for r in rows)
    assert rows[0]["text"].endswith(f"the staged {narrower} profile denies them")
    for name, h in by_name.items():
        if name != runs_on.name:
            assert not h.denies_allowed, name
    # Nothing of the hosts changed.
    for h in hosts:
        assert (await (await h.console()).get_policy("active"))["generation"] == generations[h.name]
    assert any("Received request WhatIf" in h.log_text() for h in hosts)

    with pytest.raises(NotFound):
        await whatif.what_if(system, version=out.version - 1)
    with pytest.raises(InvalidInput):
        await whatif.what_if(system, minutes=0)


async def test_a_host_that_cannot_answer_is_reported(xe_services: Any, xps_hosts: Any) -> None:
    services, hosts = await _world(xe_services, xps_hosts)
    system = Principal.system()
    policy = await services.policy.current()
    vm = policy.vm_named(DOM)
    await services.policy.update_vm(
        system, vm.id, {"memory_mb": vm.memory_mb + 256, "maxmem_mb": vm.maxmem_mb + 256}
    )
    down = next(h for h in hosts if h.name == policy.host_of(vm).name)  # type: ignore[union-attr]
    await down.stop()
    whatif = WhatIfService(services.policy, services.compute, host_timeout_s=10)
    out = await whatif.what_if(system)
    assert out.unanswered == (down.name,)
    gone = next(h for h in out.hosts if h.host == down.name)
    assert gone.state == "unanswered" and gone.result is None
    assert gone.error and down.name in gone.error
    assert {h.state for h in out.hosts if h.host != down.name} == {"unchanged"}
