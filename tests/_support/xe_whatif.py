"""What-if set-ups on XE over real sim XPS hosts: :data:`DOM` (a VM of the sample policy),
the calls its host counted (:func:`counted`), and a profile of the sample that would deny
one of them (:func:`narrower_profile`); :func:`narrowing` does all three."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from xps.msm import SUBOP_HYPERCALLS
from xps.policy import GuestType

DOM = "EA-domu-1"


async def counted(host: Any) -> set[tuple[int, int]]:
    """(hypercall, subop) of ``DOM``'s calls the host counted (waits: a liveness bound)."""
    client = await host.console()
    async with asyncio.timeout(30):
        while True:
            calls = (await client.get_call_counts(10, DOM))["calls"]
            if calls:
                return {(c["hypercall"], c["subop"]) for c in calls}
            await asyncio.sleep(0.05)


def narrower_profile(policy: Any, current: str, calls: set[tuple[int, int]]) -> str:
    """A PV profile other than ``current`` that lacks one of ``calls``."""
    for profile in policy.profiles:
        if profile.name == current or GuestType.PV not in profile.guest_family:
            continue
        subops = dict(profile.subops)
        if any(
            nr not in profile.hypercalls
            or (nr in SUBOP_HYPERCALLS and sub not in subops.get(nr, ()))
            for nr, sub in calls
        ):
            return str(profile.name)
    raise AssertionError("no PV profile of the sample lacks a call the domain makes")


@dataclass(frozen=True)
class Narrowing:
    """:data:`DOM` running, and the change that would deny a call it makes."""

    host: Any
    """The policy's host that runs DOM (``.name``)."""
    vm: Any
    """DOM in the policy (``.enclave``, ``.seclabel``)."""
    label: Any
    """DOM's SecLabel (``.id``): set its ``profile`` to :attr:`profile` to narrow it."""
    profile: str
    """A PV profile that lacks one of the calls DOM's host counted."""


async def narrowing(services: Any, hosts: list[Any]) -> Narrowing:
    """Starts DOM through XE (as the system), waits until its host counted its calls, and
    finds the profile that would deny one of them; nothing is changed yet."""
    from enterprise_store.services import Principal

    policy = await services.policy.current()
    vm = policy.vm_named(DOM)
    runs_on = policy.host_of(vm)
    assert runs_on is not None
    await services.compute.vm_action(Principal.system(), DOM, "start")
    calls = await counted(next(h for h in hosts if h.name == runs_on.name))
    label = policy.seclabel(vm.seclabel)
    return Narrowing(
        runs_on, vm, label, narrower_profile(policy, policy.profile(label.profile).name, calls)
    )
