"""The domain service: run states, lifecycle, VNC endpoints, misbehaviour, live migration."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from xps import msm
from xps.policy import DomainConfig
from xps.protocol import (
    DomainAction,
    DomainCreated,
    DomainInfo,
    DomainRunStates,
    Empty,
    MigrationChunk,
    MigrationDirty,
    MigrationIn,
    MigrationInFinished,
    MigrationOut,
    MigrationOutDone,
    MigrationWritten,
    ViolationsAddressed,
    VncCredentials,
    VncInfo,
)

from ._convert import from_msm_error
from ._domains import DomainRow, Domains, SimDomains, XenDomains
from ._errors import InvalidArgument, NoSeclabel, NotFound, NotSupported
from ._secrets import VncSecrets, vnc_endpoint
from ._simmem import XL_MIGRATE, HostHooks, SimMigrator
from ._svc_state import HostState, name_of

__all__ = ["DomainService"]

log = logging.getLogger("xps.host")

_MISBEHAVIOUR = {m.name.lower(): m for m in msm.Misbehaviour}
_VERB_STATE = {
    "pause": "paused",
    "unpause": "running",
    "shutdown": "shutdown",
    "reboot": "running",
    "destroy": "destroyed",
}


def _check_domain(domain: object) -> None:
    if isinstance(domain, bool) or not isinstance(domain, int | str):
        raise InvalidArgument("domain must be a domid (int) or a domain name (str)")


USER_MAX = 64
NOTE_MAX = 500


def checked_text(what: str, value: object, max_len: int, *, required: bool = False) -> str | None:
    """A client-given user name or note, for the host's log: None when absent (unless
    ``required``), else 1..``max_len`` printable characters with no control character
    (a note or name can never forge a log line or a terminal sequence)."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{what} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidArgument(f"{what} is longer than {max_len} characters")
    if not value.isprintable():
        raise InvalidArgument(f"{what} must not contain control characters")
    return value.strip()


def origin_of(user: str | None) -> str:
    """The ``origin`` of a domain event a client caused (``console alice`` or ``client``)."""
    return f"console {user}" if user else "client"


def _said(user: str | None, note: str | None) -> str:
    """`` by alice: "note"`` for the MSM log (both checked by :func:`checked_text`)."""
    text = f" by {user}" if user else ""
    return f'{text}: "{note}"' if note else text


