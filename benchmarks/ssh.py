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

``--scale-only`` measures only ``sessions`` and ``key_p99_ms_N``: ``--sessions N`` (200)
consoles of the headless demo held at once, then keys typed in each while all stay
connected (see :func:`scale`); bounded by ``--scale-timeout`` seconds. The full run ends
with the same part.
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
                "--per-source-penalties", "off"]  # fmt: skip
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


async def _idle_window(sessions: list[tuple[Session, list[int]]], window_s: float) -> list[float]:
    """% of one core each session's processes used over ``window_s`` (no key pressed)."""
    start = [sum(session_cpu_s(p) for p in pids) for _, pids in sessions]
    began = time.monotonic()
    await asyncio.sleep(window_s)
    spent = time.monotonic() - began
    end = [sum(session_cpu_s(p) for p in pids) for _, pids in sessions]
    return [round((b - a) / spent * 100, 3) for a, b in zip(start, end, strict=True)]


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
        for view, view_key in IDLE_VIEWS.items():
            for session, _ in held:
                session.proc.stdin.write(view_key)
            await asyncio.sleep(3.0)  # the view is built and filled
            samples = await _idle_window(held, window_s)
            per_view[view] = statistics.median(samples)
            progress(f"idle CPU, {view} view: {samples} % of a core per session")
        for task in drains:
            task.cancel()
        await asyncio.gather(*(s.close() for s, _ in held))
    finally:
        demo.stop()
    result["idle_cpu_pct_per_view"] = per_view
    result["idle_cpu_pct_per_session"] = round(statistics.median(per_view.values()), 3)
    result["idle_cpu_sessions"] = sessions
    result["idle_cpu_window_s"] = window_s
    return result


# -- many sessions against the demo --------------------------------------------------------

# A key and what its answer shows first: ``:`` opens the command line (its placeholder);
# Esc closes it again.
SCALE_KEY = (b":", b"Esc cancels")
# Heavier keys: the Policy view's title line, then the Violations log's column header
# (neither is drawn while the other view is shown).
SCALE_PROBES = ((b"2", b"active policy"), (b"5", b"Hypercall"))


async def _open_console(port: int, key: Any) -> Session:
    """A session at its first frame that has shown each probe's view once (the Policy view
    is built when first shown: not what a key costs afterwards)."""
    session = await Session.open(port, key)
    await session.wait_for(CONSOLE_MARKER, timeout=120)
    for view_key, marker in SCALE_PROBES:
        session.buffer.clear()
        session.proc.stdin.write(view_key)
        await session.wait_for(marker, timeout=120)
    return session


