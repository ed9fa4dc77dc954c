"""The Enterprise screen's forms as flows (§4.2.2-§4.2.5): `n` new… (Add host, Add enclave,
Add tag to host, Remove tag, Add SecLabel, Add domain), `a` Add domain, `H` hosts (panel
order, remove), and the warnings' fixes (Figure 24 → Add SecLabel → back to the refused
action).

:class:`EnterpriseForms` is a mixin of :class:`~xenon_tui.screens._enterprise.EnterpriseScreen`;
its methods take the screen as ``self``. Every XE call is bounded (``bounded``) and what XE
refuses is shown with its own message and the objects' names.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from xenon_tui._work import run_flow
from xenon_tui._xe import EnclaveRow, EnterpriseError, bounded
from xenon_tui.dialogs import ConfirmDialog, TypedConfirmDialog
from xenon_tui.dialogs._xe_form_hosts import HostsDialog, NewMenuDialog
from xenon_tui.dialogs._xe_forms import (
    AddDomainDialog,
    AddEnclaveDialog,
    AddHostDialog,
    AddSecLabelDialog,
    AddTagDialog,
    HostCpuDialog,
    Values,
    cpu_body,
    domain_body,
    optional_int,
    parse_color,
    words,
)
from xenon_tui.dialogs._xe_warnings import Fix, PolicyWarningsDialog
from xenon_tui.widgets._xe_hosts import XeHostsTree

T = TypeVar("T")

if TYPE_CHECKING:
    from textual.screen import ModalScreen, Screen

    from enterprise_store.client import SecLabelOut
    from xenon_tui._xe import EnclaveDetail, Overview, XeData

    class _Screen(Screen[None]):
        """What the mixin uses of the Enterprise screen (for the type checker)."""

        data: XeData
        overview: Overview | None
        detail: EnclaveDetail | None
        enclave: str | None

        async def ask(self, dialog: ModalScreen[T]) -> T: ...
        def _status(self, text: str) -> None: ...
        def refresh_xe(self) -> None: ...
        def _show_overview(self, overview: Overview) -> None: ...
        def _load_detail(self, enclave: str) -> Any: ...
        def track_task(self, task_id: str, title: str) -> None: ...
else:
    _Screen = object

MAX_FIXES = 3
"""Fixes applied to one refused action before it is given up (each fix is one form)."""


class EnterpriseForms(_Screen):
    """The forms' flows of the Enterprise screen (a mixin; ``self`` is the screen)."""

    # -- keys ------------------------------------------------------------------------------

    def action_new(self) -> None:
        run_flow(self, "xe-add", self._new_flow)

    def action_add_domain(self) -> None:
        run_flow(self, "xe-add", self._add_domain)

    def action_hosts(self) -> None:
        run_flow(self, "xe-add", self._hosts_flow)

    async def _new_flow(self) -> None:
        tree = self.query_one(XeHostsTree)
        host = _host_name(self, tree.host_at_cursor())
        node = tree.cursor_node
        on_enclave = node is not None and node.data is not None and node.data[0] == "enclave"
        enclave = self._enclave_row(self.enclave)
        notes: dict[str, str] = {}
        disabled: list[str] = []
        if host:
            notes["tag"] = f"to {host}"
        if on_enclave and enclave is not None and host:
            notes["untag"] = f"{enclave.name} from {host}"
        else:
            disabled.append("untag")
        if enclave is not None:
            notes["seclabel"] = notes["domain"] = f"in {enclave.name}"
        else:
            disabled += ["seclabel", "domain"]
        if self.overview is None or not self.overview.hosts or not self.overview.enclaves:
            disabled.append("tag")
        choice = await self.ask(NewMenuDialog(notes, disabled))
        if choice == "host":
            await self._add_host()
        elif choice == "enclave":
            await self._add_enclave()
        elif choice == "tag":
            await self._add_tag(host=tree.host_at_cursor())
        elif choice == "untag" and enclave is not None:
            await self._remove_tag(tree.host_at_cursor() or "", enclave)
        elif choice == "seclabel" and enclave is not None:
            await self._add_seclabel(enclave.id)
        elif choice == "domain":
            await self._add_domain()

    # -- writes, refusals and their fixes --------------------------------------------------

    async def _form_write(self, title: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """Runs an XE write; a refusal with findings shows them (Figure 24). When one has
        an obvious fix and the user takes it, the fix's form opens and the write is tried
        again; None when it was refused in the end."""
        for _ in range(MAX_FIXES + 1):
            try:
                return await bounded(call())
            except EnterpriseError as exc:
                if not exc.findings:
                    raise
                fix = await self.ask(PolicyWarningsDialog(title, exc.message, exc.findings))
                if fix is None or not await self._apply_fix(fix):
                    return None
        return None

    async def _apply_fix(self, fix: Fix) -> bool:
        """Opens the fix's form; True when it was done."""
        await self._reload()
        enclave = self._enclave_by_name(fix.enclave)
        if enclave is None:
            raise EnterpriseError(f"enclave {fix.enclave!r} is not one XE shows you")
        if fix.kind == "seclabel":
            return await self._add_seclabel(enclave.id) is not None
        if fix.kind == "tag":
            return await self._add_tag(enclave=enclave.id)
        return False

    async def _reload(self) -> None:
        """Reads XE's hosts and enclaves now (a form's choices come from them)."""
        self._show_overview(await self.data.overview())

    def _enclave_row(self, enclave: str | None) -> EnclaveRow | None:
        if self.overview is None or enclave is None:
            return None
        return self.overview.enclaves.get(enclave)

    def _enclave_by_name(self, name: str) -> EnclaveRow | None:
        if self.overview is None:
            return None
        return next((e for e in self.overview.enclaves.values() if e.name == name), None)

    def _done(self, title: str, text: str) -> None:
        self._status(text)
        self.app.notify(text, title=title)
        self.refresh_xe()

    # -- Add enclave (Figure 22) -----------------------------------------------------------

    async def _add_enclave(self) -> None:
        values = await self.ask(AddEnclaveDialog())
        if values is None:
            return
        name, color = values["name"].strip(), parse_color(values["color"])
        tag = values["id"].strip() or None
        policy = self.data.client.policy
        written = await self._form_write(
            f"Add enclave {name}", lambda: policy.create_enclave(name, color=color, id=tag)
        )
        if written is None:
            return
        self._done("Add enclave", f"Enclave {name} added ({written.item.color})")
        await self._reload()
        if self.overview is not None and self.overview.hosts:
            # An enclave shows in the Hosts panel under the hosts it is assigned to.
            host = self.query_one(XeHostsTree).host_at_cursor()
            await self._add_tag(host=host, enclave=written.item.id)

    # -- Add tag to host / remove it ---------------------------------------------------------

    async def _add_tag(self, *, host: str | None = None, enclave: str | None = None) -> bool:
        await self._reload()
        if self.overview is None or not self.overview.hosts:
            raise EnterpriseError("no host yet: add a host first (n → Add host)")
        hosts = [(h.name, h.id) for h in self.overview.hosts]
        enclaves = sorted(
            ((e.name, e.id) for e in self.overview.enclaves.values()), key=lambda p: p[0]
        )
        values = await self.ask(
            AddTagDialog(hosts, enclaves, host=host or "", enclave=enclave or "")
        )
        if values is None:
            return False
        host_name = _host_name(self, values["host"])
        enclave_name = self.overview.enclaves[values["enclave"]].name
        policy = self.data.client.policy
        done = await self._form_write(
            f"Add tag {enclave_name} to {host_name}",
            lambda: policy.assign(values["enclave"], values["host"]),
        )
        if done is None:
            return False
        self._done("Add tag", f"{enclave_name} assigned to {host_name}")
        return True

    async def _remove_tag(self, host: str, enclave: EnclaveRow) -> None:
        host_name = _host_name(self, host)
        body = (
            f"{enclave.name} is no longer enforced on {host_name} (XE refuses while its "
            "VMs are placed there)."
        )
        if not await self.ask(
            ConfirmDialog(f"Remove tag {enclave.name} from {host_name}?", body, confirm="Remove")
        ):
            return
        policy = self.data.client.policy
        done = await self._form_write(
            f"Remove tag {enclave.name} from {host_name}",
            lambda: policy.unassign(enclave.id, host),
        )
        if done is not None:
            self._done("Remove tag", f"{enclave.name} unassigned from {host_name}")

    # -- Add host (Figure 21) ---------------------------------------------------------------

    async def _add_host(self) -> None:
        values = await self.ask(AddHostDialog())
        if values is None:
            return
        name = values["name"].strip()
        compute = self.data.client.compute
        accepted = await self._form_write(
            f"Add host {name}",
            lambda: compute.add_host(
                name,
                values["address"].strip(),
                int(values["port"]),
                cpu=cpu_body(values, keep_blank=True),
                shared_storage=words(values["shared_storage"]),
                takeover=values["takeover"] == "yes",
                ro_port=optional_int(values.get("ro_port", "")),
            ),
        )
        if accepted is None:
            return
        self.track_task(accepted.task_id, f"Add host {name} ({values['address'].strip()})")
        last = None
        async for task in self.data.follow_task(accepted.task_id):
            last = task
            self._status(f"Adding host {name}: {task.progress:.0%} {task.message}")
        self.refresh_xe()
        if last is None or last.state != "succeeded":
            reason = last.error.detail if last is not None and last.error else "no result"
            failed = f"adding host {name} failed: {reason}"
            self._status(failed)
            raise EnterpriseError(failed)
        self._done("Add host", f"Host {name} joined XE")
        await self._edit_cpu(name)

    async def _edit_cpu(self, host: str) -> None:
        """The CPU XE read from the host, to check or complete for migration."""
        policy = self.data.client.policy
        stored = await bounded(policy.get_host(host))
        cpu = stored.cpu
        values = await self.ask(
            HostCpuDialog(host, cpu.vendor, cpu.family, cpu.model, cpu.stepping, cpu.flags)
        )
        if values is None:
            return
        body = cpu_body(values, keep_blank=False)
        written = await self._form_write(
            f"CPU of {host}", lambda: policy.update_host(stored.id, cpu=body)
        )
        if written is not None:
            self._done("Host CPU", f"{host}: CPU saved")

    # -- hosts: panel order, remove ---------------------------------------------------------

    async def _hosts_flow(self) -> None:
        while True:
            await self._reload()
            assert self.overview is not None
            hosts = [(h.id, h.name) for h in self.overview.hosts]
            if not hosts:
                raise EnterpriseError("no host yet: add a host first (n → Add host)")
            choice = await self.ask(HostsDialog(hosts))
            if choice is None:
                return
            kind, ids = choice
            if kind == "order":
                done = await self._form_write(
                    "Hosts panel order", partial(self.data.client.policy.reorder_hosts, ids)
                )
                if done is not None:
                    self._done("Hosts", "Hosts panel order saved")
                return
            host = ids[0]
            name = _host_name(self, host)
            body = (
                f"{name} leaves the enterprise: XE stops managing its policy "
                "(refused while XE's VMs run there)."
            )
            if await self.ask(TypedConfirmDialog(f"Remove host {name}?", body, name)):
                await self._remove_host(host, name)

    async def _remove_host(self, host: str, name: str) -> None:
        compute = self.data.client.compute
        try:
            done = await self._form_write(f"Remove host {name}", lambda: compute.remove_host(host))
        except EnterpriseError as exc:
            if exc.code != "conflict":
                raise
            # XE's VMs are placed there: XE can re-place them if told to (force).
            body = (
                f"XE: {exc.message}\n\nRemove anyway: each of its VMs is placed on its "
                "enclave's next host in panel order (XE refuses if there is none)."
            )
            title = f"{name} still has VMs"
            if not await self.ask(ConfirmDialog(title, body, confirm="Remove anyway")):
                return
            done = await self._form_write(
                f"Remove host {name}", lambda: compute.remove_host(host, force=True)
            )
        if done is not None:
            self._done("Remove host", f"Host {name} removed")

    # -- Add SecLabel (Figure 25) -----------------------------------------------------------

    async def _add_seclabel(self, enclave: str) -> SecLabelOut | None:
        """Add secLabel → Create new… in ``enclave`` (an id); the SecLabel made, or None."""
        if self.overview is None:
            return None
        enclaves = sorted(
            ((e.name, e.id) for e in self.overview.enclaves.values()), key=lambda p: p[0]
        )
        profiles = await self._profiles()
        values = await self.ask(AddSecLabelDialog(enclaves, profiles, enclave=enclave))
        if values is None:
            return None
        name = values["name"].strip()
        policy = self.data.client.policy
        written = await self._form_write(
            f"Add SecLabel {name}",
            lambda: policy.create_seclabel(
                name,
                values["enclave"],
                values["profile"],
                max_rate=int(values["max_rate"]),
                max_violations=int(values["max_violations"]),
                role=values["role"],
            ),
        )
        if written is None:
            return None
        where = self.overview.enclaves[values["enclave"]].name
        self._done("Add SecLabel", f"SecLabel {name} added to {where}")
        if self.enclave is not None:
            self._load_detail(self.enclave)  # its SecLabels panel is read again
        return written.item

    async def _profiles(self) -> list[tuple[str, str]]:
        """The policy's hypercall profiles as ``(name — description, id)``, by name."""
        text = await bounded(self.data.client.policy.render("json"))
        try:
            found = json.loads(text).get("profiles", [])
            pairs = [(_profile_label(p), str(p["id"])) for p in found]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EnterpriseError(f"XE's policy has no readable profiles: {exc}") from exc
        return sorted(pairs, key=lambda p: p[0].casefold())

    # -- Add domain (Figure 26) -------------------------------------------------------------

    async def _add_domain(self) -> None:
        enclave = self._enclave_row(self.enclave)
        if enclave is None or self.overview is None:
            return
        given: dict[str, str] = {}
        for _ in range(MAX_FIXES + 1):
            labels = await self._seclabels(enclave.id)
            names = {h.id: h.name for h in self.overview.hosts}
            hosts = [(names.get(h, h), h) for h in enclave.hosts]
            default = next((h.name for h in self.overview.hosts if enclave.id in h.enclaves), None)
            values = await self.ask(
                AddDomainDialog(enclave.name, labels, hosts, default, values=given)
            )
            if values is None:
                return
            given = values
            outcome = await self._create_domain(enclave, values)
            if outcome is not False:
                return
            # Refused, then fixed: the form opens again with what was typed (a SecLabel
            # the fix made is now a choice; so is a host it assigned the enclave to).
            enclave = self._enclave_row(enclave.id) or enclave

    async def _create_domain(self, enclave: EnclaveRow, values: Values) -> bool | None:
        """True: made; None: refused (or given up); False: refused, then a fix was made."""
        name = values["name"].strip()
        policy = self.data.client.policy
        try:
            written = await bounded(
                policy.create_vm(name, enclave.id, values["guest_type"], **domain_body(values))
            )
        except EnterpriseError as exc:
            if not exc.findings:
                raise
            fix = await self.ask(
                PolicyWarningsDialog(f"Add domain {name}", exc.message, exc.findings)
            )
            if fix is not None and await self._apply_fix(fix):
                return False
            return None
        vm = written.item
        where = _host_name(self, vm.host or "") or "the default host"
        self._done("Add domain", f"{vm.name} added to {enclave.name} on {where}")
        return True

    async def _seclabels(self, enclave: str) -> list[tuple[str, str]]:
        """The enclave's SecLabels as ``(name — profile, id)`` (read from XE now)."""
        policy = self.data.client.policy
        labels = await bounded(_collect(policy.iter_seclabels(enclave=enclave)))
        return [(f"{s.name} — {s.profile_name or s.profile}", s.id) for s in labels]


def _host_name(screen: EnterpriseForms, host: str | None) -> str:
    if not host or screen.overview is None:
        return host or ""
    return next((h.name for h in screen.overview.hosts if h.id == host), host)


def _profile_label(profile: dict[str, Any]) -> str:
    label = str(profile["name"])
    family = profile.get("guest_family") or ()
    kinds = [family] if isinstance(family, str) else [str(k) for k in family]
    return f"{label} ({', '.join(sorted(kinds))})" if kinds else label


async def _collect(items: Any) -> list[Any]:
    return [item async for item in items]
