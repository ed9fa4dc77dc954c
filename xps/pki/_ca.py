"""A local certificate authority: create it, issue server and client certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xps.pki._errors import PkiFormatError, PkiInputError
from xps.pki._files import read_file, write_private

KeyType = Literal["p256", "rsa3072"]
Role = Literal["server", "client"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CA_KEY = "ca-key.pem"
CA_CERT = "ca-cert.pem"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The certificatePolicies OID that marks a client certificate as read-only. It lives in the
# 2.25 (UUID) arc of ITU-T X.667, which needs no registration; the daemon relies on exactly
# this OID and nothing else (not the subject, not the key usage).
READ_ONLY_POLICY_OID = x509.ObjectIdentifier("2.25.326072427545701694862342164397396168246")
#: Default and maximum validity of an issued (leaf) certificate: the CA/Browser Forum's
#: limit for TLS server certificates since 2020-09-01 (Baseline Requirements 6.3.2).
LEAF_MAX_DAYS = 398
_DNS_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_*]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


@dataclass(frozen=True, slots=True)
class IssuedFiles:
    """Paths of an issued key pair.

    Attributes:
        key: The private key (PEM, PKCS#8, mode 0600).
        cert: The certificate (PEM).
        ca_cert: The CA certificate that signed it.
    """

    key: Path
    cert: Path
    ca_cert: Path


def check_name(name: str) -> str:
    """Returns ``name`` if it is a safe file stem / alias, else raises PkiInputError."""
    if not _NAME_RE.match(name):
        raise PkiInputError(f"invalid name {name!r}: use 1-64 of A-Z a-z 0-9 . _ -")
    return name


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise PkiInputError(f"unknown key type {key_type!r} (p256 or rsa3072)")


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def parse_sans(values: list[str]) -> list[x509.GeneralName]:
    """Turns host names and IP addresses into subjectAltName entries.

    Raises:
        PkiInputError: A value is neither an IP address nor a valid DNS name.
    """
    names: list[x509.GeneralName] = []
    for value in values:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
            continue
        except ValueError:
            pass
        if not _DNS_RE.match(value):
            raise PkiInputError(f"invalid subjectAltName {value!r}")
        names.append(x509.DNSName(value))
    return names


def load_cert(path: Path) -> x509.Certificate:
    """Loads one PEM certificate.

    Raises:
        PkiFileError: The file cannot be read.
        PkiFormatError: It is not a PEM certificate.
    """
    try:
        return x509.load_pem_x509_certificate(read_file(path))
    except ValueError as exc:
        raise PkiFormatError(f"{path} is not a PEM certificate") from exc


def load_key(path: Path) -> PrivateKey:
    """Loads an unencrypted PEM private key usable for signing.

    Raises:
        PkiFileError: The file cannot be read.
        PkiFormatError: It is not a supported unencrypted private key.
    """
    try:
        key = serialization.load_pem_private_key(read_file(path), password=None)
    except (ValueError, TypeError) as exc:
        raise PkiFormatError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiFormatError(f"{path}: only EC and RSA keys are supported")
    return key


def is_read_only(cert: x509.Certificate) -> bool:
    """True when ``cert`` carries the read-only certificate policy (:data:`READ_ONLY_POLICY_OID`).

    Raises:
        PkiFormatError: The certificatePolicies extension is malformed.
    """
    try:
        ext = cert.extensions.get_extension_for_class(x509.CertificatePolicies)
    except x509.ExtensionNotFound:
        return False
    except ValueError as exc:
        raise PkiFormatError("malformed certificatePolicies extension") from exc
    return any(info.policy_identifier == READ_ONLY_POLICY_OID for info in ext.value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def init_ca(
    directory: Path,
    *,
    common_name: str = "Xenon Local CA",
    key_type: KeyType = "p256",
    days: int = 3650,
    force: bool = False,
) -> IssuedFiles:
    """Creates a self-signed CA in ``directory`` (``ca-key.pem``, ``ca-cert.pem``).

    Args:
        directory: Where the CA lives; created if needed.
        common_name: Subject CN of the CA.
        key_type: ``p256`` or ``rsa3072``.
        days: Validity in days.
        force: Replace an existing CA (otherwise refuse).

    Raises:
        PkiInputError: A CA already exists and ``force`` is false, or bad arguments.
    """
    if not 1 <= days <= 36500:
        raise PkiInputError("days must be between 1 and 36500")
    key_path, cert_path = directory / CA_KEY, directory / CA_CERT
    if key_path.exists() and not force:
        raise PkiInputError(f"a CA already exists in {directory} (use force to replace)")
    key = _new_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            # No digitalSignature: the CA key signs certificates and CRLs only, and OpenSSL's
            # purpose check then refuses the CA certificate itself as a TLS peer during the
            # handshake (it has no extendedKeyUsage, which OpenSSL would otherwise accept).
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    write_private(key_path, _key_pem(key))
    write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return IssuedFiles(key=key_path, cert=cert_path, ca_cert=cert_path)


def issue(
    ca_dir: Path,
    name: str,
    role: Role,
    *,
    sans: list[str] | None = None,
    key_type: KeyType = "p256",
    days: int = LEAF_MAX_DAYS,
    out_dir: Path | None = None,
    read_only: bool = False,
    allow_long_validity: bool = False,
) -> IssuedFiles:
    """Issues a key pair and certificate for a server or a client.

    Writes ``NAME-key.pem`` (0600) and ``NAME-cert.pem`` into ``out_dir`` (default the CA
    directory).

    Args:
        ca_dir: Directory made by :func:`init_ca`.
        name: Subject CN and file stem.
        role: ``server`` (serverAuth) or ``client`` (clientAuth).
        sans: Host names and IP addresses for subjectAltName (servers default to
            ``NAME``, ``localhost``, ``127.0.0.1`` and ``::1``).
        key_type: ``p256`` or ``rsa3072``.
        days: Validity in days (at most :data:`LEAF_MAX_DAYS` unless
            ``allow_long_validity``).
        out_dir: Output directory.
        read_only: Mark a client certificate read-only (certificatePolicies
            :data:`READ_ONLY_POLICY_OID`): daemons refuse it on their read-write socket.
        allow_long_validity: Allow ``days`` above :data:`LEAF_MAX_DAYS` (up to 36500).

    Raises:
        PkiInputError: Bad name, SAN, role or key type, ``read_only`` for a server, or a
            validity above :data:`LEAF_MAX_DAYS` without ``allow_long_validity``.
        PkiFileError: The CA cannot be read or the output cannot be written.
    """
    check_name(name)
    if role not in ("server", "client"):
        raise PkiInputError(f"role must be server or client, not {role!r}")
    if read_only and role != "client":
        raise PkiInputError("only client certificates can be read-only")
    if not 1 <= days <= 36500:
        raise PkiInputError("days must be between 1 and 36500")
    if days > LEAF_MAX_DAYS and not allow_long_validity:
        raise PkiInputError(
            f"a certificate valid for {days} days exceeds {LEAF_MAX_DAYS} days, the "
            "CA/Browser Forum limit for TLS certificates; ask for it explicitly to issue it"
        )
    ca_key = load_key(ca_dir / CA_KEY)
    ca_cert = load_cert(ca_dir / CA_CERT)
    if sans is None:
        sans = [name, "localhost", "127.0.0.1", "::1"] if role == "server" else []
    alt_names = parse_sans(sans)
    key = _new_key(key_type)
    eku = ExtendedKeyUsageOID.SERVER_AUTH if role == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if read_only:
        policy = x509.PolicyInformation(READ_ONLY_POLICY_OID, None)
        builder = builder.add_extension(x509.CertificatePolicies([policy]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    out = out_dir or ca_dir
    key_path, cert_path = out / f"{name}-key.pem", out / f"{name}-cert.pem"
    write_private(key_path, _key_pem(key))
    write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return IssuedFiles(key=key_path, cert=cert_path, ca_cert=ca_dir / CA_CERT)
