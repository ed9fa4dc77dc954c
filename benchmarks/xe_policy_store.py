"""The XE policy in its store at enterprise scale: 10,000 hosts, 100,000 VMs (SQLite).

``python -m benchmarks.xe_policy_store --json`` imports the deterministic enterprise of
``benchmarks.xe_check`` through the Policy service (full check, driver-level batch
insert, one version) into a fresh SQLite file, then measures:

- ``import_s``: that import (check + canonical hash + 1.4 million rows);
- ``load_ms_10k_hosts_100k_vms``: a cold load of the whole snapshot from the tables (a
  new service on the same store: what a restart or another server's write costs), median
  of 3; ``load_cpu_ms`` the same in process CPU time (the box is shared);
- ``cached_read_ms``: ``current()`` when the snapshot is cached (one head-row read),
  median of 20;
- ``first_write_ms``: the first VM change after a load (it encodes every object once for
  the incremental hash);
- ``write_ms``: a VM change (lock the head, ``check_change``, hash, rows, version, audit
  record, commit), median of 7; ``write_cpu_ms`` the same in process CPU time;
- ``list_vms_page_ms``: one page of 100 VMs of one host, median of 20.

Progress goes to stderr; one JSON object is printed last and written to
``benchmarks/results/xe_policy_store.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.xe_check import build_enterprise
from enterprise_store.services import PasswordHasher, PolicyQuery, ServiceConfig, Services
from enterprise_store.services._policy import PolicyService

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "xe_policy_store.json"


def _log(message: str) -> None:
    print(f"[xe-policy-store-bench] {message}", file=sys.stderr, flush=True)


async def _timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


async def run(n_hosts: int, n_vms: int) -> dict[str, Any]:
    """Runs every measurement on a fresh database; returns the result."""
    policy = build_enterprise(n_hosts=n_hosts, n_vms=n_vms)
    with tempfile.TemporaryDirectory(prefix="xe-policy-bench-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'xe.db'}"
        services = await Services.open(db, config=ServiceConfig(hasher=PasswordHasher(n=2**12)))
        try:
            await services.users.bootstrap_admin("bench", "bench-password-123")
            session = await services.users.login("bench", "bench-password-123", source="bench")
            root = await services.users.authenticate(session.token, source="bench")
            _log(f"importing {n_hosts} hosts, {n_vms} VMs")
            import_ms, _ = await _timed(lambda: services.policy.import_policy(root, policy))

            loads = []
            for i in range(3):
                fresh = PolicyService(services.store, services.audit_log)
                loads.append(await _timed(fresh.current))
                _log(f"cold load {i + 1}: {loads[-1][0]:.0f} ms")
            cached = [
                (await _timed(services.policy.current))[0] for _ in range(20)
            ]  # the import left the snapshot cached
            current = await services.policy.current()
            vm = current.vms[len(current.vms) // 2]

            memory = vm.memory_mb

            async def change() -> None:
                nonlocal memory
                memory += 1
                await services.policy.update_vm(
                    root, str(vm.id), {"memory_mb": memory, "maxmem_mb": memory}
                )

            first_write, _ = await _timed(change)
            _log(f"first write: {first_write:.0f} ms")
            writes = [await _timed(change) for _ in range(7)]
            _log(f"writes: {', '.join(f'{w:.0f}' for w, _ in writes)} ms")
            host = current.host_of(vm)
            assert host is not None
            query = PolicyQuery(host=str(host.id), limit=100)
            pages = [
                (await _timed(lambda: services.policy.list_vms(root, query)))[0] for _ in range(20)
            ]
            integrity = await services.store.integrity_check()
        finally:
            await services.close()
    return {
        "hosts": n_hosts,
        "vms": n_vms,
        "backend": "sqlite",
        "import_s": round(import_ms / 1000, 2),
        "load_ms_10k_hosts_100k_vms": round(statistics.median(w for w, _ in loads)),
        "load_cpu_ms": round(statistics.median(c for _, c in loads)),
        "cached_read_ms": round(statistics.median(cached), 2),
        "first_write_ms": round(first_write),
        "write_ms": round(statistics.median(w for w, _ in writes)),
        "write_cpu_ms": round(statistics.median(c for _, c in writes)),
        "list_vms_page_ms": round(statistics.median(pages), 2),
        "integrity_check": integrity,
    }


def main() -> int:
    """``python -m benchmarks.xe_policy_store --json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--vms", type=int, default=100_000)
    args = parser.parse_args()
    result = asyncio.run(run(args.hosts, args.vms))
    if args.hosts == 10_000 and args.vms == 100_000:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
