"""Resolve and acknowledge on the sim host: who and why are logged, acks are kept and pushed,
and every domain event names its origin."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests._support.xps import sim_config
from xps.host import Host, InvalidArgument, ViolationsUnaddressed


@pytest.fixture
def host(sim_host: Host) -> Host:
    """The shared sim host (tests/_support/xps.py ``sim_host``)."""
    return sim_host


async def _stopped(host: Host, name: str) -> int:
    """Starts ``name`` misbehaving and waits (bounded) until the MSM stops it."""
    stopped = asyncio.Event()

    def seen(event: dict[str, Any]) -> None:
        if event["event"] == "domain" and event["data"]["reason"] == "max_violations":
            stopped.set()

    host.subscribe(seen)
    domid = (await host.create_domain(name))["domid"]
    await host.set_misbehaviour(name, "out_of_profile", 200_000)
    async with asyncio.timeout(20):  # a liveness bound only
        await stopped.wait()
    await host.set_misbehaviour(name, "out_of_profile", 0)
    return domid


async def test_resolve_resets_unpauses_and_logs_who_and_why(host: Host) -> None:
    events: list[dict[str, Any]] = []
    host.subscribe(events.append)
    domid = await _stopped(host, "EA-domu-1")
    stop = next(e["data"] for e in events if e["data"].get("reason") == "max_violations")
    assert stop["origin"] == "MSM violation limit"
    with pytest.raises(ViolationsUnaddressed):
        await host.unpause_domain(domid)

    out = await host.address_violations(
        "EA-domu-1", user="alice", note="profile fixed, see INC-7", unpause=True
    )
    assert out == {"domid": domid, "violations": 0, "run_state": "running"}
    row = next(d for d in (await host.domain_run_states())["domains"] if d["domid"] == domid)
    assert row["run_state"] == "running" and not row["stopped_by_msm"]
    lines = (await host.log_msgs())["lines"]
    assert any('violations addressed by alice: "profile fixed, see INC-7"' in ln for ln in lines), (
        lines
    )
    assert any("unpause (resolved) by alice" in ln for ln in lines)
    resolved = [e["data"] for e in events if e["data"].get("reason") == "resolved"]
    assert resolved == [
        {
            "domid": domid,
            "name": "EA-domu-1",
            "run_state": "running",
            "reason": "resolved",
            "origin": "console alice",
        }
    ]


async def test_origin_of_lifecycle_events(host: Host) -> None:
    events: list[dict[str, Any]] = []
    host.subscribe(events.append)
    await host.create_domain("EA-domu-1", user="bob")
    await host.pause_domain("EA-domu-1", user="bob")
    await host.unpause_domain("EA-domu-1")
    origins = [(e["data"]["reason"], e["data"]["origin"]) for e in events if e["event"] == "domain"]
    assert origins == [
        ("created", "console bob"),
        ("pause", "console bob"),
        ("unpause", "client"),
    ]


@pytest.mark.parametrize(
    ("user", "note", "problem"),
    [
        ("alice", "ok\nMSM: forged line", "control characters"),
        ("alice", "\x1b[2Jwiped", "control characters"),
        ("al\tice", "ok", "control characters"),
        ("x" * 65, "ok", "longer than 64"),
        ("alice", "n" * 501, "longer than 500"),
        ("   ", "ok", "non-empty"),
    ],
)
async def test_user_and_note_are_validated(host: Host, user: str, note: str, problem: str) -> None:
    await host.create_domain("EA-domu-1")
    with pytest.raises(InvalidArgument, match=problem):
        await host.address_violations("EA-domu-1", user=user, note=note)
    if note == "ok":  # the user name is the bad part: refused on every method taking it
        with pytest.raises(InvalidArgument, match=problem):
            await host.pause_domain("EA-domu-1", user=user)
        with pytest.raises(InvalidArgument, match=problem):
            await host.acknowledge_violations(1, user)
    lines = "\n".join((await host.log_msgs())["lines"])
    assert "forged" not in lines and "wiped" not in lines


async def test_acknowledge_is_kept_pushed_and_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    host = await Host.open(sim_config(state))
    try:
        events: list[dict[str, Any]] = []
        host.subscribe(events.append)
        await _stopped(host, "EA-domu-1")
        last = (await host.violations(0, 1))["last_seq"]
        with pytest.raises(InvalidArgument, match="beyond the last violation"):
            await host.acknowledge_violations(last + 1000, "alice")
        with pytest.raises(InvalidArgument, match="control"):
            await host.acknowledge_violations(last, "alice", note="a\x07b")
        ack = await host.acknowledge_violations(last, "alice", "EA-domu-1", "seen, paging bob")
        assert ack["ack"] == 1 and ack["user"] == "alice" and ack["domain"] == "EA-domu-1"
        assert ack["up_to_seq"] == last and ack["note"] == "seen, paging bob"
        second = await host.acknowledge_violations(last, "bob")
        assert second["ack"] == 2 and second["domain"] is None and second["note"] is None
        pushed = [e["data"] for e in events if e["event"] == "acks"]
        assert pushed == [ack, second]
        assert (await host.violations(0, 1))["acks"] == [ack, second]
        lines = (await host.log_msgs())["lines"]
        assert any(
            f'violations of EA-domu-1 up to #{last} acknowledged by alice: "seen, paging bob"' in ln
            for ln in lines
        )
    finally:
        await host.close()
    kept = json.loads((state / "violation-acks.json").read_text())
    assert [a["ack"] for a in kept] == [1, 2]
    again = await Host.open(sim_config(state))
    try:
        assert (await again.violations(0, 1))["acks"] == [ack, second]
    finally:
        await again.close()


async def test_a_damaged_acks_file_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "violation-acks.json").write_text('[{"ack": "x"}, 3')
    host = await Host.open(sim_config(state))
    try:
        assert (await host.violations(0, 1))["acks"] == []
    finally:
        await host.close()
