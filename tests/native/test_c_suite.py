"""Runs the C unit tests of the MSM module (plain and under ASan/UBSan)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2] / "native" / "tests"
RUNS = 4


def _make(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-C", str(TESTS), target],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )


def _sanitizers_available() -> bool:
    """True when the C compiler can link a program with ASan and UBSan."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text("int main(void) { return 0; }\n")
        probe = subprocess.run(
            ["cc", "-fsanitize=address,undefined", str(src), "-o", str(Path(tmp) / "probe")],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0


pytestmark = [
    pytest.mark.needs_tool,
    pytest.mark.skipif(
        shutil.which("make") is None or shutil.which("cc") is None, reason="needs make and cc"
    ),
]


def test_c_suite() -> None:
    result = _make("test")
    assert result.returncode == 0, result.stdout + result.stderr
    # test_msm, test_sim, test_xen without and with the fake libxenstat.
    assert result.stderr.count(" 0 failures") == RUNS


@pytest.mark.slow
def test_c_suite_under_sanitizers() -> None:
    if not _sanitizers_available():
        pytest.skip("the C compiler lacks -fsanitize=address,undefined support")
    result = _make("asan")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.count(" 0 failures") == RUNS
