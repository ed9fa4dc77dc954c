"""Every ABI entry survives hostile arguments (fuzzed in a subprocess, so a crash fails)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fuzz_every_entry_point(tmp_path: Path) -> None:
    log = tmp_path / "last-call.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.native._fuzz_main", str(log)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    last = log.read_text() if log.exists() else "(none)"
    assert proc.returncode == 0, (
        f"fuzz exited {proc.returncode}\nlast call: {last}\n"
        f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-4000:]}"
    )
    calls = int(proc.stdout.split("fuzz ok: ")[1].split()[0])
    assert calls > 2500
