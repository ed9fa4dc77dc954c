"""Hostile and heavy clients: bad frames, slowloris, slow subscribers, 200 clients at once."""

from __future__ import annotations

import asyncio
import json
import ssl

from tests._support.xps import FakeHost, RunningXps, XpsPki
from xps.pki import client_context
from xps.protocol import FrameDecoder, encode_frame, encode_request, parse_server_message


async def _tls_stream(
    rx: RunningXps, pki: XpsPki, *, read_only: bool = False
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    ctx = client_context(pki.client_material())
    port = rx.ro_port if read_only else rx.rw_port
    return await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")


async def _read_frames(reader: asyncio.StreamReader, count: int) -> list[dict]:
    decoder = FrameDecoder(64 << 20)
    out: list[dict] = []
    async with asyncio.timeout(5):
        while len(out) < count:
            data = await reader.read(65536)
            assert data, "connection closed early"
            out.extend(json.loads(f) for f in decoder.feed(data))
    return out


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    got = b""
    async with asyncio.timeout(5):
        try:
            while data := await reader.read(65536):
                got += data
        except (ConnectionError, ssl.SSLError):
            pass
    return got


async def test_malformed_frames_get_errors_and_the_connection_survives(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host)
    reader, writer = await _tls_stream(rx, xps_pki)
    writer.write(encode_frame(b"{not json"))
    writer.write(encode_frame(b'["a", "list"]'))
    writer.write(encode_frame(b'{"id": 7, "method": 5}'))
    writer.write(encode_frame(b'{"id": 8, "method": "Ping", "params": []}'))
    writer.write(encode_frame(b"\xff\xfe"))
    writer.write(
        encode_frame(json.dumps({"id": 9, "method": "Ping", "params": {"unknown": 1}}).encode())
    )
    nested = "[" * 200 + "]" * 200
    writer.write(
        encode_frame(f'{{"id": 10, "method": "Ping", "params": {{"a": {nested}}}}}'.encode())
    )
    writer.write(encode_request(11, "Ping"))
    frames = await _read_frames(reader, 8)
    codes = [(f["id"], f.get("error", {}).get("code")) for f in frames]
    assert codes == [
        (None, "bad_request"),
        (None, "bad_request"),
        (7, "bad_request"),
        (8, "bad_request"),
        (None, "bad_request"),
        (9, "invalid_params"),
        (10, "bad_request"),
        (11, None),
    ]
    assert frames[-1]["result"] == {"pong": True}
    writer.close()
    log = rx.log_text()
    assert log.count("Dropping malformed request") == 6


async def test_oversized_frame_closes_the_connection(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host, max_frame=4096)
    reader, writer = await _tls_stream(rx, xps_pki)
    writer.write((1 << 20).to_bytes(4, "big") + b"x" * 100)
    tail = await _read_until_closed(reader)
    msg = parse_server_message(tail[4:])
    assert getattr(msg, "code", None) == "frame_too_large"
    log = await rx.wait_log("Done handling requests")
    assert "Dropping frame: frame of 1048576 bytes exceeds the limit of 4096; closing" in log
    async with rx.client() as c:
        assert await c.ping() == {"pong": True}
    writer.close()


async def test_slowloris_frame_is_dropped_while_others_are_served(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host, frame_timeout=0.3)
    reader, writer = await _tls_stream(rx, xps_pki)
    writer.write(b"\x00\x00\x01\x00")  # a header announcing 256 bytes, then nothing
    async with rx.client() as c:
        assert await c.ping() == {"pong": True}
    assert await _read_until_closed(reader) == b""
    log = await rx.wait_log("Dropping incomplete frame")
    assert "Dropping incomplete frame (0 bytes after 0.3s); closing" in log
    writer.close()


async def test_unfinished_tls_handshake_is_dropped(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host, handshake_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", rx.ro_port)
    writer.write(b"\x16\x03\x01")  # the start of a ClientHello, never finished
    async with rx.client(read_only=True) as c:
        assert await c.ping() == {"pong": True}
    assert await _read_until_closed(reader) == b""
    log = await rx.wait_log("TLS handshake not completed")
    want = "ReadOnly socket: TLS handshake not completed within 0.3s; closing connection from"
    assert f"{want} /127.0.0.1" in log
    writer.close()


async def test_slow_subscriber_is_dropped_and_never_slows_others(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host, subscriber_buffer=256 * 1024)
    _reader, writer = await _tls_stream(rx, xps_pki, read_only=True)
    writer.write(encode_request(1, "Subscribe"))  # ... and never reads again
    async with rx.client() as fast:
        await fast.subscribe(["violations"])
        async with asyncio.timeout(5):
            while len(rx.server.hub) < 2:  # noqa: ASYNC110 (server state, no event to wait on)
                await asyncio.sleep(0.01)
        payload = {"violations": [{"seq": i, "blob": "x" * 200} for i in range(300)]}
        received = 0
        for n in range(300):  # ~18 MB in total
            fake_host.emit({"event": "violations", "data": {**payload, "n": n}})
            while ev := fast.pending_events():
                received += len(ev)
            await asyncio.sleep(0)
        while received < 300:
            await fast.next_event(5)
            received += 1
        assert received == 300
        assert await fast.ping() == {"pong": True}
    log = await rx.wait_log("Dropping subscriber that cannot keep up")
    assert "ReadOnly socket: Client #1 (/127.0.0.1): Dropping subscriber" in log
    writer.close()


async def test_two_hundred_concurrent_clients(start_xps, fake_host: FakeHost) -> None:
    rx = await start_xps(fake_host)
    clients = [rx.client(read_only=bool(i % 2), timeout=30) for i in range(200)]
    sem = asyncio.Semaphore(50)  # bounded handshake concurrency: 2 shared cores

    async def one(c):
        async with sem:
            await c.connect()
        return await c.get_hypervisor_info()

    results = await asyncio.gather(*(one(c) for c in clients))
    assert len(results) == 200 and all(r["backend"] == "sim" for r in results)
    assert rx.server.client_count == 200
    again = await asyncio.gather(*(c.ping() for c in clients))
    assert again == [{"pong": True}] * 200
    for c in clients:
        await c.close()
    log = await rx.wait_log("Client #200 ")
    assert log.count("Ready for requests") == 200
