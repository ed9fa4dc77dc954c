"""Canonical JSON of an enterprise policy: round trip, stable bytes and hash, strict decoding."""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings

from enterprise_store._errors import InvalidInput
from enterprise_store.model import (
    EnterprisePolicy,
    policy_from_dict,
    policy_from_json,
    policy_sha256,
    policy_to_json,
)
from enterprise_store.policy import sample_xe_policy
from tests._support.xe_strategies import enterprises


@settings(max_examples=60, deadline=None)
@given(enterprises())
def test_json_round_trips(policy: EnterprisePolicy) -> None:
    data = policy_to_json(policy)
    assert policy_from_json(data) == policy
    assert policy_to_json(policy_from_json(data)) == data
    assert policy_from_dict(json.loads(data)) == policy


@settings(max_examples=30, deadline=None)
@given(enterprises())
def test_identity_does_not_depend_on_construction_order(policy: EnterprisePolicy) -> None:
    rng = random.Random(len(policy.vms))
    shuffled = dataclasses.replace(
        policy,
        **{
            attr: tuple(rng.sample(getattr(policy, attr), len(getattr(policy, attr))))
            for attr in ("hosts", "enclaves", "assignments", "seclabels", "vms", "conflicts")
        },
    )
    assert policy_sha256(shuffled) == policy_sha256(policy)


def test_json_is_compact_sorted_utf8() -> None:
    p = sample_xe_policy()
    data = policy_to_json(p)
    text = data.decode("utf-8")
    assert json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")) == text
    assert policy_sha256(p) == policy_sha256(sample_xe_policy())
    assert policy_sha256(p.bumped()) != policy_sha256(p)


def test_names_are_not_escaped() -> None:
    p = sample_xe_policy()
    renamed = p.with_enclave(dataclasses.replace(p.enclave_named("Enclave A"), name="Enklave Å"))
    assert "Enklave Å".encode() in policy_to_json(renamed)


def _sample_dict() -> dict[str, object]:
    return json.loads(policy_to_json(sample_xe_policy()))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format=2), "format must be 1"),
        (lambda d: d.update(extra=1), "unknown field(s) extra"),
        (lambda d: d["vms"][0].update(seclabel="nope"), "vms[0].seclabel: not a UUID"),
        (lambda d: d["vms"][0].update(memory_mb="1"), "vms[0].memory_mb: expected an integer"),
        (lambda d: d["vms"][0].update(run=1), "vms[0].run: expected true or false"),
        (lambda d: d["vms"][0].update(guest_type="xen"), "vms[0].guest_type: 'xen' is not one"),
        (lambda d: d["hosts"][1].pop("name"), "hosts[1].name: missing"),
        (lambda d: d["hosts"][0].update(color=[1, 2]), "hosts[0].color: expected 3 items"),
        (
            lambda d: d["hosts"][0]["cpu"].update(flags="sse2"),
            "hosts[0].cpu.flags: expected a list",
        ),
        (lambda d: d.update(vms={}), "vms: expected a list"),
    ],
)
def test_decoding_names_the_bad_path(mutate: object, message: str) -> None:
    data = _sample_dict()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(InvalidInput) as err:
        policy_from_dict(data)
    assert message in err.value.message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "malformed"),
        (b'{"format": 1, "format": 1}', "duplicate key 'format'"),
        (b'{"format": 1, "version": NaN}', "NaN is not a number JSON allows"),
        ('{"format":1}'.encode("utf-16"), "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "not acceptable"),
        (
            b'{"format": 1, "enclaves": [{"id": "00000000-0000-4000-8000-000000000001", '
            b'"name": "\\ud800"}]}',
            "lone surrogate",
        ),
        (b"[]", "expected an object"),
    ],
)
def test_hostile_json_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        policy_from_json(raw)


def test_defaults_may_be_left_out() -> None:
    p = policy_from_json(b'{"format": 1}')
    assert p == EnterprisePolicy()


_CORPUS = Path(__file__).parent / "data" / "old_encoder_corpus.jsonl.gz"
"""``policy_to_json`` of ``sample_xe_policy()`` and 40 ``enterprises()`` (hypothesis seed 7,
generate phase only), one a line, as written by the hand-written codec before it moved onto
xps.policy's shared JSON specs (commit 3ff468b). Never regenerated from the current code."""


def test_json_bytes_are_what_the_hand_written_codec_wrote() -> None:
    with gzip.open(_CORPUS, "rb") as fh:
        lines = [line.rstrip(b"\n") for line in fh]
    assert len(lines) == 41
    assert policy_from_json(lines[0]) == sample_xe_policy()
    for data in lines:
        policy = policy_from_json(data)
        assert policy_to_json(policy) == data
        assert policy_from_dict(json.loads(data)) == policy


def test_lists_must_be_json_lists() -> None:
    data = _sample_dict()
    data["hosts"] = tuple(data["hosts"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="hosts: expected a list, got tuple"):
        policy_from_dict(data)
