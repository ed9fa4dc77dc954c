"""Policy Editor flows on the current server: staged diff, activate, roll back, stage, export."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xenon_tui._errors import ConfigError, ConsoleError
from xenon_tui._policy_data import policy_of, policy_xml
from xenon_tui.dialogs import ConfirmDialog, InputDialog, TextDialog
from xenon_tui.dialogs._whatif import WhatIfConfirmDialog, whatif_lines
from xenon_tui.flows._console import Console, connected_address
from xenon_tui.messages import RefreshWanted
from xenon_tui.widgets._diffview import DiffView
from xenon_tui.widgets._policy_view import staged_changes, staged_label
from xps.files import write_atomic

if TYPE_CHECKING:
    from collections.abc import Iterable

    from xenon_tui._state import ServerState
    from xps.policy import Policy


def format_tree(value: Any, indent: int = 0) -> str:
    """A compact indented text form of a JSON-like diff (never empty)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return f"{pad}(none)"
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines.append(format_tree(item, indent + 1))
            else:
                lines.append(
                    f"{pad}{key}: {json.dumps(item) if not isinstance(item, str) else item}"
                )
        return "\n".join(lines)
    if isinstance(value, list):
        if not value:
            return f"{pad}(none)"
        return "\n".join(
            format_tree(item, indent) if isinstance(item, dict | list) else f"{pad}- {item}"
            for item in value
        )
    return f"{pad}{value}"


def policy_diff_text(old: Any, new: Any) -> str:
    """Field-by-field diff of two Policy objects (xps.policy.diff)."""
    from xps.policy import diff

    data = diff(old, new).to_dict()
    return format_tree(data) if data else "(identical)"


async def staged_diff_view(
    console: Console, address: str, result: dict[str, Any]
) -> str | DiffView:
    """The staged-vs-active diff in human terms (names, colours, running-domain warnings).

    Reads both policies from the daemon and compares them here; if either cannot be read,
    the daemon's own diff (``GetStagedDiff``'s ``result``) is shown as a tree instead.
    """
    try:
        active = policy_of(await console.call(address, "GetPolicy", which="active"))
        staged = policy_of(await console.call(address, "GetPolicy", which="staged"))
    except ConsoleError:
        active = staged = None
    if active is None or staged is None:
        return format_tree(result.get("diff"))
    state = console.servers.get(address)
    return DiffView(active, staged, state.domains if state is not None else ())


async def show_staged_diff(console: Console) -> None:
    """Shows what the staged policy changes against the active one."""
    address = connected_address(console)
    if address is None:
        return
    result = await console.call(address, "GetStagedDiff")
    body: str | DiffView = (
        await staged_diff_view(console, address, result)
        if result.get("staged")
        else "Nothing is staged: no changes against the active policy."
    )
    await console.ask(TextDialog(f"Staged vs active — {address}", body))


WHATIF_MINUTES = 10
"""The window of recorded behaviour the what-if before Make active looks at."""
WHATIF_TIMEOUT_S = 20.0
"""How long Make active waits for the host's what-if before saying it has none."""


async def staged_what_if(
    console: Console, address: str, *, timeout_s: float = WHATIF_TIMEOUT_S
) -> tuple[dict[str, Any] | None, str | None]:
    """The host's ``WhatIf`` on its staged policy: ``(result, None)`` or ``(None, why)``.

    Read-only on the host; a what-if that fails or times out is reported, not raised
    (the operator still decides whether to make the policy active).
    """
    try:
        async with asyncio.timeout(timeout_s):
            staged = await console.call(address, "GetPolicy", which="staged")
            xml = staged.get("xml")
            if isinstance(xml, str) and xml:
                result = await console.call(address, "WhatIf", xml=xml, minutes=WHATIF_MINUTES)
            elif isinstance(staged.get("policy"), dict):
                result = await console.call(
                    address, "WhatIf", policy=staged["policy"], minutes=WHATIF_MINUTES
                )
            else:
                return None, "the host did not return its staged policy"
    except TimeoutError:
        return None, f"no answer from the host in {timeout_s:g} s"
    except ConsoleError as exc:
        return None, str(exc)
    return result, None


async def activate_policy(console: Console) -> None:
    """Makes the staged policy active after the user confirmed its what-if and diff.

    The host's what-if comes first; when the staged policy would deny behaviour allowed
    now, the host's name must be typed to confirm.
    """
    address = connected_address(console)
    if address is None:
        return
    diff = await console.call(address, "GetStagedDiff")
    if not diff.get("staged"):
        console.notify("Nothing staged to activate.", title="Policy")
        return
    body, (whatif, error) = await asyncio.gather(
        staged_diff_view(console, address, diff), staged_what_if(console, address)
    )
    state = console.servers.get(address)
    name = host_name(state) if state is not None else address
    denies = whatif is not None and bool(whatif.get("denies_allowed"))
    ok = await console.ask(
        WhatIfConfirmDialog(
            f"Make this policy & host configuration active on {address}?",
            whatif_lines(whatif, error),
            body,
            expected=name if denies else None,
            confirm="Make active",
        )
    )
    if not ok:
        return
    result = await console.call(address, "ActivatePolicy")
    console.notify(f"generation {result.get('generation')}", title=f"{address}: policy active")
    console.post_message(RefreshWanted(address, "policy"))


