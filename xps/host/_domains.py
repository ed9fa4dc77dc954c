"""Domain lifecycle backends: the simulated hypervisor (through xps.msm) and Xen (through xl)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from uuid import UUID

from xps import msm
from xps.files import write_atomic
from xps.policy import DomainConfig, Policy, PolicyError, to_msm_domain
from xps.policy.generators import GeneratorError, xl_config

from ._convert import from_msm_error
from ._errors import CommandFailed, HostStateError, NotFound, PolicyInvalid
from ._runner import CommandRunner
from ._secrets import VncSecrets
from ._xl import XlDomain, format_xl_list, parse_xl_list, run_state_of, state_string

__all__ = ["DomainRow", "Domains", "SimDomains", "XenDomains"]

_NIL = UUID(int=0)


@dataclass(frozen=True)
class DomainRow:
    """One live domain as the backends report it.

    ``seclabel``/``tag`` are None when the backend does not know them (dom0, or xl);
    ``clock_ns`` is the time base of ``cpu_ns`` (sim clock or monotonic).
    """

    domid: int
    name: str
    uuid: UUID | None
    state: str
    mem_kb: int
    vcpus: int
    cpu_ns: int
    seclabel: UUID | None = None
    tag: UUID | None = None
    stopped_by_msm: bool = False
    violations: int = 0
    created_ns: int = 0

    @property
    def run_state(self) -> str:
        """running, paused or shutdown."""
        return run_state_of(self.state)


class Domains(Protocol):
    """What the host needs from a domain backend."""

    async def rows(self, *, quiet: bool = False) -> tuple[list[DomainRow], int]:
        """Live domains in domid order, and the clock (ns) they were read at."""
        ...

    def xl_list_text(self, rows: list[DomainRow]) -> str:
        """`xl list` text for these rows."""
        ...

    async def create(self, policy: Policy, dom: DomainConfig) -> int:
        """Creates and starts a domain of the active policy; returns its domid."""
        ...

    async def action(self, verb: str, domid: int) -> None:
        """pause, unpause, shutdown, reboot or destroy one domain."""
        ...

    async def vnc_port(self, domid: int) -> int | None:
        """The TCP port a running domain's VNC server was given, when the backend knows it."""
        ...


