"""The identity of a peer certificate: subject plus SHA-256 fingerprint."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from xps.pki._ca import is_read_only
from xps.pki._errors import PkiFormatError
from xps.pki._usage import tls_usage_problem


@dataclass(frozen=True, slots=True)
class CertIdentity:
    """Who a certificate names, and exactly which certificate it is.

    Attributes:
        subject: RFC 4514 subject, e.g. ``CN=console``.
        fingerprint: Lower-case hex SHA-256 of the DER certificate.
        not_after: Expiry as ISO 8601 (UTC).
        read_only: The certificate carries the read-only policy (``READ_ONLY_POLICY_OID``).
        client_problem: Why it cannot authenticate a TLS client (a CA certificate, no
            clientAuth extended key usage), or None when it can.
    """

    subject: str
    fingerprint: str
    not_after: str
    read_only: bool = False
    client_problem: str | None = None

    @classmethod
    def from_cert(cls, cert: x509.Certificate) -> CertIdentity:
        """Builds the identity of a parsed certificate."""
        return cls(
            subject=cert.subject.rfc4514_string(),
            fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
            not_after=cert.not_valid_after_utc.isoformat(),
            read_only=is_read_only(cert),
            client_problem=tls_usage_problem(cert, "client"),
        )

    @classmethod
    def from_der(cls, der: bytes) -> CertIdentity:
        """Builds the identity of a DER certificate (as ``ssl`` returns it).

        Raises:
            PkiFormatError: The bytes are not a certificate.
        """
        try:
            return cls.from_cert(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise PkiFormatError("peer certificate cannot be parsed") from exc

    @classmethod
    def from_pem(cls, pem: bytes) -> CertIdentity:
        """Builds the identity of a PEM certificate.

        Raises:
            PkiFormatError: The bytes are not a PEM certificate.
        """
        try:
            return cls.from_cert(x509.load_pem_x509_certificate(pem))
        except ValueError as exc:
            raise PkiFormatError("not a PEM certificate") from exc
