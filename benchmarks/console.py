"""Console benchmark: first frame, key latency under a 10k violations/s push, 100k-row log.

``python -m benchmarks.console --json`` prints progress to stderr and one JSON object on the
last stdout line, also written to benchmarks/results/console.json. A real XPS daemon (mutual
TLS, real protocol) pushes synthetic violations; baselines are measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results") / "console.json"
SIZE = (160, 48)


def _log(msg: str) -> None:
    print(f"[console-bench] {msg}", file=sys.stderr, flush=True)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def violation(seq: int) -> dict[str, Any]:
    """A violation record shaped like the daemon's."""
    return {
        "seq": seq,
        "ts": time.time(),
        "ts_ns": time.time_ns(),
        "domid": 1 + seq % 9,
        "domain": f"E{'ABC'[seq % 3]}-domu-{seq % 5}",
        "seclabel": "",
        "seclabel_name": f"E{'ABC'[seq % 3]}-seclabel",
        "profile": "PV-LinuxGeneric",
        "kind": ("profile", "rate", "channel")[seq % 3],
        "hypercall": 35,
        "hypercall_name": "xenoprof_op",
        "subop": -1,
        "peer": None,
        "count": 1,
    }


def _watch_frames(app: Any) -> asyncio.Event:
    """Counts full frames: wraps App._display and renders each update to escape codes."""
    original = app._display

    def display(screen: Any, renderable: Any) -> None:
        original(screen, renderable)
        if renderable is not None:
            from textual._compositor import CompositorUpdate

            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # the work a terminal frame costs
            frame.set()

    frame = asyncio.Event()
    app._display = display
    return frame


# -- first frame (child process) ------------------------------------------------------------


def _child_first_frame() -> None:
    from xenon_tui._config import ConsoleConfig
    from xenon_tui.app import XenonConsole

    app = XenonConsole(ConsoleConfig(autoconnect=False))

    async def run() -> None:
        task = asyncio.create_task(app.run_async(headless=True, size=SIZE))
        while not app.is_running:  # noqa: ASYNC110 (Textual offers no "started" event here)
            await asyncio.sleep(0)
        await _watch_frames(app).wait()
        print(f"FRAME {time.time():.6f}", flush=True)
        app.exit()
        await task

    asyncio.run(run())


def first_frame_ms(runs: int = 5) -> float:
    """Median wall time from spawning ``python`` to the console's first full frame."""
    times = []
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.console", "--child-first-frame"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        stamp = float(next(ln for ln in out.splitlines() if ln.startswith("FRAME")).split()[1])
        times.append((stamp - t0) * 1000)
    return statistics.median(times)


# -- a real daemon pushing violations -------------------------------------------------------


