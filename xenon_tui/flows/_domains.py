"""Live-mode flows: domain lifecycle, the violation response, xl configs and VNC tunnels."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from typing import Any

from xenon_tui._errors import ConsoleError, ReadOnlyError
from xenon_tui._policy_data import policy_of
from xenon_tui.dialogs import InputDialog, TextDialog, TypedConfirmDialog
from xenon_tui.dialogs._resolve import NOTE_MAX, ResolveDialog, note_problem
from xenon_tui.flows._console import Console, connected_address
from xenon_tui.messages import RefreshWanted

_TYPED = {"DestroyDomain": "Destroy", "ShutdownDomain": "Shut down"}


def console_user(app: object) -> str:
    """Who uses the console: ``app.console_user`` (the SSH user, set by the SSH console)
    or the OS user; printable and at most 64 characters, as the hosts accept."""
    user = getattr(app, "console_user", None)
    if not (isinstance(user, str) and user.strip()):
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid
            user = f"uid {os.getuid()}"
    text = "".join(c if c.isprintable() else "?" for c in user.strip())
    return text[:64]


_VERBS = {
    "CreateDomain": "Start",
    "PauseDomain": "Pause",
    "UnpauseDomain": "Unpause",
    "RebootDomain": "Reboot",
    **_TYPED,
}


async def domain_action(console: Console, method: str, domain: Mapping[str, Any]) -> None:
    """Runs a lifecycle method (``PauseDomain``…) on a domain of the current server.

    Destroy and shut down need the domain's name typed as confirmation.
    """
    address = connected_address(console)
    if address is None:
        return
    if console.read_only:
        raise ReadOnlyError("Domain actions are disabled.")
    if method == "Resolve":
        await resolve_domain(console, domain, address)
        return
    name = str(domain.get("name"))
    verb = _VERBS.get(method, method)
    run = domain.get("run_state")
    if method == "UnpauseDomain" and domain.get("stopped_by_msm"):
        # The MSM refuses it until the violations are reset: point to what does both.
        console.notify(
            f"{name} was stopped by the MSM at its violation limit "
            f"({domain.get('violations', '?')} violations). Press r to resolve it: "
            "reset its violations and resume it, with a note.",
            title=f"{verb} {name}",
            severity="warning",
        )
        return
    if method == "CreateDomain" and run in ("running", "paused"):
        # Said plainly, before the daemon answers with the MSM's status code.
        console.notify(
            f"{name} is already {run} (domid {domain.get('domid')}).",
            title=f"{verb} {name}",
            severity="warning",
        )
        return
    if method in _TYPED:
        ok = await console.ask(
            TypedConfirmDialog(
                f"{verb} {name} on {address}?",
                f"{verb} domain {name} (domid {domain.get('domid')}).",
                name,
            )
        )
        if not ok:
            console.notify("Nothing was done.", title=f"{verb} cancelled")
            return
    params = {"name": name} if method == "CreateDomain" else {"domain": name}
    result = await console.call(address, method, user=console.user, **params)
    console.notify(f"{name}: {result.get('run_state', 'done')}", title=f"{verb} {name}")
    console.post_message(RefreshWanted(address, "domains"))


async def pause_violating_domain(
    console: Console, violation: Mapping[str, Any], address: str | None = None
) -> None:
    """The violation response: pauses the domain that caused ``violation`` (on
    ``address``, else on the current server)."""
    address = address or connected_address(console)
    if address is None:
        return
    name = violation.get("domain") or violation.get("domid")
    await console.call(address, "PauseDomain", domain=name, user=console.user)
    console.notify(f"{name} paused", title="Violation response")
    console.post_message(RefreshWanted(address, "domains"))


async def resolve_domain(
    console: Console, domain: Mapping[str, Any], address: str | None = None
) -> None:
    """Resolves a domain the MSM stopped (or one paused with violations): resets its
    violations and resumes it, after its name is typed and a note given; the host logs
    both with the console's user. ``domain`` is a Domains row or a violation record."""
    address = address or connected_address(console)
    if address is None:
        return
    if console.read_only:
        raise ReadOnlyError("Resolving a domain changes the server.")
    name = str(domain.get("name") or domain.get("domain") or "")
    if not name:
        return
    row = _domain_row(console, address, name) or domain
    run = row.get("run_state")
    if run not in ("paused", None) and not row.get("stopped_by_msm"):
        console.notify(
            f"{name} is {run}: only a domain the MSM stopped, or a paused one, is resolved.",
            title=f"Resolve {name}",
            severity="warning",
        )
        return
    why = "stopped by the MSM at its violation limit" if row.get("stopped_by_msm") else "paused"
    state = console.servers.get(address)
    host = state.info.get("hostname") if state is not None else None
    where = f"{host} ({address})" if isinstance(host, str) else address
    note = await console.ask(
        ResolveDialog(
            f"Resolve {name} on {where}?",
            f"{name} is {why} ({row.get('violations', '?')} violations).\n"
            "Resolve resets its violation count and resumes it.",
            name,
        )
    )
    if note is None:
        console.notify("Nothing was done.", title=f"Resolve {name} cancelled")
        return
    result = await console.call(
        address, "AddressViolations", domain=name, user=console.user, note=note, unpause=True
    )
    console.notify(
        f"{name}: violations reset, {result.get('run_state', 'resumed')}.",
        title=f"Resolved {name}",
    )
    console.post_message(RefreshWanted(address, "domains"))


