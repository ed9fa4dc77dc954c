"""A policy diff in an operator's terms (issue #12 §5).

Built from ``xps.policy.diff``'s data and the two policies it compared: hypercalls as
"sysctl (35)", sub-commands as "+ sysctl (35) sub-op 1", tags and SecLabels by *name*
(tags in their colour), never a UUID when a name exists. What touches running domains
comes first, as a warning. An empty diff says "no changes".
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from xps.policy import ObjectChange, Policy, PolicyDiff

__all__ = ["NO_CHANGES", "DiffView", "binding_warnings", "diff_text"]

NO_CHANGES = "no changes"

Styles = dict[str, Style | str]
"""Line styles by role: add, remove, change, warning, section (theme colours in DiffView)."""

_PLAIN: Styles = {
    "add": "",
    "remove": "",
    "change": "",
    "warning": "bold",
    "section": "bold underline",
}

_SECTION_TITLES = {
    "profiles": ("Hypercall profiles", "profile"),
    "tags": ("Tags (enclaves)", "tag"),
    "conflicts": ("Conflict sets", "conflict set"),
    "seclabels": ("SecLabels", "SecLabel"),
    "domains": ("Domains", "domain"),
    "switches": ("Network switches", "switch"),
    "storage": ("Storage locations", "storage location"),
    "vifs": ("VIFs", "VIF"),
}


class _Names:
    """UUID -> display name (and tag colour) over both policies, the new one winning."""

    def __init__(self, old: Policy, new: Policy) -> None:
        self.names: dict[uuid.UUID, str] = {}
        self.colours: dict[uuid.UUID, str] = {}
        for policy in (old, new):
            for group in (
                policy.profiles,
                policy.tags,
                policy.conflicts,
                policy.seclabels,
                policy.domains,
                policy.switches,
                policy.storage,
            ):
                for obj in group:
                    self.names[obj.id] = obj.name
            for tag in policy.tags:
                self.colours[tag.id] = "#{:02x}{:02x}{:02x}".format(*tag.color)

    def value(self, field: str, value: Any) -> Text:
        """One field value as the operator knows it."""
        if value is None:
            return Text("(none)", style="dim")
        if isinstance(value, uuid.UUID):
            name = self.names.get(value)
            if name is None:
                return Text(f"(unknown {str(value)[:8]})", style="dim")
            colour = self.colours.get(value)
            return Text(name, style=f"bold {colour}" if colour else "bold")
        if isinstance(value, enum.Enum):
            return Text(str(value.value))
        if field == "color" and isinstance(value, tuple) and len(value) == 3:
            hexa = "#{:02x}{:02x}{:02x}".format(*value)
            return Text.assemble(("■ ", hexa), hexa)
        if isinstance(value, tuple | frozenset | set | list):
            items = sorted(value, key=str) if isinstance(value, frozenset | set) else value
            parts = [self.value(field, v) for v in items]
            return Text(", ").join(parts) if parts else Text("(none)", style="dim")
        if isinstance(value, str):
            return Text(repr(value) if value == "" or value != value.strip() else value)
        return Text(str(value))


def _call(nr: int) -> str:
    from xps.policy import hypercall_name

    return f"{hypercall_name(nr)} ({nr})"


def _subop(nr: int, op: int) -> str:
    from xps.policy import subop_name

    name = subop_name(nr, op)
    return f"{_call(nr)} sub-op {op}" + (f" {name}" if name != str(op) else "")


def _profile_lines(change: ObjectChange, names: _Names, styles: Styles) -> list[Text]:
    lines: list[Text] = []
    for fc in change.changes:
        if fc.field == "hypercalls":
            old, new = set(fc.old), set(fc.new)
            lines += [Text(f"+ {_call(nr)}", style=styles["add"]) for nr in sorted(new - old)]
            lines += [Text(f"- {_call(nr)}", style=styles["remove"]) for nr in sorted(old - new)]
        elif fc.field == "subops":
            before = {(nr, op) for nr, ops in fc.old for op in ops}
            after = {(nr, op) for nr, ops in fc.new for op in ops}
            add, remove = styles["add"], styles["remove"]
            lines += [Text(f"+ {_subop(*p)}", style=add) for p in sorted(after - before)]
            lines += [Text(f"- {_subop(*p)}", style=remove) for p in sorted(before - after)]
        else:
            lines.append(_field_line(fc.field, fc.old, fc.new, names))
    return lines


def _field_line(field: str, old: Any, new: Any, names: _Names) -> Text:
    return Text.assemble(
        (f"{field.replace('_', ' ')}: ", "bold"),
        names.value(field, old),
        " → ",
        names.value(field, new),
    )


def _running_names(domains: Iterable[dict[str, Any]]) -> set[str]:
    stopped = {"", "shutdown", "crashed", "dying", "destroyed"}
    return {
        str(d.get("name"))
        for d in domains
        if isinstance(d, dict) and str(d.get("run_state") or "") not in stopped
    }


def binding_warnings(old: Policy, new: Policy, domains: Iterable[dict[str, Any]] = ()) -> list[str]:
    """Warnings about running domains whose binding (SecLabel) the new policy removes or
    changes (their domain entry, their SecLabel, or the SecLabel's tag or profile)."""
    running = _running_names(domains)
    if not running:
        return []
    new_domains = {d.name: d for d in new.domains}
    new_labels = {s.id: s for s in new.seclabels}
    old_labels = {s.id: s for s in old.seclabels}
    removed, rebound = [], []
    for dom in old.domains:
        if dom.name not in running:
            continue
        after = new_domains.get(dom.name)
        if after is None or after.seclabel is None or after.seclabel not in new_labels:
            removed.append(dom.name)
        elif after.seclabel != dom.seclabel:
            rebound.append(dom.name)
        elif dom.seclabel is not None:
            before_label, after_label = old_labels.get(dom.seclabel), new_labels[after.seclabel]
            if before_label is not None and (
                (before_label.tag, before_label.profile) != (after_label.tag, after_label.profile)
            ):
                rebound.append(dom.name)
    out = []
    if removed:
        out.append("removes bindings of running domains: " + ", ".join(sorted(removed)))
    if rebound:
        out.append("changes bindings of running domains: " + ", ".join(sorted(rebound)))
    return out


def diff_text(
    old: Policy,
    new: Policy,
    domains: Iterable[dict[str, Any]] = (),
    styles: Styles | None = None,
) -> Text:
    """The diff from ``old`` (active) to ``new`` (staged) as readable lines.

    ``domains`` are the host's domain rows (``DomainRunStates``) for the warnings;
    ``styles`` colour the lines by role (:class:`DiffView` passes the theme's).
    """
    styles = {**_PLAIN, **(styles or {})}
    from xps.policy import diff

    result: PolicyDiff = diff(old, new)
    names = _Names(old, new)
    out = Text()
    for warning in binding_warnings(old, new, domains):
        out.append(f"⚠ {warning}\n", style=styles["warning"])
    if not result:
        out.append(NO_CHANGES)
        return out
    for fc in result.attributes:
        out.append_text(_field_line(f"policy {fc.field}", fc.old, fc.new, names))
        out.append("\n")
    for section in result.sections:
        title, kind = _SECTION_TITLES.get(section.section, (section.section, "item"))
        if section.section.startswith("hardware."):
            title, kind = f"Hardware: {section.section.split('.', 1)[1]}", "device"
        out.append(f"{title}\n", style=styles["section"])
        new_objs = {_key(section.section, o): o for o in _objects(new, section.section)}
        for ref in section.added:
            out.append(f"  + {kind} ", style=styles["add"])
            out.append_text(_named(names, ref.key, ref.name))
            out.append_text(_summary(section.section, new_objs.get(ref.key)))
            out.append("\n")
        for ref in section.removed:
            out.append(f"  - {kind} ", style=styles["remove"])
            out.append_text(_named(names, ref.key, ref.name))
            out.append("\n")
        for change in section.changed:
            out.append("  ~ ", style=styles["change"])
            out.append_text(_named(names, change.key, change.name))
            out.append("\n")
            lines = (
                _profile_lines(change, names, styles)
                if section.section == "profiles"
                else [_field_line(fc.field, fc.old, fc.new, names) for fc in change.changes]
            )
            for line in lines:
                out.append("      ")
                out.append_text(line)
                out.append("\n")
    out.rstrip()
    return out


def _named(names: _Names, key: str, fallback: str) -> Text:
    try:
        return names.value("", uuid.UUID(key))
    except ValueError:
        return Text(fallback, style="bold")


def _objects(policy: Policy, section: str) -> Iterable[Any]:
    return getattr(policy, section, ()) if section in _SECTION_TITLES else ()


def _key(section: str, obj: Any) -> str:
    return str(obj.mac) if section == "vifs" else str(obj.id)


def _summary(section: str, obj: Any) -> Text:
    """A line's tail for an added object: what it holds that matters at a glance."""
    if obj is None:
        return Text()
    if section == "profiles":
        calls = ", ".join(_call(nr) for nr in sorted(obj.hypercalls))
        subs = [_subop(nr, op) for nr, ops in obj.subops for op in sorted(ops)]
        return Text(f": {calls or '(no hypercalls)'}" + (f"; {', '.join(subs)}" if subs else ""))
    if section == "tags":
        hexa = "#{:02x}{:02x}{:02x}".format(*obj.color)
        return Text.assemble(" ", ("■ ", hexa), hexa)
    return Text()


class DiffView(Static):
    """A policy diff (:func:`diff_text`) coloured by the theme: additions in $success,
    removals in $error, changes and warnings in $warning."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff-view--add",
        "diff-view--remove",
        "diff-view--change",
        "diff-view--warning",
        "diff-view--section",
    }
    DEFAULT_CSS = """
    DiffView { height: auto; }
    DiffView > .diff-view--add { color: $success; }
    DiffView > .diff-view--remove { color: $error; }
    DiffView > .diff-view--change { color: $warning; }
    DiffView > .diff-view--warning { color: $warning; text-style: bold; }
    DiffView > .diff-view--section { text-style: bold underline; }
    """

    def __init__(
        self,
        old: Policy,
        new: Policy,
        domains: Iterable[dict[str, Any]] = (),
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._old, self._new, self._domains = old, new, list(domains)

    def render(self) -> Text:
        styles: Styles = {
            role: self.get_component_rich_style(f"diff-view--{role}", partial=True)
            for role in _PLAIN
        }
        return diff_text(self._old, self._new, self._domains, styles)
