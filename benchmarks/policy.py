"""Policy parse+validate, serialize, XML-DSig sign and verify against a raw C14N+signature baseline.

``python -m benchmarks.policy --json`` builds deterministic policies with 100, 1,000 and
10,000 SecLabels (one domain and one VIF each), then measures per size:

- ``parse_validate_ms``: ``parse_policy`` (hardened parser, XSD, model) + ``validate``;
- ``serialize_ms``: ``serialize_policy``;
- ``sign_ms``: ``sign_policy`` of the policy element with the loaded key (enveloped
  XML-DSig, exclusive C14N, RSA-3072 SHA-256, certificate embedded, signed document
  bytes out); ``sign_with_pem_key_ms`` is the same from the PEM key (one run);
- ``verify_ms``: ``verify_signature`` of the signed bytes (hardened parse, strict shape
  checks, chain verification, signxml digest + signature check, parse of the signed
  canonical bytes it returns); ``verify_policy_ms`` adds building the policy model
  (XSD + dataclasses) from the signed content, which the baseline does not do;
- the baseline, run alternately with ours: ``baseline_sign_ms`` = exclusive C14N
  without comments (the signature's algorithm) of the same element + one RSA-3072
  PKCS#1 v1.5 SHA-256 signature over the canonical bytes; ``baseline_verify_ms`` =
  parse the unsigned document bytes + the same C14N + verify that signature.
  Baselines do no XML-DSig structure, certificate, or policy-model work.

``sign_ratio_10k`` / ``verify_ratio_10k`` = ours / baseline (goal: within 3x);
``verify_policy_ratio_10k`` includes the model. Progress
goes to stderr; one JSON object is printed last and written to
``benchmarks/results/policy.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from xps.policy import (
    DomainConfig,
    GuestType,
    NetworkSwitch,
    Policy,
    SecLabel,
    SwitchMode,
    Tag,
    Vif,
    parse_policy,
    predefined_profile,
    serialize_policy,
    sign_policy,
    validate,
    verify_policy,
)
from xps.policy._sign import verify_signature

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "policy.json"
SIZES = {"100": 100, "1k": 1_000, "10k": 10_000}
REPEATS = {"100": 7, "1k": 5, "10k": 5}
_NS = UUID("6b2f0c1e-5a1d-4c3e-9f00-00000000be9c")


def progress(message: str) -> None:
    """Progress to stderr (stdout carries only the final JSON)."""
    print(f"[policy-bench] {message}", file=sys.stderr, flush=True)


def make_policy(n: int) -> Policy:
    """``n`` SecLabels and ``n`` PV domains with one VIF each, over ``n // 50 + 1`` enclaves."""
    profile = predefined_profile("PV-Combined")
    n_tags = n // 50 + 1
    tags = [
        Tag(uuid5(_NS, f"tag{i}"), f"Enclave-{i:04d}", (i % 256, 80, 160)) for i in range(n_tags)
    ]
    switches = [
        NetworkSwitch(
            uuid5(_NS, f"sw{i}"),
            f"br{i:04d}",
            SwitchMode.BRIDGED,
            tags[i].id,
            ip=f"10.{i // 256}.{i % 256}.1",
            netmask="255.255.255.0",
        )
        for i in range(n_tags)
    ]
    labels, domains, vifs = [], [], []
    for j in range(n):
        t = j % n_tags
        label = SecLabel(
            uuid5(_NS, f"sl{j}"),
            f"sl-{j:05d}",
            profile.id,
            tags[t].id,
            max_rate=1000 + j % 100,
            max_violations=10,
        )
        dom = DomainConfig(
            uuid5(_NS, f"d{j}"),
            f"dom-{j:05d}",
            label.id,
            GuestType.PV,
            kernel="/boot/vmlinuz",
            cmdline="root=/dev/xvda1 ro",
            memory_mb=512,
            maxmem_mb=1024,
            vcpus=1,
            maxvcpus=2,
        )
        host = j // n_tags + 2  # 2..n/n_tags+1 <= 51 < 255
        vifs.append(
            Vif(
                dom.id,
                switches[t].id,
                f"00:16:3e:{j >> 16 & 255:02x}:{j >> 8 & 255:02x}:{j & 255:02x}",
                f"10.{t // 256}.{t % 256}.{host}",
            )
        )
        labels.append(label)
        domains.append(dom)
    return Policy(
        name=f"bench-{n}",
        version=1,
        uuid=uuid5(_NS, f"policy{n}"),
        profiles=(profile,),
        tags=tuple(tags),
        seclabels=tuple(labels),
        domains=tuple(domains),
        switches=tuple(switches),
        vifs=tuple(vifs),
    )


