"""The soak's CI slice: 10^6 adversarial decisions, every allowed one checked by the
independent invariant checker (0 leaks), a prefix replayed identically in the reference
model, and test builds of the C module with injected engine bugs that the checker catches
within the same slice. ``python -m benchmarks.soak`` runs the same code for 10^9.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from benchmarks.soak import SoakError, soak
from benchmarks.soak import replay as soak_replay
from native.build_msm import build_test_module
from tests._support.msm_workload import Adversary, RefWorkload

SLICE = 10**6
WORLD_STARTS = 16  # msm_soak_world starts this many domains, each an event for the checker


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def shipped() -> Iterator[Any]:
    from native import _msm  # type: ignore[attr-defined,unused-ignore]

    yield _msm


def test_the_slice_has_no_leaks_under_every_attack(shipped: Any) -> None:
    res = soak(shipped.ffi, shipped.lib, SLICE)
    assert res.decisions >= SLICE
    assert res.leaks == 0, res.first_leaks
    # Every allowed decision reached the checker (plus the world's starts).
    assert res.checked == res.events + WORLD_STARTS
    assert (
        res.events
        == res.allowed
        + (res.channels - res.denied_channel)
        + (res.devices - res.devices_denied)
        + (res.starts - res.starts_denied)
        + res.destroys
    )
    # Each attack happened, and was refused most of the time but not always (allowed
    # decisions of every kind were checked).
    assert res.channels > res.denied_channel > 0
    assert res.devices > res.devices_denied > 0
    assert res.starts > res.starts_denied > 0
    assert res.destroys > 0
    assert res.denied_profile > 0 and res.denied_rate > 0


def test_a_prefix_decides_as_the_reference_model() -> None:
    # ~130 simulated ms: several starts and destroys among the calls.
    assert soak_replay(60_000) >= 60_000


def test_the_replay_notices_a_different_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay can fail: a model whose adversary differs from the C run's disagrees."""
    run = RefWorkload.run

    def other(self: RefWorkload, duration_ns: int, adversary: Adversary | None = None) -> Any:
        return run(self, duration_ns, Adversary(channel=1_000_000))

    monkeypatch.setattr(RefWorkload, "run", other)
    with pytest.raises(SoakError, match="chunk 1: counts"):
        soak_replay(1_000)


@pytest.fixture(scope="module")
def bug_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Test builds of the module (never shipped): bit 1 flips the no-communication rule of
    SECURITY-role channels; 2 | 4 | 8 put the batched rate test off by one, turn the
    Chinese Wall off at domain start and drop the device tag check."""
    out = {}
    for mask in (1, 2 | 4 | 8):
        name = f"_msm_bug{mask}"
        out[mask] = build_test_module(
            tmp_path_factory.mktemp(name), name, (f"MSM_TEST_INJECT_BUG={mask}",)
        )
    return out


def test_a_flipped_channel_rule_is_caught_within_the_slice(bug_builds: dict[int, Path]) -> None:
    mod = _load(bug_builds[1], "_msm_bug1")
    res = soak(mod.ffi, mod.lib, SLICE)
    assert res.leaks > 0
    assert res.leaks == res.leaks_by_rule["channel"]
    first = res.first_leaks[0]
    assert (first["rule"], first["event"]) == ("channel", "channel")


def test_rate_wall_and_device_bugs_are_each_caught(bug_builds: dict[int, Path]) -> None:
    mod = _load(bug_builds[2 | 4 | 8], "_msm_bug14")
    res = soak(mod.ffi, mod.lib, SLICE)
    caught = {rule for rule, n in res.leaks_by_rule.items() if n}
    assert caught == {"rate", "coresidence", "device"}, res.first_leaks
