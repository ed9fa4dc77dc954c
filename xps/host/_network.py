"""Applies a policy's network configuration: Open vSwitch bridges, iptables, dnsmasq."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from xps.files import write_atomic
from xps.policy import Policy
from xps.policy.generators import GeneratorError, iptables_rules, local_dnsmasq, ovs_commands

from ._errors import HostError, PolicyInvalid
from ._hardware import Nic
from ._runner import CommandRunner

__all__ = ["NetworkPlan", "apply_network", "plan_network"]

log = logging.getLogger("xps.host")


@dataclass(frozen=True)
class NetworkPlan:
    """Everything one activation does to the host network, generated before anything runs."""

    ovs: tuple[tuple[str, ...], ...]
    iptables: str
    dnsmasq: str


def plan_network(
    policy: Policy, nics: tuple[Nic, ...], *, simulated: bool, sysfs: Path
) -> NetworkPlan:
    """Generates the network configuration of ``policy``.

    On the sim backend a switch controller without a discovered interface gets a
    stand-in name (the commands are only recorded); on Xen it is an error.

    Raises:
        PolicyInvalid: The generators refused the policy.
    """
    names = {n.pci: n.name for n in nics if n.pci}
    if simulated:
        controllers = sorted({s.controller for s in policy.switches if s.controller})
        for index, bdf in enumerate(controllers):
            names.setdefault(bdf, f"simnic{index}")
    try:
        ovs = ovs_commands(policy, names, sysfs=sysfs)
        rules = iptables_rules(policy)
        dnsmasq = local_dnsmasq(policy)
    except GeneratorError as exc:
        raise PolicyInvalid(f"network configuration refused: {exc}") from exc
    return NetworkPlan(tuple(tuple(c) for c in ovs), rules, dnsmasq)


def _write_files(plan: NetworkPlan, rules_file: Path, dnsmasq_file: Path) -> None:
    rules_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(rules_file, plan.iptables.encode())
    dnsmasq_file.parent.mkdir(parents=True, exist_ok=True)
    # dnsmasq drops privileges before reading its configuration: world-readable.
    write_atomic(dnsmasq_file, plan.dnsmasq.encode(), mode=0o644)


async def apply_network(
    plan: NetworkPlan, runner: CommandRunner, net_dir: Path, dnsmasq_file: Path
) -> list[str]:
    """Runs the plan through ``runner``; returns the errors (empty when all succeeded).

    The policy is already active when this runs, so a failing command is reported,
    not raised: the remaining commands still run.
    """
    errors: list[str] = []
    rules_file = net_dir / "iptables.rules"
    try:
        await asyncio.to_thread(_write_files, plan, rules_file, dnsmasq_file)
    except OSError as exc:
        errors.append(f"cannot write the network configuration: {exc.strerror or exc}")
    commands = [
        *(list(c) for c in plan.ovs),
        ["iptables-restore", str(rules_file)],
        ["systemctl", "restart", "dnsmasq"],
    ]
    for argv in commands:
        try:
            await runner.run(argv)
        except HostError as exc:
            log.error("Network configuration: %s", exc.message)
            errors.append(exc.message)
    return errors
