"""XPS request latency, throughput and violation streaming against a mutual-TLS echo baseline.

``python -m benchmarks.xps --json`` makes a throw-away CA, then in one run measures:

- a raw asyncio mutual-TLS *echo* server using the same length-prefixed framing (the
  baseline: TLS + framing cost only), and
- the XPS daemon answering ``Ping`` (full path: TLS, framing, JSON parse, dispatch, the
  per-request TRACE log line, JSON encode),

each in its own server process, with the same client code: sequential latency on one
connection (``p50_us``, ``p99_us``, ``echo_p50_us``) and requests per second with 50
concurrent connections. Then ``violations_per_s``: a daemon with the real sim Host and
heavy injected misbehaviour; one subscribed client counts violation records received.
The simulated guests produce ~150,000 records/s of simulated time, which bounds that
rate when the daemon keeps up; ``violations_server_cpu_us_per_record`` (the daemon's CPU
time per record received: sim, host, JSON encoding, TLS) shows the headroom.

The front door under hostile load (issue 10), each against a fresh daemon process:

- ``flood_admit_ms_*``: a real client's connect + Ping while ``tests/xps/server/_flood.py`` holds
  1,100 connections that never start TLS and reopens each one the daemon sheds;
  ``flood_refusal_log_lines``: the daemon's log lines about it (one per connection before);
- ``bigframe_ping_p50_ms`` / ``_p99_ms``: another client's sequential Pings while one
  client sends 4 MB frames of 2,000,000 values back to back (the issue's goal: p99 < 50);
- ``burst_rss_*_mb``: the daemon's resident memory before, with 1,000 TLS clients
  connected, and 2 s after they closed (``_without_mallopt``: the same daemon without
  ``return_freed_memory``, as before the fix);
- ``slowloris_*``: 100 clients each holding 3.9 MiB of a 4 MB frame: how many were
  refused ``busy`` by ``xps.max-buffered``, and the daemon's memory then and after.
Progress goes to stderr; one JSON object is printed last and written to
``benchmarks/results/xps.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks._proc import cpu_s, cpu_split_s
from xps.pki import TlsMaterial, client_context, init_ca, issue, server_context
from xps.protocol import FrameDecoder, encode_frame, encode_request

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "xps.json"
LATENCY_N = 2000
RPS_CLIENTS = 50
RPS_SECONDS = 2.0
VIOLATION_SECONDS = 5.0
ROUNDS = 3
VIOLATION_DOMAINS = 30


def progress(message: str) -> None:
    """Progress to stderr (stdout carries only the final JSON)."""
    print(f"[xps-bench] {message}", file=sys.stderr, flush=True)


def make_pki(root: Path) -> dict[str, Path]:
    """A CA, a server and a client certificate (P-256)."""
    init_ca(root)
    srv = issue(root, "xps-server", "server")
    cli = issue(root, "bench", "client")
    return {"ca": srv.ca_cert, "cert": srv.cert, "key": srv.key, "ccert": cli.cert, "ckey": cli.key}


# -- server processes ----------------------------------------------------------------------


async def _serve_echo(pki: dict[str, Path]) -> None:
    ctx = server_context(TlsMaterial(ca=pki["ca"], cert=pki["cert"], key=pki["key"]))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        try:
            while data := await reader.read(256 * 1024):
                for payload in decoder.feed(data):
                    writer.write(len(payload).to_bytes(4, "big") + payload)
        except (OSError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def _serve_xps(pki: dict[str, Path], state: Path, with_host: bool) -> None:
    from xps.server import (
        ServerConfig,
        XpsServer,
        host_handlers,
        lean_log_records,
        setup_logging,
    )
    from xps.server._resources import raise_fd_limit, return_freed_memory

    raise_fd_limit(4096)  # as run_daemon does
    if not os.environ.get("XPS_BENCH_NO_MALLOPT"):
        return_freed_memory()

    config = ServerConfig(
        state_dir=state,
        tls=TlsMaterial(ca=pki["ca"], cert=pki["cert"], key=pki["key"]),
        listen=("127.0.0.1", 0),
        ro_listen=None,
        log_stderr=False,
    )
    setup_logging(config.resolved_log_file, stderr=False)
    host: Any = None
    handlers: dict[str, Any] = {}
    source = None
    if with_host:
        from xps.host import Host, HostConfig

        # A roomier simulated host, so that VIOLATION_DOMAINS guests fit in memory.
        host = await Host.open(
            HostConfig(state_dir=state, backend="sim", sim_host_mem_kb=64 * 1024 * 1024)
        )
        handlers, source = host_handlers(host), host.subscribe
    lean_log_records()
    async with XpsServer(config, handlers, event_source=source) as server:
        print(f"PORT {server.ports['read_write']}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    if host is not None:
        await host.close()


def _violation(seq: int) -> dict[str, Any]:
    # The shape of one record as xps.host publishes it (contract: violations event).
    return {
        "seq": seq,
        "ts": "2026-01-01T00:00:00.000Z",
        "ts_ns": 1767225600000000000 + seq,
        "domid": 1 + seq % 6,
        "domain": f"EA-domu-{1 + seq % 6}",
        "seclabel": "43821506-6bc8-5771-bead-ac96a6dead2f",
        "seclabel_name": "EA-seclabel",
        "profile": "PV-Combined",
        "kind": "profile",
        "hypercall": 36,
        "hypercall_name": "domctl",
        "subop": 2,
        "peer": None,
        "count": seq,
    }


class SyntheticViolations:
    """An event source publishing 1000-record batches as fast as subscribers drain them.

    It measures the daemon's side alone (encode once, write to subscribers, client
    decode) independent of how fast a host produces violations.
    """

    def __init__(self) -> None:
        self.callbacks: list[Any] = []
        self.hub: Any = None

    def subscribe(self, callback: Any) -> Any:
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    async def run(self) -> None:
        seq = 0
        while True:
            subs = list(self.hub._subs) if self.hub is not None else []
            if not subs or any(s.transport.get_write_buffer_size() > 4 << 20 for s in subs):
                await asyncio.sleep(0.001)  # pace to the subscriber: never trigger a drop
                continue
            batch = [_violation(seq + i) for i in range(1000)]
            seq += 1000
            event = {"violations": batch, "last_seq": seq, "dropped": 0}
            for callback in self.callbacks:
                callback({"event": "violations", "data": event})
            await asyncio.sleep(0)


async def _serve_synthetic(pki: dict[str, Path], state: Path) -> None:
    from xps.server import ServerConfig, XpsServer, lean_log_records, setup_logging

    config = ServerConfig(
        state_dir=state,
        tls=TlsMaterial(ca=pki["ca"], cert=pki["cert"], key=pki["key"]),
        listen=("127.0.0.1", 0),
        ro_listen=None,
        log_stderr=False,
    )
    setup_logging(config.resolved_log_file, stderr=False)
    lean_log_records()
    source = SyntheticViolations()
    async with XpsServer(config, {}, event_source=source.subscribe) as server:
        source.hub = server.hub
        task = asyncio.create_task(source.run())
        print(f"PORT {server.ports['read_write']}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        task.cancel()


def serve_main(kind: str, pki_dir: Path, state: Path) -> None:
    """Entry of a server child process (``--serve KIND``)."""
    pki = json.loads((pki_dir / "pki.json").read_text())
    paths = {k: Path(v) for k, v in pki.items()}
    if kind == "echo":
        asyncio.run(_serve_echo(paths))
    elif kind == "synthetic":
        asyncio.run(_serve_synthetic(paths, state))
    else:
        asyncio.run(_serve_xps(paths, state, with_host=kind == "host"))


class ServerProcess:
    """A server child process; ``port`` once it is listening."""

    def __init__(self, kind: str, pki_dir: Path, state: Path) -> None:
        state.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "benchmarks.xps", "--serve", kind, str(pki_dir), str(state)]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"{kind} server did not start: {line!r}")
        self.port = int(line.split()[1])

    def cpu_s(self) -> float:
        """User + system CPU seconds the server process has used so far."""
        return cpu_s(self.proc.pid)

    def cpu_split(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the server process."""
        return cpu_split_s(self.proc.pid)

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- clients -------------------------------------------------------------------------------


