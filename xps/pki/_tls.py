"""TLS 1.3 contexts for the daemon and its clients (mutual authentication)."""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from xps.pki._errors import PkiFileError, PkiFormatError, PkiInputError
from xps.pki._handshake import ClientContext, ServerContext
from xps.pki._pkcs12 import load_pkcs12

#: The key-exchange groups the daemon and its clients may use, in order of preference.
GROUPS = ("X25519", "P-256", "P-384")


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


def restrict_groups(ctx: ssl.SSLContext) -> tuple[str, ...]:
    """Limits key exchange to :data:`GROUPS` (or a subset); returns the groups allowed.

    ``SSLContext.set_groups`` arrives in Python 3.15. Before it, ``set_ecdh_curve`` is the
    only stdlib knob, and with OpenSSL 3 it sets the group list to exactly one group:
    X25519, the first key share every TLS 1.3 client sends. (Reaching OpenSSL's
    ``SSL_CTX_set1_groups_list`` through ctypes would depend on CPython's private object
    layout; ``OPENSSL_CONF`` is process-wide and must be set before OpenSSL loads.)
    """
    set_groups = getattr(ctx, "set_groups", None)
    if set_groups is not None:
        set_groups(":".join(GROUPS))
        return GROUPS
    try:
        ctx.set_ecdh_curve("X25519")
    except (ssl.SSLError, ValueError):  # an OpenSSL without X25519 (FIPS builds)
        ctx.set_ecdh_curve("prime256v1")
        return ("P-256",)
    return ("X25519",)


def server_context(material: TlsMaterial) -> ssl.SSLContext:
    """A TLS 1.3-only server context that requires and verifies a client certificate.

    Key exchange is limited to :data:`GROUPS` (see :func:`restrict_groups`); no session
    tickets are issued; a refused client receives OpenSSL's alert when the connection
    is upgraded with :func:`xps.pki.server_handshake`.

    Raises:
        PkiError: The material cannot be loaded.
    """
    ctx = ServerContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    # Every connection proves its certificate afresh. OP_NO_TICKET alone still sends
    # TLS 1.3 tickets (stateful ones, from OpenSSL's session cache): num_tickets = 0 stops them.
    ctx.options |= ssl.OP_NO_TICKET
    ctx.num_tickets = 0
    restrict_groups(ctx)
    _load_identity(ctx, material)
    _load_trust(ctx, material)
    return ctx


def client_context(material: TlsMaterial, *, check_hostname: bool = True) -> ssl.SSLContext:
    """A TLS 1.3-only client context presenting a certificate and verifying the server.

    The server must present an end-entity certificate with the serverAuth extended key
    usage (a CA certificate or one without serverAuth is refused after the handshake, as
    a certificate verification error). Key exchange is limited to :data:`GROUPS`.

    Raises:
        PkiError: The material cannot be loaded.
    """
    ctx = ClientContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = check_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    restrict_groups(ctx)
    _load_identity(ctx, material)
    _load_trust(ctx, material)
    return ctx
