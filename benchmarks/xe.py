"""Xenon Enterprise: every XE benchmark key, each against its goal, in one run.

``python -m benchmarks.xe --json`` runs every part; ``--only PART`` (repeatable) runs some.
Progress goes to stderr; one JSON object with every key is printed last and written to
``benchmarks/results/xe.json`` (a run of some parts updates their keys in that file).

``ingest``
    ``ingest_rows_per_s``: 100,000 violation records of 10 hosts, as the hosts' XPS send
    them (``violations`` events of 1,000 records, each the dict of ``GetViolations``),
    through the real :class:`~enterprise_store.workers.Ingester` (validate and attribute
    every record, queue, one writer storing batches of 1,000 with the hosts' cursors in one
    unit: driver-level ``executemany``, ``BEGIN IMMEDIATE``, commit) into
    ``history_violations`` of a migrated SQLite store (WAL, synchronous=FULL), timed from
    the first event to the last commit. ``raw_executemany_rows_per_s``: the same rows as
    tuples with plain aiosqlite ``executemany`` + commit per 1,000 into the same table of a
    second migrated file. Medians of 3 alternating rounds; goal ``ingest_vs_raw >= 0.5``.
    The source is in memory: this is the store path, not the network.
``check``
    ``check_ms_10k_hosts_100k_vms``: ``checker.check`` of a fresh snapshot (cold indexes)
    of a deterministic enterprise (10,000 hosts, 1,000 enclaves of 10 hosts, a SecLabel per
    enclave, 100,000 VMs, 100 no-coresidence sets), median of 5 (goal <= 1000), with
    ``check_cpu_ms``, ``check_change_ms_one_vm`` (what a write pays), ``with_vm_ms``,
    ``placement_index_ms`` and ``slice_ms_per_host``.
``policy-store``
    That enterprise imported through the Policy service into SQLite: ``import_s``, a cold
    ``load_ms_10k_hosts_100k_vms`` (median of 3), ``cached_read_ms``, ``first_write_ms``,
    ``write_ms`` (a VM change: lock, ``check_change``, hash, rows, version, audit, commit),
    ``list_vms_page_ms`` and ``integrity_check``. Information, no goal.
``propagate``
    ``propagate_s_1000_hosts``: from the commit of a change that alters every host's slice
    (a SecLabel of the enclave every host carries) until every host confirmed the new
    version: XE's real propagation worker, each host's slice built with its own parts,
    signed with XE's key, staged and activated. Goal <= 3 s. The hosts are a lightweight
    in-process XPS-protocol simulator sharing the benchmark's event loop: 1,000 TLS 1.3
    servers on 127.0.0.1 (client certificates required, ``xps.protocol`` framing) answering
    ``Ping``, ``Subscribe``, ``GetDomainRunStates``, ``GetPolicy``, ``StagePolicy``,
    ``ActivatePolicy``. What a real XPS does on its own CPU (verify the signature, validate,
    commit to its MSM) is not simulated. A warm-up version goes first (connections made,
    each host's policy known); the measured version is the second. Slices are built as
    ``xenon xe serve`` builds them (``--slice-processes`` overrides): in processes, one a
    core, at 1,000 hosts. ``propagate_cpu_s`` (this process) and
    ``propagate_slice_processes_cpu_s`` are the CPU the measured version cost: the
    load-independent view on a shared box.
``api``
    ``api_p50_ms``: ``GET /api/v1/hosts`` (the first page, 100 of 1,000 hosts, with their
    enclaves and propagation state; bearer token checked) from the real ``xenon xe serve``
    over HTTPS; ``echo_p50_ms``: a bare ASGI app answering a tiny JSON body on the same
    stack (uvicorn, the same TLS 1.3 context). Each server in its own process; one
    keep-alive httpx client per target, bursts of 25 requests taking turns so that both see
    the same load (the box is shared); goal ``api_vs_echo <= 2``. ``*_server_cpu_ms_per_req``
    (each server's CPU time per request, from /proc) is the load-independent view;
    ``api_users_p50_ms`` (a page of 100 of 1,000 users) and ``api_whoami_p50_ms`` are
    reported beside it. The served state has no XE client certificate, so no propagation
    or ingestion worker runs beside the requests (the hosts are not real).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import hashlib
import json
import os
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._proc import cpu_s

if TYPE_CHECKING:
    from enterprise_store.model import EnterprisePolicy

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "xe.json"

INGEST_ROWS = 100_000
INGEST_HOSTS = 10
INGEST_BATCH = 1_000
ROUNDS = 3

HOSTS = 1000
ENCLAVES = 10
VMS_PER_HOST = 3

USERS = 1_000
REQUESTS = 600
WARMUP = 50
BURST = 25
PASSWORD = "benchmark-admin-password"
_FLAGS = frozenset({"fpu", "sse2", "ssse3", "sse4_2", "aes", "avx", "avx2", "vmx"})


def progress(message: str) -> None:
    """Progress to stderr (stdout carries only the final JSON)."""
    print(f"[xe-bench] {message}", file=sys.stderr, flush=True)


# -- ingest: the history Ingester vs raw executemany ----------------------------------------


def _events(n: int) -> tuple[list[str], list[tuple[str, list[dict[str, Any]]]]]:
    hosts = [str(uuid.UUID(int=i + 1)) for i in range(INGEST_HOSTS)]
    labels = [str(uuid.UUID(int=1000 + i)) for i in range(40)]
    base = 1_750_000_000_000_000_000
    seqs = dict.fromkeys(hosts, 0)
    events: list[tuple[str, list[dict[str, Any]]]] = []
    for start in range(0, n, INGEST_BATCH):
        host = hosts[(start // INGEST_BATCH) % INGEST_HOSTS]
        records = []
        for i in range(start, min(start + INGEST_BATCH, n)):
            seqs[host] += 1
            label = labels[i % 40]
            records.append(
                {
                    "seq": seqs[host], "ts": "2025-06-15T12:00:00Z", "ts_ns": base + i * 137_000,
                    "domid": 1 + i % 50, "domain": f"E{i % 40}-domu-{i % 7}", "seclabel": label,
                    "seclabel_name": f"E{i % 40}-seclabel", "profile": "PV-Combined",
                    "kind": ("profile", "rate", "channel")[i % 3], "hypercall": i % 40,
                    "hypercall_name": "x", "subop": i % 256,
                    "peer": 3 if i % 3 == 2 else None, "count": seqs[host],
                }
            )  # fmt: skip
        events.append((host, records))
    return hosts, events


class _Source:
    """The hosts' events in memory: one ``connected`` per host, then the batches."""

    def __init__(self, hosts: list[str], events: list[tuple[str, list[dict[str, Any]]]]) -> None:
        self._hosts = hosts
        self._events = events
        self.started = 0.0

    async def events(self) -> AsyncIterator[Any]:
        from enterprise_store.workers import HostEvent

        self.started = time.perf_counter()
        for host in self._hosts:
            yield HostEvent(host, "connected")
        for host, records in self._events:
            yield HostEvent(
                host, "violations", {"violations": records, "last_seq": records[-1]["seq"]}
            )

    async def get_violations(self, host_id: str, since_seq: int, limit: int) -> Mapping[str, Any]:
        return {"violations": [], "last_seq": 0, "dropped": 0}  # a fresh host: nothing yet