class RawClient:
    """The same minimal client for both servers: send a frame, read one frame back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder(64 << 20)
        self.ready: list[bytes] = []

    @classmethod
    async def connect(cls, port: int, pki: dict[str, Path]) -> RawClient:
        ctx = client_context(TlsMaterial(ca=pki["ca"], cert=pki["ccert"], key=pki["ckey"]))
        r, w = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
        )
        return cls(r, w)

    async def roundtrip(self, frame: bytes) -> bytes:
        self.writer.write(frame)
        while not self.ready:
            data = await self.reader.read(256 * 1024)
            if not data:
                raise ConnectionError("server closed")
            self.ready.extend(self.decoder.feed(data))
        return self.ready.pop(0)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self.writer.wait_closed()


async def latency(port: int, pki: dict[str, Path]) -> list[float]:
    """Sequential round trips on one connection; microseconds each."""
    client = await RawClient.connect(port, pki)
    frame = encode_request(1, "Ping")
    for _ in range(200):
        await client.roundtrip(frame)
    out = []
    for _ in range(LATENCY_N):
        t0 = time.perf_counter_ns()
        await client.roundtrip(frame)
        out.append((time.perf_counter_ns() - t0) / 1000)
    await client.close()
    return out


async def throughput(port: int, pki: dict[str, Path]) -> float:
    """Requests per second with RPS_CLIENTS connections each looping round trips."""
    clients = [await RawClient.connect(port, pki) for _ in range(RPS_CLIENTS)]
    frame = encode_request(1, "Ping")
    stop = time.perf_counter() + RPS_SECONDS
    counts = [0] * len(clients)

    async def loop(i: int, c: RawClient) -> None:
        while time.perf_counter() < stop:
            await c.roundtrip(frame)
            counts[i] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(loop(i, c) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - t0
    for c in clients:
        await c.close()
    return sum(counts) / elapsed


async def _count_violations(client: Any, seconds: float, on_start: Any = None) -> tuple[int, float]:
    """Records received by a subscribed client in ``seconds`` (after a 1 s warm-up).

    ``on_start()`` is called when the counting starts.
    """
    deadline = time.perf_counter() + 1.0
    while time.perf_counter() < deadline:
        await client.next_event(10)
    if on_start is not None:
        on_start()
    received = 0
    t0 = time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        ev = await client.next_event(10)
        received += len(ev.data.get("violations", []))
    return received, elapsed


def _heavy_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The sample policy with VIOLATION_DOMAINS guests that are never stopped.

    The sample's six guests are cloned (new name, UUID and disk file, 256 MB each) and
    every SecLabel gets ``max_violations = 0`` (the sample stops a guest after 50).
    """
    policy = copy.deepcopy(policy)
    for seclabel in policy["seclabels"]:
        seclabel["max_violations"] = 0
    base = list(policy["domains"])  # clone the sample's guests, not earlier clones
    for i in range(VIOLATION_DOMAINS - len(base)):
        clone = copy.deepcopy(base[i % len(base)])
        clone["name"] = f"{clone['name']}-x{i}"
        clone["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"xenon-bench/{clone['name']}"))
        clone["memory_mb"] = clone["maxmem_mb"] = 256
        for disk in clone.get("disks", []):
            disk["target"] = disk["target"].replace(".qcow2", f"-x{i}.qcow2")
        policy["domains"].append(clone)
    return policy


async def violations(port: int, pki: dict[str, Path], server_cpu: Any) -> dict[str, Any]:
    """MSM ring -> subscribed client with the real sim Host and heavy misbehaviour.

    Through the daemon: activate :func:`_heavy_policy`, create every guest and make each
    issue only out-of-profile hypercalls; then count the records one subscriber receives.
    ``server_cpu()`` gives the daemon's CPU seconds: its CPU time per record received
    (sim, host, encoding, TLS) is less sensitive to a busy machine than the rate.
    """
    from xps.client import XpsClient

    client = XpsClient(
        "127.0.0.1", port, ca=pki["ca"], cert=pki["ccert"], key=pki["ckey"], timeout=30
    )
    await client.connect()
    policy = _heavy_policy((await client.call("GetPolicy"))["policy"])
    await client.call("StagePolicy", policy=policy)
    await client.call("ActivatePolicy")
    await client.subscribe(["violations"])
    names = [d["name"] for d in policy["domains"]]
    for name in names:
        await client.call("CreateDomain", name=name)
        await client.call("SetMisbehaviour", domain=name, kind="out_of_profile", per_million=10**6)
    cpu0: list[float] = []
    received, elapsed = await _count_violations(
        client, VIOLATION_SECONDS, lambda: cpu0.append(server_cpu())
    )
    cpu = server_cpu() - cpu0[0]
    await client.close()
    return {
        "violations_per_s": round(received / elapsed),
        "violations_domains": len(names),
        "violations_records": received,
        "violations_server_cpu_us_per_record": round(cpu / received * 1e6, 2),
    }


async def violations_server_path(port: int, pki: dict[str, Path]) -> int:
    """The daemon's own capacity: synthetic 1000-record batches -> one subscribed client."""
    from xps.client import XpsClient

    client = XpsClient(
        "127.0.0.1", port, ca=pki["ca"], cert=pki["ccert"], key=pki["ckey"], timeout=30
    )
    await client.connect()
    await client.subscribe(["violations"])
    received, elapsed = await _count_violations(client, VIOLATION_SECONDS)
    await client.close()
    return round(received / elapsed)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the front door under hostile load -------------------------------------------------------

FLOOD_SOCKETS = 1100
FLOOD_ATTEMPTS = 20
BURST_CLIENTS = 1000
SLOWLORIS_CLIENTS = 100


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


async def flood_admission(port: int, pki: dict[str, Path]) -> dict[str, Any]:
    """A real client's admission while 1,100 silent connections churn (see module doc)."""
    from xps.client import XpsClient

    flood = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "tests" / "xps" / "server" / "_flood.py"),
        "--ports",
        str(port),
        "--sockets",
        str(FLOOD_SOCKETS),
        "--max-connects",
        "1000000",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert flood.stdout is not None and flood.stdin is not None
    assert await flood.stdout.readline() == b"READY\n"
    await asyncio.sleep(1.0)  # let the churn settle in
    times: list[float] = []
    failures = 0
    for _ in range(FLOOD_ATTEMPTS):
        client = XpsClient(
            "127.0.0.1", port, ca=pki["ca"], cert=pki["ccert"], key=pki["ckey"], timeout=10
        )
        t0 = time.perf_counter()
        try:
            await client.connect()
            times.append((time.perf_counter() - t0) * 1000)
        except Exception:  # counted: the issue saw 0 of 6 admitted
            failures += 1
        finally:
            await client.close()
        await asyncio.sleep(0.1)
    flood.stdin.close()
    out, _ = await flood.communicate()
    stats = json.loads(out.decode().strip().splitlines()[-1])
    return {
        "flood_sockets": FLOOD_SOCKETS,
        "flood_connects": stats["connects"],
        "flood_admitted": f"{len(times)}/{FLOOD_ATTEMPTS}",
        "flood_admit_ms_p50": round(statistics.median(times), 1) if times else None,
        "flood_admit_ms_max": round(max(times), 1) if times else None,
        "flood_failures": failures,
    }


