"""XE consistency checker at enterprise scale: 10,000 hosts, 100,000 VMs.

``python -m benchmarks.xe_check --json`` builds one deterministic enterprise policy —
10,000 hosts, 1,000 enclaves each assigned to 10 hosts, one SecLabel per enclave,
100,000 VMs (a third placed by the default rule, 1% with extra xl options and network
restrictions), 100 no-coresidence sets — and measures:

- ``check_ms_10k_hosts_100k_vms``: ``checker.check`` of a fresh snapshot (cold indexes,
  as after a write), median of 5 (goal <= 1000); ``check_cpu_ms`` the same in process
  CPU time (the box is shared: wall time includes other engineers' load);
- ``check_change_ms_one_vm``: ``checker.check_change`` after one VM's memory changed,
  median of 5 — what a write pays; ``with_vm_ms`` is making that new snapshot;
- ``slice_ms_per_host``: ``policy.build_slice`` of one host (10 VMs, validated and
  serialized), median over 100 hosts once the placement index exists;
  ``placement_index_ms`` is building that index (first slice of a snapshot).

Progress goes to stderr; one JSON object is printed last and written to
``benchmarks/results/xe_check.json``. The lead merges ``check_ms_10k_hosts_100k_vms``
into ``benchmarks/xe.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from enterprise_store.checker import check, check_change
from enterprise_store.model import (
    Assignment,
    ConflictSet,
    CpuFacts,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    Host,
    HostSwitch,
    NetworkRestrictions,
    SecLabel,
    Vm,
)
from enterprise_store.policy import build_slice
from xps.policy import ConflictLevel, GuestType, predefined_profile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "xe_check.json"
_FLAGS = frozenset({"fpu", "sse2", "ssse3", "sse4_2", "aes", "avx", "avx2", "vmx"})


def _log(message: str) -> None:
    print(f"[xe-check-bench] {message}", file=sys.stderr, flush=True)


def build_enterprise(
    n_hosts: int = 10_000, n_vms: int = 100_000, n_enclaves: int = 1_000, span: int = 10
) -> EnterprisePolicy:
    """A deterministic consistent enterprise; enclave j spans hosts j*span .. j*span+span-1."""
    rng = random.Random(20261206)

    def uid() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    hosts = [
        Host(
            uid(),
            f"host-{i:05d}",
            f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
            9443,
            i,
            cpu=CpuFacts("GenuineIntel", 6, 63, 2, _FLAGS),
            shared_storage=("nfs",),
        )
        for i in range(n_hosts)
    ]
    enclaves = [Enclave(uid(), f"Enclave {j:04d}", (j % 256, 64, 128)) for j in range(n_enclaves)]
    hosts = [
        dataclasses.replace(h, switches=(HostSwitch("br0", enclaves[i // span % n_enclaves].id),))
        for i, h in enumerate(hosts)
    ]
    spans = [[hosts[(j * span + k) % n_hosts] for k in range(span)] for j in range(n_enclaves)]
    pv = predefined_profile("PV-Combined").id
    labels = [SecLabel(uid(), f"SL-{j:04d}", e.id, pv, 2000, 50) for j, e in enumerate(enclaves)]
    vms = []
    for i in range(n_vms):
        j = i % n_enclaves
        special = i % 100 == 0
        vms.append(
            Vm(
                uid(),
                f"vm-{i:06d}",
                enclaves[j].id,
                labels[j].id,
                GuestType.PV,
                kernel="/usr/local/lib/xen/boot/pv-grub-x86_64.gz",
                cmdline="(hd0,0)/boot/grub/menu.lst",
                memory_mb=1024,
                maxmem_mb=2048,
                vcpus=1,
                maxvcpus=2,
                host=None if i % 3 == 0 else spans[j][(i // n_enclaves) % span].id,
                network=NetworkRestrictions(switches=("br0",), max_vifs=1)
                if special
                else NetworkRestrictions(),
                extra=(("max_grant_frames", "32"),) if special else (),
            )
        )
    # Enclaves j and j+500 share no host (disjoint spans): the sets hold.
    conflicts = [
        ConflictSet(
            uid(),
            f"CS-{k:03d}",
            ConflictLevel.NO_CORESIDENCE,
            (enclaves[k].id, enclaves[k + 500].id),
        )
        for k in range(100)
    ]
    return EnterprisePolicy(
        version=1,
        hosts=tuple(hosts),
        enclaves=tuple(enclaves),
        assignments=tuple(
            Assignment(enclaves[j].id, h.id) for j in range(n_enclaves) for h in spans[j]
        ),
        seclabels=tuple(labels),
        vms=tuple(vms),
        conflicts=tuple(conflicts),
        dhcp_servers=(DhcpServer(uid(), "dhcp-0", enclaves[0].id, "eth3"),),
    )


def _timed(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, out


def check_ms_10k_hosts_100k_vms(runs: int = 5) -> dict[str, Any]:
    """Measures the checker on the 10k-host / 100k-VM enterprise; returns the JSON keys."""
    _log("building 10,000 hosts / 100,000 VMs")
    base = build_enterprise()
    walls, cpus = [], []
    for i in range(runs):
        fresh = base.with_version(base.version + i + 1)  # new snapshot: cold indexes
        wall, cpu, findings = _timed(lambda p=fresh: check(p))
        if findings:
            raise SystemExit(f"benchmark enterprise is not consistent: {findings[:3]}")
        walls.append(wall)
        cpus.append(cpu)
        _log(f"check run {i + 1}: {wall:.0f} ms wall, {cpu:.0f} ms CPU")
    changes, evolves = [], []
    vm = base.vms[len(base.vms) // 2]
    for i in range(runs):
        before = base.with_version(100 + i)
        edited = dataclasses.replace(vm, memory_mb=512 + i)
        wall, _, after = _timed(lambda b=before, v=edited: b.with_vm(v))
        evolves.append(wall)
        wall, _, findings = _timed(lambda b=before, a=after: check_change(b, a))
        assert findings == []
        changes.append(wall)
    _log(f"check_change one VM: median {statistics.median(changes):.1f} ms")
    snapshot = base.with_version(1000)
    index_ms, _, _ = _timed(lambda: snapshot.vms_on(snapshot.hosts[0].id))
    slices = []
    for host in snapshot.hosts[:100]:
        wall, _, built = _timed(lambda h=host: build_slice(snapshot, h.id, None))
        assert built.policy.domains
        slices.append(wall)
    return {
        "check_ms_10k_hosts_100k_vms": round(statistics.median(walls), 1),
        "check_cpu_ms": round(statistics.median(cpus), 1),
        "check_ms_runs": [round(w, 1) for w in walls],
        "check_change_ms_one_vm": round(statistics.median(changes), 1),
        "with_vm_ms": round(statistics.median(evolves), 1),
        "placement_index_ms": round(index_ms, 1),
        "slice_ms_per_host": round(statistics.median(slices), 2),
        "hosts": len(base.hosts),
        "vms": len(base.vms),
        "goal_check_ms": 1000,
    }


def main() -> int:
    """``python -m benchmarks.xe_check --json``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.xe_check")
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    parser.parse_args()
    result = check_ms_10k_hosts_100k_vms()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
