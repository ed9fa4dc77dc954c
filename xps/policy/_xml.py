"""XSD validation and deterministic (de)serialization of policy XML documents."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

from lxml import etree

from ._errors import PolicyXmlError
from ._model import (
    ConflictSet,
    Cpu,
    Disk,
    DomainConfig,
    DomainDisk,
    Hardware,
    HypercallProfile,
    InputDevice,
    MemoryInfo,
    NetworkSwitch,
    PciDevice,
    Policy,
    SecLabel,
    StorageLocation,
    Tag,
    UsbDevice,
    Vif,
)
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

NAMESPACE = "urn:xenon:policy:1"
"""The XML namespace of format version 1; other namespaces are refused."""
POLICY_TAG = f"{{{NAMESPACE}}}policy"

_NS = f"{{{NAMESPACE}}}"


def _q(name: str) -> str:
    return _NS + name


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


def _uuid(value: str | None) -> UUID | None:
    return None if value is None else UUID(value)


def _req(element: Any, name: str) -> str:
    value: str = element.attrib[name]
    return value


def _bool(value: str) -> bool:
    return value.strip() in {"true", "1"}


def _text(element: Any, name: str) -> str | None:
    child = element.find(_q(name))
    if child is None:
        return None
    text: str = child.text or ""
    return text


def _ints(text: str | None) -> list[int]:
    return [int(tok) for tok in (text or "").split()]


def _children(parent: Any, *names: str) -> Iterable[Any]:
    node = parent
    for name in names[:-1]:
        node = node.find(_q(name))
    return node.iterfind(_q(names[-1]))  # type: ignore[no-any-return]


def _profile(el: Any) -> HypercallProfile:
    return HypercallProfile(
        id=UUID(_req(el, "id")),
        name=_req(el, "name"),
        hypercalls=frozenset(_ints(el.findtext(_q("hypercalls")))),
        subops=tuple(
            (int(s.attrib["nr"]), frozenset(_ints(s.text))) for s in el.iterfind(_q("subops"))
        ),
        description=el.findtext(_q("description")) or "",
        guest_family=frozenset(_req(el, "guest-family").split()),  # type: ignore[arg-type]
    )


def _tag(el: Any) -> Tag:
    color = _req(el, "color")
    rgb = (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))
    return Tag(id=UUID(_req(el, "id")), name=_req(el, "name"), color=rgb)


def _conflict(el: Any) -> ConflictSet:
    return ConflictSet(
        id=UUID(_req(el, "id")),
        name=_req(el, "name"),
        level=_req(el, "level"),  # type: ignore[arg-type]
        tags=tuple(UUID(t.attrib["ref"]) for t in el.iterfind(_q("tag"))),
    )


def _seclabel(el: Any) -> SecLabel:
    return SecLabel(
        id=UUID(_req(el, "id")),
        name=_req(el, "name"),
        profile=UUID(_req(el, "profile")),
        tag=UUID(_req(el, "tag")),
        role=_req(el, "role"),  # type: ignore[arg-type]
        max_rate=int(_req(el, "max-rate")),
        max_violations=int(_req(el, "max-violations")),
    )


def _hardware(el: Any) -> Hardware:
    return Hardware(
        memory=MemoryInfo(total_kb=int(el.find(_q("memory")).attrib["total-kb"])),
        cpus=tuple(
            Cpu(
                index=int(c.attrib["index"]),
                model=c.attrib["model"],
                vendor=c.attrib["vendor"],
                family=int(c.attrib["family"]),
                stepping=int(c.attrib["stepping"]),
                mhz=int(c.attrib["mhz"]),
                flags=tuple(c.attrib["flags"].split()),
            )
            for c in el.iterfind(_q("cpu"))
        ),
        pci=tuple(
            PciDevice(
                bdf=p.attrib["bdf"].lower(),
                class_code=int(p.attrib["class-code"]),
                class_name=p.attrib["class-name"],
                vendor=int(p.attrib["vendor"]),
                device=int(p.attrib["device"]),
                vendor_name=p.attrib["vendor-name"],
                device_name=p.attrib["device-name"],
                kind=p.attrib["kind"],
                tag=_uuid(p.attrib.get("tag")),
            )
            for p in el.iterfind(_q("pci"))
        ),
        disks=tuple(
            Disk(
                name=d.attrib["name"],
                path=d.attrib["path"],
                kind=d.attrib["kind"],
                size_bytes=int(d.attrib["size-bytes"]),
                tag=_uuid(d.attrib.get("tag")),
            )
            for d in el.iterfind(_q("disk"))
        ),
        usb=tuple(
            UsbDevice(
                bus=int(u.attrib["bus"]),
                dev=int(u.attrib["dev"]),
                vendor=int(u.attrib["vendor"]),
                product=int(u.attrib["product"]),
                name=u.attrib["name"],
                tag=_uuid(u.attrib.get("tag")),
            )
            for u in el.iterfind(_q("usb"))
        ),
        input=tuple(
            InputDevice(
                name=i.attrib["name"], path=i.attrib["path"], tag=_uuid(i.attrib.get("tag"))
            )
            for i in el.iterfind(_q("input"))
        ),
    )


def _switch(el: Any) -> NetworkSwitch:
    at = el.attrib
    return NetworkSwitch(
        id=UUID(at["id"]),
        name=at["name"],
        mode=at["mode"],
        tag=UUID(at["tag"]),
        controller=at["controller"].lower() if "controller" in at else None,
        driver_domain=_uuid(at.get("driver-domain")),
        dhcp_disabled=_bool(at["dhcp-disabled"]),
        expose_driver_domain=_bool(at["expose-driver-domain"]),
        ip=at.get("ip"),
        netmask=at.get("netmask"),
        gateway=at.get("gateway"),
        dns=tuple(d.text or "" for d in el.iterfind(_q("dns"))),
        search=tuple(s.text or "" for s in el.iterfind(_q("search"))),
    )


def _storage(el: Any) -> StorageLocation:
    at = el.attrib
    return StorageLocation(
        id=UUID(at["id"]),
        name=at["name"],
        mode=at["mode"],
        tag=UUID(at["tag"]),
        driver_domain=_uuid(at.get("driver-domain")),
        controller=at["controller"].lower() if "controller" in at else None,
        base_path=at["base-path"],
    )


def _domain(el: Any) -> DomainConfig:
    at = el.attrib
    return DomainConfig(
        id=UUID(at["id"]),
        name=at["name"],
        seclabel=_uuid(at.get("seclabel")),
        guest_type=at["guest-type"],
        os=at["os"],
        kernel=_text(el, "kernel"),
        ramdisk=_text(el, "ramdisk"),
        cmdline=_text(el, "cmdline"),
        bootloader=_text(el, "bootloader"),
        memory_mb=int(at["memory-mb"]),
        maxmem_mb=int(at["maxmem-mb"]),
        vcpus=int(at["vcpus"]),
        maxvcpus=int(at["maxvcpus"]),
        vnc=_bool(at["vnc"]),
        vnc_listen=at["vnc-listen"],
        vnc_display=int(at["vnc-display"]) if "vnc-display" in at else None,
        disks=tuple(
            DomainDisk(
                location=UUID(d.attrib["location"]),
                target=d.attrib["target"],
                format=d.attrib["format"],
                vdev=d.attrib["vdev"],
                access=d.attrib["access"],
            )
            for d in el.iterfind(_q("disk"))
        ),
        extra=tuple((x.attrib["key"], x.text or "") for x in el.iterfind(_q("extra"))),
        host=at.get("host"),
        pci=tuple(p.attrib["bdf"] for p in el.iterfind(_q("pci"))),
    )


def _vif(el: Any) -> Vif:
    at = el.attrib
    return Vif(domain=UUID(at["domain"]), switch=UUID(at["switch"]), mac=at["mac"], ip=at.get("ip"))


def policy_from_element(element: etree._Element) -> Policy:
    """Builds a policy from a ``{urn:xenon:policy:1}policy`` element after XSD validation.

    Raises:
        PolicyXmlError: Wrong root element/namespace (``policy.xml.namespace``) or
            not schema-valid (``policy.xml.schema``).
    """
    _validate_schema(element)
    root: Any = element
    host = root.find(_q("host"))
    return Policy(
        name=root.attrib["name"],
        version=int(root.attrib["version"]),
        uuid=UUID(root.attrib["uuid"]),
        profiles=tuple(map(_profile, _children(root, "profiles", "profile"))),
        tags=tuple(map(_tag, _children(root, "tags", "tag"))),
        conflicts=tuple(map(_conflict, _children(root, "conflicts", "conflict"))),
        seclabels=tuple(map(_seclabel, _children(root, "seclabels", "seclabel"))),
        hardware=_hardware(host.find(_q("hardware"))),
        switches=tuple(map(_switch, _children(host, "switches", "switch"))),
        storage=tuple(map(_storage, _children(host, "storage-locations", "storage-location"))),
        domains=tuple(map(_domain, _children(host, "domains", "domain"))),
        vifs=tuple(map(_vif, _children(host, "vifs", "vif"))),
    )


# ------------------------------------------------------------------- serialization


def _sub(
    parent: Any, name: str, attrs: Iterable[tuple[str, object]] = (), text: str | None = None
) -> Any:
    el = etree.SubElement(parent, _q(name))
    for key, value in attrs:
        if value is None:
            continue
        if isinstance(value, bool):
            el.set(key, "true" if value else "false")
        else:
            el.set(key, str(value))
    if text is not None:
        el.text = text
    return el


def _color(rgb: tuple[int, int, int]) -> str:
    r, g, b = rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def _opt_text(parent: Any, name: str, value: str | None) -> None:
    if value is not None:
        _sub(parent, name, text=value)


def _emit_profile(parent: Any, p: HypercallProfile) -> None:
    family = " ".join(sorted(str(g) for g in p.guest_family))
    el = _sub(parent, "profile", [("id", p.id), ("name", p.name), ("guest-family", family)])
    _sub(el, "description", text=p.description)
    _sub(el, "hypercalls", text=" ".join(str(n) for n in sorted(p.hypercalls)))
    for nr, ops in p.subops:
        _sub(el, "subops", [("nr", nr)], text=" ".join(str(o) for o in sorted(ops)))


def _emit_hardware(parent: Any, hw: Hardware) -> None:
    el = _sub(parent, "hardware")
    _sub(el, "memory", [("total-kb", hw.memory.total_kb)])
    for c in hw.cpus:
        _sub(
            el,
            "cpu",
            [
                ("index", c.index),
                ("model", c.model),
                ("vendor", c.vendor),
                ("family", c.family),
                ("stepping", c.stepping),
                ("mhz", c.mhz),
                ("flags", " ".join(c.flags)),
            ],
        )
    for p in hw.pci:
        _sub(
            el,
            "pci",
            [
                ("bdf", p.bdf),
                ("class-code", p.class_code),
                ("class-name", p.class_name),
                ("vendor", p.vendor),
                ("device", p.device),
                ("vendor-name", p.vendor_name),
                ("device-name", p.device_name),
                ("kind", p.kind),
                ("tag", p.tag),
            ],
        )
    for d in hw.disks:
        attrs = [("name", d.name), ("path", d.path), ("kind", d.kind)]
        _sub(el, "disk", [*attrs, ("size-bytes", d.size_bytes), ("tag", d.tag)])
    for u in hw.usb:
        _sub(
            el,
            "usb",
            [
                ("bus", u.bus),
                ("dev", u.dev),
                ("vendor", u.vendor),
                ("product", u.product),
                ("name", u.name),
                ("tag", u.tag),
            ],
        )
    for i in hw.input:
        _sub(el, "input", [("name", i.name), ("path", i.path), ("tag", i.tag)])


def _emit_domain(parent: Any, d: DomainConfig) -> None:
    el = _sub(
        parent,
        "domain",
        [
            ("id", d.id),
            ("name", d.name),
            ("seclabel", d.seclabel),
            ("guest-type", d.guest_type),
            ("os", d.os),
            ("memory-mb", d.memory_mb),
            ("maxmem-mb", d.maxmem_mb),
            ("vcpus", d.vcpus),
            ("maxvcpus", d.maxvcpus),
            ("vnc", d.vnc),
            ("vnc-listen", d.vnc_listen),
            ("vnc-display", d.vnc_display),
            ("host", d.host),
        ],
    )
    _opt_text(el, "kernel", d.kernel)
    _opt_text(el, "ramdisk", d.ramdisk)
    _opt_text(el, "cmdline", d.cmdline)
    _opt_text(el, "bootloader", d.bootloader)
    for disk in d.disks:
        _sub(
            el,
            "disk",
            [
                ("location", disk.location),
                ("target", disk.target),
                ("format", disk.format),
                ("vdev", disk.vdev),
                ("access", disk.access),
            ],
        )
    for bdf in d.pci:
        _sub(el, "pci", [("bdf", bdf)])
    for key, value in d.extra:
        _sub(el, "extra", [("key", key)], text=value)


def _build(policy: Policy) -> Any:
    root = etree.Element(
        POLICY_TAG,
        nsmap={None: NAMESPACE},  # type: ignore[dict-item]
    )
    root.set("name", policy.name)
    root.set("version", str(policy.version))
    root.set("uuid", str(policy.uuid))
    profiles = _sub(root, "profiles")
    for p in policy.profiles:
        _emit_profile(profiles, p)
    tags = _sub(root, "tags")
    for t in policy.tags:
        _sub(tags, "tag", [("id", t.id), ("name", t.name), ("color", _color(t.color))])
    conflicts = _sub(root, "conflicts")
    for c in policy.conflicts:
        el = _sub(conflicts, "conflict", [("id", c.id), ("name", c.name), ("level", c.level)])
        for tag in c.tags:
            _sub(el, "tag", [("ref", tag)])
    labels = _sub(root, "seclabels")
    for s in policy.seclabels:
        _sub(
            labels,
            "seclabel",
            [
                ("id", s.id),
                ("name", s.name),
                ("profile", s.profile),
                ("tag", s.tag),
                ("role", s.role),
                ("max-rate", s.max_rate),
                ("max-violations", s.max_violations),
            ],
        )
    host = _sub(root, "host")
    _emit_hardware(host, policy.hardware)
    switches = _sub(host, "switches")
    for w in policy.switches:
        el = _sub(
            switches,
            "switch",
            [
                ("id", w.id),
                ("name", w.name),
                ("mode", w.mode),
                ("tag", w.tag),
                ("controller", w.controller),
                ("driver-domain", w.driver_domain),
                ("dhcp-disabled", w.dhcp_disabled),
                ("expose-driver-domain", w.expose_driver_domain),
                ("ip", w.ip),
                ("netmask", w.netmask),
                ("gateway", w.gateway),
            ],
        )
        for dns in w.dns:
            _sub(el, "dns", text=dns)
        for search in w.search:
            _sub(el, "search", text=search)
    storage = _sub(host, "storage-locations")
    for loc in policy.storage:
        _sub(
            storage,
            "storage-location",
            [
                ("id", loc.id),
                ("name", loc.name),
                ("mode", loc.mode),
                ("tag", loc.tag),
                ("driver-domain", loc.driver_domain),
                ("controller", loc.controller),
                ("base-path", loc.base_path),
            ],
        )
    domains = _sub(host, "domains")
    for d in policy.domains:
        _emit_domain(domains, d)
    vifs = _sub(host, "vifs")
    for v in policy.vifs:
        _sub(
            vifs, "vif", [("domain", v.domain), ("switch", v.switch), ("mac", v.mac), ("ip", v.ip)]
        )
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
