"""Import hypercall profiles from a file into the staged policy; export one as JSON."""

from __future__ import annotations

import asyncio
from pathlib import Path

from xenon_tui._actions import Mode
from xenon_tui._errors import ConsoleError
from xenon_tui._profile_io import profile_json, read_file, read_profiles
from xenon_tui.dialogs import InputDialog
from xenon_tui.flows._console import Console
from xenon_tui.flows._edit import editable_policy
from xenon_tui.flows._policy import stage
from xps.files import write_atomic


def _write(path: str, data: bytes) -> None:
    write_atomic(Path(path).expanduser(), data, mode=0o600, dir_mode=0o700)


async def import_profiles(console: Console) -> bool:
    """Asks for a file, lets the user pick its profiles and stages them; True when staged."""
    from xenon_tui.dialogs._profile_import import ProfileImportScreen

    state = console.current_state
    if state is None or console.read_only or state.mode is not Mode.EDITOR:
        console.notify(
            "Importing needs Policy Editor mode (press m).", title="Read-only", severity="warning"
        )
        return False
    await console.show_advanced("profiles")
    policy = editable_policy(console)
    if policy is None:
        return False
    path = await console.ask(
        InputDialog(
            "Import hypercall profiles",
            "Policy or template XML, or one profile as JSON:",
        )
    )
    if not path:
        return False
    data = await asyncio.to_thread(read_file, path)
    profiles = read_profiles(data, policy)
    if not profiles:
        console.notify(f"{path} holds no hypercall profile.", title="Import", severity="warning")
        return False
    candidate = await console.ask(ProfileImportScreen(policy, profiles, path))
    if candidate is None:
        console.notify("Nothing was staged.", title="Import")
        return False
    await stage(console, state.address, candidate)
    return True


async def export_profile(console: Console) -> bool:
    """Writes the highlighted profile as JSON (atomically, mode 0600); True when written."""
    advanced = await console.show_advanced("profiles")
    policy = editable_policy(console)
    key = advanced.table("profiles").selected_key()
    if policy is None or key is None:
        console.notify("No profile is highlighted.", title="Export profile", severity="warning")
        return False
    name = next(p.name for p in policy.profiles if str(p.id) == key)
    default = f"profile-{name}.json"
    path = await console.ask(
        InputDialog(f"Export profile {name}", "JSON file to write:", value=default)
    )
    if not path:
        return False
    try:
        data = profile_json(policy, key)
        await asyncio.to_thread(_write, path, data)
    except OSError as exc:
        raise ConsoleError(f"cannot write {path}: {exc.strerror or exc}") from exc
    console.notify(f"{name} written to {path}", title="Export profile")
    return True
