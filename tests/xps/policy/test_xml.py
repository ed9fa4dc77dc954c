"""XML: round trips, byte stability, schema checks and hostile documents."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from tests._support.policy_strategies import policies
from xps.policy import (
    MAX_XML_BYTES,
    NAMESPACE,
    Policy,
    PolicyXmlError,
    Tag,
    parse_policy,
    policy_from_element,
    policy_to_element,
    sample_policy,
    schema_text,
    serialize_policy,
)

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(policies())
def test_round_trip_model(policy: Policy) -> None:
    assert parse_policy(serialize_policy(policy)) == policy


@_SETTINGS
@given(policies())
def test_serialization_is_byte_stable(policy: Policy) -> None:
    data = serialize_policy(policy)
    assert serialize_policy(parse_policy(data)) == data
    assert data.endswith(b"\n") and data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_sample_document_is_schema_valid_and_canonical() -> None:
    data = serialize_policy(sample_policy())
    schema = etree.XMLSchema(etree.fromstring(schema_text().encode()))
    assert schema.validate(etree.fromstring(data)), schema.error_log
    # Canonical order: objects by name, attributes in a fixed order.
    names = [el.get("name") for el in etree.fromstring(data).iter(f"{{{NAMESPACE}}}domain")]
    assert names == sorted(names)
    assert b'<tag id="' in data and b'name="Enclave A" color="#cc2529"/>' in data


def test_parse_accepts_text_and_paths(tmp_path: Path) -> None:
    policy = sample_policy()
    data = serialize_policy(policy)
    path = tmp_path / "p.xml"
    path.write_bytes(data)
    assert parse_policy(path) == policy
    assert parse_policy(data.decode()) == policy
    element = policy_to_element(policy)
    assert policy_from_element(element) == policy


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(tmp_path / "absent.xml")
    assert info.value.code == "policy.xml.io"


def test_unserializable_text_is_reported() -> None:
    policy = Policy("p\x00bad")
    with pytest.raises(PolicyXmlError) as info:
        serialize_policy(policy)
    assert info.value.code == "policy.xml.unserializable"


# ------------------------------------------------------------------ hostile input


def test_billion_laughs_is_refused_without_expansion() -> None:
    doc = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<policy xmlns="urn:xenon:policy:1" name="&lol9;" version="1"
        uuid="00000000-0000-0000-0000-000000000001"/>
"""
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(doc)
    assert info.value.code in {"policy.xml.doctype", "policy.xml.syntax"}
    assert "lollollol" not in str(info.value)


def test_external_file_entity_is_not_resolved() -> None:
    doc = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<policy xmlns="urn:xenon:policy:1" name="x" version="1"
        uuid="00000000-0000-0000-0000-000000000001"><profiles>&xxe;</profiles></policy>
"""
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(doc)
    assert info.value.code == "policy.xml.doctype"
    assert "root:" not in str(info.value)


class _Listener:
    """A local TCP server that records whether anybody connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.stop = threading.Event()
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.mark.parametrize("kind", ["entity", "dtd"])
def test_http_entity_or_dtd_is_never_fetched(kind: str) -> None:
    listener = _Listener()
    try:
        url = f"http://127.0.0.1:{listener.port}/evil"
        if kind == "entity":
            head = f'<!DOCTYPE p [<!ENTITY e SYSTEM "{url}">]>'
            body = "&e;"
        else:
            head = f'<!DOCTYPE policy SYSTEM "{url}">'
            body = ""
        doc = (
            f'<?xml version="1.0"?>{head}<policy xmlns="urn:xenon:policy:1" name="x" '
            f'version="1" uuid="00000000-0000-0000-0000-000000000001">{body}</policy>'
        )
        with pytest.raises(PolicyXmlError) as info:
            parse_policy(doc.encode())
        assert info.value.code == "policy.xml.doctype"
    finally:
        listener.close()
    assert listener.connections == 0


def test_xinclude_is_not_processed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    data = serialize_policy(sample_policy()).replace(
        b"<tags>",
        f'<tags><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{secret}" '
        f'parse="text"/>'.encode(),
        1,
    )
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(data)
    assert info.value.code == "policy.xml.schema"
    assert "TOPSECRET" not in str(info.value)


def test_deep_nesting_is_refused() -> None:
    depth = 5000
    doc = (
        '<policy xmlns="urn:xenon:policy:1" name="x" version="1" '
        'uuid="00000000-0000-0000-0000-000000000001">'
        + "<a>" * depth
        + "</a>" * depth
        + "</policy>"
    )
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(doc)
    assert info.value.code == "policy.xml.too_deep"


def test_moderate_nesting_beyond_schema_is_refused_by_depth_check() -> None:
    doc = (
        '<policy xmlns="urn:xenon:policy:1" name="x" version="1" '
        'uuid="00000000-0000-0000-0000-000000000001">' + "<a>" * 40 + "</a>" * 40 + "</policy>"
    )
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(doc)
    assert info.value.code == "policy.xml.too_deep"
    assert info.value.line == 1