def refusal_lines(log_file: Path) -> int:
    """Lines of the daemon's log about shed or refused connections."""
    text = log_file.read_text(encoding="utf-8", errors="replace")
    needles = ("Shed", "Refus", "too many clients", "handshake not completed")
    return sum(1 for line in text.splitlines() if any(n in line for n in needles))


def _two_million(rid: int) -> bytes:
    body = f'{{"id":{rid},"method":"Ping","params":{{"a":['.encode()
    return encode_frame(body + b",".join([b"0"] * 2_000_000) + b"]}}")


async def bigframe_pings(port: int, pki: dict[str, Path]) -> dict[str, Any]:
    """Another client's Ping latency while 2,000,000-value frames arrive back to back."""
    attacker = await RawClient.connect(port, pki)
    pinger = await RawClient.connect(port, pki)
    frame = _two_million(1)
    ping = encode_request(2, "Ping")
    stop = asyncio.Event()
    refused = 0

    async def attack() -> None:
        nonlocal refused
        while not stop.is_set():
            answer = json.loads(await attacker.roundtrip(frame))
            refused += answer.get("error", {}).get("code") == "bad_request"

    async def pings(seconds: float) -> list[float]:
        out: list[float] = []
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            t0 = time.perf_counter_ns()
            await pinger.roundtrip(ping)
            out.append((time.perf_counter_ns() - t0) / 1e6)
            await asyncio.sleep(0.005)
        return out

    idle = await pings(2.0)  # the same pings without the attacker: the machine's own noise
    task = asyncio.create_task(attack())
    await asyncio.sleep(0.5)
    latencies = await pings(5.0)
    stop.set()
    await task
    await attacker.close()
    await pinger.close()
    return {
        "bigframe_frames_refused": refused,
        "bigframe_pings": len(latencies),
        "bigframe_ping_p50_ms": round(statistics.median(latencies), 2),
        "bigframe_ping_p99_ms": round(pct(latencies, 0.99), 2),
        "bigframe_idle_ping_p99_ms": round(pct(idle, 0.99), 2),
    }


