"""Read-only client certificates: refused on the read-write socket, served on the read-only one.

Real TLS against a real daemon; the read-only certificate is issued from the session CA
with ``xenon pki issue NAME --client --read-only`` (run as a subprocess).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from tests._support.xps import FakeHost, XpsPki
from xps.client import NotAuthorized, Xps
from xps.pki import (
    READ_ONLY_POLICY_OID,
    AuthStore,
    CertIdentity,
    PkiInputError,
    is_read_only,
    issue,
    load_cert,
)

REMOTE = ("127.0.0.2", 0)
LOCAL_ONLY = frozenset({"127.0.0.1"})
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def ro_cert(xps_pki: XpsPki, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A read-only client certificate ``console-ro`` issued through the command line."""
    out = tmp_path_factory.mktemp("ro-cert")
    done = subprocess.run(
        [sys.executable, "-m", "xps.cli.pki", "issue", "console-ro", "--client", "--read-only",
         "--dir", str(xps_pki.ca_dir), "--out", str(out), "--json"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["read_only"] is True
    return Path(doc["cert"]), Path(doc["key"])


def _client(pki: XpsPki, port: int, files: tuple[Path, Path], **kwargs: object) -> Xps:
    cert, key = files
    return Xps("127.0.0.1", port, ca=pki.ca, cert=cert, key=key, timeout=5.0, **kwargs)  # type: ignore[arg-type]


def test_read_only_certificate_carries_exactly_the_project_policy(
    ro_cert: tuple[Path, Path], xps_pki: XpsPki
) -> None:
    cert = load_cert(ro_cert[0])
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [READ_ONLY_POLICY_OID]
    assert READ_ONLY_POLICY_OID.dotted_string.startswith("2.25.")
    assert is_read_only(cert)
    assert CertIdentity.from_pem(ro_cert[0].read_bytes()).read_only
    ordinary = load_cert(xps_pki.clients["console"][0])
    assert not is_read_only(ordinary)
    assert not CertIdentity.from_cert(ordinary).read_only


def test_only_client_certificates_can_be_read_only(xps_pki: XpsPki, tmp_path: Path) -> None:
    with pytest.raises(PkiInputError):
        issue(xps_pki.ca_dir, "srv-ro", "server", read_only=True, out_dir=tmp_path)
    assert not (tmp_path / "srv-ro-cert.pem").exists()
    done = subprocess.run(
        [sys.executable, "-m", "xps.cli.pki", "issue", "srv-ro", "--server", "--read-only",
         "--dir", str(xps_pki.ca_dir), "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "read-only" in done.stderr


async def test_read_only_certificate_is_refused_on_read_write_socket_and_others_unaffected(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, ro_cert: tuple[Path, Path]
) -> None:
    rx = await start_xps(fake_host)
    admin = rx.client()
    await admin.connect()
    intruder = _client(xps_pki, rx.rw_port, ro_cert)
    rx.clients.append(intruder)
    with pytest.raises(NotAuthorized) as err:
        await intruder.connect()
    assert err.value.code == "unauthorized"
    log = await rx.wait_log("ReadWrite socket: Closing unauthorized client connection")
    assert "ReadWrite socket: Refusing local client X500Principal CN=console-ro (SHA-256 " in log
    assert "read-only certificate refused on the read-write socket" in log
    # The ordinary console on the same socket still works, mutations included.
    assert await admin.ping() == {"pong": True}
    await admin.call("PauseDomain", domain="EA-domu-1")
    assert fake_host.paused == ["EA-domu-1"]


async def test_read_only_certificate_is_served_on_read_only_socket(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, ro_cert: tuple[Path, Path]
) -> None:
    rx = await start_xps(fake_host)
    viewer = _client(xps_pki, rx.ro_port, ro_cert)
    rx.clients.append(viewer)
    await viewer.connect()
    assert await viewer.ping() == {"pong": True}
    info = await viewer.call("GetHypervisorInfo")
    assert info["backend"] == "sim"
    log = await rx.wait_log("Read-only client certificate X500Principal CN=console-ro")
    assert "ReadOnly socket: Client #" in log
    assert "Refusing" not in log


async def test_authorized_remote_read_only_certificate_still_refused_on_read_write(
    start_xps, fake_host: FakeHost, xps_pki: XpsPki, ro_cert: tuple[Path, Path], tmp_path: Path
) -> None:
    store_path = tmp_path / "authstore.json"
    AuthStore.open(store_path).add("viewer", ro_cert[0].read_bytes())
    rx = await start_xps(fake_host, local_addresses=LOCAL_ONLY, authstore_file=store_path)
    rw = _client(xps_pki, rx.rw_port, ro_cert, local_addr=REMOTE)
    rx.clients.append(rw)
    with pytest.raises(NotAuthorized):
        await rw.connect()
    log = await rx.wait_log("Closing unauthorized client connection from /127.0.0.2")
    assert "Refusing remote client X500Principal CN=console-ro" in log
    ro = _client(xps_pki, rx.ro_port, ro_cert, local_addr=REMOTE)
    rx.clients.append(ro)
    await ro.connect()
    assert await ro.ping() == {"pong": True}
