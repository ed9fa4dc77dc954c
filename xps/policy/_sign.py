"""Signed policy export: enveloped XML-DSig with an X.509 signer chained to a trusted CA."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification as xv
from lxml import etree
from signxml import exceptions as sx_errors
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from ._errors import PolicyError
from ._model import Policy
from ._signer import (
    CA_SIGNER,
    NO_DIGITAL_SIGNATURE,
    is_ca,
    may_sign,
    signer_problem,
    subject_text,
)
from ._xmlsafe import XmlProblem, parse_untrusted

__all__ = [
    "MAX_SIGNED_BYTES",
    "PolicySignatureError",
    "SignedDocument",
    "VerifiedPolicy",
    "fingerprint",
    "sign_policy",
    "verify_policy",
    "verify_signature",
]

MAX_SIGNED_BYTES = 17 * 1024 * 1024
"""Largest signed document accepted: a maximal policy (16 MiB) plus its signature."""

_DS = "http://www.w3.org/2000/09/xmldsig#"
_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_SIG_METHODS = frozenset({SignatureMethod.RSA_SHA256, SignatureMethod.ECDSA_SHA256})
_DIGESTS = frozenset({DigestAlgorithm.SHA256})
_MIN_RSA_BITS = 2048

TrustInput = bytes | str | Path | Sequence[bytes | str | Path]


class PolicySignatureError(PolicyError):
    """A policy could not be signed, or a signed policy was refused.

    The ``code`` names the reason (``policy.signature.untrusted``, ``…digest``, …);
    the message says what was wrong in one line.
    """

    code = "policy.signature"


def _fail(reason: str, message: str) -> PolicySignatureError:
    return PolicySignatureError(message, code=f"policy.signature.{reason}")


@dataclass(frozen=True)
class VerifiedPolicy:
    """A policy whose signature verified, built only from the signed bytes.

    Attributes:
        policy: The policy as signed.
        signer_subject: RFC 4514 subject of the signing certificate.
        fingerprint: SHA-256 fingerprint of the signing certificate (hex, colon separated).
        algorithm: The XML-DSig signature method URI used.
    """

    policy: Policy
    signer_subject: str
    fingerprint: str
    algorithm: str


def fingerprint(cert: x509.Certificate) -> str:
    """Returns the colon separated SHA-256 fingerprint of a certificate."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


# ----------------------------------------------------------------------------- signing


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _load_key(key_pem: bytes | PrivateKey, password: bytes | None) -> PrivateKey:
    key: Any = key_pem
    if isinstance(key_pem, bytes):
        try:
            key = serialization.load_pem_private_key(key_pem, password=password)
        except (ValueError, TypeError) as exc:
            raise _fail("key", f"cannot load the private key: {exc}") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_RSA_BITS:
            raise _fail("key", f"RSA key of {key.key_size} bits is too small (>= 2048)")
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key
    raise _fail("key", f"unsupported key type {type(key).__name__} (RSA or EC only)")


