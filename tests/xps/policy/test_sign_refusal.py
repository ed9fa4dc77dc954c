"""Sign refuses what verify would refuse (issue 10 item 5), before anything is written.

Each refusal is shown three ways: ``sign_policy`` (and ``xenon policy sign``) refuses
the certificate with a reason code; a document carrying that certificate is refused by
``verify_policy`` with the same code; and the verdict of the shared rules agrees with
the chain builder of ``cryptography`` alone, without this project's pre-check.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from tests._support.signing import Issued, make_ca, make_leaf
from xps.cli.policy import main
from xps.host import Host, HostConfig, HostStateError
from xps.policy import (
    PolicySignatureError,
    sample_policy,
    serialize_policy,
    sign_policy,
    verify_policy,
)
from xps.policy._sign import _chain_to_anchor
from xps.policy._signer import signer_problem

DS = "http://www.w3.org/2000/09/xmldsig#"
OPENSSL = shutil.which("openssl")
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("Refusal Test CA")


@pytest.fixture(scope="module")
def rsa_ca() -> Issued:
    """An RSA CA, so that leaves can carry RSA and RSA-PSS signatures."""
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Refusal Test RSA CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


@pytest.fixture(scope="module")
def signer_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# ------------------------------------------------------------------------- helpers


def _pem(key: object) -> bytes:
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _leaf(
    ca: Issued,
    key: ec.EllipticCurvePrivateKey,
    *,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    days: tuple[int, int] = (-1, 30),
    algorithm: hashes.HashAlgorithm | None = None,
    pss: padding.PSS | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "variant-signer")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(ca.key, algorithm or hashes.SHA256(), rsa_padding=pss)  # type: ignore[arg-type]


def _swap(signed: bytes, cert: x509.Certificate) -> bytes:
    """The signed document with another certificate of the same key embedded.

    The signature does not cover ``KeyInfo`` and the key is the same, so only the
    verifier's rules about the certificate decide.
    """
    root = etree.fromstring(signed)
    el = root.find(f"{{{DS}}}Signature/{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    assert el is not None
    el.text = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _verify_code(data: bytes, trust: bytes) -> str | None:
    try:
        verify_policy(data, trust)
    except PolicySignatureError as exc:
        return exc.code
    return None


def _library_accepts(cert: x509.Certificate, ca: Issued) -> bool:
    try:
        _chain_to_anchor([cert], [ca.cert], NOW)
    except PolicySignatureError:
        return False
    return True


def _cli_sign(tmp: Path, key_pem: bytes, cert_pem: bytes, *extra: str) -> tuple[int, Path]:
    policy, key, cert = tmp / "host.xml", tmp / "key.pem", tmp / "cert.pem"
    policy.write_bytes(serialize_policy(sample_policy()))
    key.write_bytes(key_pem)
    cert.write_bytes(cert_pem)
    out = tmp / "host.signed.xml"
    args = ["sign", str(policy), "--key", str(key), "--cert", str(cert), "-o", str(out)]
    return main([*args, *extra]), out


# ----------------------------------------------------- DER surgery for malformed leaves


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _elements(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        size, start = data[pos + 1], pos + 2
        if size & 0x80:
            count = size & 0x7F
            size, start = int.from_bytes(data[start : start + count], "big"), start + count
        out.append(data[pos : start + size])
        pos = start + size
    return out


def _content(element: bytes) -> bytes:
    size = element[1]
    return element[2 + (size & 0x7F if size & 0x80 else 0) :]


_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_ECDSA_SHA384 = bytes.fromhex("300a06082a8648ce3d040303")


def _resign(
    ca: Issued,
    cert: x509.Certificate,
    change: Callable[[list[bytes]], None],
    outer: bytes = _ECDSA_SHA256,
) -> x509.Certificate:
    """``cert`` with its TBS fields changed by ``change``, signed again by ``ca``."""
    fields = _elements(_content(cert.tbs_certificate_bytes))
    change(fields)
    tbs = _der(0x30, b"".join(fields))
    digest = hashes.SHA384() if outer == _ECDSA_SHA384 else hashes.SHA256()
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey)
    signature = ca.key.sign(tbs, ec.ECDSA(digest))
    return x509.load_der_x509_certificate(_der(0x30, tbs + outer + _der(0x03, b"\x00" + signature)))


def _generalized_not_after(fields: list[bytes]) -> None:
    # fields: version, serial, signature, issuer, validity, subject, spki, extensions
    not_before, not_after = _elements(_content(fields[4]))
    assert not_after[0] == 0x17  # UTCTime YYMMDDHHMMSSZ
    fields[4] = _der(0x30, not_before + _der(0x18, b"20" + _content(not_after)))


def _long_serial(fields: list[bytes]) -> None:
    fields[1] = _der(0x02, b"\x01" + bytes(21))


def _tbs_says_sha384(fields: list[bytes]) -> None:
    fields[2] = _ECDSA_SHA384


# ------------------------------------------------------------------- the CLI, v1 cert


@pytest.fixture(scope="module")
def openssl_v1(ca: Issued, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A key and an X.509 v1 certificate made by ``openssl x509 -req`` without extensions."""
    if OPENSSL is None:
        pytest.skip("openssl is not installed: the v1 certificate is made by openssl x509 -req")
    tmp = tmp_path_factory.mktemp("openssl-v1")
    (tmp / "ca.pem").write_bytes(ca.cert_pem)
    (tmp / "ca-key.pem").write_bytes(ca.key_pem)

    def openssl(*args: str) -> None:
        subprocess.run([OPENSSL, *args], check=True, capture_output=True, timeout=60)

    key, csr, cert = str(tmp / "key.pem"), str(tmp / "req.csr"), str(tmp / "cert.pem")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    openssl("req", "-new", "-key", key, "-subj", "/O=Xenon Test/CN=v1", "-out", csr)
    openssl(
        *("x509", "-req", "-in", csr, "-CA", str(tmp / "ca.pem"), "-CAkey"),
        *(str(tmp / "ca-key.pem"), "-set_serial", "4242", "-days", "30", "-sha256"),
        *("-out", cert),
    )
    cert_pem = (tmp / "cert.pem").read_bytes()
    if x509.load_pem_x509_certificate(cert_pem).version is not x509.Version.v1:
        pytest.skip("this openssl adds extensions to x509 -req (v3): no v1 certificate to test")
    return (tmp / "key.pem").read_bytes(), cert_pem


