"""The XPS front door against hostile TLS peers (issue 10, item 4).

Refusals reach the client as the TLS alert of their class (or, after the handshake, an
error frame naming it and a clean close_notify) and the log names the same class; client
certificates must be end-entity clientAuth certificates, server certificates serverAuth;
key exchange is limited to X25519 / P-256 / P-384; no session tickets; leaf certificates
live at most 398 days unless asked; crash recovery of the policy store reaches the log file.

``openssl s_client`` is the independent peer where the issue names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests._support.xps import FakeHost, XpsPki
from xps.client import NotAuthorized, TlsError, Xps
from xps.pki import (
    CA_CERT,
    CA_KEY,
    LEAF_MAX_DAYS,
    AuthStore,
    AuthStoreError,
    PkiInputError,
    TlsMaterial,
    client_context,
    init_ca,
    issue,
    load_cert,
    restrict_groups,
)
from xps.protocol import encode_request

ROOT = Path(__file__).resolve().parents[3]
PING = b'{"id":1,"method":"Ping","params":{}}'
PING_FRAME = len(PING).to_bytes(4, "big") + PING

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


# -- certificates the project's PKI would not issue --------------------------------------


def _write_pair(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
):
    cert_path, key_path = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _leaf(
    ca_dir: Path,
    directory: Path,
    name: str,
    *,
    eku: list[x509.ObjectIdentifier] | None,
    not_after: dt.datetime | None = None,
    sans: tuple[str, ...] = (),
) -> tuple[Path, Path]:
    """A leaf signed by the CA in ``ca_dir``; ``eku=None`` leaves the extension out."""
    ca_cert = load_cert(ca_dir / CA_CERT)
    ca_key = serialization.load_pem_private_key((ca_dir / CA_KEY).read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(not_after or now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if sans:
        names = [x509.DNSName(s) for s in sans]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return _write_pair(directory, name, builder.sign(ca_key, hashes.SHA256()), key)


def _legacy_ca(directory: Path) -> Path:
    """A CA made the way ``xenon pki init`` made them before: digitalSignature set."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Legacy CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = _write_pair(directory, "ca", cert, key)
    cert_path.rename(directory / CA_CERT)
    key_path.rename(directory / CA_KEY)
    return directory


# -- openssl s_client ---------------------------------------------------------------------


def _s_client(
    port: int, ca: Path, cert: Path | None = None, key: Path | None = None, *extra: str
) -> subprocess.CompletedProcess[bytes]:
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(ca)]
    argv += ["-tls1_3", "-ign_eof", "-servername", "localhost", *extra]
    if cert is not None and key is not None:
        argv += ["-cert", str(cert), "-key", str(key)]
    return subprocess.run(argv, input=PING_FRAME, capture_output=True, timeout=30, check=False)


async def _s_client_async(
    port: int, ca: Path, cert: Path | None = None, key: Path | None = None, *extra: str
) -> subprocess.CompletedProcess[bytes]:
    return await asyncio.to_thread(_s_client, port, ca, cert, key, *extra)


# -- 1. refusals name their reason ---------------------------------------------------------


@pytest.mark.needs_tool
@needs_openssl
async def test_refusals_in_the_handshake_send_the_alert_of_their_class(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, tmp_path: Path
) -> None:
    expired = _leaf(
        xps_pki.ca_dir,
        tmp_path,
        "expired",
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
        not_after=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
    )
    server_cert = (xps_pki.server_cert, xps_pki.server_key)  # serverAuth only
    rx = await start_xps(fake_host)
    cases = [
        ("no certificate", None, "alert certificate required", "certificate_required"),
        ("untrusted CA", xps_pki.clients["rogue"], "alert unknown ca", "unknown_ca"),
        ("expired", expired, "alert certificate expired", "certificate_expired"),
        ("server cert", server_cert, "alert unsupported certificate", "unsupported_certificate"),
    ]
    for what, pair, client_sees, logged in cases:
        cert, key = pair if pair is not None else (None, None)
        done = await _s_client_async(rx.rw_port, xps_pki.ca, cert, key)
        stderr = done.stderr.decode(errors="replace")
        assert client_sees in stderr, (what, stderr)
        assert "unexpected eof" not in stderr, what
        assert b"pong" not in done.stdout, what
        await rx.wait_log(f"(TLS alert {logged})")
    assert "Ready for requests" not in rx.log_text()


