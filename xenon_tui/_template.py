"""The template import workflow: read the file, bind hardware, stage the result."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from xenon_tui._errors import ConfigError, ConsoleError
from xenon_tui._policy_data import policy_of
from xenon_tui.dialogs import InputDialog

if TYPE_CHECKING:
    from xenon_tui.app import XenonConsole

_MAX_TEMPLATE = 16 * 1024 * 1024


def _read(path: str) -> bytes:
    file = Path(path).expanduser()
    if file.stat().st_size > _MAX_TEMPLATE:
        raise ConfigError(f"{path} is larger than 16 MiB")
    return file.read_bytes()


async def import_template_flow(app: XenonConsole, address: str) -> bool:
    """Runs the whole §3.2.3 import against ``address``; True when a policy was staged."""
    from xenon_tui.dialogs._import import ImportScreen
    from xps.policy import PolicyError, parse_template

    path = await app.push_screen_wait(
        InputDialog("Import policy and host configuration from XML", "Template file:")
    )
    if not path:
        return False
    try:
        template = parse_template(await asyncio.to_thread(_read, path))
    except OSError as exc:
        app.show_error(ConfigError(f"cannot read {path}: {exc.strerror}"))
        return False
    except PolicyError as exc:
        app.show_error(ConsoleError(str(exc), code="template_invalid"))
        return False
    state = app.servers[address]
    try:
        active = policy_of(state.policy)
    except ConsoleError as exc:
        app.show_error(exc)
        return False
    if active is None:
        app.show_error(ConsoleError("the server has sent no policy (hardware) yet"))
        return False
    policy = await app.push_screen_wait(ImportScreen(template, active.hardware, path))
    if policy is None:
        app.notify("Import abandoned; nothing was staged.", title="Import")
        return False
    return bool(await app.stage(address, policy))
