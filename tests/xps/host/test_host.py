"""The Host facade on the sim backend: real C module, real files, recorded commands."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support.xps import sim_config
from xps import msm
from xps.host import (
    ConflictError,
    Host,
    HostStateError,
    InvalidArgument,
    NotFound,
    NotSupported,
    PolicyInvalid,
    RecordingRunner,
    ViolationsUnaddressed,
)
from xps.host._convert import jsonable
from xps.policy import (
    ConflictLevel,
    ConflictSet,
    parse_policy,
    policy_to_dict,
    sample_policy,
    serialize_policy,
    to_msm_objects,
)


@pytest.fixture
def host(sim_host: Host) -> Host:
    """The shared sim host (tests/_support/xps.py ``sim_host``)."""
    return sim_host


async def wait_for(pred: Callable[[], Any], limit_s: float = 8.0) -> Any:
    """Polls ``pred`` until it returns something truthy (no timing assertion: a bound only)."""
    async with asyncio.timeout(limit_s):
        while True:
            value = pred()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(0.02)


def _canon(obj: Any) -> str:
    return type(obj).__name__ + json.dumps(jsonable(obj), sort_keys=True)


def _msm_objects(host: Host) -> set[str]:
    ctx = host._msm
    assert ctx is not None
    return {_canon(o) for t in msm.ObjType for o in ctx.policy(t)}


def _expected_objects(policy: Any) -> set[str]:
    return {_canon(o) for o in to_msm_objects(policy)}


async def test_open_installs_sample_policy(host: Host) -> None:
    info = await host.hypervisor_info()
    assert info["backend"] == "sim" and info["msm_status"] == "enforcing"
    assert info["policy_generation"] == 1
    assert info["policy_name"] == sample_policy().name
    assert info["cpus"] == 8 and info["mem_kb"] == 16 * 1024 * 1024
    v = msm.EXPECTED_INTERFACE_VERSION
    assert info["msm_version"] == f"{v >> 16}.{v & 0xFFFF}"
    assert _msm_objects(host) == _expected_objects(sample_policy())
    active = await host.get_policy("active")
    assert active["generation"] == 1
    assert parse_policy(active["xml"].encode()) == sample_policy()
    with pytest.raises(NotFound):
        await host.get_policy("staged")
    with pytest.raises(InvalidArgument):
        await host.get_policy("nonsense")
    assert json.loads(json.dumps(info)) == info


async def test_domain_lifecycle(host: Host) -> None:
    events: list[dict[str, Any]] = []
    host.subscribe(events.append)
    assert await host.create_domain("EA-domu-1") == {"domid": 1}
    states = await host.domain_run_states()
    dom = next(d for d in states["domains"] if d["name"] == "EA-domu-1")
    assert dom["state"] == "r-----" and dom["run_state"] == "running"
    assert dom["seclabel_name"] == "EA-seclabel" and dom["tag_name"] == "Enclave A"
    assert dom["mem_mb"] == 2048 and dom["vcpus"] == 2
    lines = states["xl_list"].splitlines()
    assert lines[0].startswith("Name") and "\t" in lines[0]
    assert any(line.startswith("EA-domu-1 ") and " r----- " in line for line in lines)
    assert states["domains"][0]["name"] == "Domain-0"

    assert await host.pause_domain("EA-domu-1") == {"domid": 1, "run_state": "paused"}
    dom = next(d for d in (await host.domain_run_states())["domains"] if d["domid"] == 1)
    assert dom["state"] == "--p---"
    assert (await host.unpause_domain(1))["run_state"] == "running"
    assert (await host.reboot_domain(1))["run_state"] == "running"
    assert (await host.shutdown_domain(1))["run_state"] == "shutdown"
    dom = next(d for d in (await host.domain_run_states())["domains"] if d["domid"] == 1)
    assert dom["state"] == "---s--"
    assert (await host.destroy_domain(1))["run_state"] == "destroyed"
    assert [d["domid"] for d in (await host.domain_run_states())["domains"]] == [0]
    reasons = [e["data"]["reason"] for e in events if e["event"] == "domain"]
    assert reasons == ["created", "pause", "unpause", "reboot", "shutdown", "destroy"]


async def test_domain_errors(host: Host) -> None:
    with pytest.raises(NotFound):
        await host.create_domain("no-such-domain")
    await host.create_domain("EA-domu-3")
    with pytest.raises(ConflictError):
        await host.create_domain("EA-domu-3")
    with pytest.raises(NotFound):
        await host.pause_domain("EB-domu-1")
    with pytest.raises(NotFound):
        await host.pause_domain(99)
    with pytest.raises(InvalidArgument):
        await host.destroy_domain(0)
    with pytest.raises(InvalidArgument):
        await host.pause_domain(True)  # type: ignore[arg-type]


async def test_stage_diff_activate_rollback(host: Host) -> None:
    events: list[dict[str, Any]] = []
    host.subscribe(events.append)
    runner = host.runner
    assert isinstance(runner, RecordingRunner)
    runner.commands.clear()
    doc = policy_to_dict(sample_policy())
    changed = copy.deepcopy(doc)
    label = next(s for s in changed["seclabels"] if s["name"] == "EA-seclabel")
    label["max_rate"] = 1234
    staged = await host.stage_policy(policy=changed)
    assert staged["staged"] is True and len(staged["sha256"]) == 64
    diff = await host.staged_diff()
    assert diff["staged"] is True
    assert "1234" in json.dumps(diff["diff"])
    assert (await host.get_policy("staged"))["sha256"] == staged["sha256"]

    result = await host.activate_policy()
    assert result["generation"] == 2 and "network_errors" not in result
    new_policy = parse_policy((await host.get_policy("active"))["xml"].encode())
    assert new_policy.seclabel_named("EA-seclabel").max_rate == 1234
    assert _msm_objects(host) == _expected_objects(new_policy)
    prev = await host.get_policy("previous")
    assert prev["generation"] == 1 and parse_policy(prev["xml"].encode()) == sample_policy()
    assert (await host.staged_diff())["staged"] is False
    assert [e["data"] for e in events if e["event"] == "policy"] == [result]
    argvs = runner.argvs
    assert ["ovs-vsctl", "--may-exist", "add-br", "EAbr"] in argvs
    assert any(a[0] == "iptables-restore" for a in argvs)
    rules_file = Path(next(a for a in argvs if a[0] == "iptables-restore")[1])
    rules = await asyncio.to_thread(rules_file.read_text)
    assert "*filter" in rules and "COMMIT" in rules

    back = await host.rollback_policy()
    assert back["generation"] == 3
    assert parse_policy((await host.get_policy("active"))["xml"].encode()) == sample_policy()
    assert _msm_objects(host) == _expected_objects(sample_policy())
    assert (await host.hypervisor_info())["policy_generation"] == 3


async def test_invalid_policies_are_refused(host: Host) -> None:
    with pytest.raises(PolicyInvalid) as info:
        await host.stage_policy(xml="<not-a-policy")
    assert info.value.code == "policy_invalid" and info.value.details
    doc = policy_to_dict(sample_policy())
    doc["seclabels"][0]["profile"] = "00000000-0000-0000-0000-00000000dead"
    with pytest.raises(PolicyInvalid) as info:
        await host.stage_policy(policy=doc)
    assert any(f.get("severity") == "error" for f in info.value.details)
    with pytest.raises(InvalidArgument):
        await host.stage_policy()
    with pytest.raises(HostStateError):
        await host.activate_policy()  # nothing staged
    assert (await host.hypervisor_info())["policy_generation"] == 1


async def test_chinese_wall_refusals(host: Host) -> None:
    policy = sample_policy()
    ea, eb = policy.tag_named("Enclave A"), policy.tag_named("Enclave B")
    wall = ConflictSet(
        id=ea.id.__class__(int=0xC0FFEE),
        name="EA-EB-wall",
        level=ConflictLevel.NO_CORESIDENCE,
        tags=(ea.id, eb.id),
    )
    walled = policy.with_conflict(wall)
    await host.create_domain("EA-domu-1")
    await host.create_domain("EB-domu-1")
    await host.stage_policy(xml=serialize_policy(walled).decode())
    with pytest.raises(PolicyInvalid) as info:
        await host.activate_policy()  # both enclaves run: the MSM refuses the commit
    assert info.value.details[0]["rule"] == "conflict"
    # Named, not only identified: the domain that may not run on, and the tag it clashes with.
    eb_domu = policy.domain_named("EB-domu-1")
    assert f"live domain 'EB-domu-1' (domid 2, uuid {eb_domu.id})" in str(info.value)
    assert f"tag 'Enclave A' (uuid {ea.id})" in str(info.value)
    assert (await host.hypervisor_info())["policy_generation"] == 1
    assert _msm_objects(host) == _expected_objects(policy)
    await host.destroy_domain("EB-domu-1")
    assert (await host.activate_policy())["generation"] == 2
    with pytest.raises(ConflictError):
        await host.create_domain("EB-domu-1")


async def test_violations_stop_and_address(host: Host, tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    host.subscribe(events.append)
    domid = (await host.create_domain("EA-domu-1"))["domid"]
    await host.set_misbehaviour("EA-domu-1", "out_of_profile", 200_000)

    def stopped() -> bool:
        return any(
            e["event"] == "domain" and e["data"]["reason"] == "max_violations" for e in events
        )

    await wait_for(stopped)
    got = await host.violations(0, 10_000)
    mine = [v for v in got["violations"] if v["domid"] == domid]
    assert mine and mine[0]["domain"] == "EA-domu-1"
    assert mine[0]["seclabel_name"] == "EA-seclabel" and mine[0]["kind"] in ("profile", "rate")
    assert mine[0]["ts"].endswith("Z") and isinstance(mine[0]["hypercall_name"], str)
    seqs = [v["seq"] for v in got["violations"]]
    assert seqs == list(range(1, len(seqs) + 1)) and got["last_seq"] >= seqs[-1]
    later = await host.violations(since_seq=seqs[-1] - 1, limit=1)
    assert [v["seq"] for v in later["violations"]] == [seqs[-1]]
    batches = [e["data"] for e in events if e["event"] == "violations"]
    # Pushed batches carry each record once, in order, and none the host has not counted.
    pushed = [v["seq"] for b in batches for v in b["violations"]]
    assert pushed and pushed == sorted(set(pushed)) and pushed[-1] <= got["last_seq"]
    log_lines = (tmp_path / "state" / "xenon-msm-violations.log").read_text().splitlines()
    assert any("domain=EA-domu-1" in ln and "seclabel=EA-seclabel" in ln for ln in log_lines)

    dom = next(d for d in (await host.domain_run_states())["domains"] if d["domid"] == domid)
    assert dom["stopped_by_msm"] and dom["run_state"] == "paused" and dom["violations"] >= 50
    with pytest.raises(ViolationsUnaddressed):
        await host.unpause_domain(domid)
    assert await host.address_violations("EA-domu-1") == {"domid": domid, "violations": 0}
    await host.set_misbehaviour(domid, "out_of_profile", 0)
    assert (await host.unpause_domain(domid))["run_state"] == "running"
    assert any("stopped" in line for line in (await host.log_msgs())["lines"])
    with pytest.raises(InvalidArgument):
        await host.set_misbehaviour(domid, "teleport", 1)
    with pytest.raises(InvalidArgument):
        await host.violations(limit=0)


async def test_stats_and_history_persist(tmp_path: Path) -> None:
    state = tmp_path / "state"
    host = await Host.open(sim_config(state))
    try:
        await host.create_domain("EA-domu-1")

        async def busy() -> bool:
            s = await host.stats()
            return any(d["name"] == "EA-domu-1" and d["cpu_pct"] > 0 for d in s["domains"])

        await wait_for(busy)
        s = await host.stats()
        dom = next(d for d in s["domains"] if d["name"] == "EA-domu-1")
        assert dom["mem_kb"] == 2048 * 1024 and dom["vcpus"] == 2 and dom["cpu_s"] > 0
        assert 0 <= s["host"]["cpu_pct"] <= 100 and s["host"]["mem_kb"] == 16 * 1024 * 1024
        hist = await host.stats_history("10m")
        assert hist["step_s"] == 5
        assert {"host", "EA-domu-1"} <= {x["name"] for x in hist["series"]}
        one = await host.stats_history("10m", domain="EA-domu-1")
        assert [x["name"] for x in one["series"]] == ["EA-domu-1"]
        assert all(len(p) == 4 for p in one["series"][0]["points"])
    finally:
        await host.close()
    assert (state / "stats.json").exists()
    again = await Host.open(sim_config(state))
    try:
        names = {x["name"] for x in (await again.stats_history("2h"))["series"]}
        assert "EA-domu-1" in names  # survived the restart
        assert (await again.hypervisor_info())["policy_generation"] == 1
    finally:
        await again.close()


async def test_restart_reloads_active_policy_into_fresh_msm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    host = await Host.open(sim_config(state))
    doc = policy_to_dict(sample_policy())
    doc["seclabels"][0]["max_violations"] = 7
    await host.stage_policy(policy=doc)
    await host.activate_policy()
    expected = parse_policy((await host.get_policy("active"))["xml"].encode())
    await host.close()
    again = await Host.open(sim_config(state))
    try:
        assert (await again.hypervisor_info())["policy_generation"] == 2
        assert _msm_objects(again) == _expected_objects(expected)
        runner = again.runner
        assert isinstance(runner, RecordingRunner)
        assert ["ovs-vsctl", "--may-exist", "add-br", "EAbr"] in runner.argvs  # re-applied
    finally:
        await again.close()


async def test_subscriber_errors_do_not_break_the_host(host: Host) -> None:
    got: list[str] = []

    def bad(event: dict[str, Any]) -> None:
        raise RuntimeError("subscriber bug")

    host.subscribe(bad)
    unsubscribe = host.subscribe(lambda e: got.append(e["event"]))
    await wait_for(lambda: "stats" in got)
    unsubscribe()
    n = len(got)
    await asyncio.sleep(0.2)
    assert len(got) == n


async def test_hardware_and_export(tmp_path: Path) -> None:
    fixture = Path(__file__).parent / "fixtures" / "host1"
    host = await Host.open(sim_config(tmp_path / "s", root_prefix=fixture))
    try:
        hw = await host.hardware()
        assert len(hw["hardware"]["cpus"]) == 4
        assert {n["name"] for n in hw["nics"]} == {"eth0", "eth1", "lo"}
        json.dumps(hw)
        plain = await host.export_policy(signed=False)
        assert plain["signed"] is False
        assert parse_policy(plain["xml"].encode()) == sample_policy()
        with pytest.raises(NotSupported):
            await host.export_policy(signed=True)
    finally:
        await host.close()
