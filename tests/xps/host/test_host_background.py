"""The host's background loops: one TaskGroup, stopped with the host, failures logged."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from xps.host import Host, HostConfig


def _host_tasks() -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("xps-host"))


async def test_loops_run_in_one_group_and_stop_with_the_host(tmp_path: Path) -> None:
    host = await Host.open(HostConfig(state_dir=tmp_path / "s", backend="sim"))
    try:
        await asyncio.sleep(0)
        assert _host_tasks() == [
            "xps-host-background",
            "xps-host-sim-driver",
            "xps-host-stats",
        ]
    finally:
        await host.close()
    assert _host_tasks() == []
    await host.close()  # idempotent


async def test_a_failing_sample_is_logged_and_the_loop_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = await Host.open(
        HostConfig(state_dir=tmp_path / "s", backend="sim", stats_interval_s=0.05)
    )
    sampler = host.telemetry.sampler
    real = sampler.sample
    failures = 0

    def fail_twice(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise RuntimeError("injected sampling fault")
        return real(*args, **kwargs)

    samples: list[dict[str, Any]] = []
    host.subscribe(lambda event: samples.append(event) if event["event"] == "stats" else None)
    try:
        sampler.sample = fail_twice  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR, logger="xps.host"):
            async with asyncio.timeout(30):  # a liveness bound only
                while not (failures == 2 and samples):  # noqa: ASYNC110 (waits for the loop)
                    await asyncio.sleep(0.02)
        assert [r.getMessage() for r in caplog.records].count("statistics sample failed") == 2
        assert not host._background.done()  # type: ignore[union-attr]
    finally:
        await host.close()
