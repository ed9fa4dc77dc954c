"""The field specs that drive the flat objects' XML and JSON forms."""

from __future__ import annotations

import dataclasses
import inspect
from uuid import uuid4

import pytest
from lxml import etree

from xps.policy import _model, _specs
from xps.policy._fields import INT, STR, UUID_, Spec, attr, qname


def _all_specs() -> dict[type, Spec[object]]:
    return {s.cls: s for s in vars(_specs).values() if isinstance(s, Spec)}


def test_every_model_dataclass_has_one_spec() -> None:
    classes = {
        c
        for _, c in inspect.getmembers(_model, inspect.isclass)
        if dataclasses.is_dataclass(c) and c.__module__ == _model.__name__
    }
    assert classes == set(_all_specs())


def test_a_spec_must_list_exactly_the_dataclass_fields() -> None:
    with pytest.raises(TypeError, match="MemoryInfo"):
        Spec(_model.MemoryInfo, "memory")
    with pytest.raises(TypeError, match="Tag"):
        Spec(_model.Tag, "tag", attr("id", UUID_), attr("name", STR), attr("colour", INT))


def test_xml_reads_enums_as_members_not_strings() -> None:
    root = etree.Element(qname("r"))
    label = _model.SecLabel(
        id=uuid4(),
        name="l",
        profile=uuid4(),
        tag=uuid4(),
        role=_model.GuestRole.SECURITY_DOMAIN,
    )
    el = _specs.SECLABEL.write(root, label)
    assert el.get("role") == "security_domain" and el.get("max-rate") == "1000"
    back = _specs.SECLABEL.read(el)
    assert back == label and type(back.role) is _model.GuestRole


def test_optional_attributes_and_children_are_left_out() -> None:
    root = etree.Element(qname("r"))
    domain = _model.DomainConfig(
        id=uuid4(), name="d", seclabel=None, guest_type=_model.GuestType.PVH
    )
    el = _specs.DOMAIN.write(root, domain)
    assert "seclabel" not in el.attrib and "vnc-display" not in el.attrib
    assert el.find(qname("kernel")) is None
    assert _specs.DOMAIN.read(el) == domain
    with_kernel = dataclasses.replace(domain, kernel="", vnc_display=0)
    el = _specs.DOMAIN.write(root, with_kernel)
    assert el.findtext(qname("kernel")) == "" and el.get("vnc-display") == "0"
    assert _specs.DOMAIN.read(el) == with_kernel
