"""The `xl list` text format (tools/xl/xl_info.c:list_domains): parse it and produce it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._errors import CommandFailed

__all__ = [
    "XL_LIST_HEADER",
    "XlDomain",
    "format_xl_list",
    "parse_xl_info",
    "parse_xl_list",
    "run_state_of",
    "state_string",
]

# The header of `xl list` contains literal TABs.
XL_LIST_HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)"

# Letter of each shutdown reason (poweroff, reboot, suspend, crash, watchdog, soft_reset).
_REASON_LETTERS = "-rscwS"

_STATE_RE = re.compile(r"^[r-][b-][p-][s-][-rscwS][d-]$")


@dataclass(frozen=True)
class XlDomain:
    """One line of `xl list`.

    Attributes:
        name: Domain name.
        domid: Domain id.
        mem_mb: Current (+ outstanding) memory in MiB.
        vcpus: Online vcpus.
        state: The 6-character state, flags ``r b p s <reason> d``.
        cpu_s: Cumulative CPU time in seconds (0.1 s resolution).
    """

    name: str
    domid: int
    mem_mb: int
    vcpus: int
    state: str
    cpu_s: float


def state_string(
    *,
    running: bool = False,
    blocked: bool = False,
    paused: bool = False,
    shutdown: bool = False,
    reason: int = 0,
    dying: bool = False,
) -> str:
    """Builds xl's 6-character state; ``reason`` is Xen's shutdown code (valid if shutdown)."""
    reason_letter = "-"
    if shutdown and 0 <= reason < len(_REASON_LETTERS):
        reason_letter = _REASON_LETTERS[reason]
    return "".join(
        (
            "r" if running else "-",
            "b" if blocked else "-",
            "p" if paused else "-",
            "s" if shutdown else "-",
            reason_letter,
            "d" if dying else "-",
        )
    )


def run_state_of(state: str) -> str:
    """Maps an xl state string to the contract's run_state: running, paused or shutdown."""
    if state[3] == "s" or state[5] == "d":
        return "shutdown"
    if state[2] == "p":
        return "paused"
    return "running"


def format_xl_list(domains: Iterable[XlDomain]) -> str:
    """Formats domains exactly as `xl list` prints them (header line first)."""
    lines = [XL_LIST_HEADER]
    for d in domains:
        lines.append(
            f"{d.name:<40} {d.domid:5d} {d.mem_mb:5d} {d.vcpus:5d}     {d.state}  {d.cpu_s:8.1f}"
        )
    return "\n".join(lines) + "\n"


def parse_xl_list(text: str) -> list[XlDomain]:
    """Parses the output of a plain `xl list`.

    Args:
        text: The command's standard output.

    Returns:
        One entry per domain line, in output order.

    Raises:
        CommandFailed: The text is not `xl list` output (with the offending line).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0].split()
    if header[:2] != ["Name", "ID"]:
        raise CommandFailed(f"unexpected `xl list` header: {lines[0][:120]!r}")
    out: list[XlDomain] = []
    for number, line in enumerate(lines[1:], start=2):
        # The name is left-justified and may contain spaces: split from the right.
        fields = line.rsplit(None, 5)
        if len(fields) != 6:
            raise CommandFailed(f"`xl list` line {number} has too few columns: {line[:120]!r}")
        name, domid, mem, vcpus, state, cpu = fields
        if not _STATE_RE.match(state):
            raise CommandFailed(f"`xl list` line {number}: bad state {state!r}")
        try:
            entry = XlDomain(name.rstrip(), int(domid), int(mem), int(vcpus), state, float(cpu))
        except ValueError as exc:
            raise CommandFailed(f"`xl list` line {number}: {exc}") from exc
        if not entry.name or entry.domid < 0 or entry.mem_mb < 0 or entry.vcpus < 0:
            raise CommandFailed(f"`xl list` line {number}: invalid values: {line[:120]!r}")
        out.append(entry)
    return out


def parse_xl_info(text: str) -> dict[str, Any]:
    """Picks xen_version, cpus, mem_kb and free_mem_kb out of `xl info` output."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    out: dict[str, Any] = {}
    if "xen_major" in fields and "xen_minor" in fields:
        out["xen_version"] = (
            f"{fields['xen_major']}.{fields['xen_minor']}{fields.get('xen_extra', '')}"
        )
    for key, name, scale in (
        ("nr_cpus", "cpus", 1),
        ("total_memory", "mem_kb", 1024),
        ("free_memory", "free_mem_kb", 1024),
    ):
        if fields.get(key, "").isdigit():
            out[name] = int(fields[key]) * scale
    return out