async def _migrated(path: Path) -> None:
    from enterprise_store.store import Store

    async with await Store.open(f"sqlite:///{path}"):
        pass


async def _ingest_once(path: Path, hosts: list[str], events: list[Any]) -> float:
    from enterprise_store.store import Store
    from enterprise_store.workers import IngestConfig, Ingester

    await _migrated(path)
    async with await Store.open(f"sqlite:///{path}") as store:
        source = _Source(hosts, events)
        ingester = Ingester(store, source, config=IngestConfig(prune_every_s=3600))
        await ingester.run()  # returns once the source ended and the last batch committed
        elapsed = time.perf_counter() - source.started
        stored = ingester.snapshot().violations
    if stored != INGEST_ROWS:
        raise RuntimeError(f"ingested {stored} of {INGEST_ROWS} rows")
    return INGEST_ROWS / elapsed


def _tuples(events: list[Any]) -> list[tuple[Any, ...]]:
    rows = []
    for host, records in events:
        for r in records:
            rows.append(
                (host, 1, r["seq"], r["ts_ns"] // 1000, r["domid"], r["domain"], None, None,
                 r["seclabel"], r["seclabel_name"], r["kind"], r["hypercall"], r["subop"],
                 r["peer"], r["count"])
            )  # fmt: skip
    return rows


