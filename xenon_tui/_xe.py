"""The console's access to Xenon Enterprise (XE): its link, its data, its errors.

The console reaches XE only through :class:`enterprise_store.client.XeClient` (REST over
httpx). Every call is bounded by :data:`CALL_TIMEOUT_S`; what XE refuses becomes an
:class:`EnterpriseError` carrying XE's problem+json message (and, for a refused policy
write, every finding), which the app shows like any other console error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
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

LIST_PAGE = 1000
"""Page size of the console's collection reads (XE's largest)."""

FIRST_PAGE = 60
"""VMs read for the first frame of an enclave: a screenful (48 lines hold ~40 rows); the
rest of its VMs are read right after that frame is drawn."""

STATE_READS = 8
"""Hosts asked at once what they run."""

STATE_READ_S = 5.0
"""Bound of one host's answer (through XE) to what it runs: a host that says nothing in
that time shows its VMs as ``unknown`` (a host busy with a propagation, or down, is not
XE failing)."""

ROWS_IN_THREAD = 2000
"""An enclave with more VMs than this has its rows built in a thread: 10,000 rows and their
sort take a UI-loop step long enough to hold up the keys typed meanwhile."""

NOT_READ = "…"
"""The run state of a VM whose host was not asked yet (its rows were not on screen)."""

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
    host_id: str = ""
    """The id of the host it is placed on ("" for none: it shows ``(default)``)."""


@dataclass(frozen=True)
class EnclaveDetail:
    """The main panel's data for one enclave.

    Attributes:
        complete: False for the first page only (the first frame), the rest still coming.
        states_at: The :attr:`XeData.states_read` its run states were taken at (-1: none):
            :meth:`XeData.with_states` returns it as it is while no host's answer changed.
    """

    enclave: str
    seclabels: tuple[SecLabelOut, ...]
    vms: tuple[VmRow, ...]
    complete: bool = True
    states_at: int = field(default=-1, compare=False)


@dataclass(frozen=True)
class FirstView:
    """The first poll's reads: version, overview, the first enclave's first page."""

    version: int
    overview: Overview
    detail: EnclaveDetail | None


def host_enclaves(overview: Overview, host: HostRow) -> tuple[str, ...]:
    """The enclaves of ``host`` that the overview knows, by name (the Hosts panel's order)."""
    known = overview.enclaves
    return tuple(
        sorted(
            (e for e in host.enclaves if e in known), key=lambda e: (known[e].name.casefold(), e)
        )
    )


def first_enclave(overview: Overview) -> str | None:
    """The enclave the Enterprise view opens on: the first (by name) of the first host, in
    panel order, that has one."""
    for host in overview.hosts:
        enclaves = host_enclaves(overview, host)
        if enclaves:
            return enclaves[0]
    return None


def _enclave_row(e: EnclaveOut) -> EnclaveRow:
    return EnclaveRow(e.id, e.name, e.color, tuple(e.hosts))


HOST_FIELDS = ("id", "name", "address", "port", "enclaves", "propagation")
"""What the Hosts panel reads of each host (not its CPU, switches, storage: a smaller
answer of 1,000 hosts, decoded on the UI loop)."""

STATE_FIELDS = ("id", "propagation")
"""What a poll at an unchanged policy version reads of the drawn hosts."""


def _host_row(h: HostOut, propagation: PropagationOut | None) -> HostRow:
    return HostRow(h.id, h.name, h.address, h.port, tuple(h.enclaves or ()), propagation)


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
        # The shown enclave's SecLabels and VMs at a policy version.
        self._vms: dict[str, tuple[int, tuple[SecLabelOut, ...], tuple[VmOut, ...]]] = {}
        # Each host's last answer: VM id -> run state; None: the host could not say.
        self._domains: dict[str, dict[str, str] | None] = {}
        self.states_read = 0
        """Counts the hosts' answers that changed what :meth:`state_of` says."""
        # The shown enclave's rows as last built, with what they were built from.
        self._built: tuple[tuple[str, int], dict[str, str], EnclaveDetail] | None = None

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
        """Hosts (panel order) with their propagation state, and every enclave.

        Pages of :data:`LIST_PAGE` (one request for 1,000 hosts); the hosts carry their
        propagation state, so the propagation list is not read beside them. Hosts and
        enclaves are read concurrently.
        """
        policy = self.client.policy
        # Both at once: the first frame waits for the slower, not for their sum.
        hosts, enclaves = await asyncio.gather(
            bounded(_collect(policy.iter_host_fields(HOST_FIELDS, limit=LIST_PAGE))),
            bounded(_collect(policy.iter_enclaves(limit=LIST_PAGE))),
        )
        return Overview(
            tuple(_host_row(h, h.propagation) for h in hosts),
            {e.id: _enclave_row(e) for e in enclaves},
        )

    async def host_page(self, overview: Overview, count: int) -> Overview | None:
        """``overview`` with the propagation state of its first ``count`` hosts read
        again (one page: the hosts the Hosts panel draws; the others as last read). None
        when that page is not the overview's first hosts any more (read them all).

        A poll at an unchanged policy version reads this instead of every host: during a
        1,000-host propagation the states change every second, the hosts and enclaves
        (policy objects) do not."""
        count = max(1, min(count, LIST_PAGE))
        # Only ids and states: during a propagation this poll comes every 2 s and its
        # answer is decoded on the UI loop, between keys.
        page = await bounded(self.client.policy.list_host_fields(STATE_FIELDS, limit=count))
        known = overview.hosts[: len(page.items)]
        if [h.id for h in page.items] != [h.id for h in known]:
            return None
        fresh = {h.id: h for h in page.items}
        changed = [
            i
            for i, row in enumerate(overview.hosts[: len(page.items)])
            if fresh[row.id].propagation != row.propagation
        ]
        if not changed:
            return overview  # the same object: the screen redraws nothing
        hosts = list(overview.hosts)
        for i in changed:
            hosts[i] = replace(hosts[i], propagation=fresh[hosts[i].id].propagation)
        return Overview(tuple(hosts), overview.enclaves)

    async def first_view(self) -> FirstView:
        """What the Enterprise view's first frame shows, read as early as possible (the
        screen starts it when it is made, so XE works while the screen is laid out): the
        policy version, the overview and, as soon as the overview says which enclave
        comes first, that enclave's first page of VMs (its SecLabels with it)."""

        async def overview_then_detail() -> tuple[Overview, EnclaveDetail | None]:
            overview = await self.overview()
            first = first_enclave(overview)
            if first is None:
                return overview, None
            names = {h.id: h.name for h in overview.hosts}
            detail = await self.enclave_detail(overview.enclaves[first], names, first_page=True)
            return overview, detail

        version, (overview, detail) = await asyncio.gather(
            self.policy_version(), overview_then_detail()
        )
        return FirstView(version, overview, detail)

    async def policy_version(self) -> int:
        """The newest policy version this user sees (0: none); VMs and SecLabels are read
        again only when it changed."""
        page = await bounded(self.client.policy.list_versions(limit=1))
        return page.items[0].version if page.items else 0

    async def enclave_detail(
        self,
        enclave: EnclaveRow,
        hosts: dict[str, str],
        *,
        version: int | None = None,
        first_page: bool = False,
    ) -> EnclaveDetail:
        """An enclave's SecLabels and VMs across its hosts (run states as last read by
        :meth:`read_states`: ``…`` for a host not read yet).

        ``hosts`` maps host ids to names. With ``version`` (from :meth:`policy_version`) an
        enclave read at that version is not read again. ``first_page``: only the first
        :data:`FIRST_PAGE` VMs by name (the first frame of a large enclave), not cached.
        """
        cached = self._vms.get(enclave.id)
        if version is not None and cached is not None and cached[0] == version:
            labels, vms = cached[1], cached[2]
            built = self._built
            if built is not None and built[0] == (enclave.id, version) and built[1] == hosts:
                # A poll at the same version: the rows as built, their states as read.
                detail = self.with_states(built[2])
                self._built = (built[0], built[1], detail)
                return detail
        else:
            policy = self.client.policy
            # SecLabels and VMs at once: the first frame waits for the slower, not the sum.
            seclabels = bounded(
                _collect(policy.iter_seclabels(enclave=enclave.id, limit=LIST_PAGE))
            )
            if first_page:
                found, page = await asyncio.gather(
                    seclabels, bounded(policy.list_vms(enclave=enclave.id, limit=FIRST_PAGE))
                )
                vms, complete = tuple(page.items), page.next_cursor is None
            else:
                found, listed = await asyncio.gather(
                    seclabels,
                    bounded(_collect(policy.iter_vms(enclave=enclave.id, limit=LIST_PAGE))),
                )
                vms, complete = tuple(listed), True
            labels = tuple(found)
            if complete and version is not None:
                # One enclave kept (the one shown): 10,000 VMs are a few MB.
                self._vms = {enclave.id: (version, labels, vms)}
            if not complete:
                return await self._rows(enclave, hosts, labels, vms, complete=False)
        detail = await self._rows(enclave, hosts, labels, vms, complete=True)
        if version is not None:
            self._built = ((enclave.id, version), dict(hosts), detail)
        return detail

    async def _rows(
        self,
        enclave: EnclaveRow,
        hosts: dict[str, str],
        labels: tuple[SecLabelOut, ...],
        vms: tuple[VmOut, ...],
        *,
        complete: bool,
    ) -> EnclaveDetail:
        """The enclave's rows, built in a thread when there are many (the UI loop keeps
        answering keys meanwhile), from copies of what the loop may change."""
        args = (enclave, dict(hosts), labels, vms, dict(self._domains), self.states_read)
        if len(vms) > ROWS_IN_THREAD:
            return await asyncio.to_thread(_build_detail, *args, complete=complete)
        return _build_detail(*args, complete=complete)

    def state_of(self, vm_id: str, host_id: str) -> str:
        """A VM's run state as its host said at the last :meth:`read_states` of it."""
        return _state_of(self._domains, vm_id, host_id)

    def with_states(self, detail: EnclaveDetail) -> EnclaveDetail:
        """``detail`` with the run states last read (``detail`` itself when no host's
        answer changed since its states were taken: a poll of 10,000 VMs walks none)."""
        if detail.states_at == self.states_read:
            return detail
        vms = tuple(
            v if v.state == (s := self.state_of(v.id, v.host_id)) else replace(v, state=s)
            for v in detail.vms
        )
        return replace(detail, vms=vms, states_at=self.states_read)

    async def read_states(self, host_ids: Iterable[str]) -> None:
        """Reads what the given hosts run now (at most :data:`STATE_READS` at a time). A
        host that cannot say shows its VMs as ``unknown`` rather than failing the panel."""
        limit = asyncio.Semaphore(STATE_READS)

        async def one(host_id: str) -> None:
            async with limit:
                try:
                    async with asyncio.timeout(STATE_READ_S):
                        call = self.client.compute.host_domains(host_id)
                        domains = await bounded(call, STATE_READ_S + CALL_TIMEOUT_S)
                except TimeoutError:
                    self._answered(host_id, None)  # the host did not say in time
                    return
                except EnterpriseError as exc:
                    if exc.code in ("unauthenticated", "unreachable"):
                        raise  # XE itself, not the host: the panel shows XE's error
                    self._answered(host_id, None)
                    return
            self._answered(host_id, {d.vm_id: d.run_state for d in domains if d.vm_id})

        try:
            async with asyncio.TaskGroup() as group:
                for host_id in sorted(set(host_ids) - {""}):
                    group.create_task(one(host_id))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None

    def _answered(self, host_id: str, states: dict[str, str] | None) -> None:
        if host_id not in self._domains or self._domains[host_id] != states:
            self._domains[host_id] = states
            self.states_read += 1

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


def _state_of(domains: dict[str, dict[str, str] | None], vm_id: str, host_id: str) -> str:
    if not host_id:
        return "stopped"
    if host_id not in domains:
        return NOT_READ
    states = domains[host_id]
    return "unknown" if states is None else states.get(vm_id, "stopped")


def _build_detail(
    enclave: EnclaveRow,
    hosts: dict[str, str],
    labels: tuple[SecLabelOut, ...],
    vms: tuple[VmOut, ...],
    domains: dict[str, dict[str, str] | None],
    states_at: int,
    *,
    complete: bool,
) -> EnclaveDetail:
    """An enclave's rows by name, each VM's host by name and its run state as ``domains``
    (each host's last answer) say; a pure function (it may run in a thread)."""
    names = {s.id: s.name for s in labels}
    rows = []
    for v in vms:
        where = v.placed_on or v.host or ""
        host = hosts.get(where, where or "(default)")
        label = names.get(v.seclabel or "", "—")
        rows.append(VmRow(v.id, v.name, host, _state_of(domains, v.id, where), label, where))
    return EnclaveDetail(enclave.id, labels, tuple(sorted(rows, key=_vm_key)), complete, states_at)


async def _collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


__all__ = [
    "CALL_TIMEOUT_S",
    "FIRST_PAGE",
    "HOST_FIELDS",
    "LIST_PAGE",
    "NOT_READ",
    "VM_ACTIONS",
    "EnclaveDetail",
    "EnclaveRow",
    "EnterpriseError",
    "Finding",
    "FirstView",
    "HostRow",
    "Overview",
    "VmRow",
    "XeClientFactory",
    "XeData",
    "XeLink",
    "bounded",
    "first_enclave",
    "host_enclaves",
    "xe_client_factory",
]