async def scale(
    work: Path, count: int, rounds: int, budget_s: float = 900.0, batch: int = 10
) -> dict[str, Any]:
    """``count`` sessions held at once, each a console of the headless demo's three hosts
    (live workload); then, while all stay connected, ``rounds`` times three keys in every
    session, one session after the other: ``2`` shows the Policy view, ``5`` the
    Violations log again (the time until the view's first line arrives: ``view_p50/p99``),
    ``:`` opens the command line (until its placeholder arrives: ``key_p50/p99``), Esc.

    Keys: ``sessions`` (consoles that reached their first frame and were still held at the
    end), ``key_p50_ms_<count>``, ``key_p99_ms_<count>``, ``view_p50_ms_<count>``,
    ``view_p99_ms_<count>``, ``key_timeouts_<count>`` (no answer within 10 s), memory per
    session, the CPU of the consoles and of the server
    while the keys were typed, and the load average.

    Bounded by ``budget_s``: no batch is opened after 60 % of it, nor after a batch took
    more than a minute to reach its first frames (the machine is saturated: ``sessions``
    then says how many it held); the keys stop when the budget is spent. The consoles'
    CPU over 10 s with no key (``consoles_idle_cpu_cores_<count>``) tells what limits the
    count on this machine."""
    import random

    import asyncssh

    os.makedirs(work, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519")
    (work / "client.pub").write_bytes(key.export_public_key())
    progress("scale: starting a headless demo (three sim hosts, live workload)")
    demo = Demo(work)
    result: dict[str, Any] = {}
    sessions: list[Session] = []
    readers: list[asyncio.Task[None]] = []
    server = Server(work, "scale", "zygote", CONSOLE_APP, count + 5, demo.console_file)
    try:
        await asyncio.sleep(1.0)
        before = tree_pss_mib(server.proc.pid)
        opened = time.perf_counter()
        deadline = time.monotonic() + budget_s
        failures = 0
        for start in range(0, count, batch):
            if time.monotonic() > deadline - 0.4 * budget_s:
                progress(f"scale: out of time to open more after {len(sessions)} sessions")
                break
            batch_began = time.monotonic()
            got = await asyncio.gather(
                *(_open_console(server.port, key) for _ in range(min(batch, count - start))),
                return_exceptions=True,
            )
            for item in got:
                if isinstance(item, Session):
                    sessions.append(item)
                    readers.append(asyncio.create_task(item.keep_reading()))
                else:
                    failures += 1
                    progress(f"scale: a session did not start: {item!r}")
            batch_s = time.monotonic() - batch_began
            progress(f"scale: {len(sessions)} sessions at their first frame ({batch_s:.1f} s)")
            result[f"last_batch_first_frames_s_{count}"] = round(batch_s, 1)
            if batch_s > 60:
                progress("scale: the machine is saturated; no more sessions are opened")
                break
        result[f"open_s_{count}"] = round(time.perf_counter() - opened, 1)
        await asyncio.sleep(5.0)  # start-up work of the last consoles done
        consoles = [p for p in descendants(server.proc.pid) if p != server.proc.pid]
        quiet_before = sum(session_cpu_s(p) for p in consoles)
        quiet_server = session_cpu_s(server.proc.pid)
        quiet_began = time.monotonic()
        await asyncio.sleep(10.0)
        quiet_s = time.monotonic() - quiet_began
        result[f"consoles_idle_cpu_cores_{count}"] = round(
            (sum(session_cpu_s(p) for p in consoles) - quiet_before) / quiet_s, 2
        )
        result[f"server_idle_cpu_pct_{count}"] = round(
            (session_cpu_s(server.proc.pid) - quiet_server) / quiet_s * 100, 1
        )
        cpu_before = sum(session_cpu_s(p) for p in consoles)
        server_before = session_cpu_s(server.proc.pid)
        client_before = time.process_time()  # this process: the 200 clients' side
        began = time.monotonic()
        samples: list[float] = []
        view_samples: list[float] = []
        timeouts = 0
        for n in range(rounds):
            order = list(sessions)
            random.shuffle(order)
            for session in order:
                if time.monotonic() > deadline:
                    break
                for probe, (view_key, marker) in enumerate((*SCALE_PROBES, SCALE_KEY)):
                    if session.proc.channel.is_closing():
                        break
                    try:
                        async with asyncio.timeout(10):
                            took = await session.answer(view_key, marker)
                        (view_samples if probe < len(SCALE_PROBES) else samples).append(took)
                    except TimeoutError:
                        timeouts += 1
                if not session.proc.channel.is_closing():
                    session.proc.stdin.write(b"\x1b")  # closes the command line
                    if len(sessions) < 20:  # its next key must not join the Esc (Alt+key)
                        await asyncio.sleep(0.3)
            progress(f"scale: round {n + 1}/{rounds}, key p99 so far {pct(samples, 0.99):.1f} ms")
        spent = time.monotonic() - began
        load = os.getloadavg()
        cpu = sum(session_cpu_s(p) for p in consoles) - cpu_before
        held = sum(1 for s in sessions if not s.proc.channel.is_closing())
        after = tree_pss_mib(server.proc.pid)
        result.update({
            "sessions": held,
            f"sessions_failed_{count}": failures,
            f"key_p50_ms_{count}": round(statistics.median(samples), 1) if samples else None,
            f"key_p99_ms_{count}": round(pct(samples, 0.99), 1) if samples else None,
            f"key_samples_{count}": len(samples),
            f"view_p50_ms_{count}": round(statistics.median(view_samples), 1)
            if view_samples
            else None,
            f"view_p99_ms_{count}": round(pct(view_samples, 0.99), 1) if view_samples else None,
            f"key_timeouts_{count}": timeouts,
            f"pss_mb_per_session_{count}": round((after - before) / max(1, len(sessions)), 2),
            f"consoles_cpu_cores_{count}": round(cpu / spent, 2),
            f"server_cpu_pct_{count}": round(
                (session_cpu_s(server.proc.pid) - server_before) / spent * 100, 1
            ),
            f"client_cpu_pct_{count}": round(
                (time.process_time() - client_before) / spent * 100, 1
            ),
            f"loadavg_{count}": [round(x, 2) for x in load],
        })  # fmt: skip
        progress(f"scale: {result}")
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        server.stop()
        demo.stop()
    return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import asyncssh

    with tempfile.TemporaryDirectory(prefix="xenon-ssh-bench-") as tmp:
        work = Path(tmp)
        if args.idle_only:
            return await idle_cpu(work, args.idle_sessions, args.idle_window)
        if args.xe:
            from benchmarks._ssh_xe import run_xe

            return await run_xe(args.runs)
        if args.scale_only:
            return await scale(work / "scale", args.sessions, args.scale_rounds, args.scale_timeout)
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
        result.update(await scale(work / "scale", n, args.scale_rounds, args.scale_timeout))
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
    parser.add_argument("--scale-rounds", type=int, default=3, help="keys per session")
    parser.add_argument(
        "--scale-timeout", type=float, default=900.0, help="seconds the scale part may take"
    )
    parser.add_argument("--idle-window", type=float, default=20.0, help="seconds per view")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = asyncio.run(run(args))
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    saved = dict(result)
    partial = args.idle_only or args.scale_only or args.xe or args.memory_only
    if partial and RESULTS.exists():  # the others as last measured
        saved = {**json.loads(RESULTS.read_text()), **result}
    RESULTS.write_text(json.dumps(saved, indent=2) + "\n")
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
