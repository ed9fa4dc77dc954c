"""The XML view of an XE policy: ``xps.policy``'s format wrapped in the XE extension namespace."""

from __future__ import annotations

import functools
import threading
import uuid
from importlib import resources
from typing import Any

from lxml import etree

from xps.policy import ConflictSet as PolicyConflictSet
from xps.policy import (
    DomainConfig,
    Policy,
    PolicyXmlError,
    SecLabel,
    Tag,
    parse_untrusted,
    policy_from_element,
    policy_to_element,
    schema_text,
)

from .._errors import InvalidInput
from ..model import (
    Assignment,
    CpuFacts,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    Host,
    HostSwitch,
    NetworkRestrictions,
    Vm,
    VmDisk,
    VmVif,
)
from ..model import ConflictSet as XeConflictSet
from ..model import SecLabel as XeSecLabel

__all__ = [
    "ENTERPRISE_TAG",
    "MAX_XE_XML_BYTES",
    "XE_NAMESPACE",
    "enterprise_schema_text",
    "parse_enterprise",
    "serialize_enterprise",
]

XE_NAMESPACE = "urn:xenon:enterprise:1"
"""The XML namespace of the XE extension, format version 1."""
ENTERPRISE_TAG = f"{{{XE_NAMESPACE}}}enterprise"
MAX_XE_XML_BYTES = 256 * 1024 * 1024
"""Largest XE policy document accepted (100,000 VMs take about 70 MB)."""
_MAX_DEPTH = 16
_FORMAT = "1"
_POLICY_UUID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:xenon:enterprise:policy")
_POLICY_NAME = "Xenon Enterprise policy"
_DEFAULT_NET = NetworkRestrictions()
_I64 = 2**63


def _q(name: str) -> str:
    return f"{{{XE_NAMESPACE}}}{name}"


def enterprise_schema_text() -> str:
    """Returns the published XSD of the XE extension (``xenon-enterprise.xsd``)."""
    return resources.files(__package__).joinpath("xenon-enterprise.xsd").read_text("utf-8")


class _Imports(etree.Resolver):
    """Serves the imported policy schema from xps.policy, never from disk or network."""

    # lxml calls resolve(url, public_id, context); lxml-stubs 0.5 drop the context.
    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]
        if system_url.endswith("xenon-policy.xsd"):
            return self.resolve_string(schema_text().encode("utf-8"), context)  # type: ignore[call-arg]
        return None


_local = threading.local()


def _schema() -> etree.XMLSchema:
    # One validator per thread: its error_log is per object.
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        parser.resolvers.add(_Imports())
        doc = etree.fromstring(
            _schema_bytes(), parser, base_url="urn:xenon:enterprise:xsd/xenon-enterprise.xsd"
        )
        schema = _local.schema = etree.XMLSchema(doc)
    return schema


@functools.cache
def _schema_bytes() -> bytes:
    return enterprise_schema_text().encode("utf-8")


def _validate(root: Any) -> None:
    schema = _schema()
    if not schema.validate(root):
        log: Any = schema.error_log
        errors: list[Any] = list(log)
        first, more = errors[0], len(errors) - 1
        tail = f" (+{more} more)" if more else ""
        where = f" (line {first.line}, column {first.column})" if first.line else ""
        raise InvalidInput(f"not a valid XE policy document: {first.message}{tail}{where}")


# ---------------------------------------------------------------------- serialize


def _color(rgb: tuple[int, ...]) -> str:
    if len(rgb) != 3 or any(type(c) is not int or not 0 <= c <= 255 for c in rgb):
        raise InvalidInput(f"colour {rgb} is not RGB 0..255")
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _sub(parent: Any, name: str, attrs: dict[str, object]) -> Any:
    el = etree.SubElement(parent, _q(name))
    for key, value in attrs.items():
        if value is None:
            continue
        el.set(key, ("true" if value else "false") if isinstance(value, bool) else str(value))
    return el


def _embedded(policy: EnterprisePolicy) -> Policy:
    hosts = policy.ids("hosts")
    domains = []
    for vm in policy.vms:
        where = hosts.get(vm.host) if vm.host is not None else policy.default_host(vm.enclave)
        domains.append(
            DomainConfig(
                id=vm.id,
                name=vm.name,
                seclabel=vm.seclabel,
                guest_type=vm.guest_type,
                os=vm.os,
                kernel=vm.kernel,
                ramdisk=vm.ramdisk,
                cmdline=vm.cmdline,
                bootloader=vm.bootloader,
                memory_mb=vm.memory_mb,
                maxmem_mb=vm.maxmem_mb,
                vcpus=vm.vcpus,
                maxvcpus=vm.maxvcpus,
                extra=vm.extra,
                host=None if where is None else where.name,
            )
        )
    for e in policy.enclaves:
        _color(e.color)
    return Policy(
        name=_POLICY_NAME,
        version=policy.version,
        uuid=_POLICY_UUID,
        profiles=policy.profiles,
        tags=tuple(Tag(e.id, e.name, e.color) for e in policy.enclaves),
        conflicts=tuple(
            PolicyConflictSet(c.id, c.name, c.level, c.enclaves) for c in policy.conflicts
        ),
        seclabels=tuple(
            SecLabel(s.id, s.name, s.profile, s.enclave, s.role, s.max_rate, s.max_violations)
            for s in policy.seclabels
        ),
        domains=tuple(domains),
    )


