"""The daemon wired to the real sim Host: report methods, commands in the log, events."""

from __future__ import annotations

import pytest

from tests._support.xps import RunningXps
from xps.client import DomainInfo, HypervisorInfo, RemoteError, Violation


async def test_report_methods_over_tls(xps_daemon: RunningXps) -> None:
    async with xps_daemon.client(read_only=True) as c:
        info = await c.get_hypervisor_info()
        assert info["backend"] == "sim" and info["msm_status"]
        assert set(info) == set(HypervisorInfo.__annotations__)
        states = await c.get_domain_run_states()
        assert set(states["domains"][0]) == set(DomainInfo.__annotations__)
        assert states["xl_list"].startswith("Name")
        assert states["domains"][0]["name"] == "Domain-0"
        policy = await c.get_policy()
        assert policy["which"] == "active" and policy["xml"].lstrip().startswith("<")
        assert "lines" in await c.get_log_msgs(limit=5)
        with pytest.raises(RemoteError) as err:
            await c.create_domain("EA-domu-1")
        assert err.value.code == "read_only"
    log = await xps_daemon.wait_log("Done handling requests")
    for method in ("GetHypervisorInfo", "GetDomainRunStates", "GetPolicy", "GetLogMsgs"):
        assert f"ReadOnly socket: Client #1 (/127.0.0.1): Received request {method}" in log


async def test_domain_lifecycle_logs_commands_and_pushes_events(xps_daemon: RunningXps) -> None:
    async with xps_daemon.client() as c:
        await c.subscribe(["domain"])
        name = (await c.get_policy())["policy"]["domains"][0]["name"]
        created = await c.create_domain(name)
        event = await c.next_event(10)
        assert event.event == "domain"
        assert (event.data["name"], event.data["run_state"]) == (name, "running")
        paused = await c.pause_domain(name)
        assert paused == {"domid": created["domid"], "run_state": "paused"}
        with pytest.raises(RemoteError) as err:
            await c.pause_domain("no-such-domain")
        assert err.value.code == "not_found"
    log = await xps_daemon.wait_log("Done handling requests")
    assert "Received request CreateDomain" in log
    assert "Executing command: " in log


async def test_violations_are_pushed_in_batches(xps_daemon: RunningXps) -> None:
    async with xps_daemon.client() as c:
        await c.subscribe(["violations"])
        name = (await c.get_policy())["policy"]["domains"][0]["name"]
        await c.create_domain(name)
        await c.set_misbehaviour(name, "out_of_profile", 1_000_000)
        event = await c.next_event(10)
        assert event.event == "violations"
        batch = event.data["violations"]
        assert batch and all(v["domain"] == name for v in batch)
        assert set(batch[0]) == set(Violation.__annotations__)
        assert event.data["last_seq"] >= batch[-1]["seq"]
        stored = await c.get_violations(since_seq=0, limit=10)
        assert stored["violations"][0]["seq"] == batch[0]["seq"]


async def test_vnc_endpoint_is_read_only_and_password_needs_read_write(
    xps_daemon: RunningXps,
) -> None:
    async with xps_daemon.client() as c:
        domains = (await c.get_policy())["policy"]["domains"]
        name = next(d["name"] for d in domains if d.get("vnc"))
        creds = await c.call("GetVncCredentials", domain=name)
    assert creds["enabled"] is True and creds["port"] == 5900 + creds["display"]
    assert creds["password"] and creds["password"] not in await xps_daemon.wait_log(name)
    async with xps_daemon.client(read_only=True) as ro:
        info = await ro.call("GetVncInfo", domain=name)
        assert "password" not in info and info["port"] == creds["port"]
        with pytest.raises(RemoteError) as err:
            await ro.call("GetVncCredentials", domain=name)
        assert err.value.code == "read_only"
