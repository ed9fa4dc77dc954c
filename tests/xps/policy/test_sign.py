"""Signed policy export: round trips, an independent verifier, and every refusal."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from tests._support.policy import make_policy
from tests._support.signing import Issued, make_ca, make_leaf
from xps.policy import Policy, parse_policy
from xps.policy._sign import PolicySignatureError, sign_policy, verify_policy
from xps.policy._xml import policy_to_element

DS = "http://www.w3.org/2000/09/xmldsig#"
XMLSEC1 = shutil.which("xmlsec1")


@pytest.fixture(scope="session")
def ca() -> Issued:
    return make_ca()


@pytest.fixture(scope="session")
def rsa_signer(ca: Issued) -> Issued:
    return make_leaf(ca, "policy-signer-rsa", "rsa")


@pytest.fixture(scope="session")
def ec_signer(ca: Issued) -> Issued:
    return make_leaf(ca, "policy-signer-ec", "ec")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return make_policy()


@pytest.fixture(scope="session")
def signed(policy: Policy, ec_signer: Issued) -> bytes:
    return sign_policy(policy, ec_signer.key_pem, ec_signer.cert_pem)


def _refused(data: bytes, trust: bytes, reason: str) -> PolicySignatureError:
    with pytest.raises(PolicySignatureError) as err:
        verify_policy(data, trust)
    assert err.value.code == f"policy.signature.{reason}", str(err.value)
    assert str(err.value)
    return err.value


def _tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _sig(root: etree._Element) -> etree._Element:
    found = root.find(f"{{{DS}}}Signature")
    assert found is not None
    return found


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_round_trip_returns_the_signed_policy(
    kind: str, policy: Policy, rsa_signer: Issued, ec_signer: Issued, ca: Issued
) -> None:
    signer = rsa_signer if kind == "rsa" else ec_signer
    data = sign_policy(policy, signer.key_pem, signer.cert_pem)
    result = verify_policy(data, ca.cert_pem)
    assert result.policy == policy
    assert result.signer_subject == f"CN=policy-signer-{kind},O=Xenon Test"
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", result.fingerprint)
    expected = "rsa-sha256" if kind == "rsa" else "ecdsa-sha256"
    assert result.algorithm.endswith(expected)
    root = _tree(data)
    sig = _sig(root)
    assert sig.getparent() is root
    ref = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert ref is not None and ref.get("URI") == ""
    cert = sig.findtext(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    assert cert is not None
    der = base64.b64decode("".join(cert.split()))
    assert der == signer.cert.public_bytes(Encoding.DER)


def test_signing_an_element_leaves_it_untouched(
    policy: Policy, ec_signer: Issued, ca: Issued
) -> None:
    element = policy_to_element(policy)
    before = etree.tostring(element)
    data = sign_policy(element, ec_signer.key_pem, ec_signer.cert_pem)
    assert etree.tostring(element) == before
    assert verify_policy(data, ca.cert_pem).policy == policy


def test_trust_store_forms(signed: bytes, ca: Issued, tmp_path: Path) -> None:
    other = make_ca("Other CA")
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.cert_pem)
    assert verify_policy(signed, path).policy == make_policy()
    assert verify_policy(signed, str(path)).policy == make_policy()
    assert verify_policy(signed, ca.cert_pem.decode()).policy == make_policy()
    assert verify_policy(signed, [other.cert_pem, path]).policy == make_policy()
    _refused(signed, other.cert_pem, "untrusted")
    with pytest.raises(PolicySignatureError) as err:
        verify_policy(signed, tmp_path / "missing.pem")
    assert err.value.code == "policy.signature.trust-store"


def _xmlsec1_accepts_only_the_original(
    tmp_path: Path, ca: Issued, data: bytes, tampered: bytes
) -> None:
    """xmlsec1, trusting only ``ca``, verifies ``data`` and refuses ``tampered``."""
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    good, bad = tmp_path / "signed.xml", tmp_path / "tampered.xml"
    good.write_bytes(data)
    bad.write_bytes(tampered)
    assert bad.read_bytes() != data
    cmd = [str(XMLSEC1), "--verify", "--trusted-pem", str(tmp_path / "ca.pem")]
    ok = subprocess.run([*cmd, str(good)], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    nok = subprocess.run([*cmd, str(bad)], capture_output=True, text=True, timeout=30)
    assert nok.returncode != 0


@pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed")
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_xmlsec1_accepts_what_we_sign_and_refuses_tampering(
    kind: str, policy: Policy, rsa_signer: Issued, ec_signer: Issued, ca: Issued, tmp_path: Path
) -> None:
    signer = rsa_signer if kind == "rsa" else ec_signer
    data = sign_policy(policy, signer.key_pem, signer.cert_pem)
    _xmlsec1_accepts_only_the_original(
        tmp_path, ca, data, data.replace(b'max-rate="500"', b'max-rate="65535"', 1)
    )


def test_altered_content_is_refused(signed: bytes, ca: Issued) -> None:
    assert b'max-rate="500"' in signed
    _refused(signed.replace(b'max-rate="500"', b'max-rate="65535"', 1), ca.cert_pem, "digest")


def test_added_element_is_refused(signed: bytes, ca: Issued) -> None:
    root = _tree(signed)
    etree.SubElement(root, "{urn:xenon:policy:1}tags")
    _refused(_bytes(root), ca.cert_pem, "digest")


def test_comments_are_not_signed_and_not_trusted(signed: bytes, ca: Issued) -> None:
    # Exclusive C14N drops comments: adding one keeps the signature valid and
    # changes nothing in the verified policy.
    data = signed.replace(b"<tags>", b"<tags><!-- injected -->", 1)
    assert data != signed
    assert verify_policy(data, ca.cert_pem).policy == make_policy()


def test_bad_signature_value_is_refused(signed: bytes, ca: Issued) -> None:
    root = _tree(signed)
    value = _sig(root).find(f"{{{DS}}}SignatureValue")
    assert value is not None and value.text
    raw = bytearray(base64.b64decode(value.text))
    raw[-1] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    _refused(_bytes(root), ca.cert_pem, "invalid")


def test_unsigned_document_is_refused(policy: Policy, ca: Issued) -> None:
    data = _bytes(policy_to_element(policy))
    _refused(data, ca.cert_pem, "missing")


def test_two_signatures_are_refused(signed: bytes, ca: Issued) -> None:
    root = _tree(signed)
    sig = _sig(root)
    root.append(etree.fromstring(etree.tostring(sig)))
    _refused(_bytes(root), ca.cert_pem, "multiple")


def test_signature_elsewhere_than_the_root_is_refused(signed: bytes, ca: Issued) -> None:
    root = _tree(signed)
    sig = _sig(root)
    tags = root.find("{urn:xenon:policy:1}tags")
    assert tags is not None
    tags.append(sig)
    _refused(_bytes(root), ca.cert_pem, "location")


def test_wrapping_with_an_object_payload_is_refused(signed: bytes, ca: Issued) -> None:
    # Classic wrapping: keep the original signed policy inside ds:Object, then
    # change the visible one. The strict shape check refuses the Object.
    root = _tree(signed)
    sig = _sig(root)
    original = _tree(signed)
    original.remove(_sig(original))
    obj = etree.SubElement(sig, f"{{{DS}}}Object")
    obj.append(original)
    root.set("name", "evil")
    _refused(_bytes(root), ca.cert_pem, "structure")


def test_a_second_policy_element_is_refused(signed: bytes, ca: Issued) -> None:
    root = _tree(signed)
    key_info = _sig(root).find(f"{{{DS}}}KeyInfo")
    assert key_info is not None
    key_info.append(etree.fromstring(_bytes(policy_to_element(make_policy()))))
    _refused(_bytes(root), ca.cert_pem, "structure")


def test_reference_by_id_is_refused(signed: bytes, ca: Issued) -> None:
    root = _tree(signed)
    ref = _sig(root).find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert ref is not None
    ref.set("URI", "#policy")
    root.set("Id", "policy")
    _refused(_bytes(root), ca.cert_pem, "reference")


def test_extra_reference_is_refused(signed: bytes, ca: Issued) -> None:
    root = _tree(signed)
    info = _sig(root).find(f"{{{DS}}}SignedInfo")
    assert info is not None
    ref = info.find(f"{{{DS}}}Reference")
    assert ref is not None
    info.append(etree.fromstring(etree.tostring(ref)))
    _refused(_bytes(root), ca.cert_pem, "structure")


def test_missing_enveloped_transform_is_refused(signed: bytes, ca: Issued) -> None:
    root = _tree(signed)
    transforms = _sig(root).find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}Transforms")
    assert transforms is not None
    transforms.remove(transforms[0])
    _refused(_bytes(root), ca.cert_pem, "structure")


def test_other_canonicalization_is_refused(signed: bytes, ca: Issued) -> None:
    data = signed.replace(
        b'CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"',
        b'CanonicalizationMethod Algorithm="http://www.w3.org/2006/12/xml-c14n11"',
    )
    assert data != signed
    _refused(data, ca.cert_pem, "algorithm")


def test_signer_from_another_ca_is_refused(policy: Policy, ca: Issued) -> None:
    other = make_ca("Rogue CA")
    leaf = make_leaf(other, "rogue")
    err = _refused(sign_policy(policy, leaf.key_pem, leaf.cert_pem), ca.cert_pem, "untrusted")
    assert "CN=rogue" in str(err)


def test_self_signed_signer_is_refused(policy: Policy, ca: Issued) -> None:
    leaf = make_leaf(None, "self-made")
    _refused(sign_policy(policy, leaf.key_pem, leaf.cert_pem), ca.cert_pem, "untrusted")


def test_ca_key_itself_may_not_sign(policy: Policy, ca: Issued) -> None:
    # Refused when signing already; test_sign_refusal shows verify refuses it too.
    with pytest.raises(PolicySignatureError) as err:
        sign_policy(policy, ca.key_pem, ca.cert_pem)
    assert err.value.code == "policy.signature.ca-signer"


def test_certificate_without_digital_signature_is_refused(policy: Policy, ca: Issued) -> None:
    leaf = make_leaf(ca, "tls-only", digital_signature=False)
    with pytest.raises(PolicySignatureError) as err:
        sign_policy(policy, leaf.key_pem, leaf.cert_pem)
    assert err.value.code == "policy.signature.key-usage"


def test_expired_signer_is_refused(policy: Policy, ca: Issued) -> None:
    leaf = make_leaf(ca, "old-signer", days=(-20, -1))
    back_then = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    signed = sign_policy(policy, leaf.key_pem, leaf.cert_pem, at=back_then)
    err = _refused(signed, ca.cert_pem, "expired")
    assert "expired" in str(err)


def test_verification_time_can_be_given(signed: bytes, ca: Issued) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    with pytest.raises(PolicySignatureError) as err:
        verify_policy(signed, ca.cert_pem, at=later)
    assert err.value.code == "policy.signature.expired"


def test_swapped_certificate_is_refused(signed: bytes, ca: Issued) -> None:
    # A valid certificate from the same CA, but not the key that signed.
    other = make_leaf(ca, "someone-else")
    root = _tree(signed)
    el = _sig(root).find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    assert el is not None
    der = other.cert.public_bytes(Encoding.DER)
    el.text = base64.b64encode(der).decode()
    _refused(_bytes(root), ca.cert_pem, "invalid")


def test_doctype_and_entities_are_refused(signed: bytes, ca: Issued) -> None:
    body = signed.split(b"?>", 1)[1]
    evil = b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x "y">]>' + body
    _refused(evil, ca.cert_pem, "malformed")
    _refused(b"<policy", ca.cert_pem, "malformed")


def test_wrong_root_is_refused(ca: Issued, ec_signer: Issued) -> None:
    other = etree.fromstring(b'<other xmlns="urn:example"><x/></other>')
    data = sign_policy(other, ec_signer.key_pem, ec_signer.cert_pem)
    _refused(data, ca.cert_pem, "document")


def test_key_and_certificate_must_match(
    policy: Policy, ec_signer: Issued, rsa_signer: Issued
) -> None:
    with pytest.raises(PolicySignatureError) as err:
        sign_policy(policy, ec_signer.key_pem, rsa_signer.cert_pem)
    assert err.value.code == "policy.signature.key-mismatch"
    with pytest.raises(PolicySignatureError) as err:
        sign_policy(policy, b"not a key", ec_signer.cert_pem)
    assert err.value.code == "policy.signature.key"


def test_already_signed_element_is_refused(signed: bytes, ec_signer: Issued) -> None:
    with pytest.raises(PolicySignatureError) as err:
        sign_policy(_tree(signed), ec_signer.key_pem, ec_signer.cert_pem)
    assert err.value.code == "policy.signature.already-signed"


def test_verify_signature_returns_only_the_signed_bytes(signed: bytes, ca: Issued) -> None:
    from xps.policy._sign import verify_signature

    doc = verify_signature(signed, ca.cert_pem)
    assert b"Signature" not in doc.data  # the enveloped signature is not part of it
    assert doc.data == etree.tostring(doc.element, method="c14n", exclusive=True)
    assert parse_policy(doc.data) == make_policy()


def test_key_object_and_encrypted_pem(policy: Policy, rsa_signer: Issued, ca: Issued) -> None:
    from cryptography.hazmat.primitives import serialization

    data = sign_policy(policy, rsa_signer.key, rsa_signer.cert_pem)
    assert verify_policy(data, ca.cert_pem).policy == policy
    enc = rsa_signer.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    data = sign_policy(policy, enc, rsa_signer.cert_pem, password=b"pw")
    assert verify_policy(data, ca.cert_pem).policy == policy
    with pytest.raises(PolicySignatureError) as err:
        sign_policy(policy, enc, rsa_signer.cert_pem, password=b"wrong")
    assert err.value.code == "policy.signature.key"


def test_deep_nesting_is_refused(ca: Issued) -> None:
    deep = b'<policy xmlns="urn:xenon:policy:1">' + b"<a>" * 300 + b"</a>" * 300 + b"</policy>"
    _refused(deep, ca.cert_pem, "malformed")


def test_certificates_of_the_project_pki_can_sign(policy: Policy, tmp_path: Path) -> None:
    from xps.pki import init_ca, issue

    ca = init_ca(tmp_path)
    leaf = issue(tmp_path, "policy-admin", "client")
    data = sign_policy(policy, leaf.key.read_bytes(), leaf.cert.read_bytes())
    result = verify_policy(data, ca.cert)
    assert result.policy == policy and "policy-admin" in result.signer_subject
    other = make_ca("Not the project CA")
    _refused(data, other.cert_pem, "untrusted")


def test_signed_templates_verify_with_verify_signature(
    policy: Policy, ec_signer: Issued, ca: Issued
) -> None:
    from xps.policy._sign import verify_signature
    from xps.policy._template import export_template, parse_template, serialize_template

    tpl = export_template(policy)
    data = sign_policy(
        etree.fromstring(serialize_template(tpl)), ec_signer.key_pem, ec_signer.cert_pem
    )
    doc = verify_signature(data, ca.cert_pem)
    assert parse_template(doc.data) == tpl
    _refused(data, ca.cert_pem, "document")  # verify_policy wants a policy
    tampered = data.replace(b'kind="disk"', b'kind="pci-device"', 1)
    assert tampered != data
    with pytest.raises(PolicySignatureError) as err:
        verify_signature(tampered, ca.cert_pem)
    assert err.value.code == "policy.signature.digest"


# -- the copy-free signer and verifier agree with stock signxml --------------------

_TRICKY = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n<?top-pi a?><!--top comment-->\n"
    b'<x:policy xmlns:x="urn:xenon:policy:1" xmlns:unused="urn:unused" b="2" a="1">\n'
    b'  <x:item name="a &amp; b &lt;c&gt;" note="tab&#9;nl&#10;">text<!--inner--> more</x:item>\n'
    b'  <y:other xmlns:y="urn:other"><![CDATA[raw <data>]]></y:other>\n'
    b"  <x:empty/>\n"
    b"</x:policy>\n<!--after-->"
)


def _stock_verify(data: bytes, signer: Issued) -> tuple[bytes, bytes]:
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    result = XMLVerifier().verify(
        data, x509_cert=signer.cert, expect_config=SignatureConfiguration(location="./")
    )
    assert not isinstance(result, list)
    assert result.signed_xml is not None
    return result.signed_data, etree.tostring(result.signed_xml)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_stock_signxml_verifies_what_we_sign(
    kind: str, policy: Policy, rsa_signer: Issued, ec_signer: Issued, ca: Issued
) -> None:
    from xps.policy._sign import verify_signature

    signer = rsa_signer if kind == "rsa" else ec_signer
    for payload in (policy, etree.fromstring(_TRICKY)):
        data = sign_policy(payload, signer.key_pem, signer.cert_pem)
        stock_data, stock_xml = _stock_verify(data, signer)
        ours = verify_signature(data, ca.cert_pem)
        assert ours.data == stock_data
        assert etree.tostring(ours.element) == stock_xml
        assert b"inner" not in ours.data and b"top-pi" not in ours.data


def test_signed_bytes_are_the_canonical_document(ec_signer: Issued, ca: Issued) -> None:
    from xps.policy._sign import verify_signature

    element = etree.fromstring(_TRICKY)
    data = sign_policy(element, ec_signer.key_pem, ec_signer.cert_pem)
    canon = etree.tostring(element, method="c14n", exclusive=True, with_comments=False)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n")
    body = data.split(b"\n", 1)[1].rstrip(b"\n")
    start, end = body.index(b"<ds:Signature"), body.rindex(b"</ds:Signature>")
    assert body[:start] + body[end + len(b"</ds:Signature>") :] == canon
    assert body.endswith(b"</ds:Signature></x:policy>")
    doc = verify_signature(data, ca.cert_pem)
    assert doc.data == canon
    # The same digest as stock signxml signing a serialized copy of the same element.
    from signxml.algorithms import CanonicalizationMethod, SignatureMethod
    from signxml.signer import XMLSigner

    stock = XMLSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    ).sign(etree.fromstring(_TRICKY), key=ec_signer.key, cert=[ec_signer.cert])
    digest = f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestValue"
    assert _sig(_tree(data)).findtext(digest) == _sig(stock).findtext(digest)


def test_signing_a_nested_element_signs_it_as_a_document(
    policy: Policy, ec_signer: Issued, ca: Issued
) -> None:
    wrapper = etree.fromstring(b'<w:wrap xmlns:w="urn:wrap" xml:lang="en"><w:pad/></w:wrap>')
    wrapper.append(policy_to_element(policy))
    before = etree.tostring(wrapper)
    data = sign_policy(wrapper[-1], ec_signer.key_pem, ec_signer.cert_pem)
    assert etree.tostring(wrapper) == before
    assert b"urn:wrap" not in data and b"xml:lang" not in data
    assert verify_policy(data, ca.cert_pem).policy == policy


def test_verifying_twice_gives_the_same_result(signed: bytes, ca: Issued) -> None:
    from xps.policy._sign import verify_signature

    first, second = verify_signature(signed, ca.cert_pem), verify_signature(signed, ca.cert_pem)
    assert first.data == second.data
    assert etree.tostring(first.element) == etree.tostring(second.element)


@pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed")
def test_xmlsec1_accepts_a_signed_document_with_comments_pis_and_cdata(
    rsa_signer: Issued, ca: Issued, tmp_path: Path
) -> None:
    data = sign_policy(etree.fromstring(_TRICKY), rsa_signer.key_pem, rsa_signer.cert_pem)
    _xmlsec1_accepts_only_the_original(
        tmp_path, ca, data, data.replace(b"raw &lt;data&gt;", b"raw &lt;datb&gt;", 1)
    )