class SimDomains:
    """Domains of the simulated hypervisor, driven through the MSM context."""

    def __init__(self, ctx: msm.Msm) -> None:
        self._msm = ctx

    async def rows(self, *, quiet: bool = False) -> tuple[list[DomainRow], int]:
        now = self._msm.info().now_ns
        return [self.row(d) for d in self._msm.domains()], now

    @staticmethod
    def row(d: msm.DomainInfo) -> DomainRow:
        """Converts one MSM domain record."""
        state = state_string(
            running=d.state == msm.RunState.RUNNING,
            paused=d.state == msm.RunState.PAUSED,
            shutdown=d.state == msm.RunState.SHUTDOWN,
            reason=d.shutdown_reason,
        )
        return DomainRow(
            domid=d.domid,
            name=d.name,
            uuid=d.uuid,
            state=state,
            mem_kb=d.cur_mem_kb,
            vcpus=d.vcpus_online,
            cpu_ns=d.cpu_ns,
            seclabel=d.seclabel if d.seclabel != _NIL else None,
            tag=d.tag if d.tag != _NIL else None,
            stopped_by_msm=d.stopped_by_msm,
            violations=d.violations,
            created_ns=d.created_ns,
        )

    def xl_list_text(self, rows: list[DomainRow]) -> str:
        return format_xl_list(
            XlDomain(r.name, r.domid, r.mem_kb // 1024, r.vcpus, r.state, r.cpu_ns / 1e9)
            for r in rows
        )

    async def create(self, policy: Policy, dom: DomainConfig, *, paused: bool = False) -> int:
        try:
            cfg = to_msm_domain(dom, paused=paused)
        except PolicyError as exc:
            raise PolicyInvalid(f"cannot start {dom.name}: {exc.message}") from exc
        try:
            return self._msm.create_domain(cfg)
        except msm.MsmError as exc:
            raise from_msm_error(exc, f"cannot start {dom.name}") from exc

    def row_of(self, domid: int) -> DomainRow:
        """The row of one live domain, read now."""
        try:
            return self.row(self._msm.domain(domid))
        except msm.MsmError as exc:
            raise from_msm_error(exc, f"cannot read domain {domid}") from exc

    async def action(self, verb: str, domid: int) -> None:
        ops = {
            "pause": self._msm.pause,
            "unpause": self._msm.unpause,
            "shutdown": self._msm.shutdown,
            "reboot": self._msm.reboot,
            "destroy": self._msm.destroy,
        }
        try:
            ops[verb](domid)
        except msm.MsmError as exc:
            raise from_msm_error(exc, f"cannot {verb} domain {domid}") from exc

    async def vnc_port(self, domid: int) -> int | None:
        return None  # simulated guests have no display


class XenDomains:
    """Domains of a real Xen host, driven through `xl` (each command logged by the runner).

    Args:
        runner: Runs xl.
        cfg_dir: Where generated xl configuration files are written (0600; they hold
            the VNC password of a domain with VNC).
        secrets: The VNC password store.
    """

    def __init__(self, runner: CommandRunner, cfg_dir: Path, secrets: VncSecrets) -> None:
        self._runner = runner
        self._cfg_dir = cfg_dir
        self._secrets = secrets
        self._last_text = ""

    async def rows(self, *, quiet: bool = False) -> tuple[list[DomainRow], int]:
        result = await self._runner.run(["xl", "list"], quiet=quiet)
        now = time.monotonic_ns()
        self._last_text = result.stdout
        rows = [
            DomainRow(
                domid=d.domid,
                name=d.name,
                uuid=None,
                state=d.state,
                mem_kb=d.mem_mb * 1024,
                vcpus=d.vcpus,
                cpu_ns=int(d.cpu_s * 1e9),
            )
            for d in parse_xl_list(result.stdout)
        ]
        return rows, now

    def xl_list_text(self, rows: list[DomainRow]) -> str:
        return self._last_text

    async def create(self, policy: Policy, dom: DomainConfig) -> int:
        password = None
        if dom.vnc:
            password = await asyncio.to_thread(self._secrets.password, dom.id, dom.name)
        try:
            text = xl_config(policy, dom.name, vnc_password=password)
        except GeneratorError as exc:
            raise PolicyInvalid(f"cannot configure {dom.name}: {exc}") from exc
        path = self._cfg_dir / f"{dom.name}.cfg"
        await asyncio.to_thread(self._write_config, path, text.encode())
        await self._runner.run(["xl", "create", str(path)])
        rows, _ = await self.rows()
        for row in rows:
            if row.name == dom.name:
                return row.domid
        raise HostStateError(f"xl create {dom.name} succeeded but the domain is not listed")

    def _write_config(self, path: Path, data: bytes) -> None:
        self._cfg_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self._cfg_dir, 0o700)  # an older, wider directory is narrowed too
        write_atomic(path, data, mode=0o600)

    async def vnc_port(self, domid: int) -> int | None:
        # libxl records the port QEMU's VNC server got (`xl vncviewer` reads it too).
        with contextlib.suppress(CommandFailed, ValueError):
            result = await self._runner.run(
                ["xenstore-read", f"/local/domain/{domid}/console/vnc-port"], quiet=True
            )
            port = int(result.stdout.strip())
            if 0 < port < 65536:
                return port
        return None

    async def action(self, verb: str, domid: int) -> None:
        try:
            await self._runner.run(["xl", verb, str(domid)])
        except CommandFailed as exc:
            if "invalid domain" in exc.message.lower() or "not found" in exc.message.lower():
                raise NotFound(f"no domain {domid}: {exc.message}") from exc
            raise
