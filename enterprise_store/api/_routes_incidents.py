"""``/api/v1/hosts/{host}/incidents``: a host's guided incident performed through XE and
recorded in XE's audit chain (issue #14 §2)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from enterprise_store.api._auth import Caller, ServicesDep, doc
from enterprise_store.api._routes_policy import ObjectRef
from enterprise_store.schemas_incidents import (
    IncidentOpenIn,
    IncidentOut,
    IncidentReopenIn,
    IncidentStepIn,
)
from enterprise_store.services._incidents import INCIDENT_ID

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")

IncidentId = Annotated[str, Path(pattern=INCIDENT_ID, max_length=16)]

_NOTE = (
    "Operators (a scoped operator: the VMs of their enclaves). XE asks the host's XPS with "
    "its own credential, naming the caller as the operator; the call is in XE's audit chain "
    "(actor, host, incident, VM, step, outcome; refusals too). 502: the host cannot be "
    "reached or failed."
)


def _out(found: tuple[Any, dict[str, Any]]) -> IncidentOut:
    host, incident = found
    return IncidentOut(host_id=str(host.id), host=host.name, incident=incident)


@router.post(
    "/hosts/{ref}/incidents",
    tags=["incidents"],
    summary="Open an incident for a domain of the host (the host captures the record)",
    response_model=IncidentOut,
    **doc("operator", 404, 409, 422, 502, note=_NOTE),
)
async def open_incident(
    ref: ObjectRef, body: IncidentOpenIn, caller: Caller, services: ServicesDep
) -> IncidentOut:
    return _out(await services.incidents.open(caller, str(ref), body.domain, body.trigger_seqs))


@router.post(
    "/hosts/{ref}/incidents/{incident}/steps",
    tags=["incidents"],
    summary="Record a runbook step (quarantine / unquarantine are performed by the host)",
    response_model=IncidentOut,
    **doc("operator", 404, 409, 422, 502, note=_NOTE),
)
async def incident_step(
    ref: ObjectRef,
    incident: IncidentId,
    body: IncidentStepIn,
    caller: Caller,
    services: ServicesDep,
) -> IncidentOut:
    return _out(
        await services.incidents.step(
            caller, str(ref), incident, body.step, body.outcome, body.note, body.form
        )
    )


@router.post(
    "/hosts/{ref}/incidents/{incident}/reopen",
    tags=["incidents"],
    summary="Reopen a closed incident (a note says why)",
    response_model=IncidentOut,
    **doc("operator", 404, 409, 422, 502, note=_NOTE),
)
async def reopen_incident(
    ref: ObjectRef,
    incident: IncidentId,
    body: IncidentReopenIn,
    caller: Caller,
    services: ServicesDep,
) -> IncidentOut:
    return _out(await services.incidents.reopen(caller, str(ref), incident, body.note))
