"""Policy templates: host hardware generalised to named placeholders, bound on import (§3.2.3)."""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from lxml import etree

from ._errors import PolicyError
from ._model import (
    DeviceKind,
    DomainConfig,
    Hardware,
    NetworkSwitch,
    Policy,
    StorageLocation,
    StorageMode,
    bdf_from_int,
    bdf_to_int,
)
from ._validate import Finding, Severity, validate
from ._xml import NAMESPACE, policy_from_element, policy_to_element
from ._xmlsafe import MAX_XML_BYTES, XmlProblem, parse_untrusted

__all__ = [
    "InstantiationResult",
    "Placeholder",
    "PlaceholderKind",
    "PlaceholderState",
    "PlaceholderUse",
    "Template",
    "TemplateError",
    "TemplateIncomplete",
    "export_template",
    "instantiate_template",
    "parse_template",
    "serialize_template",
    "source_mapping",
]

TEMPLATE_TAG = f"{{{NAMESPACE}}}template"
_FORMAT = "1"
_MAX_DEPTH = 20


class TemplateError(PolicyError):
    """A template or its hardware mapping is unusable; ``code`` is ``policy.template.*``."""

    code = "policy.template"


class TemplateIncomplete(TemplateError):
    """The template is not fully instantiated: placeholders unbound or validation errors.

    Attributes:
        missing: Names of the unbound placeholders.
        errors: Validation findings of severity error.
    """

    code = "policy.template.incomplete"

    def __init__(self, missing: tuple[str, ...], errors: tuple[Finding, ...]) -> None:
        parts = []
        if missing:
            parts.append(f"unbound placeholders: {', '.join(missing)}")
        if errors:
            parts.append(
                f"{len(errors)} validation error(s), first: {errors[0].code} {errors[0].message}"
            )
        super().__init__("template not instantiated: " + "; ".join(parts))
        self.missing = missing
        self.errors = errors


def _fail(reason: str, message: str) -> TemplateError:
    return TemplateError(message, code=f"policy.template.{reason}")


class PlaceholderKind(enum.StrEnum):
    """What kind of host hardware a placeholder stands for."""

    NET_CONTROLLER = "net-controller"
    STORAGE_CONTROLLER = "storage-controller"
    USB_CONTROLLER = "usb-controller"
    PCI_DEVICE = "pci-device"
    DISK = "disk"
    USB_DEVICE = "usb-device"
    INPUT_DEVICE = "input-device"


_PCI_KINDS = {
    DeviceKind.NETWORK: PlaceholderKind.NET_CONTROLLER,
    DeviceKind.STORAGE: PlaceholderKind.STORAGE_CONTROLLER,
    DeviceKind.USB: PlaceholderKind.USB_CONTROLLER,
    DeviceKind.OTHER: PlaceholderKind.PCI_DEVICE,
}
_USE_FIELDS = {
    "switch": {"controller"},
    "storage": {"controller", "base_path"},
    "disk": {"target"},
    "domain": {"pci"},
}


@dataclass(frozen=True, order=True)
class PlaceholderUse:
    """Where a placeholder's concrete value goes in the policy.

    Attributes:
        object: ``switch`` / ``storage`` (``field`` = ``controller`` or ``base_path``),
            ``disk`` (a domain's disk ``index``, ``field`` = ``target``) or ``domain``
            (entry ``index`` of the domain's passed-through devices, ``field`` = ``pci``).
        id: UUID of the switch, storage location or domain.
        field: The field that receives the value.
        index: Index of the disk or passed-through device (``disk``/``domain`` only).
    """

    object: str
    id: UUID
    field: str
    index: int = 0


