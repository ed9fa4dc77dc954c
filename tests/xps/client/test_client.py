"""The async client: timeouts, typed errors, connection states, reconnect with back-off."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests._support.xps import FakeHost, XpsPki
from xps.client import (
    ConnectionLost,
    ConnectionState,
    RemoteError,
    Timeout,
    TlsError,
    Xps,
)


async def _slow_stats() -> dict:
    await asyncio.sleep(3)
    return {}


async def test_call_timeout_leaves_the_connection_usable(start_xps) -> None:
    rx = await start_xps({"GetStats": _slow_stats})
    async with rx.client(timeout=0.3) as c:
        with pytest.raises(Timeout):
            await c.get_stats()
        assert c.connected
    # Requests on one connection are served in order, so use a fresh one.
    async with rx.client(timeout=5) as c:
        assert await c.ping() == {"pong": True}


async def test_untrusted_server_is_a_tls_error(start_xps, xps_pki: XpsPki) -> None:
    rx = await start_xps(FakeHost())
    cert, key = xps_pki.clients["console"]
    c = Xps("127.0.0.1", rx.rw_port, ca=xps_pki.rogue_ca, cert=cert, key=key, timeout=5)
    with pytest.raises(TlsError) as err:
        await c.connect()
    assert "CERTIFICATE_VERIFY_FAILED" in err.value.message
    await c.close()


async def test_hostname_is_verified(start_xps, xps_pki: XpsPki) -> None:
    rx = await start_xps(FakeHost())
    cert, key = xps_pki.clients["console"]
    c = Xps(
        "127.0.0.1",
        rx.rw_port,
        ca=xps_pki.ca,
        cert=cert,
        key=key,
        server_hostname="other-host.example",
    )
    with pytest.raises(TlsError):
        await c.connect()
    await c.close()


async def test_nothing_listening_is_connection_lost(xps_pki: XpsPki) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cert, key = xps_pki.clients["console"]
    c = Xps("127.0.0.1", port, ca=xps_pki.ca, cert=cert, key=key)
    with pytest.raises(ConnectionLost):
        await c.connect()
    with pytest.raises(ConnectionLost):
        await c.ping()
    await c.close()
    assert c.state is ConnectionState.CLOSED


async def test_reconnects_and_renews_the_subscription(start_xps) -> None:
    first_host = FakeHost()
    first = await start_xps(first_host)
    port = first.rw_port
    seen: list[ConnectionState] = []
    connected = asyncio.Event()
    lost = asyncio.Event()

    def on_state(state: ConnectionState) -> None:
        seen.append(state)
        if state is ConnectionState.CONNECTED:
            connected.set()
        elif state is ConnectionState.DISCONNECTED:
            lost.set()

    c = first.client(reconnect=True, max_backoff=0.2, on_state=on_state)
    await c.connect()
    await c.subscribe(["violations"])
    connected.clear()
    await first.server.close()
    async with asyncio.timeout(5):
        await lost.wait()
    with pytest.raises(ConnectionLost):
        await c.ping()
    second_host = FakeHost()
    await start_xps(second_host, listen=("127.0.0.1", port))
    async with asyncio.timeout(10):
        await connected.wait()
    assert await c.ping() == {"pong": True}
    second_host.emit({"event": "violations", "data": {"violations": [{"seq": 1}]}})
    event = await c.next_event(5)
    assert event.data["violations"] == [{"seq": 1}]
    assert seen[:3] == [
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
        ConnectionState.DISCONNECTED,
    ]
    assert seen[-1] is ConnectionState.CONNECTED


async def test_states_iterator_ends_on_close(start_xps) -> None:
    rx = await start_xps(FakeHost())
    c = rx.client()
    states: list[ConnectionState] = []

    async def watch() -> None:
        async for state in c.states():
            states.append(state)

    task = asyncio.create_task(watch())
    await asyncio.sleep(0)
    await c.connect()
    await c.close()
    await asyncio.wait_for(task, 5)
    assert states == [
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
        ConnectionState.CLOSED,
    ]


async def test_remote_error_carries_details(start_xps) -> None:
    from xps.host import PolicyInvalid

    async def stage_policy(xml: str | None, policy: dict | None) -> dict:
        raise PolicyInvalid("2 errors", details=[{"code": "XP014"}, {"code": "XP001"}])

    rx = await start_xps({"StagePolicy": stage_policy})
    async with rx.client() as c:
        with pytest.raises(RemoteError) as err:
            await c.stage_policy(xml="<policy/>")
    assert err.value.code == "policy_invalid"
    assert err.value.details == [{"code": "XP014"}, {"code": "XP001"}]


async def test_a_connect_cancelled_during_authentication_drops_the_connection(
    start_xps, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A caller's timeout (or a pool shutting down) cancels connect() after TLS is up but
    # before the server answered Ping: the half-open stream is closed at once, never left
    # to the garbage collector ("unclosed StreamWriter" seen in the XE propagation tests).
    rx = await start_xps(FakeHost())
    c = rx.client()
    ping_sent = asyncio.Event()
    real_call = c._call

    async def stalled(method: str, params: dict) -> dict:
        if method == "Ping":
            ping_sent.set()
            await asyncio.sleep(30)
        return await real_call(method, params)

    monkeypatch.setattr(c, "_call", stalled)
    task = asyncio.create_task(c.connect())
    await asyncio.wait_for(ping_sent.wait(), 10)
    writer = c._writer
    assert writer is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert c._writer is None and writer.transport.is_closing()
