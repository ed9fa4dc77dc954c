"""The console's access to Xenon Enterprise (XE): its link, its data, its errors.

The console reaches XE only through :class:`enterprise_store.client.XeClient` (REST over
httpx). Every call is bounded by :data:`CALL_TIMEOUT_S`; what XE refuses becomes an
:class:`EnterpriseError` carrying XE's problem+json message (and, for a refused policy
write, every finding), which the app shows like any other console error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from xenon_tui._errors import ConfigError, ConsoleError

if TYPE_CHECKING:
    # Imported where used at run time: a console without XE loads neither httpx nor the
    # XE models (memory per SSH session at the first frame).
    from enterprise_store.client import (
        EnclaveOut,
        HostOut,
        MigrationTargetOut,
        PropagationOut,
        SecLabelOut,
        TaskOut,
        VmOut,
        XeClient,
        XeError,
    )

T = TypeVar("T")

CALL_TIMEOUT_S = 15.0
"""Bound of one XE request as the console waits for it (XeClient's own is the same)."""

TASK_TIMEOUT_S = 600.0
"""Bound of following one XE task (a migration, a propagation) to its end."""

VM_ACTIONS: tuple[str, ...] = ("start", "pause", "unpause", "shutdown", "destroy")
"""The per-VM actions of the context menu (destroy asks for the VM's name first)."""


@dataclass(frozen=True)
class XeLink:
    """How this console session reaches XE, and as whom.

    Attributes:
        url: XE's base URL (``https://xe.example:8443``).
        token: The session's bearer token (never shown, never logged).
        user: The XE user the session acts as.
        role: That user's role (``admin``, ``operator``, ``auditor`` …); XE enforces it.
        ca_file: CA bundle that signed XE's certificate (None: the system store).
    """

    url: str
    token: str = field(repr=False)
    user: str
    role: str
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        # Checked where the link is made (the CLI, the SSH server), not at the first poll.
        if not self.url.startswith(("https://", "http://")) or len(self.url) > 2048:
            raise ConfigError(f"XE URL must be https://HOST:PORT, not {self.url[:100]!r}")
        if not self.user or any(c.isspace() or not c.isprintable() for c in self.user):
            raise ConfigError(f"invalid XE user name {self.user[:64]!r}")


XeClientFactory = Callable[[XeLink], "XeClient"]


def xe_client_factory(link: XeLink) -> XeClient:
    """The XE client of a link (tests inject one over ``httpx.ASGITransport``)."""
    from enterprise_store.client import XeClient

    return XeClient(link.url, token=link.token, ca=link.ca_file, timeout=CALL_TIMEOUT_S)


@dataclass(frozen=True)
class Finding:
    """One reason XE gave for refusing a write or a migration target."""

    code: str
    message: str
    objects: tuple[str, ...] = ()
    hint: str = ""


class EnterpriseError(ConsoleError):
    """XE refused a request or could not be reached; ``message`` is XE's own.

    Attributes:
        code: XE's stable code (``policy_refused``, ``role_required``, ``unreachable`` …).
        findings: Every finding of a refused policy write (empty otherwise).
    """

    code = "xe_error"
    title = "Xenon Enterprise"

    def __init__(
        self, message: str, *, code: str | None = None, findings: Sequence[Finding] = ()
    ) -> None:
        super().__init__(message, code=code)
        self.findings = tuple(findings)

    @classmethod
    def from_xe(cls, exc: XeError) -> EnterpriseError:
        """The console's form of an error the XE client raised."""
        from enterprise_store.client import PolicyRefused

        findings: list[Finding] = []
        if isinstance(exc, PolicyRefused):
            findings = [
                Finding(f.code, f.message, tuple(f.objects), str(getattr(f, "hint", "") or ""))
                for f in exc.findings
            ]
        return cls(exc.message, code=exc.code, findings=findings)


async def bounded(call: Awaitable[T], timeout_s: float = CALL_TIMEOUT_S) -> T:
    """Awaits one XE call within ``timeout_s``, translating its errors to the console's."""
    from enterprise_store.client import XeError

    try:
        async with asyncio.timeout(timeout_s):
            return await call
    except TimeoutError as exc:
        raise EnterpriseError(f"no answer from XE in {timeout_s:g} s", code="unreachable") from exc
    except XeError as exc:
        raise EnterpriseError.from_xe(exc) from exc


# -- what the Enterprise screen draws ---------------------------------------------------------


@dataclass(frozen=True)
class HostRow:
    """A host of the Hosts panel with its propagation state."""

    id: str
    name: str
    address: str
    port: int
    enclaves: tuple[str, ...]
    propagation: PropagationOut | None


@dataclass(frozen=True)
class EnclaveRow:
    """An enclave: its name, colour (``#rrggbb``) and hosts (ids, panel order)."""

    id: str
    name: str
    color: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Overview:
    """The Hosts panel's data: hosts in panel order and every enclave by id."""

    hosts: tuple[HostRow, ...]
    enclaves: dict[str, EnclaveRow]


@dataclass(frozen=True)
class VmRow:
    """A VM of an enclave as Figure 29 lists it (names, not ids)."""

    id: str
    name: str
    host: str
    state: str
    seclabel: str


@dataclass(frozen=True)
class EnclaveDetail:
    """The main panel's data for one enclave."""

    enclave: str
    seclabels: tuple[SecLabelOut, ...]
    vms: tuple[VmRow, ...]


def _enclave_row(e: EnclaveOut) -> EnclaveRow:
    return EnclaveRow(e.id, e.name, e.color, tuple(e.hosts))


def _host_row(h: HostOut, propagation: PropagationOut | None) -> HostRow:
    return HostRow(h.id, h.name, h.address, h.port, tuple(h.enclaves), propagation)


class XeData:
    """The console's XE data access: one client per session, every call bounded.

    Args:
        link: Where XE is and the session's token.
        factory: Builds the client (tests: one over the in-process app).
    """

    def __init__(self, link: XeLink, factory: XeClientFactory = xe_client_factory) -> None:
        self.link = link
        self._factory = factory
        self._client: XeClient | None = None

    @property
    def client(self) -> XeClient:
        """The XE client, made at first use (no socket before the Enterprise view shows)."""
        if self._client is None:
            self._client = self._factory(self.link)
        return self._client

    async def aclose(self) -> None:
        """Closes the client's connections."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def overview(self) -> Overview:
        """Hosts (panel order) with their propagation state, and every enclave."""
        policy = self.client.policy
        hosts = await bounded(_collect(policy.iter_hosts()))
        enclaves = await bounded(_collect(policy.iter_enclaves()))
        propagation = {p.host_id: p for p in await bounded(self.client.compute.propagation())}
        return Overview(
            tuple(_host_row(h, h.propagation or propagation.get(h.id)) for h in hosts),
            {e.id: _enclave_row(e) for e in enclaves},
        )

    async def enclave_detail(self, enclave: EnclaveRow, hosts: dict[str, str]) -> EnclaveDetail:
        """An enclave's SecLabels and VMs across its hosts, each VM with its run state.

        ``hosts`` maps host ids to names. A host that cannot say what it runs shows its
        VMs as ``unknown`` rather than failing the whole panel.
        """
        policy = self.client.policy
        labels = await bounded(_collect(policy.iter_seclabels(enclave=enclave.id)))
        vms = await bounded(_collect(policy.iter_vms(enclave=enclave.id)))
        states: dict[str, str] = {}
        unknown: set[str] = set()
        for host_id in {v.placed_on or v.host for v in vms} - {None}:
            assert host_id is not None
            try:
                for d in await bounded(self.client.compute.host_domains(host_id)):
                    if d.vm_id is not None:
                        states[d.vm_id] = d.run_state
            except EnterpriseError:
                unknown.add(host_id)
        names = {s.id: s.name for s in labels}
        rows = []
        for v in vms:
            where = v.placed_on or v.host
            state = "unknown" if where in unknown else states.get(v.id, "stopped")
            host = hosts.get(where or "", where or "(default)")
            rows.append(VmRow(v.id, v.name, host, state, names.get(v.seclabel or "", "—")))
        return EnclaveDetail(enclave.id, tuple(labels), tuple(sorted(rows, key=_vm_key)))

    async def vm_action(self, vm: str, action: str) -> str:
        """Runs a VM action through XE's compute API; returns the VM's new run state."""
        if action not in VM_ACTIONS:
            raise EnterpriseError(f"unknown VM action {action[:40]!r}", code="invalid_input")
        return (await bounded(self.client.compute.vm_action(vm, action))).run_state

    async def migration_targets(self, vm: str) -> list[MigrationTargetOut]:
        """The migration precheck: every other host, allowed or with every reason."""
        return await bounded(self.client.compute.migration_targets(vm))

    async def migrate(self, vm: str, to: str) -> str:
        """Starts a live migration; returns its task id."""
        return (await bounded(self.client.compute.migrate(vm, to))).task_id

    async def follow_task(self, task_id: str) -> AsyncIterator[TaskOut]:
        """The task now and at every change until it ends (bounded by TASK_TIMEOUT_S)."""
        from enterprise_store.client import XeError

        try:
            async with asyncio.timeout(TASK_TIMEOUT_S):
                async for task in self.client.compute.watch_task(task_id):
                    yield task
        except TimeoutError as exc:
            raise EnterpriseError(
                f"task {task_id} did not end in {TASK_TIMEOUT_S:g} s", code="timeout"
            ) from exc
        except XeError as exc:
            raise EnterpriseError.from_xe(exc) from exc

    async def create_vm(self, name: str, enclave: str, guest_type: str) -> VmOut:
        """Adds a domain to an enclave (a refused write raises with every finding)."""
        written = await bounded(self.client.policy.create_vm(name, enclave, guest_type))
        return written.item


def _vm_key(v: VmRow) -> tuple[str, str]:
    return (v.name.casefold(), v.id)


async def _collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


__all__ = [
    "CALL_TIMEOUT_S",
    "VM_ACTIONS",
    "EnclaveDetail",
    "EnclaveRow",
    "EnterpriseError",
    "Finding",
    "HostRow",
    "Overview",
    "VmRow",
    "XeClientFactory",
    "XeData",
    "XeLink",
    "bounded",
    "xe_client_factory",
]
