"""The lossless JSON-safe dict form and Xen-OUI MAC generation."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings

from tests._support.policy_strategies import policies
from xps.policy import (
    XEN_OUI,
    Policy,
    PolicyFormatError,
    generate_mac,
    policy_from_dict,
    policy_to_dict,
    sample_policy,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_round_trip_through_json(policy: Policy) -> None:
    text = json.dumps(policy_to_dict(policy))
    assert policy_from_dict(json.loads(text)) == policy


def test_dict_shape() -> None:
    data = policy_to_dict(sample_policy())
    label = data["seclabels"][0]
    assert isinstance(label["id"], str) and label["role"] == "none"
    assert data["profiles"][0]["hypercalls"] == sorted(data["profiles"][0]["hypercalls"])
    assert data["domains"][0]["guest_type"] in {"pv", "pvhvm", "hvm", "pvh"}


def test_defaults_fill_missing_optional_fields() -> None:
    policy = policy_from_dict({"name": "tiny", "uuid": "00000000-0000-0000-0000-000000000001"})
    assert policy.name == "tiny" and policy.version == 1 and policy.domains == ()


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({}, "name: missing"),
        ({"name": 5}, "name: expected a string"),
        ({"name": "x", "version": "1"}, "version: expected an integer"),
        ({"name": "x", "version": True}, "version: expected an integer"),
        ({"name": "x", "uuid": "nope"}, "uuid: not a UUID"),
        ({"name": "x", "tags": {}}, "tags: expected a list"),
        ({"name": "x", "tags": [{"id": "00000000-0000-0000-0000-000000000001"}]}, "tags[0].name"),
        (
            {
                "name": "x",
                "tags": [
                    {"id": "00000000-0000-0000-0000-000000000001", "name": "t", "color": [1, 2]}
                ],
            },
            "tags[0].color: expected 3 items",
        ),
        ({"name": "x", "bogus": 1}, "unknown field(s) bogus"),
        ([], "expected an object"),
    ],
)
def test_malformed_dicts_name_the_path(data: object, where: str) -> None:
    with pytest.raises(PolicyFormatError) as info:
        policy_from_dict(data)  # type: ignore[arg-type]
    assert where in str(info.value)
    assert info.value.code == "policy.format"


def test_bad_enum_value_is_refused() -> None:
    data = policy_to_dict(sample_policy())
    data["domains"][0]["guest_type"] = "xen"
    with pytest.raises(PolicyFormatError) as info:
        policy_from_dict(data)
    assert "domains[0].guest_type" in str(info.value) and "pvhvm" in str(info.value)


def test_generated_macs_are_xen_unicast_and_reproducible() -> None:
    rng = random.Random(7)
    macs = [generate_mac(rng) for _ in range(500)]
    assert all(m.startswith(XEN_OUI + ":") for m in macs)
    assert all(int(m.split(":")[3], 16) < 0x80 for m in macs)
    assert len(set(macs)) > 490
    assert generate_mac(random.Random(3)) == generate_mac(random.Random(3))
    assert len(generate_mac()) == 17