@dataclass(frozen=True)
class Placeholder:
    """A piece of host hardware the template needs, by role instead of by address.

    Attributes:
        name: Stable name derived from kind and tag (``net-controller-Enclave-A``).
        kind: The kind of hardware that can be bound to it.
        tag: The tag the bound hardware receives (None: untagged).
        uses: The policy fields that receive the concrete id.
        description: A hint from the source host (device name), never an address.
    """

    name: str
    kind: PlaceholderKind
    tag: UUID | None
    uses: tuple[PlaceholderUse, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Template:
    """A policy with every host-specific hardware reference replaced by a placeholder.

    ``policy`` keeps every security rule (profiles, tags, conflict sets, SecLabels,
    domains, switch and storage settings, VIFs); its hardware inventory is empty and
    the fields listed in the placeholders' ``uses`` are blank.
    """

    policy: Policy
    placeholders: tuple[Placeholder, ...]

    def placeholder(self, name: str) -> Placeholder:
        """Returns the placeholder called ``name`` (TemplateError if absent)."""
        for ph in self.placeholders:
            if ph.name == name:
                return ph
        raise _fail("unknown-placeholder", f"the template has no placeholder {name!r}")


@dataclass(frozen=True)
class PlaceholderState:
    """One placeholder after a mapping was applied: ``bound`` (green) or ``missing`` (yellow)."""

    name: str
    kind: PlaceholderKind
    tag_name: str
    bound_to: str | None

    @property
    def state(self) -> str:
        """``"bound"`` or ``"missing"``."""
        return "missing" if self.bound_to is None else "bound"


@dataclass(frozen=True)
class InstantiationResult:
    """The consistency report of an import (§3.2.3).

    Attributes:
        placeholders: Every placeholder with its state, in template order.
        findings: Validation findings of the (possibly partial) instantiated policy.
        candidate: The instantiated policy, complete or not (for display).
    """

    placeholders: tuple[PlaceholderState, ...]
    findings: tuple[Finding, ...]
    candidate: Policy

    @property
    def missing(self) -> tuple[str, ...]:
        """Names of the unbound placeholders."""
        return tuple(p.name for p in self.placeholders if p.bound_to is None)

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Validation findings of severity error."""
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def complete(self) -> bool:
        """True when every placeholder is bound and validation found no error."""
        return not self.missing and not self.errors

    @property
    def policy(self) -> Policy:
        """The instantiated policy.

        Raises:
            TemplateIncomplete: Placeholders are unbound or validation found errors.
        """
        if not self.complete:
            raise TemplateIncomplete(self.missing, self.errors)
        return self.candidate


# ------------------------------------------------------------------------------ export


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "tag"


@dataclass
class _Draft:
    kind: PlaceholderKind
    tag: UUID | None
    key: str
    uses: list[PlaceholderUse] = dataclasses.field(default_factory=list)
    description: str = ""


class _Exporter:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.drafts: dict[tuple[str, str], _Draft] = {}

    def add(
        self, space: str, key: str, kind: PlaceholderKind, tag: UUID | None, desc: str = ""
    ) -> _Draft:
        draft = self.drafts.get((space, key))
        if draft is None:
            draft = self.drafts[(space, key)] = _Draft(kind, tag, key, description=desc)
        return draft

    def pci(self, bdf: str, default: PlaceholderKind, tag: UUID | None) -> _Draft:
        dev = self.policy.hardware.pci_device(bdf)
        if dev is None:
            return self.add("pci", bdf, default, tag)
        return self.add("pci", bdf, _PCI_KINDS[dev.kind], dev.tag, dev.device_name)

    def names(self) -> list[tuple[Placeholder, str]]:
        """Named placeholders with the source id (BDF, path, BUS:DEV) each stands for."""
        tags = {t.id: t.name for t in self.policy.tags}
        groups: dict[str, list[_Draft]] = {}
        for draft in self.drafts.values():
            tag = tags.get(draft.tag, "untagged") if draft.tag else "untagged"
            groups.setdefault(f"{draft.kind.value}-{_slug(tag)}", []).append(draft)
        out: list[tuple[Placeholder, str]] = []
        used: set[str] = set()
        for base in sorted(groups):
            # Order by where the hardware is used, then by its old id: stable for a policy.
            drafts = sorted(groups[base], key=lambda d: (sorted(d.uses), d.key))
            n = 1
            for d in drafts:
                while True:
                    name = base if n == 1 else f"{base}-{n}"
                    n += 1
                    # A "-N" suffix may not take another tag's slug that ends in "-N".
                    if name not in used and (name == base or name not in groups):
                        break
                used.add(name)
                ph = Placeholder(name, d.kind, d.tag, tuple(sorted(d.uses)), d.description)
                out.append((ph, d.key))
        return sorted(out, key=lambda pair: pair[0].name)


def export_template(policy: Policy) -> Template:
    """Generalises a host policy into a template.

    Tagged PCI devices, disks, USB and input devices, the controllers named by
    switches and storage locations, and the ``phy`` storage devices (base paths and
    disk targets that are disks of the inventory) become placeholders named after
    their kind and tag; the hardware inventory is dropped. Every security rule is
    kept unchanged.
    """
    return _export(policy)[0]


def source_mapping(policy: Policy) -> dict[str, str]:
    """Returns the mapping that binds ``export_template(policy)`` back to this host.

    Instantiating the template on the same hardware with this mapping gives the
    policy back; on another host it is a starting point to edit.
    """
    return _export(policy)[1]


def _export(policy: Policy) -> tuple[Template, dict[str, str]]:
    ex = _Exporter(policy)
    hw = policy.hardware
    for dev in hw.pci:
        if dev.tag is not None:
            ex.pci(dev.bdf, _PCI_KINDS[dev.kind], dev.tag)
    for hd in hw.disks:
        if hd.tag is not None:
            ex.add("disk", hd.path, PlaceholderKind.DISK, hd.tag, hd.name)
    for usb in hw.usb:
        if usb.tag is not None:
            ex.add("usb", f"{usb.bus}:{usb.dev}", PlaceholderKind.USB_DEVICE, usb.tag, usb.name)
    for inp in hw.input:
        if inp.tag is not None:
            ex.add("input", inp.path, PlaceholderKind.INPUT_DEVICE, inp.tag, inp.name)
    switches: list[NetworkSwitch] = []
    for sw in policy.switches:
        if sw.controller:
            d = ex.pci(sw.controller, PlaceholderKind.NET_CONTROLLER, sw.tag)
            d.uses.append(PlaceholderUse("switch", sw.id, "controller"))
        switches.append(dataclasses.replace(sw, controller=None))
    # Device paths are generalised when the inventory knows them: only those can be
    # bound again (a mapping must name inventory hardware); others stay verbatim.
    known_disks = {hd.path: hd for hd in hw.disks}
    storage: list[StorageLocation] = []
    for loc in policy.storage:
        changes: dict[str, Any] = {"controller": None}
        if loc.controller:
            d = ex.pci(loc.controller, PlaceholderKind.STORAGE_CONTROLLER, loc.tag)
            d.uses.append(PlaceholderUse("storage", loc.id, "controller"))
        if loc.mode is StorageMode.PHY and loc.base_path in known_disks:
            d = ex.add("disk", loc.base_path, PlaceholderKind.DISK, loc.tag)
            d.uses.append(PlaceholderUse("storage", loc.id, "base_path"))
            changes["base_path"] = ""
        storage.append(dataclasses.replace(loc, **changes))
    domains: list[DomainConfig] = []
    phy_locs = {loc.id: loc for loc in policy.storage if loc.mode is StorageMode.PHY}
    for dom in policy.domains:
        disks = list(dom.disks)
        for i, vd in enumerate(disks):
            phy = phy_locs.get(vd.location)
            if phy is not None and vd.target in known_disks:
                d = ex.add("disk", vd.target, PlaceholderKind.DISK, phy.tag)
                d.uses.append(PlaceholderUse("disk", dom.id, "target", i))
                disks[i] = dataclasses.replace(vd, target="")
        for i, bdf in enumerate(dom.pci):
            d = ex.pci(bdf, PlaceholderKind.PCI_DEVICE, policy.domain_tag(dom))
            d.uses.append(PlaceholderUse("domain", dom.id, "pci", i))
        domains.append(dataclasses.replace(dom, disks=tuple(disks), pci=()))
    general = dataclasses.replace(
        policy,
        switches=tuple(switches),
        storage=tuple(storage),
        domains=tuple(domains),
        hardware=Hardware(),
    )
    named = ex.names()
    return Template(general, tuple(ph for ph, _ in named)), {ph.name: key for ph, key in named}


# ------------------------------------------------------------------------- instantiate


def _normal_bdf(value: str) -> str | None:
    try:
        return bdf_from_int(bdf_to_int(value))
    except ValueError:
        return None


def _resolve(ph: Placeholder, value: str, hw: Hardware) -> tuple[str, Any]:
    """Finds the hardware a mapping names; returns (concrete id, inventory item)."""
    if ph.kind in _PCI_KINDS.values():
        bdf = _normal_bdf(value)
        dev = hw.pci_device(bdf) if bdf else None
        if dev is None:
            raise _fail(
                "unknown-hardware",
                f"{ph.name}: no PCI device {value!r} in the target's hardware inventory",
            )
        wanted = next(k for k, v in _PCI_KINDS.items() if v is ph.kind)
        if ph.kind is not PlaceholderKind.PCI_DEVICE and dev.kind is not wanted:
            raise _fail(
                "kind-mismatch",
                f"{ph.name} needs a {wanted.value} controller; {dev.bdf} is {dev.kind.value}",
            )
        return dev.bdf, dev
    if ph.kind is PlaceholderKind.DISK:
        disk = next((d for d in hw.disks if value in (d.path, d.name)), None)
        if disk is None:
            raise _fail("unknown-hardware", f"{ph.name}: no disk {value!r} on the target")
        return disk.path, disk
    if ph.kind is PlaceholderKind.USB_DEVICE:
        usb = next((u for u in hw.usb if f"{u.bus}:{u.dev}" == value), None)
        if usb is None:
            raise _fail("unknown-hardware", f"{ph.name}: no USB device {value!r} (BUS:DEV)")
        return value, usb
    inp = next((i for i in hw.input if value in (i.path, i.name)), None)
    if inp is None:
        raise _fail("unknown-hardware", f"{ph.name}: no input device {value!r} on the target")
    return inp.path, inp


def _apply_use(policy: Policy, use: PlaceholderUse, value: str) -> Policy:
    if use.object == "switch":
        return policy.with_switch(dataclasses.replace(policy.switch(use.id), controller=value))
    if use.object == "storage":
        loc = policy.storage_location(use.id)
        if use.field == "controller":
            return policy.with_storage(dataclasses.replace(loc, controller=value))
        return policy.with_storage(dataclasses.replace(loc, base_path=value))
    dom = policy.domain(use.id)
    disks = list(dom.disks)
    disks[use.index] = dataclasses.replace(disks[use.index], target=value)
    return policy.with_domain(dataclasses.replace(dom, disks=tuple(disks)))


def _retag(hw: Hardware, tags: Mapping[int, UUID | None]) -> Hardware:
    # Only what the template binds is tagged: stale tags from another policy are dropped.
    def tagged(item: Any) -> Any:
        return dataclasses.replace(item, tag=tags.get(id(item)))

    return dataclasses.replace(
        hw,
        pci=tuple(map(tagged, hw.pci)),
        disks=tuple(map(tagged, hw.disks)),
        usb=tuple(map(tagged, hw.usb)),
        input=tuple(map(tagged, hw.input)),
    )


def instantiate_template(
    template: Template, hardware: Hardware, mapping: Mapping[str, str]
) -> InstantiationResult:
    """Binds a template's placeholders to the target host's hardware and checks the result.

    Args:
        template: The template.
        hardware: The target host's hardware inventory.
        mapping: Placeholder name -> concrete id: a PCI address for controllers and
            PCI devices, a device path (or name) for disks and input devices,
            ``BUS:DEV`` for USB devices. Placeholders left out stay ``missing``.

    Returns:
        Every placeholder's state and the validation findings; ``.policy`` is
        available only when the result is complete.

    Raises:
        TemplateError: The mapping names an unknown placeholder (``unknown-placeholder``),
            hardware the target does not have (``unknown-hardware``), the wrong kind of
            device (``kind-mismatch``), or one device for two placeholders
            (``duplicate-binding``).
    """
    names = {ph.name for ph in template.placeholders}
    unknown = sorted(set(mapping) - names)
    if unknown:
        raise _fail("unknown-placeholder", f"no such placeholder(s): {', '.join(unknown)}")
    policy = template.policy
    tags: dict[int, UUID | None] = {}
    owner: dict[int, str] = {}
    passthrough: dict[UUID, dict[int, str]] = {}
    states = []
    tag_names = {t.id: t.name for t in policy.tags}
    for ph in template.placeholders:
        value = mapping.get(ph.name)
        concrete = None
        if value is not None:
            concrete, item = _resolve(ph, value.strip(), hardware)
            if id(item) in owner:
                raise _fail(
                    "duplicate-binding",
                    f"{concrete} is bound to both {owner[id(item)]} and {ph.name}",
                )
            owner[id(item)] = ph.name
            tags[id(item)] = ph.tag
            for use in ph.uses:
                if use.object == "domain":
                    passthrough.setdefault(use.id, {})[use.index] = concrete
                else:
                    policy = _apply_use(policy, use, concrete)
        tag_name = tag_names.get(ph.tag, "?") if ph.tag else "untagged"
        states.append(PlaceholderState(ph.name, ph.kind, tag_name, concrete))
    for dom_id, slots in passthrough.items():
        dom = policy.domain(dom_id)
        pci = tuple(slots[i] for i in sorted(slots))
        policy = policy.with_domain(dataclasses.replace(dom, pci=pci))
    policy = policy.with_hardware(_retag(hardware, tags))
    return InstantiationResult(tuple(states), tuple(validate(policy)), policy)


# ------------------------------------------------------------------------------- XML


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def serialize_template(template: Template) -> bytes:
    """Serializes a template deterministically (UTF-8, indented, trailing newline)."""
    nsmap: Any = {None: NAMESPACE}
    root = etree.Element(TEMPLATE_TAG, nsmap=nsmap)
    root.set("format", _FORMAT)
    holders = etree.SubElement(root, _q("placeholders"))
    for ph in sorted(template.placeholders, key=lambda p: p.name):
        el = etree.SubElement(holders, _q("placeholder"))
        el.set("name", ph.name)
        el.set("kind", ph.kind.value)
        if ph.tag is not None:
            el.set("tag", str(ph.tag))
        if ph.description:
            el.set("description", ph.description)
        for use in sorted(ph.uses):
            u = etree.SubElement(el, _q("use"))
            u.set("object", use.object)
            u.set("id", str(use.id))
            u.set("field", use.field)
            if use.object in ("disk", "domain"):
                u.set("index", str(use.index))
    root.append(policy_to_element(template.policy))
    etree.indent(root, space="  ")
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return body + b"\n"


def _xml_error(problem: XmlProblem, detail: str, line: int, column: int) -> TemplateError:
    messages = {
        "too_large": f"template larger than {MAX_XML_BYTES} bytes",
        "encoding": f"templates are UTF-8, not {detail}",
        "doctype": "a DOCTYPE is not allowed in a template",
        "entity": "entity references are not allowed in a template",
        "too_deep": f"template nests deeper than {_MAX_DEPTH} elements",
        "syntax": f"malformed template: {detail} (line {line}, column {column})",
    }
    return _fail("xml", messages[problem])


def _parse_xml(data: bytes) -> etree._Element:
    return parse_untrusted(
        data,
        max_bytes=MAX_XML_BYTES,
        max_depth=_MAX_DEPTH,
        error=_xml_error,
        keep_comments=False,
        keep_pis=False,
    )


def _attr(el: etree._Element, name: str) -> str:
    value = el.get(name)
    if value is None:
        raise _fail("xml", f"<{etree.QName(el).localname}> misses attribute {name!r}")
    return value


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise _fail("xml", f"{what}: {value!r} is not a UUID") from exc


def _placeholder(el: etree._Element) -> Placeholder:
    if el.tag != _q("placeholder"):
        raise _fail("xml", f"unexpected element {el.tag} in <placeholders>")
    name = _attr(el, "name")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}", name):
        raise _fail("xml", f"bad placeholder name {name!r}")
    try:
        kind = PlaceholderKind(_attr(el, "kind"))
    except ValueError as exc:
        raise _fail("xml", f"placeholder {name}: unknown kind {el.get('kind')!r}") from exc
    tag = el.get("tag")
    uses = []
    for u in el:
        if u.tag != _q("use"):
            raise _fail("xml", f"unexpected element {u.tag} in placeholder {name}")
        obj, field = _attr(u, "object"), _attr(u, "field")
        if field not in _USE_FIELDS.get(obj, set()):
            raise _fail("xml", f"placeholder {name}: cannot bind {obj}.{field}")
        index = u.get("index", "0")
        if not index.isdigit() or int(index) > 255:
            raise _fail("xml", f"placeholder {name}: bad index {index!r}")
        uses.append(PlaceholderUse(obj, _uuid(_attr(u, "id"), name), field, int(index)))
    return Placeholder(
        name,
        kind,
        None if tag is None else _uuid(tag, name),
        tuple(sorted(uses)),
        el.get("description", ""),
    )


def _check_uses(policy: Policy, placeholders: Iterable[Placeholder]) -> None:
    tag_ids = {t.id for t in policy.tags}
    for ph in placeholders:
        if ph.tag is not None and ph.tag not in tag_ids:
            raise _fail("xml", f"placeholder {ph.name} names an unknown tag {ph.tag}")
        for use in ph.uses:
            try:
                if use.object == "switch":
                    policy.switch(use.id)
                elif use.object == "storage":
                    policy.storage_location(use.id)
                elif use.object == "domain":
                    policy.domain(use.id)
                elif use.index >= len(policy.domain(use.id).disks):
                    raise _fail(
                        "xml", f"placeholder {ph.name}: disk index {use.index} out of range"
                    )
            except PolicyError as exc:
                if isinstance(exc, TemplateError):
                    raise
                raise _fail("xml", f"placeholder {ph.name}: {exc}") from exc


def parse_template(data: bytes) -> Template:
    """Parses a template document (hardened parser, strict shape, embedded policy XSD).

    Raises:
        TemplateError: Not a well-formed template (``policy.template.xml``).
        PolicyXmlError: The embedded policy is not schema-valid.
    """
    root = _parse_xml(data)
    if root.tag != TEMPLATE_TAG:
        raise _fail("xml", f"root element is {root.tag}, expected {TEMPLATE_TAG}")
    if root.get("format") != _FORMAT:
        raise _fail("xml", f"unsupported template format {root.get('format')!r}")
    kids = [c for c in root if isinstance(c.tag, str)]
    if [c.tag for c in kids] != [_q("placeholders"), _q("policy")]:
        raise _fail("xml", "a template holds exactly <placeholders> then <policy>")
    placeholders = tuple(_placeholder(el) for el in kids[0] if isinstance(el.tag, str))
    if len({p.name for p in placeholders}) != len(placeholders):
        raise _fail("xml", "placeholder names must be unique")
    policy = policy_from_element(kids[1])
    _check_uses(policy, placeholders)
    return Template(policy, tuple(sorted(placeholders, key=lambda p: p.name)))
