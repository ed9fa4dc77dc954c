"""The Policy service's input boundary: field maps into model objects, references resolved.

A create or an update arrives as a map of field names to plain values (what JSON gives,
or model values from in-process callers). Here each value gets its type checked and is
converted; its *meaning* (ranges, names, what a guest type needs) is the consistency
checker's, which reports every problem at once with the objects' names. What must be
refused before the checker can run is refused here as :class:`InvalidInput`: unknown or
missing fields, wrong types, text that is not UTF-8 or carries control characters,
numbers a database column cannot hold.

References (a VM's enclave, SecLabel, host …) are UUIDs or names and must resolve in the
caller's own view of the policy: a scoped caller cannot name what scope hides from them.
An enclave given by UUID outside the caller's scope is :class:`OutOfScope` (placing
something there), whether or not it exists.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from enterprise_store._errors import InvalidInput, NotFound
from enterprise_store.model import (
    ConflictSet,
    CpuFacts,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    Host,
    HostSwitch,
    NetworkRestrictions,
    SecLabel,
    Vm,
    VmDisk,
    VmVif,
)
from enterprise_store.model._devices import normal_mac
from enterprise_store.services._access import Principal, require_scope
from xps.policy import ConflictLevel, GuestOS, GuestRole, GuestType

__all__ = ["FIELDS", "REQUIRED", "Refs", "build", "parse_uuid"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_TEXT_LIMIT = 4096
_NAME_LIMIT = 255
_LIST_LIMIT = 4096

T = TypeVar("T")

_KIND_NAMES = {
    "enclaves": "enclave",
    "hosts": "host",
    "seclabels": "SecLabel",
    "profiles": "hypercall profile",
    "vms": "VM",
    "conflicts": "conflict set",
    "dhcp_servers": "DHCP server",
}


def parse_uuid(value: Any) -> UUID | None:
    """``value`` as a UUID if it is one (a UUID or its text), else None."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str) and len(value) <= 40:
        try:
            return uuid.UUID(value)
        except ValueError:
            return None
    return None


# ----------------------------------------------------------------------- values


def _text(value: Any, what: str, *, limit: int = _TEXT_LIMIT) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    if len(value) > limit:
        raise InvalidInput(f"{what} has at most {limit} characters")
    if _CONTROL.search(value):
        raise InvalidInput(f"{what} cannot contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode (a lone surrogate)") from None
    return value


def _opt_text(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _int(value: Any, what: str, bounds: tuple[int, int] = _INT64) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer")
    lo, hi = bounds
    if not lo <= value <= hi:
        raise InvalidInput(f"{what} must be between {lo} and {hi}")
    return value


def _opt_int(value: Any, what: str, bounds: tuple[int, int] = _INT64) -> int | None:
    return None if value is None else _int(value, what, bounds)


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false")
    return value


def _enum(value: Any, what: str, cls: Callable[[Any], T], choices: Iterable[Any]) -> T:
    try:
        return cls(value)
    except (ValueError, TypeError):
        names = ", ".join(str(getattr(c, "value", c)) for c in choices)
        raise InvalidInput(f"{what} must be one of {names}") from None


def _list(value: Any, what: str) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInput(f"{what} must be a list")
    items = list(value)
    if len(items) > _LIST_LIMIT:
        raise InvalidInput(f"{what} has at most {_LIST_LIMIT} items")
    return items


def _color(value: Any, what: str = "color") -> tuple[int, int, int]:
    if isinstance(value, str):
        if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value):
            raise InvalidInput(f"{what} must be #rrggbb or [red, green, blue]")
        return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)
    parts = _list(value, what)
    if len(parts) != 3:
        raise InvalidInput(f"{what} must be [red, green, blue]")
    r, g, b = (_int(p, f"{what} component", (0, 255)) for p in parts)
    return r, g, b


