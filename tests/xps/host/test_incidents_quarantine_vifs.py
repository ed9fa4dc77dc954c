"""Quarantine's other form on a real sim host (issue #14 §2, "or detach its VIFs"): the
domain's VIFs leave the active policy (one MSM transaction), the incident keeps them, an
activation meanwhile keeps them detached, and unquarantine attaches exactly those again,
refused when a MAC was since given to another domain."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from xps.host import Host
from xps.host._errors import ConflictError

DOMAIN = "EA-domu-1"
OTHER = "EA-domu-2"


@pytest.fixture
def host(sim_host: Host) -> Host:
    """The open sim host of ``tests/_support/xps.py``."""
    return sim_host


def _vifs(policy: dict[str, Any], domain: str) -> list[dict[str, Any]]:
    dom = next(d for d in policy["domains"] if d["name"] == domain)
    return [v for v in policy["vifs"] if v["domain"] == dom["id"]]


def _domain_with_vifs(policy: dict[str, Any], but: str) -> str:
    return next(
        d["name"]
        for d in policy["domains"]
        if d["name"] != but and d["name"] != "Domain-0" and _vifs(policy, d["name"])
    )


async def test_detach_removes_the_vifs_and_unquarantine_attaches_them_again(host: Host) -> None:
    before = await host.get_policy("active")
    mine = _vifs(before["policy"], DOMAIN)
    assert mine  # the sample gives every VM a VIF
    inc = await host.open_incident(DOMAIN, "alice")

    done = await host.incident_step(inc["id"], "quarantine", "done", "alice", form="vifs")

    step = done["steps"][-1]
    assert step["form"] == "vifs" and step["generation"] == before["generation"] + 1
    assert [v["mac"] for v in step["vifs"]] == [v["mac"] for v in mine]
    assert [v["ip"] for v in step["vifs"]] == [v["ip"] for v in mine]
    assert all(v["switch_name"] for v in step["vifs"])
    held = done["quarantine"]
    assert held is not None and held["form"] == "vifs" and held["vifs"] == step["vifs"]
    after = await host.get_policy("active")
    assert _vifs(after["policy"], DOMAIN) == []
    # The SecLabel is left as it was.
    bound = next(d for d in after["policy"]["domains"] if d["name"] == DOMAIN)["seclabel"]
    assert bound == next(d for d in before["policy"]["domains"] if d["name"] == DOMAIN)["seclabel"]
    lines = (await host.log_msgs(200))["lines"]
    assert any(f"VIFs {mine[0]['mac']}" in line and "detached" in line for line in lines)
    with pytest.raises(ConflictError, match="quarantined already"):
        await host.incident_step(inc["id"], "quarantine", "done", "alice")

    back = await host.incident_step(inc["id"], "unquarantine", "done", "alice")

    assert back["quarantine"] is None and back["steps"][-1]["form"] == "vifs"
    restored = await host.get_policy("active")
    assert _vifs(restored["policy"], DOMAIN) == mine
    assert restored["policy"]["vifs"] == before["policy"]["vifs"]  # exactly those again


async def test_an_activation_keeps_the_vifs_detached(host: Host) -> None:
    before = await host.get_policy("active")
    staged = copy.deepcopy(before["policy"])
    staged["name"] = "staged-by-bob"
    await host.stage_policy(policy=staged)  # staged before: it has the VIFs
    inc = await host.open_incident(DOMAIN, "alice")
    await host.incident_step(inc["id"], "quarantine", "done", "alice", form="vifs")

    result = await host.activate_policy()

    assert result["quarantines_kept"] == [f"{DOMAIN} ({inc['id']})"]
    active = (await host.get_policy("active"))["policy"]
    assert active["name"] == "staged-by-bob" and _vifs(active, DOMAIN) == []
    await host.incident_step(inc["id"], "unquarantine", "done", "alice")
    active = (await host.get_policy("active"))["policy"]
    assert _vifs(active, DOMAIN) == _vifs(before["policy"], DOMAIN)


async def test_unquarantine_is_refused_when_the_mac_was_taken_meanwhile(host: Host) -> None:
    before = await host.get_policy("active")
    mac = _vifs(before["policy"], DOMAIN)[0]["mac"]
    inc = await host.open_incident(DOMAIN, "alice")
    await host.incident_step(inc["id"], "quarantine", "done", "alice", form="vifs")
    # Meanwhile an operator gives that MAC to another domain's VIF, and activates it.
    taken = copy.deepcopy((await host.get_policy("active"))["policy"])
    other = _domain_with_vifs(taken, DOMAIN)
    _vifs(taken, other)[0]["mac"] = mac
    await host.stage_policy(policy=taken)
    await host.activate_policy()

    with pytest.raises(ConflictError, match=f"MAC {mac} is now used by {other}"):
        await host.incident_step(inc["id"], "unquarantine", "done", "alice")

    held = (await host.get_incident(inc["id"]))["quarantine"]
    assert held is not None and held["form"] == "vifs"  # still held: nothing is lost
    assert _vifs((await host.get_policy("active"))["policy"], DOMAIN) == []


async def test_form_is_of_a_quarantine_only(host: Host) -> None:
    from xps.host._errors import InvalidArgument

    inc = await host.open_incident(DOMAIN, "alice")
    with pytest.raises(InvalidArgument, match="form"):
        await host.incident_step(inc["id"], "pause", "done", "alice", form="vifs")
    with pytest.raises(InvalidArgument, match="form"):
        await host.incident_step(inc["id"], "quarantine", "done", "alice", form="nic")
