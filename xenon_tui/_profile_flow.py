"""Import hypercall profiles from a file into the staged policy; export one as JSON."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from xenon_tui._actions import Mode
from xenon_tui._config import atomic_write
from xenon_tui._errors import ConsoleError
from xenon_tui._policy_data import policy_of
from xenon_tui._profile_io import profile_json, read_file, read_profiles
from xenon_tui.dialogs import InputDialog
from xenon_tui.widgets._advanced import AdvancedView

if TYPE_CHECKING:
    from xenon_tui.app import XenonConsole
    from xps.policy import Policy


def _write(path: str, data: bytes) -> None:
    atomic_write(Path(path).expanduser(), data)


def _editable(app: XenonConsole) -> Policy | None:
    state = app.current_state
    if state is None:
        return None
    try:
        return policy_of(state.staged) or policy_of(state.policy)
    except ConsoleError as exc:
        app.show_error(exc)
        return None


async def import_profiles_flow(app: XenonConsole) -> bool:
    """Asks for a file, lets the user pick its profiles and stages them; True when staged."""
    from xenon_tui.dialogs._profile_import import ProfileImportScreen

    state = app.current_state
    if state is None or app.config.read_only or state.mode is not Mode.EDITOR:
        app.notify(
            "Importing needs Policy Editor mode (press m).", title="Read-only", severity="warning"
        )
        return False
    await app.action_show_advanced("profiles")
    policy = _editable(app)
    if policy is None:
        return False
    path = await app.push_screen_wait(
        InputDialog(
            "Import hypercall profiles",
            "Policy or template XML, or one profile as JSON:",
        )
    )
    if not path:
        return False
    try:
        data = await asyncio.to_thread(read_file, path)
        profiles = read_profiles(data, policy)
    except ConsoleError as exc:
        app.show_error(exc)
        return False
    if not profiles:
        app.notify(f"{path} holds no hypercall profile.", title="Import", severity="warning")
        return False
    candidate = await app.push_screen_wait(ProfileImportScreen(policy, profiles, path))
    if candidate is None:
        app.notify("Nothing was staged.", title="Import")
        return False
    return bool(await app.stage(state.address, candidate))


async def export_profile_flow(app: XenonConsole) -> bool:
    """Writes the highlighted profile as JSON (atomically, mode 0600); True when written."""
    await app.action_show_advanced("profiles")
    policy = _editable(app)
    key = app.query_one(AdvancedView).table("profiles").selected_key()
    if policy is None or key is None:
        app.notify("No profile is highlighted.", title="Export profile", severity="warning")
        return False
    name = next(p.name for p in policy.profiles if str(p.id) == key)
    default = f"profile-{name}.json"
    path = await app.push_screen_wait(
        InputDialog(f"Export profile {name}", "JSON file to write:", value=default)
    )
    if not path:
        return False
    try:
        data = profile_json(policy, key)
        await asyncio.to_thread(_write, path, data)
    except OSError as exc:
        app.show_error(ConsoleError(f"cannot write {path}: {exc.strerror or exc}"))
        return False
    app.notify(f"{name} written to {path}", title="Export profile")
    return True
