"""Console workflows: editor actions, domain lifecycle, violations, compare/clone/auth."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import work

from xenon_tui._actions import Mode
from xenon_tui._config import atomic_write
from xenon_tui._connection import LinkState
from xenon_tui._errors import ConfigError, ConsoleError, ReadOnlyError
from xenon_tui._policy_data import policy_of
from xenon_tui.dialogs import ConfirmDialog, InputDialog, TextDialog, TypedConfirmDialog
from xenon_tui.widgets import DomainsTable, ServersPanel, ViolationLog

if TYPE_CHECKING:
    from textual.app import App

    from xenon_tui._config import ConsoleConfig
    from xenon_tui._state import ServerState

    class _Base(App[int]):
        """What the mixin uses of XenonConsole (declared here to avoid an import cycle)."""

        config: ConsoleConfig
        servers: dict[str, ServerState]

        @property
        def current_state(self) -> ServerState | None: ...
        async def call(self, address: str | None, method: str, **params: Any) -> Any: ...
        def show_error(self, exc: BaseException) -> None: ...
        def refresh_policy(self, address: str) -> Any: ...
        def refresh_domains(self, address: str) -> Any: ...
        def set_server_color(self, address: str, color: str | None) -> None: ...
        def _sync_alert(self) -> None: ...
        def _sync_current(self) -> None: ...
        async def action_show_advanced(self, tab: str) -> None: ...
else:
    _Base = object

_TYPED = {"DestroyDomain": "Destroy", "ShutdownDomain": "Shut down"}
_VERBS = {
    "CreateDomain": "Start",
    "PauseDomain": "Pause",
    "UnpauseDomain": "Unpause",
    "RebootDomain": "Reboot",
    **_TYPED,
}


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


class WorkflowsMixin(_Base):
    """Actions of the editor, Live mode and servers panel (mixed into XenonConsole)."""

    # -- helpers ---------------------------------------------------------------------------

    def _need_current(self) -> str | None:
        state = self.current_state
        if state is None or state.link is not LinkState.CONNECTED:
            self.notify("Select a connected server first.", title="No server", severity="warning")
            return None
        return str(state.address)

    # -- Policy Editor ---------------------------------------------------------------------

    @work(group="editor", exclusive=True, exit_on_error=False)
    async def action_staged_diff(self) -> None:
        address = self._need_current()
        if address is None:
            return
        try:
            result = await self.call(address, "GetStagedDiff")
        except ConsoleError as exc:
            self.show_error(exc)
            return
        body = (
            format_tree(result.get("diff"))
            if result.get("staged")
            else "Nothing is staged: the staged policy equals the active one."
        )
        await self.push_screen_wait(TextDialog(f"Staged vs active — {address}", body))

    @work(group="editor", exclusive=True, exit_on_error=False)
    async def action_activate_policy(self) -> None:
        address = self._need_current()
        if address is None:
            return
        try:
            diff = await self.call(address, "GetStagedDiff")
        except ConsoleError as exc:
            self.show_error(exc)
            return
        if not diff.get("staged"):
            self.notify("Nothing staged to activate.", title="Policy")
            return
        ok = await self.push_screen_wait(
            ConfirmDialog(
                f"Make this policy & host configuration active on {address}?",
                format_tree(diff.get("diff")),
                confirm="Make active",
            )
        )
        if not ok:
            return
        try:
            result = await self.call(address, "ActivatePolicy")
        except ConsoleError as exc:
            self.show_error(exc)
            return
        self.notify(f"generation {result.get('generation')}", title=f"{address}: policy active")
        self.refresh_policy(address)

    @work(group="editor", exclusive=True, exit_on_error=False)
    async def action_rollback_policy(self) -> None:
        address = self._need_current()
        if address is None:
            return
        if not await self.push_screen_wait(
            ConfirmDialog(
                f"Roll back {address} to its previous policy?",
                "The current active policy is replaced by the previous one.",
                confirm="Roll back",
            )
        ):
            return
        try:
            result = await self.call(address, "RollbackPolicy")
        except ConsoleError as exc:
            self.show_error(exc)
            return
        self.notify(f"generation {result.get('generation')}", title=f"{address}: rolled back")
        self.refresh_policy(address)

    @work(group="editor", exclusive=True, exit_on_error=False)
    async def action_export_policy(self, template: bool) -> None:
        address = self._need_current()
        if address is None:
            return
        kind = "template" if template else "policy"
        default = str(Path.cwd() / f"xenon-{kind}-{address.replace(':', '_')}.xml")
        path = await self.push_screen_wait(
            InputDialog(f"Export signed {kind}", "File to write:", value=default)
        )
        if not path:
            return
        try:
            result = await self.call(address, "ExportPolicy", signed=True, template=template)
            await asyncio.to_thread(_write_file, path, str(result["xml"]).encode())
        except ConsoleError as exc:
            self.show_error(exc)
            return
        except OSError as exc:
            self.show_error(ConfigError(f"cannot write {path}: {exc.strerror}"))
            return
        signed = "signed " if result.get("signed") else "UNSIGNED "
        self.notify(f"{signed}{kind} written to {path}", title="Export")

    @work(group="editor", exclusive=True, exit_on_error=False)
    async def action_import_template(self) -> None:
        from xenon_tui._template import import_template_flow

        address = self._need_current()
        if address is not None:
            await import_template_flow(cast(Any, self), address)

    async def stage(self, address: str, policy: Any) -> bool:
        """Stages an edited Policy; shows the daemon's findings on refusal."""
        from xenon_tui._policy_data import policy_xml

        try:
            result = await self.call(address, "StagePolicy", xml=policy_xml(policy))
        except ConsoleError as exc:
            self.show_error(exc)
            return False
        findings = result.get("findings") or []
        if findings:
            self.notify(
                "\n".join(str(f.get("message", f)) for f in findings[:5]),
                title="Staged with warnings",
                severity="warning",
            )
        self.refresh_policy(address)
        return True

    # -- Live mode: domains ----------------------------------------------------------------

    @work(group="domain", exclusive=True, exit_on_error=False)
    async def on_domains_table_domain_action(self, message: DomainsTable.DomainAction) -> None:
        address = self._need_current()
        if address is None:
            return
        if self.config.read_only:
            self.show_error(ReadOnlyError("Domain actions are disabled."))
            return
        name = str(message.domain.get("name"))
        verb = _VERBS.get(message.method, message.method)
        if message.method in _TYPED:
            ok = await self.push_screen_wait(
                TypedConfirmDialog(
                    f"{verb} {name} on {address}?",
                    f"{verb} domain {name} (domid {message.domain.get('domid')}).",
                    name,
                )
            )
            if not ok:
                self.notify("Nothing was done.", title=f"{verb} cancelled")
                return
        params = {"name": name} if message.method == "CreateDomain" else {"domain": name}
        try:
            result = await self.call(address, message.method, **params)
        except ConsoleError as exc:
            self.show_error(exc)
            return
        self.notify(f"{name}: {result.get('run_state', 'done')}", title=f"{verb} {name}")
        self.refresh_domains(address)

    def on_domains_table_show(self, message: DomainsTable.Show) -> None:
        state = self.current_state
        if state is None:
            return
        name = str(message.domain.get("name"))
        try:
            policy = policy_of(state.policy)
        except ConsoleError as exc:
            self.show_error(exc)
            return
        if policy is None:
            self.notify("No policy loaded yet.", title=name, severity="warning")
            return
        if message.what == "xl_config":
            from xps.policy.generators import xl_config

            try:
                # The daemon holds the real VNC password; the view shows a mask instead.
                text = xl_config(policy, name, vnc_password="********")  # noqa: S106
            except Exception as exc:  # generator errors carry a readable message
                self.show_error(ConsoleError(str(exc)))
                return
            self.push_screen(TextDialog(f"xl configuration of {name}", text))
        else:
            self.push_screen(TextDialog(f"VNC — {name}", vnc_text(policy, name, state.entry.host)))

    def action_guest_templates(self) -> None:
        """Shows the recommended xl configuration of each guest type (secure defaults)."""
        state = self.current_state
        try:
            policy = policy_of(state.policy) if state else None
        except ConsoleError as exc:
            self.show_error(exc)
            return
        if policy is None or not policy.seclabels:
            self.notify("Needs a connected server with a SecLabel.", title="Guest templates")
            return
        self.push_screen(TextDialog("Guest-type templates (xl)", guest_templates(policy)))

    # -- Live mode: violations -------------------------------------------------------------

    @work(group="domain", exclusive=True, exit_on_error=False)
    async def on_violation_log_pause_requested(self, message: ViolationLog.PauseRequested) -> None:
        address = self._need_current()
        if address is None:
            return
        name = message.violation.get("domain") or message.violation.get("domid")
        try:
            await self.call(address, "PauseDomain", domain=name)
        except ConsoleError as exc:
            self.show_error(exc)
            return
        self.notify(f"{name} paused", title="Violation response")
        self.refresh_domains(address)

    def on_violation_log_profile_requested(self, message: ViolationLog.ProfileRequested) -> None:
        from xenon_tui._editing import open_profile_for_violation

        open_profile_for_violation(cast(Any, self), dict(message.violation))

    def on_violation_log_alert_cleared(self, message: ViolationLog.AlertCleared) -> None:
        state = self.current_state
        if state is not None:
            state.alert = 0
            self._sync_alert()

    # -- servers panel ---------------------------------------------------------------------

    def server_workflow(self, action: str, address: str) -> None:
        """Colour, compare, clone and authorization commands of the servers panel."""
        if action == "color":
            self.push_screen(
                InputDialog(
                    f"Assign colour to {address}",
                    "#rrggbb or a colour name (empty clears):",
                    value=self.servers[address].entry.color or "",
                ),
                lambda value: self.set_server_color(address, value) if value is not None else None,
            )
        elif action == "compare":
            self.compare_servers(address)
        elif action == "clone":
            self.clone_server(address)
        elif action == "authorizations":
            from xenon_tui.dialogs._auth import AuthDialog

            if self.servers[address].link is LinkState.CONNECTED:
                self.push_screen(AuthDialog(cast(Any, self), address))
            else:
                self.notify("Connect first.", title=address, severity="warning")

    @work(group="compare", exclusive=True, exit_on_error=False)
    async def compare_servers(self, address: str) -> None:
        """Compares the active policy of every connected server with ``address``'s."""
        connected = [a for a, s in self.servers.items() if s.link is LinkState.CONNECTED]
        if address not in connected:
            self.notify("Connect the server first.", title="Compare", severity="warning")
            return
        results: dict[str, dict[str, Any]] = {}
        for other in connected:
            try:
                results[other] = await self.call(other, "GetPolicy", which="active")
            except ConsoleError as exc:
                self.show_error(exc)
        base = results.get(address)
        if base is None:
            return
        lines = []
        for other, result in results.items():
            same = result.get("sha256") == base.get("sha256")
            state = self.servers[other]
            state.match = None if other == address else ("=" if same else "≠")
            self.query_one("#servers", ServersPanel).set_server(
                other, state.link, state.entry.color, state.match
            )
            if other == address:
                continue
            lines.append(f"== {other}: {'identical' if same else 'differs'}")
            if not same:
                try:
                    lines.append(policy_diff_text(policy_of(base), policy_of(result)))
                except Exception as exc:  # a diff failure must not hide the verdict
                    lines.append(f"  (no field diff: {exc})")
        await self.push_screen_wait(
            TextDialog(f"Compare with {address}", "\n".join(lines) or "No other connected server.")
        )

    @work(group="clone", exclusive=True, exit_on_error=False)
    async def clone_server(self, address: str) -> None:
        """Copies ``address``'s active configuration to another server after a diff preview."""
        if self.config.read_only:
            self.show_error(ReadOnlyError("Cloning changes the destination server."))
            return
        others = [
            a for a, s in self.servers.items() if a != address and s.link is LinkState.CONNECTED
        ]
        if not others:
            self.notify("Connect a destination server first.", title="Clone", severity="warning")
            return
        dest = await self.push_screen_wait(
            InputDialog(
                f"Clone configuration of {address}",
                "Destination server:",
                value=others[0],
                validate=lambda v: None if v in others else f"choose one of {', '.join(others)}",
            )
        )
        if not dest:
            return
        try:
            src = await self.call(address, "GetPolicy", which="active")
            dst = await self.call(dest, "GetPolicy", which="active")
            preview = policy_diff_text(policy_of(dst), policy_of(src))
        except ConsoleError as exc:
            self.show_error(exc)
            return
        if not await self.push_screen_wait(
            ConfirmDialog(f"Clone {address} → {dest} and make it active?", preview, confirm="Clone")
        ):
            return
        try:
            await self.call(dest, "StagePolicy", xml=src["xml"])
            result = await self.call(dest, "ActivatePolicy")
        except ConsoleError as exc:
            self.show_error(exc)
            return
        self.notify(f"{dest} now at generation {result.get('generation')}", title="Cloned")
        self.refresh_policy(dest)

    def mode_of(self, address: str) -> Mode:
        """Mode of a server (Live when unknown)."""
        state = self.servers.get(address)
        return state.mode if state else Mode.LIVE


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


def _write_file(path: str, data: bytes) -> None:
    atomic_write(Path(path).expanduser(), data)


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