async def burst_rss(server: ServerProcess, pki: dict[str, Path]) -> tuple[float, float, float]:
    """RSS before, with BURST_CLIENTS TLS clients connected, and 2 s after they closed."""
    await asyncio.sleep(0.5)
    before = rss_mb(server.proc.pid)
    sem = asyncio.Semaphore(50)

    async def one() -> RawClient:
        async with sem:
            client = await RawClient.connect(server.port, pki)
            await client.roundtrip(encode_request(1, "Ping"))
            return client

    clients = await asyncio.gather(*(one() for _ in range(BURST_CLIENTS)))
    peak = rss_mb(server.proc.pid)
    for client in clients:
        await client.close()
    await asyncio.sleep(2.0)
    return before, peak, rss_mb(server.proc.pid)


async def slowloris(server: ServerProcess, pki: dict[str, Path]) -> dict[str, Any]:
    """SLOWLORIS_CLIENTS each send 3.9 MiB of a 4,000,000-byte frame and stop."""
    before = rss_mb(server.proc.pid)
    loop = asyncio.get_running_loop()
    client_bugs = 0

    def count_client_bug(_loop: asyncio.AbstractEventLoop, _context: dict[str, Any]) -> None:
        # Our clients writing into connections the daemon refused trip CPython's
        # gh-156512 (connection_lost called twice; fixed upstream): counted, not printed.
        nonlocal client_bugs
        client_bugs += 1

    loop.set_exception_handler(count_client_bug)
    part = (4_000_000).to_bytes(4, "big") + b"x" * int(3.9 * (1 << 20))
    clients = [await RawClient.connect(server.port, pki) for _ in range(SLOWLORIS_CLIENTS)]
    for client in clients:
        client.writer.write(part)
    refused = 0

    async def answer(client: RawClient) -> None:
        nonlocal refused
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            async with asyncio.timeout(3):
                data = await client.reader.read(65536)
                refused += b'"busy"' in data

    await asyncio.gather(*(answer(c) for c in clients))
    peak = rss_mb(server.proc.pid)
    for client in clients:
        client.writer.transport.abort()  # a close would wait for the refused ones' peers
    await asyncio.sleep(2.0)
    loop.set_exception_handler(None)
    return {
        "slowloris_clients": SLOWLORIS_CLIENTS,
        "slowloris_refused_busy": refused,
        "slowloris_rss_before_mb": before,
        "slowloris_rss_peak_mb": peak,
        "slowloris_rss_after_mb": rss_mb(server.proc.pid),
        "slowloris_client_asyncio_errors": client_bugs,
    }