def make_signer() -> tuple[rsa.RSAPrivateKey, bytes, bytes, bytes]:
    """A P-256 CA and an RSA-3072 signing certificate: (key, key PEM, cert PEM, CA PEM)."""
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ku = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("bench CA"))
        .issuer_name(name("bench CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**{**ku, "key_cert_sign": True}), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(65537, 3072)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("bench signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**{**ku, "digital_signature": True}), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key, key_pem, cert.public_bytes(pem), ca.public_bytes(pem)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time in ms over ``repeats`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2), result


def timed_pairs(
    ours: Callable[[], Any], base: Callable[[], Any], repeats: int
) -> tuple[float, float, Any, Any]:
    """Median ms of ``ours`` and ``base`` run alternately, so load changes hit both alike."""
    t_ours, t_base, r_ours, r_base = [], [], None, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        r_ours = ours()
        t1 = time.perf_counter()
        r_base = base()
        t2 = time.perf_counter()
        t_ours.append((t1 - t0) * 1000)
        t_base.append((t2 - t1) * 1000)
    return (
        round(statistics.median(t_ours), 2),
        round(statistics.median(t_base), 2),
        r_ours,
        r_base,
    )


def _parse_validate(doc: bytes) -> int:
    return len(validate(parse_policy(doc)))


def run() -> dict[str, Any]:
    """Runs every measurement and returns the result object."""
    key, key_pem, cert_pem, ca_pem = make_signer()
    pkcs1 = padding.PKCS1v15()
    public = key.public_key()
    result: dict[str, Any] = {"benchmark": "policy", "signature": "RSA-3072 SHA-256, exc-c14n"}
    for label, n in SIZES.items():
        reps = REPEATS[label]
        progress(f"building the {n}-SecLabel policy")
        policy = make_policy(n)
        ser_ms, doc = timed(partial(serialize_policy, policy), reps)
        pv_ms, _ = timed(partial(_parse_validate, doc), reps)
        element = etree.fromstring(doc)  # the same document the baseline verifies
        # The loaded key, like the baseline (loading an RSA PEM costs ~0.2 s on its own).
        sign_pem_ms, _ = timed(partial(sign_policy, element, key_pem, cert_pem), 1)

        def base_sign(e: etree._Element = element) -> bytes:
            # The C14N the signature uses: exclusive, without comments.
            canon = etree.tostring(e, method="c14n", exclusive=True, with_comments=False)
            return key.sign(canon, pkcs1, hashes.SHA256())

        sign_ms, b_sign_ms, signed, sig = timed_pairs(
            partial(sign_policy, element, key, cert_pem), base_sign, reps
        )

        def base_verify(d: bytes = doc, s: bytes = sig) -> None:
            root = etree.fromstring(d, etree.XMLParser(resolve_entities=False, no_network=True))
            canon = etree.tostring(root, method="c14n", exclusive=True, with_comments=False)
            public.verify(s, canon, pkcs1, hashes.SHA256())

        verify_ms, b_verify_ms, _, _ = timed_pairs(
            partial(verify_signature, signed, ca_pem), base_verify, reps
        )
        vp_ms, verified = timed(partial(verify_policy, signed, ca_pem), reps)
        assert verified.policy == policy, "the verified policy differs from the signed one"
        result |= {
            f"bytes_{label}": len(doc),
            f"signed_bytes_{label}": len(signed),
            f"parse_validate_ms_{label}": pv_ms,
            f"serialize_ms_{label}": ser_ms,
            f"sign_ms_{label}": sign_ms,
            f"verify_ms_{label}": verify_ms,
            f"verify_policy_ms_{label}": vp_ms,
            f"sign_with_pem_key_ms_{label}": sign_pem_ms,
            f"baseline_sign_ms_{label}": b_sign_ms,
            f"baseline_verify_ms_{label}": b_verify_ms,
        }
        progress(
            f"{label}: {len(doc)} B, parse+validate {pv_ms} ms, serialize {ser_ms} ms, "
            f"sign {sign_ms} ms (baseline {b_sign_ms}), verify {verify_ms} ms "
            f"(baseline {b_verify_ms}), verify+model {vp_ms} ms"
        )
    result["sign_ratio_10k"] = round(result["sign_ms_10k"] / result["baseline_sign_ms_10k"], 2)
    result["verify_ratio_10k"] = round(
        result["verify_ms_10k"] / result["baseline_verify_ms_10k"], 2
    )
    result["verify_policy_ratio_10k"] = round(
        result["verify_policy_ms_10k"] / result["baseline_verify_ms_10k"], 2
    )
    result["goal_within_3x"] = result["sign_ratio_10k"] <= 3 and result["verify_ratio_10k"] <= 3
    return result


def main() -> int:
    """``python -m benchmarks.policy --json``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.policy")
    parser.add_argument("--json", action="store_true", help="print the JSON result")
    parser.parse_args()
    result = run()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