async def test_python_client_reports_the_alert(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host)
    rogue = rx.client("rogue")
    with pytest.raises(TlsError) as err:
        await rogue.connect()
    assert "UNKNOWN_CA" in err.value.message  # not "closed the connection (refused?)"
    good = rx.client()
    await good.connect()
    assert await good.ping() == {"pong": True}


@pytest.mark.needs_tool
@needs_openssl
async def test_a_remote_peer_without_an_authorization_store_gets_access_denied_at_hello(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    # 127.0.0.1 is "remote" here, and no authorization store is configured: no certificate
    # can help, so the daemon refuses at the ClientHello, where an alert can still be sent.
    rx = await start_xps(fake_host, local_addresses=frozenset({"127.0.0.2"}))
    cert, key = xps_pki.clients["console"]
    done = await _s_client_async(rx.rw_port, xps_pki.ca, cert, key)
    stderr = done.stderr.decode(errors="replace")
    assert "alert access denied" in stderr and "unexpected eof" not in stderr
    assert b"pong" not in done.stdout
    log = await rx.wait_log("Closing unauthorized client connection")
    assert (
        "catching ssl.SSLError: remote client refused: no authorization store configured "
        "(TLS alert access_denied)"
    ) in log
    client = rx.client()
    with pytest.raises(TlsError) as err:
        await client.connect()
    assert "ACCESS_DENIED" in err.value.message


@pytest.mark.needs_tool
@needs_openssl
async def test_access_denied_after_the_handshake_is_named_and_closed_cleanly(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, tmp_path: Path
) -> None:
    # Remote, with an (empty) authorization store: the certificate decides, so the refusal
    # comes after the handshake, where no alert can be sent any more.
    rx = await start_xps(
        fake_host,
        local_addresses=frozenset({"127.0.0.2"}),
        authstore_file=tmp_path / "authstore.json",
    )
    cert, key = xps_pki.clients["console"]
    done = await _s_client_async(rx.rw_port, xps_pki.ca, cert, key)
    stdout, stderr = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    assert '"code":"unauthorized"' in stdout and "access_denied" in stdout
    assert "unexpected eof" not in stderr  # close_notify, not a bare EOF
    log = await rx.wait_log("Closing unauthorized client connection")
    assert "Refusing remote client X500Principal CN=console" in log
    assert ": access_denied: certificate is not in the authorization store" in log


# -- 2. end-entity certificates with the right extended key usage -------------------------


async def test_the_ca_certificate_is_refused_as_a_client_in_the_handshake(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    rx = await start_xps(fake_host)
    ca_as_client = Xps(
        "127.0.0.1",
        rx.rw_port,
        ca=xps_pki.ca,
        cert=xps_pki.ca_dir / CA_CERT,
        key=xps_pki.ca_dir / CA_KEY,
        timeout=5,
    )
    rx.clients.append(ca_as_client)
    with pytest.raises(TlsError) as err:
        await ca_as_client.connect()
    assert "UNSUPPORTED_CERTIFICATE" in err.value.message
    log = await rx.wait_log("(TLS alert unsupported_certificate)")
    assert "Ready for requests" not in log


async def test_a_ca_with_digital_signature_is_refused_after_the_handshake(
    start_xps, fake_host: FakeHost, tmp_path: Path
) -> None:
    """A CA from before this change passes OpenSSL's purpose check; the daemon refuses it."""
    ca_dir = _legacy_ca(tmp_path / "legacy")
    server = issue(ca_dir, "xps-server", "server")
    no_eku = _leaf(ca_dir, tmp_path, "no-eku", eku=None)
    material = TlsMaterial(ca=server.ca_cert, cert=server.cert, key=server.key)
    rx = await start_xps(fake_host, tls=material)
    for name, cert, key in [
        ("CA", ca_dir / CA_CERT, ca_dir / CA_KEY),
        ("no-eku", *no_eku),
    ]:
        client = Xps("127.0.0.1", rx.rw_port, ca=server.ca_cert, cert=cert, key=key, timeout=5)
        rx.clients.append(client)
        with pytest.raises(NotAuthorized) as err:
            await client.connect()
        assert "unsupported_certificate" in err.value.message, name
    log = rx.log_text()
    assert "CN=Legacy CA (SHA-256" in log and "a CA certificate (basicConstraints CA:TRUE)" in log
    assert "no extendedKeyUsage extension" in log
    assert "Ready for requests" not in log
    ok = issue(ca_dir, "console", "client")
    good = Xps("127.0.0.1", rx.rw_port, ca=server.ca_cert, cert=ok.cert, key=ok.key, timeout=5)
    rx.clients.append(good)
    await good.connect()
    assert await good.ping() == {"pong": True}


async def test_the_client_requires_server_auth_of_the_server(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, tmp_path: Path
) -> None:
    # Signed by the trusted CA, names localhost, but says nothing about serverAuth.
    cert, key = _leaf(xps_pki.ca_dir, tmp_path, "no-eku-server", eku=None, sans=("localhost",))
    rx = await start_xps(fake_host, tls=TlsMaterial(ca=xps_pki.ca, cert=cert, key=key))
    client = rx.client(server_hostname="localhost")
    with pytest.raises(TlsError) as err:
        await client.connect()
    assert "CERTIFICATE_VERIFY_FAILED" in err.value.message


def test_the_authorization_store_refuses_what_the_daemon_would(
    xps_pki: XpsPki, tmp_path: Path
) -> None:
    store = AuthStore.open(tmp_path / "authstore.json")
    with pytest.raises(AuthStoreError) as err:
        store.add("ca", (xps_pki.ca_dir / CA_CERT).read_bytes())
    assert "basicConstraints CA:TRUE" in err.value.message
    with pytest.raises(AuthStoreError) as err:
        store.add("server", xps_pki.server_cert.read_bytes())
    assert "clientAuth" in err.value.message
    assert store.add("console", xps_pki.clients["console"][0].read_bytes()).alias == "console"


# -- 3. key-exchange groups -----------------------------------------------------------------


@pytest.mark.needs_tool
@needs_openssl
async def test_only_x25519_p256_p384_are_negotiated(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki
) -> None:
    allowed = restrict_groups(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    assert set(allowed) <= {"X25519", "P-256", "P-384"} and allowed
    rx = await start_xps(fake_host, idle_timeout=1.0)
    cert, key = xps_pki.clients["console"]
    for group in ("X25519", "P-256", "P-384", "X448", "P-521", "ffdhe2048"):
        done = await _s_client_async(rx.rw_port, xps_pki.ca, cert, key, "-groups", group)
        out = done.stdout.decode(errors="replace")
        if group in allowed:
            assert '"pong":true' in out, (group, done.stderr)
        else:
            assert "pong" not in out, group
            assert "alert handshake failure" in done.stderr.decode(errors="replace"), group
    assert "X25519" in allowed or "P-256" in allowed  # what every client offers first


# -- 4. no session tickets -----------------------------------------------------------------


async def test_no_session_ticket_is_issued(start_xps, fake_host: FakeHost, xps_pki: XpsPki):
    rx = await start_xps(fake_host)
    ctx = client_context(xps_pki.client_material())
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", rx.rw_port, ssl=ctx, server_hostname="localhost"
    )
    try:
        writer.write(encode_request(1, "Ping", {}))
        header = await asyncio.wait_for(reader.readexactly(4), 10)
        body = await asyncio.wait_for(reader.readexactly(int.from_bytes(header, "big")), 10)
        assert json.loads(body)["result"] == {"pong": True}
        # Tickets come right after the handshake, before any response: all read by now.
        session = writer.get_extra_info("ssl_object").session
        assert session is None or not session.has_ticket
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 5)


# -- 5. leaf lifetimes ---------------------------------------------------------------------


def test_leaf_certificates_default_to_398_days_and_longer_must_be_asked(tmp_path: Path):
    ca = init_ca(tmp_path)
    leaf = issue(tmp_path, "console", "client")
    cert = load_cert(leaf.cert)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert LEAF_MAX_DAYS == 398
    assert dt.timedelta(days=398) <= lifetime <= dt.timedelta(days=398, minutes=6)
    with pytest.raises(PkiInputError) as err:
        issue(tmp_path, "server", "server", days=825)
    assert "398" in err.value.message and "CA/Browser Forum" in err.value.message
    long = load_cert(issue(tmp_path, "server", "server", days=825, allow_long_validity=True).cert)
    assert long.not_valid_after_utc - long.not_valid_before_utc > dt.timedelta(days=824)
    ca_cert = load_cert(ca.cert)  # the CA keeps its ten years
    assert ca_cert.not_valid_after_utc - ca_cert.not_valid_before_utc > dt.timedelta(days=3649)


def test_xenon_pki_issue_refuses_long_lifetimes_unless_asked(tmp_path: Path) -> None:
    def pki(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "xps.cli.pki", *argv, "--dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert pki("init").returncode == 0
    refused = pki("issue", "laptop", "--client", "--days", "825")
    assert refused.returncode == 1 and "CA/Browser Forum" in refused.stderr
    assert not (tmp_path / "laptop-cert.pem").exists()
    asked = pki("issue", "laptop", "--client", "--days", "825", "--allow-long-validity")
    assert asked.returncode == 0, asked.stderr
    default = pki("issue", "desk", "--client")
    assert default.returncode == 0, default.stderr
    cert = load_cert(tmp_path / "desk-cert.pem")
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 398


# -- 6. crash recovery reaches the log file -------------------------------------------------


class _Crash(Exception):
    pass


def _crash_at(step: str):
    def checkpoint(name: str) -> None:
        if name == step:
            raise _Crash(name)

    return checkpoint


@pytest.mark.parametrize(
    ("step", "logged"),
    [
        ("journal", "interrupted activation of generation 1 (initial policy, SHA-256 "),
        ("incoming", "interrupted activation discarded (it had not reached its commit point)"),
    ],
)
async def test_policy_store_recovery_is_written_to_the_daemon_log(
    xps_pki: XpsPki, tmp_path: Path, step: str, logged: str
) -> None:
    from xps.host._policystore import PolicyStore
    from xps.policy import sample_policy, serialize_policy
    from xps.server import ServerConfig, run_daemon

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    with pytest.raises(_Crash):
        PolicyStore(state, checkpoint=_crash_at(step)).activate(
            serialize_policy(sample_policy()), "initial"
        )
    config = ServerConfig(
        state_dir=state,
        tls=xps_pki.server_material(),
        listen=("127.0.0.1", 0),
        ro_listen=("127.0.0.1", 0),
        log_stderr=False,
        stats_interval_s=60.0,
    )
    stop = asyncio.Event()
    daemon = asyncio.create_task(run_daemon(config, stop=stop))
    try:
        async with asyncio.timeout(30):
            while not (state / "ports").exists():
                assert not daemon.done(), daemon
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(daemon, 30)
    log = config.resolved_log_file.read_text(encoding="utf-8")
    assert "Policy store: " + logged in log
    if step == "journal":
        assert "rolled forward: it is the active policy" in log
