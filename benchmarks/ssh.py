"""The console over SSH: first frame, memory per session, sessions held, key latency under
load, and the CPU an idle session costs while the demo's data arrives.

``python -m benchmarks.ssh --json`` starts real servers (``python -m xenon_tui.ssh``) and
drives them with asyncssh clients on loopback. Zygote mode is the product; spawn mode is
measured in the same run as the baseline. Progress goes to stderr; the last stdout line is
one JSON object, also written to ``benchmarks/results/ssh.json``.

``--idle-only`` measures only ``idle_cpu_pct_per_session``: a headless ``xenon demo``
(three sim hosts, their live workload, its SSH server) with sessions logged in as its admin,
each view shown in turn; CPU time of each session's console processes from /proc over a
window of ``--idle-window`` seconds (no key pressed); median over sessions, per view, and the
median of the views. The small bench app's idle sessions are the baseline (same run).

``--scale-only`` measures only ``sessions`` and ``key_p99_ms_N``: consoles of the headless
demo held at once, ramped in steps (10, 25, 50, 100, 150, 200 up to ``--sessions N``), with
the CPU of the server, the consoles and the hosts and key p50/p99 of a fixed set of typing
sessions at each step (``steps``, also printed as a table; see :func:`scale`); bounded by
``--scale-timeout`` seconds (300). The full run ends with the same part.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._proc import cpu_s

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ssh.json"
CONSOLE_APP = "xenon_tui.ssh._console:run"
BENCH_APP = "benchmarks.ssh:run_bench_app"
CONSOLE_MARKER = b"Xenon servers"
BENCH_MARKER = b"bench ready"
VISIT_ALL_VIEWS = b"234615"  # the view keys, back to the Violations log
_ANSI = re.compile(rb"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def progress(message: str) -> None:
    print(f"[ssh bench] {message}", file=sys.stderr, flush=True)


# -- the busy app (runs inside console processes) -------------------------------------------


def run_bench_app(info: Any) -> int:
    """A small Textual app: ``b`` starts a 60 fps animation, every other key is echoed."""
    from textual.app import App, ComposeResult
    from textual.events import Key
    from textual.widgets import Static

    from xenon_tui.ssh._console import run_textual

    class BenchApp(App[int]):
        def compose(self) -> ComposeResult:
            yield Static("bench ready", id="ready")
            yield Static("", id="echo")
            yield Static("", id="tick")

        def on_mount(self) -> None:
            self.keys = 0
            self.ticks = 0

        def _tick(self) -> None:
            self.ticks += 1
            self.query_one("#tick", Static).update(("#" * (self.ticks % 97)) or "-")

        def on_key(self, event: Key) -> None:
            event.stop()
            event.prevent_default()
            if event.key == "b":
                self.set_interval(1 / 60, self._tick)
            else:
                self.keys += 1
                self.query_one("#echo", Static).update(f"got-{self.keys}-end")

    return run_textual(BenchApp(), info)


# -- process and memory helpers ---------------------------------------------------------------


def pss_kib(pid: int) -> int:
    """Proportional set size of one process (``/proc/PID/smaps_rollup``)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_pss_mib(root: int) -> float:
    return sum(pss_kib(pid) for pid in descendants(root)) / 1024


