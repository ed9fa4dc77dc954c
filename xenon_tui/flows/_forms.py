"""The Advanced tab's forms: fields per object kind, parsing, and validation through the
policy rules (``xps.policy.validate``), so a form shows each problem next to its field."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xenon_tui._policy_data import hex_color
from xenon_tui.dialogs._form import Field, Values

if TYPE_CHECKING:
    from xps.policy import Policy

Builder = Callable[["Policy", Values], tuple["Policy", Any]]


class FormValueError(Exception):
    """A form value that cannot even be parsed; carries the field it belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _int(values: Values, name: str) -> int:
    text = values[name].strip()
    if not re.fullmatch(r"-?\d{1,10}", text):
        raise FormValueError(name, "must be a whole number")
    return int(text)


def _color(values: Values, name: str) -> tuple[int, int, int]:
    text = values[name].strip()
    if not re.fullmatch(r"#?[0-9A-Fa-f]{6}", text):
        raise FormValueError(name, "must be a colour like #cc3333")
    text = text.lstrip("#")
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))


def _named(policy: Policy, getter: str, values: Values, name: str) -> Any:
    try:
        return getattr(policy, getter)(values[name].strip())
    except Exception:
        raise FormValueError(name, f"no such {name}: {values[name].strip()!r}") from None


def _hypercalls(values: Values, name: str) -> frozenset[int]:
    from xps.policy import hypercall_number

    out: set[int] = set()
    for item in filter(None, (p.strip() for p in values[name].split(","))):
        try:
            out.add(int(item) if item.isdigit() else hypercall_number(item))
        except Exception:
            raise FormValueError(name, f"unknown hypercall {item!r}") from None
    return frozenset(out)


def _subops(values: Values, name: str) -> tuple[tuple[int, frozenset[int]], ...]:
    from xps.policy import hypercall_number, subop_number

    out: dict[int, frozenset[int]] = {}
    for part in filter(None, (p.strip() for p in values[name].split(";"))):
        call, _, ops = part.partition("=")
        try:
            nr = int(call) if call.strip().isdigit() else hypercall_number(call.strip())
            out[nr] = frozenset(
                int(o) if o.strip().isdigit() else subop_number(nr, o.strip())
                for o in ops.split(",")
                if o.strip()
            )
        except Exception:
            raise FormValueError(name, f"cannot read {part!r} (use call=op,op; …)") from None
    return tuple(sorted(out.items()))


def semantic_errors(
    policy: Policy, obj_id: Any, fields: dict[str, str], name: str = ""
) -> dict[str, str]:
    """Runs ``xps.policy.validate`` and keeps error findings about the edited object.

    Findings name a model field; ``fields`` maps model field -> form field. A finding
    about another object's ``name`` equal to ``name`` (a duplicate) is kept too. The form
    names its object in its title, so a finding about it drops its "kind 'name' (uuid …): "
    prefix (the object is named once).
    """
    try:
        from xps.policy import validate
    except ImportError:  # the daemon validates again when the policy is staged
        return {}
    errors: dict[str, str] = {}
    for f in validate(policy):
        if str(getattr(f, "severity", "error")).lower() != "error":
            continue
        own = obj_id is None or getattr(f, "object_id", None) in (obj_id, str(obj_id))
        clash = bool(name) and f.object_name == name and f.field == "name"
        if not (own or clash):
            continue
        message = f.message
        if own and obj_id is not None and f" (uuid {obj_id}): " in message:
            message = message.split(f" (uuid {obj_id}): ", 1)[1]
        key = fields.get(str(getattr(f, "field", "") or ""), "")
        errors[key] = (errors.get(key, "") + "\n" if key in errors else "") + (
            f"{message} [{f.code}]"
        )
    return errors


def _profile_form(policy: Policy, obj: Any, extra_call: int | None = None) -> list[Field]:
    from xps.policy import hypercall_name, subop_name

    calls = sorted(set(obj.hypercalls if obj else ()) | ({extra_call} if extra_call else set()))
    subops = "; ".join(
        f"{hypercall_name(nr)}=" + ",".join(subop_name(nr, o) for o in sorted(ops))
        for nr, ops in (obj.subops if obj else ())
    )
    return [
        Field("name", "Name", obj.name if obj else ""),
        Field(
            "hypercalls",
            "Hypercalls",
            ", ".join(hypercall_name(c) for c in calls),
            "names or numbers, comma separated",
        ),
        Field("subops", "Sub-commands", subops, "call=op,op; call=op …"),
        Field("description", "Description", obj.description if obj else ""),
    ]


def _build_profile(obj: Any) -> Builder:
    from xps.policy import HypercallProfile

    def build(policy: Policy, v: Values) -> tuple[Policy, Any]:
        new = HypercallProfile(
            id=obj.id if obj else uuid.uuid4(),
            name=v["name"].strip(),
            hypercalls=_hypercalls(v, "hypercalls"),
            subops=_subops(v, "subops"),
            description=v["description"].strip(),
            guest_family=obj.guest_family if obj else frozenset(),
        )
        return policy.with_profile(new), new.id

    return build


