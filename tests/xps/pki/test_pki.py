"""PKI: CA, issued certificates, PKCS#12, the authorization store, atomic private files."""

from __future__ import annotations

import json
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from xps.pki import (
    AuthStore,
    AuthStoreError,
    AuthStoreLocked,
    AuthStoreTampered,
    CertIdentity,
    PkiFormatError,
    PkiInputError,
    export_pkcs12,
    init_ca,
    issue,
    load_cert,
    load_pkcs12,
)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ca_and_server_certificate(tmp_path) -> None:
    ca = init_ca(tmp_path, common_name="Test CA")
    assert _mode(ca.key) == 0o600
    with pytest.raises(PkiInputError):
        init_ca(tmp_path)  # never silently replaces a CA
    srv = issue(tmp_path, "xps-host1", "server", sans=["xps.example.org", "10.0.0.5", "::1"])
    cert = load_cert(srv.cert)
    assert _mode(srv.key) == 0o600
    assert cert.issuer.rfc4514_string() == "CN=Test CA"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["xps.example.org"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5", "::1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    cert.verify_directly_issued_by(load_cert(ca.cert))


def test_rsa3072_client_certificate(tmp_path) -> None:
    init_ca(tmp_path)
    cli = issue(tmp_path, "laptop", "client", key_type="rsa3072")
    cert = load_cert(cli.cert)
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 3072
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize("name", ["", "../evil", "a b", "x" * 65, "-lead"])
def test_bad_names_are_refused(tmp_path, name: str) -> None:
    init_ca(tmp_path)
    with pytest.raises(PkiInputError):
        issue(tmp_path, name, "client")


def test_bad_san_is_refused(tmp_path) -> None:
    init_ca(tmp_path)
    with pytest.raises(PkiInputError):
        issue(tmp_path, "srv", "server", sans=["not a host!"])


def test_pkcs12_round_trip(tmp_path) -> None:
    init_ca(tmp_path)
    srv = issue(tmp_path, "srv", "server")
    out = export_pkcs12(srv.key, srv.cert, tmp_path / "srv.p12", "pw", ca_cert_path=srv.ca_cert)
    assert _mode(out) == 0o600
    bundle = load_pkcs12(out, "pw")
    assert bundle.cert_pem == srv.cert.read_bytes()
    assert b"BEGIN PRIVATE KEY" in bundle.key_pem and b"BEGIN CERTIFICATE" in bundle.chain_pem
    with pytest.raises(PkiFormatError):
        load_pkcs12(out, "wrong")
    with pytest.raises(PkiInputError):
        export_pkcs12(srv.key, srv.cert, tmp_path / "x.p12", "")


def test_authstore_add_remove_and_mac(tmp_path) -> None:
    init_ca(tmp_path)
    a = issue(tmp_path, "a", "client").cert.read_bytes()
    b = issue(tmp_path, "b", "client").cert.read_bytes()
    path = tmp_path / "store.json"
    store = AuthStore.open(path, "pw")
    store.add("alice", a)
    store.add("bob", b)
    with pytest.raises(AuthStoreError):
        store.add("alice", b)
    assert _mode(path) == 0o600
    again = AuthStore.open(path, "pw")
    assert [e.alias for e in again.entries()] == ["alice", "bob"]
    fp = CertIdentity.from_pem(a).fingerprint
    assert again.is_authorized(fp) and again.alias_of(fp) == "alice"
    with pytest.raises(AuthStoreTampered):
        AuthStore.open(path, "wrong password")
    # Without the password the store can be read but not changed.
    readonly = AuthStore.open(path)
    assert readonly.is_authorized(fp)
    with pytest.raises(AuthStoreLocked):
        readonly.remove("alice")
    doc = json.loads(path.read_text())
    del doc["entries"]["bob"]
    path.write_text(json.dumps(doc))
    with pytest.raises(AuthStoreTampered):
        AuthStore.open(path, "pw")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_authstore_refuses_garbage(tmp_path) -> None:
    path = tmp_path / "store.json"
    path.write_text("[1, 2]")
    with pytest.raises(PkiFormatError):
        AuthStore.open(path)
    store = AuthStore.open(tmp_path / "new.json")
    with pytest.raises(PkiFormatError):
        store.add("x", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
