"""The XPS front door under hostile load: admission, frames, decoding cost, log lines.

Each test reproduces one finding of issue 10 (item 4) against a real daemon on 127.0.0.1
port 0 with real TLS: a pre-handshake flood (a separate process, ``_flood.py``), a
trickling frame, partial frames filling memory, a 2,000,000-element request, a forged
log line, a lone surrogate, and subscribers that together fall behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import resource
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests._support.xps import FakeHost, RunningXps, XpsPki
from xps.pki import client_context
from xps.protocol import (
    LARGE_REQUEST,
    FrameDecoder,
    ProtocolError,
    encode_frame,
    encode_request,
    parse_request,
    parse_server_message,
    peek_call,
)
from xps.server import BurstLog, escape

FLOOD = Path(__file__).with_name("_flood.py")
ROOT = Path(__file__).resolve().parents[3]


async def _tls_stream(
    rx: RunningXps, pki: XpsPki, *, read_only: bool = False
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    ctx = client_context(pki.client_material())
    port = rx.ro_port if read_only else rx.rw_port
    return await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")


async def _read_frames(reader: asyncio.StreamReader, count: int, wait_s: float = 5) -> list[dict]:
    decoder = FrameDecoder(64 << 20)
    out: list[dict] = []
    async with asyncio.timeout(wait_s):
        while len(out) < count:
            data = await reader.read(65536)
            assert data, "connection closed early"
            out.extend(json.loads(f) for f in decoder.feed(data))
    return out


async def _read_until_closed(reader: asyncio.StreamReader, wait_s: float = 5) -> bytes:
    got = b""
    async with asyncio.timeout(wait_s):
        try:
            while data := await reader.read(65536):
                got += data
        except (ConnectionError, ssl.SSLError):
            pass
    return got


def _raise_nofile(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


class Flood:
    """A running ``_flood.py`` process; ``stats`` once it has stopped."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stats: dict[str, int] = {}


@contextlib.asynccontextmanager
async def _flood(*ports: int, sockets: int, max_connects: int, hello: bool = False,
                 source: str = "127.0.0.1") -> AsyncIterator[Flood]:  # fmt: skip
    argv = [sys.executable, str(FLOOD), "--ports", ",".join(map(str, ports))]
    argv += ["--sockets", str(sockets), "--max-connects", str(max_connects), "--source", source]
    if hello:
        argv.append("--hello")
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    flood = Flood(proc)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            assert await proc.stdout.readline() == b"READY\n"
        yield flood
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            async with asyncio.timeout(30):
                out, _ = await proc.communicate()
            flood.stats = json.loads(out.decode().strip().splitlines()[-1])
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _lines(log: str, *needles: str) -> list[str]:
    return [line for line in log.splitlines() if any(n in line for n in needles)]


# -- 1. pre-handshake flood ------------------------------------------------------------------


@pytest.mark.slow
async def test_a_pre_handshake_flood_never_keeps_a_real_client_out(
    start_xps, fake_host: FakeHost
) -> None:
    """1,100 connections that never start TLS, reopened as fast as they are shed."""
    _raise_nofile(4096)
    rx = await start_xps(fake_host)
    loop = asyncio.get_running_loop()
    admitted: list[float] = []
    async with _flood(rx.rw_port, rx.ro_port, sockets=1100, max_connects=20_000) as flood:
        for attempt in range(6):  # both sockets, like `xenon xps call` 0/6 in the issue
            client = rx.client(read_only=bool(attempt % 2))
            started = loop.time()
            await client.connect()  # TLS handshake, authorization and a Ping
            admitted.append(loop.time() - started)
            assert await client.ping() == {"pong": True}
            await client.close()
            assert rx.server.unauthenticated_count <= rx.config.max_unauthenticated
    assert flood.stats["connects"] >= 1100
    assert flood.stats["closed_by_server"] >= 1100 - rx.config.max_unauthenticated_per_source
    # A liveness bound (the issue: never admitted); ~0.1 s quiet, ~1 s at load 10 here.
    assert max(admitted) < 5.0, admitted
    await rx.server.close()  # ends every burst: its count is written now
    log = rx.log_text()
    assert "too many clients" not in log
    refusals = _lines(log, "Shed", "Refus", "TLS handshake not completed")
    assert 1 <= len(refusals) <= 8, refusals  # not one line per connection
    summaries = [line for line in refusals if "more in the last" in line]
    assert summaries, refusals
    counted = sum(int(m) for m in re.findall(r": (\d+) more in the last", "\n".join(summaries)))
    assert counted >= 500  # the count stands for the lines not written
    assert log.count("Ready for requests") == 6


