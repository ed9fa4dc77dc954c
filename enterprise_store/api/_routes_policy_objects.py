"""``/api/v1/seclabels``, ``/vms``, ``/conflict-sets``, ``/dhcp-servers``: the policy's objects
inside enclaves. Reads for auditors, writes for operators of the object's enclaves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from enterprise_store.api._auth import Caller, ServicesDep, doc
from enterprise_store.api._collections import Cursor, Fields, Limit, decode_cursor
from enterprise_store.api._policy_out import (
    conflict_out,
    dhcp_out,
    seclabel_out,
    vm_out,
    written_version,
)
from enterprise_store.api._routes_policy import ObjectRef, Q, list_objects, one, written
from enterprise_store.schemas import Page
from enterprise_store.schemas_policy import (
    ConflictCreate,
    ConflictFields,
    ConflictOut,
    ConflictPatch,
    DhcpCreate,
    DhcpFields,
    DhcpOut,
    DhcpPatch,
    DisksIn,
    ExtraIn,
    NetworkIn,
    SecLabelCreate,
    SecLabelFields,
    SecLabelOut,
    SecLabelPatch,
    VersionOut,
    VifsIn,
    VmCreate,
    VmFields,
    VmOut,
    VmPatch,
    WrittenOut,
    changes,
)
from enterprise_store.services import PolicyQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")

_Enclave = Annotated[
    str | None, Query(max_length=255, description="Only this enclave's (UUID or name).")
]
_WRITE = (
    "Operators of the object's enclave. A change the consistency checker refuses is a 409 "
    "`policy_refused` problem with every finding (code, objects, hint); nothing is written."
)
_READ = "A scoped caller sees only their enclaves' objects."


# -- SecLabels -----------------------------------------------------------------------------


@router.get(
    "/seclabels",
    tags=["seclabels"],
    summary="List SecLabels",
    response_model=Page[SecLabelFields],  # type: ignore[valid-type]
    **doc("auditor", note=_READ),
)
async def list_seclabels(
    caller: Caller,
    services: ServicesDep,
    enclave: _Enclave = None,
    q: Q = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    query = PolicyQuery(enclave=enclave, text=q, after=decode_cursor(cursor), limit=limit)
    lister = services.policy.list_seclabels
    return await list_objects(services, caller, lister, seclabel_out, SecLabelOut, query, fields)


@router.post(
    "/seclabels",
    tags=["seclabels"],
    summary="Create a SecLabel",
    status_code=201,
    response_model=WrittenOut[SecLabelOut],
    **doc("operator", 409, note=_WRITE),
)
async def create_seclabel(body: SecLabelCreate, caller: Caller, services: ServicesDep) -> Any:
    result = await services.policy.create_seclabel(caller, changes(body), id=body.id)
    return await written(services, caller, result, seclabel_out)


@router.get(
    "/seclabels/{ref}",
    tags=["seclabels"],
    summary="Read a SecLabel",
    response_model=SecLabelOut,
    **doc("auditor", 404),
)
async def get_seclabel(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Any:
    found = await services.policy.get_seclabel(caller, ref)
    return await one(services, caller, found, seclabel_out)


@router.patch(
    "/seclabels/{ref}",
    tags=["seclabels"],
    summary="Change a SecLabel",
    response_model=WrittenOut[SecLabelOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def update_seclabel(
    ref: ObjectRef, body: SecLabelPatch, caller: Caller, services: ServicesDep
) -> Any:
    result = await services.policy.update_seclabel(caller, ref, changes(body))
    return await written(services, caller, result, seclabel_out)


@router.delete(
    "/seclabels/{ref}",
    tags=["seclabels"],
    summary="Delete a SecLabel",
    response_model=VersionOut,
    **doc("operator", 404, 409, note=_WRITE),
)
async def delete_seclabel(ref: ObjectRef, caller: Caller, services: ServicesDep) -> VersionOut:
    return written_version(await services.policy.delete_seclabel(caller, ref))


# -- VMs -----------------------------------------------------------------------------------


@router.get(
    "/vms",
    tags=["vms"],
    summary="List VMs",
    response_model=Page[VmFields],  # type: ignore[valid-type]
    **doc("auditor", note=_READ),
)
async def list_vms(
    caller: Caller,
    services: ServicesDep,
    enclave: _Enclave = None,
    host: Annotated[str | None, Query(max_length=255, description="Placed on this host.")] = None,
    seclabel: Annotated[str | None, Query(max_length=255, description="With this SecLabel.")] = (
        None
    ),
    q: Q = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    query = PolicyQuery(
        enclave=enclave,
        host=host,
        seclabel=seclabel,
        text=q,
        after=decode_cursor(cursor),
        limit=limit,
    )
    return await list_objects(
        services, caller, services.policy.list_vms, vm_out, VmOut, query, fields
    )


@router.post(
    "/vms",
    tags=["vms"],
    summary="Create a VM (Figure 26)",
    status_code=201,
    response_model=WrittenOut[VmOut],
    **doc(
        "operator",
        409,
        note="Without `host`, the first host in panel order that carries its enclave "
        "(pinned, shown in the answer). " + _WRITE,
    ),
)
async def create_vm(body: VmCreate, caller: Caller, services: ServicesDep) -> Any:
    result = await services.policy.create_vm(caller, changes(body), id=body.id)
    return await written(services, caller, result, vm_out)


@router.get(
    "/vms/{ref}",
    tags=["vms"],
    summary="Read a VM",
    response_model=VmOut,
    **doc("auditor", 404),
)
async def get_vm(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Any:
    return await one(services, caller, await services.policy.get_vm(caller, ref), vm_out)


@router.get(
    "/vms/{ref}/config",
    tags=["vms"],
    summary="The xl configuration XE generates for a VM (Figure 27)",
    response_class=PlainTextResponse,
    **doc("auditor", 404),
)
async def get_vm_config(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Response:
    return PlainTextResponse(await services.policy.domain_config(caller, ref))


@router.patch(
    "/vms/{ref}",
    tags=["vms"],
    summary="Change a VM",
    response_model=WrittenOut[VmOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def update_vm(ref: ObjectRef, body: VmPatch, caller: Caller, services: ServicesDep) -> Any:
    result = await services.policy.update_vm(caller, ref, changes(body))
    return await written(services, caller, result, vm_out)


@router.put(
    "/vms/{ref}/network",
    tags=["vms"],
    summary="Set a VM's network restrictions (Figure 28)",
    response_model=WrittenOut[VmOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def set_vm_network(
    ref: ObjectRef, body: NetworkIn, caller: Caller, services: ServicesDep
) -> Any:
    result = await services.policy.set_vm_network(caller, ref, body.model_dump())
    return await written(services, caller, result, vm_out)


@router.put(
    "/vms/{ref}/extra",
    tags=["vms"],
    summary="Set a VM's extra xl options (§4.3.4)",
    response_model=WrittenOut[VmOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def set_vm_extra(ref: ObjectRef, body: ExtraIn, caller: Caller, services: ServicesDep) -> Any:
    result = await services.policy.set_vm_extra(caller, ref, body.extra)
    return await written(services, caller, result, vm_out)


@router.put(
    "/vms/{ref}/vifs",
    tags=["vms"],
    summary="Set a VM's VIFs (Figure 28's VIFs tab, §4.3.1)",
    response_model=WrittenOut[VmOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def set_vm_vifs(ref: ObjectRef, body: VifsIn, caller: Caller, services: ServicesDep) -> Any:
    vifs = [v.model_dump() for v in body.vifs]
    result = await services.policy.set_vm_vifs(caller, ref, vifs)
    return await written(services, caller, result, vm_out)


@router.put(
    "/vms/{ref}/disks",
    tags=["vms"],
    summary="Set a VM's disks (Figure 28's Disks tab, §4.3.3)",
    response_model=WrittenOut[VmOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def set_vm_disks(ref: ObjectRef, body: DisksIn, caller: Caller, services: ServicesDep) -> Any:
    disks = [d.model_dump() for d in body.disks]
    result = await services.policy.set_vm_disks(caller, ref, disks)
    return await written(services, caller, result, vm_out)


@router.delete(
    "/vms/{ref}/extra",
    tags=["vms"],
    summary="Reset a VM's xl configuration to its guest type's template",
    response_model=WrittenOut[VmOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def reset_vm_extra(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Any:
    result = await services.policy.reset_vm_extra(caller, ref)
    return await written(services, caller, result, vm_out)


@router.delete(
    "/vms/{ref}",
    tags=["vms"],
    summary="Delete a VM",
    response_model=VersionOut,
    **doc("operator", 404, 409, note=_WRITE),
)
async def delete_vm(ref: ObjectRef, caller: Caller, services: ServicesDep) -> VersionOut:
    return written_version(await services.policy.delete_vm(caller, ref))


# -- conflict sets -------------------------------------------------------------------------


@router.get(
    "/conflict-sets",
    tags=["conflict-sets"],
    summary="List conflict sets",
    response_model=Page[ConflictFields],  # type: ignore[valid-type]
    **doc("auditor", note="A scoped caller sees the sets all of whose enclaves are theirs."),
)
async def list_conflicts(
    caller: Caller,
    services: ServicesDep,
    enclave: _Enclave = None,
    q: Q = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    query = PolicyQuery(enclave=enclave, text=q, after=decode_cursor(cursor), limit=limit)
    lister = services.policy.list_conflicts
    return await list_objects(services, caller, lister, conflict_out, ConflictOut, query, fields)


@router.post(
    "/conflict-sets",
    tags=["conflict-sets"],
    summary="Create a conflict set",
    status_code=201,
    response_model=WrittenOut[ConflictOut],
    **doc("operator", 409, note=_WRITE),
)
async def create_conflict(body: ConflictCreate, caller: Caller, services: ServicesDep) -> Any:
    result = await services.policy.create_conflict(caller, changes(body), id=body.id)
    return await written(services, caller, result, conflict_out)


@router.get(
    "/conflict-sets/{ref}",
    tags=["conflict-sets"],
    summary="Read a conflict set",
    response_model=ConflictOut,
    **doc("auditor", 404),
)
async def get_conflict(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Any:
    found = await services.policy.get_conflict(caller, ref)
    return await one(services, caller, found, conflict_out)


@router.patch(
    "/conflict-sets/{ref}",
    tags=["conflict-sets"],
    summary="Change a conflict set",
    response_model=WrittenOut[ConflictOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def update_conflict(
    ref: ObjectRef, body: ConflictPatch, caller: Caller, services: ServicesDep
) -> Any:
    result = await services.policy.update_conflict(caller, ref, changes(body))
    return await written(services, caller, result, conflict_out)


@router.delete(
    "/conflict-sets/{ref}",
    tags=["conflict-sets"],
    summary="Delete a conflict set",
    response_model=VersionOut,
    **doc("operator", 404, 409, note=_WRITE),
)
async def delete_conflict(ref: ObjectRef, caller: Caller, services: ServicesDep) -> VersionOut:
    return written_version(await services.policy.delete_conflict(caller, ref))


# -- DHCP servers --------------------------------------------------------------------------


@router.get(
    "/dhcp-servers",
    tags=["dhcp-servers"],
    summary="List remote DHCP servers",
    response_model=Page[DhcpFields],  # type: ignore[valid-type]
    **doc("auditor", note=_READ),
)
async def list_dhcp_servers(
    caller: Caller,
    services: ServicesDep,
    enclave: _Enclave = None,
    q: Q = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    query = PolicyQuery(enclave=enclave, text=q, after=decode_cursor(cursor), limit=limit)
    lister = services.policy.list_dhcp_servers
    return await list_objects(services, caller, lister, dhcp_out, DhcpOut, query, fields)


@router.post(
    "/dhcp-servers",
    tags=["dhcp-servers"],
    summary="Create a remote DHCP server of an enclave",
    status_code=201,
    response_model=WrittenOut[DhcpOut],
    **doc("operator", 409, note=_WRITE),
)
async def create_dhcp_server(body: DhcpCreate, caller: Caller, services: ServicesDep) -> Any:
    result = await services.policy.create_dhcp_server(caller, changes(body), id=body.id)
    return await written(services, caller, result, dhcp_out)


@router.get(
    "/dhcp-servers/{ref}",
    tags=["dhcp-servers"],
    summary="Read a DHCP server",
    response_model=DhcpOut,
    **doc("auditor", 404),
)
async def get_dhcp_server(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Any:
    found = await services.policy.get_dhcp_server(caller, ref)
    return await one(services, caller, found, dhcp_out)


@router.patch(
    "/dhcp-servers/{ref}",
    tags=["dhcp-servers"],
    summary="Change a DHCP server",
    response_model=WrittenOut[DhcpOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def update_dhcp_server(
    ref: ObjectRef, body: DhcpPatch, caller: Caller, services: ServicesDep
) -> Any:
    result = await services.policy.update_dhcp_server(caller, ref, changes(body))
    return await written(services, caller, result, dhcp_out)


@router.delete(
    "/dhcp-servers/{ref}",
    tags=["dhcp-servers"],
    summary="Delete a DHCP server",
    response_model=VersionOut,
    **doc("operator", 404, 409, note=_WRITE),
)
async def delete_dhcp_server(ref: ObjectRef, caller: Caller, services: ServicesDep) -> VersionOut:
    return written_version(await services.policy.delete_dhcp_server(caller, ref))
