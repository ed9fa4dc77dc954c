"""Quarantine as an incident step on a real sim host (issue #14 §2): the running domain is
rebound by one MSM transaction to its tag's quarantine SecLabel, the record names the
SecLabel before and after, the staged policy is left alone, and unquarantine binds the
recorded SecLabel again."""

from __future__ import annotations

import copy
import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests._support.xps import sim_config
from xenon_tui.dialogs._whatif import whatif_lines
from xps import msm
from xps.host import Host
from xps.host._errors import ConflictError
from xps.policy import hypercall_number, policy_from_dict, policy_to_dict, subop_number
from xps.policy._quarantine import quarantine_profile

DOMAIN = "EA-domu-1"


@pytest.fixture
def host(sim_host: Host) -> Host:
    """The open sim host of ``tests/_support/xps.py``."""
    return sim_host


def _msm_label(host: Host, name: str) -> Any:
    assert host._msm is not None
    return next(d for d in host._msm.domains() if d.name == name)


def _label_ids(policy: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["id"] for s in policy["seclabels"]}


async def test_quarantine_rebinds_the_running_domain_and_unquarantine_restores_it(
    host: Host,
) -> None:
    domid = (await host.create_domain(DOMAIN))["domid"]
    await host.pause_domain(DOMAIN, "alice")
    before = await host.get_policy("active")
    old_label = _msm_label(host, DOMAIN).seclabel
    # An operator's staged change stays staged through the quarantine.
    staged_xml = before["xml"].replace(before["policy"]["name"], "staged-by-bob", 1)
    staged = await host.stage_policy(xml=staged_xml)
    inc = await host.open_incident(DOMAIN, "alice")

    done = await host.incident_step(inc["id"], "quarantine", "done", "alice")

    step = done["steps"][-1]
    assert step["step"] == "quarantine" and step["label_before"] == "EA-seclabel"
    assert step["label_after"] == "Enclave A-quarantine"
    assert step["generation"] == before["generation"] + 1
    held = done["quarantine"]
    assert held is not None and held["label"] == "EA-seclabel"
    after = await host.get_policy("active")
    assert after["generation"] == before["generation"] + 1
    ids = _label_ids(after["policy"])
    # The MSM itself rebinds the running domain (same domid, same tag).
    info = _msm_label(host, DOMAIN)
    assert info.domid == domid and str(info.seclabel) == ids["Enclave A-quarantine"]
    assert info.seclabel != old_label
    assert (
        next(d for d in after["policy"]["domains"] if d["name"] == DOMAIN)["seclabel"]
        == (ids["Enclave A-quarantine"])
    )
    # Its profile: the idle calls only; a channel call is now a violation.
    ctx = host._msm
    assert ctx is not None
    await host.unpause_domain(DOMAIN, "alice")
    sched = hypercall_number("sched_op")
    now = time.monotonic_ns()
    assert ctx.check_hypercall(domid, sched, subop_number(sched, "block"), now) == (
        msm.Decision.ALLOW
    )
    evtchn = hypercall_number("event_channel_op")
    assert ctx.check_hypercall(domid, evtchn, 0, now) == msm.Decision.DENY_PROFILE
    await host.pause_domain(DOMAIN, "alice")
    assert (await host.get_policy("staged"))["sha256"] == staged["sha256"]
    lines = (await host.log_msgs(500))["lines"]
    assert any(
        f"incident {inc['id']} ({DOMAIN}) quarantine done by alice (SecLabel EA-seclabel -> "
        "Enclave A-quarantine" in line
        for line in lines
    )
    with pytest.raises(ConflictError, match="quarantined already"):
        await host.incident_step(inc["id"], "quarantine", "done", "alice")

    back = await host.incident_step(inc["id"], "unquarantine", "done", "bob")

    assert back["quarantine"] is None
    assert back["steps"][-1]["label_before"] == "Enclave A-quarantine"
    assert back["steps"][-1]["label_after"] == "EA-seclabel"
    assert _msm_label(host, DOMAIN).seclabel == old_label
    restored = (await host.get_policy("active"))["policy"]
    assert policy_from_dict(restored).domains == policy_from_dict(before["policy"]).domains
    # The policy it was: the unused quarantine label and profile are gone.
    assert "Enclave A-quarantine" not in _label_ids(restored)
    assert (await host.get_policy("active"))["sha256"] == before["sha256"]
    with pytest.raises(ConflictError, match="not quarantined"):
        await host.incident_step(inc["id"], "unquarantine", "done", "bob")


async def test_a_skipped_quarantine_changes_no_policy(host: Host) -> None:
    inc = await host.open_incident(DOMAIN, "alice")
    generation = (await host.get_policy("active"))["generation"]
    await host.incident_step(inc["id"], "quarantine", "skipped", "alice", "VM is a honeypot")
    assert (await host.get_policy("active"))["generation"] == generation
    assert (await host.get_incident(inc["id"])).get("quarantine") is None


