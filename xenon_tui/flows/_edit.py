"""Advanced-tab edits: a form (or a removal) on the editable policy, staged on the daemon."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from xenon_tui._actions import Mode
from xenon_tui._policy_data import policy_of
from xenon_tui.dialogs import ConfirmDialog
from xenon_tui.dialogs._form import Field, FormDialog, Values
from xenon_tui.flows._console import Console
from xenon_tui.flows._forms import edit_form, find_object, validator
from xenon_tui.flows._policy import stage

if TYPE_CHECKING:
    from xps.policy import Policy


def editable_policy(console: Console) -> Policy | None:
    """The policy edits start from: the staged one, else the active one.

    Raises:
        ConsoleError: The daemon sent a policy the console cannot read.
    """
    state = console.current_state
    if state is None:
        return None
    return policy_of(state.staged) or policy_of(state.policy)


def _subop_choices(nr: int) -> str:
    from xps.policy import SUBOP_NAMES, hypercall_name

    names = SUBOP_NAMES.get(nr, {})
    listed = ", ".join(f"{name} ({op})" for op, name in sorted(names.items()))
    return f"{hypercall_name(nr)} ({nr}) sub-commands: {listed or 'by number, 0..255'}"


def offer_subops(fields: list[Field], call: int | None, subop: int | None) -> list[Field]:
    """The profile form with the sub-commands of ``call`` offered in the same edit.

    When the added call takes sub-commands, the Sub-commands field already holds the one
    the violation used (if any) and its hint lists the others by name and number.
    """
    from xps.policy import SUBOP_HYPERCALLS, hypercall_name, subop_name

    if call is None or call not in SUBOP_HYPERCALLS:
        return fields
    out = []
    for f in fields:
        if f.name == "subops":
            value = f.value
            listed = {part.split("=", 1)[0].strip() for part in value.split(";")}
            if subop is not None and 0 <= subop <= 255 and hypercall_name(call) not in listed:
                entry = f"{hypercall_name(call)}={subop_name(call, subop)}"
                value = f"{value}; {entry}" if value.strip() else entry
            f = dataclasses.replace(f, value=value, hint=f"{f.hint}\n{_subop_choices(call)}")
        out.append(f)
    return out


def needs_subops(policy: Policy, build: Any, check: Callable[[Values], dict[str, str]]) -> Any:
    """Wraps a profile form's validator: a call that takes sub-commands but has none is
    refused in the form, its sub-commands listed next to the field (instead of a warning
    after staging and a second edit)."""
    from xps.policy import SUBOP_HYPERCALLS, hypercall_name

    def wrapped(values: Values) -> dict[str, str]:
        errors = check(values)
        if errors:
            return errors
        candidate, obj_id = build(policy, values)
        profile = candidate.profile(obj_id)
        given = {nr for nr, ops in profile.subops if ops}
        missing = sorted((profile.hypercalls & SUBOP_HYPERCALLS) - given)
        if missing:
            first = hypercall_name(missing[0])
            lines = [_subop_choices(nr) for nr in missing]
            errors["subops"] = (
                "choose the sub-commands these calls may use (e.g. "
                f"{first}=name,name):\n" + "\n".join(lines)
            )
        return errors

    return wrapped


async def run_edit(
    console: Console,
    tab: str,
    op: str,
    key: str | None,
    extra_call: int | None = None,
    extra_subop: int | None = None,
) -> bool:
    """Opens the form (or delete confirmation) and stages the result; True when staged."""
    state = console.current_state
    if state is None or console.read_only or state.mode is not Mode.EDITOR:
        console.notify(
            "Edits need Policy Editor mode (press m).", title="Read-only", severity="warning"
        )
        return False
    policy = editable_policy(console)
    if policy is None:
        return False
    if op == "delete":
        obj = find_object(policy, tab, key)
        if obj is None:
            return False
        if not await console.ask(
            ConfirmDialog(
                f"Remove {obj.name}?", "The removal is staged; activate to apply.", confirm="Remove"
            )
        ):
            return False
        await stage(console, state.address, policy.without(obj.id))
        return True
    form = edit_form(policy, tab, "edit" if op == "edit" else "new", key, extra_call)
    if form is None:
        console.notify(
            f"{tab} entries are edited through the hardware assignment.", title="Not editable here"
        )
        return False
    title, fields, build = form
    check = validator(policy, build)
    if tab == "profiles":
        fields = offer_subops(fields, extra_call, extra_subop)
        check = needs_subops(policy, build, check)
    values = await console.ask(FormDialog(title, fields, check))
    if values is None:
        return False
    candidate, _ = build(policy, values)
    await stage(console, state.address, candidate)
    return True


async def open_profile_for_violation(console: Console, violation: Mapping[str, Any]) -> None:
    """Opens the violating SecLabel's profile in the editor with the missing call added."""
    state = console.current_state
    if state is None:
        return
    policy = editable_policy(console)
    if policy is None:
        return
    profile = None
    try:
        label = policy.seclabel_named(str(violation.get("seclabel_name")))
        profile = policy.profile(label.profile)
    except Exception:
        try:
            profile = policy.profile_named(str(violation.get("profile")))
        except Exception:
            profile = None
    if profile is None:
        console.notify("The violation names no known profile.", title="Profile", severity="warning")
        return
    if not console.read_only and state.mode is not Mode.EDITOR:
        console.set_mode(Mode.EDITOR)
    call, subop = violation.get("hypercall"), violation.get("subop")
    extra = int(call) if isinstance(call, int) else None
    extra_subop = subop if isinstance(subop, int) and subop >= 0 else None
    advanced = await console.show_advanced("profiles")
    advanced.select("profiles", str(profile.id))
    if not console.read_only:
        await run_edit(console, "profiles", "edit", str(profile.id), extra, extra_subop)