async def _raw_once(path: Path, rows: list[tuple[Any, ...]]) -> float:
    import aiosqlite

    from enterprise_store.store._history_repo import VIOLATION_COLUMNS

    await _migrated(path)
    async with aiosqlite.connect(path) as db:
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"):
            await db.execute(pragma)
        marks = ", ".join("?" * len(VIOLATION_COLUMNS))
        columns = ", ".join(f'"{c}"' for c in VIOLATION_COLUMNS)
        sql = f"INSERT INTO history_violations ({columns}) VALUES ({marks})"
        start = time.perf_counter()
        for i in range(0, len(rows), INGEST_BATCH):
            await db.executemany(sql, rows[i : i + INGEST_BATCH])
            await db.commit()
        elapsed = time.perf_counter() - start
    return len(rows) / elapsed


async def ingest_rows_per_s() -> dict[str, Any]:
    """``ingest_rows_per_s`` and ``raw_executemany_rows_per_s``, same rows, same run."""
    hosts, events = _events(INGEST_ROWS)
    rows = _tuples(events)
    ingest: list[float] = []
    raw: list[float] = []
    with tempfile.TemporaryDirectory(prefix="xe-bench-ingest-") as tmp:
        for r in range(ROUNDS):
            order = ["raw", "ingest"] if r % 2 == 0 else ["ingest", "raw"]
            for name in order:
                path = Path(tmp) / f"{name}-{r}.db"
                if name == "raw":
                    rate = await _raw_once(path, rows)
                    raw.append(rate)
                else:
                    rate = await _ingest_once(path, hosts, events)
                    ingest.append(rate)
                progress(f"round {r + 1}: {name} {rate:,.0f} rows/s")
    result: dict[str, Any] = {
        "ingest_rows_per_s": round(statistics.median(ingest)),
        "raw_executemany_rows_per_s": round(statistics.median(raw)),
    }
    result["ingest_vs_raw"] = round(
        result["ingest_rows_per_s"] / result["raw_executemany_rows_per_s"], 2
    )
    return result


# -- check: the consistency checker at 10,000 hosts / 100,000 VMs ----------------------


def build_enterprise(
    n_hosts: int = 10_000, n_vms: int = 100_000, n_enclaves: int = 1_000, span: int = 10
) -> EnterprisePolicy:
    """A deterministic consistent enterprise; enclave j spans hosts j*span .. j*span+span-1."""
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
    from xps.policy import ConflictLevel, GuestType, predefined_profile

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


