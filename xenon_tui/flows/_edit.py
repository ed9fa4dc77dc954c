"""Advanced-tab edits: a form (or a removal) on the editable policy, staged on the daemon."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xenon_tui._actions import Mode
from xenon_tui._policy_data import policy_of
from xenon_tui.dialogs import ConfirmDialog
from xenon_tui.dialogs._form import FormDialog
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


async def run_edit(
    console: Console, tab: str, op: str, key: str | None, extra_call: int | None = None
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
    values = await console.ask(FormDialog(title, fields, validator(policy, build)))
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
    call = violation.get("hypercall")
    extra = int(call) if isinstance(call, int) else None
    advanced = await console.show_advanced("profiles")
    advanced.select("profiles", str(profile.id))
    if not console.read_only:
        await run_edit(console, "profiles", "edit", str(profile.id), extra)