async def test_silent_connections_of_one_source_never_take_another_sources_place(
    start_xps, fake_host: FakeHost
) -> None:
    rx = await start_xps(
        fake_host, max_unauthenticated=40, max_unauthenticated_per_source=30, handshake_timeout=30
    )
    async with _flood(rx.rw_port, sockets=60, max_connects=200, source="127.0.0.2") as flood:
        async with asyncio.timeout(10):
            while rx.server.unauthenticated_count < 30:  # noqa: ASYNC110 (server state)
                await asyncio.sleep(0.02)
        assert rx.server.unauthenticated_count == 30  # the source's own budget
        async with rx.client() as client:  # from 127.0.0.1
            assert await client.ping() == {"pong": True}
    assert flood.stats["closed_by_server"] >= 30
    log = await rx.wait_log("Shedding unauthenticated connection from /127.0.0.2")
    assert "30 unauthenticated connections from this source (limit 30)" in log


async def test_a_stuck_handshake_source_does_not_delay_another_source(
    start_xps, fake_host: FakeHost
) -> None:
    """Partial ClientHellos hold handshake slots; the per-source share keeps some free."""
    rx = await start_xps(
        fake_host, max_handshakes=4, max_handshakes_per_source=2, handshake_timeout=30
    )
    async with _flood(rx.rw_port, sockets=10, max_connects=10, hello=True, source="127.0.0.2"):
        async with asyncio.timeout(10):
            while rx.server.handshake_count < 2:  # noqa: ASYNC110 (server state)
                await asyncio.sleep(0.02)
        assert rx.server.handshake_count == 2  # 127.0.0.2's share; 8 more wait their turn
        async with rx.client() as client:
            assert await client.ping() == {"pong": True}
        assert rx.server.unauthenticated_count == 10


async def test_a_client_that_does_not_speak_tls_is_closed_before_tls_state_exists(
    start_xps, fake_host: FakeHost
) -> None:
    rx = await start_xps(fake_host)
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", rx.rw_port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await _read_until_closed(reader) == b""
        writer.close()
    assert rx.server.handshake_count == 0
    await rx.server.close()
    log = rx.log_text()
    line = "ReadWrite socket: Closing connection from /127.0.0.1: not a TLS handshake (first byte"
    assert log.count(line) == 1  # then counted: "... 2 more in the last ..."
    assert "did not start TLS: 2 more in the last" in log


# -- 2. slowloris and buffered partial frames --------------------------------------------


async def test_a_trickled_frame_has_one_deadline_for_the_whole_frame(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host, frame_timeout=1.0)
    reader, writer = await _tls_stream(rx, xps_pki)
    writer.write((1000).to_bytes(4, "big"))  # a frame of 1000 bytes ...
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def trickle() -> None:
        while True:  # ... one byte every 0.2 s: each read used to restart the timer
            await asyncio.sleep(0.2)
            writer.write(b" ")
            await writer.drain()

    task = asyncio.create_task(trickle())
    try:
        assert await _read_until_closed(reader, wait_s=8) == b""
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError, ssl.SSLError):
            await task
    assert loop.time() - started < 5  # closed at ~1 s, not kept open while bytes trickle
    log = await rx.wait_log("Dropping incomplete frame")
    assert re.search(r"Dropping incomplete frame \(\d+ bytes after 1s\); closing", log)
    writer.close()


