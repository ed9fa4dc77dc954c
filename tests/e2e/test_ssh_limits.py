"""The server raises its open-files limit to what --max-sessions needs (three per session)."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

SCRIPT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
from xenon_tui.ssh._server import raise_open_files_limit
print(raise_open_files_limit(200), *resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def _run_with_limit(soft: int, hard: int) -> list[int]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(soft), str(hard)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [int(x) for x in out.stdout.split()]


def _hard() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


@pytest.mark.skipif(
    _hard() != resource.RLIM_INFINITY and _hard() < 700, reason="hard limit below 700"
)
def test_a_low_soft_limit_is_raised_to_what_200_sessions_need() -> None:
    hard = _hard()
    in_force, soft, hard_after = _run_with_limit(128, hard)
    assert in_force == soft == 3 * 200 + 64
    assert hard_after == hard


def test_the_soft_limit_stops_at_the_hard_limit() -> None:
    in_force, soft, hard = _run_with_limit(128, 300)
    assert in_force == soft == hard == 300


def test_a_high_enough_limit_is_left_alone() -> None:
    in_force, soft, _ = _run_with_limit(4096, max(4096, min(_hard(), 8192)))
    assert in_force == soft == 4096
