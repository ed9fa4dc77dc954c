"""XSD validation and deterministic (de)serialization of policy XML documents."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from lxml import etree

from ._errors import PolicyXmlError
from ._fields import NAMESPACE, Spec, qname
from ._model import Policy
from ._specs import CONFLICT, DOMAIN, HARDWARE, PROFILE, SECLABEL, STORAGE, SWITCH, TAG, VIF
from ._xmlsafe import MAX_XML_BYTES, MAX_XML_DEPTH, parse_untrusted

__all__ = [
    "MAX_XML_BYTES",
    "MAX_XML_DEPTH",
    "NAMESPACE",
    "POLICY_TAG",
    "parse_policy",
    "policy_from_element",
    "policy_to_element",
    "schema_text",
    "serialize_policy",
]

POLICY_TAG = f"{{{NAMESPACE}}}policy"

T = TypeVar("T")


# ------------------------------------------------------------------------- parsing

_local = threading.local()


def _schema() -> etree.XMLSchema:
    # One validator per thread: a validator's error_log is per object, so sharing it
    # between threads (asyncio.to_thread workers) would mix up error reports.
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        root = parse_untrusted(_schema_bytes(), max_depth=None)
        schema = _local.schema = etree.XMLSchema(root)
    return schema


@functools.cache
def _schema_bytes() -> bytes:
    return schema_text().encode("utf-8")


def schema_text() -> str:
    """Returns the published XSD (``xenon-policy.xsd``) as text."""
    return resources.files(__package__).joinpath("xenon-policy.xsd").read_text("utf-8")


def _read(source: bytes | str | Path) -> bytes:
    if isinstance(source, Path):
        try:
            with source.open("rb") as fh:
                data = fh.read(MAX_XML_BYTES + 1)
        except OSError as exc:
            raise PolicyXmlError(
                f"cannot read {source}: {exc.strerror}", code="policy.xml.io"
            ) from exc
    elif isinstance(source, str):
        data = source.encode("utf-8")
    else:
        data = bytes(source)
    if len(data) > MAX_XML_BYTES:
        raise PolicyXmlError(
            f"policy document larger than {MAX_XML_BYTES} bytes", code="policy.xml.too_large"
        )
    return data


def parse_policy(source: bytes | str | Path) -> Policy:
    """Parses and validates a policy document.

    Args:
        source: The document as bytes, text, or a file path.

    Returns:
        The policy.

    Raises:
        PolicyXmlError: The document is too large, malformed, hostile (DOCTYPE,
            entities, excessive depth), in another namespace, or not schema-valid.
            ``code``, ``line`` and ``column`` say what and where.
    """
    return policy_from_element(parse_untrusted(_read(source)))


def _validate_schema(element: etree._Element) -> None:
    line: Any = element.sourceline
    if element.tag != POLICY_TAG:
        qname = etree.QName(element)
        raise PolicyXmlError(
            f"root element is {{{qname.namespace or ''}}}{qname.localname}, "
            f"expected {{{NAMESPACE}}}policy",
            code="policy.xml.namespace",
            line=line or 0,
        )
    schema = _schema()
    if not schema.validate(element):
        log: Any = schema.error_log
        errors: list[Any] = list(log)
        first, count = errors[0], len(errors)
        more = f" (+{count - 1} more)" if count > 1 else ""
        raise PolicyXmlError(
            f"not a valid policy document: {first.message}{more}",
            code="policy.xml.schema",
            line=first.line,
            column=first.column,
        )


def _children(parent: Any, *names: str) -> Iterable[Any]:
    node = parent
    for name in names[:-1]:
        node = node.find(qname(name))
    found: Iterable[Any] = node.iterfind(qname(names[-1]))
    return found


def _read_all(spec: Spec[T], parent: Any, wrapper: str) -> tuple[T, ...]:
    return tuple(map(spec.read, _children(parent, wrapper, spec.tag)))


def policy_from_element(element: etree._Element) -> Policy:
    """Builds a policy from a ``{urn:xenon:policy:1}policy`` element after XSD validation.

    Raises:
        PolicyXmlError: Wrong root element/namespace (``policy.xml.namespace``) or
            not schema-valid (``policy.xml.schema``).
    """
    _validate_schema(element)
    root: Any = element
    host = root.find(qname("host"))
    return Policy(
        name=root.attrib["name"],
        version=int(root.attrib["version"]),
        uuid=UUID(root.attrib["uuid"]),
        profiles=_read_all(PROFILE, root, "profiles"),
        tags=_read_all(TAG, root, "tags"),
        conflicts=_read_all(CONFLICT, root, "conflicts"),
        seclabels=_read_all(SECLABEL, root, "seclabels"),
        hardware=HARDWARE.read(host.find(qname("hardware"))),
        switches=_read_all(SWITCH, host, "switches"),
        storage=_read_all(STORAGE, host, "storage-locations"),
        domains=_read_all(DOMAIN, host, "domains"),
        vifs=_read_all(VIF, host, "vifs"),
    )


# ------------------------------------------------------------------- serialization


def _write_all(spec: Spec[T], parent: Any, wrapper: str, items: Iterable[T]) -> None:
    group = etree.SubElement(parent, qname(wrapper))
    for item in items:
        spec.write(group, item)


def _build(policy: Policy) -> Any:
    root = etree.Element(
        POLICY_TAG,
        nsmap={None: NAMESPACE},  # type: ignore[dict-item]
    )
    root.set("name", policy.name)
    root.set("version", str(policy.version))
    root.set("uuid", str(policy.uuid))
    _write_all(PROFILE, root, "profiles", policy.profiles)
    _write_all(TAG, root, "tags", policy.tags)
    _write_all(CONFLICT, root, "conflicts", policy.conflicts)
    _write_all(SECLABEL, root, "seclabels", policy.seclabels)
    host = etree.SubElement(root, qname("host"))
    HARDWARE.write(host, policy.hardware)
    _write_all(SWITCH, host, "switches", policy.switches)
    _write_all(STORAGE, host, "storage-locations", policy.storage)
    _write_all(DOMAIN, host, "domains", policy.domains)
    _write_all(VIF, host, "vifs", policy.vifs)
    return root


def policy_to_element(policy: Policy) -> etree._Element:
    """Builds the canonical XML element of a policy (the signer signs this).

    Raises:
        PolicyXmlError: A string holds characters XML 1.0 cannot carry (NUL,
            most control characters) — ``policy.xml.unserializable``.
    """
    try:
        element: etree._Element = _build(policy)
    except ValueError as exc:
        raise PolicyXmlError(
            f"policy cannot be written as XML: {exc}", code="policy.xml.unserializable"
        ) from exc
    return element


def serialize_policy(policy: Policy) -> bytes:
    """Serializes a policy deterministically: UTF-8, canonical order, trailing newline.

    ``serialize_policy(parse_policy(x)) == x`` for every ``x`` this function wrote.

    Raises:
        PolicyXmlError: See :func:`policy_to_element`.
    """
    element = policy_to_element(policy)
    body: bytes = etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return body if body.endswith(b"\n") else body + b"\n"