async def front_door(tmp: Path, pki: dict[str, Path]) -> dict[str, Any]:
    """Every front-door measurement, each against a fresh daemon process."""
    result: dict[str, Any] = {}
    progress(f"front door: {FLOOD_SOCKETS}-socket pre-handshake flood, {FLOOD_ATTEMPTS} clients")
    server = ServerProcess("xps", tmp / "pki", tmp / "state-flood")
    try:
        result.update(await flood_admission(server.port, pki))
    finally:
        server.stop()  # the daemon writes its last burst counts as it stops
    log_file = tmp / "state-flood" / "xenon-policy-server.log"
    result["flood_refusal_log_lines"] = await asyncio.to_thread(refusal_lines, log_file)
    progress("front door: Pings while 2,000,000-value frames arrive")
    server = ServerProcess("xps", tmp / "pki", tmp / "state-bigframe")
    try:
        result.update(await bigframe_pings(server.port, pki))
    finally:
        server.stop()
    for suffix, env in (("", None), ("_without_mallopt", "1")):
        progress(f"front door: {BURST_CLIENTS} TLS clients held, then closed{suffix}")
        if env:
            os.environ["XPS_BENCH_NO_MALLOPT"] = env
        try:
            server = ServerProcess("xps", tmp / "pki", tmp / f"state-burst{suffix}")
        finally:
            os.environ.pop("XPS_BENCH_NO_MALLOPT", None)
        try:
            before, peak, after = await burst_rss(server, pki)
        finally:
            server.stop()
        result[f"burst_rss_before_mb{suffix}"] = before
        result[f"burst_rss_peak_mb{suffix}"] = peak
        result[f"burst_rss_after_mb{suffix}"] = after
    progress(f"front door: {SLOWLORIS_CLIENTS} clients holding 3.9 MiB partial frames")
    server = ServerProcess("xps", tmp / "pki", tmp / "state-slowloris")
    try:
        result.update(await slowloris(server, pki))
    finally:
        server.stop()
    return result


