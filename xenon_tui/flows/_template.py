"""The template import flow (§3.2.3): read the file, bind hardware, stage the result."""

from __future__ import annotations

import asyncio
from pathlib import Path

from xenon_tui._errors import ConfigError, ConsoleError
from xenon_tui._policy_data import policy_of
from xenon_tui.dialogs import InputDialog
from xenon_tui.flows._console import Console, connected_address
from xenon_tui.flows._policy import stage

_MAX_TEMPLATE = 16 * 1024 * 1024


def _read(path: str) -> bytes:
    file = Path(path).expanduser()
    if file.stat().st_size > _MAX_TEMPLATE:
        raise ConfigError(f"{path} is larger than 16 MiB")
    return file.read_bytes()


async def import_template(console: Console) -> bool:
    """Runs the whole §3.2.3 import against the current server; True when a policy was staged.

    Raises:
        ConfigError: The file cannot be read.
        ConsoleError: The template is invalid, or the server sent no policy yet.
    """
    from xenon_tui.dialogs._import import ImportScreen
    from xps.policy import PolicyError, parse_template

    address = connected_address(console)
    if address is None:
        return False
    path = await console.ask(
        InputDialog("Import policy and host configuration from XML", "Template file:")
    )
    if not path:
        return False
    try:
        template = parse_template(await asyncio.to_thread(_read, path))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except PolicyError as exc:
        raise ConsoleError(str(exc), code="template_invalid") from exc
    active = policy_of(console.servers[address].policy)
    if active is None:
        raise ConsoleError("the server has sent no policy (hardware) yet")
    policy = await console.ask(ImportScreen(template, active.hardware, path))
    if policy is None:
        console.notify("Import abandoned; nothing was staged.", title="Import")
        return False
    await stage(console, address, policy)
    return True