class Pusher:
    """Handler table + event source: ``rate`` violations/s in 10 ms batches."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.seq = 0
        self.callbacks: list[Callable[[dict[str, Any]], None]] = []
        self.task: asyncio.Task[None] | None = None

    def subscribe(self, cb: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self.callbacks.append(cb)
        return lambda: self.callbacks.remove(cb)

    async def run(self) -> None:
        per_tick = self.rate // 100
        next_t = time.perf_counter()
        while True:
            next_t += 0.01
            rows = [violation(self.seq + i + 1) for i in range(per_tick)]
            self.seq += per_tick
            event = {
                "event": "violations",
                "data": {"violations": rows, "last_seq": self.seq, "dropped": 0},
            }
            for cb in list(self.callbacks):
                cb(event)
            await asyncio.sleep(max(0.0, next_t - time.perf_counter()))

    def handlers(self) -> dict[str, Any]:
        async def info() -> dict[str, Any]:
            return {"xen_version": "bench", "msm_status": "enabled", "policy_generation": 1}

        async def empty(**_: Any) -> dict[str, Any]:
            return {"domains": [], "violations": [], "xml": "", "series": []}

        return {
            "GetHypervisorInfo": info,
            "GetDomainRunStates": empty,
            "GetViolations": empty,
            "GetPolicy": empty,
            "GetStats": empty,
            "GetStatsHistory": empty,
        }


async def _daemon(tmp: Path, pusher: Pusher) -> tuple[Any, Any]:
    from xps.pki import TlsMaterial, init_ca, issue
    from xps.server import ServerConfig, XpsServer

    init_ca(tmp / "ca", common_name="Bench CA")
    server = issue(tmp / "ca", "xps-server", "server")
    client = issue(tmp / "ca", "console", "client")
    config = ServerConfig(
        state_dir=tmp,
        tls=TlsMaterial(ca=server.ca_cert, cert=server.cert, key=server.key),
        listen=("127.0.0.1", 0),
        ro_listen=("127.0.0.1", 0),
        log_stderr=False,
    )
    daemon = XpsServer(config, pusher.handlers(), event_source=pusher.subscribe)
    await daemon.start()
    return daemon, client


def _child_daemon(tmp: str) -> None:
    """Runs the pushing daemon in its own process (as in production) until stdin closes."""

    async def run() -> None:
        pusher = Pusher(int(os.environ.get("CONSOLE_BENCH_RATE", "10000")))
        daemon, _client = await _daemon(Path(tmp), pusher)
        task = asyncio.create_task(pusher.run())
        print(f"PORT {daemon.ports['read_write']}", flush=True)
        await asyncio.to_thread(sys.stdin.read)
        task.cancel()
        await daemon.close()

    asyncio.run(run())


async def key_latency(tmp: Path, presses: int = 200) -> dict[str, float]:
    """Key press to repaint in the violation log while a daemon process pushes 10,000/s."""
    from xenon_tui._config import ConsoleConfig, ServerEntry, TlsFiles
    from xenon_tui.app import XenonConsole, tune_gc
    from xenon_tui.widgets import ViolationLog

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.console",
        "--child-daemon",
        str(tmp),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    port = int((await proc.stdout.readline()).decode().split()[1])
    ca = tmp / "ca"
    config = ConsoleConfig(
        servers=(ServerEntry("127.0.0.1", port),),
        tls=TlsFiles(
            ca=ca / "ca-cert.pem", cert=ca / "console-cert.pem", key=ca / "console-key.pem"
        ),
    )
    tune_gc()  # as run_console() does at start
    app = XenonConsole(config)
    latencies: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        frame = _watch_frames(app)
        while not app.servers[f"127.0.0.1:{port}"].info:
            await pilot.pause(0.05)
        await pilot.press("5")
        log = app.query_one(ViolationLog)
        await pilot.pause(0.5)
        received_before, started = log.window.total, time.perf_counter()
        for i in range(presses):
            key = "down" if i % 2 == 0 else "up"
            frame.clear()
            cursor = log.cursor
            t0 = time.perf_counter()
            app.simulate_key(key)
            while True:  # the first repaint that carries the moved cursor
                await frame.wait()
                frame.clear()
                if log.cursor != cursor:
                    break
            latencies.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.02)
        received = (log.window.total - received_before) / (time.perf_counter() - started)
    proc.stdin.close()
    await proc.wait()
    latencies.sort()
    return {
        "key_p50_ms": statistics.median(latencies),
        "key_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "violations_received_per_s": round(received),
    }


async def log_100k() -> dict[str, float]:
    """Load 100k violations into the log and show the first page; DataTable baseline."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from xenon_tui._config import ConsoleConfig
    from xenon_tui.app import XenonConsole
    from xenon_tui.widgets import ViolationLog
    from xenon_tui.widgets._violation_log import format_row

    rows = [violation(i) for i in range(1, 100_001)]
    app = XenonConsole(ConsoleConfig(autoconnect=False))
    async with app.run_test(size=SIZE) as pilot:
        frame = _watch_frames(app)
        await pilot.press("5")
        await pilot.pause()
        log = app.query_one(ViolationLog)
        frame.clear()
        t0 = time.perf_counter()
        log.add_violations(rows)
        await frame.wait()
        load_ms = (time.perf_counter() - t0) * 1000
        assert len(log.window) == 100_000 and log.render_line(0).text.strip()
        rss = _rss_mb()

    class Baseline(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

    baseline_rows = 10_000
    base = Baseline()
    async with base.run_test(size=SIZE):
        base_frame = _watch_frames(base)
        table = base.query_one(DataTable)
        table.add_columns(*(f"c{i}" for i in range(8)))
        base_frame.clear()
        t0 = time.perf_counter()
        for r in rows[:baseline_rows]:
            table.add_row(*format_row(r))
        await base_frame.wait()
        base_ms = (time.perf_counter() - t0) * 1000
    return {
        "violation_log_100k_ms": load_ms,
        "rss_mb_100k": rss,
        "datatable_10k_rows_ms_baseline": base_ms,
    }


async def timeline_100k() -> dict[str, float]:
    """100k violation records (plus a few operator and policy events) to the incident
    timeline's first frame: building the timeline and drawing its chart and list."""
    from textual.app import App

    from xenon_tui._incident_report import ReportMeta
    from xenon_tui._timeline import Timeline, TimelineEvent, add_violations
    from xenon_tui.screens._timeline import TimelineScreen

    rows = [violation(i) for i in range(1, 100_001)]
    now = time.time()
    actions = [
        TimelineEvent(now - 60, "action", "EA-domu-1", "admin paused EA-domu-1"),
        TimelineEvent(now - 30, "policy", "generation 2", "policy generation 2 active"),
    ]

    class Host(App[None]):
        pass

    app = Host()
    times = []
    async with app.run_test(size=SIZE) as pilot:
        frame = _watch_frames(app)
        for _ in range(5):
            frame.clear()
            t0 = time.perf_counter()
            timeline = Timeline("incident")
            add_violations(timeline, rows)
            timeline.add_events(actions)
            screen = TimelineScreen(timeline, ReportMeta("incident", "admin"), Path("/nonexistent"))
            await app.push_screen(screen)
            await frame.wait()
            times.append((time.perf_counter() - t0) * 1000)
            assert len(screen.timeline) == 100_002
            app.pop_screen()
            await pilot.pause()
    return {"timeline_100k_ms": statistics.median(times)}


async def main_async() -> dict[str, Any]:
    result: dict[str, Any] = {}
    _log("first frame (5 headless processes)…")
    result["first_frame_ms"] = first_frame_ms()
    _log("100k violation log…")
    result.update(await log_100k())
    _log("100k-event incident timeline…")
    result.update(await timeline_100k())
    with tempfile.TemporaryDirectory() as tmp:
        _log("key latency under a 10,000 violations/s push…")
        result.update(await key_latency(Path(tmp)))
    result["goals"] = {
        "first_frame_ms": 1000,
        "key_p99_ms": 50,
        "violation_log_100k_ms": 100,
        "timeline_100k_ms": 100,
    }
    result["met"] = {k: result[k] <= v for k, v in result["goals"].items()}
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--child-first-frame", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-daemon", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_daemon:
        _child_daemon(args.child_daemon)
        return 0
    if args.child_first_frame:
        _child_first_frame()
        return 0
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    result = asyncio.run(main_async())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
