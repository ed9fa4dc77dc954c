"""kill -9 of ``xenon xe serve`` in the middle of a propagation, with policy writes going on.

The real server runs as a subprocess on a state directory made by ``xenon xe init
--ca-dir`` (XE's client certificate from the XPS daemons' CA); three in-process XPS
daemons answer ``StagePolicy`` slowly, so the kill lands while slices are being staged.
After the restart: every committed version is there, the audit chain and SQLite's
integrity check hold, every host converges to the last version, the host-add task that
was running is failed as interrupted and the propagation task resumes and succeeds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

from enterprise_store.client import XeClient
from enterprise_store.policy import build_slice, sample_xe_policy
from enterprise_store.services import Principal, Services
from enterprise_store.store import Store
from enterprise_store.store._policy_repo import PolicyRepo
from tests._support.xe_cli import run_xenon, serve_xe
from xps.policy import parse_policy

PASSWORD = "kill-nine-admin-password"


async def _until(predicate: Any, limit_s: float = 90.0) -> None:
    async with asyncio.timeout(limit_s):
        while not await predicate():  # noqa: ASYNC110 (a subprocess's database and daemons)
            await asyncio.sleep(0.1)


async def test_kill_9_during_propagation_loses_nothing_and_every_host_converges(
    tmp_path: Path, xps_hosts: Any, xps_pki: Any
) -> None:
    hosts = await xps_hosts(3, stage_delay_s=1.0)
    (slow,) = await xps_hosts(1, delays={"GetHardware": 60.0})
    state = tmp_path / "xe"
    done = run_xenon(
        "xe", "init", "--state-dir", str(state), "--password-stdin",
        "--ca-dir", str(xps_pki.ca_dir), stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    db = f"sqlite:///{state / 'xe.db'}"
    writer = await Services.open(db)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
        await writer.policy.import_policy(Principal.system(), policy)
        proc, url = await serve_xe(state)
        procs.append(proc)
        ca = state / "pki" / "ca-cert.pem"
        async with XeClient(url, ca=ca, timeout=60) as xe:
            await xe.login("admin", PASSWORD)
            adding = await xe.compute.add_host("slow", "127.0.0.1", slow.port)
            following = await xe.compute.propagate()

            async def staging() -> bool:
                return any("Received request StagePolicy" in h.log_text() for h in hosts)

            await _until(staging)
            # Writes keep coming while slices are staged: each commits a version.
            for i in range(3):
                vm = (await writer.policy.current()).vm_named("EC-domu-4")
                size = 1024 + 64 * (i + 1)
                await writer.policy.update_vm(
                    Principal.system(), vm.id, {"memory_mb": size, "maxmem_mb": size}
                )
            committed = (await writer.policy.current()).version
            running = await xe.compute.task(adding.task_id)
            assert running.state == "running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

        async with await Store.open(db, migrate=False) as store:
            assert await store.integrity_check() == ["ok"]
            async with store.read() as conn:
                head = await PolicyRepo().head(conn)
            assert head.version == committed
        report = await writer.audit.verify(Principal.system())
        assert report.ok, report

        proc, url = await serve_xe(state)
        procs.append(proc)
        ids = {h.name: str(policy.host_named(h.name).id) for h in hosts}

        async def converged() -> bool:
            rows = await writer.compute.propagator.states()
            return all(
                rows.get(i) is not None and rows[i].observed_version == committed
                for i in ids.values()
            )

        await _until(converged)
        last = await writer.policy.current()
        for h in hosts:
            active = await h.host.get_policy()
            enforced = parse_policy(active["xml"].encode())
            expected = build_slice(last, policy.host_named(h.name).id, enforced).policy
            # Hosts whose slice content did not change were not written to again.
            assert replace(enforced, version=0) == replace(expected, version=0)
            row = (await writer.compute.propagator.states())[ids[h.name]]
            assert row.activated_hash == active["sha256"] and row.state == "converged"
        changed = await hosts[2].host.get_policy()  # xenon-3 runs EC-domu-4
        assert changed["policy"]["version"] == committed
        async with XeClient(url, ca=ca, timeout=60) as xe:
            await xe.login("admin", PASSWORD)
            cut = await xe.compute.wait_task(adding.task_id, 60)
            assert cut.state == "failed" and cut.error is not None
            assert (cut.error.code, cut.message) == ("interrupted", "interrupted by restart")
            resumed = await xe.compute.wait_task(following.task_id, 90)
            assert resumed.state == "succeeded", resumed
            assert resumed.result is not None and resumed.result["converged"] == 3
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
        await writer.close()
