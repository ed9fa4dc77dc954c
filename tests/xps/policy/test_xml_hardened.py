"""The shared hardened XML parser (xps.policy._xmlsafe.parse_untrusted) and its three users."""

from __future__ import annotations

import pytest
from lxml import etree

from tests._support.signing import make_ca
from xps.policy import (
    PolicySignatureError,
    PolicyXmlError,
    TemplateError,
    export_template,
    parse_policy,
    parse_template,
    sample_policy,
    serialize_policy,
    serialize_template,
    verify_signature,
)
from xps.policy._xmlsafe import MAX_XML_DEPTH, _check_tree, parse_untrusted


class Refused(Exception):
    def __init__(self, problem: str, detail: str, line: int, column: int) -> None:
        super().__init__(problem)
        self.problem, self.detail, self.line, self.column = problem, detail, line, column


def _parse(data: bytes, **kw: object) -> etree._Element:
    opts: dict[str, object] = {"max_bytes": 1000, "max_depth": 4, "error": Refused}
    opts.update(kw)
    return parse_untrusted(data, **opts)  # type: ignore[arg-type]


def _refusal(data: bytes, **kw: object) -> Refused:
    with pytest.raises(Refused) as info:
        _parse(data, **kw)
    return info.value


def test_accepts_and_keeps_what_is_asked() -> None:
    doc = b"<?xml version='1.0'?>\n<r>\n  <!--c--><?pi x?><a> t </a>\n</r>"
    kept = _parse(doc, keep_comments=True, keep_pis=True)
    assert etree.tostring(kept) == b"<r>\n  <!--c--><?pi x?><a> t </a>\n</r>"
    bare = _parse(doc, keep_comments=False, keep_pis=False)
    assert etree.tostring(bare) == b"<r>\n  <a> t </a>\n</r>"
    assert etree.tostring(_parse(doc)) == b"<r>\n  <!--c--><a> t </a>\n</r>"


@pytest.mark.parametrize(
    ("data", "problem", "line", "column"),
    [
        (b"<r>" + b" " * 1000 + b"</r>", "too_large", 0, 0),
        ("<r/>".encode("utf-16"), "encoding", 1, 1),
        ("<r/>".encode("utf-32-le"), "encoding", 1, 1),
        (b"<r>\x00</r>", "encoding", 1, 1),
        (b"<?xml version='1.0'?>\n\n  <!DOCTYPE r>\n<r/>", "doctype", 3, 3),
        (b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>', "doctype", 1, 1),
        (b"<?xml version='1.0' encoding='ISO-8859-1'?><r>\xe9</r>", "encoding", 1, 0),
        (b"<r>\n<a>\n</r>", "syntax", 3, 5),
        (b"<r>&undeclared;</r>", "syntax", 1, 16),
        (b"<r><a><b><c><d/></c></b></a></r>", "too_deep", 1, 0),
    ],
)
def test_refusals_name_problem_and_position(
    data: bytes, problem: str, line: int, column: int
) -> None:
    err = _refusal(data)
    assert (err.problem, err.line, err.column) == (problem, line, column)
    if problem == "encoding" and line == 1 and column == 0:
        assert err.detail == "ISO-8859-1"


def test_depth_limit_counts_the_root_as_one() -> None:
    assert _parse(b"<r><a><b><c/></b></a></r>", max_depth=4) is not None
    assert _refusal(b"<r><a><b><c/></b></a></r>", max_depth=3).problem == "too_deep"
    deep = b"<r>" + b"<a>" * 200 + b"</a>" * 200 + b"</r>"
    assert _parse(deep, max_bytes=10_000, max_depth=None) is not None
    # libxml2's own limit (no huge_tree) still applies without max_depth.
    deeper = b"<r>" + b"<a>" * 300 + b"</a>" * 300 + b"</r>"
    err = _refusal(deeper, max_bytes=10_000, max_depth=None)
    assert err.problem == "syntax" and "depth" in err.detail.lower()


def test_entity_nodes_in_a_tree_are_refused() -> None:
    root = etree.Element("r")
    root.append(etree.Entity("e"))
    with pytest.raises(Refused) as info:
        _check_tree(root.getroottree(), None, Refused)
    assert info.value.problem == "entity"


def test_no_network_or_file_access() -> None:
    for head in (b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">', b""):
        doc = (
            head
            + b'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd"/></r>'
        )
        if head:
            assert _refusal(doc).problem == "doctype"
        else:
            root = _parse(doc)
            assert b"root:" not in etree.tostring(root)


def test_policy_errors_keep_their_codes() -> None:
    data = serialize_policy(sample_policy())
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(data.decode().replace("UTF-8", "UTF-16").encode("utf-16"))
    assert info.value.code == "policy.xml.encoding"
    assert (
        str(info.value) == "policy documents are UTF-8 (UTF-16/32 input refused) (line 1, column 1)"
    )
    deep = (
        b'<policy xmlns="urn:xenon:policy:1">'
        + b"<a>" * MAX_XML_DEPTH
        + b"</a>" * MAX_XML_DEPTH
        + b"</policy>"
    )
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(deep)
    assert info.value.code == "policy.xml.too_deep"


def test_template_gains_the_encoding_refusal_with_its_own_code() -> None:
    data = serialize_template(export_template(sample_policy()))
    assert parse_template(data).policy.name == sample_policy().name
    latin = data.replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'", 1)
    assert latin != data
    with pytest.raises(TemplateError) as info:
        parse_template(latin)
    assert info.value.code == "policy.template.xml"
    assert str(info.value) == "templates are UTF-8, not ISO-8859-1"
    with pytest.raises(TemplateError) as info:
        parse_template(data.decode().encode("utf-16"))
    assert info.value.code == "policy.template.xml"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("<p/>".encode("utf-16"), "a signed policy is UTF-8, not UTF-16/32"),
        (
            b'<p xmlns="urn:xenon:policy:1">' + b"<a>" * 32 + b"</a>" * 32 + b"</p>",
            "a signed policy nests deeper than 32 elements",
        ),
        (b"<p", "malformed XML: "),
    ],
)
def test_signature_refusals_keep_the_malformed_code(data: bytes, message: str) -> None:
    with pytest.raises(PolicySignatureError) as info:
        verify_signature(data, make_ca().cert_pem)
    assert info.value.code == "policy.signature.malformed"
    assert str(info.value).startswith(message)