def _emit_host(parent: Any, h: Host) -> None:
    if not -_I64 <= h.order < _I64:
        raise InvalidInput(f"host {h.name!r}: panel position {h.order} is out of range")
    el = _sub(
        parent,
        "host",
        {
            "id": h.id,
            "name": h.name,
            "address": h.address,
            "port": h.port,
            "order": h.order,
            "color": _color(h.color),
            "ro-port": h.ro_port,
        },
    )
    if h.cpu != CpuFacts():
        cpu = h.cpu
        flags = " ".join(sorted(cpu.flags)) if cpu.flags else None
        _sub(
            el,
            "cpu",
            {
                "vendor": cpu.vendor or None,
                "family": cpu.family,
                "model": cpu.model,
                "stepping": cpu.stepping,
                "flags": flags,
            },
        )
    for name in h.shared_storage:
        _sub(el, "shared-storage", {"name": name})
    for switch in h.switches:
        _sub(el, "switch", {"name": switch.name, "enclave": switch.enclave})


def _emit_vm(parent: Any, vm: Vm) -> None:
    el = _sub(parent, "vm", {"ref": vm.id, "enclave": vm.enclave, "host": vm.host, "run": vm.run})
    if vm.network != _DEFAULT_NET:
        net = vm.network
        n = _sub(el, "network", {"allow": net.allow_network, "max-vifs": net.max_vifs})
        for name in net.switches:
            _sub(n, "switch", {"name": name})
    for vif in vm.vifs:
        _sub(el, "vif", {"bridge": vif.bridge, "mac": vif.mac, "ip": vif.ip, "model": vif.model})
    for disk in vm.disks:
        attrs = {"target": disk.target, "vdev": disk.vdev, "mode": disk.mode}
        # cdrom only when set: a document without CD-ROMs keeps its bytes.
        _sub(el, "disk", {**attrs, "format": disk.format, "cdrom": disk.cdrom or None})


def _build(policy: EnterprisePolicy) -> Any:
    nsmap: Any = {None: XE_NAMESPACE}
    root = etree.Element(ENTERPRISE_TAG, nsmap=nsmap)
    root.set("format", _FORMAT)
    root.set("version", str(policy.version))
    hosts = _sub(root, "hosts", {})
    for h in policy.hosts:
        _emit_host(hosts, h)
    assignments = _sub(root, "assignments", {})
    for a in policy.assignments:
        _sub(assignments, "assignment", {"enclave": a.enclave, "host": a.host})
    servers = _sub(root, "dhcp-servers", {})
    for s in policy.dhcp_servers:
        attrs = {"id": s.id, "name": s.name, "enclave": s.enclave, "interface": s.interface}
        _sub(servers, "dhcp-server", attrs)
    root.append(policy_to_element(_embedded(policy)))
    vms = _sub(root, "vms", {})
    for vm in policy.vms:
        _emit_vm(vms, vm)
    return root


def serialize_enterprise(policy: EnterprisePolicy) -> bytes:
    """Writes an XE policy as XML: deterministic (UTF-8, canonical order, indented).

    The embedded ``<policy>`` is ``xps.policy``'s format (tags are the enclaves,
    domains the VMs, each with the name of its host); the XE namespace carries the
    rest. The output is validated against :func:`enterprise_schema_text` before it is
    returned, so ``parse_enterprise(serialize_enterprise(p)) == p``.

    Raises:
        InvalidInput: The policy holds something the format cannot carry (a colour
            outside RGB, characters XML 1.0 cannot carry, a port outside 1..65535 …).
    """
    try:
        root = _build(policy)
    except (ValueError, PolicyXmlError) as exc:
        raise InvalidInput(f"policy cannot be written as XML: {exc}") from exc
    _validate(root)
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return body


# -------------------------------------------------------------------------- parse


def _xml_error(problem: str, detail: str, line: int, column: int) -> InvalidInput:
    messages = {
        "too_large": f"XE policy document larger than {MAX_XE_XML_BYTES} bytes",
        "encoding": f"XE policy documents are UTF-8, not {detail}",
        "doctype": "a DOCTYPE is not allowed in an XE policy document",
        "entity": "entity references are not allowed in an XE policy document",
        "too_deep": f"XE policy document nests deeper than {_MAX_DEPTH} elements",
        "syntax": f"malformed XE policy document: {detail}",
    }
    where = f" (line {line}, column {column})" if line else ""
    return InvalidInput(messages[problem] + where)


def _rgb(text: str) -> tuple[int, int, int]:
    return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))


def _opt_int(el: Any, name: str) -> int | None:
    value = el.get(name)
    return None if value is None else int(value)


