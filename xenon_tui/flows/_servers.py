"""Servers-panel flows across servers: compare active policies, clone one onto another."""

from __future__ import annotations

from typing import Any

from xenon_tui._connection import LinkState
from xenon_tui._errors import ConsoleError, ReadOnlyError
from xenon_tui._policy_data import policy_of
from xenon_tui._state import find_server
from xenon_tui.dialogs import ConfirmDialog, InputDialog, TextDialog
from xenon_tui.flows._console import Console
from xenon_tui.flows._policy import policy_diff_text, restage
from xenon_tui.messages import Failed, RefreshWanted


async def _staged_or_none(console: Console, address: str) -> dict[str, Any] | None:
    """The host's staged policy (a GetPolicy result), or None when nothing is staged."""
    try:
        return await console.call(address, "GetPolicy", which="staged")
    except ConsoleError as exc:
        if exc.code == "not_found":
            return None
        raise


def _connected(console: Console) -> list[str]:
    return [a for a, s in console.servers.items() if s.link is LinkState.CONNECTED]


async def compare_servers(console: Console, address: str) -> None:
    """Compares the active policy of every connected server with ``address``'s: marks each
    line ``=`` or ``≠`` and shows the field diffs."""
    connected = _connected(console)
    if address not in connected:
        console.notify("Connect the server first.", title="Compare", severity="warning")
        return
    results: dict[str, dict[str, Any]] = {}
    for other in connected:
        try:
            results[other] = await console.call(other, "GetPolicy", which="active")
        except ConsoleError as exc:  # the others are still compared
            console.post_message(Failed(exc))
    base = results.get(address)
    if base is None:
        return
    lines = []
    for other, result in results.items():
        same = result.get("sha256") == base.get("sha256")
        console.mark_server(other, None if other == address else ("=" if same else "≠"))
        if other == address:
            continue
        lines.append(f"== {other}: {'identical' if same else 'differs'}")
        if not same:
            try:
                lines.append(policy_diff_text(policy_of(base), policy_of(result)))
            except Exception as exc:  # a diff failure must not hide the verdict
                lines.append(f"  (no field diff: {exc})")
    await console.ask(
        TextDialog(f"Compare with {address}", "\n".join(lines) or "No other connected server.")
    )


async def clone_server(console: Console, address: str) -> None:
    """Copies ``address``'s active configuration to another server after a diff preview."""
    if console.read_only:
        raise ReadOnlyError("Cloning changes the destination server.")
    others = [a for a in _connected(console) if a != address]
    if not others:
        console.notify("Connect a destination server first.", title="Clone", severity="warning")
        return

    def _named(text: str) -> str | None:
        found = find_server(console.servers, text)
        return found if found in others else None

    typed = await console.ask(
        InputDialog(
            f"Clone configuration of {address}",
            "Destination server (address or host name):",
            value=others[0],
            validate=lambda v: None if _named(v) else f"choose one of {', '.join(others)}",
        )
    )
    dest = _named(typed) if typed else None
    if not dest:
        return
    src = await console.call(address, "GetPolicy", which="active")
    dst = await console.call(dest, "GetPolicy", which="active")
    preview = policy_diff_text(policy_of(dst), policy_of(src))
    if not await console.ask(
        ConfirmDialog(f"Clone {address} → {dest} and make it active?", preview, confirm="Clone")
    ):
        return
    previous = await _staged_or_none(console, dest)
    await console.call(dest, "StagePolicy", xml=src["xml"])
    try:
        result = await console.call(dest, "ActivatePolicy")
    except ConsoleError:
        # Refused: what was staged on the destination before the clone is staged back (or,
        # if nothing was, the active policy: XPS cannot clear a staged policy).
        try:
            await restage(console, dest, previous)
        except ConsoleError as exc:
            console.post_message(Failed(exc))
        raise
    console.notify(f"{dest} now at generation {result.get('generation')}", title="Cloned")
    console.post_message(RefreshWanted(dest, "policy"))
