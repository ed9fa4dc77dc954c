"""Host incidents through XE (issue #14 §2): the guided incident's steps performed on a
host by XE, for an authenticated user, and recorded in XE's audit chain.

The console routes its runbook through these when it works on a host through XE: XE
asks the host's XPS (``OpenIncident``, ``IncidentStep``, ``ReopenIncident``) with its
own host credential, naming the XE user as the operator (the host's record and MSM log
keep that name), and records each call (ok or refused) with the actor, the host, the
incident id, the VM's name, the step and its outcome. A quarantine done or an
unquarantine is performed by the host within its step (its SecLabel before and after
are recorded in the audit entry too). A quarantine's ``form`` is ``seclabel`` (the
default) or ``vifs`` (the host detaches the VM's VIFs and keeps them in the incident;
unquarantine attaches those again): the audit entry names the form and the VIFs (MAC,
switch, IP). Either way the host keeps it until unquarantine, so XE's propagation sees
a drift it explains (``quarantine of VM X``) rather than a policy write of XE's own.

Roles: operator or higher. A scoped operator may act on the VMs of their enclaves only
(a domain XE does not know is outside every scope); auditors are refused.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from enterprise_store._errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OutOfScope,
)
from enterprise_store.audit import AuditLog
from enterprise_store.services._access import Principal, Role, require_role, visible
from enterprise_store.services._audit import audited
from enterprise_store.workers._hosts import host_error
from xps.client import RemoteError, XpsError

if TYPE_CHECKING:
    from enterprise_store.model import Host
    from enterprise_store.services._compute import ComputeService
    from enterprise_store.services._policy import PolicyService

__all__ = ["INCIDENT_ID", "NOTE_MAX", "STEPS", "IncidentService"]

LOG = logging.getLogger("xenon.xe.incidents")

STEPS = ("pause", "capture", "quarantine", "fix", "verify", "close", "unquarantine")
"""The steps XE passes on (the host's runbook steps and verify's unquarantine)."""
OUTCOMES = ("done", "skipped")
FORMS = ("seclabel", "vifs")
"""A quarantine's forms: the quarantine SecLabel, or the VM's VIFs detached."""
_VIF_KEYS = ("mac", "switch", "switch_name", "ip")
INCIDENT_ID = r"^INC-[1-9][0-9]{0,8}$"
NOTE_MAX = 500
DOMAIN_MAX = 128
_ID = re.compile(INCIDENT_ID)


def _text(what: str, value: object, limit: int, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} is required")
    if len(value) > limit or not value.isprintable():
        raise InvalidInput(f"{what} must be at most {limit} printable characters")
    return value


class IncidentService:
    """Opens, steps and reopens a host's incidents for a user, audited (see module doc).

    Args:
        policy: The Policy service (hosts and VMs, scope-checked).
        compute: The Compute service (its pool of XPS clients).
        audit: XE's audit log.
    """

    def __init__(self, policy: PolicyService, compute: ComputeService, audit: AuditLog) -> None:
        self._policy = policy
        self._compute = compute
        self._audit = audit

    @contextlib.asynccontextmanager
    async def _audited(
        self, caller: Principal, action: str, obj: str, info: dict[str, Any]
    ) -> AsyncIterator[list[str]]:
        """Records the call (ok, or ``refused:<code>``) after it ran; yields the list the
        call fills with the enclaves it touched."""
        enclaves: list[str] = []
        async with audited(self._audit, caller, action, obj, details=info, enclaves=enclaves):
            yield enclaves

    async def _target(
        self, caller: Principal, host_ref: str, domain: str, enclaves: list[str]
    ) -> Host:
        """The host (scope-checked) and the domain's enclave, which the caller must see."""
        host = await self._policy.get_host(caller, host_ref)
        full = await self._policy.current()
        try:
            vm = full.vm_named(domain)
        except NotFound:
            vm = None  # a domain XE does not manage: outside every scope
        if vm is not None:
            enclaves.append(str(vm.enclave))
        scope = frozenset(enclaves) if vm is not None else frozenset()
        if not caller.is_global and not visible(caller, scope):
            raise OutOfScope(f"{domain} on {host.name} is not a VM of your enclaves")
        return host

    async def _call(self, host: Host, method: str, **params: Any) -> dict[str, Any]:
        where = f"host {host.name!r}"
        client = await self._compute.pool.client(str(host.id), host.address, host.port)
        try:
            return dict(await client.call(method, **params))
        except RemoteError as exc:
            if exc.code == "not_found":
                raise NotFound(f"{where}: {exc.message}") from exc
            if exc.code == "invalid_argument":
                raise InvalidInput(f"{where}: {exc.message}") from exc
            if exc.code in ("conflict", "state", "policy_invalid", "not_supported"):
                raise Conflict(f"{where}: {exc.message}") from exc
            raise host_error(exc, where) from exc
        except XpsError as exc:
            raise host_error(exc, where) from exc

    async def open(
        self,
        caller: Principal,
        host_ref: str,
        domain: str,
        trigger_seqs: Sequence[int] | None = None,
    ) -> tuple[Host, dict[str, Any]]:
        """Opens an incident for ``domain`` on the host (it captures the record)."""
        info: dict[str, Any] = {"host": str(host_ref)[:64], "vm": str(domain)[:DOMAIN_MAX]}
        obj = f"host:{str(host_ref)[:64]}"
        async with self._audited(caller, "incident.open", obj, info) as enclaves:
            require_role(caller, Role.OPERATOR, "open an incident")
            name = _text("domain", domain, DOMAIN_MAX, required=True)
            assert name is not None
            seqs = list(trigger_seqs or [])
            if len(seqs) > 100 or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in seqs
            ):
                raise InvalidInput("trigger_seqs must be at most 100 integers >= 1")
            host = await self._target(caller, host_ref, name, enclaves)
            info["host"] = host.name
            params: dict[str, Any] = {"trigger_seqs": seqs} if seqs else {}
            out = await self._call(host, "OpenIncident", domain=name, user=caller.name, **params)
            info["incident"] = out.get("id")
            return host, out

    async def _incident(
        self, caller: Principal, host_ref: str, incident: str, enclaves: list[str]
    ) -> tuple[Host, dict[str, Any]]:
        if not isinstance(incident, str) or not _ID.match(incident):
            raise InvalidInput("incident must look like INC-<number>")
        host = await self._policy.get_host(caller, host_ref)
        found = await self._call(host, "GetIncident", id=incident)
        await self._target(caller, host_ref, str(found.get("domain", "")), enclaves)
        return host, found

    async def step(
        self,
        caller: Principal,
        host_ref: str,
        incident: str,
        step: str,
        outcome: str,
        note: str | None = None,
        form: str | None = None,
    ) -> tuple[Host, dict[str, Any]]:
        """Records (and for quarantine / unquarantine performs) one runbook step;
        ``form`` is a quarantine's: seclabel (None: the host's default) or vifs."""
        info: dict[str, Any] = {
            "host": str(host_ref)[:64],
            "incident": str(incident)[:16],
            "step": str(step)[:16],
            "outcome": str(outcome)[:16],
        }
        obj = f"incident:{str(host_ref)[:64]}/{str(incident)[:16]}"
        async with self._audited(caller, f"incident.step.{str(step)[:16]}", obj, info) as encl:
            require_role(caller, Role.OPERATOR, "record an incident step")
            if step not in STEPS:
                raise InvalidInput(f"step must be one of {', '.join(STEPS)}")
            if outcome not in OUTCOMES:
                raise InvalidInput("outcome must be done or skipped")
            if form is not None:
                if form not in FORMS or step != "quarantine":
                    raise InvalidInput("form is seclabel or vifs, of a quarantine only")
                info["form"] = form
            text = _text("note", note, NOTE_MAX, required=False)
            if text is not None:
                info["note"] = text
            host, found = await self._incident(caller, host_ref, incident, encl)
            info.update(host=host.name, vm=found.get("domain"))
            params: dict[str, Any] = {"note": text} if text is not None else {}
            if form is not None:
                params["form"] = form
            out = await self._call(
                host,
                "IncidentStep",
                id=incident,
                step=step,
                outcome=outcome,
                user=caller.name,
                **params,
            )
            last = (out.get("steps") or [{}])[-1]
            for key in ("label_before", "label_after", "generation", "form"):
                if key in last:
                    info[key] = last[key]
            if isinstance(last.get("vifs"), list):
                info["vifs"] = [
                    {k: v.get(k) for k in _VIF_KEYS}
                    for v in last["vifs"][:64]
                    if isinstance(v, dict)
                ]
            return host, out

    async def reopen(
        self, caller: Principal, host_ref: str, incident: str, note: str
    ) -> tuple[Host, dict[str, Any]]:
        """Reopens a closed incident with a note."""
        info: dict[str, Any] = {"host": str(host_ref)[:64], "incident": str(incident)[:16]}
        obj = f"incident:{str(host_ref)[:64]}/{str(incident)[:16]}"
        async with self._audited(caller, "incident.reopen", obj, info) as enclaves:
            require_role(caller, Role.OPERATOR, "reopen an incident")
            text = _text("note", note, NOTE_MAX, required=True)
            info["note"] = text
            host, found = await self._incident(caller, host_ref, incident, enclaves)
            info.update(host=host.name, vm=found.get("domain"))
            out = await self._call(host, "ReopenIncident", id=incident, user=caller.name, note=text)
            return host, out
