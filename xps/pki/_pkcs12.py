"""PKCS#12 containers: export a key pair, and load one back as PEM for ``ssl``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from xps.pki._ca import load_cert, load_key
from xps.pki._errors import PkiFormatError, PkiInputError
from xps.pki._files import read_file, write_private


@dataclass(frozen=True, slots=True)
class PemBundle:
    """A private key and its certificate chain as PEM bytes (held in memory only)."""

    key_pem: bytes
    cert_pem: bytes
    chain_pem: bytes


def export_pkcs12(
    key_path: Path,
    cert_path: Path,
    out_path: Path,
    password: str,
    *,
    ca_cert_path: Path | None = None,
    friendly_name: str | None = None,
) -> Path:
    """Writes a password-protected PKCS#12 container (mode 0600).

    Raises:
        PkiInputError: The password is empty or the key does not match the certificate.
        PkiFileError: An input cannot be read or the output cannot be written.
    """
    if not password:
        raise PkiInputError("a PKCS#12 container needs a non-empty password")
    key = load_key(key_path)
    cert = load_cert(cert_path)
    if cert.public_key() != key.public_key():
        raise PkiInputError(f"{key_path} does not match {cert_path}")
    cas = [load_cert(ca_cert_path)] if ca_cert_path else None
    name = (friendly_name or cert_path.stem).encode()
    data = pkcs12.serialize_key_and_certificates(
        name, key, cert, cas, serialization.BestAvailableEncryption(password.encode())
    )
    write_private(out_path, data)
    return out_path


def load_pkcs12(path: Path, password: str) -> PemBundle:
    """Loads a PKCS#12 container into PEM bytes.

    Raises:
        PkiFileError: The file cannot be read.
        PkiFormatError: Not a PKCS#12 container, wrong password, or no key/cert inside.
    """
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(read_file(path), password.encode())
    except ValueError as exc:
        raise PkiFormatError(f"{path}: not a PKCS#12 container or wrong password") from exc
    if key is None or cert is None:
        raise PkiFormatError(f"{path}: the container holds no private key and certificate")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem = serialization.Encoding.PEM
    return PemBundle(
        key_pem=key_pem,
        cert_pem=cert.public_bytes(pem),
        chain_pem=b"".join(c.public_bytes(pem) for c in extra or []),
    )