async def test_quarantine_survives_a_restart_and_is_restored_after(tmp_path: Path) -> None:
    config = sim_config(tmp_path / "state")
    async with await Host.open(config) as first:
        inc = await first.open_incident(DOMAIN, "alice")
        await first.incident_step(inc["id"], "quarantine", "done", "alice")
    async with await Host.open(config) as second:
        kept = await second.get_incident(inc["id"])
        assert kept["quarantine"] is not None and kept["quarantine"]["label"] == "EA-seclabel"
        active = (await second.get_policy("active"))["policy"]
        quarantine_id = _label_ids(active)["Enclave A-quarantine"]
        assert next(d for d in active["domains"] if d["name"] == DOMAIN)["seclabel"] == (
            quarantine_id
        )
        await second.incident_step(inc["id"], "unquarantine", "done", "alice")
        active = (await second.get_policy("active"))["policy"]
        assert (
            next(d for d in active["domains"] if d["name"] == DOMAIN)["seclabel"]
            == (_label_ids(active)["EA-seclabel"])
        )


async def test_through_the_daemon_read_only_may_not_quarantine(xps_daemon: Any) -> None:
    from xps.client import RemoteError

    async with xps_daemon.client() as rw, xps_daemon.client(read_only=True) as ro:
        inc = await rw.open_incident(DOMAIN, "alice")
        with pytest.raises(RemoteError) as err:
            await ro.incident_step(inc["id"], "quarantine", "done", "mallory")
        assert err.value.code == "read_only"
        done = await rw.incident_step(inc["id"], "quarantine", "done", "alice")
        assert done["steps"][-1]["label_after"] == "Enclave A-quarantine"
        back = await rw.incident_step(inc["id"], "unquarantine", "done", "alice")
        assert back["steps"][-1]["label_after"] == "EA-seclabel"