def test_openssl_v1_certificate_is_refused_before_writing(
    openssl_v1: tuple[bytes, bytes],
    ca: Issued,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key_pem, cert_pem = openssl_v1
    rc, out = _cli_sign(tmp_path, key_pem, cert_pem)
    err = capsys.readouterr().err
    assert rc == 1
    assert "policy.signature.not-v3" in err and "X.509 v1" in err and "CN=v1" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cert.pem", "host.xml", "key.pem"]
    # verify refuses a document carrying that certificate, for the same reason.
    key = serialization.load_pem_private_key(key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signed = sign_policy(sample_policy(), key, _cert_pem(_leaf(ca, key)))
    v1 = x509.load_pem_x509_certificate(cert_pem)
    assert _verify_code(_swap(signed, v1), ca.cert_pem) == "policy.signature.not-v3"
    assert not _library_accepts(v1, ca)


def test_expired_certificate_is_refused_before_writing(
    ca: Issued, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = make_leaf(ca, "old-signer", days=(-20, -1))
    rc, out = _cli_sign(tmp_path, old.key_pem, old.cert_pem)
    err = capsys.readouterr().err
    assert rc == 1 and "policy.signature.expired" in err and "CN=old-signer" in err
    assert not out.exists()


def test_certificate_without_digital_signature_is_refused_before_writing(
    ca: Issued, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tls = make_leaf(ca, "tls-only", digital_signature=False)
    rc, out = _cli_sign(tmp_path, tls.key_pem, tls.cert_pem)
    err = capsys.readouterr().err
    assert rc == 1 and "policy.signature.key-usage" in err and "digitalSignature" in err
    assert not out.exists()


def test_good_certificate_signs_and_verifies(
    ca: Issued, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_leaf(ca, "good-signer", "rsa")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    rc, out = _cli_sign(tmp_path, good.key_pem, good.cert_pem, "--ca", str(tmp_path / "ca.pem"))
    assert rc == 0 and out.exists()
    capsys.readouterr()
    assert main(["verify", str(out), "--ca", str(tmp_path / "ca.pem")]) == 0
    assert "signed by CN=good-signer,O=Xenon Test" in capsys.readouterr().out


def test_sign_with_ca_checks_the_chain_as_verify_will(
    ca: Issued, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_leaf(ca, "chained-signer")
    rogue = tmp_path / "rogue.pem"
    rogue.write_bytes(make_ca("Rogue CA").cert_pem)
    rc, out = _cli_sign(tmp_path, good.key_pem, good.cert_pem, "--ca", str(rogue))
    assert rc == 1 and "policy.signature.untrusted" in capsys.readouterr().err
    assert not out.exists()


def test_ca_certificate_and_foreign_key_are_refused(ca: Issued) -> None:
    with pytest.raises(PolicySignatureError) as err:
        sign_policy(sample_policy(), ca.key_pem, ca.cert_pem)
    assert err.value.code == "policy.signature.ca-signer"
    other = make_leaf(ca, "someone-else")
    with pytest.raises(PolicySignatureError) as err:
        sign_policy(sample_policy(), make_leaf(ca, "me").key_pem, other.cert_pem)
    assert err.value.code == "policy.signature.key-mismatch"
    assert "CN=someone-else" in str(err.value)


def test_signing_time_is_checked_like_verification_time(ca: Issued) -> None:
    soon = make_leaf(ca, "soon-signer", days=(2, 30))
    with pytest.raises(PolicySignatureError) as err:
        sign_policy(sample_policy(), soon.key_pem, soon.cert_pem)
    assert err.value.code == "policy.signature.not-yet-valid"
    later = NOW + dt.timedelta(days=3)
    signed = sign_policy(sample_policy(), soon.key_pem, soon.cert_pem, at=later)
    assert verify_policy(signed, ca.cert_pem, at=later).policy == sample_policy()


def test_hostile_subject_cannot_forge_lines_in_the_message(
    ca: Issued, signer_key: ec.EllipticCurvePrivateKey
) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil\nOK: all good\x1b[2J")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=9))
        .not_valid_after(NOW - dt.timedelta(days=1))
        .sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    good = _leaf(ca, signer_key)
    signed = _swap(sign_policy(sample_policy(), signer_key, _cert_pem(good)), cert)
    with pytest.raises(PolicySignatureError) as err:
        verify_policy(signed, ca.cert_pem)
    text = str(err.value)
    assert err.value.code == "policy.signature.expired"
    assert "\n" not in text and "\x1b" not in text and "evil\\x0aOK" in text


# ------------------------------------------------- one rule set, the library agrees

_SAN = x509.SubjectAlternativeName([x509.DNSName("signer.example")])
_OCSP = x509.AccessDescription(
    x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://ocsp")
)
_POLICIES = x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("1.2.3"), None)])
_KU_ENC = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
_KU_SIGN = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
_UNKNOWN = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")

# name -> (which CA issues it, how, the reason sign and verify give; None = accepted)
Variant = Callable[[Issued, ec.EllipticCurvePrivateKey], x509.Certificate]
VARIANTS: dict[str, tuple[str, Variant, str | None]] = {
    "plain": ("ec", lambda ca, k: _leaf(ca, k), None),
    "expired": ("ec", lambda ca, k: _leaf(ca, k, days=(-9, -1)), "expired"),
    "not-yet-valid": ("ec", lambda ca, k: _leaf(ca, k, days=(1, 9)), "not-yet-valid"),
    "ca": (
        "ec",
        lambda ca, k: _leaf(ca, k, extensions=((x509.BasicConstraints(True, None), True),)),
        "ca-signer",
    ),
    "key-usage-sign": ("ec", lambda ca, k: _leaf(ca, k, extensions=((_KU_SIGN, True),)), None),
    "key-usage-encipher": (
        "ec",
        lambda ca, k: _leaf(ca, k, extensions=((_KU_ENC, True),)),
        "key-usage",
    ),
    "eku-server-critical": (
        "ec",
        lambda ca, k: _leaf(
            ca, k, extensions=((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), True),)
        ),
        None,
    ),
    "san-critical": ("ec", lambda ca, k: _leaf(ca, k, extensions=((_SAN, True),)), None),
    "aia-critical": (
        "ec",
        lambda ca, k: _leaf(ca, k, extensions=((x509.AuthorityInformationAccess([_OCSP]), True),)),
        None,
    ),
    "policies": ("ec", lambda ca, k: _leaf(ca, k, extensions=((_POLICIES, False),)), None),
    "policies-critical": (
        "ec",
        lambda ca, k: _leaf(ca, k, extensions=((_POLICIES, True),)),
        "critical-extension",
    ),
    "unknown": ("ec", lambda ca, k: _leaf(ca, k, extensions=((_UNKNOWN, False),)), None),
    "unknown-critical": (
        "ec",
        lambda ca, k: _leaf(ca, k, extensions=((_UNKNOWN, True),)),
        "critical-extension",
    ),
    "ecdsa-sha384": ("ec", lambda ca, k: _leaf(ca, k, algorithm=hashes.SHA384()), None),
    "rsa-sha512": ("rsa", lambda ca, k: _leaf(ca, k, algorithm=hashes.SHA512()), None),
    "rsa-sha224": (
        "rsa",
        lambda ca, k: _leaf(ca, k, algorithm=hashes.SHA224()),
        "certificate-algorithm",
    ),
    "rsa-pss-sha256": (
        "rsa",
        lambda ca, k: _leaf(ca, k, pss=padding.PSS(padding.MGF1(hashes.SHA256()), 32)),
        None,
    ),
    "rsa-pss-sha384": (
        "rsa",
        lambda ca, k: _leaf(
            ca, k, algorithm=hashes.SHA384(), pss=padding.PSS(padding.MGF1(hashes.SHA384()), 48)
        ),
        None,
    ),
    "rsa-pss-short-salt": (
        "rsa",
        lambda ca, k: _leaf(ca, k, pss=padding.PSS(padding.MGF1(hashes.SHA256()), 20)),
        "certificate-algorithm",
    ),
    "rsa-pss-mixed-mgf": (
        "rsa",
        lambda ca, k: _leaf(ca, k, pss=padding.PSS(padding.MGF1(hashes.SHA384()), 32)),
        "certificate-algorithm",
    ),
    "generalized-time-before-2050": (
        "ec",
        lambda ca, k: _resign(ca, _leaf(ca, k), _generalized_not_after),
        "certificate",
    ),
    "serial-of-22-octets": (
        "ec",
        lambda ca, k: _resign(ca, _leaf(ca, k), _long_serial),
        "certificate",
    ),
    "algorithm-fields-differ": (
        "ec",
        lambda ca, k: _resign(ca, _leaf(ca, k), _tbs_says_sha384, outer=_ECDSA_SHA256),
        "certificate",
    ),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_sign_and_verify_apply_the_same_rules(
    name: str, ca: Issued, rsa_ca: Issued, signer_key: ec.EllipticCurvePrivateKey
) -> None:
    which, make, reason = VARIANTS[name]
    issuer = rsa_ca if which == "rsa" else ca
    cert = make(issuer, signer_key)
    expected = None if reason is None else f"policy.signature.{reason}"
    # What sign does with it...
    try:
        signed = sign_policy(sample_policy(), signer_key, _cert_pem(cert))
        got = None
    except PolicySignatureError as exc:
        got = exc.code
        assert "variant-signer" in str(exc)
        signed = sign_policy(sample_policy(), signer_key, _cert_pem(_leaf(issuer, signer_key)))
    assert got == expected
    # ...is what verify does with a document that carries it...
    assert _verify_code(_swap(signed, cert), issuer.cert_pem) == expected
    # ...and what cryptography's own chain builder decides, without the shared rules.
    assert _library_accepts(cert, issuer) is (reason is None)
    assert (signer_problem(cert, NOW) is None) is (reason is None)


# -------------------------------------------------------- the console's signed export


def _write_pki(tmp: Path, issued: Issued) -> tuple[Path, Path]:
    key, cert = tmp / "sign-key.pem", tmp / "sign-cert.pem"
    key.write_bytes(_pem(issued.key))
    cert.write_bytes(issued.cert_pem)
    return key, cert


async def test_host_signed_export_refuses_what_verify_would(ca: Issued, tmp_path: Path) -> None:
    key, cert = _write_pki(tmp_path, make_leaf(ca, "tls-only", digital_signature=False))
    host = await Host.open(
        HostConfig(
            state_dir=tmp_path / "state", stats_interval_s=30.0, sign_key=key, sign_cert=cert
        )
    )
    try:
        with pytest.raises(HostStateError) as err:
            await host.export_policy(signed=True)
        assert "digitalSignature" in str(err.value) and "CN=tls-only" in str(err.value)
        plain = await host.export_policy(signed=False)
        assert plain["signed"] is False
    finally:
        await host.close()
