"""Object-by-object, field-by-field difference between two policies."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ._jsonspec import json_value as _encode
from ._model import Policy

__all__ = ["FieldChange", "ObjectChange", "ObjectRef", "PolicyDiff", "SectionDiff", "diff"]


@dataclass(frozen=True)
class FieldChange:
    """One field whose value differs (values as in the model: UUIDs, enums, sets)."""

    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-safe dict."""
        return {"field": self.field, "old": _encode(self.old), "new": _encode(self.new)}


@dataclass(frozen=True)
class ObjectRef:
    """An added or removed object: its key (UUID, MAC, BDF, path) and display name."""

    key: str
    name: str

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-safe dict."""
        return {"key": self.key, "name": self.name}


@dataclass(frozen=True)
class ObjectChange:
    """An object present on both sides with at least one changed field."""

    key: str
    name: str
    changes: tuple[FieldChange, ...]

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-safe dict."""
        changes = [c.to_dict() for c in self.changes]
        return {"key": self.key, "name": self.name, "changes": changes}


@dataclass(frozen=True)
class SectionDiff:
    """The differences within one object type (``"seclabels"``, ``"hardware.pci"`` …)."""

    section: str
    added: tuple[ObjectRef, ...] = ()
    removed: tuple[ObjectRef, ...] = ()
    changed: tuple[ObjectChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-safe dict."""
        return {
            "section": self.section,
            "added": [a.to_dict() for a in self.added],
            "removed": [r.to_dict() for r in self.removed],
            "changed": [c.to_dict() for c in self.changed],
        }


@dataclass(frozen=True)
class PolicyDiff:
    """Everything that differs from policy ``a`` to policy ``b``.

    Attributes:
        attributes: Changed policy attributes (name, version, uuid).
        sections: Non-empty section diffs, in a fixed section order.
    """

    attributes: tuple[FieldChange, ...] = ()
    sections: tuple[SectionDiff, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.attributes or self.sections)

    @property
    def is_empty(self) -> bool:
        """True when both policies are equal."""
        return not self

    def section(self, name: str) -> SectionDiff:
        """Returns the diff of one section (empty if nothing changed there)."""
        return next((s for s in self.sections if s.section == name), SectionDiff(name))

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-safe dict (``{"attributes": [...], "sections": [...]}``)."""
        return {
            "attributes": [a.to_dict() for a in self.attributes],
            "sections": [s.to_dict() for s in self.sections],
        }


def _fields(a: Any, b: Any, skip: frozenset[str]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(f.name, getattr(a, f.name), getattr(b, f.name))
        for f in dataclasses.fields(a)
        if f.name not in skip and getattr(a, f.name) != getattr(b, f.name)
    )


def _section(
    name: str,
    old: Iterable[Any],
    new: Iterable[Any],
    key: Callable[[Any], str],
    label: Callable[[Any], str],
    skip: frozenset[str],
) -> SectionDiff:
    before = {key(o): o for o in old}
    after = {key(o): o for o in new}
    added = tuple(ObjectRef(k, label(o)) for k, o in after.items() if k not in before)
    removed = tuple(ObjectRef(k, label(o)) for k, o in before.items() if k not in after)
    changed = []
    for k, o in after.items():
        prev = before.get(k)
        if prev is not None and prev != o:
            changed.append(ObjectChange(k, label(o), _fields(prev, o, skip)))
    return SectionDiff(name, added, removed, tuple(changed))


def _by_id(o: Any) -> str:
    return str(o.id)


def _name(o: Any) -> str:
    return str(o.name)


_ID = frozenset({"id"})


def diff(a: Policy, b: Policy) -> PolicyDiff:
    """Compares two policies; ``diff(p, p)`` is empty.

    Objects are matched by UUID (VIFs by MAC, PCI devices by BDF, host disks and
    input devices by path, USB devices by bus-dev, CPUs by index), so a rename is
    a change, not a removal plus an addition.
    """
    attributes = _fields(
        a, b, frozenset(f.name for f in dataclasses.fields(Policy)) - {"name", "version", "uuid"}
    )
    ha, hb = a.hardware, b.hardware
    sections = [
        _section("profiles", a.profiles, b.profiles, _by_id, _name, _ID),
        _section("tags", a.tags, b.tags, _by_id, _name, _ID),
        _section("conflicts", a.conflicts, b.conflicts, _by_id, _name, _ID),
        _section("seclabels", a.seclabels, b.seclabels, _by_id, _name, _ID),
        _section("domains", a.domains, b.domains, _by_id, _name, _ID),
        _section("switches", a.switches, b.switches, _by_id, _name, _ID),
        _section("storage", a.storage, b.storage, _by_id, _name, _ID),
        _section("vifs", a.vifs, b.vifs, lambda v: v.mac, lambda v: v.mac, frozenset({"mac"})),
        _section(
            "hardware.memory",
            [ha.memory],
            [hb.memory],
            lambda _: "memory",
            lambda _: "memory",
            frozenset(),
        ),
        _section(
            "hardware.cpus",
            ha.cpus,
            hb.cpus,
            lambda c: str(c.index),
            lambda c: f"cpu{c.index}",
            frozenset({"index"}),
        ),
        _section(
            "hardware.pci", ha.pci, hb.pci, lambda d: d.bdf, lambda d: d.bdf, frozenset({"bdf"})
        ),
        _section(
            "hardware.disks", ha.disks, hb.disks, lambda d: d.path, _name, frozenset({"path"})
        ),
        _section(
            "hardware.usb",
            ha.usb,
            hb.usb,
            lambda u: f"{u.bus}-{u.dev}",
            lambda u: u.name or f"{u.bus}-{u.dev}",
            frozenset({"bus", "dev"}),
        ),
        _section(
            "hardware.input", ha.input, hb.input, lambda i: i.path, _name, frozenset({"path"})
        ),
    ]
    return PolicyDiff(attributes, tuple(s for s in sections if s))