def _timed_sync(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, out


async def check_ms_10k_hosts_100k_vms(runs: int = 5) -> dict[str, Any]:
    """Measures the checker on the 10k-host / 100k-VM enterprise; returns the JSON keys."""
    from enterprise_store.checker import check, check_change
    from enterprise_store.policy import build_slice

    progress("building 10,000 hosts / 100,000 VMs")
    base = build_enterprise()
    walls, cpus = [], []
    for i in range(runs):
        fresh = base.with_version(base.version + i + 1)  # new snapshot: cold indexes
        wall, cpu, findings = _timed_sync(lambda p=fresh: check(p))
        if findings:
            raise SystemExit(f"benchmark enterprise is not consistent: {findings[:3]}")
        walls.append(wall)
        cpus.append(cpu)
        progress(f"check run {i + 1}: {wall:.0f} ms wall, {cpu:.0f} ms CPU")
    changes, evolves = [], []
    vm = base.vms[len(base.vms) // 2]
    for i in range(runs):
        before = base.with_version(100 + i)
        edited = dataclasses.replace(vm, memory_mb=512 + i)
        wall, _, after = _timed_sync(lambda b=before, v=edited: b.with_vm(v))
        evolves.append(wall)
        wall, _, findings = _timed_sync(lambda b=before, a=after: check_change(b, a))
        assert findings == []
        changes.append(wall)
    progress(f"check_change one VM: median {statistics.median(changes):.1f} ms")
    snapshot = base.with_version(1000)
    index_ms, _, _ = _timed_sync(lambda: snapshot.vms_on(snapshot.hosts[0].id))
    slices = []
    for host in snapshot.hosts[:100]:
        wall, _, built = _timed_sync(lambda h=host: build_slice(snapshot, h.id, None))
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
    }


# -- policy-store: that enterprise in SQLite ------------------------------------------------


async def _timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


async def policy_store(n_hosts: int = 10_000, n_vms: int = 100_000) -> dict[str, Any]:
    """The policy store at enterprise scale (see the module docstring); the JSON keys."""
    from enterprise_store.services import PasswordHasher, PolicyQuery, ServiceConfig, Services
    from enterprise_store.services._policy import PolicyService

    policy = build_enterprise(n_hosts=n_hosts, n_vms=n_vms)
    with tempfile.TemporaryDirectory(prefix="xe-policy-bench-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'xe.db'}"
        services = await Services.open(db, config=ServiceConfig(hasher=PasswordHasher(n=2**12)))
        try:
            await services.users.bootstrap_admin("bench", "bench-password-123")
            session = await services.users.login("bench", "bench-password-123", source="bench")
            root = await services.users.authenticate(session.token, source="bench")
            progress(f"importing {n_hosts} hosts, {n_vms} VMs")
            import_ms, _ = await _timed(lambda: services.policy.import_policy(root, policy))

            loads = []
            for i in range(3):
                fresh = PolicyService(services.store, services.audit_log)
                loads.append(await _timed(fresh.current))
                progress(f"cold load {i + 1}: {loads[-1][0]:.0f} ms")
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
            progress(f"first write: {first_write:.0f} ms")
            writes = [await _timed(change) for _ in range(7)]
            progress(f"writes: {', '.join(f'{w:.0f}' for w, _ in writes)} ms")
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
        "policy_store_backend": "sqlite",
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


# -- propagate: a version to 1,000 simulated hosts ------------------------------------------


@dataclasses.dataclass
class SimHost:
    """One simulated host's XPS state."""

    name: str
    policy_xml: bytes
    policy_dict: dict[str, Any] | None
    sha256: str
    generation: int = 1
    staged: bytes | None = None
    subscribers: list[asyncio.StreamWriter] = dataclasses.field(default_factory=list)
    activations: int = 0


def _unsigned(document: bytes) -> bytes:
    """The document without its enveloped signature (the sim's stand-in for verifying)."""
    start = document.find(b"<ds:Signature ")
    if start < 0:
        start = document.find(b"<ds:Signature>")
    end = document.rfind(b"</ds:Signature>")
    if start < 0 or end < 0:
        return document
    return document[:start] + document[end + len(b"</ds:Signature>") :]


class SimServer:
    """``asyncio.start_server`` + TLS + XPS framing for one :class:`SimHost`."""

    def __init__(self, host: SimHost, ctx: ssl.SSLContext) -> None:
        self.host = host
        self.ctx = ctx
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ctx)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()

    def _answer(self, method: str, params: dict[str, Any], writer: asyncio.StreamWriter) -> Any:
        from xps.policy import parse_policy, policy_to_dict

        h = self.host
        if method == "Ping":
            return {"pong": True}
        if method == "Subscribe":
            h.subscribers.append(writer)
            return {"subscribed": params.get("events") or ["domain", "policy"]}
        if method == "GetDomainRunStates":
            return {"domains": [], "xl_list": ""}
        if method == "GetPolicy":
            if h.policy_dict is None:
                h.policy_dict = policy_to_dict(parse_policy(h.policy_xml))
            return {
                "which": "active",
                "generation": h.generation,
                "sha256": h.sha256,
                "xml": h.policy_xml.decode(),
                "policy": h.policy_dict,
            }
        if method == "StagePolicy":
            h.staged = _unsigned(str(params["xml"]).encode())
            return {"staged": True, "findings": [], "sha256": hashlib.sha256(h.staged).hexdigest()}
        if method == "ActivatePolicy":
            if h.staged is None:
                raise LookupError("there is no staged policy to activate")
            h.policy_xml, h.staged, h.policy_dict = h.staged, None, None
            h.sha256 = hashlib.sha256(h.policy_xml).hexdigest()
            h.generation += 1
            h.activations += 1
            return {"generation": h.generation, "sha256": h.sha256}
        raise KeyError(method)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from xps.protocol import (
            FrameDecoder,
            encode_error,
            encode_event,
            encode_response,
            parse_request,
        )

        decoder = FrameDecoder(8 * 1024 * 1024)
        try:
            while data := await reader.read(256 * 1024):
                for payload in decoder.feed(data):
                    req = parse_request(payload)
                    try:
                        result = self._answer(req.method, req.params, writer)
                    except (KeyError, LookupError) as exc:
                        writer.write(encode_error(req.id, "state", str(exc)))
                        continue
                    writer.write(encode_response(req.id, result))
                    if req.method == "ActivatePolicy":
                        event = encode_event("policy", result)
                        for sub in self.host.subscribers:
                            sub.write(event)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            if writer in self.host.subscribers:
                self.host.subscribers.remove(writer)
            writer.close()


# -- the enterprise ------------------------------------------------------------------------


def _enterprise(addresses: list[tuple[str, int]]) -> Any:
    """1,000 hosts; enclave E0 on every host and two more per host; one SecLabel per
    enclave; three VMs per host."""
    import uuid

    from enterprise_store.model import Assignment, Enclave, EnterprisePolicy, Host, SecLabel, Vm
    from xps.policy import GuestType, predefined_profile, predefined_profiles

    ns = uuid.UUID("6f1d3c2a-0000-4000-8000-00000000be9c")
    hosts = tuple(
        Host(uuid.uuid5(ns, f"host-{i}"), f"sim-{i:04d}", a, p, order=i + 1)
        for i, (a, p) in enumerate(addresses)
    )
    enclaves = tuple(Enclave(uuid.uuid5(ns, f"enclave-{e}"), f"E{e}") for e in range(ENCLAVES))
    profile = predefined_profile("PV-Combined").id
    labels = tuple(
        SecLabel(uuid.uuid5(ns, f"label-{e.name}"), f"{e.name}-label", e.id, profile)
        for e in enclaves
    )
    assignments = []
    vms = []
    for i, h in enumerate(hosts):
        carried = [0, 1 + i % (ENCLAVES - 1), 1 + (i + 3) % (ENCLAVES - 1)]
        for e in sorted(set(carried)):
            assignments.append(Assignment(enclaves[e].id, h.id))
        for k in range(VMS_PER_HOST):
            e = carried[k % len(carried)]
            vms.append(
                Vm(
                    uuid.uuid5(ns, f"vm-{i}-{k}"),
                    f"vm-{i:04d}-{k}",
                    enclaves[e].id,
                    labels[e].id,
                    GuestType.PV,
                    kernel="/boot/vmlinuz",
                    memory_mb=512,
                    maxmem_mb=512,
                    host=h.id,
                )
            )
    return EnterprisePolicy(
        version=1,
        hosts=hosts,
        enclaves=enclaves,
        assignments=tuple(assignments),
        profiles=predefined_profiles(),
        seclabels=labels,
        vms=tuple(vms),
    )


def _local(policy: Any, host: Any) -> Any:
    """A host's own set-up (§4.3) on top of its XE slice: a switch and a storage location
    per enclave it carries."""
    import uuid

    from enterprise_store.policy import slice_policy
    from xps.policy import NetworkSwitch, StorageLocation, StorageMode, SwitchMode

    base = slice_policy(policy, host.id)
    switches = tuple(
        NetworkSwitch(uuid.uuid5(host.id, f"sw-{t.name}"), f"{t.name}br", SwitchMode.INTERNAL, t.id)
        for t in base.tags
    )
    storage = tuple(
        StorageLocation(
            uuid.uuid5(host.id, f"st-{t.name}"),
            f"{t.name}storage",
            StorageMode.FILE,
            t.id,
            base_path=f"/var/lib/xenon/{t.name}/",
        )
        for t in base.tags
    )
    return dataclasses.replace(base, version=0, switches=switches, storage=storage)


# -- the measurement -----------------------------------------------------------------------


async def propagate_s_1000_hosts(
    hosts: int = HOSTS, slice_processes: int | None = None
) -> dict[str, Any]:
    """The measurement (see the module docstring)."""
    from enterprise_store.services import Principal, Services
    from enterprise_store.services._compute_types import ComputeConfig
    from enterprise_store.workers._hosts import XeIdentity
    from enterprise_store.workers._propagation import PropagationConfig
    from xps.pki import TlsMaterial, init_ca, issue, server_context
    from xps.policy import serialize_policy

    system = Principal.system()
    with tempfile.TemporaryDirectory(prefix="xe-propagate-") as tmp:
        root = Path(tmp)
        init_ca(root / "ca", common_name="Propagation benchmark CA")
        server = issue(root / "ca", "sim-host", "server", sans=["127.0.0.1"])
        client = issue(root / "ca", "xe-client", "client")
        ctx = server_context(TlsMaterial(ca=server.ca_cert, cert=server.cert, key=server.key))
        progress(f"starting {hosts} simulated hosts")
        placeholder = [("127.0.0.1", 1)] * hosts
        draft = _enterprise(placeholder)
        sims = []
        for h in draft.hosts:
            local = _local(draft, h)
            xml = serialize_policy(local)
            sim = SimServer(SimHost(h.name, xml, None, hashlib.sha256(xml).hexdigest()), ctx)
            await sim.start()
            sims.append(sim)
        policy = _enterprise([("127.0.0.1", s.port) for s in sims])
        identity = XeIdentity(ca=server.ca_cert, cert=client.cert, key=client.key)
        config = ComputeConfig(
            identity=identity,
            node_id="bench",
            propagation=PropagationConfig(
                concurrency=256, verify_every_s=3600.0, slice_processes=slice_processes
            ),
            host_timeout_s=60.0,
        )
        services = await Services.open(f"sqlite:///{root / 'xe.db'}", compute=config)
        try:
            propagator = services.compute.propagator
            maker = propagator._maker
            await services.policy.import_policy(system, policy)
            progress("warm-up: version 1 to every host (connects, reads each host's policy)")
            t0 = time.perf_counter()
            await _until_converged(propagator, services)
            warm_s = time.perf_counter() - t0
            # Connecting queued a verification of every host; let it pass first.
            await _until_quiet(propagator)
            label = (await services.policy.current()).seclabel_named("E0-label")
            progress("measuring: a change of the SecLabel every host carries")
            gc.collect()
            cpu0 = time.process_time(), _slice_cpu_s(maker)
            t0 = time.perf_counter()
            written = await services.policy.update_seclabel(
                system, label.id, {"max_rate": label.max_rate + 1}
            )
            committed = time.perf_counter()
            passes = await _until_converged(propagator, services)
            elapsed = time.perf_counter() - t0
            cpu_main = time.process_time() - cpu0[0]
            cpu_slices = _slice_cpu_s(maker) - cpu0[1]
            rows = await propagator.states()
            assert all(r.observed_version == written.version for r in rows.values())
            activations = sum(s.host.activations for s in sims)
        finally:
            await services.close()
            for s in sims:
                await s.close()
    return {
        "propagate_s_1000_hosts": round(elapsed, 3),
        "propagate_commit_s": round(committed - t0, 3),
        "propagate_passes": passes,
        "propagate_hosts": hosts,
        "propagate_activations": activations,
        "propagate_warmup_s": round(warm_s, 3),
        "propagate_cpu_s": round(cpu_main, 3),
        "propagate_slice_processes_cpu_s": round(cpu_slices, 3),
        "propagate_load_average_1m": round(os.getloadavg()[0], 2),
        "propagate_slice_processes": (
            f"auto ({maker.processes})" if maker.auto else maker.processes
        ),
    }


def _slice_cpu_s(maker: Any) -> float:
    """CPU seconds of the slice processes running now (0 in thread mode)."""
    total = 0.0
    for pool in maker._pools:
        for pid in getattr(pool, "_processes", None) or {}:
            with contextlib.suppress(OSError):  # the process ended meanwhile
                total += cpu_s(pid)
    return total


async def _until_converged(propagator: Any, services: Any) -> int:
    head = (await services.policy.current()).version
    passes = 0
    while True:
        passes += 1
        await propagator.reconcile_once()
        rows = await propagator.states()
        if rows and all(r.observed_version == head for r in rows.values()):
            return passes
        if passes > 50:
            failed = {k: r.last_error for k, r in rows.items() if r.last_error}
            raise RuntimeError(f"no convergence after 50 passes: {list(failed.items())[:3]}")


async def _until_quiet(propagator: Any) -> None:
    for _ in range(20):
        report = await propagator.reconcile_once()
        if not report.claimed:
            return


# -- api: the host list vs a bare echo -------------------------------------------------------


def _echo_main(state: Path) -> None:
    """(Subprocess) a bare ASGI echo on uvicorn with XE's TLS context."""
    from enterprise_store.api import bind, server_tls_context, url_for

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"echo":true}'})

    import uvicorn

    sock = bind("127.0.0.1", 0)
    tls = server_tls_context(
        state / "pki" / "xe-server-cert.pem", state / "pki" / "xe-server-key.pem"
    )
    config = uvicorn.Config(
        app,
        ssl_context_factory=lambda _c, _d: tls,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    server = uvicorn.Server(config)
    (state / "echo-url").write_text(url_for(sock))
    server.run(sockets=[sock])


def _start(cmd: list[str], ready: Path) -> subprocess.Popen[bytes]:
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {' '.join(cmd)}")
        time.sleep(0.05)
    time.sleep(0.3)  # the file is written as the socket starts accepting
    return proc


async def _interleaved_p50_ms(
    targets: dict[str, tuple[str, str, str | None]],
    ca: Path,
    pids: dict[str, int] | None = None,
) -> dict[str, float]:
    """p50 latency of each ``name: (base URL, path, token)``: bursts of ``BURST`` sequential
    requests per target, targets taking turns (one keep-alive client each), so that every
    target sees the same load on a shared box while its connection and server stay warm."""
    import httpx

    from enterprise_store.client import tls_context

    clients = {
        name: httpx.AsyncClient(
            base_url=url,
            verify=tls_context(ca),
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
        for name, (url, _path, token) in targets.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in targets}
    cpu: dict[str, float] = dict.fromkeys(targets, 0.0)
    pids = pids or {}
    try:
        for burst in range((WARMUP + REQUESTS) // BURST):
            for name, (_url, path, _token) in targets.items():
                pid = pids.get(name)
                before = cpu_s(pid) if pid and burst * BURST >= WARMUP else None
                for i in range(BURST):
                    start = time.perf_counter()
                    response = await clients[name].get(path)
                    elapsed = time.perf_counter() - start
                    response.raise_for_status()
                    if burst * BURST + i >= WARMUP:
                        samples[name].append(elapsed * 1000)
                if pid and before is not None:
                    cpu[name] += cpu_s(pid) - before
    finally:
        for client in clients.values():
            await client.aclose()
    out = {name: statistics.median(values) for name, values in samples.items()}
    for name in pids:
        out[name.replace("p50_ms", "server_cpu_ms_per_req")] = cpu[name] * 1000 / REQUESTS
    return out


async def _prepare_state(state: Path) -> None:
    from enterprise_store.services import NewUser, Principal, Role, Services

    init = subprocess.run(  # noqa: ASYNC221 - set-up before anything is measured
        [
            sys.executable,
            "-m",
            "enterprise_store.cli",
            "init",
            "--state-dir",
            str(state),
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if init.returncode != 0:
        raise RuntimeError(init.stderr)
    services = await Services.open(f"sqlite:///{state / 'xe.db'}")
    try:
        system = Principal.system()
        for i in range(USERS - 1):
            role = (Role.AUDITOR, Role.OPERATOR, Role.ADMIN)[i % 3]
            await services.users.create_user(system, NewUser(name=f"user{i:04d}", role=role))
        # 1,000 hosts (addresses nobody listens on), 10 enclaves, 3,000 VMs.
        written = await services.policy.import_policy(
            system, _enterprise([("127.0.0.1", 20000 + i) for i in range(HOSTS)])
        )
        # Each host converged at that version, as a propagation pass leaves it: every host
        # of the page carries its propagation state.
        from enterprise_store.store._compute_schema import propagation

        now_us = int(time.time() * 1_000_000)
        sha = "ab" * 32
        rows = [
            (str(h.id), "converged", written.version, sha, now_us, written.version, sha, sha,
             sha, 0, None, now_us, 0, False, None, None)
            for h in (await services.policy.current()).hosts
        ]  # fmt: skip
        await services.store.insert_many(propagation, [c.name for c in propagation.columns], rows)
    finally:
        await services.close()
    # No XE client identity: serve runs no propagation or ingestion towards the fake hosts.
    (state / "pki" / "xe-client-key.pem").unlink()


async def api_p50_ms() -> dict[str, Any]:
    """``api_p50_ms`` (host list page) and ``echo_p50_ms`` on the same server stack."""
    from enterprise_store.client import XeClient

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="xe-bench-api-") as tmp:
        state = Path(tmp) / "xe"
        await _prepare_state(state)
        ca = state / "pki" / "ca-cert.pem"
        progress(f"{USERS} users and {HOSTS} hosts stored")

        echo = _start(
            [sys.executable, "-m", "benchmarks.xe", "--echo", str(state)], state / "echo-url"
        )
        serve = None
        try:
            serve = _start(
                [
                    sys.executable,
                    "-m",
                    "enterprise_store.cli",
                    "serve",
                    "--state-dir",
                    str(state),
                    "--listen",
                    "127.0.0.1:0",
                    "--quiet",
                    "--no-access-log",
                ],
                state / "xe-server.json",
            )
            echo_url = (state / "echo-url").read_text()
            url = json.loads((state / "xe-server.json").read_text())["url"]
            async with XeClient(url, ca=ca) as xe:
                token = (await xe.login("admin", PASSWORD)).token
            p50 = await _interleaved_p50_ms(
                {
                    "echo_p50_ms": (echo_url, "/echo", None),
                    "api_p50_ms": (url, "/api/v1/hosts?limit=100", token),
                    "api_users_p50_ms": (url, "/api/v1/users?limit=100", token),
                    "api_whoami_p50_ms": (url, "/api/v1/auth/whoami", token),
                },
                ca,
                pids={
                    "echo_p50_ms": echo.pid,
                    "api_p50_ms": serve.pid,
                    "api_users_p50_ms": serve.pid,
                    "api_whoami_p50_ms": serve.pid,
                },
            )
            result.update({k: round(v, 3) for k, v in p50.items()})
            progress(
                f"echo p50 {result['echo_p50_ms']} ms, api p50 {result['api_p50_ms']} ms, "
                f"users {result['api_users_p50_ms']} ms, whoami {result['api_whoami_p50_ms']} ms"
            )
        finally:
            for proc in (echo, serve):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=30)
    result["api_vs_echo"] = round(result["api_p50_ms"] / result["echo_p50_ms"], 2)
    result["api_vs_echo_server_cpu"] = round(
        result["api_server_cpu_ms_per_req"] / max(result["echo_server_cpu_ms_per_req"], 1e-3), 2
    )
    return result


PARTS: dict[str, Callable[[], Coroutine[Any, Any, dict[str, Any]]]] = {
    "ingest": ingest_rows_per_s,
    "check": check_ms_10k_hosts_100k_vms,
    "policy-store": policy_store,
    "propagate": propagate_s_1000_hosts,
    "api": api_p50_ms,
}
GOALS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "ingest_rows_per_s>=0.5*raw": ("ingest_vs_raw", lambda r: r["ingest_vs_raw"] >= 0.5),
    "check_ms_10k_hosts_100k_vms<=1000": (
        "check_ms_10k_hosts_100k_vms",
        lambda r: r["check_ms_10k_hosts_100k_vms"] <= 1000,
    ),
    "propagate_s_1000_hosts<=3": (
        "propagate_s_1000_hosts",
        lambda r: r["propagate_s_1000_hosts"] <= 3.0,
    ),
    "api_p50_ms<=2*echo": ("api_vs_echo", lambda r: r["api_vs_echo"] <= 2.0),
}


def main() -> int:
    """``python -m benchmarks.xe --json [--only PART ...]``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    parser.add_argument(
        "--only", action="append", choices=sorted(PARTS), help="run this part (repeat)"
    )
    parser.add_argument(
        "--slice-processes",
        type=int,
        help="propagate: processes building and signing slices (0: one thread; default: "
        "as xe serve, the thread for a few hosts and a process a core for many)",
    )
    parser.add_argument("--echo", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        _echo_main(args.echo)
        return 0
    parts = args.only or list(PARTS)
    result: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    for part in parts:
        progress(f"measuring {part} (load average {os.getloadavg()[0]:.2f})")
        if part == "propagate":
            result.update(asyncio.run(propagate_s_1000_hosts(HOSTS, args.slice_processes)))
        else:
            result.update(asyncio.run(PARTS[part]()))
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    if len(parts) < len(PARTS) and RESULTS.exists():
        # A partial run refreshes its keys in the last full result.
        previous = json.loads(RESULTS.read_text())
        previous.pop("goals", None)
        result = {**previous, **result}
    result["goals"] = {name: goal(result) for name, (key, goal) in GOALS.items() if key in result}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
