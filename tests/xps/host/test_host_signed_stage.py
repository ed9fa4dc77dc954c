"""StagePolicy takes a signed policy (what the enterprise store sends) only when it verifies.

The host's policy trust is a CA bundle (the daemon passes its TLS trust store). A signed
document is verified and its policy built from the signed content; it is stored without
the signature, so the active hash is the hash of the canonical unsigned document.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from xps.host import Host, HostConfig, PolicyInvalid
from xps.pki import init_ca, issue
from xps.policy import sample_policy, serialize_policy, sign_policy


@dataclasses.dataclass(frozen=True)
class Signer:
    ca: Path
    key: bytes
    cert: bytes


def _signer(root: Path, name: str) -> Signer:
    init_ca(root, common_name=f"{name} CA")
    issued = issue(root, name, "client")
    return Signer(issued.ca_cert, issued.key.read_bytes(), issued.cert.read_bytes())


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return _signer(tmp_path_factory.mktemp("trusted"), "xe-client")


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    return _signer(tmp_path_factory.mktemp("stranger"), "intruder")


async def _host(state: Path, trust: Path | None) -> Host:
    return await Host.open(
        HostConfig(state_dir=state, stats_interval_s=0.05, sim_slice_ms=10, policy_trust=trust)
    )


@pytest.fixture
async def host(tmp_path: Path, trusted: Signer) -> AsyncIterator[Host]:
    h = await _host(tmp_path / "state", trusted.ca)
    try:
        yield h
    finally:
        await h.close()


def _changed() -> bytes:
    policy = sample_policy()
    return serialize_policy(dataclasses.replace(policy, name="signed by XE", version=7))


async def test_a_signed_policy_from_a_trusted_signer_is_staged_and_stored_unsigned(
    host: Host, trusted: Signer
) -> None:
    policy = dataclasses.replace(sample_policy(), name="signed by XE", version=7)
    signed = sign_policy(policy, trusted.key, trusted.cert)
    staged = await host.stage_policy(xml=signed.decode())
    active = await host.activate_policy()
    canonical = serialize_policy(policy)
    assert staged["sha256"] == active["sha256"] == hashlib.sha256(canonical).hexdigest()
    stored = await host.get_policy()
    assert stored["xml"].encode() == canonical
    assert "Signature" not in stored["xml"]


async def test_a_signature_from_an_untrusted_ca_is_refused(host: Host, stranger: Signer) -> None:
    signed = sign_policy(sample_policy(), stranger.key, stranger.cert)
    with pytest.raises(PolicyInvalid) as caught:
        await host.stage_policy(xml=signed.decode())
    assert caught.value.details[0]["code"] == "policy.signature.untrusted"


async def test_a_signed_policy_altered_after_signing_is_refused(
    host: Host, trusted: Signer
) -> None:
    signed = sign_policy(sample_policy(), trusted.key, trusted.cert)
    tampered = signed.replace(b"xenon-1 sample policy", b"xenon-1 sample policX", 1)
    assert tampered != signed
    with pytest.raises(PolicyInvalid) as caught:
        await host.stage_policy(xml=tampered.decode())
    assert caught.value.details[0]["code"] == "policy.signature.digest"


async def test_without_a_policy_trust_signed_policies_are_refused_unsigned_ones_taken(
    tmp_path: Path, trusted: Signer
) -> None:
    h = await _host(tmp_path / "state", None)
    try:
        signed = sign_policy(sample_policy(), trusted.key, trusted.cert)
        with pytest.raises(PolicyInvalid) as caught:
            await h.stage_policy(xml=signed.decode())
        assert caught.value.details[0]["code"] == "policy.signature.no-trust"
        staged = await h.stage_policy(xml=_changed().decode())
        assert staged["staged"] is True
    finally:
        await h.close()


async def test_unsigned_text_naming_the_signature_namespace_still_parses(host: Host) -> None:
    policy = dataclasses.replace(
        sample_policy(), name="about http://www.w3.org/2000/09/xmldsig# and more"
    )
    staged = await host.stage_policy(xml=serialize_policy(policy).decode())
    assert staged["staged"] is True
