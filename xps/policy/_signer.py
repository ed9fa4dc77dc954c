"""What a policy-signing certificate must be: one set of rules for signing and verifying.

:func:`signer_problem` is asked by :func:`~xps.policy.sign_policy` before anything is
signed and by :func:`~xps.policy.verify_signature` before the chain is built, so a
signer learns at signing time what every verifier would refuse later. The rules are
the ones the verifier's chain builder (``cryptography.x509.verification``, client
profile, with this package's extension policy) applies to the signing certificate:

- X.509 v3;
- valid at the signing (verification) time;
- not a CA (``basicConstraints`` ``cA`` false or absent);
- ``keyUsage``, when present, allows ``digitalSignature`` (RFC 5280: absent means any);
- no critical extension the verifier does not know;
- signed with SHA-2 RSA (PKCS#1 v1.5 or RSA-PSS with MGF1 of the same hash and a salt
  of the hash's length) or SHA-2 ECDSA;
- a well-formed body: the two signature algorithm fields agree, the serial number is
  a positive integer of at most 20 octets, the issuer is not empty, and validity dates
  before 2050 are UTCTime (RFC 5280 §4.1).

Only what needs the trusted CAs (the chain itself) is left to verification; signing
with ``trust`` runs that too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

__all__ = [
    "CA_SIGNER",
    "NO_DIGITAL_SIGNATURE",
    "is_ca",
    "may_sign",
    "signer_problem",
    "subject_text",
]

NO_DIGITAL_SIGNATURE = "its key usage does not allow digitalSignature"
CA_SIGNER = "a CA certificate may not sign policies"

_HINT = "(`xenon pki issue NAME --client` issues one)"

# Extensions the verifier's extension policy accounts for; any other critical one
# makes it refuse the certificate ("unaccounted-for critical extensions").
_KNOWN = frozenset(
    {
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.EXTENDED_KEY_USAGE,
    }
)


def _algorithm_id(oid: bytes, params: bytes = b"") -> bytes:
    body = b"\x06" + bytes([len(oid)]) + oid + params
    return b"\x30" + bytes([len(body)]) + body


def _pss(hash_last: int, salt: int) -> bytes:
    # RSASSA-PSS-params { hashAlgorithm, maskGenAlgorithm MGF1(same hash), saltLength }.
    sha2 = _algorithm_id(b"\x60\x86\x48\x01\x65\x03\x04\x02" + bytes([hash_last]), b"\x05\x00")
    mgf1 = _algorithm_id(b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x08", sha2)
    params = (
        (b"\xa0" + bytes([len(sha2)]) + sha2 + b"\xa1" + bytes([len(mgf1)]) + mgf1)
        + b"\xa2\x03\x02\x01"
        + bytes([salt])
    )
    return _algorithm_id(
        b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a", b"\x30" + bytes([len(params)]) + params
    )


_RSA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01"
_ECDSA = b"\x2a\x86\x48\xce\x3d\x04\x03"
# DER of every permitted certificate signature algorithm (CA/B BR 7.1.3.2), compared
# byte for byte as the verifier compares them.
_SIGNATURE_ALGORITHMS = frozenset(
    {
        *(_algorithm_id(_RSA + bytes([n]), b"\x05\x00") for n in (11, 12, 13)),
        *(_algorithm_id(_ECDSA + bytes([n])) for n in (2, 3, 4)),
        _pss(1, 32),
        _pss(2, 48),
        _pss(3, 64),
    }
)


def may_sign(ku: x509.KeyUsage | None) -> bool:
    """Whether a ``keyUsage`` (None: absent) allows signing policies."""
    return ku is None or ku.digital_signature


def subject_text(cert: x509.Certificate) -> str:
    """The RFC 4514 subject with control characters escaped as ``\\xNN``.

    A verified document's certificate may be hostile, and these messages reach
    terminals and logs.
    """
    return "".join(
        c if c.isprintable() else f"\\x{ord(c):02x}" for c in cert.subject.rfc4514_string()
    )


def is_ca(bc: x509.BasicConstraints | None) -> bool:
    """Whether ``basicConstraints`` (None: absent) makes a certificate a CA."""
    return bc is not None and bc.ca


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """The DER element at ``pos``: (tag, start of its content, end of its content)."""
    tag, size = data[pos], data[pos + 1]
    pos += 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + size > len(data):
        raise ValueError("truncated DER element")
    return tag, pos, pos + size


def _read_body(der: bytes) -> tuple[bytes, str | None]:
    """The certificate's signature algorithm (DER) and what breaks RFC 5280 §4.1, if any."""
    _tag, start, _end = _tlv(der, 0)
    _tag, tbs, tbs_end = _tlv(der, start)
    _tag, _alg, alg_end = _tlv(der, tbs_end)
    outer = der[tbs_end:alg_end]
    pos = tbs
    tag, _s, end = _tlv(der, pos)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = end
    tag, serial, serial_end = _tlv(der, pos)
    _tag, _s, inner_end = _tlv(der, serial_end)
    _tag, issuer, issuer_end = _tlv(der, inner_end)
    _tag, pos, _validity_end = _tlv(der, issuer_end)
    if outer != der[serial_end:inner_end]:
        return outer, "its two signature algorithm fields differ"
    if tag != 0x02 or not 1 <= serial_end - serial <= 21:
        return outer, "its serial number must be an integer of 1 to 20 octets"
    if der[serial] & 0x80:
        return outer, "its serial number is negative"
    if issuer == issuer_end:
        return outer, "its issuer is empty"
    for _ in range(2):
        tag, t, pos = _tlv(der, pos)
        if tag == 0x18 and 1950 <= int(der[t : t + 4]) <= 2049:
            return outer, "a validity date before 2050 is not encoded as UTCTime"
    return outer, None


