"""What a certificate may authenticate: end-entity TLS clients and servers, by EKU."""

from __future__ import annotations

from typing import Literal

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

Purpose = Literal["client", "server"]

_EKU = {"client": ExtendedKeyUsageOID.CLIENT_AUTH, "server": ExtendedKeyUsageOID.SERVER_AUTH}
_EKU_NAME = {"client": "clientAuth", "server": "serverAuth"}


def tls_usage_problem(cert: x509.Certificate, purpose: Purpose) -> str | None:
    """Why ``cert`` cannot authenticate a TLS ``purpose`` peer, or None when it can.

    The peer must hold an end-entity certificate (no basicConstraints ``CA:TRUE``) whose
    extendedKeyUsage names the purpose (``clientAuth`` / ``serverAuth``) explicitly.
    OpenSSL's own purpose check is laxer: it accepts a certificate without the extension,
    and a CA certificate presented as the whole chain (it is its own trust anchor).
    """
    name = _EKU_NAME[purpose]
    try:
        try:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is not None and constraints.ca:
            return f"a CA certificate (basicConstraints CA:TRUE) is not a TLS {purpose} certificate"
        try:
            usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return f"no extendedKeyUsage extension: a TLS {purpose} certificate needs {name}"
    except ValueError:
        return "malformed certificate extensions"
    if _EKU[purpose] not in usages:
        return f"extendedKeyUsage does not include {name}: not a TLS {purpose} certificate"
    return None