def test_oversized_input_is_refused_before_parsing(tmp_path: Path) -> None:
    big = b"<policy>" + b" " * MAX_XML_BYTES + b"</policy>"
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(big)
    assert info.value.code == "policy.xml.too_large"
    path = tmp_path / "big.xml"
    path.write_bytes(big)
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(path)
    assert info.value.code == "policy.xml.too_large"


def test_harmless_doctype_is_still_refused() -> None:
    data = serialize_policy(Policy("x")).replace(b"?>\n", b"?>\n<!DOCTYPE policy>\n", 1)
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(data)
    assert info.value.code == "policy.xml.doctype"


def test_wrong_namespace_is_refused() -> None:
    data = serialize_policy(sample_policy()).replace(
        b'xmlns="urn:xenon:policy:1"', b'xmlns="urn:xenon:policy:2"'
    )
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(data)
    assert info.value.code == "policy.xml.namespace"
    assert info.value.line == 2
    assert "urn:xenon:policy:2" in str(info.value)


def test_xsd_itself_rejects_a_wrong_namespace() -> None:
    schema = etree.XMLSchema(etree.fromstring(schema_text().encode()))
    good = etree.fromstring(serialize_policy(Policy("x")))
    assert schema.validate(good)
    bad = etree.fromstring(serialize_policy(Policy("x")).replace(b"policy:1", b"policy:9"))
    assert not schema.validate(bad)


def test_no_namespace_is_refused() -> None:
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(b'<policy name="x" version="1"/>')
    assert info.value.code == "policy.xml.namespace"


@pytest.mark.parametrize(
    ("doc", "line", "column"),
    [
        (b'<?xml version="1.0"?>\n<policy xmlns="urn:xenon:policy:1">\n  <tags>\n</policy>', 4, 3),
        (b"<policy", 1, 8),
        (b"", 0, 0),
        (b'<policy xmlns="urn:xenon:policy:1"\n name="\xc3\x28"/>', 2, 1),
    ],
)
def test_malformed_xml_reports_line_and_column(doc: bytes, line: int, column: int) -> None:
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(doc)
    err = info.value
    assert err.code == "policy.xml.syntax"
    if line:
        assert err.line == line
        assert err.column >= 1
        assert f"line {err.line}" in str(err)


def test_schema_violation_reports_the_line() -> None:
    data = serialize_policy(sample_policy())
    lines = data.split(b"\n")
    index = next(i for i, text in enumerate(lines) if b"<seclabel " in text)
    lines[index] = lines[index].replace(b'max-rate="2000"', b'max-rate="0"')
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(b"\n".join(lines))
    assert info.value.code == "policy.xml.schema"
    assert info.value.line == index + 1
    assert "max-rate" in str(info.value)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'guest-type="pv"', b'guest-type="xen"'),
        (b'mac="00:16:3e', b'mac="zz:16:3e'),
        (b'color="#cc2529"', b'color="red"'),
        (b"<hypercalls>0 1 2", b"<hypercalls>64 1 2"),
        (b'level="no-communication"', b'level="maybe"'),
    ],
)
def test_schema_rejects_bad_values(old: bytes, new: bytes) -> None:
    data = serialize_policy(sample_policy())
    assert old in data
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(data.replace(old, new, 1))
    assert info.value.code == "policy.xml.schema"
    assert info.value.line > 1


def test_non_utf8_encoding_is_refused() -> None:
    doc = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        '<policy xmlns="urn:xenon:policy:1" name="\xe9" version="1" '
        'uuid="00000000-0000-0000-0000-000000000001"/>'
    ).encode("latin-1")
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(doc)
    assert info.value.code == "policy.xml.encoding"


def test_utf16_input_is_refused_up_front() -> None:
    doc = serialize_policy(Policy("x")).decode().replace("UTF-8", "UTF-16").encode("utf-16")
    with pytest.raises(PolicyXmlError) as info:
        parse_policy(doc)
    assert info.value.code == "policy.xml.encoding"


def test_comments_and_processing_instructions_are_ignored() -> None:
    policy = Policy("x").with_tag(Tag(sample_policy().tags[0].id, "A", (1, 2, 3)))
    data = serialize_policy(policy).replace(b"<tags>", b"<tags><!-- note --><?pi x?>", 1)
    assert parse_policy(data) == policy


def test_parallel_parsing_reports_each_documents_own_error() -> None:
    from concurrent.futures import ThreadPoolExecutor

    good = serialize_policy(sample_policy())
    bad = good.replace(b'max-rate="2000"', b'max-rate="0"', 1)

    def run(i: int) -> str:
        try:
            parse_policy(bad if i % 2 else good)
        except PolicyXmlError as exc:
            return exc.code
        return "ok"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(16)))
    assert results == ["ok", "policy.xml.schema"] * 8
