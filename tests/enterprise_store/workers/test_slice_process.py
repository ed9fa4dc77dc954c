"""Slices built in a process: the merged policy stays there, and a restarted process that
lost it costs a read of the host's policy, never a wrong slice.

A slice process sends back hashes and the signed document, not the merged policy (a
third of the slice's CPU went into pickling it out and back in); the worker holds a
reference that it sends with the host's next slice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Any

import pytest

from enterprise_store.policy import build_slice, sample_xe_policy
from enterprise_store.services import Principal
from enterprise_store.workers._propagation import PropagationConfig
from enterprise_store.workers._slices import AUTO_WAITING, MergedRef, SliceMaker
from xps.policy import Policy, parse_policy

CONFIG = PropagationConfig(interval_s=0.2, verify_every_s=3600, slice_processes=1)


async def _assert_slices(services: Any, hosts: list[Any]) -> None:
    """Each host enforces its slice of the head as built here from what it enforces (the
    version aside: a host whose content did not change keeps its earlier version)."""
    policy = await services.policy.current()
    for h in hosts:
        active = dict(await (await h.console()).get_policy("active"))
        enforced = parse_policy(active["xml"].encode())
        built = build_slice(policy, policy.host_named(h.name).id, enforced)
        assert dataclasses.replace(enforced, version=0) == dataclasses.replace(
            built.policy, version=0
        )


async def test_a_restarted_slice_process_reads_the_hosts_policy(
    xe_services: Any, xps_hosts: Any, caplog: pytest.LogCaptureFixture
) -> None:
    hosts = await xps_hosts(3)
    services = await xe_services(propagation=CONFIG)
    policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
    await services.policy.import_policy(Principal.system(), policy)
    propagator = services.compute.propagator
    assert len((await propagator.reconcile_once()).activated) == 3
    # The worker keeps references only: the merged policies live in the process.
    assert all(isinstance(m, MergedRef) for _, m in propagator._merged.values())

    async def change(rate: int) -> None:
        label = (await services.policy.current()).seclabels[0]
        await services.policy.update_seclabel(Principal.system(), label.id, {"max_rate": rate})

    # A new version with the process alive: its slices start from the kept policies.
    await change(999)
    report = await propagator.reconcile_once()
    assert report.activated and not report.failed
    await _assert_slices(services, hosts)

    # The process is replaced (as after a crash): it no longer holds them.
    maker = propagator._maker
    pool = maker._pools[0]
    assert pool is not None
    pool.shutdown(wait=True)
    maker._pools[0] = None
    maker._versions[0] = None
    await change(998)
    caplog.clear()
    with caplog.at_level(logging.INFO, "xenon.xe.propagation"):
        report = await propagator.reconcile_once()
    lost = [r for r in caplog.records if "lost its policy" in r.getMessage()]
    assert len(lost) == len(report.activated) + len(report.unchanged)
    assert report.activated and not report.failed, report.failed
    await _assert_slices(services, hosts)
    rows = await propagator.states()
    head = (await services.policy.current()).version
    assert all(r.observed_version == head and r.state == "converged" for r in rows.values())


async def test_auto_uses_the_thread_for_a_few_slices_and_processes_for_many(
    xe_identity: Any,
) -> None:
    policy = sample_xe_policy()
    host = policy.hosts[0]
    maker = SliceMaker(xe_identity, processes=None)
    try:
        assert maker.auto and maker.processes >= (1 if (os.cpu_count() or 1) > 1 else 0)
        few = await asyncio.gather(*(maker.make(policy, host, None, None, "h") for _ in range(3)))
        assert all(isinstance(m.merged, Policy) for m in few)
        assert all(p is None for p in maker._pools)  # nothing spawned for three
        if not maker.processes:
            return  # one core: the thread only
        many = await asyncio.gather(
            *(maker.make(policy, host, None, None, "h") for _ in range(AUTO_WAITING + 4))
        )
        remote = [m for m in many if isinstance(m.merged, MergedRef)]
        assert remote  # once AUTO_WAITING wait at once, they go to a process
        assert {m.slice_sha256 for m in many} == {few[0].slice_sha256}
        # A host's next slice goes where its merged policy is.
        again = await maker.make(policy, host, remote[0].merged, None, "h")
        assert isinstance(again.merged, MergedRef)
        assert again.slice_sha256 == few[0].slice_sha256
    finally:
        maker.close()
