"""The Enterprise screen's configuration flows: a VM's xl config (Figure 27), Configure
domain… (Figure 28), the policy as tree / XML / text (Figure 30) and Manage server →
Editor mode (the host console for one host). A mixin of :class:`EnterpriseScreen`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeVar

from textual import events
from textual.message import Message

from xenon_tui._work import run_flow
from xenon_tui._xe import EnterpriseError, Overview, VmRow, XeData, XeLink, bounded
from xenon_tui.dialogs._form import TypeAhead
from xenon_tui.dialogs._xe_config import (
    ConfigChange,
    ConfigureVmDialog,
    Network,
    VmSettings,
    XlConfigDialog,
)
from xenon_tui.dialogs._xe_devices import DiskRow, VifRow
from xenon_tui.dialogs._xe_vm import CONFIGURE, VIEW_CONFIG
from xenon_tui.widgets._xe_hosts import XeHostsTree
from xenon_tui.widgets._xe_vms import XeVmTable

if TYPE_CHECKING:
    from textual.screen import ModalScreen, Screen

    _Base = Screen[None]
else:
    _Base = object

T = TypeVar("T")


class HostConsoleWanted(Message):
    """Manage server → Editor mode: the app shows the host console on this host.

    Attributes:
        name: The host's name in XE.
        address: Its XPS's address, from XE's host row.
        port: Its XPS's port, from XE's host row.
    """

    def __init__(self, name: str, address: str, port: int) -> None:
        super().__init__()
        self.name, self.address, self.port = name, address, port

    @property
    def server(self) -> str:
        """``address:port`` as the host console's Add server takes it."""
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{address}:{self.port}"


def findings_text(exc: EnterpriseError) -> str:
    """XE's refusal in one block: its message, then each finding with code and objects."""
    lines = [exc.message]
    for f in exc.findings:
        named = f" ({', '.join(f.objects)})" if f.objects else ""
        lines.append(f"{f.code}{named}: {f.message}")
        if f.hint:
            lines.append(f"  fix: {f.hint}")
    return "\n".join(lines)


