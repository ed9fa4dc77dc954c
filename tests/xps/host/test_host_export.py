"""Signed policy export from a host, checked by the policy verifier against the CA."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xps.host import Host, HostConfig
from xps.policy import sample_policy, verify_policy


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pki(tmp: Path) -> tuple[Path, Path, bytes]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test CA"))
        .issuer_name(_name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("xenon-1 xps"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_file, cert_file = tmp / "key.pem", tmp / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file, ca.public_bytes(serialization.Encoding.PEM)


async def test_signed_export_verifies_against_the_ca(tmp_path: Path) -> None:
    key_file, cert_file, ca_pem = _pki(tmp_path)
    host = await Host.open(
        HostConfig(
            state_dir=tmp_path / "state",
            stats_interval_s=30.0,
            sign_key=key_file,
            sign_cert=cert_file,
        )
    )
    try:
        out = await host.export_policy(signed=True)
        assert out["signed"] is True
        verified = verify_policy(out["xml"].encode(), ca_pem)
        assert verified.policy == sample_policy()
        template = await host.export_policy(signed=False, template=True)
        assert template["signed"] is False and "template" in template["xml"][:400].lower()
    finally:
        await host.close()