def _tag_form(policy: Policy, obj: Any) -> list[Field]:
    return [
        Field("name", "Name", obj.name if obj else ""),
        Field("color", "Colour", hex_color(obj.color) if obj else "#3366cc", "#rrggbb"),
    ]


def _build_tag(obj: Any) -> Builder:
    from xps.policy import Tag

    def build(policy: Policy, v: Values) -> tuple[Policy, Any]:
        new = Tag(
            id=obj.id if obj else uuid.uuid4(), name=v["name"].strip(), color=_color(v, "color")
        )
        return policy.with_tag(new), new.id

    return build


def _conflict_form(policy: Policy, obj: Any) -> list[Field]:
    names = ", ".join(policy.tag(t).name for t in obj.tags) if obj else ""
    return [
        Field("name", "Name", obj.name if obj else ""),
        Field(
            "level",
            "Level",
            str(obj.level) if obj else "no-coresidence",
            "no-coresidence or no-communication",
        ),
        Field("tags", "Tags", names, "at least two tag names, comma separated"),
    ]


def _build_conflict(obj: Any) -> Builder:
    from xps.policy import ConflictLevel, ConflictSet

    def build(policy: Policy, v: Values) -> tuple[Policy, Any]:
        try:
            level = ConflictLevel(v["level"].strip())
        except ValueError:
            raise FormValueError("level", "must be no-coresidence or no-communication") from None
        tags = []
        for name in filter(None, (t.strip() for t in v["tags"].split(","))):
            try:
                tags.append(policy.tag_named(name).id)
            except Exception:
                raise FormValueError("tags", f"no tag named {name!r}") from None
        new = ConflictSet(
            id=obj.id if obj else uuid.uuid4(),
            name=v["name"].strip(),
            level=level,
            tags=tuple(tags),
        )
        return policy.with_conflict(new), new.id

    return build


def _seclabel_form(policy: Policy, obj: Any) -> list[Field]:
    return [
        Field("name", "Name", obj.name if obj else ""),
        Field("tag", "Tag (enclave)", policy.tag(obj.tag).name if obj else ""),
        Field("profile", "Hypercall profile", policy.profile(obj.profile).name if obj else ""),
        Field(
            "role",
            "Guest role",
            str(obj.role) if obj else "none",
            "none, network_driver_domain, storage_driver_domain, security_domain",
        ),
        Field(
            "max_rate",
            "Max hypercall rate per ms",
            str(obj.max_rate) if obj else "1000",
            "1..65535",
            bounds=(1, 65535),
        ),
        Field(
            "max_violations",
            "Max violations",
            str(obj.max_violations) if obj else "10",
            "0..4294967295 violations before the MSM stops the domain; 0 = never stops it"
            " (violations are only logged)",
            bounds=(0, 0xFFFFFFFF),
        ),
    ]


def _build_seclabel(obj: Any) -> Builder:
    from xps.policy import GuestRole, SecLabel

    def build(policy: Policy, v: Values) -> tuple[Policy, Any]:
        try:
            role = GuestRole(v["role"].strip())
        except ValueError:
            raise FormValueError("role", "not a guest role") from None
        new = SecLabel(
            id=obj.id if obj else uuid.uuid4(),
            name=v["name"].strip(),
            profile=_named(policy, "profile_named", v, "profile").id,
            tag=_named(policy, "tag_named", v, "tag").id,
            role=role,
            max_rate=_int(v, "max_rate"),
            max_violations=_int(v, "max_violations"),
        )
        return policy.with_seclabel(new), new.id

    return build


def _vif_form(policy: Policy, obj: Any) -> list[Field]:
    return [
        Field("domain", "Domain", ""),
        Field("ip", "IP address", "", "inside the switch subnet; empty = DHCP"),
    ]


def _build_vif(switch: Any) -> Builder:
    from xps.policy import Vif, generate_mac

    def build(policy: Policy, v: Values) -> tuple[Policy, Any]:
        dom = _named(policy, "domain_named", v, "domain")
        used = {x.mac for x in policy.vifs}
        mac = generate_mac()
        while mac in used:
            mac = generate_mac()
        new = Vif(domain=dom.id, switch=switch.id, mac=mac, ip=v["ip"].strip() or None)
        return policy.with_vif(new), None

    return build


def _storage_form(policy: Policy, obj: Any) -> list[Field]:
    return [
        Field("name", "Name", obj.name if obj else ""),
        Field("mode", "Mode", str(obj.mode) if obj else "file", "file or phy"),
        Field("tag", "Tag (enclave)", policy.tag(obj.tag).name if obj else ""),
        Field("base_path", "Base path", obj.base_path if obj else "/var/lib/xenon/"),
    ]


