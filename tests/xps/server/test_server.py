"""The daemon end to end over real mutual TLS: requests, errors, read-only socket, events."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests._support.xps import FakeHost
from xps.client import ConnectionLost, ConnectionState, RemoteError
from xps.server import PORTS_FILE, ListenError


async def test_ping_and_host_method(start_xps, fake_host: FakeHost) -> None:
    rx = await start_xps(fake_host)
    async with rx.client() as c:
        assert await c.ping() == {"pong": True}
        info = await c.get_hypervisor_info()
        assert info["xen_version"] == "4.19-sim"
        assert await c.get_log_msgs(limit=2) == {"lines": ["line 0", "line 1"]}
    log = await rx.wait_log("Done handling requests, closing socket")
    assert "ReadWrite socket: Accepting authorized client connection from /127.0.0.1" in log
    assert "ReadWrite socket: Client #1 (/127.0.0.1): Ready for requests" in log
    assert "ReadWrite socket: Client #1 (/127.0.0.1): Received request GetHypervisorInfo" in log
    assert "X500Principal CN=console" in log


async def test_ports_file_names_the_bound_ports(start_xps, fake_host: FakeHost) -> None:
    rx = await start_xps(fake_host)
    ports_file = rx.config.state_dir / PORTS_FILE
    assert ports_file.stat().st_mode & 0o777 == 0o600
    doc = json.loads(ports_file.read_text())
    assert doc["read_write"] == rx.rw_port != 0
    assert doc["read_only"] == rx.ro_port != 0
    log = rx.log_text()
    assert f"ReadWrite socket: Listening on 127.0.0.1:{rx.rw_port}" in log
    assert f"ReadOnly socket: Listening on 127.0.0.1:{rx.ro_port}" in log


async def test_read_only_socket_refuses_mutating_requests(start_xps, fake_host: FakeHost) -> None:
    rx = await start_xps(fake_host)
    async with rx.client(read_only=True) as c:
        with pytest.raises(RemoteError) as err:
            await c.pause_domain("EA-domu-1")
        assert err.value.code == "read_only"
        assert "read-only socket" in err.value.message
        assert fake_host.paused == []
        # Read-only requests still work on the same connection.
        assert (await c.get_hypervisor_info())["backend"] == "sim"
    async with rx.client() as c:
        assert await c.pause_domain("EA-domu-1") == {"domid": 1, "run_state": "paused"}
    assert fake_host.paused == ["EA-domu-1"]
    assert "ReadOnly socket: Client #1 (/127.0.0.1): Refused request PauseDomain" in rx.log_text()


async def test_errors_have_stable_codes(start_xps, fake_host: FakeHost) -> None:
    rx = await start_xps(fake_host)
    async with rx.client() as c:
        with pytest.raises(RemoteError) as err:
            await c.call("NoSuchMethod")
        assert err.value.code == "unknown_method"
        with pytest.raises(RemoteError) as err:
            await c.get_stats()  # in the protocol, but FakeHost has no handler
        assert err.value.code == "unknown_method"
        with pytest.raises(RemoteError) as err:
            await c.call("GetLogMsgs", limit="ten")
        assert err.value.code == "invalid_params"
        with pytest.raises(RemoteError) as err:
            await c.call("GetLogMsgs", limit=10, extra=1)
        assert err.value.code == "invalid_params"
        with pytest.raises(RemoteError) as err:
            await c.pause_domain("missing")
        assert (err.value.code, err.value.message) == ("not_found", "no domain 'missing'")
        with pytest.raises(RemoteError) as err:
            await c.get_violations()
        assert (err.value.code, err.value.message) == ("internal", "internal server error")
        assert await c.ping() == {"pong": True}


async def test_subscribers_receive_pushed_events(start_xps, fake_host: FakeHost) -> None:
    rx = await start_xps(fake_host)
    async with rx.client() as a, rx.client(read_only=True) as b:
        assert await a.subscribe() == ["acks", "domain", "policy", "stats", "violations"]
        assert await b.subscribe(["violations"]) == ["violations"]
        batch = {"violations": [{"seq": 1, "domid": 3}], "last_seq": 1, "dropped": 0}
        fake_host.emit({"event": "domain", "data": {"domid": 3, "run_state": "paused"}})
        fake_host.emit({"event": "violations", "data": batch})
        first = await a.next_event(5)
        second = await a.next_event(5)
        assert (first.event, first.data["run_state"]) == ("domain", "paused")
        assert (second.event, second.data) == ("violations", batch)
        only = await b.next_event(5)
        assert (only.event, only.data) == ("violations", batch)
        await a.unsubscribe()
        fake_host.emit({"event": "violations", "data": batch})
        assert (await b.next_event(5)).event == "violations"
        await a.ping()  # the response arrives after any event written before it
        assert a.pending_events() == []


async def test_subscribe_rejects_unknown_event_names(start_xps, fake_host: FakeHost) -> None:
    rx = await start_xps(fake_host)
    async with rx.client() as c:
        with pytest.raises(RemoteError) as err:
            await c.subscribe(["violations", "gossip"])
        assert err.value.code == "invalid_params"


async def test_server_close_disconnects_clients(start_xps, fake_host: FakeHost) -> None:
    rx = await start_xps(fake_host)
    lost = asyncio.Event()
    c = rx.client(on_state=lambda s: lost.set() if s is ConnectionState.DISCONNECTED else None)
    await c.connect()
    await rx.server.close()
    async with asyncio.timeout(5):
        await lost.wait()
    with pytest.raises(ConnectionLost):
        await c.ping()


async def test_port_in_use_is_a_listen_error(start_xps, fake_host: FakeHost) -> None:
    rx = await start_xps(fake_host)
    with pytest.raises(ListenError) as err:
        await start_xps(fake_host, listen=("127.0.0.1", rx.rw_port))
    assert err.value.code == "listen_failed"
    assert f"cannot listen on 127.0.0.1:{rx.rw_port}" in err.value.message


def test_secrets_stay_out_of_reprs(xps_pki) -> None:
    from dataclasses import replace

    from xps.pki import TlsMaterial
    from xps.server import ServerConfig

    config = ServerConfig(
        state_dir=xps_pki.ca_dir,
        tls=TlsMaterial(ca=xps_pki.ca, keystore=xps_pki.ca, keystore_pass="ks-secret"),
        authstore_pass="store-secret",
    )
    assert "secret" not in repr(config) and "secret" not in repr(replace(config))