def _load_certs(pem: bytes, what: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise _fail("certificate", f"cannot load the {what}: {exc}") from exc
    if not certs:
        raise _fail("certificate", f"no certificate in the {what}")
    return certs


def _check_signer(cert: x509.Certificate, when: dt.datetime, key: Any = None) -> None:
    problem = signer_problem(cert, when, key=key)
    if problem is not None:
        raise _fail(*problem)


class _Signer(XMLSigner):
    """signxml's signer, on the payload tree itself: no copy of it, no re-serialization.

    For an enveloped signature signxml asks ``get_root`` twice: first for the tree
    that receives the ``Signature``, then for the tree it canonicalizes and digests.
    Stock signxml answers both with a serialize-and-reparse copy of the payload. Here
    the first gets a bare holder element (only the new ``Signature`` lands there) and
    the second the payload itself, which is only read: :func:`sign_policy` refuses
    signature placeholders, the one case where signxml edits that tree. The exclusive
    C14N of the payload that signxml digests is kept in :attr:`payload_c14n`, so the
    signed document is assembled from exactly the bytes the digest covers.
    """

    def __init__(self, payload: etree._Element, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._payload = payload
        self.holder: etree._Element | None = None
        self.payload_c14n: bytes | None = None

    def get_root(self, data: Any) -> Any:
        if data is self._payload:
            if self.holder is None:
                self.holder = etree.Element("signature-holder")
                return self.holder
            return data
        return super().get_root(data)  # type: ignore[no-untyped-call]

    def _c14n(self, nodes: Any, algorithm: Any, inclusive_ns_prefixes: Any = None) -> bytes:
        out: bytes = super()._c14n(
            nodes, algorithm=algorithm, inclusive_ns_prefixes=inclusive_ns_prefixes
        )
        if nodes is self._payload:
            self.payload_c14n = out
        return out


def _end_tag(element: etree._Element) -> bytes:
    local = etree.QName(element).localname
    return f"</{element.prefix}:{local}>".encode() if element.prefix else f"</{local}>".encode()


def _assemble(element: etree._Element, signer: _Signer, signed: Any) -> bytes:
    """The signed document: the digested C14N bytes with the signature before the end tag.

    Verification (ours, signxml's, xmlsec1's) drops the enveloped signature and
    canonicalizes the rest, which gives back ``payload_c14n`` exactly (C14N output is
    a fixed point of parse-and-canonicalize), so no second serialization of the
    document is needed.
    """
    canon, holder = signer.payload_c14n, signer.holder
    end = _end_tag(element)
    if (
        canon is None
        or signed is not holder
        or holder is None
        or len(holder) != 1
        or holder[0].tag != _ds("Signature")
        or not canon.endswith(end)
        or (len(element) and element[-1].tag == _ds("Signature"))
    ):
        # The _Signer hooks rely on how signxml 5 builds an enveloped signature.
        raise _fail("sign", "signxml did not sign the way this module expects; refusing")
    signature = etree.tostring(holder[0], method="c14n", exclusive=True, with_comments=False)
    cut = len(canon) - len(end)
    return b"".join(
        (b"<?xml version='1.0' encoding='UTF-8'?>\n", canon[:cut], signature, canon[cut:], b"\n")
    )


def sign_policy(
    policy: Policy | etree._Element,
    key_pem: bytes | PrivateKey,
    cert_pem: bytes,
    password: bytes | None = None,
    *,
    trust: TrustInput | None = None,
    at: dt.datetime | None = None,
) -> bytes:
    """Signs a policy as an enveloped XML-DSig document.

    The signature covers the whole document (``URI=""``, enveloped-signature then
    exclusive C14N), uses RSA-SHA256 or ECDSA-SHA256 by key type, and embeds the
    signing certificate (followed by any chain certificates in ``cert_pem``) in
    ``KeyInfo/X509Data``. The document is written in its canonical form (the exact
    bytes the digest covers), with the ``Signature`` as the root's last child.

    Nothing is signed with a certificate that :func:`verify_signature` would refuse:
    the signing certificate must meet the same rules there (X.509 v3, valid now, not
    a CA, ``digitalSignature`` allowed, … see :mod:`xps.policy._signer`) and belong to
    the key. With ``trust``, its chain must also lead to one of those CAs.

    Args:
        policy: The policy, or an lxml element in the policy namespace (left unmodified).
        key_pem: The signer's private key: PEM (PKCS#8 or traditional) or a loaded
            RSA/EC key object (loading and checking an RSA PEM key costs ~0.2 s).
        cert_pem: The signer's certificate first, then optional intermediates (PEM).
        password: Password of an encrypted private key.
        trust: CA certificates the verifiers will trust (as for :func:`verify_signature`);
            None checks the signing certificate only.
        at: Signing time (default: now, UTC).

    Returns:
        The signed document, UTF-8 with an XML declaration.

    Raises:
        PolicySignatureError: Bad key or certificate, they do not belong together, or
            the certificate would be refused by a verifier; ``code`` says why.
    """
    when = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    key = _load_key(key_pem, password)
    certs = _load_certs(cert_pem, "signing certificate")
    _check_signer(certs[0], when, key)
    if trust is not None:
        _chain_to_anchor(certs, _trust_store(trust), when)
    if isinstance(policy, Policy):
        from ._xml import policy_to_element

        element = policy_to_element(policy)
        # Indented like the saved policy so that a signed export stays readable.
        etree.indent(element, space="  ")
    else:
        element = policy  # _Signer only reads it; the caller's tree is left as is
    if element.find(f".//{{{_DS}}}Signature") is not None:
        raise _fail("already-signed", "the document already carries a signature")
    method = (
        SignatureMethod.RSA_SHA256
        if isinstance(key, rsa.RSAPrivateKey)
        else SignatureMethod.ECDSA_SHA256
    )
    signer = _Signer(
        element,
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=method,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=_C14N,
    )
    try:
        signed = signer.sign(element, key=key, cert=certs)
    except sx_errors.InvalidInput as exc:
        raise _fail("sign", f"cannot sign: {exc}") from exc
    return _assemble(element, signer, signed)


# ------------------------------------------------------------------------ verification


def _trust_store(trust: TrustInput) -> list[x509.Certificate]:
    items: Sequence[bytes | str | Path]
    items = [trust] if isinstance(trust, bytes | str | Path) else trust
    certs: list[x509.Certificate] = []
    for item in items:
        if isinstance(item, bytes):
            pem = item
        elif isinstance(item, str) and item.lstrip().startswith("-----BEGIN"):
            pem = item.encode()
        else:
            try:
                pem = Path(item).read_bytes()
            except OSError as exc:
                raise _fail("trust-store", f"cannot read CA file {item}: {exc.strerror}") from exc
        certs.extend(_load_certs(pem, "CA file"))
    if not certs:
        raise _fail("trust-store", "no CA certificate to verify against")
    return certs


_MAX_SIGNED_DEPTH = 32
"""Deeper than any valid signed document: a template nests 20, a signature 6."""


def _xml_error(problem: XmlProblem, detail: str, line: int, column: int) -> PolicySignatureError:
    if problem == "too_large":
        return _fail("too-large", f"signed document exceeds {MAX_SIGNED_BYTES} bytes")
    messages = {
        "encoding": f"a signed policy is UTF-8, not {detail}",
        "doctype": "a DOCTYPE is not allowed in a signed policy",
        "entity": "entity references are not allowed in a signed policy",
        "too_deep": f"a signed policy nests deeper than {_MAX_SIGNED_DEPTH} elements",
        "syntax": f"malformed XML: {detail} (line {line}, column {column})",
    }
    return _fail("malformed", messages[problem])


def _parse(data: bytes) -> etree._Element:
    # Comments, PIs and blank text stay: the tree is what the digest is computed over.
    return parse_untrusted(
        data,
        max_bytes=MAX_SIGNED_BYTES,
        max_depth=_MAX_SIGNED_DEPTH,
        error=_xml_error,
        keep_comments=True,
        keep_pis=True,
    )


def _ds(name: str) -> str:
    return f"{{{_DS}}}{name}"


def _children(el: etree._Element) -> list[etree._Element]:
    # Comments and processing instructions are not structure; c14n drops comments.
    return [c for c in el if isinstance(c.tag, str)]


def _expect(el: etree._Element, names: Sequence[str], where: str) -> list[etree._Element]:
    kids = _children(el)
    got = [etree.QName(k).localname if k.tag.startswith(f"{{{_DS}}}") else k.tag for k in kids]
    if got != list(names) or any(k.tag != _ds(n) for k, n in zip(kids, names, strict=True)):
        raise _fail(
            "structure",
            f"{where} must contain exactly {', '.join(names) or 'nothing'}; "
            f"found {', '.join(got) or 'nothing'}",
        )
    return kids


def _check_structure(root: etree._Element, roots: set[str]) -> tuple[str, list[bytes]]:
    """Refuses anything but one enveloped signature over the whole policy document."""
    if root.tag not in roots:
        raise _fail(
            "document", f"root element is {root.tag}, expected {' or '.join(sorted(roots))}"
        )
    signatures = list(root.iter(_ds("Signature")))
    if not signatures:
        raise _fail("missing", "the document carries no signature")
    if len(signatures) > 1:
        raise _fail("multiple", f"the document carries {len(signatures)} signatures, expected 1")
    sig = signatures[0]
    if sig.getparent() is not root:
        raise _fail("location", "the signature must be a direct child of the policy root")
    signed_info, _value, key_info = _expect(
        sig, ("SignedInfo", "SignatureValue", "KeyInfo"), "ds:Signature"
    )
    c14n, method, reference = _expect(
        signed_info, ("CanonicalizationMethod", "SignatureMethod", "Reference"), "ds:SignedInfo"
    )
    if c14n.get("Algorithm") != _C14N.value or _children(c14n):
        raise _fail("algorithm", f"canonicalization must be {_C14N.value}")
    if method.get("Algorithm") not in {m.value for m in _SIG_METHODS}:
        raise _fail("algorithm", f"signature method {method.get('Algorithm')} is not allowed")
    if reference.get("URI") != "" or set(reference.attrib) != {"URI"}:
        raise _fail(
            "reference",
            f'the reference must be URI="" (the whole document), got URI={reference.get("URI")!r}',
        )
    transforms, digest, _dv = _expect(
        reference, ("Transforms", "DigestMethod", "DigestValue"), "ds:Reference"
    )
    steps = _expect(transforms, ("Transform", "Transform"), "ds:Transforms")
    algs = [t.get("Algorithm") for t in steps]
    if algs != [_ENVELOPED, _C14N.value] or any(_children(t) for t in steps):
        raise _fail(
            "reference", f"transforms must be enveloped-signature then exc-c14n, got {algs}"
        )
    if digest.get("Algorithm") not in {d.value for d in _DIGESTS}:
        raise _fail("algorithm", f"digest method {digest.get('Algorithm')} is not allowed")
    (x509_data,) = _expect(key_info, ("X509Data",), "ds:KeyInfo")
    cert_els = _children(x509_data)
    if not cert_els or any(c.tag != _ds("X509Certificate") for c in cert_els):
        raise _fail("structure", "ds:X509Data must hold only X509Certificate elements")
    ders: list[bytes] = []
    for cert_el in cert_els:
        try:
            ders.append(base64.b64decode("".join((cert_el.text or "").split()), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise _fail("certificate", "an embedded certificate is not valid base64") from exc
    return str(method.get("Algorithm")), ders


def _may_sign(_policy: Any, _cert: x509.Certificate, ku: x509.KeyUsage | None) -> None:
    # RFC 5280: without a KeyUsage extension every usage is allowed; the project's
    # own PKI (xenon pki) issues leaf certificates without one.
    if not may_sign(ku):
        raise ValueError(NO_DIGITAL_SIGNATURE)


def _not_ca(_policy: Any, _cert: x509.Certificate, bc: x509.BasicConstraints | None) -> None:
    if is_ca(bc):
        raise ValueError(CA_SIGNER)


def _is_ca(_policy: Any, _cert: x509.Certificate, bc: x509.BasicConstraints | None) -> None:
    if bc is None or not bc.ca:
        raise ValueError("issuer is not a CA")


def _verify_chain(
    ders: list[bytes], anchors: list[x509.Certificate], when: dt.datetime
) -> x509.Certificate:
    try:
        chain = [x509.load_der_x509_certificate(d) for d in ders]
    except ValueError as exc:
        raise _fail("certificate", f"an embedded certificate is malformed: {exc}") from exc
    # The rules sign_policy applied, with their own reasons; the chain builder
    # checks them again (its extension policy uses the same predicates).
    _check_signer(chain[0], when)
    _chain_to_anchor(chain, anchors, when)
    return chain[0]


def _chain_to_anchor(
    chain: list[x509.Certificate], anchors: list[x509.Certificate], when: dt.datetime
) -> None:
    """Builds the signer's path to a trusted CA (client profile, this module's EE rules)."""
    ee = (
        xv.ExtensionPolicy.permit_all()
        .may_be_present(x509.KeyUsage, xv.Criticality.AGNOSTIC, _may_sign)
        .may_be_present(x509.BasicConstraints, xv.Criticality.AGNOSTIC, _not_ca)
    )
    ca = xv.ExtensionPolicy.permit_all().require_present(
        x509.BasicConstraints, xv.Criticality.AGNOSTIC, _is_ca
    )
    verifier = (
        xv.PolicyBuilder()
        .store(xv.Store(anchors))
        .time(when)
        .extension_policies(ee_policy=ee, ca_policy=ca)
        .build_client_verifier()
    )
    try:
        verifier.verify(chain[0], chain[1:])
    except xv.VerificationError as exc:
        subject = subject_text(chain[0])
        raise _fail(
            "untrusted", f"signing certificate {subject} does not chain to a trusted CA: {exc}"
        ) from exc


@dataclass(frozen=True)
class SignedDocument:
    """What a valid signature covers, as returned by :func:`verify_signature`.

    Attributes:
        data: The signed bytes (exclusive C14N of the document without its signature).
        element: ``data`` parsed: the only tree callers may trust.
        signer_subject: RFC 4514 subject of the signing certificate.
        fingerprint: SHA-256 fingerprint of the signing certificate.
        algorithm: The XML-DSig signature method URI used.
    """

    data: bytes
    element: etree._Element
    signer_subject: str
    fingerprint: str
    algorithm: str


@dataclass(frozen=True)
class _Borrowed:
    """Stands for the serialization of the verifier's private tree (see _Verifier)."""

    root: etree._Element


class _Verifier(XMLVerifier):
    """signxml's verifier, working on the private tree instead of copies of it.

    Stock signxml copies the document root by serializing and re-parsing it three
    times: in ``get_root``, once per reference (the enveloped transform removes the
    signature from that copy), and before canonicalizing the payload (so that
    namespaces of ancestors cannot leak in). For the tree :func:`_parse` has just
    built, none is needed: nobody else holds it, :func:`_check_structure` allows one
    reference only, and the payload is the whole document, which has no ancestors.
    Those copies are all ``_fromstring(_tostring(node))``; for this tree they hand
    the tree itself through. Everything else (the signature copy, schema check,
    digests, the re-parse of the canonical bytes returned as ``signed_xml``) is
    stock signxml.
    """

    def __init__(self, own_root: etree._Element) -> None:
        super().__init__()
        self._own_root = own_root

    def get_root(self, data: Any) -> Any:
        if data is self._own_root:
            return data
        return super().get_root(data)  # type: ignore[no-untyped-call]

    def _tostring(self, xml_node: Any, **kwargs: Any) -> Any:
        if xml_node is self._own_root and not kwargs:
            return _Borrowed(xml_node)
        return super()._tostring(xml_node, **kwargs)  # type: ignore[no-untyped-call]

    def _fromstring(self, xml_string: Any, **kwargs: Any) -> Any:
        if isinstance(xml_string, _Borrowed) and not kwargs:
            return xml_string.root
        return super()._fromstring(xml_string, **kwargs)  # type: ignore[no-untyped-call]


def verify_signature(
    signed: bytes, trust: TrustInput, *, at: dt.datetime | None = None
) -> SignedDocument:
    """Verifies the signature of a signed policy (or template) and returns what it covers.

    Only one shape is accepted: a single enveloped signature, a direct child of the
    ``policy`` (or ``template``) root, with one ``URI=""`` reference, the
    enveloped-signature and exclusive C14N transforms, SHA-256 digests,
    RSA/ECDSA-SHA256, and an X.509 certificate that chains to one of the trusted CAs
    and is valid at ``at``. Anything else (signature
    wrapping, extra references, ``Object`` payloads, untrusted or expired signer,
    altered content) is refused.

    Args:
        signed: The signed document.
        trust: CA certificates: PEM bytes, a PEM string, a file path, or a list of those.
        at: Verification time (default: now, UTC).

    Raises:
        PolicySignatureError: The signature was refused; ``code`` says why.
    """
    from ._xml import NAMESPACE, POLICY_TAG

    roots = {POLICY_TAG, f"{{{NAMESPACE}}}template"}

    when = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    anchors = _trust_store(trust)
    root = _parse(signed)
    algorithm, ders = _check_structure(root, roots)
    leaf = _verify_chain(ders, anchors, when)
    config = SignatureConfiguration(
        location="./",
        expect_references=1,
        signature_methods=_SIG_METHODS,
        digest_algorithms=_DIGESTS,
        verification_time=when,
    )
    try:
        result = _Verifier(root).verify(
            root, x509_cert=leaf, expect_config=config, validate_schema=True
        )
    except sx_errors.InvalidDigest as exc:
        raise _fail("digest", "the signed content was altered (digest mismatch)") from exc
    except sx_errors.InvalidCertificate as exc:
        raise _fail("untrusted", f"signing certificate refused: {exc}") from exc
    except sx_errors.InvalidSignature as exc:
        raise _fail("invalid", f"the signature value does not verify: {exc}") from exc
    except sx_errors.InvalidInput as exc:
        raise _fail("structure", f"malformed signature: {exc}") from exc
    assert not isinstance(result, list)  # expect_references=1 returns one result
    if result.signed_xml is None or result.signed_xml.tag != root.tag:
        raise _fail("document", "the signed content is not the document's root")
    return SignedDocument(
        data=result.signed_data,
        element=result.signed_xml,
        signer_subject=leaf.subject.rfc4514_string(),
        fingerprint=fingerprint(leaf),
        algorithm=algorithm,
    )


def verify_policy(
    signed: bytes, trust: TrustInput, *, at: dt.datetime | None = None
) -> VerifiedPolicy:
    """Verifies a signed policy and returns the policy exactly as it was signed.

    The signature is checked by :func:`verify_signature` (see there for what is
    refused); the policy is then built, with XSD validation, only from the signed
    content the verifier returns, never from the input tree.

    Args:
        signed: The signed document.
        trust: CA certificates: PEM bytes, a PEM string, a file path, or a list of those.
        at: Verification time (default: now, UTC).

    Raises:
        PolicySignatureError: The signature was refused; ``code`` says why.
        PolicyXmlError: The signed content is not a valid policy document.
    """
    from ._xml import policy_from_element

    doc = verify_signature(signed, trust, at=at)
    if etree.QName(doc.element).localname != "policy":
        raise _fail("document", "the signed document is a template, not a policy")
    return VerifiedPolicy(
        policy=policy_from_element(doc.element),
        signer_subject=doc.signer_subject,
        fingerprint=doc.fingerprint,
        algorithm=doc.algorithm,
    )
