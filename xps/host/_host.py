"""The Host facade: one object the XPS server calls for everything about this host."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from xps import msm
from xps.policy import (
    DomainConfig,
    Policy,
    PolicyError,
    PolicySignatureError,
    diff,
    parse_policy,
    policy_from_dict,
    policy_to_dict,
    sample_policy,
    serialize_policy,
    to_msm_objects,
    validate,
    verify_policy,
)

from ._config import HostConfig
from ._convert import commit_details, from_msm_error, jsonable
from ._domains import DomainRow, Domains, SimDomains, XenDomains
from ._errors import (
    HostError,
    HostStateError,
    InvalidArgument,
    NoSeclabel,
    NotFound,
    NotSupported,
    PolicyInvalid,
)
from ._events import EventHub
from ._export import export_document
from ._hardware import Nic, discover_hardware, discover_nics, with_policy_tags
from ._network import NetworkPlan, apply_network, plan_network
from ._policystore import ActivationPending, PolicyStore, StoredPolicy
from ._runner import CommandRunner, RecordingRunner
from ._sampler import StatsSampler
from ._secrets import VncSecrets, vnc_endpoint
from ._simmem import XL_MIGRATE, HostHooks, SimMigrator
from ._violations import LOG_NAME, Labels, ViolationMonitor
from ._xl import parse_xl_info

__all__ = ["Host"]

log = logging.getLogger("xps.host")

_DRAIN_BATCH = 4096
_MAX_DRAIN_BATCHES = 64  # per tick: bounded so one tick never starves the loop
_MISBEHAVIOUR = {m.name.lower(): m for m in msm.Misbehaviour}
_DSIG_NS = b"http://www.w3.org/2000/09/xmldsig#"
_VERB_STATE = {
    "pause": "paused",
    "unpause": "running",
    "shutdown": "shutdown",
    "reboot": "running",
    "destroy": "destroyed",
}


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark the outcome as seen even when nobody awaits it any more (cancelled caller).
    if not task.cancelled() and task.exception() is not None:
        log.warning("policy activation failed after its request was cancelled")


def _findings(findings: list[Any]) -> list[dict[str, Any]]:
    return [jsonable(f) for f in findings]


def _errors_of(findings: list[Any]) -> list[Any]:
    return [f for f in findings if str(getattr(f, "severity", "error")) == "error"]


class Host:
    """The host layer of XPS: policy, domains, hardware, statistics and violations.

    Open with :meth:`open`, close with :meth:`close`. Every method returns JSON-safe
    data and raises :class:`HostError` subclasses. All methods run on the event loop
    that opened the host; blocking file I/O goes to worker threads.
    """

    def __init__(
        self,
        config: HostConfig,
        runner: CommandRunner,
        ctx: msm.Msm | None,
        msm_status: str,
        store: PolicyStore,
    ) -> None:
        self.config = config
        self.runner = runner
        self._msm = ctx
        self._msm_status = msm_status
        self._store = store
        self._events = EventHub()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._policy: Policy | None = None
        self._nics: tuple[Nic, ...] = ()
        self._msm_log: deque[str] = deque(maxlen=2000)
        self._names: dict[int, str] = {0: "Domain-0"}
        self._stopped: set[int] = set()
        self._closed = False
        self._vnc = VncSecrets(config.state_dir)
        self._domains: Domains = (
            SimDomains(ctx)
            if config.backend == "sim" and ctx is not None
            else XenDomains(runner, config.state_dir / "xl", self._vnc)
        )
        if ctx is not None:
            info = ctx.info()
            # MSM timestamps are sim clock (sim) or monotonic (xen) ns: map to epoch ns.
            base = info.now_ns if config.backend == "sim" else time.monotonic_ns()
            self._wall_offset = time.time_ns() - base
        else:
            self._wall_offset = 0
        self._migrator = (
            SimMigrator(
                HostHooks(
                    self._domains,
                    self._migration_rows,
                    self._resolve,
                    self._require_policy,
                    self._lock,
                    self._log_msm,
                    self._domain_event,
                )
            )
            if isinstance(self._domains, SimDomains)
            else None
        )
        self._sampler = StatsSampler(config.state_dir / "stats.json")
        self._monitor = ViolationMonitor(
            config.state_dir / LOG_NAME,
            config.max_violations_kept,
            self._wall_offset,
            lambda domid: self._names.get(domid, f"domain-{domid}"),
            lambda data: self._events.publish({"event": "violations", "data": data}),
        )

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, config: HostConfig, runner: CommandRunner | None = None) -> Host:
        """Opens the host: state directory, MSM backend, policy recovery, background tasks.

        Args:
            config: Host configuration.
            runner: Command runner; None means a :class:`RecordingRunner` for the sim
                backend and a real :class:`CommandRunner` for xen.

        Raises:
            HostError: The state directory is unusable or the stored policy is refused.
        """
        state_dir = config.state_dir
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise HostStateError(f"cannot create state dir {state_dir}: {exc.strerror}") from exc
        store = await asyncio.to_thread(PolicyStore, state_dir)
        if runner is None:
            runner = RecordingRunner() if config.backend == "sim" else CommandRunner()
        ctx: msm.Msm | None
        if config.backend == "sim":
            try:
                ctx = msm.Msm.open_sim(
                    seed=config.seed,
                    host_mem_kb=config.sim_host_mem_kb,
                    host_cpus=config.sim_cpus,
                )
            except msm.MsmError as exc:
                raise from_msm_error(exc, "cannot open the simulated hypervisor") from exc
            status = "enforcing"
        else:
            try:
                ctx = msm.Msm.open_xen()
                status = "enforcing"
            except (msm.NoXen, msm.NoMsm, msm.VersionMismatch) as exc:
                ctx, status = None, f"unavailable: {exc}"
        host = cls(config, runner, ctx, status, store)
        try:
            await host._start()
        except BaseException:
            await host.close()
            raise
        return host

    async def _start(self) -> None:
        root = self.config.root_prefix
        self._nics = await asyncio.to_thread(discover_nics, root)
        await self._sampler.load()
        if self._store.recovered:
            self._log_msm(
                f"policy store recovered an interrupted activation ({self._store.recovered})"
            )
        if self._store.has("active"):
            stored = await asyncio.to_thread(self._store.get, "active")
            policy = self._parse_stored(stored)
            self._commit_msm(policy)
            await self._policy_installed(policy, stored.generation or 0)
            # Bridges survive in the OVS database, iptables and dnsmasq state do not.
            try:
                problems = await self._apply_network(self._network_plan(policy))
            except HostError as exc:
                problems = [exc.message]
            for problem in problems:
                log.error("Network configuration at start-up: %s", problem)
        else:
            initial = self.config.initial
            if initial != "none":
                if initial == "sample":
                    policy = sample_policy()
                else:
                    try:
                        raw = await asyncio.to_thread(Path(initial).read_bytes)
                    except OSError as exc:
                        raise HostStateError(
                            f"cannot read the initial policy {initial}: {exc.strerror}"
                        ) from exc
                    policy = self._parse_xml(raw)
                await self._activate(policy, serialize_policy(policy), "initial")
        if self._msm is not None and self.config.backend == "sim":
            self._spawn(self._sim_driver(), "sim-driver")
        elif self._msm is not None:
            self._spawn(self._drain_loop(), "violations")
        self._spawn(self._stats_loop(), "stats")

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=f"xps-host-{name}"))

    async def close(self) -> None:
        """Stops the background tasks, saves the statistics, closes the MSM context."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            if self._msm is not None:
                self._drain()
        with contextlib.suppress(OSError):
            await self._sampler.save()
        self._monitor.close()
        if self._msm is not None:
            self._msm.close()
        self._events.clear()

    async def __aenter__(self) -> Host:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ events

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Registers ``callback(event)``; returns a function that unsubscribes it.

        Callbacks run on the event loop and must not block; an exception in one is
        logged and does not affect the host or other subscribers.
        """
        return self._events.subscribe(callback)

    # ------------------------------------------------------------------ helpers

    def _log_msm(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        self._msm_log.append(f"{stamp} MSM: {text}")

    def _require_msm(self) -> msm.Msm:
        if self._msm is None:
            raise NotSupported(f"the MSM module is {self._msm_status}")
        return self._msm

    def _require_policy(self) -> Policy:
        if self._policy is None:
            raise NotFound("no policy is active")
        return self._policy

    def _parse_xml(self, data: bytes) -> Policy:
        try:
            if _DSIG_NS in data:
                return self._verified(data)
            return parse_policy(data)
        except PolicyError as exc:
            details = {
                "code": exc.code,
                "line": getattr(exc, "line", 0),
                "column": getattr(exc, "column", 0),
            }
            raise PolicyInvalid(f"policy refused: {exc.message}", details=[details]) from exc

    def _verified(self, data: bytes) -> Policy:
        # A signed policy (the enterprise store signs every slice it sends) is taken only
        # when its signature verifies against the host's policy trust; the policy is then
        # built from the signed content alone, and stored without the signature. Text
        # that merely names the XML-DSig namespace, unsigned, parses as before.
        trust = self.config.policy_trust
        if trust is not None:
            try:
                return verify_policy(data, trust).policy
            except PolicySignatureError as exc:
                if exc.code != "policy.signature.missing":
                    raise
            return parse_policy(data)
        try:
            return parse_policy(data)
        except PolicyError:
            raise PolicySignatureError(
                "a signed policy needs a policy trust on this host to verify it against",
                code="policy.signature.no-trust",
            ) from None

    def _parse_stored(self, stored: StoredPolicy) -> Policy:
        try:
            return parse_policy(stored.data)
        except PolicyError as exc:
            raise HostStateError(f"stored {stored.which} policy is unreadable: {exc}") from exc

    def _commit_msm(self, policy: Policy) -> None:
        if self._msm is None:
            return
        try:
            # Domains are known to the MSM by UUID only: their names go with the
            # objects, so that a refusal names them.
            names = {d.id: d.name for d in policy.domains}
            self._msm.apply(to_msm_objects(policy), empty=True, names=names)
        except msm.CommitRefused as exc:
            raise PolicyInvalid(
                f"the MSM refused the policy: {exc}",
                details=[commit_details(exc, policy, self._names)],
            ) from exc
        except msm.MsmError as exc:
            raise from_msm_error(exc, "the MSM refused the policy") from exc

    async def _policy_installed(self, policy: Policy, generation: int) -> None:
        self._policy = policy
        self._monitor.set_labels(
            {s.id: Labels(s.name, self._name_of(policy, s.profile)) for s in policy.seclabels}
        )
        self._log_msm(f"policy {policy.name!r} generation {generation} in force")

    @staticmethod
    def _name_of(policy: Policy, key: UUID | None) -> str:
        if key is None:
            return ""
        found = policy.find(key)
        return str(getattr(found, "name", "")) if found is not None else ""

    def _network_plan(self, policy: Policy) -> NetworkPlan:
        return plan_network(
            policy,
            self._nics,
            simulated=self.config.backend == "sim",
            sysfs=self.config.root_prefix / "sys",
        )

    async def _apply_network(self, plan: NetworkPlan) -> list[str]:
        if self.config.backend == "sim":
            dnsmasq = self.config.state_dir / "net" / "xenon-policy.dnsmasq"
        else:
            dnsmasq = self.config.root_prefix / "etc/dnsmasq.d/xenon-policy"
        return await apply_network(plan, self.runner, self.config.state_dir / "net", dnsmasq)

    async def _activate(
        self, policy: Policy, data: bytes, source: Literal["staged", "previous", "initial"]
    ) -> dict[str, Any]:
        findings = validate(policy)
        errors = _errors_of(findings)
        if errors:
            raise PolicyInvalid(
                f"policy {policy.name!r} has {len(errors)} validation error(s)",
                details=_findings(findings),
            )
        if self._msm is None:
            raise NotSupported(f"cannot enforce a policy: the MSM module is {self._msm_status}")
        plan = self._network_plan(policy)
        old = self._policy
        self._commit_msm(policy)
        try:
            generation = await asyncio.to_thread(self._store.activate, data, source)
        except ActivationPending:
            # Decided on disk: the new policy stays in force in the MSM too.
            await self._policy_installed(policy, self._store.generation + 1)
            raise
        except Exception:
            # Nothing decided on disk: disk and MSM must agree, so the old policy returns.
            with contextlib.suppress(Exception):
                self._require_msm().apply(to_msm_objects(old) if old else [], empty=True)
            raise
        await self._policy_installed(policy, generation)
        network_errors = await self._apply_network(plan)
        stored = await asyncio.to_thread(self._store.get, "active")
        result = {"generation": generation, "sha256": stored.sha256}
        if network_errors:
            result["network_errors"] = network_errors
        self._events.publish({"event": "policy", "data": dict(result)})
        return result

    # ------------------------------------------------------------------ domains

    async def _rows(self, *, quiet: bool = False) -> tuple[list[DomainRow], int]:
        rows, clock = await self._domains.rows(quiet=quiet)
        for row in rows:
            self._names[row.domid] = row.name
        return rows, clock

    async def _resolve(self, domain: int | str) -> DomainRow:
        if isinstance(domain, bool) or not isinstance(domain, int | str):
            raise InvalidArgument("domain must be a domid (int) or a domain name (str)")
        rows, _ = await self._rows()
        for row in rows:
            if (isinstance(domain, int) and row.domid == domain) or row.name == domain:
                return row
        raise NotFound(f"no running domain {domain!r}")

    def _row_dict(self, row: DomainRow) -> dict[str, Any]:
        policy = self._policy
        seclabel = row.seclabel
        tag = row.tag
        if seclabel is None and policy is not None and row.domid != 0:
            # xl does not know MSM labels: take them from the active policy by name.
            dom = next((d for d in policy.domains if d.name == row.name), None)
            if dom is not None and dom.seclabel is not None:
                seclabel = dom.seclabel
                found = policy.find(seclabel)
                tag = getattr(found, "tag", None)
        return {
            "domid": row.domid,
            "name": row.name,
            "uuid": str(row.uuid) if row.uuid is not None else None,
            "state": row.state,
            "run_state": row.run_state,
            "mem_mb": row.mem_kb // 1024,
            "vcpus": row.vcpus,
            "cpu_s": round(row.cpu_ns / 1e9, 3),
            "seclabel": str(seclabel) if seclabel is not None else None,
            "seclabel_name": self._name_of(policy, seclabel) if policy else "",
            "tag": str(tag) if tag is not None else None,
            "tag_name": self._name_of(policy, tag) if policy else "",
            "stopped_by_msm": row.stopped_by_msm,
            "violations": row.violations,
        }

    async def domain_run_states(self) -> dict[str, Any]:
        """Live domains with their xl state; also the `xl list` text."""
        rows, _ = await self._rows()
        return {
            "domains": [self._row_dict(r) for r in rows],
            "xl_list": self._domains.xl_list_text(rows),
        }

    async def vnc_info(self, domain: int | str, include_password: bool = False) -> dict[str, Any]:
        """Where a domain's VNC console listens (:func:`vnc_endpoint`); no password unless asked.

        ``domain`` is a running domain (domid or name) or a domain of the active policy.
        ``include_password`` (generated and stored now if the domain has none yet) must be
        allowed by the server only to an authorized client of the read-write socket.
        """
        if isinstance(domain, bool) or not isinstance(domain, int | str):
            raise InvalidArgument("domain must be a domid (int) or a domain name (str)")
        if not isinstance(include_password, bool):
            raise InvalidArgument("include_password must be a boolean")
        rows, _ = await self._rows()
        row = next((r for r in rows if domain in (r.domid, r.name)), None)
        if row is None and isinstance(domain, int):
            raise NotFound(f"no running domain {domain!r}")
        name = row.name if row is not None else str(domain)
        policy = self._policy
        dom = next((d for d in policy.domains if d.name == name), None) if policy else None
        if dom is None:
            raise NotFound(f"the active policy does not configure domain {name!r}")
        port = None
        if dom.vnc and dom.vnc_display is None and row is not None and row.run_state != "shutdown":
            port = await self._domains.vnc_port(row.domid)
        out = vnc_endpoint(dom, row.domid if row is not None else None, port)
        if include_password:
            out["password"] = None
            if dom.vnc:
                out["password"] = await asyncio.to_thread(self._vnc.password, dom.id, dom.name)
                log.info("VNC password of domain %s handed out on request", dom.name)
        return out

    async def vnc_credentials(self, domain: int | str) -> dict[str, Any]:
        """:meth:`vnc_info` with ``"password"``: for authorized read-write clients only."""
        return await self.vnc_info(domain, include_password=True)

    async def create_domain(self, name: str) -> dict[str, Any]:
        """Creates and starts the domain ``name`` configured in the active policy."""
        if not isinstance(name, str) or not name:
            raise InvalidArgument("name must be a non-empty string")
        async with self._lock:
            policy = self._require_policy()
            dom: DomainConfig | None = next((d for d in policy.domains if d.name == name), None)
            if dom is None:
                raise NotFound(f"the active policy has no domain {name!r}")
            if dom.seclabel is None:
                raise NoSeclabel(f"domain {name!r} has no SecLabel and may not run")
            domid = await self._domains.create(policy, dom)
        self._names[domid] = name
        self._log_msm(
            f"domain {domid} ({name}) started with SecLabel {self._name_of(policy, dom.seclabel)}"
        )
        self._domain_event(domid, name, "running", "created")
        return {"domid": domid}

    def _domain_event(self, domid: int, name: str, run_state: str, reason: str) -> None:
        self._events.publish(
            {
                "event": "domain",
                "data": {"domid": domid, "name": name, "run_state": run_state, "reason": reason},
            }
        )

    async def _act(self, verb: str, domain: int | str) -> dict[str, Any]:
        row = await self._resolve(domain)
        if row.domid == 0:
            raise InvalidArgument(f"refusing to {verb} Domain-0")
        await self._domains.action(verb, row.domid)
        if verb == "destroy":
            self._stopped.discard(row.domid)
            run_state = "destroyed"
        else:
            try:
                run_state = (await self._resolve(row.domid)).run_state
            except NotFound:
                run_state = _VERB_STATE[verb]
        self._log_msm(f"domain {row.domid} ({row.name}): {verb}")
        self._domain_event(row.domid, row.name, run_state, verb)
        return {"domid": row.domid, "run_state": run_state}

    async def pause_domain(self, domain: int | str) -> dict[str, Any]:
        """Pauses a domain (by domid or name)."""
        return await self._act("pause", domain)

    async def unpause_domain(self, domain: int | str) -> dict[str, Any]:
        """Unpauses a domain; refused while it has unaddressed MSM violations."""
        return await self._act("unpause", domain)

    async def shutdown_domain(self, domain: int | str) -> dict[str, Any]:
        """Shuts a domain down (it stays listed until destroyed)."""
        return await self._act("shutdown", domain)

    async def reboot_domain(self, domain: int | str) -> dict[str, Any]:
        """Reboots a domain in place."""
        return await self._act("reboot", domain)

    async def destroy_domain(self, domain: int | str) -> dict[str, Any]:
        """Destroys a domain and frees (scrubs) its memory."""
        return await self._act("destroy", domain)

    async def address_violations(self, domain: int | str) -> dict[str, Any]:
        """Marks a domain's violations as addressed (count 0; it stays paused)."""
        ctx = self._require_msm()
        row = await self._resolve(domain)
        try:
            ctx.reset_violations(row.domid)
        except msm.MsmError as exc:
            raise from_msm_error(exc, f"cannot reset violations of {row.name}") from exc
        self._stopped.discard(row.domid)
        self._log_msm(f"domain {row.domid} ({row.name}): violations addressed")
        self._domain_event(row.domid, row.name, row.run_state, "violations_addressed")
        return {"domid": row.domid, "violations": 0}

    async def set_misbehaviour(
        self, domain: int | str, kind: str | int, per_million: int
    ) -> dict[str, Any]:
        """Makes a sim domain misbehave (out_of_profile, rate_burst or cross_tag)."""
        if self.config.backend != "sim":
            raise NotSupported("misbehaviour injection exists only on the sim backend")
        ctx = self._require_msm()
        if isinstance(kind, str) and kind.lower().replace("-", "_") in _MISBEHAVIOUR:
            member = _MISBEHAVIOUR[kind.lower().replace("-", "_")]
        elif isinstance(kind, int) and not isinstance(kind, bool) and kind in set(msm.Misbehaviour):
            member = msm.Misbehaviour(kind)
        else:
            raise InvalidArgument(
                f"unknown misbehaviour {kind!r}; use one of {sorted(_MISBEHAVIOUR)}"
            )
        if (
            isinstance(per_million, bool)
            or not isinstance(per_million, int)
            or not (0 <= per_million <= 1_000_000)
        ):
            raise InvalidArgument("per_million must be an integer within 0..1000000")
        row = await self._resolve(domain)
        try:
            ctx.set_misbehaviour(row.domid, member, per_million)
        except msm.MsmError as exc:
            raise from_msm_error(exc, f"cannot set misbehaviour of {row.name}") from exc
        return {}

    # ------------------------------------------------------------------ migration

    async def _migration_rows(self) -> list[DomainRow]:
        rows, _ = await self._rows(quiet=True)
        return rows

    def _sim_migrator(self) -> SimMigrator:
        if self._migrator is None:
            raise NotSupported(XL_MIGRATE)
        return self._migrator

    async def migrate_out(self, domain: int | str) -> dict[str, Any]:
        """Source: opens a live move of a running domain (sim backend; see SimMigrator)."""
        return await self._sim_migrator().start_out(domain)

    async def migrate_out_read(self, migration: str, chunk: int) -> dict[str, Any]:
        """Source: one chunk of the domain's memory image, as it is now."""
        return await self._sim_migrator().read(migration, chunk)

    async def migrate_out_dirty(self, migration: str, pause: bool = False) -> dict[str, Any]:
        """Source: chunks written since read; ``pause`` stops the domain first."""
        return await self._sim_migrator().dirty(migration, pause)

    async def migrate_out_finish(self, migration: str, outcome: str) -> dict[str, Any]:
        """Source: ``done`` destroys the moved domain, ``abort`` unpauses it."""
        return await self._sim_migrator().finish_out(migration, outcome)

    async def migrate_in(
        self, migration: str, uuid: str, name: str, image_size: int, chunk_size: int
    ) -> dict[str, Any]:
        """Destination: opens the receipt of a domain the active policy configures."""
        return await self._sim_migrator().start_in(migration, uuid, name, image_size, chunk_size)

    async def migrate_in_write(self, migration: str, chunk: int, data: str) -> dict[str, Any]:
        """Destination: one chunk (base64) of the incoming image."""
        return await self._sim_migrator().write(migration, chunk, data)

    async def migrate_in_finish(
        self, migration: str, digest: str | None = None, abort: bool = False
    ) -> dict[str, Any]:
        """Destination: digest check, MSM admission, image restored, domain running."""
        return await self._sim_migrator().finish_in(migration, digest, abort)

    # ------------------------------------------------------------------ read-only

    async def hypervisor_info(self) -> dict[str, Any]:
        """Versions, MSM status, policy generation and host resources."""
        policy = self._policy
        out: dict[str, Any] = {
            "xen_version": "unknown",
            "msm_version": None,
            "msm_status": self._msm_status,
            "backend": self.config.backend,
            "policy_generation": self._store.generation,
            "policy_id": str(policy.uuid) if policy else None,
            "policy_name": policy.name if policy else None,
            "hostname": self.config.hostname or socket.gethostname(),
            "cpus": 0,
            "mem_kb": 0,
            "free_mem_kb": 0,
            "uptime_s": 0.0,
        }
        if self._msm is not None:
            info = self._msm.info()
            major, minor = info.interface_version >> 16, info.interface_version & 0xFFFF
            out["msm_version"] = f"{major}.{minor}"
            if self.config.backend == "sim":
                out.update(
                    xen_version="4.17.0-xenon-sim",
                    cpus=info.host_cpus,
                    mem_kb=info.host_mem_kb,
                    free_mem_kb=info.free_mem_kb,
                    uptime_s=round(info.now_ns / 1e9, 3),
                )
                return out
        out.update(await self._xl_info())
        return out

    async def _xl_info(self, *, quiet: bool = False) -> dict[str, Any]:
        try:
            text = (await self.runner.run(["xl", "info"], quiet=quiet)).stdout
        except HostError as exc:
            log.warning("xl info failed: %s", exc.message)
            return {}
        out = parse_xl_info(text)
        with contextlib.suppress(OSError, ValueError, IndexError):
            uptime = (self.config.root_prefix / "proc/uptime").read_text()
            out["uptime_s"] = float(uptime.split()[0])
        return out

    async def log_msgs(self, limit: int = 200) -> dict[str, Any]:
        """The most recent MSM log lines, oldest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidArgument("limit must be an integer within 1..10000")
        lines = list(self._msm_log)
        if self.config.backend == "xen":
            path = self.config.root_prefix / "var/log/xen/msm-log-msgs.log"
            with contextlib.suppress(OSError):
                text = await asyncio.to_thread(path.read_text, "utf-8", "replace")
                lines = text.splitlines() + lines
        return {"lines": lines[-limit:]}

    async def hardware(self) -> dict[str, Any]:
        """Discovers the host hardware now; tags come from the active policy's inventory."""
        root = self.config.root_prefix
        hw = await asyncio.to_thread(discover_hardware, root)
        self._nics = await asyncio.to_thread(discover_nics, root)
        if self._policy is not None:
            hw = with_policy_tags(hw, self._policy.hardware)
        return {"hardware": jsonable(hw), "nics": [n.to_dict() for n in self._nics]}

    async def get_policy(self, which: str = "active") -> dict[str, Any]:
        """One stored policy as XML and as a dict (staged: NotFound when nothing is staged)."""
        if which not in ("active", "staged", "previous"):
            raise InvalidArgument("which must be active, staged or previous")
        stored = await asyncio.to_thread(self._store.get, which)  # type: ignore[arg-type]
        policy = self._parse_stored(stored)
        return {
            "which": which,
            "generation": stored.generation,
            "sha256": stored.sha256,
            "xml": stored.data.decode("utf-8"),
            "policy": policy_to_dict(policy),
        }

    async def staged_diff(self) -> dict[str, Any]:
        """Differences from the active policy to the staged one (empty when none staged)."""
        active = self._policy or Policy(name="(none)")
        if not self._store.has("staged"):
            return {"diff": diff(active, active).to_dict(), "staged": False}
        staged = self._parse_stored(await asyncio.to_thread(self._store.get, "staged"))
        return {"diff": diff(active, staged).to_dict(), "staged": True}

    async def export_policy(self, signed: bool = True, template: bool = False) -> dict[str, Any]:
        """The active policy (or its hardware-free template) as XML, signed on request."""
        policy = self._require_policy()
        cfg = self.config
        if signed and (cfg.sign_key is None or cfg.sign_cert is None):
            raise NotSupported("signed export needs sign_key and sign_cert in the host config")
        xml = await asyncio.to_thread(
            export_document,
            policy,
            signed=signed,
            template=template,
            key_file=cfg.sign_key,
            cert_file=cfg.sign_cert,
        )
        return {"xml": xml.decode("utf-8"), "signed": signed}

    async def stats(self) -> dict[str, Any]:
        """The latest statistics sample (taken now when none exists yet)."""
        if self._sampler.latest is None:
            return await self._sample()
        return self._sampler.latest

    async def stats_history(self, range: str = "10m", domain: str | None = None) -> dict[str, Any]:
        """Tiered history: 10m (5 s steps), 2h (1 min), 1d and 1w (1 h)."""
        if domain is not None and not isinstance(domain, str):
            raise InvalidArgument("domain must be a name or null")
        return self._sampler.history.history(range, domain)

    async def violations(self, since_seq: int = 0, limit: int = 1000) -> dict[str, Any]:
        """Violations with ``seq > since_seq`` still kept in memory, oldest first."""
        return self._monitor.since(since_seq, limit)

    # ------------------------------------------------------------------ policy changes

    async def stage_policy(
        self, xml: str | None = None, policy: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Validates and stages a policy given as XML text or as its dict form."""
        if (xml is None) == (policy is None):
            raise InvalidArgument("give exactly one of xml and policy")
        if xml is not None:
            if not isinstance(xml, str):
                raise InvalidArgument("xml must be a string")
            parsed = self._parse_xml(xml.encode("utf-8"))
        else:
            if not isinstance(policy, dict):
                raise InvalidArgument("policy must be an object")
            try:
                parsed = policy_from_dict(policy)
            except PolicyError as exc:
                raise PolicyInvalid(
                    f"policy refused: {exc.message}", details=[{"code": exc.code}]
                ) from exc
        findings = validate(parsed)
        errors = _errors_of(findings)
        if errors:
            raise PolicyInvalid(
                f"policy {parsed.name!r} has {len(errors)} validation error(s)",
                details=_findings(findings),
            )
        data = serialize_policy(parsed)
        async with self._lock:
            sha = await asyncio.to_thread(self._store.stage, data)
        return {"staged": True, "findings": _findings(findings), "sha256": sha}

    async def activate_policy(self) -> dict[str, Any]:
        """Makes the staged policy active: one MSM transaction, atomic on disk, network applied."""
        return await self._shielded(self._activate_from("staged"))

    async def rollback_policy(self) -> dict[str, Any]:
        """Makes the previous policy active again (the current one becomes previous)."""
        return await self._shielded(self._activate_from("previous"))

    async def _activate_from(self, which: Literal["staged", "previous"]) -> dict[str, Any]:
        async with self._lock:
            if not self._store.has(which):
                what = "staged policy to activate" if which == "staged" else "previous policy"
                raise HostStateError(f"there is no {what}")
            stored = await asyncio.to_thread(self._store.get, which)
            policy = self._parse_stored(stored)
            return await self._activate(policy, stored.data, which)

    @staticmethod
    async def _shielded(coro: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
        # A cancelled request (client gone) must not stop an activation half-way
        # between the MSM and the disk: the inner task always runs to its end.
        task = asyncio.ensure_future(coro)
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    # ------------------------------------------------------------------ background

    async def _drain_yielding(self, check_all: bool = False) -> None:
        # One batch at a time with a yield in between: a violation storm (a batch costs
        # ~10 ms of dicts, log and encoding) never holds requests back for a whole tick.
        ctx = self._msm
        if ctx is None:
            return
        touched: set[int] = set()
        for _ in range(_MAX_DRAIN_BATCHES):
            before = self._monitor.last_seq
            touched |= self._monitor.drain(ctx, _DRAIN_BATCH, 1)
            if self._monitor.last_seq - before < _DRAIN_BATCH:
                break
            await asyncio.sleep(0)
        self._check_stopped(ctx, touched, check_all)

    def _drain(self) -> None:
        ctx = self._msm
        if ctx is not None:
            touched = self._monitor.drain(ctx, _DRAIN_BATCH, _MAX_DRAIN_BATCHES)
            self._check_stopped(ctx, touched, False)

    def _check_stopped(self, ctx: msm.Msm, touched: set[int], check_all: bool) -> None:
        if check_all:  # records may have been dropped: look at every domain
            touched.update(d.domid for d in ctx.domains())
        for domid in touched - self._stopped:
            try:
                info = ctx.domain(domid)
            except msm.MsmError:
                continue
            if info.stopped_by_msm:
                self._stopped.add(domid)
                self._log_msm(
                    f"domain {domid} ({info.name}) stopped: maximum violations reached "
                    f"({info.violations})"
                )
                self._domain_event(domid, info.name, "paused", "max_violations")

    async def _sim_driver(self) -> None:
        ctx = self._require_msm()
        slice_s = self.config.sim_slice_ms / 1000
        slice_ns = self.config.sim_slice_ms * 1_000_000
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += slice_s
            try:
                counts = ctx.run(slice_ns)
                await self._drain_yielding(
                    check_all=counts.domains_stopped > 0 and counts.ring_dropped > 0
                )
            except Exception:
                log.exception("simulation tick failed")
            delay = deadline - loop.time()
            if delay < -1.0:
                deadline = loop.time()  # fell far behind (a stalled loop): do not catch up
            await asyncio.sleep(max(delay, 0.0))

    async def _drain_loop(self) -> None:
        while True:
            try:
                await self._drain_yielding()
            except Exception:
                log.exception("violation drain failed")
            await asyncio.sleep(0.02)

    async def _sample(self) -> dict[str, Any]:
        rows, clock = await self._rows(quiet=True)
        if self._msm is not None and self.config.backend == "sim":
            info = self._msm.info()
            cpus, mem, free = info.host_cpus, info.host_mem_kb, info.free_mem_kb
        else:
            facts = await self._xl_info(quiet=True)
            cpus = int(facts.get("cpus", 0)) or (os.cpu_count() or 1)
            mem, free = int(facts.get("mem_kb", 0)), int(facts.get("free_mem_kb", 0))
        result = self._sampler.sample(rows, clock, host_cpus=cpus, mem_kb=mem, free_mem_kb=free)
        self._events.publish({"event": "stats", "data": result})
        return result

    async def _stats_loop(self) -> None:
        interval = self.config.stats_interval_s
        while True:
            try:
                await self._sample()
                if self._sampler.count and self._sampler.count % self.config.stats_flush_every == 0:
                    await self._sampler.save()
            except Exception:
                log.exception("statistics sample failed")
            await asyncio.sleep(interval)
