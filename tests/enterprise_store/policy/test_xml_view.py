"""The XML view: xps.policy's format inside the XE extension namespace, with its own XSD."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from enterprise_store._errors import InvalidInput
from enterprise_store.model import EnterprisePolicy
from enterprise_store.policy import (
    XE_NAMESPACE,
    enterprise_schema_text,
    parse_enterprise,
    sample_xe_policy,
    serialize_enterprise,
)
from tests._support.xe_strategies import enterprises
from xps.policy import NAMESPACE, parse_policy

_XE = sample_xe_policy()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(enterprises())
def test_xml_round_trips(policy: EnterprisePolicy) -> None:
    data = serialize_enterprise(policy)
    assert parse_enterprise(data) == policy
    assert serialize_enterprise(parse_enterprise(data)) == data


def test_the_embedded_policy_is_an_ordinary_policy_document() -> None:
    root = etree.fromstring(serialize_enterprise(_XE))
    assert root.tag == f"{{{XE_NAMESPACE}}}enterprise"
    inner = root.find(f"{{{NAMESPACE}}}policy")
    assert inner is not None
    policy = parse_policy(etree.tostring(inner))
    assert [t.name for t in policy.tags] == ["Enclave A", "Enclave B", "Enclave C"]
    assert {d.name: d.host for d in policy.domains}["EA-domu-1"] == "xenon-2"
    assert len(policy.domains) == 12 and len(policy.profiles) == 10


def test_the_schema_is_published_and_imports_the_policy_schema() -> None:
    text = enterprise_schema_text()
    assert 'targetNamespace="urn:xenon:enterprise:1"' in text
    assert 'schemaLocation="xenon-policy.xsd"' in text


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda x: x.replace(b'port="9443"', b'port="0"', 1), "port"),
        (lambda x: x.replace(b'max-rate="2000"', b'max-rate="70000"', 1), "max-rate"),
        (lambda x: x.replace(b"<tags>", b"<tagz>", 1).replace(b"</tags>", b"</tagz>", 1), "tagz"),
        (lambda x: x.replace(b'run="true"', b'run="maybe"', 1), "run"),
        (lambda x: x.replace(b'format="1"', b'format="2"', 1), "format"),
    ],
)
def test_schema_invalid_documents_are_refused(edit: object, message: str) -> None:
    data = edit(serialize_enterprise(_XE))  # type: ignore[operator]
    with pytest.raises(InvalidInput, match="not a valid XE policy document") as err:
        parse_enterprise(data)
    assert message in err.value.message


def test_hostile_documents_are_refused() -> None:
    data = serialize_enterprise(_XE)
    doctype = data.replace(b"<enterprise", b'<!DOCTYPE e [<!ENTITY x "boom">]>\n<enterprise', 1)
    with pytest.raises(InvalidInput, match="DOCTYPE"):
        parse_enterprise(doctype)
    with pytest.raises(InvalidInput, match="UTF-8"):
        parse_enterprise(data.decode().encode("utf-16"))
    deep = b"<a>" * 40 + b"</a>" * 40
    with pytest.raises(InvalidInput, match="deeper"):
        parse_enterprise(deep)
    with pytest.raises(InvalidInput, match="malformed"):
        parse_enterprise(data[:-20])
    with pytest.raises(InvalidInput, match="expected"):
        parse_enterprise(b'<policy xmlns="urn:xenon:policy:1"/>')


def test_every_vm_needs_its_domain() -> None:
    data = serialize_enterprise(_XE)
    root = etree.fromstring(data)
    vms = root.find(f"{{{XE_NAMESPACE}}}vms")
    assert vms is not None
    vms.remove(vms[0])
    with pytest.raises(InvalidInput, match="exactly one <domain>"):
        parse_enterprise(etree.tostring(root))


def test_what_xml_cannot_carry_is_refused_when_writing() -> None:
    bad_color = _XE.with_enclave(
        dataclasses.replace(_XE.enclave_named("Enclave A"), color=(300, 0, 0))
    )
    with pytest.raises(InvalidInput, match="RGB"):
        serialize_enterprise(bad_color)
    control = _XE.with_vm(dataclasses.replace(_XE.vm_named("EA-domu-1"), name="EA\x01"))
    with pytest.raises(InvalidInput, match="cannot be written as XML"):
        serialize_enterprise(control)
    bad_port = _XE.with_host(dataclasses.replace(_XE.host_named("xenon-1"), port=70000))
    with pytest.raises(InvalidInput, match="port"):
        serialize_enterprise(bad_port)


def test_xml_is_deterministic_and_carries_the_xe_fields() -> None:
    data = serialize_enterprise(_XE)
    assert data == serialize_enterprise(sample_xe_policy())
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<enterprise")
    assert b'<assignment enclave="' in data and b"<dhcp-server " in data
    assert b'<network allow="true" max-vifs="1">' in data
    assert b'<cpu vendor="GenuineIntel" family="6" model="63" stepping="2"' in data
