"""Activation failures: disk errors before and after the commit point, cancelled requests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from xps import msm
from xps.host import Host, HostConfig, HostStateError
from xps.host._convert import jsonable
from xps.policy import Policy, parse_policy, policy_to_dict, sample_policy, to_msm_objects


def _canon(obj: object) -> str:
    return type(obj).__name__ + json.dumps(jsonable(obj), sort_keys=True)


def _in_msm(host: Host) -> set[str]:
    ctx = host._msm
    assert ctx is not None
    return {_canon(o) for t in msm.ObjType for o in ctx.policy(t)}


def _of(policy: Policy) -> set[str]:
    return {_canon(o) for o in to_msm_objects(policy)}


def _changed() -> dict[str, Any]:
    doc = policy_to_dict(sample_policy())
    doc["seclabels"][0]["max_rate"] = 4321
    return doc


def _fail_at(step: str):  # type: ignore[no-untyped-def]
    def checkpoint(name: str) -> None:
        if name == step:
            raise OSError(28, "No space left on device")

    return checkpoint


async def _open(state: Path) -> Host:
    return await Host.open(HostConfig(state_dir=state, stats_interval_s=30.0))


async def test_disk_error_before_commit_restores_the_old_policy(tmp_path: Path) -> None:
    host = await _open(tmp_path / "s")
    try:
        await host.stage_policy(policy=_changed())
        host._store._checkpoint = _fail_at("incoming")
        with pytest.raises(HostStateError, match="No space left"):
            await host.activate_policy()
        assert _in_msm(host) == _of(sample_policy())
        assert (await host.hypervisor_info())["policy_generation"] == 1
    finally:
        await host.close()
    again = await _open(tmp_path / "s")
    try:
        assert _in_msm(again) == _of(sample_policy())
    finally:
        await again.close()


async def test_disk_error_after_commit_keeps_the_new_policy(tmp_path: Path) -> None:
    host = await _open(tmp_path / "s")
    try:
        await host.stage_policy(policy=_changed())
        staged = parse_policy((await host.get_policy("staged"))["xml"].encode())
        host._store._checkpoint = _fail_at("active")
        with pytest.raises(HostStateError, match="completed at the next start"):
            await host.activate_policy()
        assert _in_msm(host) == _of(staged)
    finally:
        await host.close()
    again = await _open(tmp_path / "s")  # the journal is rolled forward
    try:
        assert _in_msm(again) == _of(staged)
        assert (await again.hypervisor_info())["policy_generation"] == 2
    finally:
        await again.close()


async def test_cancelled_request_still_completes_the_activation(tmp_path: Path) -> None:
    host = await _open(tmp_path / "s")
    try:
        await host.stage_policy(policy=_changed())
        activated = asyncio.Event()
        host.subscribe(lambda e: activated.set() if e["event"] == "policy" else None)
        request = asyncio.ensure_future(host.activate_policy())
        await asyncio.sleep(0)  # let it start, then the "client" goes away
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        async with asyncio.timeout(10):
            await activated.wait()
        assert (await host.hypervisor_info())["policy_generation"] == 2
        active = parse_policy((await host.get_policy("active"))["xml"].encode())
        assert _in_msm(host) == _of(active)
    finally:
        await host.close()
