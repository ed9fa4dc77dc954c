"""An XE enclave named like a tag a host owns (another UUID) is refused where it is made
(found in session 7: propagation to the host retried forever, "name used by 2 tags").

A real sim XPS host that tags its own switches with Enclave B/C is added to an empty XE
(taken over). Creating "Enclave B" with a new UUID, renaming an assigned enclave to it,
and assigning such an enclave are refused naming the enclave, the host and its tag; the
enclave created with the host's tag's UUID is that tag, and propagation reaches the host.
"""

from __future__ import annotations

import asyncio
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


async def _converged(services: Services) -> None:
    """Waits until xenon-1 enforces the head (a liveness bound); a failed attempt fails."""
    head = await services.policy.current()
    host_id = str(head.host_named("xenon-1").id)
    async with asyncio.timeout(30):
        while True:
            await services.compute.propagator.reconcile_once()
            row = (await services.compute.propagator.states())[host_id]
            assert row.state != "retrying", row.last_error
            if row.state == "converged" and row.observed_version == head.version:
                return
            await asyncio.sleep(0.05)


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
    await _converged(services)
    active = parse_policy((await sim.host.get_policy())["xml"].encode())
    named = [t for t in active.tags if t.name == "Enclave B"]
    assert [str(t.id) for t in named] == [tags["Enclave B"]]
    assert "Lab" in {t.name for t in active.tags}


async def test_assigning_an_enclave_to_a_host_owning_a_tag_of_its_name_is_refused(
    xe_services: Any, xps_hosts: Any
) -> None:
    """The enclave existed before XE took the host over (nothing to compare it with
    then): assigning it there is the mistake, refused naming both; the host keeps
    converging, and the problem reaches an API client as a 409 with its code."""
    import httpx

    from enterprise_store.api import create_app
    from enterprise_store.client import Conflict, XeClient

    (sim,) = await xps_hosts(1)
    services: Services = await xe_services(start=True)
    early = (await services.policy.create_enclave(SYSTEM, {"name": "Enclave C"})).value
    row = await services.compute.add_host(
        SYSTEM, name="xenon-1", address="127.0.0.1", port=sim.port, takeover=True
    )
    assert (await services.compute.wait_task(SYSTEM, row.id, 60)).state == "succeeded"
    with pytest.raises(TagNameTaken, match=f"enclave 'Enclave C' has UUID {early.id}"):
        await services.policy.assign(SYSTEM, early.id, "xenon-1")
    assert not (await services.policy.current()).enclave_ids_of(
        (await services.policy.current()).host_named("xenon-1").id
    )

    await services.users.bootstrap_admin("root", "tag-names-password-1")
    transport = httpx.ASGITransport(app=create_app(services), client=("192.0.2.9", 4711))
    async with XeClient("http://xe.test", transport=transport, timeout=60) as xe:
        await xe.login("root", "tag-names-password-1")
        with pytest.raises(Conflict) as refused:
            await xe.policy.assign("Enclave C", "xenon-1")
    assert refused.value.code == "tag_name_taken"
    assert "host 'xenon-1' owns a tag named 'Enclave C'" in refused.value.message
    await _converged(services)
