"""XML and JSON forms of policies: round trips, and bytes identical to the hand-written encoders.

``data/old_encoder_corpus.jsonl.gz`` holds, one JSON object a line, ``{"xml": ..., "json": ...}``:
``serialize_policy(p)`` and ``json.dumps(policy_to_dict(p))`` as written by the hand-written
encoders before the field specs replaced them (commit fe617d5), for ``sample_policy()`` and 30
policies from ``tests._support.policy_strategies.policies()`` (hypothesis seed 20261206,
generate phase only). It is never regenerated from the current code.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings

from tests._support.policy_strategies import policies
from xps.policy import (
    Policy,
    parse_policy,
    policy_from_dict,
    policy_to_dict,
    sample_policy,
    serialize_policy,
)

_CORPUS = Path(__file__).parent / "data" / "old_encoder_corpus.jsonl.gz"


def _corpus() -> list[dict[str, str]]:
    with gzip.open(_CORPUS, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


CORPUS = _corpus()


def test_corpus_is_what_it_says() -> None:
    assert len(CORPUS) == 31
    assert parse_policy(CORPUS[0]["xml"].encode()) == sample_policy()
    # The corpus exercises optional fields both present and absent.
    text = "".join(entry["xml"] for entry in CORPUS)
    for needle in ('driver-domain="', 'vnc-display="', "<kernel>", "<extra ", 'tag="', "<dns>"):
        assert needle in text, needle


@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_encoders_write_the_old_bytes(index: int) -> None:
    entry = CORPUS[index]
    old_xml = entry["xml"].encode("utf-8")
    policy = parse_policy(old_xml)
    assert serialize_policy(policy) == old_xml
    assert json.dumps(policy_to_dict(policy)) == entry["json"]
    assert policy_from_dict(json.loads(entry["json"])) == policy


@settings(max_examples=60)
@given(policies())
def test_xml_and_json_round_trip_to_equal_models(policy: Policy) -> None:
    from_xml = parse_policy(serialize_policy(policy))
    from_json = policy_from_dict(json.loads(json.dumps(policy_to_dict(policy))))
    assert from_xml == policy
    assert from_json == policy
    assert serialize_policy(from_json) == serialize_policy(policy)
    assert policy_to_dict(from_xml) == policy_to_dict(policy)
