"""The one parser of untrusted XML: every XML reader of policies, templates and signatures."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from lxml import etree

from ._errors import PolicyXmlError

__all__ = [
    "MAX_XML_BYTES",
    "MAX_XML_DEPTH",
    "XmlErrorFactory",
    "XmlProblem",
    "parse_untrusted",
]

MAX_XML_BYTES = 16 * 1024 * 1024
"""Largest policy document accepted (bytes)."""
MAX_XML_DEPTH = 16
"""Deepest element nesting accepted; the schema itself needs 5."""

XmlProblem = Literal["too_large", "encoding", "doctype", "entity", "too_deep", "syntax"]
"""What :func:`parse_untrusted` refused."""

XmlErrorFactory = Callable[[XmlProblem, str, int, int], Exception]
"""Builds the caller's error from (problem, detail, line, column); line 0 = unknown.

``detail`` is libxml2's message for ``syntax`` and the declared encoding (or
``"UTF-16/32"``, ``"EBCDIC"``) for ``encoding``; it is empty otherwise.
"""

_UTF8 = frozenset({"UTF-8", "UTF8", "US-ASCII", "ASCII"})
# The XML declaration must come first (after an optional UTF-8 BOM), so this anchored
# match sees every declared encoding libxml2 would act upon.
_DECLARED = re.compile(
    rb"""\A(?:\xef\xbb\xbf)?<\?xml\s[^>]*?\bencoding\s*=\s*["']([^"']*)["']""",
)
# libxml2 recognises EBCDIC by the first four bytes ("<?xm" in code page 037).
_EBCDIC = b"\x4c\x6f\xa7\x94"


def _parser(*, keep_comments: bool, keep_pis: bool) -> etree.XMLParser:
    # No DTD, no entity expansion, no network, libxml2's default size and depth limits.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=not keep_comments,
        remove_pis=not keep_pis,
        collect_ids=False,
    )


def _position(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def _check_bytes(data: bytes, max_bytes: int, error: XmlErrorFactory) -> None:
    if len(data) > max_bytes:
        raise error("too_large", "", 0, 0)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise error("encoding", "UTF-16/32", 1, 1)
    if data.startswith(_EBCDIC):
        raise error("encoding", "EBCDIC", 1, 1)
    # A declared UTF-7 (or any other) encoding would hide "<!DOCTYPE" from the byte
    # search below and hand a DTD to libxml2: such documents never reach it.
    declared = _DECLARED.match(data)
    if declared is not None:
        encoding = declared.group(1).decode("ascii", "replace")
        if encoding.upper() not in _UTF8:
            raise error("encoding", encoding, 1, 0)
    # Our serializers never write a raw "<!DOCTYPE" (text escapes "<").
    at = data.find(b"<!DOCTYPE")
    if at >= 0:
        raise error("doctype", "", *_position(data, at))


def _check_tree(tree: etree._ElementTree, max_depth: int | None, error: XmlErrorFactory) -> None:
    info: Any = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise error("doctype", "", 1, 0)
    encoding = info.encoding or "UTF-8"
    if encoding.upper() not in _UTF8:
        raise error("encoding", encoding, 1, 0)
    stack: list[tuple[Any, int]] = [(tree.getroot(), 1)]
    while stack:
        element, depth = stack.pop()
        if max_depth is not None and depth > max_depth:
            raise error("too_deep", "", element.sourceline or 0, 0)
        if not isinstance(element.tag, str):
            # Entity references are refused; comments and PIs have no children.
            if isinstance(element, etree._Entity):
                raise error("entity", "", element.sourceline or 0, 0)
            continue
        stack.extend((child, depth + 1) for child in element)


_WHERE = re.compile(r",? line \d+, column \d+\s*$")


def _policy_errors(max_bytes: int, max_depth: int | None) -> XmlErrorFactory:
    def build(problem: XmlProblem, detail: str, line: int, column: int) -> PolicyXmlError:
        if problem == "too_large":
            message = f"policy document larger than {max_bytes} bytes"
        elif problem == "encoding" and detail == "UTF-16/32":
            message = "policy documents are UTF-8 (UTF-16/32 input refused)"
        elif problem == "encoding":
            message = f"policy documents are UTF-8, not {detail}"
        elif problem == "doctype":
            message = "a DOCTYPE is not allowed in a policy document"
        elif problem == "entity":
            message = "entity references are not allowed"
        elif problem == "too_deep":
            message = f"elements nested deeper than {max_depth}"
        else:
            message = f"malformed XML: {_WHERE.sub('', detail)}"
            problem = "too_deep" if "depth" in message.lower() else "syntax"
        return PolicyXmlError(message, code=f"policy.xml.{problem}", line=line, column=column)

    return build


def parse_untrusted(
    data: bytes,
    *,
    max_bytes: int = MAX_XML_BYTES,
    max_depth: int | None = MAX_XML_DEPTH,
    error: XmlErrorFactory | None = None,
    keep_comments: bool = True,
    keep_pis: bool = False,
) -> etree._Element:
    """Parses untrusted XML with every protection the policy formats need.

    Refused, in this order, before libxml2 sees the bytes: input over ``max_bytes``;
    UTF-16/32 (a BOM or a NUL byte), EBCDIC, a declared encoding other than
    UTF-8/ASCII, and any ``<!DOCTYPE`` — so no DTD or entity declaration is ever acted
    upon. Then malformed XML (libxml2 without DTD loading, entity expansion, network
    access or huge-tree mode, so its own limits apply: nesting 256, a text node or
    attribute of 10 MB). Then, in the parsed tree, a DOCTYPE, a non-UTF-8 encoding,
    entity references and element nesting deeper than ``max_depth`` (root = 1).
    Blank text is kept.

    Args:
        data: The document.
        max_bytes: Largest accepted size.
        max_depth: Deepest accepted nesting, or ``None`` for libxml2's limit only.
        error: Builds the exception raised for a refusal (the caller's error class);
            default: :class:`PolicyXmlError` with code ``policy.xml.<problem>``.
        keep_comments: Keep comments in the tree (else they are dropped).
        keep_pis: Keep processing instructions in the tree (else they are dropped).

    Returns:
        The root element.

    Raises:
        PolicyXmlError: A refusal, when ``error`` is not given.
        Exception: Whatever ``error`` returns.
    """
    build = error if error is not None else _policy_errors(max_bytes, max_depth)
    _check_bytes(data, max_bytes, build)
    try:
        root = etree.fromstring(data, _parser(keep_comments=keep_comments, keep_pis=keep_pis))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (0, 0)
        message = str(exc.msg) if exc.msg else str(exc)
        raise build("syntax", message, line or 0, column or 0) from exc
    _check_tree(root.getroottree(), max_depth, build)
    return root
