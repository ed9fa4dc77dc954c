"""Violations on the Enterprise view's world (``tests/_support/xe_console.py``): a VM made to
violate its profile on its sim host until XE stored some (:func:`misbehaving`), or fixed
violation rows written into XE's history as its ingestion stores them (:func:`recorded`)."""

from __future__ import annotations

import asyncio
import time

from enterprise_store.client import XeClient
from enterprise_store.store._history_schema import history_violations

from .xe_console import World

VM = "EB-domu-1"
"""The VM :func:`misbehaving` starts and makes violate."""


async def misbehaving(world: World) -> XeClient:
    """Starts VM through XE, makes it violate on its host, waits until XE stored some;
    returns root's logged-in client."""
    root = await world.admin()
    vm = await root.policy.get_vm(VM)
    host = await root.policy.get_host(vm.placed_on or "")
    await root.compute.vm_action(VM, "start")
    daemon = next(h for h in world.hosts if h.name == host.name)
    client = await daemon.console()
    await client.call("SetMisbehaviour", domain=VM, kind="out_of_profile", per_million=20_000)

    async def stored() -> bool:
        return (await root.history.summary(vm=VM)).total >= 5

    async with asyncio.timeout(60):
        while not await stored():  # noqa: ASYNC110 - XE's store is polled, no event to await
            await asyncio.sleep(0.2)
    await client.call("SetMisbehaviour", domain=VM, kind="out_of_profile", per_million=0)
    return root


async def recorded(world: World) -> None:
    """Violations as XE's ingestion stores them, of fixed counts 5 min ago (a snapshot
    needs the same numbers every run; the sim's are random): EB-domu-1 on xenon-1 three
    hypercalls, EC-domu-2 one, EA-domu-1 on xenon-2 two."""
    policy = await world.services.policy.current()
    host = {h.name: str(h.id) for h in policy.hosts}
    vm = {v.name: v for v in policy.vms}
    label = {str(s.id): s.name for s in policy.seclabels}
    ts_us = int((time.time() - 330) * 1_000_000)
    groups = [("xenon-1", "EB-domu-1", 36, 12), ("xenon-1", "EB-domu-1", 37, 7),
              ("xenon-1", "EB-domu-1", 7, 3), ("xenon-1", "EC-domu-2", 35, 25),
              ("xenon-2", "EA-domu-1", 22, 4), ("xenon-2", "EA-domu-1", 8, 1)]  # fmt: skip
    rows = []
    seq = 0
    for host_name, name, call, count in groups:
        v = vm[name]
        for _ in range(count):
            seq += 1
            sl = str(v.seclabel)
            rows.append((host[host_name], 999, seq, ts_us, 7, name, str(v.id), str(v.enclave),
                         sl, label[sl], "profile", call, 0, None, 1))  # fmt: skip
    columns = [c.name for c in history_violations.columns]
    await world.services.store.insert_many(history_violations, columns, rows)