class Server:
    """A ``python -m xenon_tui.ssh`` subprocess."""

    def __init__(
        self,
        work: Path,
        name: str,
        mode: str,
        app: str,
        max_sessions: int,
        console_file: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.state = work / name
        argv = [sys.executable, "-m", "xenon_tui.ssh", "--listen", "127.0.0.1:0",
                "--state-dir", str(self.state), "--mode", mode, "--app", app,
                "--user", f"bench={work / 'client.pub'}", "--idle-timeout", "0",
                "--max-sessions", str(max_sessions), "--console-file",
                str(console_file or work / "console.json"),
                # One client on loopback opening sessions as fast as it can: the per-address
                # admission limits (10/s, penalties) are not what is measured here.
                "--per-source-rate", "0", "--per-source-max-startups", "0",
                "--per-source-penalties", "off", *extra]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on [\d.]+:(\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(match.group(1))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the client side ---------------------------------------------------------------------------


class Session:
    """One asyncssh client session with a pty."""

    def __init__(self, conn: Any, proc: Any, started: float) -> None:
        self.conn = conn
        self.proc = proc
        self.buffer = bytearray()
        # perf_counter() at each stage of the start: "start" (before the TCP connect),
        # "login" (key exchange and public-key login done), "session" (channel, pty and
        # shell granted), "first_byte" (the console's first output), "frame" (the marker).
        self.stamps: dict[str, float] = {"start": started}
        self.arrived = asyncio.Event()  # set by keep_reading() per chunk

    @classmethod
    async def open(
        cls, port: int, key: Any, cols: int = 100, rows: int = 30, username: str = "bench"
    ) -> Session:
        import asyncssh

        started = time.perf_counter()
        conn = await asyncssh.connect(
            "127.0.0.1",
            port,
            username=username,
            client_keys=[key],
            known_hosts=None,
            agent_path=None,
        )
        login = time.perf_counter()
        proc = await conn.create_process(
            term_type="xterm-256color", term_size=(cols, rows), encoding=None
        )
        session = cls(conn, proc, started)
        session.stamps["login"] = login
        session.stamps["session"] = time.perf_counter()
        return session

    def stages_ms(self) -> dict[str, float]:
        """Milliseconds spent in each stage of the start (see ``stamps``)."""
        order = ("start", "login", "session", "first_byte", "frame")
        names = [n for n in order if n in self.stamps]
        return {
            f"{b}_ms": (self.stamps[b] - self.stamps[a]) * 1000
            for a, b in itertools.pairwise(names)
        }

    async def wait_for(self, marker: bytes, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Reads output until ``marker`` shows in the text (escape sequences removed)."""
        async with asyncio.timeout(timeout):
            while marker not in _ANSI.sub(b"", bytes(self.buffer)):
                chunk = await self.proc.stdout.read(65536)
                if not chunk:
                    raise ConnectionError("session ended before the marker")
                self.stamps.setdefault("first_byte", time.perf_counter())
                self.buffer += chunk
                if len(self.buffer) > 1 << 20:
                    del self.buffer[: -(1 << 16)]
        self.stamps.setdefault("frame", time.perf_counter())

    async def drain_forever(self) -> None:
        """Keeps reading so a busy session never blocks on a full window."""
        while await self.proc.stdout.read(65536):
            pass

    async def keep_reading(self) -> None:
        """Reads for good into ``buffer`` (its last 64 KiB), setting ``arrived`` per chunk."""
        while chunk := await self.proc.stdout.read(65536):
            self.buffer += chunk
            if len(self.buffer) > 1 << 16:
                del self.buffer[: -(1 << 16)]
            self.arrived.set()

    async def answer(self, key: bytes, marker: bytes) -> float:
        """Types ``key`` (output read by :meth:`keep_reading`) and returns the milliseconds
        until ``marker`` shows in what came after it."""
        self.buffer.clear()
        start = time.perf_counter()
        self.proc.stdin.write(key)
        while marker not in _ANSI.sub(b"", bytes(self.buffer)):
            self.arrived.clear()
            await self.arrived.wait()
        return (time.perf_counter() - start) * 1000

    async def close(self) -> None:
        self.conn.close()
        await self.conn.wait_closed()


async def first_frames(
    port: int, key: Any, marker: bytes, runs: int, stages: dict[str, list[float]] | None = None
) -> list[float]:
    """SSH connect to first frame, ``runs`` sessions one after the other; each stage's
    time is appended to ``stages`` (see :meth:`Session.stages_ms`)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        session = await Session.open(port, key)
        await session.wait_for(marker)
        samples.append((time.perf_counter() - start) * 1000)
        if stages is not None:
            for name, ms in session.stages_ms().items():
                stages.setdefault(name, []).append(ms)
        await session.close()
        await asyncio.sleep(0.05)
    return samples


async def connects(port: int, key: Any, runs: int) -> list[float]:
    """Handshake and public-key login alone (no session)."""
    import asyncssh

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        conn = await asyncssh.connect("127.0.0.1", port, username="bench", client_keys=[key],
                                      known_hosts=None, agent_path=None)  # fmt: skip
        samples.append((time.perf_counter() - start) * 1000)
        conn.close()
        await conn.wait_closed()
    return samples


async def visit(session: Session, keys: bytes) -> None:
    """Types ``keys`` one at a time, as a person would, reading the output meanwhile."""
    drain = asyncio.create_task(session.drain_forever())
    for key in keys:
        session.proc.stdin.write(bytes([key]))
        await asyncio.sleep(0.4)
    drain.cancel()


async def hold_sessions(
    server: Server, key: Any, marker: bytes, count: int, *, zygote: bool, keys: bytes = b""
) -> tuple[int, float]:
    """Opens ``count`` sessions, 5 at a time, types ``keys`` in each; returns (sessions
    held, extra PSS MiB each)."""
    idle = 2 if zygote else 1  # the server (and its zygote)
    for _ in range(150):  # sessions of an earlier round may still be exiting
        if len(descendants(server.proc.pid)) <= idle:
            break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError("consoles of the previous round did not exit; memory would be wrong")
    await asyncio.sleep(1.0)
    before = tree_pss_mib(server.proc.pid)
    sessions: list[Session] = []
    for start in range(0, count, 5):
        batch = await asyncio.gather(
            *(Session.open(server.port, key) for _ in range(min(5, count - start)))
        )
        await asyncio.gather(*(s.wait_for(marker, timeout=60) for s in batch))
        sessions.extend(batch)
    if keys:
        await asyncio.gather(*(visit(s, keys) for s in sessions))
    await asyncio.sleep(2.0)  # let every console finish its start-up work
    consoles = len(descendants(server.proc.pid)) - idle
    held = sum(1 for s in sessions if not s.proc.channel.is_closing())
    after = tree_pss_mib(server.proc.pid)
    progress(
        f"{held} sessions held, {consoles} console processes, PSS {before:.0f} -> {after:.0f} MiB"
    )
    await asyncio.gather(*(s.close() for s in sessions))
    return min(held, consoles), (after - before) / max(1, len(sessions))


async def key_latency(port: int, key: Any, busy: int, samples: int) -> list[float]:
    """Key to repaint in one session while ``busy`` others animate at 60 fps."""
    others = [await Session.open(port, key) for _ in range(busy)]
    drains = []
    for other in others:
        await other.wait_for(BENCH_MARKER)
        other.proc.stdin.write(b"b")
        drains.append(asyncio.create_task(other.drain_forever()))
    probe = await Session.open(port, key)
    await probe.wait_for(BENCH_MARKER)
    await asyncio.sleep(0.5)
    result = []
    for n in range(1, samples + 1):
        start = time.perf_counter()
        probe.proc.stdin.write(b"k")
        await probe.wait_for(f"got-{n}-end".encode(), timeout=10)
        result.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.02)
    for task in drains:
        task.cancel()
    await asyncio.gather(*(s.close() for s in [probe, *others]))
    return result


# -- idle CPU per session against the demo ---------------------------------------------------

IDLE_VIEWS = {"policy": b"2", "domains": b"4", "violations": b"5", "perf": b"6"}

IDLE_SETTLE_S = 3.0 + 10.0
"""Seconds from a view's key to its idle window: the view is built and filled (3 s), and
the key is older than the console's LIVELY_S (10 s: after a key the metrics are drawn every
second, idle at the session's refresh setting); the window is a session nobody touches."""


def session_cpu_s(pid: int) -> float:
    """CPU seconds of one process of a session (0 once it is gone)."""
    try:
        return cpu_s(pid)
    except OSError:
        return 0.0


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Demo:
    """``xenon demo --headless --no-xe`` in a temporary state directory."""

    def __init__(self, work: Path) -> None:
        argv = [sys.executable, "-m", "xenon_tui.cli", "demo", "--headless", "--no-xe",
                "--ssh-port", "0", "--seed", "7", "--state-dir", str(work / "demo")]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.proc.stdout is not None
        self.port = 0
        self.key_path = ""
        deadline = time.monotonic() + 180
        for line in self.proc.stdout:
            found = re.search(r"console over SSH:\s+ssh -p (\d+) -i (\S+) admin@", line)
            if found:
                self.port, self.key_path = int(found.group(1)), found.group(2)
            if "ready" in line and self.port:
                break
            if time.monotonic() > deadline:
                break
        if not self.port:
            self.stop()
            raise RuntimeError("the demo did not start")
        ssh = [p for p in descendants(self.proc.pid) if "xenon_tui.ssh" in cmdline(p)]
        if not ssh:
            self.stop()
            raise RuntimeError("the demo's SSH server was not found")
        self.ssh_pid = ssh[0]
        self.console_file = work / "demo" / "console.json"  # its hosts, their TLS files
        # The demo goes on reporting: its pipe must never fill up and stop it.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def stop(self) -> None:
        self.proc.send_signal(2)  # Ctrl+C: the demo stops its children
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def _idle_sessions(
    port: int, key: Any, username: str, root: int, marker: bytes, count: int
) -> list[tuple[Session, list[int]]]:
    """Opens ``count`` sessions one by one; each with the processes it added under ``root``."""
    out = []
    for _ in range(count):
        before = set(descendants(root))
        session = await Session.open(port, key, username=username)
        await session.wait_for(marker, timeout=60)
        await asyncio.sleep(1.0)
        out.append((session, sorted(set(descendants(root)) - before)))
    return out


async def _idle_window(
    sessions: list[tuple[Session, list[int]]], window_s: float, server: int = 0
) -> list[float]:
    """% of one core each session's processes used over ``window_s`` (no key pressed);
    with ``server`` (the SSH server's pid) its share per session is appended last (the
    server process alone: asyncssh's channels, the pty pumps)."""
    start = [sum(session_cpu_s(p) for p in pids) for _, pids in sessions]
    server_start = session_cpu_s(server) if server else 0.0
    began = time.monotonic()
    await asyncio.sleep(window_s)
    spent = time.monotonic() - began
    end = [sum(session_cpu_s(p) for p in pids) for _, pids in sessions]
    shares = [round((b - a) / spent * 100, 3) for a, b in zip(start, end, strict=True)]
    if server:
        used = session_cpu_s(server) - server_start
        shares.append(round(used / spent * 100 / max(len(sessions), 1), 3))
    return shares


async def idle_cpu(work: Path, sessions: int, window_s: float) -> dict[str, Any]:
    """``idle_cpu_pct_per_session`` (per view and the median of the views) and the bench
    app's idle baseline."""
    import asyncssh

    os.makedirs(work, exist_ok=True)
    result: dict[str, Any] = {}
    progress(f"idle CPU: small bench app baseline, {sessions} sessions, {window_s:.0f} s")
    key = asyncssh.generate_private_key("ssh-ed25519")
    (work / "client.pub").write_bytes(key.export_public_key())
    (work / "console.json").write_text('{"servers": []}')
    server = Server(work, "idle-small", "zygote", BENCH_APP, sessions + 2)
    try:
        held = await _idle_sessions(
            server.port, key, "bench", server.proc.pid, BENCH_MARKER, sessions
        )
        drains = [asyncio.create_task(s.drain_forever()) for s, _ in held]
        result["idle_cpu_pct_small_app"] = statistics.median(await _idle_window(held, window_s))
        for task in drains:
            task.cancel()
        await asyncio.gather(*(s.close() for s, _ in held))
    finally:
        server.stop()
    progress("idle CPU: starting a headless demo (three sim hosts, live workload)")
    demo = Demo(work)
    try:
        admin = asyncssh.read_private_key(demo.key_path)
        held = await _idle_sessions(
            demo.port, admin, "admin", demo.ssh_pid, CONSOLE_MARKER, sessions
        )
        drains = [asyncio.create_task(s.drain_forever()) for s, _ in held]
        per_view: dict[str, float] = {}
        server_per_view: dict[str, float] = {}
        for view, view_key in IDLE_VIEWS.items():
            for session, _ in held:
                session.proc.stdin.write(view_key)
            await asyncio.sleep(IDLE_SETTLE_S)  # built, filled, and no key for LIVELY_S
            *samples, server_share = await _idle_window(held, window_s, demo.ssh_pid)
            per_view[view] = statistics.median(samples)
            server_per_view[view] = server_share
            progress(
                f"idle CPU, {view} view: {samples} % of a core per session"
                f" (+{server_share} % in the SSH server per session)"
            )
        for task in drains:
            task.cancel()
        await asyncio.gather(*(s.close() for s, _ in held))
    finally:
        demo.stop()
    result["idle_cpu_pct_per_view"] = per_view
    # The server process's share (not in idle_cpu_pct_per_session: its consoles only).
    result["idle_cpu_pct_server_per_session_per_view"] = server_per_view
    result["idle_cpu_pct_per_session"] = round(statistics.median(per_view.values()), 3)
    result["idle_cpu_sessions"] = sessions
    result["idle_cpu_window_s"] = window_s
    return result


def _bad_size(text: str) -> str:
    raise argparse.ArgumentTypeError(f"not COLSxROWS (e.g. 100x30): {text[:20]!r}")


async def idle_trace(
    work: Path,
    window_s: float,
    views: list[str],
    *,
    profile: bool = False,
    size: tuple[int, int] = (160, 48),
) -> dict[str, Any]:
    """What one console does while idle on each view (``--idle-trace``): the console app
    in this process (headless, ``size`` cells: 160x48 by default) against the headless
    demo's hosts, with the counters of :mod:`benchmarks._trace` over ``window_s`` seconds a
    view (no key), and with ``profile`` the functions that cost most (cProfile, on
    stderr)."""
    import cProfile
    import pstats

    from benchmarks._trace import print_report, tracing
    from xenon_tui.app import XenonConsole
    from xenon_tui.ssh._consolecfg import console_config

    os.makedirs(work, exist_ok=True)
    progress("idle trace: starting a headless demo (three sim hosts, live workload)")
    demo = Demo(work)
    result: dict[str, Any] = {}
    try:
        settings = json.loads(demo.console_file.read_text())
        settings["read_only"] = False
        app = XenonConsole(console_config(settings))
        async with app.run_test(size=size) as pilot:
            await asyncio.sleep(3.0)
            with tracing() as trace:
                for view in views:
                    await pilot.press(IDLE_VIEWS[view].decode())
                    await asyncio.sleep(IDLE_SETTLE_S)  # built, filled, no key for LIVELY_S
                    trace.reset()
                    began = time.process_time()
                    profiler = cProfile.Profile() if profile else None
                    if profiler is not None:
                        profiler.enable()
                    await asyncio.sleep(window_s)
                    if profiler is not None:
                        profiler.disable()
                        stats = pstats.Stats(profiler, stream=sys.stderr)
                        stats.sort_stats("tottime").print_stats(25)
                        stats.sort_stats("cumulative").print_stats(40)
                    report = trace.report()
                    report["cpu_pct"] = round(
                        (time.process_time() - began) / report["seconds"] * 100, 2
                    )
                    result[view] = report
                    print_report(f"{view}: {report['cpu_pct']} % of a core", report, sys.stderr)
    finally:
        demo.stop()
    return {"idle_trace": result}


# -- many sessions against the demo --------------------------------------------------------

# A key and what its answer shows first: ``:`` opens the command line (its placeholder);
# Esc closes it again.
SCALE_KEY = (b":", b"Esc cancels")
# Heavier keys: the Policy view's title line, then the Violations log's column header
# (neither is drawn while the other view is shown).
SCALE_PROBES = ((b"2", b"active policy"), (b"5", b"Hypercall"))
SCALE_STEPS = (10, 25, 50, 100, 150, 200)
KEY_TIMEOUT_S = 10.0
STEP_P99_LIMIT_MS = 1000.0  # a step slower than this ends the ramp


async def _open_console(port: int, key: Any, *, probes: bool) -> Session:
    """A session at its first frame; with ``probes`` it has also shown each probe's view
    once (a view is built when first shown: not what a key costs afterwards)."""
    session = await Session.open(port, key)
    await session.wait_for(CONSOLE_MARKER, timeout=120)
    for view_key, marker in SCALE_PROBES if probes else ():
        session.buffer.clear()
        session.proc.stdin.write(view_key)
        await session.wait_for(marker, timeout=120)
    return session


def switches(pid: int) -> int:
    """Context switches of every thread of ``pid`` so far (0 once it is gone): a thread
    that sleeps and wakes up switches once per wake-up."""
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            text = (task / "status").read_text()
        except OSError:
            continue
        total += sum(int(n) for n in re.findall(r"_ctxt_switches:\s+(\d+)", text))
    return total


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class _Meter:
    """CPU seconds and wake-ups of the server, its consoles, the demo's hosts and this
    process (the clients) between :meth:`start` and :meth:`stop`."""

    def __init__(self, server_pid: int, demo: Demo | None) -> None:
        self.server_pid = server_pid
        self.demo = demo

    def _sample(self) -> dict[str, float]:
        consoles = [p for p in descendants(self.server_pid) if p != self.server_pid]
        hosts: list[int] = []
        if self.demo is not None:
            demo_ssh = set(descendants(self.demo.ssh_pid))
            hosts = [p for p in descendants(self.demo.proc.pid) if p not in demo_ssh]
        return {
            "t": time.monotonic(),
            "server": session_cpu_s(self.server_pid),
            "server_wakeups": switches(self.server_pid),
            "consoles": sum(session_cpu_s(p) for p in consoles),
            "console_wakeups": sum(switches(p) for p in consoles),
            "hosts": sum(session_cpu_s(p) for p in hosts),
            "client": time.process_time(),
        }

    def start(self) -> None:
        self._began = self._sample()

    def stop(self, sessions: int) -> dict[str, float]:
        end, began = self._sample(), self._began
        spent = end["t"] - began["t"]

        def rate(name: str) -> float:
            return (end[name] - began[name]) / spent

        n = max(1, sessions)
        return {
            "server_cpu_pct": round(rate("server") * 100, 2),
            "server_wakeups_per_s_per_session": round(rate("server_wakeups") / n, 2),
            "consoles_cpu_cores": round(rate("consoles"), 3),
            "console_cpu_pct_per_session": round(rate("consoles") * 100 / n, 3),
            "console_wakeups_per_s_per_session": round(rate("console_wakeups") / n, 1),
            "hosts_cpu_pct": round(rate("hosts") * 100, 1),
            "client_cpu_pct": round(rate("client") * 100, 1),
        }


_CURSOR_AT = re.compile(rb"\x1b\[(\d+);(\d+)H")
TYPED_CHARS = 6  # characters measured per command line opened


async def _raw_answer(session: Session, key: bytes, marker: bytes) -> float:
    """Like :meth:`Session.answer`, with ``marker`` looked for in the raw output."""
    session.buffer.clear()
    start = time.perf_counter()
    session.proc.stdin.write(key)
    while marker not in session.buffer:
        session.arrived.clear()
        await session.arrived.wait()
    return (time.perf_counter() - start) * 1000


async def _timed(samples: list[float], answer: Any) -> bool:
    """Appends the milliseconds ``answer`` took (10 s when it timed out); False on timeout."""
    try:
        async with asyncio.timeout(KEY_TIMEOUT_S):
            samples.append(await answer)
        return True
    except TimeoutError:
        samples.append(KEY_TIMEOUT_S * 1000)
        return False


_bench_keys: dict[int, int] = {}


async def _type_in_bench(session: Session, chars: list[float]) -> None:
    """The small bench app: each key until its echo (``got-N-end``) arrives."""
    for _ in range(TYPED_CHARS):
        if session.proc.channel.is_closing():
            return
        n = _bench_keys[id(session)] = _bench_keys.get(id(session), 0) + 1
        if not await _timed(chars, session.answer(b"k", f"got-{n}-end".encode())):
            return
        await asyncio.sleep(0.1)


async def _type_in(session: Session, chars: list[float], opens: list[float]) -> None:
    """One person's command: ``:`` opens the command line (until its placeholder shows:
    ``opens``), then characters typed into it (each after the first until the
    terminal's cursor, which Textual puts in the line after each frame, stands one cell
    further: ``chars``), then Esc."""
    if session.proc.channel.is_closing():
        return
    try:
        if not await _timed(opens, session.answer(*SCALE_KEY)):
            return
        await asyncio.sleep(0.15)
        # The first character shows where the line's cursor is (the last cursor move of
        # the frames after it).
        session.buffer.clear()
        session.proc.stdin.write(b"z")
        await asyncio.sleep(0.25)
        found = _CURSOR_AT.findall(bytes(session.buffer))
        if not found:
            return
        row, col = int(found[-1][0]), int(found[-1][1])
        for _ in range(TYPED_CHARS):
            col += 1
            if not await _timed(chars, _raw_answer(session, b"q", b"\x1b[%d;%dH" % (row, col))):
                return
            await asyncio.sleep(0.1)
    except TimeoutError:
        return
    finally:
        if not session.proc.channel.is_closing():
            session.proc.stdin.write(b"\x1b")  # closes the command line
            # Its next key must not join the Esc (Alt+key).
            await asyncio.sleep(0.3)


async def _type_keys(
    typers: list[Session],
    rounds: int,
    deadline: float,
    until: asyncio.Future[Any] | None = None,
    *,
    bench: bool = False,
) -> tuple[list[float], list[float]]:
    """``rounds`` times (or, with ``until``, as long as it is not done), one typer after
    the other (one person typing at a time): see :func:`_type_in`. Returns the
    milliseconds per typed character and per ``:`` (10 s each when unanswered)."""
    chars: list[float] = []
    opens: list[float] = []
    if not typers:
        if until is not None:
            await asyncio.wait([until])
        return chars, opens
    n = 0
    while (n < rounds) if until is None else not until.done():
        for session in typers:
            if time.monotonic() > deadline or (until is not None and until.done()):
                break
            if bench:
                await _type_in_bench(session, chars)
            else:
                await _type_in(session, chars, opens)
        n += 1
        if time.monotonic() > deadline:
            break
    return chars, opens


async def scale(
    work: Path,
    count: int,
    rounds: int,
    budget_s: float = 300.0,
    *,
    typers: int = 8,
    max_sessions: int = 256,
    max_starting: int = 4,
    concurrency: int = 50,
    bench: bool = False,
) -> dict[str, Any]:
    """Ramps up to ``count`` consoles of the headless demo's three hosts (live workload)
    held at once, in steps (10, 25, 50, 100, 150, 200, up to ``count``).

    At each step the new sessions are opened ``concurrency`` at a time (each to its first
    frame; the server starts ``max_starting`` consoles at once) while the first ``typers``
    sessions go on typing (``key_p99_ms_while_opening``: does a connect storm stall the
    sessions already open?). After 4 s to settle, 5 s
    without a key measure the CPU of the SSH server, of the consoles (all, and per
    session), of the demo's hosts and of the clients (this process), and the wake-ups per
    session of the server and of the consoles. Then the typers, one after the other (one
    person typing at a time), ``rounds`` times each open the command line (``:``, until its
    placeholder shows: ``open_line_p50/p99_ms``), type characters into it (each until the
    line's cursor has moved: ``key_p50/p99_ms``) and close it (Esc), while all sessions
    stay connected.

    The ramp stops early when a step's key p99 exceeds 1 s, when a session fails to start,
    or when ``budget_s`` runs out (``scale_stopped`` says which). Keys: ``sessions`` (held
    at the last step measured), ``key_p99_ms_<count>`` (``None`` unless that step was
    reached), ``steps`` (the per-step table, also printed as Markdown)."""
    import asyncssh

    os.makedirs(work, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519")
    (work / "client.pub").write_bytes(key.export_public_key())
    demo: Demo | None = None
    if bench:
        # The SSH server's own limits: consoles that cost nearly nothing while idle.
        (work / "console.json").write_text('{"servers": []}')
        console_file, app, marker = work / "console.json", BENCH_APP, BENCH_MARKER
    else:
        progress("scale: starting a headless demo (three sim hosts, live workload)")
        demo = Demo(work)
        console_file, app, marker = demo.console_file, CONSOLE_APP, CONSOLE_MARKER
    steps = sorted({s for s in SCALE_STEPS if s < count} | {count})
    result: dict[str, Any] = {
        "scale_steps_planned": steps,
        "max_sessions": max_sessions,
        "max_starting": max_starting,
        "connect_concurrency": concurrency,
        "scale_app": "bench" if bench else "console",
    }
    table: list[dict[str, Any]] = []
    sessions: list[Session] = []
    readers: list[asyncio.Task[None]] = []
    stopped = "done"
    server = Server(work, "scale", "zygote", app, max_sessions, console_file,
                    ("--max-starting", str(max_starting)))  # fmt: skip
    meter = _Meter(server.proc.pid, demo)
    deadline = time.monotonic() + budget_s
    try:
        await asyncio.sleep(1.0)
        before = tree_pss_mib(server.proc.pid)
        fds_before = open_fds(server.proc.pid)
        opening = asyncio.Semaphore(concurrency)

        async def one(probes: bool) -> Session:
            async with opening:
                if bench:
                    session = await Session.open(server.port, key)
                    await session.wait_for(marker, timeout=120)
                    return session
                return await _open_console(server.port, key, probes=probes)

        for step in steps:
            if time.monotonic() > deadline - 20:
                stopped = f"out of time before {step} sessions"
                break
            began = time.monotonic()
            new = [one(len(sessions) + i < typers) for i in range(step - len(sessions))]
            failed = 0
            opened = asyncio.ensure_future(asyncio.gather(*new, return_exceptions=True))
            # Meanwhile the sessions already open go on typing: does the storm stall them?
            storm = asyncio.ensure_future(
                _type_keys(sessions[:typers], 0, deadline, until=opened, bench=bench)
            )
            try:
                async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                    got = await opened
            except TimeoutError:
                got = []
                stopped = f"out of time opening {step} sessions"
            storm_chars, _ = await storm
            for item in got:
                if isinstance(item, Session):
                    sessions.append(item)
                    readers.append(asyncio.create_task(item.keep_reading()))
                else:
                    failed += 1
                    progress(f"scale: a session did not start: {item!r}")
            open_s = time.monotonic() - began
            if not got:
                break
            await asyncio.sleep(4.0)  # the last consoles' start-up work
            meter.start()
            await asyncio.sleep(5.0)
            held = sum(1 for s in sessions if not s.proc.channel.is_closing())
            row: dict[str, Any] = {"step": step, "held": held, "failed": failed,
                                   "open_s": round(open_s, 1)}  # fmt: skip
            row.update(meter.stop(held))
            meter.start()
            samples, opens = await _type_keys(sessions[:typers], rounds, deadline, bench=bench)
            typing = meter.stop(held)
            consoles = len(descendants(server.proc.pid)) - 2  # not the server, its zygote
            row.update({
                "consoles": consoles,
                "key_p50_ms": _ms(statistics.median, samples),
                "key_p99_ms": _ms(lambda v: pct(v, 0.99), samples),
                "key_max_ms": _ms(max, samples),
                "keys": len(samples),
                "key_timeouts": sum(1 for v in samples if v >= KEY_TIMEOUT_S * 1000),
                "open_line_p50_ms": _ms(statistics.median, opens),
                "open_line_p99_ms": _ms(lambda v: pct(v, 0.99), opens),
                "key_p99_ms_while_opening": _ms(lambda v: pct(v, 0.99), storm_chars),
                "keys_while_opening": len(storm_chars),
                "consoles_cpu_cores_typing": typing["consoles_cpu_cores"],
                "server_fds": open_fds(server.proc.pid),
                "server_fds_per_session": round(
                    (open_fds(server.proc.pid) - fds_before) / max(1, held), 2
                ),
                "server_rss_mib": round(rss_kib(server.proc.pid) / 1024, 1),
                "pss_mb_per_session": round(
                    (tree_pss_mib(server.proc.pid) - before) / max(1, held), 2
                ),
                "loadavg_1m": round(os.getloadavg()[0], 2),
            })  # fmt: skip
            table.append(row)
            progress(f"scale step: {json.dumps(row)}")
            if failed:
                stopped = f"{failed} session(s) failed to start at {step}"
                break
            if row["key_p99_ms"] is not None and row["key_p99_ms"] > STEP_P99_LIMIT_MS:
                stopped = f"key p99 {row['key_p99_ms']} ms > 1 s at {step} sessions"
                break
            if not samples:
                stopped = f"out of time typing at {step} sessions"
                break
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        server.stop()
        if demo is not None:
            demo.stop()
    last = table[-1] if table else {}
    result.update({
        "sessions": last.get("held", 0),
        f"key_p50_ms_{count}": last.get("key_p50_ms") if last.get("step") == count else None,
        f"key_p99_ms_{count}": last.get("key_p99_ms") if last.get("step") == count else None,
        "scale_stopped": stopped,
        "steps": table,
    })  # fmt: skip
    progress(f"scale: {stopped}")
    progress("scale table:\n" + steps_table(table))
    return result


STEP_COLUMNS = (
    ("step", "step"), ("held", "held"), ("open_s", "open s"), ("key_p50_ms", "key p50"),
    ("key_p99_ms", "key p99"), ("key_p99_ms_while_opening", "key p99 opening"),
    ("open_line_p99_ms", "':' p99"), ("server_cpu_pct", "server %"),
    ("server_wakeups_per_s_per_session", "srv wk/s/sess"),
    ("consoles_cpu_cores", "consoles cores"), ("console_cpu_pct_per_session", "% /sess"),
    ("console_wakeups_per_s_per_session", "con wk/s/sess"), ("hosts_cpu_pct", "hosts %"),
    ("client_cpu_pct", "clients %"), ("server_fds_per_session", "fds/sess"),
    ("pss_mb_per_session", "PSS MiB/sess"), ("loadavg_1m", "load 1m"),
)  # fmt: skip


def _ms(stat: Any, values: list[float]) -> float | None:
    return round(stat(values), 1) if values else None


def steps_table(rows: list[dict[str, Any]]) -> str:
    """The per-step table as Markdown (for the report and the README)."""
    head = "| " + " | ".join(title for _, title in STEP_COLUMNS) + " |"
    rule = "|" + "---|" * len(STEP_COLUMNS)
    body = ["| " + " | ".join(str(r.get(k, "")) for k, _ in STEP_COLUMNS) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def rss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import asyncssh

    with tempfile.TemporaryDirectory(prefix="xenon-ssh-bench-") as tmp:
        work = Path(tmp)
        if args.idle_trace:
            views = args.idle_trace.split(",")
            cols, _, rows = args.idle_size.partition("x")
            return await idle_trace(
                work,
                args.idle_window,
                views,
                profile=args.idle_profile,
                size=(int(cols), int(rows)),
            )
        if args.idle_only:
            return await idle_cpu(work, args.idle_sessions, args.idle_window)
        if args.xe:
            from benchmarks._ssh_xe import run_xe

            return await run_xe(args.runs)
        if args.scale_only:
            return await scale(
                work / "scale",
                args.sessions,
                args.scale_rounds,
                args.scale_timeout,
                typers=args.scale_typers,
                max_sessions=args.max_sessions,
                max_starting=args.max_starting,
                concurrency=args.scale_concurrency,
                bench=args.scale_app == "bench",
            )
        key = asyncssh.generate_private_key("ssh-ed25519")
        (work / "client.pub").write_bytes(key.export_public_key())
        (work / "console.json").write_text('{"servers": []}')
        result: dict[str, Any] = {"runs": args.runs, "busy_sessions": 8}

        for mode in ("zygote",) if args.memory_only else ("zygote", "spawn"):
            progress(f"first frame, {mode} mode, real console, {args.runs} runs")
            server = Server(work, f"ff-{mode}", mode, CONSOLE_APP, args.memory_sessions + 5)
            try:
                stages: dict[str, list[float]] = {}
                samples = await first_frames(server.port, key, CONSOLE_MARKER, args.runs, stages)
                suffix = "" if mode == "zygote" else "_spawn"
                result[f"first_frame_ms{suffix}"] = round(statistics.median(samples), 1)
                result[f"first_frame_p90_ms{suffix}"] = round(pct(samples, 0.9), 1)
                # Where the time goes: medians of login (TCP, key exchange, public-key
                # auth), session (channel, pty, shell), first_byte (fork or spawn to the
                # console's first output) and frame (first output to the whole frame).
                result[f"first_frame_stages_ms{suffix}"] = {
                    name: round(statistics.median(values), 1) for name, values in stages.items()
                }
                count = args.memory_sessions if mode == "zygote" else 10
                progress(f"holding {count} sessions, {mode} mode")
                held, pss = await hold_sessions(
                    server, key, CONSOLE_MARKER, count, zygote=mode == "zygote"
                )
                result[f"pss_mb_per_session{suffix}"] = round(pss, 2)
                if mode == "zygote":
                    result["sessions_memory_measured"] = held
                    # Views are built when first shown: what a session costs once its
                    # user has opened every one (Policy, Advanced, Domains, Performance).
                    progress("holding 10 sessions that open every view, zygote mode")
                    _, pss = await hold_sessions(
                        server, key, CONSOLE_MARKER, 10, zygote=True, keys=VISIT_ALL_VIEWS
                    )
                    result["pss_mb_per_session_all_views"] = round(pss, 2)
                else:
                    result["sessions_spawn_measured"] = held
            finally:
                server.stop()
        if args.memory_only:
            return result

        progress("key latency: idle, then with 8 busy sessions (bench app, zygote)")
        server = Server(work, "keys", "zygote", BENCH_APP, 20)
        try:
            progress("first frame of the small bench app (baseline: the server's own cost)")
            small = await first_frames(server.port, key, BENCH_MARKER, args.runs)
            result["first_frame_ms_small_app"] = round(statistics.median(small), 1)
            result["ssh_connect_ms"] = round(
                statistics.median(await connects(server.port, key, args.runs)), 1
            )
            progress("holding 10 sessions of the small bench app (for comparison)")
            _, small_pss = await hold_sessions(server, key, BENCH_MARKER, 10, zygote=True)
            result["pss_mb_per_session_small_app"] = round(small_pss, 2)
            idle = await key_latency(server.port, key, 0, args.keys)
            busy = await key_latency(server.port, key, 8, args.keys)
        finally:
            server.stop()
        result["key_p50_ms_idle"] = round(statistics.median(idle), 1)
        result["key_p50_ms_busy"] = round(statistics.median(busy), 1)
        result["key_p90_ms_busy"] = round(pct(busy, 0.9), 1)
        result.update(await idle_cpu(work / "idle", args.idle_sessions, args.idle_window))
        n = args.sessions
        progress(f"scale: {n} sessions against the demo")
        result.update(
            await scale(
                work / "scale",
                n,
                args.scale_rounds,
                args.scale_timeout,
                typers=args.scale_typers,
                max_sessions=args.max_sessions,
                max_starting=args.max_starting,
                concurrency=args.scale_concurrency,
                bench=args.scale_app == "bench",
            )
        )
        p99 = result.get(f"key_p99_ms_{n}")
        result["goals"] = {  # issue #16 section 1
            "first_frame_ms": result["first_frame_ms"] <= 100,
            "pss_mb_per_session": result["pss_mb_per_session"] <= 12,
            "pss_mb_per_session_all_views": result["pss_mb_per_session_all_views"] <= 18,
            "sessions": result["sessions"] >= 200,
            f"key_p99_ms_{n}": p99 is not None and p99 <= 50,
            "idle_cpu_pct_per_session": result["idle_cpu_pct_per_session"] <= 0.5,
        }
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ssh")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--sessions", type=int, default=200, help="sessions held against the demo at once"
    )
    parser.add_argument(
        "--memory-sessions", type=int, default=50, help="sessions of the memory measure"
    )
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument(
        "--idle-only", action="store_true", help="only the idle CPU per session (about 2 min)"
    )
    parser.add_argument("--idle-sessions", type=int, default=4)
    parser.add_argument(
        "--idle-trace",
        metavar="VIEWS",
        help="count what one in-process console does while idle on each view (e.g. "
        "policy,domains,violations,perf; benchmarks/_trace.py); results are not saved",
    )
    parser.add_argument(
        "--idle-profile", action="store_true", help="with --idle-trace: cProfile each view"
    )
    parser.add_argument(
        "--idle-size",
        metavar="COLSxROWS",
        default="160x48",
        type=lambda text: text if re.fullmatch(r"\d{2,3}x\d{2,3}", text) else _bad_size(text),
        help="with --idle-trace: the console's screen (the SSH sessions' is 100x30)",
    )
    parser.add_argument(
        "--xe",
        action="store_true",
        help="only the Enterprise view at 1,000 hosts / 10,000 VMs (benchmarks/_ssh_xe.py)",
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only first frame and memory per session (zygote mode)",
    )
    parser.add_argument(
        "--scale-only",
        action="store_true",
        help="only the sessions held against the demo and their key latency",
    )
    parser.add_argument(
        "--scale-rounds", type=int, default=2, help="commands (6 keys each) per typer per step"
    )
    parser.add_argument(
        "--scale-typers", type=int, default=8, help="sessions that type at each step"
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=256,
        help="the scale server's --max-sessions (the product's default is 64)",
    )
    parser.add_argument(
        "--max-starting",
        type=int,
        default=4,
        help="the scale server's --max-starting (consoles starting at once; product default)",
    )
    parser.add_argument(
        "--scale-app",
        choices=("console", "bench"),
        default="console",
        help="what the scale part's sessions run: the console against the demo, or the "
        "small bench app (no hosts: the SSH server's own per-session cost)",
    )
    parser.add_argument(
        "--scale-concurrency",
        type=int,
        default=50,
        help="sessions the scale part's clients open at once (a connect storm)",
    )
    parser.add_argument(
        "--scale-timeout", type=float, default=300.0, help="seconds the scale part may take"
    )
    parser.add_argument("--idle-window", type=float, default=20.0, help="seconds per view")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = asyncio.run(run(args))
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    saved = dict(result)
    if args.idle_trace:
        print(json.dumps(result))
        return 0
    partial = args.idle_only or args.scale_only or args.xe or args.memory_only
    if partial and RESULTS.exists():  # the others as last measured
        saved = {**json.loads(RESULTS.read_text()), **result}
    RESULTS.write_text(json.dumps(saved, indent=2) + "\n")
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
