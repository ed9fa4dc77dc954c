"""TLS 1.3 contexts for the daemon and its clients (mutual authentication)."""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from xps.pki._errors import PkiFileError, PkiFormatError, PkiInputError
from xps.pki._pkcs12 import load_pkcs12


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """Where a side's TLS identity and trust anchors come from.

    Either ``cert`` + ``key`` (PEM files) or ``keystore`` (PKCS#12 with
    ``keystore_pass``); ``ca`` is the trust store (PEM bundle) that peers are verified
    against.
    """

    ca: Path
    cert: Path | None = None
    key: Path | None = None
    keystore: Path | None = None
    keystore_pass: str | None = field(default=None, repr=False)


def _load_identity(ctx: ssl.SSLContext, material: TlsMaterial) -> None:
    if material.keystore is not None:
        bundle = load_pkcs12(material.keystore, material.keystore_pass or "")
        # ssl can only load a chain from files: a private 0700 directory that lives for
        # the duration of one call, so the decrypted key never sits on disk for long.
        with tempfile.TemporaryDirectory(prefix="xps-p12-") as tmp:
            key_path = Path(tmp) / "key.pem"
            cert_path = Path(tmp) / "cert.pem"
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(bundle.key_pem)
            cert_path.write_bytes(bundle.cert_pem + bundle.chain_pem)
            try:
                ctx.load_cert_chain(cert_path, key_path)
            except ssl.SSLError as exc:
                raise PkiFormatError(f"{material.keystore}: unusable key pair") from exc
            finally:
                with contextlib.suppress(OSError):
                    key_path.unlink()
        return
    if material.cert is None or material.key is None:
        raise PkiInputError("TLS needs a certificate and key, or a PKCS#12 keystore")
    try:
        ctx.load_cert_chain(material.cert, material.key)
    except FileNotFoundError as exc:
        raise PkiFileError(f"cannot read {exc.filename}") from exc
    except ssl.SSLError as exc:
        raise PkiFormatError(f"{material.cert}/{material.key}: unusable key pair") from exc


def _load_trust(ctx: ssl.SSLContext, material: TlsMaterial) -> None:
    try:
        ctx.load_verify_locations(cafile=material.ca)
    except FileNotFoundError as exc:
        raise PkiFileError(f"cannot read trust store {material.ca}") from exc
    except ssl.SSLError as exc:
        raise PkiFormatError(f"{material.ca}: not a PEM certificate bundle") from exc


def server_context(material: TlsMaterial) -> ssl.SSLContext:
    """A TLS 1.3-only server context that requires and verifies a client certificate.

    Raises:
        PkiError: The material cannot be loaded.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.options |= ssl.OP_NO_TICKET  # every connection proves its certificate afresh
    _load_identity(ctx, material)
    _load_trust(ctx, material)
    return ctx


def client_context(material: TlsMaterial, *, check_hostname: bool = True) -> ssl.SSLContext:
    """A TLS 1.3-only client context presenting a certificate and verifying the server.

    Raises:
        PkiError: The material cannot be loaded.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    _load_identity(ctx, material)
    _load_trust(ctx, material)
    return ctx