async def bench(tmp: Path) -> dict[str, Any]:
    """Runs every measurement; returns the result object."""
    pki = make_pki(tmp / "pki")
    (tmp / "pki" / "pki.json").write_text(json.dumps({k: str(v) for k, v in pki.items()}))
    result: dict[str, Any] = {"cpus": os.cpu_count(), "latency_n": LATENCY_N, "rounds": ROUNDS}
    lat: dict[str, list[float]] = {"echo": [], "xps": []}
    rps: dict[str, list[float]] = {"echo": [], "xps": []}
    cpu: dict[str, list[float]] = {"echo": [], "xps": []}
    # Echo and XPS alternate, so a burst of load from a neighbour hits both alike.
    for rnd in range(ROUNDS):
        for kind in ("echo", "xps"):
            progress(f"round {rnd + 1}/{ROUNDS} {kind}: latency and {RPS_CLIENTS}-client rps")
            server = ServerProcess(kind, tmp / "pki", tmp / f"state-{kind}-{rnd}")
            try:
                lat[kind].extend(await latency(server.port, pki))
                cpu0 = server.cpu_s()
                r = await throughput(server.port, pki)
                cpu[kind].append((server.cpu_s() - cpu0) / (r * RPS_SECONDS) * 1e6)
                rps[kind].append(r)
            finally:
                server.stop()
    for kind, prefix in (("echo", "echo_"), ("xps", "")):
        result[f"{prefix}p50_us"] = round(statistics.median(lat[kind]), 1)
        result[f"{prefix}p99_us"] = round(pct(lat[kind], 0.99), 1)
        result[f"{prefix}rps_50_clients"] = round(statistics.median(rps[kind]))
        result[f"{prefix}server_cpu_us_per_req"] = round(statistics.median(cpu[kind]), 1)
    result["ratio_p50_vs_echo"] = round(result["p50_us"] / result["echo_p50_us"], 3)
    result["rps_vs_echo"] = round(result["rps_50_clients"] / result["echo_rps_50_clients"], 3)
    progress("violations: daemon with the sim host, heavy misbehaviour")
    server = ServerProcess("host", tmp / "pki", tmp / "state-host")
    try:
        result.update(await violations(server.port, pki, server.cpu_s))
    finally:
        server.stop()
    progress("violations: daemon path alone (synthetic batches)")
    server = ServerProcess("synthetic", tmp / "pki", tmp / "state-synthetic")
    try:
        result["violations_per_s_server_path"] = await violations_server_path(server.port, pki)
    finally:
        server.stop()
    result.update(await front_door(tmp, pki))
    result["goals"] = {
        "ratio_p50_vs_echo<=1.5": result["ratio_p50_vs_echo"] <= 1.5,
        "rps>=0.6*echo": result["rps_vs_echo"] >= 0.6,
        "violations_per_s>=100000": result["violations_per_s"] >= 100_000,
        "flood: every client admitted within 1 s": (
            result["flood_admitted"] == f"{FLOOD_ATTEMPTS}/{FLOOD_ATTEMPTS}"
            and (result["flood_admit_ms_max"] or 1e9) < 1000
        ),
        "bigframe_ping_p99_ms<50": result["bigframe_ping_p99_ms"] < 50,
    }
    return result


def main() -> int:
    """``python -m benchmarks.xps --json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    parser.add_argument(
        "--serve", nargs=3, metavar=("KIND", "PKI_DIR", "STATE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve_main(args.serve[0], Path(args.serve[1]), Path(args.serve[2]))
        return 0
    with tempfile.TemporaryDirectory(prefix="xps-bench-") as tmp:
        result = asyncio.run(bench(Path(tmp)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