async def test_a_record_that_cannot_be_written_after_the_change_is_logged(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xps.host._errors import HostStateError

    inc = await host.open_incident(DOMAIN, "alice")

    def full(item: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(host.incidents, "_write", full)
    with pytest.raises(HostStateError):
        await host.incident_step(inc["id"], "quarantine", "done", "alice")
    lines = (await host.log_msgs(500))["lines"]
    assert any(
        "Enclave A-quarantine in force, but the incident record could not be written" in line
        for line in lines
    )
    monkeypatch.undo()
    # Kept in memory: the SecLabel can still be restored.
    back = await host.incident_step(inc["id"], "unquarantine", "done", "alice")
    assert back["steps"][-1]["label_after"] == "EA-seclabel"


def _bound(policy: dict[str, Any], domain: str = DOMAIN) -> str:
    """The name of the SecLabel ``policy`` (dict form) binds ``domain`` to."""
    label = next(d for d in policy["domains"] if d["name"] == domain)["seclabel"]
    return next(s["name"] for s in policy["seclabels"] if s["id"] == label)


async def test_a_policy_staged_before_a_quarantine_keeps_it_when_activated(host: Host) -> None:
    """Issue #14 §2 follow-up: the fix step's (or any stale) staged policy binds the domain
    to an ordinary SecLabel; activating it keeps the quarantine (rebased) and says so, and
    verify then restores the SecLabel the activated policy gave the domain."""
    await host.create_domain(DOMAIN)
    await host.pause_domain(DOMAIN, "alice")
    before = await host.get_policy("active")
    # Staged before the quarantine: the domain moves to a fixed copy of its SecLabel.
    staged = copy.deepcopy(before["policy"])
    staged["name"] = "fixed-by-bob"
    ea = next(s for s in staged["seclabels"] if s["name"] == "EA-seclabel")
    fixed = {**ea, "id": str(uuid.uuid4()), "name": "EA-fixed"}
    staged["seclabels"].append(fixed)
    next(d for d in staged["domains"] if d["name"] == DOMAIN)["seclabel"] = fixed["id"]
    await host.stage_policy(policy=staged)
    inc = await host.open_incident(DOMAIN, "alice")
    await host.incident_step(inc["id"], "quarantine", "done", "alice")
    # The what-if (Make active's confirmation) is of the policy as it would be activated.
    whatif = await host.what_if(xml=(await host.get_policy("staged"))["xml"])
    assert whatif["quarantines_kept"] == [f"{DOMAIN} ({inc['id']})"]
    assert whatif_lines(whatif)[0] == (
        "warn",
        f"Keeps quarantined (verify releases): {DOMAIN} ({inc['id']})",
    )

    result = await host.activate_policy()

    assert result["quarantines_kept"] == [f"{DOMAIN} ({inc['id']})"]
    active = (await host.get_policy("active"))["policy"]
    assert active["name"] == "fixed-by-bob"
    assert _bound(active) == "Enclave A-quarantine"
    assert str(_msm_label(host, DOMAIN).seclabel) == _label_ids(active)["Enclave A-quarantine"]
    held = (await host.get_incident(inc["id"]))["quarantine"]
    assert held is not None and held["label"] == "EA-fixed" and held["label_id"] == fixed["id"]
    lines = (await host.log_msgs(500))["lines"]
    assert any(
        f"incident {inc['id']} ({DOMAIN}): quarantine kept on activating the staged policy" in line
        and "verify restores SecLabel EA-fixed" in line
        for line in lines
    )

    back = await host.incident_step(inc["id"], "unquarantine", "done", "alice")

    assert back["steps"][-1]["label_after"] == "EA-fixed"
    active = (await host.get_policy("active"))["policy"]
    assert _bound(active) == "EA-fixed"
    assert str(_msm_label(host, DOMAIN).seclabel) == fixed["id"]
    assert "Enclave A-quarantine" not in _label_ids(active)


async def test_a_rollback_keeps_a_quarantine(host: Host) -> None:
    inc = await host.open_incident(DOMAIN, "alice")
    await host.incident_step(inc["id"], "quarantine", "done", "alice")
    # The previous policy is the one before the quarantine.
    result = await host.rollback_policy()
    assert result["quarantines_kept"] == [f"{DOMAIN} ({inc['id']})"]
    assert _bound((await host.get_policy("active"))["policy"]) == "Enclave A-quarantine"
    held = (await host.get_incident(inc["id"]))["quarantine"]
    assert held is not None and held["label"] == "EA-seclabel"
    # Nothing to keep: an activation without quarantines says nothing of them.
    await host.incident_step(inc["id"], "unquarantine", "done", "alice")
    assert "quarantines_kept" not in await host.rollback_policy()


async def test_a_staged_policy_that_cannot_keep_a_quarantine_is_refused(host: Host) -> None:
    before = await host.get_policy("active")
    # Its own "Quarantine-Minimal" allows channels: the quarantine cannot be kept there.
    minimal = quarantine_profile()
    wide = dataclasses.replace(
        minimal, hypercalls=minimal.hypercalls | {hypercall_number("event_channel_op")}
    )
    mine = policy_from_dict(before["policy"])
    staged = policy_to_dict(dataclasses.replace(mine, profiles=(*mine.profiles, wide)))
    await host.stage_policy(policy=staged)
    inc = await host.open_incident(DOMAIN, "alice")
    await host.incident_step(inc["id"], "quarantine", "done", "alice")
    quarantined_sha = (await host.get_policy("active"))["sha256"]
    whatif = await host.what_if(policy=staged)
    assert f"quarantine of VM {DOMAIN} (incident {inc['id']})" in whatif["quarantine_refused"]
    assert whatif_lines(whatif)[0][0] == "deny"
    assert "The host will refuse it" in whatif_lines(whatif)[0][1]

    with pytest.raises(ConflictError) as refused:
        await host.activate_policy()

    message = str(refused.value)
    assert f"quarantine of VM {DOMAIN} (incident {inc['id']})" in message
    assert f"verify {inc['id']}" in message
    assert (await host.get_policy("active"))["sha256"] == quarantined_sha
    assert await host.get_policy("staged")  # still staged


async def test_a_quarantined_vm_is_unreachable_from_a_same_tag_peer(host: Host) -> None:
    """MSM interface 1.3: the channel rule is by tag *and* by label, so a running peer of
    the quarantined VM's own enclave (and dom0) is refused a channel to it; before the
    quarantine and after unquarantine the same channels are allowed, both ways. (The
    quarantined VM's own end is refused too: the MSM tests, tests/native, show it; here
    the VM stays paused, as the runbook leaves it, so its workload is not stopped.)"""
    vm = (await host.create_domain(DOMAIN))["domid"]
    peer = (await host.create_domain("EA-domu-3"))["domid"]
    ctx = host._msm
    assert ctx is not None
    assert _msm_label(host, DOMAIN).tag == _msm_label(host, "EA-domu-3").tag
    kinds = (msm.ChannelKind.EVTCHN, msm.ChannelKind.GRANT)
    to_vm = [(peer, vm), (0, vm)]
    both_ways = [*to_vm, (vm, peer), (vm, 0)]

    def decisions(pairs: list[tuple[int, int]]) -> list[msm.Decision]:
        now = time.monotonic_ns()
        return [ctx.check_channel(k, a, b, now) for k in kinds for a, b in pairs]

    assert decisions(both_ways) == [msm.Decision.ALLOW] * 8
    await host.pause_domain(DOMAIN, "alice")
    inc = await host.open_incident(DOMAIN, "alice")
    await host.incident_step(inc["id"], "quarantine", "done", "alice")
    assert _msm_label(host, DOMAIN).domid == vm  # the same domain, rebound in place

    assert decisions(to_vm) == [msm.Decision.DENY_CHANNEL] * 4
    # A channel between two unquarantined domains of the enclave is untouched.
    other = (await host.create_domain("EA-domu-5"))["domid"]
    assert ctx.check_channel(msm.ChannelKind.EVTCHN, peer, other, time.monotonic_ns()) == (
        msm.Decision.ALLOW
    )

    await host.incident_step(inc["id"], "unquarantine", "done", "bob")
    await host.unpause_domain(DOMAIN, "bob")
    assert decisions(both_ways) == [msm.Decision.ALLOW] * 8
