"""An XE enclave named like a tag a host owns (another UUID) is refused where it is made
(found in session 7: propagation to the host retried forever, "name used by 2 tags").

A real sim XPS host that tags its own switches with Enclave B/C is added to an empty XE
(taken over). Creating "Enclave B" with a new UUID, renaming an assigned enclave to it,
and assigning such an enclave are refused naming the enclave, the host and its tag; the
enclave created with the host's tag's UUID is that tag, and propagation reaches the host.
"""

from __future__ import annotations

from typing import Any

import pytest

from enterprise_store.services import Principal, Services
from enterprise_store.services._host_tags import TagNameTaken
from xps.policy import parse_policy

SYSTEM = Principal.system()


async def _taken_over(xe_services: Any, xps_hosts: Any) -> tuple[Services, Any, dict[str, str]]:
    (sim,) = await xps_hosts(1)
    services: Services = await xe_services(start=True)
    row = await services.compute.add_host(
        SYSTEM, name="xenon-1", address="127.0.0.1", port=sim.port, takeover=True
    )
    done = await services.compute.wait_task(SYSTEM, row.id, 60)
    assert done.state == "succeeded", done.error
    own = parse_policy((await sim.host.get_policy())["xml"].encode())
    tags = {t.name: str(t.id) for t in own.tags}
    assert "Enclave B" in tags  # the sample host tags its EBbr switch with it
    return services, sim, tags


async def test_an_enclave_named_like_a_hosts_own_tag_is_refused_where_it_is_made(
    xe_services: Any, xps_hosts: Any
) -> None:
    services, sim, tags = await _taken_over(xe_services, xps_hosts)
    policy = services.policy

    with pytest.raises(TagNameTaken) as refused:
        await policy.create_enclave(SYSTEM, {"name": "Enclave B"})
    message = refused.value.message
    assert "host 'xenon-1' owns a tag named 'Enclave B'" in message
    assert f"create the enclave with id {tags['Enclave B']}" in message
    assert refused.value.code == "tag_name_taken"

    lab = (await policy.create_enclave(SYSTEM, {"name": "Lab"})).value
    await policy.assign(SYSTEM, lab.id, "xenon-1")
    with pytest.raises(TagNameTaken, match="host 'xenon-1' owns a tag named 'Enclave C'"):
        await policy.update_enclave(SYSTEM, lab.id, {"name": "Enclave C"})
    assert (await policy.get_enclave(SYSTEM, lab.id)).name == "Lab"

    # The model's way: the enclave is the host's tag (its UUID).
    made = await policy.create_enclave(SYSTEM, {"name": "Enclave B"}, id=tags["Enclave B"])
    await policy.assign(SYSTEM, made.value.id, "xenon-1")
    await services.compute.propagator.reconcile_once()
    state = await services.compute.host_propagation(SYSTEM, "xenon-1")
    assert state.state == "converged", (state.state, state.last_error)
    active = parse_policy((await sim.host.get_policy())["xml"].encode())
    named = [t for t in active.tags if t.name == "Enclave B"]
    assert [str(t.id) for t in named] == [tags["Enclave B"]]
    assert "Lab" in {t.name for t in active.tags}