def _build_storage(obj: Any) -> Builder:
    from xps.policy import StorageLocation, StorageMode

    def build(policy: Policy, v: Values) -> tuple[Policy, Any]:
        try:
            mode = StorageMode(v["mode"].strip())
        except ValueError:
            raise FormValueError("mode", "must be file or phy") from None
        base = dataclasses.asdict(obj) if obj else {}
        base.update(
            id=obj.id if obj else uuid.uuid4(),
            name=v["name"].strip(),
            mode=mode,
            tag=_named(policy, "tag_named", v, "tag").id,
            base_path=v["base_path"].strip(),
        )
        new = StorageLocation(**base)
        return policy.with_storage(new), new.id

    return build


def _hardware_form(policy: Policy, key: str) -> list[Field]:
    item = _hardware_item(policy, key)
    tag = getattr(item, "tag", None)
    current = policy.tag(tag).name if tag is not None else ""
    return [Field("tag", f"Enclave of {key}", current, "a tag name; empty = unassigned")]


def _hardware_item(policy: Policy, key: str) -> Any:
    hw = policy.hardware
    for item in (*hw.pci, *hw.disks):
        if getattr(item, "bdf", None) == key or getattr(item, "path", None) == key:
            return item
    raise KeyError(key)


def _build_hardware(key: str) -> Builder:
    def build(policy: Policy, v: Values) -> tuple[Policy, Any]:
        name = v["tag"].strip()
        tag = _named(policy, "tag_named", v, "tag").id if name else None
        hw = policy.hardware
        pci = tuple(dataclasses.replace(d, tag=tag) if d.bdf == key else d for d in hw.pci)
        disks = tuple(dataclasses.replace(d, tag=tag) if d.path == key else d for d in hw.disks)
        return policy.with_hardware(dataclasses.replace(hw, pci=pci, disks=disks)), None

    return build


_FIELD_MAP = {
    "max_rate": "max_rate",
    "max_violations": "max_violations",
    "name": "name",
    "tag": "tag",
    "profile": "profile",
    "role": "role",
    "color": "color",
    "tags": "tags",
    "level": "level",
    "hypercalls": "hypercalls",
    "subops": "subops",
    "base_path": "base_path",
    "mode": "mode",
    "ip": "ip",
    "mac": "domain",
    "domain": "domain",
}


def find_object(policy: Policy, tab: str, key: str | None) -> Any:
    """The object a row of an Advanced sub-tab stands for (None when there is none)."""
    if key is None:
        return None
    getter = {
        "profiles": "profile",
        "tags": "tag",
        "conflicts": "conflict",
        "seclabels": "seclabel",
        "switches": "switch",
        "storage": "storage_location",
    }
    try:
        return getattr(policy, getter[tab])(uuid.UUID(key))
    except Exception:
        return None


def edit_form(
    policy: Policy, tab: str, op: str, key: str | None, extra_call: int | None = None
) -> tuple[str, list[Field], Builder] | None:
    """Title, fields and builder of the form for one Advanced edit (None: not editable)."""
    obj = find_object(policy, tab, key) if op == "edit" else None
    if tab == "switches":
        switch = find_object(policy, tab, key)
        if switch is None:
            return None
        return f"Add a VIF to {switch.name}", _vif_form(policy, None), _build_vif(switch)
    if tab == "hardware":
        if key is None or op != "edit":
            return None
        try:
            fields = _hardware_form(policy, key)
        except KeyError:
            return None  # CPUs and memory are not assignable
        return f"Assign {key} to an enclave", fields, _build_hardware(key)
    forms = {
        "profiles": (_profile_form, _build_profile),
        "tags": (_tag_form, _build_tag),
        "conflicts": (_conflict_form, _build_conflict),
        "seclabels": (_seclabel_form, _build_seclabel),
        "storage": (_storage_form, _build_storage),
    }
    if tab not in forms:
        return None
    make_fields, make_builder = forms[tab]
    fields = (
        _profile_form(policy, obj, extra_call) if tab == "profiles" else make_fields(policy, obj)
    )
    what = tab.rstrip("s") if tab != "storage" else "storage location"
    title = f"Edit {what} {obj.name}" if obj else f"New {what}"
    return title, fields, make_builder(obj)


def validator(policy: Policy, build: Builder) -> Callable[[Values], dict[str, str]]:
    """The form validator: parse errors first, then the policy rules about the object."""

    def check(values: Values) -> dict[str, str]:
        try:
            candidate, obj_id = build(policy, values)
        except FormValueError as exc:
            return {exc.field: str(exc)}
        except Exception as exc:  # model constructors reject bad values with a message
            return {"": str(exc)}
        return semantic_errors(candidate, obj_id, _FIELD_MAP, values.get("name", "").strip())

    return check