class DomainService:
    """The host's domains through its backend: the sim hypervisor or ``xl``."""

    def __init__(self, state: HostState) -> None:
        self._state = state
        cfg = state.config
        self.vnc = VncSecrets(cfg.state_dir)
        self.backend: Domains = (
            SimDomains(state.msm)
            if cfg.backend == "sim" and state.msm is not None
            else XenDomains(state.runner, cfg.state_dir / "xl", self.vnc)
        )
        self.migrator = (
            SimMigrator(
                HostHooks(
                    self.backend,
                    self._migration_rows,
                    self.resolve,
                    state.require_policy,
                    state.lock,
                    state.log_msm,
                    state.domain_event,
                )
            )
            if isinstance(self.backend, SimDomains)
            else None
        )

    # ------------------------------------------------------------------ lookup

    async def rows(self, *, quiet: bool = False) -> tuple[list[DomainRow], int]:
        """The backend's domain rows and clock; remembers each domid's name."""
        rows, clock = await self.backend.rows(quiet=quiet)
        for row in rows:
            self._state.names[row.domid] = row.name
        return rows, clock

    async def resolve(self, domain: int | str) -> DomainRow:
        """The running domain with this domid or name (NotFound otherwise)."""
        _check_domain(domain)
        rows, _ = await self.rows()
        for row in rows:
            if (isinstance(domain, int) and row.domid == domain) or row.name == domain:
                return row
        raise NotFound(f"no running domain {domain!r}")

    def _info(self, row: DomainRow) -> DomainInfo:
        policy = self._state.policy
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
            "seclabel_name": name_of(policy, seclabel),
            "tag": str(tag) if tag is not None else None,
            "tag_name": name_of(policy, tag),
            "stopped_by_msm": row.stopped_by_msm,
            "violations": row.violations,
        }

    async def domain_run_states(self) -> DomainRunStates:
        """Live domains with their xl state; also the `xl list` text."""
        rows, _ = await self.rows()
        return {
            "domains": [self._info(r) for r in rows],
            "xl_list": self.backend.xl_list_text(rows),
        }

    # ------------------------------------------------------------------ VNC

    async def vnc_info(self, domain: int | str, include_password: bool = False) -> VncInfo:
        """Where a domain's VNC console listens; the password only when asked (see below)."""
        return cast(VncInfo, await self._vnc(domain, include_password))

    async def vnc_credentials(self, domain: int | str) -> VncCredentials:
        """:meth:`vnc_info` with ``"password"``: for authorized read-write clients only."""
        return cast(VncCredentials, await self._vnc(domain, True))

    async def _vnc(self, domain: int | str, include_password: bool) -> dict[str, Any]:
        """Where a domain's VNC console listens (:func:`vnc_endpoint`); no password unless asked.

        ``domain`` is a running domain (domid or name) or a domain of the active policy.
        ``include_password`` (generated and stored now if the domain has none yet) must be
        allowed by the server only to an authorized client of the read-write socket.
        """
        _check_domain(domain)
        if not isinstance(include_password, bool):
            raise InvalidArgument("include_password must be a boolean")
        rows, _ = await self.rows()
        row = next((r for r in rows if domain in (r.domid, r.name)), None)
        if row is None and isinstance(domain, int):
            raise NotFound(f"no running domain {domain!r}")
        name = row.name if row is not None else str(domain)
        policy = self._state.policy
        dom = next((d for d in policy.domains if d.name == name), None) if policy else None
        if dom is None:
            raise NotFound(f"the active policy does not configure domain {name!r}")
        port = None
        if dom.vnc and dom.vnc_display is None and row is not None and row.run_state != "shutdown":
            port = await self.backend.vnc_port(row.domid)
        out = vnc_endpoint(dom, row.domid if row is not None else None, port)
        if include_password:
            out["password"] = None
            if dom.vnc:
                out["password"] = await asyncio.to_thread(self.vnc.password, dom.id, dom.name)
                log.info("VNC password of domain %s handed out on request", dom.name)
        return out

    # ------------------------------------------------------------------ lifecycle

    async def create_domain(self, name: str, user: str | None = None) -> DomainCreated:
        """Creates and starts the domain ``name`` configured in the active policy."""
        if not isinstance(name, str) or not name:
            raise InvalidArgument("name must be a non-empty string")
        user = checked_text("user", user, USER_MAX)
        state = self._state
        async with state.lock:
            policy = state.require_policy()
            dom: DomainConfig | None = next((d for d in policy.domains if d.name == name), None)
            if dom is None:
                raise NotFound(f"the active policy has no domain {name!r}")
            if dom.seclabel is None:
                raise NoSeclabel(f"domain {name!r} has no SecLabel and may not run")
            domid = await self.backend.create(policy, dom)
        state.names[domid] = name
        state.log_msm(
            f"domain {domid} ({name}) started with SecLabel {name_of(policy, dom.seclabel)}"
            + _said(user, None)
        )
        state.domain_event(domid, name, "running", "created", origin_of(user))
        return {"domid": domid}

    async def act(self, verb: str, domain: int | str, user: str | None = None) -> DomainAction:
        """Pauses, unpauses, shuts down, reboots or destroys a domain (never Domain-0).

        ``user``: the console user who asked (logged, and the event's origin).
        """
        user = checked_text("user", user, USER_MAX)
        row = await self.resolve(domain)
        if row.domid == 0:
            raise InvalidArgument(f"refusing to {verb} Domain-0")
        await self.backend.action(verb, row.domid)
        if verb == "destroy":
            self._state.stopped.discard(row.domid)
            run_state = "destroyed"
        else:
            try:
                run_state = (await self.resolve(row.domid)).run_state
            except NotFound:
                run_state = _VERB_STATE[verb]
        self._state.log_msm(f"domain {row.domid} ({row.name}): {verb}{_said(user, None)}")
        self._state.domain_event(row.domid, row.name, run_state, verb, origin_of(user))
        return {"domid": row.domid, "run_state": run_state}

    async def address_violations(
        self,
        domain: int | str,
        user: str | None = None,
        note: str | None = None,
        unpause: bool = False,
    ) -> ViolationsAddressed:
        """Marks a domain's violations as addressed (count 0); ``unpause`` then resumes it
        (the console's *resolve*). ``user`` and ``note`` go into the MSM log and the
        daemon's log; the event's origin names the user."""
        user = checked_text("user", user, USER_MAX)
        note = checked_text("note", note, NOTE_MAX)
        if not isinstance(unpause, bool):
            raise InvalidArgument("unpause must be a boolean")
        ctx = self._state.require_msm()
        row = await self.resolve(domain)
        if unpause and row.domid == 0:
            raise InvalidArgument("refusing to unpause Domain-0")
        try:
            ctx.reset_violations(row.domid)
        except msm.MsmError as exc:
            raise from_msm_error(exc, f"cannot reset violations of {row.name}") from exc
        state = self._state
        state.stopped.discard(row.domid)
        said = _said(user, note)
        state.log_msm(f"domain {row.domid} ({row.name}): violations addressed{said}")
        log.info("domain %s (%s): violations addressed%s", row.domid, row.name, said)
        origin = origin_of(user)
        state.domain_event(row.domid, row.name, row.run_state, "violations_addressed", origin)
        out: ViolationsAddressed = {"domid": row.domid, "violations": 0}
        if unpause:
            run_state = row.run_state
            if run_state == "paused":
                await self.backend.action("unpause", row.domid)
                try:
                    run_state = (await self.resolve(row.domid)).run_state
                except NotFound:
                    run_state = "running"
                state.log_msm(f"domain {row.domid} ({row.name}): unpause (resolved){said}")
                state.domain_event(row.domid, row.name, run_state, "resolved", origin)
            out["run_state"] = run_state
        return out

    async def set_misbehaviour(self, domain: int | str, kind: str | int, per_million: int) -> Empty:
        """Makes a sim domain misbehave (out_of_profile, rate_burst or cross_tag)."""
        if self._state.config.backend != "sim":
            raise NotSupported("misbehaviour injection exists only on the sim backend")
        ctx = self._state.require_msm()
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
        row = await self.resolve(domain)
        try:
            ctx.set_misbehaviour(row.domid, member, per_million)
        except msm.MsmError as exc:
            raise from_msm_error(exc, f"cannot set misbehaviour of {row.name}") from exc
        return {}

    # ------------------------------------------------------------------ migration
    # SimMigrator builds its results as plain dicts; their shapes are the protocol's.

    async def _migration_rows(self) -> list[DomainRow]:
        rows, _ = await self.rows(quiet=True)
        return rows

    def _sim_migrator(self) -> SimMigrator:
        if self.migrator is None:
            raise NotSupported(XL_MIGRATE)
        return self.migrator

    async def migrate_out(self, domain: int | str) -> MigrationOut:
        """Source: opens a live move of a running domain (sim backend; see SimMigrator)."""
        return cast(MigrationOut, await self._sim_migrator().start_out(domain))

    async def migrate_out_read(self, migration: str, chunk: int) -> MigrationChunk:
        """Source: one chunk of the domain's memory image, as it is now."""
        return cast(MigrationChunk, await self._sim_migrator().read(migration, chunk))

    async def migrate_out_dirty(self, migration: str, pause: bool = False) -> MigrationDirty:
        """Source: chunks written since read; ``pause`` stops the domain first."""
        return cast(MigrationDirty, await self._sim_migrator().dirty(migration, pause))

    async def migrate_out_finish(self, migration: str, outcome: str) -> MigrationOutDone:
        """Source: ``done`` destroys the moved domain, ``abort`` unpauses it."""
        return cast(MigrationOutDone, await self._sim_migrator().finish_out(migration, outcome))

    async def migrate_in(
        self, migration: str, uuid: str, name: str, image_size: int, chunk_size: int
    ) -> MigrationIn:
        """Destination: opens the receipt of a domain the active policy configures."""
        opened = await self._sim_migrator().start_in(migration, uuid, name, image_size, chunk_size)
        return cast(MigrationIn, opened)

    async def migrate_in_write(self, migration: str, chunk: int, data: str) -> MigrationWritten:
        """Destination: one chunk (base64) of the incoming image."""
        return cast(MigrationWritten, await self._sim_migrator().write(migration, chunk, data))

    async def migrate_in_finish(
        self, migration: str, digest: str | None = None, abort: bool = False
    ) -> MigrationInFinished:
        """Destination: digest check, MSM admission, image restored, domain running."""
        finished = await self._sim_migrator().finish_in(migration, digest, abort)
        return cast(MigrationInFinished, finished)
