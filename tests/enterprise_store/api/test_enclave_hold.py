"""``requires_approval`` in XE's enclave routes and the one wording of a hold
(``ApprovalsOut.hold_summary``): false until an admin turns it on, true in the list, the
read, a selected field and an update's answer; the hold names the version and who may
approve, a rejection says who rejected, and nothing is said once approved."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from enterprise_store.client import XeClient
from enterprise_store.services import Principal, Services

AsUser = Callable[..., Awaitable[XeClient]]


async def test_requires_approval_in_the_enclave_routes_and_the_hold_text(
    services: Services, as_user: AsUser
) -> None:
    await services.policy.add_host(Principal.system(), name="h1", address="10.0.0.1")
    alice, bob = await as_user("alice", "admin"), await as_user("bob", "admin")
    aud = await as_user("aud", "auditor")
    for name in ("A", "B"):
        await alice.policy.create_enclave(name=name)
        await alice.policy.assign(name, "h1")
    assert not (await aud.policy.get_enclave("A")).requires_approval
    assert (await aud.policy.approvals()).hold_summary() is None
    updated = await alice.policy.update_enclave("A", requires_approval=True)
    assert updated.item.requires_approval
    listed = {e.name: e.requires_approval for e in (await aud.policy.list_enclaves()).items}
    assert listed == {"A": True, "B": False}
    assert (await aud.policy.get_enclave("A")).requires_approval
    fields = await aud._request(
        "GET", "/api/v1/enclaves", params={"fields": "name,requires_approval"}
    )
    assert {e["name"]: e["requires_approval"] for e in fields.json()["items"]} == listed
    written = await alice.policy.create_seclabel(name="sA", enclave="A", profile="PV-Combined")
    hold = (await aud.policy.approvals()).hold_summary()
    assert hold == f"v{written.version} waits for approval by an admin other than alice"
    await bob.policy.reject(written.version, "not this profile")
    hold = (await aud.policy.approvals()).hold_summary()
    assert hold == f"v{written.version} was rejected by bob: propagation held until it changes"
    again = await alice.policy.update_seclabel("sA", max_violations=7)
    assert (await aud.policy.approvals()).hold_summary() == (
        f"v{again.version} waits for approval by an admin other than alice"
    )
    await bob.policy.approve(again.version, "7 is right")
    assert (await aud.policy.approvals()).hold_summary() is None
