"""Hostile XML is refused by xps.policy._xmlsafe.parse_untrusted through every caller."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from enterprise_store._errors import InvalidInput
from enterprise_store.policy import parse_enterprise
from tests._support.signing import make_ca
from xenon_tui._errors import ImportFileError
from xenon_tui._profile_io import read_profiles
from xps.policy import (
    PolicySignatureError,
    PolicyXmlError,
    TemplateError,
    parse_policy,
    parse_template,
    parse_untrusted,
    sample_policy,
    verify_signature,
)


class Refused(Exception):
    def __init__(self, problem: str, detail: str, line: int, column: int) -> None:
        super().__init__(problem)
        self.problem, self.detail = problem, detail


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port on 127.0.0.1 that records whether anything connected to it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _nobody_connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


_NS = 'xmlns="urn:xenon:policy:1"'
_LOL = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))


def _documents(port: int, secret: Path) -> dict[str, bytes]:
    url = f"http://127.0.0.1:{port}"
    return {
        "billion laughs": f"<!DOCTYPE policy [{_LOL}]><policy {_NS}>&l9;</policy>".encode(),
        "billion laughs in UTF-7": (
            b'<?xml version="1.0" encoding="UTF-7"?>'
            + f"<!DOCTYPE policy [{_LOL}]><policy {_NS}>&l9;</policy>".encode("utf-7")
            .replace(b"<", b"+ADw-")
            .replace(b"!", b"+ACE-")
        ),
        "external entity (file)": (
            f'<!DOCTYPE policy [<!ENTITY x SYSTEM "file://{secret}">]><policy {_NS}>&x;</policy>'
        ).encode(),
        "external entity (network)": (
            f'<!DOCTYPE policy [<!ENTITY x SYSTEM "{url}/x">]><policy {_NS}>&x;</policy>'
        ).encode(),
        "parameter entity (network)": (
            f'<!DOCTYPE policy [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]><policy {_NS}/>'
        ).encode(),
        "external DTD": f'<!DOCTYPE policy SYSTEM "{url}/x.dtd"><policy {_NS}/>'.encode(),
        "deep nesting (40)": f"<policy {_NS}>{'<a>' * 40}{'</a>' * 40}</policy>".encode(),
        "deep nesting (1000)": f"<policy {_NS}>{'<a>' * 1000}{'</a>' * 1000}</policy>".encode(),
        "huge text (11 MB)": f"<policy {_NS}><a>".encode() + b"x" * 11_000_000 + b"</a></policy>",
        "huge attribute (11 MB)": f"<policy {_NS} name='".encode() + b"x" * 11_000_000 + b"'/>",
    }


def _verify(data: bytes) -> object:
    return verify_signature(data, make_ca().cert_pem)


_CALLERS: dict[str, tuple[Callable[[bytes], object], type[Exception]]] = {
    "parse_policy": (parse_policy, PolicyXmlError),
    "parse_template": (parse_template, TemplateError),
    "verify_signature": (_verify, PolicySignatureError),
    "console profile import": (lambda d: read_profiles(d, sample_policy()), ImportFileError),
    "parse_enterprise": (parse_enterprise, InvalidInput),
}


@pytest.mark.parametrize("caller", sorted(_CALLERS))
def test_every_caller_refuses_every_hostile_document(
    caller: str, listener: socket.socket, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:the-secret\n")
    parse, error = _CALLERS[caller]
    for name, data in _documents(listener.getsockname()[1], secret).items():
        with pytest.raises(error) as info:
            parse(data)
        assert "the-secret" not in str(info.value), (caller, name)
        assert "lollollol" not in str(info.value), (caller, name)
    assert _nobody_connected(listener), caller


def test_listener_sees_a_connection() -> None:
    # The network check above can fail: a real connection is seen.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        sock.setblocking(False)
        with socket.create_connection(sock.getsockname()):
            assert not _nobody_connected(sock)


@pytest.mark.parametrize(
    ("declaration", "detail"),
    [
        (b'<?xml version="1.0" encoding="UTF-7"?>', "UTF-7"),
        (b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-7' ?>", "utf-7"),
        (b'<?xml version="1.0"\n  encoding = "ISO-8859-1"?>', "ISO-8859-1"),
    ],
)
def test_declared_foreign_encodings_never_reach_libxml2(declaration: bytes, detail: str) -> None:
    # A UTF-7 DOCTYPE hides from the byte search for "<!DOCTYPE"; the declaration
    # must be refused before libxml2 reads the internal subset.
    body = b"+ADw-+ACE-DOCTYPE r +AFs-+ADw-+ACE-ENTITY a +ACI-x+ACI-+AD4-+AF0-+AD4-<r>&a;</r>"
    with pytest.raises(Refused) as info:
        parse_untrusted(declaration + body, max_bytes=10_000, max_depth=4, error=Refused)
    assert (info.value.problem, info.value.detail) == ("encoding", detail)


def test_ebcdic_is_refused_as_an_encoding() -> None:
    data = "<?xml version='1.0' encoding='IBM037'?><r/>".encode("cp037")
    with pytest.raises(Refused) as info:
        parse_untrusted(data, max_bytes=10_000, max_depth=4, error=Refused)
    assert (info.value.problem, info.value.detail) == ("encoding", "EBCDIC")


def test_default_errors_are_policy_errors_with_the_limits_given() -> None:
    with pytest.raises(PolicyXmlError) as info:
        parse_untrusted(b"<r>" + b" " * 100 + b"</r>", max_bytes=50)
    assert info.value.code == "policy.xml.too_large"
    assert str(info.value) == "policy document larger than 50 bytes"
    with pytest.raises(PolicyXmlError) as info:
        parse_untrusted(b"<r><a><b/></a></r>", max_depth=2)
    assert info.value.code == "policy.xml.too_deep"
    assert str(info.value).startswith("elements nested deeper than 2")
    with pytest.raises(PolicyXmlError) as info:
        parse_untrusted(b"<r>&e;</r>")
    assert info.value.code == "policy.xml.syntax"
    assert parse_untrusted(b"<r><a/></r>").tag == "r"