def _host(el: Any) -> Host:
    cpu_el = el.find(_q("cpu"))
    cpu = CpuFacts()
    if cpu_el is not None:
        cpu = CpuFacts(
            vendor=cpu_el.get("vendor", ""),
            family=_opt_int(cpu_el, "family"),
            model=_opt_int(cpu_el, "model"),
            stepping=_opt_int(cpu_el, "stepping"),
            flags=frozenset(cpu_el.get("flags", "").split()),
        )
    return Host(
        id=uuid.UUID(el.get("id")),
        name=el.get("name"),
        address=el.get("address"),
        port=int(el.get("port")),
        order=int(el.get("order")),
        color=_rgb(el.get("color")),
        cpu=cpu,
        shared_storage=tuple(s.get("name") for s in el.iterfind(_q("shared-storage"))),
        switches=tuple(
            HostSwitch(
                s.get("name"), None if s.get("enclave") is None else uuid.UUID(s.get("enclave"))
            )
            for s in el.iterfind(_q("switch"))
        ),
        ro_port=_opt_int(el, "ro-port"),
    )


def _vm(domain: DomainConfig, el: Any) -> Vm:
    net_el = el.find(_q("network"))
    network = _DEFAULT_NET
    if net_el is not None:
        network = NetworkRestrictions(
            allow_network=net_el.get("allow") in ("true", "1"),
            switches=tuple(s.get("name") for s in net_el.iterfind(_q("switch"))),
            max_vifs=_opt_int(net_el, "max-vifs"),
        )
    host = el.get("host")
    return Vm(
        id=domain.id,
        name=domain.name,
        enclave=uuid.UUID(el.get("enclave")),
        seclabel=domain.seclabel,
        guest_type=domain.guest_type,
        os=domain.os,
        kernel=domain.kernel,
        ramdisk=domain.ramdisk,
        cmdline=domain.cmdline,
        bootloader=domain.bootloader,
        memory_mb=domain.memory_mb,
        maxmem_mb=domain.maxmem_mb,
        vcpus=domain.vcpus,
        maxvcpus=domain.maxvcpus,
        host=None if host is None else uuid.UUID(host),
        run=el.get("run") in ("true", "1"),
        network=network,
        extra=domain.extra,
        vifs=tuple(
            VmVif(v.get("bridge"), v.get("mac"), v.get("ip"), v.get("model"))
            for v in el.iterfind(_q("vif"))
        ),
        disks=tuple(
            VmDisk(
                d.get("target"),
                d.get("vdev"),
                d.get("mode"),
                d.get("format"),
                d.get("cdrom") in ("true", "1"),
            )
            for d in el.iterfind(_q("disk"))
        ),
    )


def parse_enterprise(data: bytes) -> EnterprisePolicy:
    """Reads an XE policy document written by :func:`serialize_enterprise`.

    The document is parsed as hostile input (``xps.policy.parse_untrusted``: size,
    encoding, DOCTYPE, entities and depth refused), validated against the XE schema
    (which imports the policy schema), and the embedded policy is read by
    ``xps.policy`` itself.

    Raises:
        InvalidInput: The message says what is wrong and where.
    """
    root: Any = parse_untrusted(
        bytes(data), max_bytes=MAX_XE_XML_BYTES, max_depth=_MAX_DEPTH, error=_xml_error
    )
    if root.tag != ENTERPRISE_TAG:
        raise InvalidInput(f"root element is {root.tag}, expected {ENTERPRISE_TAG}")
    _validate(root)
    try:
        embedded = policy_from_element(root.find("{urn:xenon:policy:1}policy"))
    except PolicyXmlError as exc:
        raise InvalidInput(f"embedded policy: {exc.message}") from exc
    domains = {d.id: d for d in embedded.domains}
    vm_elements = list(root.find(_q("vms")).iterfind(_q("vm")))
    refs = [uuid.UUID(el.get("ref")) for el in vm_elements]
    if (
        len(set(refs)) != len(refs)
        or set(refs) != set(domains)
        or len(domains) != len(embedded.domains)
    ):
        raise InvalidInput(
            "every <vm> must name exactly one <domain> of the policy, and vice versa"
        )
    return EnterprisePolicy(
        version=int(root.get("version")),
        hosts=tuple(_host(el) for el in root.find(_q("hosts")).iterfind(_q("host"))),
        enclaves=tuple(Enclave(t.id, t.name, t.color) for t in embedded.tags),
        assignments=tuple(
            Assignment(uuid.UUID(el.get("enclave")), uuid.UUID(el.get("host")))
            for el in root.find(_q("assignments")).iterfind(_q("assignment"))
        ),
        profiles=embedded.profiles,
        seclabels=tuple(
            XeSecLabel(s.id, s.name, s.tag, s.profile, s.max_rate, s.max_violations, s.role)
            for s in embedded.seclabels
        ),
        vms=tuple(_vm(domains[ref], el) for ref, el in zip(refs, vm_elements, strict=True)),
        conflicts=tuple(XeConflictSet(c.id, c.name, c.level, c.tags) for c in embedded.conflicts),
        dhcp_servers=tuple(
            DhcpServer(
                uuid.UUID(el.get("id")),
                el.get("name"),
                uuid.UUID(el.get("enclave")),
                el.get("interface"),
            )
            for el in root.find(_q("dhcp-servers")).iterfind(_q("dhcp-server"))
        ),
    )
