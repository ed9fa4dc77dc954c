"""Incidents on the sim host: the record captured at open, runbook steps (skips need a
reason, close a note), the MSM log, search, reopen, the files kept and their bounds."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from tests._support.xps import sim_config
from xps.host import Host, InvalidArgument, _svc_incidents
from xps.host._errors import ConflictError, NotFound

DOMAIN = "EA-domu-1"


@pytest.fixture
def host(sim_host: Host) -> Host:
    """The open sim host of ``tests/_support/xps.py``."""
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


async def _log(host: Host) -> list[str]:
    return (await host.log_msgs(2000))["lines"]


async def test_open_captures_the_record_and_logs_it(host: Host, tmp_path: Path) -> None:
    await _stopped(host, DOMAIN)
    await host.create_domain("EB-domu-1")  # another domain's records stay out
    records = (await host.violations(0, 10_000))["violations"]
    mine = [v for v in records if v["domain"] == DOMAIN]
    assert mine
    trigger = [mine[-1]["seq"]]
    active = await host.get_policy("active")

    inc = await host.open_incident(DOMAIN, "alice", trigger)

    assert inc["id"] == "INC-1" and inc["state"] == "open" and inc["opened_by"] == "alice"
    assert [v["seq"] for v in inc["triggers"]] == trigger
    assert inc["violations"] and {v["domain"] for v in inc["violations"]} == {DOMAIN}
    assert {v["seq"] for v in inc["violations"]} <= {v["seq"] for v in mine}
    assert inc["config"] is not None and inc["config"]["name"] == DOMAIN
    assert inc["seclabel"] is not None and inc["seclabel"]["id"] == inc["config"]["seclabel"]
    assert inc["policy_generation"] == active["generation"]
    assert inc["policy_sha256"] == active["sha256"]
    assert inc["stats"]["range"] == "10m"
    assert {s["name"] for s in inc["stats"]["series"]} <= {DOMAIN}
    assert [s["step"] for s in inc["steps"]] == ["capture"]

    path = tmp_path / "state" / "incidents" / "INC-1.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["id"] == "INC-1"
    assert any(f"incident INC-1 opened for {DOMAIN} by alice" in line for line in await _log(host))
    # One open incident per domain: the second open names the first.
    with pytest.raises(ConflictError, match="INC-1"):
        await host.open_incident(DOMAIN, "bob")


async def test_steps_skip_close_reopen_and_search(host: Host) -> None:
    inc = await host.open_incident(DOMAIN, "alice")
    iid = inc["id"]
    with pytest.raises(InvalidArgument, match="reason"):
        await host.incident_step(iid, "quarantine", "skipped", "alice")
    with pytest.raises(InvalidArgument, match="note"):
        await host.incident_step(iid, "close", "done", "alice")
    with pytest.raises(InvalidArgument):
        await host.incident_step(iid, "dance", "done", "alice")
    await host.incident_step(iid, "pause", "done", "alice")
    await host.incident_step(iid, "quarantine", "skipped", "alice", "no VIFs on this VM")
    closed = await host.incident_step(iid, "close", "done", "bob", "profile widened, INC ok")
    assert closed["state"] == "closed" and closed["closed_at"] is not None
    assert [(s["step"], s["outcome"], s["user"]) for s in closed["steps"]] == [
        ("capture", "done", "alice"),
        ("pause", "done", "alice"),
        ("quarantine", "skipped", "alice"),
        ("close", "done", "bob"),
    ]
    with pytest.raises(InvalidArgument, match="closed"):
        await host.incident_step(iid, "verify", "done", "bob")
    lines = await _log(host)
    assert any('quarantine skipped by alice: "no VIFs on this VM"' in line for line in lines)
    assert any(f"incident {iid} ({DOMAIN}) close done by bob" in line for line in lines)

    other = await host.open_incident("EB-domu-1", "carol")
    assert [i["id"] for i in (await host.list_incidents())["incidents"]] == [other["id"], iid]
    assert [i["id"] for i in (await host.list_incidents(state="open"))["incidents"]] == [
        other["id"]
    ]
    found = (await host.list_incidents(query="VIFS ON"))["incidents"]
    assert [i["id"] for i in found] == [iid]
    assert found[0]["last_note"] == "profile widened, INC ok"
    assert (await host.list_incidents(query="CAROL"))["incidents"][0]["domain"] == "EB-domu-1"

    again = await host.reopen_incident(iid, "dave", "it came back")
    assert again["state"] == "open" and again["closed_at"] is None
    assert again["steps"][-1]["step"] == "reopen"
    assert (await host.get_incident(iid))["state"] == "open"
    with pytest.raises(InvalidArgument, match="open"):
        await host.reopen_incident(iid, "dave")


async def test_input_is_validated(host: Host) -> None:
    with pytest.raises(InvalidArgument, match="control"):
        await host.open_incident(DOMAIN, "alice\x1b[2J")
    with pytest.raises(NotFound):
        await host.open_incident("no-such-vm", "alice")
    with pytest.raises(NotFound):
        await host.open_incident("Domain-0", "alice")
    with pytest.raises(InvalidArgument):
        await host.open_incident(DOMAIN, "alice", [0])
    with pytest.raises(InvalidArgument):
        await host.open_incident(DOMAIN, "alice", list(range(1, 200)))
    with pytest.raises(InvalidArgument):
        await host.get_incident("../../etc/passwd")
    with pytest.raises(NotFound):
        await host.get_incident("INC-99")
    inc = await host.open_incident(DOMAIN, "alice")
    with pytest.raises(InvalidArgument, match="control"):
        await host.incident_step(inc["id"], "close", "done", "alice", "fine\nMSM: forged")
    with pytest.raises(InvalidArgument):
        await host.incident_step(inc["id"], "close", "done", "alice", "x" * 501)
    with pytest.raises(InvalidArgument):
        await host.list_incidents(state="maybe")


async def test_incidents_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with await Host.open(sim_config(state)) as h:
        first = await h.open_incident(DOMAIN, "alice")
        await h.incident_step(first["id"], "close", "done", "alice", "done here")
        second = await h.open_incident(DOMAIN, "alice")
    (state / "incidents" / "INC-7.json").write_text("{not json")  # skipped, not fatal
    async with await Host.open(sim_config(state)) as h:
        kept = await h.get_incident(first["id"])
        assert kept["state"] == "closed" and kept["steps"][-1]["note"] == "done here"
        assert (await h.get_incident(second["id"]))["steps"] == second["steps"]
        third = await h.open_incident("EB-domu-1", "bob")
        assert third["id"] == "INC-3"


async def test_the_count_is_bounded(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_svc_incidents, "MAX_INCIDENTS", 3)
    names = ["EA-domu-1", "EA-domu-3", "EA-domu-5", "EB-domu-1"]
    first = await host.open_incident(names[0], "alice")
    await host.incident_step(first["id"], "close", "done", "alice", "ok")
    await host.open_incident(names[1], "alice")
    await host.open_incident(names[2], "alice")
    # Full: the oldest closed incident goes.
    await host.open_incident(names[3], "alice")
    ids = {i["id"] for i in (await host.list_incidents())["incidents"]}
    assert ids == {"INC-2", "INC-3", "INC-4"}
    assert not (host.config.state_dir / "incidents" / "INC-1.json").exists()
    # Full and every one open: refused.
    with pytest.raises(ConflictError, match="open"):
        await host.open_incident("EC-domu-1", "alice")


async def test_read_only_clients_list_and_get_but_take_no_step(xps_daemon: Any) -> None:
    from xps.client import RemoteError

    async with xps_daemon.client() as rw, xps_daemon.client(read_only=True) as ro:
        inc = await rw.open_incident(DOMAIN, "alice")
        assert (await ro.get_incident(inc["id"]))["opened_by"] == "alice"
        assert [i["id"] for i in (await ro.list_incidents(query="ea-DOMU"))["incidents"]] == [
            inc["id"]
        ]
        for attempt in (
            ro.open_incident("EB-domu-1", "mallory"),
            ro.incident_step(inc["id"], "close", "done", "mallory", "gone"),
            ro.reopen_incident(inc["id"], "mallory"),
        ):
            with pytest.raises(RemoteError) as err:
                await attempt
            assert err.value.code == "read_only"
        assert (await rw.get_incident(inc["id"]))["state"] == "open"