class XeConfigFlows(_Base):
    """Keys ``c`` (view config), ``C`` (configure), ``p`` (policy views) and ``e`` (editor
    mode), and the VM context menu's View domain config / Configure domain…

    The screen provides ``data``, ``link``, ``read_only``, ``ask``, ``_status`` and
    ``refresh_xe``.
    """

    data: XeData
    link: XeLink
    _type_ahead: TypeAhead | None = None
    """While Configure domain… reads the VM: the keys typed meanwhile, kept for its dialog."""

    if TYPE_CHECKING:
        overview: Overview | None

        @property
        def read_only(self) -> bool: ...

        async def ask(self, dialog: ModalScreen[T]) -> T: ...

        def _status(self, text: str) -> None: ...

        def refresh_xe(self) -> None: ...

    # -- the VM whose config is wanted ----------------------------------------------------------

    def _vm_here(self) -> VmRow | None:
        vm: VmRow | None = self.query_one(XeVmTable).current_vm()
        if vm is None:
            self.app.notify("Choose a VM in the VM list first.", title="Domain config")
        return vm

    async def config_menu_action(self, action: str, vm: VmRow) -> bool:
        """Runs a context-menu entry of this mixin; False when ``action`` is not one."""
        if action == VIEW_CONFIG:
            await self._view_config(vm)
        elif action == CONFIGURE:
            await self._configure(vm)
        else:
            return False
        return True

    # -- View domain config (Figure 27) ---------------------------------------------------------

    def action_view_config(self) -> None:
        vm = self._vm_here()
        if vm is not None:
            run_flow(self, "xe-config", self._view_config, vm)

    async def _view_config(self, vm: VmRow) -> None:
        config = await bounded(self.data.client.policy.vm_config(vm.id))
        await self.ask(XlConfigDialog(vm.name, vm.host, config))

    # -- Policy as tree / XML / text (Figure 30) -------------------------------------------

    def action_policy_views(self) -> None:
        from xenon_tui.screens._xe_policy import XePolicyScreen  # built when first shown

        self.app.push_screen(XePolicyScreen(self.data))

    # -- Manage server → Editor mode ------------------------------------------------------------

    def action_editor_mode(self) -> None:
        """``e``: the host console on the host under the Hosts panel's cursor."""
        host_id = self.query_one(XeHostsTree).host_at_cursor()
        hosts = self.overview.hosts if self.overview is not None else ()
        row = next((h for h in hosts if h.id == host_id), None)
        if row is None:
            self.app.notify("Choose a host in the Hosts panel first.", title="Editor mode")
            return
        self.post_message(HostConsoleWanted(row.name, row.address, row.port))

    # -- Configure domain… (Figure 28) ----------------------------------------------------------

    def action_configure_vm(self) -> None:
        vm = self._vm_here()
        if vm is None:
            self._type_ahead = None
        else:
            run_flow(self, "xe-config", self._configure, vm)

    def on_key(self, event: events.Key) -> None:
        if self._type_ahead is not None:
            self._type_ahead.feed(event)
        elif self._opens_configure(event.key):
            # A key reaches this screen before the app runs its binding: the keys sent
            # with C have passed here by then. Kept from here on, for the dialog.
            self._type_ahead = TypeAhead()

    def _opens_configure(self, key: str) -> bool:
        bound = self._bindings.key_to_bindings.get(key, ())
        return (
            any(b.action == "configure_vm" for b in bound)
            and self.check_action("configure_vm", ()) is not False
            and self.query_one(XeVmTable).current_vm() is not None
        )

    async def _configure(self, vm: VmRow) -> None:
        ahead: TypeAhead | None = self._type_ahead or TypeAhead()
        self._type_ahead = ahead
        try:
            current = await bounded(self.data.client.policy.get_vm(vm.id))
        except BaseException:
            self._type_ahead = None
            raise
        settings = _settings(current)
        draft, error, tab = None, "", "tab-extra"
        field_errors: dict[str, str] = {}
        while True:
            dialog = ConfigureVmDialog(
                vm.name,
                current.guest_type,
                settings,
                draft=draft,
                error=error,
                field_errors=field_errors,
                tab=tab,
                type_ahead=ahead,
            )
            ahead = None  # the keys typed while it first opened are the first dialog's
            try:
                change = await self.ask(dialog)
            finally:
                self._type_ahead = None
            if change is None:
                return
            try:
                await self._write(vm, change)
            except EnterpriseError as exc:
                # Open again with what was typed and XE's reasons, objects by name; a
                # refused VIF or disk list has them under the list, on its tab.
                draft, error = change.draft, findings_text(exc)
                field_errors = _list_errors(exc, change)
                tab = next((f"tab-{k}" for k in ("vifs", "disks") if k in field_errors), tab)
                self._status(f"{vm.name}: XE refused the change")
                # What XE took before it refused is the starting point now.
                current = await bounded(self.data.client.policy.get_vm(vm.id))
                settings = _settings(current)
                continue
            break
        done = f"{vm.name}: configuration saved"
        self._status(done)
        self.app.notify(done, title="Configure domain")
        self.refresh_xe()

    async def _write(self, vm: VmRow, change: ConfigChange) -> None:
        policy = self.data.client.policy
        if change.network is not None:
            net = change.network
            await bounded(
                policy.set_vm_network(
                    vm.id,
                    allow_network=net.allow_network,
                    switches=net.switches,
                    max_vifs=net.max_vifs,
                )
            )
        if change.reset:
            await bounded(policy.reset_vm_extra(vm.id))
        elif change.extra is not None:
            await bounded(policy.set_vm_extra(vm.id, change.extra))
        if change.vifs is not None:
            await bounded(policy.set_vm_vifs(vm.id, [v.body() for v in change.vifs]))
        if change.disks is not None:
            await bounded(policy.set_vm_disks(vm.id, [d.body() for d in change.disks]))


def _list_errors(exc: EnterpriseError, change: ConfigChange) -> dict[str, str]:
    """XE's refusal of the VIF or disk list, for the text under that list: its
    ``XE-VM-VIF`` / ``XE-VM-DISK`` findings, or the message of a malformed list."""
    out: dict[str, list[str]] = {}
    for f in exc.findings:
        key = _LIST_CODES.get(f.code)
        if key is not None:
            out.setdefault(key, []).append(f"{f.code}: {f.message}")
    if not exc.findings:
        if change.vifs is not None and re.search(r"\bVIF \d", exc.message):
            out["vifs"] = [exc.message]
        elif change.disks is not None and re.search(r"\bdisk \d", exc.message):
            out["disks"] = [exc.message]
    return {k: "\n".join(v) for k, v in out.items()}


_LIST_CODES = {"XE-VM-VIF": "vifs", "XE-VM-DISK": "disks"}


def _settings(vm: Any) -> VmSettings:
    net = vm.network
    return VmSettings(
        Network(net.allow_network, tuple(net.switches), net.max_vifs),
        tuple((str(k), str(v)) for k, v in vm.extra),
        tuple(VifRow(v.bridge, v.mac, v.ip, v.model) for v in getattr(vm, "vifs", ())),
        tuple(
            DiskRow(d.target, d.vdev, d.mode, d.format, d.cdrom) for d in getattr(vm, "disks", ())
        ),
    )
