"""CPU time of a process from Linux /proc, shared by the benchmarks."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_split_s(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of process ``pid``; OSError once it is gone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid``; OSError once it is gone."""
    return sum(cpu_split_s(pid))