async def discard_staged(console: Console) -> None:
    """Drops the current host's staged changes, after a confirmation.

    XPS has no method that clears the staged policy: the active policy is staged back, so
    the staged policy equals the active one (no changes left to activate).
    """
    address = connected_address(console)
    if address is None:
        return
    state = console.servers.get(address)
    count = staged_changes(state) if state is not None else 0
    if not count:
        console.notify("Nothing staged to discard.", title="Policy")
        return
    name = host_name(state) if state is not None else address
    if not await console.ask(
        ConfirmDialog(
            f"Discard {staged_label(count).removeprefix('staged: ')} staged on {name}?",
            "The staged policy is replaced by the active one; the edits are lost.",
            confirm="Discard",
        )
    ):
        return
    await restage(console, address, None)
    console.notify(f"{name}: staged changes discarded", title="Policy")


async def restage(console: Console, address: str, staged: dict[str, Any] | None) -> None:
    """Stages ``staged`` (a GetPolicy result) back on ``address``, or the active policy when
    ``staged`` is None (XPS cannot clear a staged policy; an active one staged is none)."""
    source = staged or await console.call(address, "GetPolicy", which="active")
    xml = source.get("xml")
    if not isinstance(xml, str) or not xml:
        policy = policy_of(source)
        if policy is None:
            raise ConsoleError(f"{address}: no policy to stage back")
        xml = policy_xml(policy)
    await console.call(address, "StagePolicy", xml=xml)
    console.post_message(RefreshWanted(address, "policy"))


def staged_summary(states: Iterable[ServerState]) -> str | None:
    """``xenon-2 has 3 staged changes`` for each host with staged changes (None: none)."""
    parts = []
    for state in states:
        count = staged_changes(state)
        if count:
            noun = "change" if count == 1 else "changes"
            parts.append(f"{host_name(state)} has {count} staged {noun}")
    return "; ".join(parts) or None


STAGED_HINT = "Staged changes are not active: make them active (Ctrl+A) or drop them (:discard)."


def host_name(state: Any) -> str:
    """The host's reported name, else its address (as in the confirmations)."""
    name = state.info.get("hostname")
    return name if isinstance(name, str) and name else str(state.address)


async def rollback_policy(console: Console) -> None:
    """Replaces the active policy with the previous one, after a confirmation."""
    address = connected_address(console)
    if address is None:
        return
    if not await console.ask(
        ConfirmDialog(
            f"Roll back {address} to its previous policy?",
            "The current active policy is replaced by the previous one.",
            confirm="Roll back",
        )
    ):
        return
    result = await console.call(address, "RollbackPolicy")
    console.notify(f"generation {result.get('generation')}", title=f"{address}: rolled back")
    console.post_message(RefreshWanted(address, "policy"))


async def export_policy(console: Console, template: bool) -> None:
    """Writes the server's signed policy (or template) XML to a file the user names."""
    address = connected_address(console)
    if address is None:
        return
    kind = "template" if template else "policy"
    default = str(Path.cwd() / f"xenon-{kind}-{address.replace(':', '_')}.xml")
    path = await console.ask(InputDialog(f"Export signed {kind}", "File to write:", value=default))
    if not path:
        return
    result = await console.call(address, "ExportPolicy", signed=True, template=template)
    try:
        await asyncio.to_thread(_write_file, path, str(result["xml"]).encode())
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    signed = "signed " if result.get("signed") else "UNSIGNED "
    console.notify(f"{signed}{kind} written to {path}", title="Export")


async def stage(console: Console, address: str, policy: Policy) -> None:
    """Stages an edited Policy on ``address``; shows the daemon's warnings.

    Raises:
        ConsoleError: The daemon refused it (its findings are in the message).
    """
    result = await console.call(address, "StagePolicy", xml=policy_xml(policy))
    findings = result.get("findings") or []
    if findings:
        console.notify(
            "\n".join(str(f.get("message", f)) for f in findings[:5]),
            title="Staged with warnings",
            severity="warning",
        )
    console.post_message(RefreshWanted(address, "policy"))


def _write_file(path: str, data: bytes) -> None:
    write_atomic(Path(path).expanduser(), data, mode=0o600, dir_mode=0o700)
