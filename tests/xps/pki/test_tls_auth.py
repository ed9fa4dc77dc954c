"""Mutual TLS and §3.1.7 authorization against a real daemon.

"Remote" over loopback: the daemon is configured with ``local_addresses={"127.0.0.1"}``
and the client binds its source address to 127.0.0.2, so the daemon sees a non-local
peer without any mocking.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess

import pytest

from tests._support.xps import FakeHost, XpsPki
from xps.client import NotAuthorized, RemoteError, TlsError, Xps
from xps.pki import AuthStore, TlsMaterial, client_context

REMOTE = ("127.0.0.2", 0)
LOCAL_ONLY = frozenset({"127.0.0.1"})


def _no_cert_context(pki: XpsPki) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(pki.ca)
    return ctx


async def test_client_without_certificate_is_refused_and_others_served(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host)
    bad = Xps("127.0.0.1", rx.ro_port, ssl_context=_no_cert_context(xps_pki), timeout=5)
    rx.clients.append(bad)
    good = rx.client(read_only=True)
    await good.connect()
    with pytest.raises(TlsError):
        await bad.connect()
    assert await good.ping() == {"pong": True}
    log = await rx.wait_log("Closing unauthorized client connection from /127.0.0.1")
    assert "catching ssl.SSLError: PEER_DID_NOT_RETURN_A_CERTIFICATE" in log
    assert "Could not determine peer X500Principal" in log
    assert "ReadOnly socket: Closing unauthorized client connection from /127.0.0.1" in log


async def test_certificate_from_untrusted_ca_is_refused(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host)
    rogue = rx.client("rogue")
    with pytest.raises(TlsError):
        await rogue.connect()
    log = await rx.wait_log("Closing unauthorized client connection")
    assert "catching ssl.SSLError: CERTIFICATE_VERIFY_FAILED" in log
    assert "Ready for requests" not in log


async def test_remote_client_needs_the_authorization_store(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, tmp_path
) -> None:
    store_path = tmp_path / "authstore.json"
    rx = await start_xps(fake_host, local_addresses=LOCAL_ONLY, authstore_file=store_path)
    local = rx.client("remote-admin")
    await local.connect()  # same cert from 127.0.0.1: local, always authorized
    remote = rx.client("remote-admin", local_addr=REMOTE)
    with pytest.raises(NotAuthorized) as err:
        await remote.connect()
    assert err.value.code == "unauthorized"
    log = await rx.wait_log("Closing unauthorized client connection from /127.0.0.2")
    assert "Refusing remote client X500Principal CN=remote-admin" in log
    # The operator authorizes it with the store (what `xenon pki authstore add` does) ...
    AuthStore.open(store_path).add("admin", xps_pki.clients["remote-admin"][0].read_bytes())
    await remote.connect()
    assert await remote.ping() == {"pong": True}
    log = await rx.wait_log("(/127.0.0.2): Ready for requests")
    assert "Accepting remote client connection from authorized X500Principal CN=remote-admin" in (
        log
    )
    # ... and another certificate with access to 127.0.0.2 is still refused.
    other = rx.client("console", local_addr=REMOTE)
    with pytest.raises(NotAuthorized):
        await other.connect()
    assert await local.ping() == {"pong": True}


async def test_remote_changes_to_the_store_need_authstore_pass(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, tmp_path
) -> None:
    locked = await start_xps(fake_host, authstore_file=tmp_path / "a.json")
    async with locked.client() as c:
        with pytest.raises(RemoteError) as err:
            await c.add_authorization("admin", xps_pki.clients["remote-admin"][0].read_text())
        assert err.value.code == "authstore_locked"
        assert (await c.list_authorizations())["writable"] is False

    store_path = tmp_path / "b.json"
    rx = await start_xps(
        fake_host,
        local_addresses=LOCAL_ONLY,
        authstore_file=store_path,
        authstore_pass="s3cret-pass",
    )
    async with rx.client() as c:
        pem = xps_pki.clients["remote-admin"][0].read_text()
        added = await c.add_authorization("admin", pem)
        assert added["subject"] == "CN=remote-admin"
        with pytest.raises(RemoteError) as err:
            await c.add_authorization("again", pem)
        assert err.value.code == "authstore_error"
        listed = await c.list_authorizations()
        assert [a["alias"] for a in listed["authorizations"]] == ["admin"]
        assert listed["writable"] is True
        remote = rx.client("remote-admin", local_addr=REMOTE)
        await remote.connect()
        with pytest.raises(RemoteError) as err:  # the read-only socket never mutates
            ro = rx.client(read_only=True)
            await ro.connect()
            await ro.remove_authorization("admin")
        assert err.value.code == "read_only"
        assert (await c.remove_authorization("admin"))["alias"] == "admin"
    assert "secret" not in rx.log_text() and "s3cret" not in rx.log_text()
    doc = json.loads(store_path.read_text())
    assert doc["entries"] == {} and len(doc["mac"]) == 64
    assert store_path.stat().st_mode & 0o777 == 0o600


async def test_tampered_store_authorizes_no_remote_client(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, tmp_path
) -> None:
    store_path = tmp_path / "authstore.json"
    store = AuthStore(store_path, "pw-123456")
    store.load()
    store.add("admin", xps_pki.clients["remote-admin"][0].read_bytes())
    doc = json.loads(store_path.read_text())
    # An attacker with write access swaps in their own certificate, keeping the MAC.
    doc["entries"]["admin"]["pem"] = xps_pki.clients["console"][0].read_text()
    store_path.write_text(json.dumps(doc))
    rx = await start_xps(
        fake_host,
        local_addresses=LOCAL_ONLY,
        authstore_file=store_path,
        authstore_pass="pw-123456",
    )
    for name in ("remote-admin", "console"):
        # No certificate can help a remote peer now: refused at its ClientHello, with
        # the access_denied alert (and nothing about the store told to the peer).
        with pytest.raises(TlsError) as err:
            await rx.client(name, local_addr=REMOTE).connect()
        assert "ACCESS_DENIED" in err.value.message
    log = rx.log_text()
    assert "Authorization store unusable" in log and "integrity check failed" in log
    async with rx.client() as c:  # local clients are unaffected
        assert await c.ping() == {"pong": True}


async def test_pkcs12_keystore_serves_tls(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, tmp_path
):
    from xps.pki import export_pkcs12

    p12 = export_pkcs12(
        xps_pki.server_key,
        xps_pki.server_cert,
        tmp_path / "xps.p12",
        "changeit",
        ca_cert_path=xps_pki.ca,
    )
    rx = await start_xps(
        fake_host, tls=TlsMaterial(ca=xps_pki.ca, keystore=p12, keystore_pass="changeit")
    )
    async with rx.client() as c:
        assert await c.ping() == {"pong": True}


def _s_client(pki: XpsPki, port: int, *, with_cert: bool) -> subprocess.CompletedProcess[str]:
    argv = [
        "openssl",
        "s_client",
        "-tls1_3",
        "-connect",
        f"127.0.0.1:{port}",
        "-CAfile",
        str(pki.ca),
        "-verify_return_error",
        "-ign_eof",
        "-servername",
        "localhost",
    ]
    if with_cert:
        cert, key = pki.clients["console"]
        argv += ["-cert", str(cert), "-key", str(key)]
    ping = b'{"id":1,"method":"Ping","params":{}}'
    frame = len(ping).to_bytes(4, "big") + ping
    return subprocess.run(
        argv, input=frame.decode(), capture_output=True, text=True, timeout=20, check=False
    )


@pytest.mark.needs_tool
async def test_openssl_s_client_is_a_real_peer(start_xps, fake_host: FakeHost, xps_pki: XpsPki):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    import asyncio

    rx = await start_xps(fake_host, idle_timeout=1.0)  # the daemon ends the session
    ok = await asyncio.to_thread(_s_client, xps_pki, rx.rw_port, with_cert=True)
    assert "Protocol  : TLSv1.3" in ok.stdout or "TLSv1.3" in ok.stdout
    assert "Verify return code: 0 (ok)" in ok.stdout
    assert '{"id":1,"result":{"pong":true}}' in ok.stdout
    refused = await asyncio.to_thread(_s_client, xps_pki, rx.rw_port, with_cert=False)
    assert '"pong"' not in refused.stdout
    # The daemon refuses in the handshake with the certificate_required alert
    # (tests/xps/pki/test_tls_hardening.py checks every refusal class and its alert).
    assert any(m in refused.stderr for m in ("errno=", "unexpected eof", "alert"))
    log = await rx.wait_log("Closing unauthorized client connection")
    assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in log


def test_client_context_is_tls13_only(xps_pki: XpsPki) -> None:
    ctx = client_context(xps_pki.client_material())
    assert ctx.minimum_version == ctx.maximum_version == ssl.TLSVersion.TLSv1_3
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