async def test_partial_frames_share_one_memory_budget(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    budget = 1 << 20
    rx = await start_xps(fake_host, max_buffered=budget)
    body = b'{"id":1,"method":"Ping","params":{"pad":"' + b"x" * 900_000 + b'"}}'
    first_r, first_w = await _tls_stream(rx, xps_pki)
    first_w.write(encode_frame(body)[:600_000])  # 600 KB of a 900 KB frame, held
    await first_w.drain()
    async with asyncio.timeout(5):
        while rx.server.buffered_bytes < 590_000:  # noqa: ASYNC110 (server state)
            await asyncio.sleep(0.02)
    second_r, second_w = await _tls_stream(rx, xps_pki)
    second_w.write(encode_frame(body)[:600_000])  # would be 1.2 MB together: refused
    await second_w.drain()
    tail = await _read_until_closed(second_r)
    refusal = parse_server_message(tail[4:])
    assert getattr(refusal, "code", None) == "busy"
    first_w.write(encode_frame(body)[600_000:])  # the first one completes its frame
    (answer,) = await _read_frames(first_r, 1)
    assert answer["id"] == 1 and answer["error"]["code"] == "bad_request"  # too large for Ping
    async with rx.client() as client:
        assert await client.ping() == {"pong": True}
    assert rx.server.buffered_bytes == 0
    log = await rx.wait_log("Dropping partial frame")
    assert f"bytes of partial frames are buffered (limit {budget}); closing" in log
    first_w.close()
    second_w.close()


# -- 3. the cost of one request ------------------------------------------------------------


def _two_million(rid: int, method: str) -> bytes:
    return (
        f'{{"id":{rid},"method":"{method}","params":{{"a":['.encode()
        + b",".join([b"0"] * 2_000_000)
        + b"]}}"
    )


def _send_and_collect(pki: XpsPki, port: int, frames: list[bytes]) -> list[dict]:
    """Sends frames over a blocking TLS socket and reads one answer each (in a thread).

    The attacker's own work (encrypting 4 MB frames) stays off the event loop that runs
    the daemon and the measured client.
    """
    ctx = client_context(pki.client_material())
    decoder = FrameDecoder(64 << 20)
    answers: list[dict] = []
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        for frame in frames:
            tls.sendall(frame)
        while len(answers) < len(frames):
            data = tls.recv(65536)
            assert data, "connection closed early"
            answers.extend(json.loads(f) for f in decoder.feed(data))
    return answers


async def test_a_two_million_element_frame_is_refused_while_others_keep_answering(
    start_xps, xps_pki: XpsPki
) -> None:
    staged: list[Any] = []

    async def stage_policy(**params: Any) -> dict[str, Any]:
        staged.append(params)
        return {"staged": True}

    rx = await start_xps({"StagePolicy": stage_policy})
    read_only_frames = [encode_frame(_two_million(rid, "Ping")) for rid in range(1, 4)]
    stage_frame = encode_frame(_two_million(9, "StagePolicy"))  # decoded only if small
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    async with rx.client() as pinger:
        stop = asyncio.Event()

        async def ping_loop() -> None:
            while not stop.is_set():
                started = loop.time()
                await pinger.ping()
                latencies.append(loop.time() - started)
                await asyncio.sleep(0.005)

        pings = asyncio.create_task(ping_loop())
        await asyncio.sleep(0.2)
        async with asyncio.timeout(60):
            ro_answers, (rw_answer,) = await asyncio.gather(
                # a read-only certificate is enough to send them
                asyncio.to_thread(_send_and_collect, xps_pki, rx.ro_port, read_only_frames),
                asyncio.to_thread(_send_and_collect, xps_pki, rx.rw_port, [stage_frame]),
            )
        await asyncio.sleep(0.2)
        stop.set()
        await pings
    assert [(a["id"], a["error"]["code"]) for a in ro_answers] == [
        (1, "bad_request"),
        (2, "bad_request"),
        (3, "bad_request"),
    ]
    assert "too large for Ping" in ro_answers[0]["error"]["message"]
    assert (rw_answer["id"], rw_answer["error"]["code"]) == (9, "bad_request")
    assert "more than 100000 JSON values" in rw_answer["error"]["message"]
    assert staged == []
    # Liveness only: the other client kept getting answers while the frames arrived. How fast
    # is timing, which this shared machine cannot promise in a test: benchmarks/xps.py measures
    # the p99 (bigframe_ping_p99_ms). That the frames were refused before decoding is what the
    # messages above prove ("more than 100000 JSON values" is counted on the raw bytes).
    assert len(latencies) >= 3, latencies


def test_request_bounds_are_checked_on_the_raw_bytes() -> None:
    def code(payload: bytes, **kw: Any) -> tuple[str, object] | str:
        try:
            parse_request(payload, **kw)
        except ProtocolError as exc:
            return exc.code, exc.request_id
        return "ok"

    items = b",".join([b"0"] * 1500)
    assert code(b'{"id":1,"method":"Ping","params":{"a":[' + items + b"]}}", max_items=1000) == (
        "bad_request",
        1,
    )
    # Commas, brackets and escaped quotes inside strings are not values.
    text = json.dumps({"id": "s", "method": "Ping", "params": {"a": '[,{"\\' * 2000}})
    assert code(text.encode(), max_items=1000) == "ok"
    deep = b'{"id": 4, "method": "Ping", "params": {"a": ' + b"[" * 64 + b"]" * 64 + b"}}"
    assert code(deep) == ("bad_request", 4)
    shallow = b'{"id": 4, "method": "Ping", "params": {"a": ' + b"[" * 62 + b"]" * 62 + b"}}"
    assert code(shallow) == "ok"
    in_string = json.dumps({"id": 5, "method": "Ping", "params": {"a": "[" * 500}}).encode()
    assert code(in_string) == "ok"
    assert peek_call(b'{"id": 7, "method": "StagePolicy", "params": {}}') == (7, "StagePolicy")
    assert peek_call(b'{"method":"Ping","id":"a\\"b"}') == ('a"b', "Ping")
    assert peek_call(b'{"params": {}, "id": 1, "method": "Ping"}') == (None, None)


async def test_large_frames_are_routed_before_they_are_decoded(start_xps, xps_pki: XpsPki) -> None:
    async def stage_policy(**params: Any) -> dict[str, Any]:
        raise AssertionError("never reached")

    rx = await start_xps({"StagePolicy": stage_policy})
    pad = "x" * (LARGE_REQUEST + 10)
    reader, writer = await _tls_stream(rx, xps_pki, read_only=True)
    writer.write(encode_request(1, "StagePolicy", {"xml": pad}))  # mutating, read-only socket
    writer.write(encode_request(2, "NoSuchMethod", {"xml": pad}))
    writer.write(encode_frame(json.dumps({"params": {"a": pad}, "id": 3}).encode()))
    writer.write(encode_request(4, "Ping"))
    frames = await _read_frames(reader, 4)
    assert [(f["id"], f.get("error", {}).get("code")) for f in frames] == [
        (1, "read_only"),
        (2, "unknown_method"),
        (None, "bad_request"),
        (4, None),
    ]
    writer.close()


async def test_pipelined_requests_wait_for_their_answers_to_be_read(
    start_xps, xps_pki: XpsPki
) -> None:
    """200 requests in one read, each answered with 1 MB, by a client that never reads."""
    answered = 0

    async def big() -> dict[str, Any]:
        nonlocal answered
        answered += 1
        return {"blob": "x" * (1 << 20)}

    rx = await start_xps({"GetHypervisorInfo": big}, write_timeout=1.0)
    _reader, writer = await _tls_stream(rx, xps_pki, read_only=True)
    writer.write(b"".join(encode_request(i, "GetHypervisorInfo") for i in range(200)))
    backlog = 0
    async with asyncio.timeout(10):
        while "Client does not read its responses" not in rx.log_text():
            for session in list(rx.server._sessions):
                backlog = max(backlog, session.writer.transport.get_write_buffer_size())
            await asyncio.sleep(0.01)
    assert answered < 20  # it stopped answering when the client stopped reading
    assert backlog < 16 << 20
    writer.close()


# -- 4. log injection ----------------------------------------------------------------------

FORGED = "2026-01-01 00:00:00 INFO - ReadWrite socket: Client #9 (/10.0.0.1): Ready for requests"


async def test_a_forged_log_line_stays_inside_its_own_line(start_xps, xps_pki: XpsPki) -> None:
    async def boom() -> dict[str, Any]:
        raise RuntimeError(f"boom\n{FORGED}")

    rx = await start_xps({"GetHypervisorInfo": boom})
    reader, writer = await _tls_stream(rx, xps_pki)
    writer.write(encode_request(1, f"Ping\n{FORGED}"[:64]))
    writer.write(encode_request(2, "Ping\u202e\u200b\x1b[31m"))
    writer.write(encode_request(3, "GetHypervisorInfo"))
    frames = await _read_frames(reader, 3)
    assert [f["error"]["code"] for f in frames] == ["unknown_method", "unknown_method", "internal"]
    writer.close()
    log = await rx.wait_log("Request GetHypervisorInfo failed")
    assert not [line for line in log.splitlines() if line.startswith("2026-01-01 00:00:00")]
    assert "Received request Ping\\n2026-01-01 00:00:00 INFO - ReadWrite" in log
    assert "Received request Ping\\u202e\\u200b\\x1b[31m" in log
    assert "\u202e" not in log and "\x1b" not in log
    # The traceback keeps its lines, indented: the exception text cannot start a line.
    assert f"    RuntimeError: boom\n    {FORGED}" in log


def test_escape_leaves_printable_text_alone() -> None:
    assert escape("CN=Grüße, O=Xenon") == "CN=Grüße, O=Xenon"
    assert escape("a\r\nb\tc\x00\x7f\x85") == "a\\r\\nb\\tc\\x00\\x7f\\x85"
    assert escape("\u2028\u2066x\u2069\ufeff\ud800\U000e0041") == (
        "\\u2028\\u2066x\\u2069\\ufeff\\ud800\\U000e0041"
    )


def test_burst_log_writes_one_line_then_one_count() -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("tests.front_door.burst")
    logger.propagate = False
    handler = Collect()
    logger.addHandler(handler)
    now = [100.0]
    try:
        burst = BurstLog(logger, window=5.0, clock=lambda: now[0])
        assert burst.event("Shed", "10.0.0.1", logging.WARNING, "Shedding %s", "/10.0.0.1")
        for i in range(999):
            assert not burst.event("Shed", f"10.0.0.{i % 3}", logging.WARNING, "Shedding x")
        burst.flush()
        assert records == ["Shedding /10.0.0.1"]  # the window is still open
        now[0] += 5.0
        burst.flush()
        assert records[1] == (
            "Shed: 999 more in the last 5s from 3 sources "
            "(/10.0.0.0: 333, /10.0.0.1: 333, /10.0.0.2: 333)"
        )
        assert burst.event("Shed", "10.0.0.1", logging.WARNING, "Shedding again")
        burst.flush(force=True)
        assert records[2:] == ["Shedding again"]  # nothing counted: no summary
    finally:
        logger.removeHandler(handler)


# -- 5. lone surrogates ----------------------------------------------------------------------


async def test_a_lone_surrogate_is_a_bad_request_and_the_connection_lives(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host)
    reader, writer = await _tls_stream(rx, xps_pki)
    writer.write(encode_frame(b'{"id": 1, "method": "\\ud800"}'))
    writer.write(encode_frame(b'{"id": "\\udfff", "method": "Ping"}'))
    writer.write(
        encode_frame(b'{"id": 3, "method": "PauseDomain", "params": {"domain": "\\ud800"}}')
    )
    writer.write(encode_frame(b'{"id": "\\ud83d\\ude00", "method": "Ping"}'))  # a valid pair
    frames = await _read_frames(reader, 4)
    assert [(f["id"], f.get("error", {}).get("code")) for f in frames] == [
        (1, "bad_request"),
        (None, "bad_request"),
        (3, "bad_request"),
        ("\U0001f600", None),
    ]
    writer.close()
    await rx.server.close()
    log = rx.log_text()
    assert "lone surrogate" in log
    assert "Traceback" not in log and "Unexpected error" not in log


# -- 6. subscribers falling behind together ------------------------------------------------


async def test_subscribers_share_one_backlog_budget(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host, subscriber_buffer_total=1 << 20)
    stalled = []
    for _ in range(2):
        reader, writer = await _tls_stream(rx, xps_pki, read_only=True)
        writer.write(encode_request(1, "Subscribe"))
        await _read_frames(reader, 1)
        stalled.append(writer)  # ... and never reads again
    async with rx.client() as fast:
        await fast.subscribe(["violations"])
        async with asyncio.timeout(5):
            while len(rx.server.hub) < 3:  # noqa: ASYNC110 (server state)
                await asyncio.sleep(0.01)
        batch = {"violations": [{"seq": i, "blob": "x" * 200} for i in range(300)]}
        received = 0
        for n in range(200):  # ~14 MB: below 16 MiB each, far above 1 MiB together
            fake_host.emit({"event": "violations", "data": {**batch, "n": n}})
            received += len(fast.pending_events())
            await asyncio.sleep(0)
        while received < 200:
            await fast.next_event(5)
            received += 1
    log = await rx.wait_log("for all subscribers together")
    assert "Dropping subscriber that cannot keep up" in log
    assert len(rx.server.hub) <= 1
    for writer in stalled:
        writer.close()


# -- the daemon's process settings -----------------------------------------------------------

_MAPPED_MIB = """
import ctypes, sys
from xps.server._resources import return_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
    )]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "on":
    assert return_freed_memory()
first = bytearray(1 << 20)
del first  # a freed mapping: glibc's dynamic threshold now rises above 256 KiB
before = libc.mallinfo2().hblkhd
buffers = [bytearray(256 * 1024) for _ in range(200)]  # 50 MiB: more than any free list
print((libc.mallinfo2().hblkhd - before) >> 20)
"""


def test_connection_sized_buffers_get_mappings_that_go_back_when_freed() -> None:
    """Each TLS connection's 256 KiB buffer: mapped (unmapped on free), not in the heap."""
    import platform
    import subprocess

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("the dynamic mmap threshold is glibc's")

    def mapped_mib(mode: str) -> int:
        run = subprocess.run(
            [sys.executable, "-c", _MAPPED_MIB, mode],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        if "mallinfo2" in run.stderr:
            pytest.skip("glibc without mallinfo2 (< 2.33)")
        assert run.returncode == 0, run.stderr
        return int(run.stdout.strip())

    assert mapped_mib("off") < 10  # heap memory: freed in the middle, never returned
    assert mapped_mib("on") >= 45


def test_the_daemon_has_descriptors_for_its_limits() -> None:
    from xps.server._resources import raise_fd_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = soft + 1 if hard == resource.RLIM_INFINITY or soft < hard else soft
    try:
        assert raise_fd_limit(want) == want
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == want
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_closed_connection_frees_its_tls_state_without_waiting_for_the_gc(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    """No reference cycle keeps a dead connection's 256 KiB TLS buffer alive.

    Long-lived connections end up in the oldest GC generation, which is collected
    rarely: memory held by a cycle came back long after a burst, if ever.
    """
    import gc
    import weakref

    rx = await start_xps(fake_host)
    gc.collect()
    gc.disable()
    try:
        async with rx.client() as client:
            assert await client.ping() == {"pong": True}
            (session,) = rx.server._sessions
            transport = weakref.ref(session.writer.transport)
            del session
        async with asyncio.timeout(5):
            while rx.server.client_count:  # noqa: ASYNC110 (server state)
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert transport() is None
    finally:
        gc.enable()


def _live_tls_protocols() -> int:
    import asyncio.sslproto
    import gc

    return sum(isinstance(o, asyncio.sslproto.SSLProtocol) for o in gc.get_objects())


async def test_connections_that_end_in_an_error_give_their_memory_back(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused partial frame ends in a failed TLS close: asyncio keeps a cycle.

    The daemon collects after a burst of closed connections (here 4, not 64), so their
    TLS state and buffers do not wait for a full collection that may never come. What
    is left is less than one burst: 12 such connections leave at most 3 uncollected
    (each a server and a client protocol), whatever order the sweeps and closes take.
    """
    import gc

    from xps.server import _daemon

    monkeypatch.setattr(_daemon, "_GC_AFTER_CLOSES", 4)
    monkeypatch.setattr(_daemon, "_GC_INTERVAL_S", 0.0)
    rx = await start_xps(fake_host, max_buffered=1 << 16)
    gc.collect()
    gc.disable()
    try:
        baseline = _live_tls_protocols()
        for _ in range(12):
            reader, writer = await _tls_stream(rx, xps_pki)
            writer.write((200_000).to_bytes(4, "big") + b"x" * 150_000)
            assert b'"busy"' in await _read_until_closed(reader)
            writer.transport.abort()
        del reader, writer
        async with asyncio.timeout(30):
            while _live_tls_protocols() - baseline > 2 * 3:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.05)
    finally:
        gc.enable()