def _spki(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _extension(cert: x509.Certificate, kind: type[Any]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def signer_problem(
    cert: x509.Certificate, when: dt.datetime, *, key: Any = None
) -> tuple[str, str] | None:
    """What makes ``cert`` unfit to sign policies at ``when``, or None when it is fit.

    Args:
        cert: The signing certificate (the first of the embedded chain).
        when: Signing or verification time (aware).
        key: The signer's private key, to check that the certificate is its own.

    Returns:
        ``(reason, message)``: ``reason`` completes the ``policy.signature.`` error
        code (``not-v3``, ``expired``, ``not-yet-valid``, ``ca-signer``, ``key-usage``,
        ``critical-extension``, ``certificate-algorithm``, ``certificate``,
        ``key-mismatch``); ``message`` names the certificate and says what is wrong.
    """
    who = f"signing certificate {subject_text(cert)}"
    try:
        version = cert.version
    except x509.InvalidVersion:
        version = None
    if version is not x509.Version.v3:
        got = version.name if version is not None else "of an unknown version"
        return "not-v3", (
            f"{who} is X.509 {got}; policy signatures need an X.509 v3 certificate {_HINT}"
        )
    if key is not None and _spki(key.public_key()) != _spki(cert.public_key()):
        return "key-mismatch", f"{who} does not belong to the private key"
    if when > cert.not_valid_after_utc:
        return "expired", f"{who} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M}Z"
    if when < cert.not_valid_before_utc:
        return "not-yet-valid", (
            f"{who} is not valid until {cert.not_valid_before_utc:%Y-%m-%d %H:%M}Z"
        )
    try:
        extensions = cert.extensions
        ca = is_ca(_extension(cert, x509.BasicConstraints))
        ku = _extension(cert, x509.KeyUsage)
    except (ValueError, x509.DuplicateExtension) as exc:
        return "certificate", f"{who} has a malformed extension: {exc}"
    if ca:
        return "ca-signer", f"{who}: {CA_SIGNER}; sign with a certificate issued by it {_HINT}"
    if not may_sign(ku):
        return "key-usage", f"{who}: {NO_DIGITAL_SIGNATURE} {_HINT}"
    unknown = sorted(
        getattr(e.oid, "_name", None) or e.oid.dotted_string
        for e in extensions
        if e.critical and e.oid not in _KNOWN
    )
    if unknown:
        return "critical-extension", (
            f"{who} has critical extensions a verifier does not accept: {', '.join(unknown)}"
        )
    try:
        algorithm, form = _read_body(cert.public_bytes(serialization.Encoding.DER))
    except (IndexError, ValueError):
        algorithm, form = b"", "its DER encoding cannot be read"
    if form is not None:
        return "certificate", f"{who} is malformed: {form}"
    if algorithm not in _SIGNATURE_ALGORITHMS:
        name = getattr(cert.signature_algorithm_oid, "_name", None)
        return "certificate-algorithm", (
            f"{who} is signed with {name or cert.signature_algorithm_oid.dotted_string}; "
            "verifiers accept only SHA-256/384/512 with RSA, RSA-PSS or ECDSA"
        )
    return None
