"""The xen backend without a hypervisor: xl through a recording runner, no MSM on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from xps.host import (
    CommandResult,
    Host,
    HostConfig,
    NotFound,
    NotSupported,
    RecordingRunner,
)

XL_LIST = (
    "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
    "Domain-0                                     0  4096     4     r-----     812.5\n"
    "EA-domu-1                                    3  2048     2     -b----      42.0\n"
    "EB-domu-1                                    4  1024     2     --p---       1.5\n"
)
XL_INFO = """host                   : xenon-1
release                : 6.1.0-xen
xen_major              : 4
xen_minor              : 17
xen_extra              : .3
nr_cpus                : 8
total_memory           : 32768
free_memory            : 20480
"""
FIXTURE = Path(__file__).parent / "fixtures" / "host1"


async def test_no_msm_is_reported_not_faked(tmp_path: Path) -> None:
    runner = RecordingRunner({"xl list": XL_LIST, "xl info": XL_INFO})
    # The default for xen is no initial policy: opening works without an MSM.
    host = await Host.open(
        HostConfig(state_dir=tmp_path / "s", backend="xen", root_prefix=FIXTURE), runner=runner
    )
    try:
        info = await host.hypervisor_info()
        assert info["msm_status"].startswith("unavailable")
        assert info["xen_version"] == "4.17.3"
        assert info["cpus"] == 8 and info["mem_kb"] == 32768 * 1024
        assert info["policy_generation"] == 0 and info["policy_name"] is None
        with pytest.raises(NotSupported):
            await host.address_violations("EA-domu-1")
        with pytest.raises(NotSupported):
            await host.set_misbehaviour("EA-domu-1", "rate_burst", 10)
    finally:
        await host.close()


async def test_initial_policy_needs_an_msm(tmp_path: Path) -> None:
    runner = RecordingRunner({"xl list": XL_LIST, "xl info": XL_INFO})
    cfg = HostConfig(
        state_dir=tmp_path / "s", backend="xen", root_prefix=FIXTURE, initial_policy="sample"
    )
    with pytest.raises(NotSupported):
        await Host.open(cfg, runner=runner)


async def test_run_states_come_from_xl_list(tmp_path: Path) -> None:
    runner = RecordingRunner({"xl list": XL_LIST, "xl info": XL_INFO})
    host = await Host.open(
        HostConfig(state_dir=tmp_path / "s", backend="xen", root_prefix=FIXTURE), runner=runner
    )
    try:
        states = await host.domain_run_states()
        assert states["xl_list"] == XL_LIST
        doms = {d["name"]: d for d in states["domains"]}
        assert doms["EA-domu-1"]["domid"] == 3 and doms["EA-domu-1"]["state"] == "-b----"
        assert doms["EA-domu-1"]["run_state"] == "running"
        assert doms["EB-domu-1"]["run_state"] == "paused"
        assert doms["EA-domu-1"]["cpu_s"] == 42.0 and doms["EA-domu-1"]["mem_mb"] == 2048
        assert ["xl", "list"] in runner.argvs

        runner.commands.clear()
        assert await host.pause_domain("EA-domu-1") == {"domid": 3, "run_state": "running"}
        assert runner.argvs[1] == ["xl", "pause", "3"]  # after the lookup `xl list`
        await host.destroy_domain(4)
        assert ["xl", "destroy", "4"] in runner.argvs
        with pytest.raises(NotFound):
            await host.pause_domain("nope")
        runner.respond("xl shutdown", CommandResult(("xl",), 1, "", "invalid domain identifier"))
        with pytest.raises(NotFound):
            await host.shutdown_domain(3)
        # no active policy: nothing to create from
        with pytest.raises(NotFound):
            await host.create_domain("EA-domu-1")
        stats = await host.stats()
        assert {d["name"] for d in stats["domains"]} == {"Domain-0", "EA-domu-1", "EB-domu-1"}
        assert stats["host"]["mem_kb"] == 32768 * 1024
    finally:
        await host.close()