def _domain_row(console: Console, address: str, name: str) -> Mapping[str, Any] | None:
    state = console.servers.get(address)
    if state is None:
        return None
    return next((d for d in state.domains if d.get("name") == name), None)


async def acknowledge_violations(
    console: Console,
    violation: Mapping[str, Any],
    domain_only: bool,
    address: str | None = None,
) -> None:
    """Acknowledges the violations up to ``violation`` (of its domain only with
    ``domain_only``) on the host, which keeps, logs and pushes it to every console."""
    address = address or connected_address(console)
    if address is None:
        return
    if console.read_only:
        raise ReadOnlyError("Acknowledging violations is recorded on the server.")
    seq = violation.get("seq")
    if not isinstance(seq, int) or seq < 1:
        return
    domain = str(violation.get("domain") or "") if domain_only else ""
    which = f"of {domain} " if domain else ""
    note = await console.ask(
        InputDialog(
            f"Acknowledge violations {which}up to #{seq}",
            "Note (optional; logged on the host with your name). Enter acknowledges:",
            validate=lambda text: note_problem(text) if text else None,
        )
    )
    if note is None:
        return
    params: dict[str, Any] = {"up_to_seq": seq, "user": console.user}
    if domain:
        params["domain"] = domain
    if note.strip():
        params["note"] = note.strip()[:NOTE_MAX]
    await console.call(address, "AcknowledgeViolations", **params)
    console.notify(f"Violations {which}up to #{seq} acknowledged.", title="Acknowledged")


async def show_domain(console: Console, what: str, domain: Mapping[str, Any]) -> None:
    """Shows the xl configuration (``what`` = ``xl_config``) or the VNC endpoint of a domain."""
    state = console.current_state
    if state is None:
        return
    name = str(domain.get("name"))
    policy = policy_of(state.policy)
    if policy is None:
        console.notify("No policy loaded yet.", title=name, severity="warning")
        return
    if what == "xl_config":
        from xps.policy.generators import xl_config

        try:
            # The daemon holds the real VNC password; the view shows a mask instead.
            text = xl_config(policy, name, vnc_password="********")  # noqa: S106
        except Exception as exc:  # generator errors carry a readable message
            raise ConsoleError(str(exc)) from exc
        console.show(TextDialog(f"xl configuration of {name}", text))
    else:
        console.show(TextDialog(f"VNC — {name}", vnc_text(policy, name, state.entry.host)))


async def show_guest_templates(console: Console) -> None:
    """Shows the recommended xl configuration of each guest type (secure defaults)."""
    state = console.current_state
    policy = policy_of(state.policy) if state else None
    if policy is None or not policy.seclabels:
        console.notify("Needs a connected server with a SecLabel.", title="Guest templates")
        return
    console.show(TextDialog("Guest-type templates (xl)", guest_templates(policy)))


def guest_templates(policy: Any) -> str:
    """xl configuration templates for PV, PVH, PVHVM and HVM guests under the first SecLabel."""
    import dataclasses
    import uuid

    from xps.policy import DomainConfig, GuestType
    from xps.policy.generators import xl_config

    label = policy.seclabels[0]
    parts = []
    for guest in GuestType:
        name = f"template-{guest.value}"
        kernel = "/boot/vmlinuz" if guest in (GuestType.PV, GuestType.PVH) else None
        dom = DomainConfig(
            uuid.uuid5(uuid.NAMESPACE_URL, name), name, label.id, guest, kernel=kernel
        )
        try:
            text = xl_config(dataclasses.replace(policy, domains=(*policy.domains, dom)), name)
        except Exception as exc:  # the generator explains what the type needs
            text = f"# not generated: {exc}\n"
        parts.append(f"# ---- {guest.value.upper()} (SecLabel {label.name}) ----\n{text}")
    return "\n".join(parts)


def vnc_text(policy: Any, name: str, server_host: str) -> str:
    """The VNC endpoint of a domain and the ``ssh -L`` command that reaches it."""
    try:
        dom = policy.domain_named(name)
    except Exception:
        return f"{name} is not in the active policy."
    if not dom.vnc:
        return f"{name} has no VNC display configured."
    display = dom.vnc_display if dom.vnc_display is not None else 0
    port = 5900 + display
    listen = dom.vnc_listen or "127.0.0.1"
    return (
        f"VNC endpoint: {listen}:{port} on {server_host} (display :{display})\n\n"
        f"Reach it from your workstation with:\n"
        f"  ssh -N -L {port}:{listen}:{port} <user>@{server_host}\n"
        f"then point a VNC viewer at localhost:{port}."
    )