def _mapping(value: Any, what: str, allowed: Iterable[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be an object")
    unknown = sorted(str(k) for k in value if k not in set(allowed))
    if unknown:
        raise InvalidInput(f"{what}: unknown fields {unknown[:10]}")
    return value


def _cpu(value: Any) -> CpuFacts:
    if isinstance(value, CpuFacts):
        return value
    m = _mapping(value, "cpu", ("vendor", "family", "model", "stepping", "flags"))
    flags = frozenset(_text(f, "cpu flag", limit=64) for f in _list(m.get("flags", ()), "flags"))
    return CpuFacts(
        vendor=_text(m.get("vendor", ""), "cpu vendor", limit=64),
        family=_opt_int(m.get("family"), "cpu family", _INT32),
        model=_opt_int(m.get("model"), "cpu model", _INT32),
        stepping=_opt_int(m.get("stepping"), "cpu stepping", _INT32),
        flags=flags,
    )


def _network(value: Any) -> NetworkRestrictions:
    if isinstance(value, NetworkRestrictions):
        return value
    m = _mapping(value, "network", ("allow_network", "switches", "max_vifs"))
    return NetworkRestrictions(
        allow_network=_bool(m.get("allow_network", True), "network.allow_network"),
        switches=tuple(
            _text(s, "network switch", limit=_NAME_LIMIT)
            for s in _list(m.get("switches", ()), "network.switches")
        ),
        max_vifs=_opt_int(m.get("max_vifs"), "network.max_vifs"),
    )


def _extra(value: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for item in _list(value, "extra"):
        pair = _list(item, "an extra xl option")
        if len(pair) != 2:
            raise InvalidInput("an extra xl option is [key, value]")
        out.append(
            (_text(pair[0], "extra xl key", limit=_NAME_LIMIT), _text(pair[1], "extra xl value"))
        )
    return tuple(out)


_DEVICE_LIMIT = 64  # more VIFs or disks than any VM has; the checker's limits are lower


def _devices(value: Any, what: str) -> list[Any]:
    items = _list(value, what)
    if len(items) > _DEVICE_LIMIT:
        raise InvalidInput(f"{what} has at most {_DEVICE_LIMIT} items")
    return items


def _vifs(value: Any) -> tuple[VmVif, ...]:
    """A VM's VIFs: each ``{bridge, mac?, ip?, model?}``; the MAC is stored lower case.
    What each may hold is the checker's (``XE-VM-VIF``, naming the VM)."""
    out = []
    for n, item in enumerate(_devices(value, "vifs"), 1):
        if isinstance(item, VmVif):
            out.append(item)
            continue
        m = _mapping(item, f"VIF {n}", ("bridge", "mac", "ip", "model"))
        if m.get("bridge") is None:
            raise InvalidInput(f"VIF {n} needs a bridge")
        mac = _opt_text(m.get("mac"), f"VIF {n} mac")
        ip = _opt_text(m.get("ip"), f"VIF {n} ip")
        model = _opt_text(m.get("model"), f"VIF {n} model")
        out.append(
            VmVif(
                bridge=_text(m["bridge"], f"VIF {n} bridge", limit=_NAME_LIMIT),
                mac=normal_mac(mac) if mac else None,
                ip=ip.strip() or None if ip is not None else None,
                model=model or None,
            )
        )
    return tuple(out)


def _disks(value: Any) -> tuple[VmDisk, ...]:
    """A VM's disks: each ``{target, vdev, mode?: r|w, format?: raw|qcow2, cdrom?}``; the
    mode defaults to ``w``, for a CD-ROM to ``r``. What each may hold is the checker's
    (``XE-VM-DISK``, naming the VM)."""
    out = []
    for n, item in enumerate(_devices(value, "disks"), 1):
        if isinstance(item, VmDisk):
            out.append(item)
            continue
        m = _mapping(item, f"disk {n}", ("target", "vdev", "mode", "format", "cdrom"))
        for key in ("target", "vdev"):
            if m.get(key) is None:
                raise InvalidInput(f"disk {n} needs a {key}")
        cdrom = _bool(m.get("cdrom", False), f"disk {n} cdrom")
        mode = m.get("mode")
        out.append(
            VmDisk(
                target=_text(m["target"], f"disk {n} target"),
                vdev=_text(m["vdev"], f"disk {n} vdev", limit=_NAME_LIMIT),
                mode=_text(
                    ("r" if cdrom else "w") if mode is None else mode, f"disk {n} mode", limit=16
                ),
                format=_text(m.get("format") or "raw", f"disk {n} format", limit=16),
                cdrom=cdrom,
            )
        )
    return tuple(out)


# ------------------------------------------------------------------- references


class Refs:
    """References resolved in what ``caller`` sees (``view``).

    Args:
        caller: Who writes.
        view: The policy as the caller sees it (the whole policy when unscoped).
    """

    def __init__(self, caller: Principal, view: EnterprisePolicy) -> None:
        self.caller = caller
        self.view = view

    def find(self, attr: str, ref: Any) -> Any | None:
        """The object of ``attr`` with UUID or name ``ref`` in the view, or None."""
        key = parse_uuid(ref)
        if key is not None:
            return self.view.ids(attr).get(key)
        if not isinstance(ref, str):
            return None
        try:
            return getattr(self.view, f"{_single(attr)}_named")(ref)
        except NotFound:
            return None

    def target(self, attr: str, ref: Any) -> Any:
        """The object a call acts on (``ref`` UUID or name).

        Raises:
            NotFound: No such object the caller can see.
        """
        found = self.find(attr, ref)
        if found is None:
            shown = str(ref)[:80] if isinstance(ref, str | UUID) else "?"
            raise NotFound(f"no {_KIND_NAMES[attr]} {shown!r}")
        return found

    def refer(self, attr: str, ref: Any, what: str) -> UUID:
        """The id a field refers to.

        Raises:
            OutOfScope: An enclave UUID outside the caller's scope.
            InvalidInput: Nothing the caller can see has that UUID or name.
        """
        if attr == "enclaves":
            key = parse_uuid(ref)
            if key is not None:
                require_scope(self.caller, frozenset({str(key)}), f"use enclave {key}")
        found = self.find(attr, ref)
        if found is None:
            if not isinstance(ref, str | UUID):
                raise InvalidInput(f"{what} must be a UUID or a name")
            raise InvalidInput(f"{what}: no {_KIND_NAMES[attr]} {str(ref)[:80]!r}")
        key_of_found: UUID = found.id
        return key_of_found

    def opt_refer(self, attr: str, ref: Any, what: str) -> UUID | None:
        """Like :meth:`refer`; None stays None."""
        return None if ref is None else self.refer(attr, ref, what)


def _single(attr: str) -> str:
    return {
        "enclaves": "enclave",
        "hosts": "host",
        "seclabels": "seclabel",
        "profiles": "profile",
        "vms": "vm",
        "conflicts": "conflict",
        "dhcp_servers": "dhcp_server",
    }[attr]


def _switches(value: Any, refs: Refs) -> tuple[HostSwitch, ...]:
    out = []
    for item in _list(value, "switches"):
        m = _mapping(item, "a switch", ("name", "enclave"))
        if "name" not in m:
            raise InvalidInput("a switch needs a name")
        enclave = m.get("enclave")
        # A host's switches may name a tag the host had before XE: the checker judges it.
        key = parse_uuid(enclave)
        if enclave is not None and key is None:
            key = refs.refer("enclaves", enclave, "switch enclave")
        out.append(HostSwitch(_text(m["name"], "switch name", limit=_NAME_LIMIT), key))
    return tuple(out)


# ------------------------------------------------------------------------ kinds

_Conv = Callable[[Any, Refs], Any]


def _name(v: Any, r: Refs) -> str:
    return _text(v, "name", limit=_NAME_LIMIT)


FIELDS: dict[str, dict[str, _Conv]] = {
    "enclaves": {"name": _name, "color": lambda v, r: _color(v)},
    "hosts": {
        "name": _name,
        "address": lambda v, r: _text(v, "address", limit=_NAME_LIMIT),
        "port": lambda v, r: _int(v, "port", _INT32),
        "ro_port": lambda v, r: _opt_int(v, "ro_port", (1, 65535)),
        "order": lambda v, r: _int(v, "order", _INT32),
        "color": lambda v, r: _color(v),
        "cpu": lambda v, r: _cpu(v),
        "shared_storage": lambda v, r: tuple(
            _text(s, "shared storage", limit=_NAME_LIMIT) for s in _list(v, "shared_storage")
        ),
        "switches": _switches,
    },
    "seclabels": {
        "name": _name,
        "enclave": lambda v, r: r.refer("enclaves", v, "enclave"),
        "profile": lambda v, r: r.refer("profiles", v, "profile"),
        "max_rate": lambda v, r: _int(v, "max_rate", _INT32),
        "max_violations": lambda v, r: _int(v, "max_violations"),
        "role": lambda v, r: _enum(v, "role", GuestRole, GuestRole),
    },
    "vms": {
        "name": _name,
        "enclave": lambda v, r: r.refer("enclaves", v, "enclave"),
        "seclabel": lambda v, r: r.opt_refer("seclabels", v, "seclabel"),
        "guest_type": lambda v, r: _enum(v, "guest_type", GuestType, GuestType),
        "os": lambda v, r: _enum(v, "os", GuestOS, GuestOS),
        "kernel": lambda v, r: _opt_text(v, "kernel"),
        "ramdisk": lambda v, r: _opt_text(v, "ramdisk"),
        "cmdline": lambda v, r: _opt_text(v, "cmdline"),
        "bootloader": lambda v, r: _opt_text(v, "bootloader"),
        "memory_mb": lambda v, r: _int(v, "memory_mb"),
        "maxmem_mb": lambda v, r: _int(v, "maxmem_mb"),
        "vcpus": lambda v, r: _int(v, "vcpus"),
        "maxvcpus": lambda v, r: _int(v, "maxvcpus"),
        "host": lambda v, r: r.opt_refer("hosts", v, "host"),
        "run": lambda v, r: _bool(v, "run"),
        "network": lambda v, r: _network(v),
        "extra": lambda v, r: _extra(v),
        "vifs": lambda v, r: _vifs(v),
        "disks": lambda v, r: _disks(v),
    },
    "conflicts": {
        "name": _name,
        "level": lambda v, r: _enum(v, "level", ConflictLevel, ConflictLevel),
        "enclaves": lambda v, r: tuple(
            r.refer("enclaves", e, "conflict set enclave") for e in _list(v, "enclaves")
        ),
    },
    "dhcp_servers": {
        "name": _name,
        "enclave": lambda v, r: r.refer("enclaves", v, "enclave"),
        "interface": lambda v, r: _text(v, "interface", limit=64),
    },
}
"""Per collection: the fields a caller may set, and how each is read."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "enclaves": ("name",),
    "hosts": ("name", "address"),
    "seclabels": ("name", "enclave", "profile"),
    "vms": ("name", "enclave", "guest_type"),
    "conflicts": ("name", "level", "enclaves"),
    "dhcp_servers": ("name", "enclave", "interface"),
}

_TYPES: dict[str, type] = {
    "enclaves": Enclave,
    "hosts": Host,
    "seclabels": SecLabel,
    "vms": Vm,
    "conflicts": ConflictSet,
    "dhcp_servers": DhcpServer,
}


def _convert(
    attr: str, spec: dict[str, _Conv], name: str, fields: Mapping[str, Any], refs: Refs, base: Any
) -> Any:
    try:
        return spec[name](fields[name], refs)
    except InvalidInput as exc:
        if attr != "vms" or name not in ("vifs", "disks"):
            raise
        # A VIF or disk is refused naming its VM (the console shows it under the list).
        vm = base.name if base is not None else fields.get("name")
        raise InvalidInput(f"VM {str(vm)[:80]!r}: {exc}") from None


def build(attr: str, fields: Mapping[str, Any], refs: Refs, *, base: Any = None) -> Any:
    """A new object of collection ``attr`` from ``fields`` (create), or ``base`` with
    ``fields`` changed (update). Ids are the caller's business (``id`` is not a field).

    Raises:
        InvalidInput: Unknown, missing or malformed fields; unresolvable references.
        OutOfScope: An enclave outside the caller's scope.
    """
    if not isinstance(fields, Mapping):
        raise InvalidInput("the fields must be an object")
    spec = FIELDS[attr]
    unknown = sorted(str(k) for k in fields if k not in spec)
    if unknown:
        raise InvalidInput(f"unknown fields {unknown[:10]}: choose from {', '.join(spec)}")
    if base is None:
        missing = [k for k in REQUIRED[attr] if fields.get(k) is None]
        if missing:
            raise InvalidInput(f"missing fields: {', '.join(missing)}")
    # The enclave first: placing something outside one's scope is refused as that
    # (OutOfScope), not as whatever else in the same request names a hidden object.
    order = sorted(fields, key=lambda k: k not in ("enclave", "enclaves"))
    values = {name: _convert(attr, spec, name, fields, refs, base) for name in order}
    if base is None:
        if attr == "vms":
            # No SecLabel yet is the checker's to refuse, with its hint (Figure 24).
            values.setdefault("seclabel", None)
            # As xl does: the maxima follow what is given unless they are given too.
            if "memory_mb" in values and "maxmem_mb" not in values:
                values["maxmem_mb"] = values["memory_mb"]
            if "vcpus" in values and "maxvcpus" not in values:
                values["maxvcpus"] = values["vcpus"]
        return _TYPES[attr](id=uuid.uuid4(), **values)
    return dataclasses.replace(base, **values)
