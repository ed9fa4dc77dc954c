"""``/api/v1/policy``, ``/enclaves``, ``/hosts``, ``/host-order``: the XE policy's views,
versions and check, enclaves and their assignments, and the hosts' policy part.

A host joins and leaves through Compute only (``POST /hosts/actions/add`` reads the facts
from its XPS; ``POST /hosts/{ref}/actions/remove`` refuses while XE's VMs run there):
here hosts are read, changed and ordered. The Policy service's ``add_host`` and
``remove_host`` remain the internal steps Compute calls.

Every write answers the object as stored, the version it made and the checker's warnings;
a write the checker refuses is a 409 ``policy_refused`` problem listing every finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from enterprise_store._errors import InvalidInput
from enterprise_store.api._auth import Caller, ServicesDep, doc
from enterprise_store.api._collections import (
    Cursor,
    Fields,
    Limit,
    decode_cursor,
    encode_cursor,
    parse_fields,
)
from enterprise_store.api._compute_out import propagation_out, with_propagation
from enterprise_store.api._dumps import ViewDumps, page_response
from enterprise_store.api._policy_out import (
    enclave_out_for,
    findings_out,
    host_out,
    version_out,
    written_version,
)
from enterprise_store.model import Host
from enterprise_store.schemas import Page
from enterprise_store.schemas_policy import (
    CheckOut,
    EnclaveCreate,
    EnclaveFields,
    EnclaveOut,
    EnclavePatch,
    HostFields,
    HostOrder,
    HostOut,
    HostPatch,
    PolicyVersionDiffOut,
    PolicyVersionFields,
    PolicyVersionOut,
    ScopeDiffOut,
    VersionOut,
    WrittenOut,
    changes,
)
from enterprise_store.services import PolicyFormat, PolicyQuery, Principal, Services

__all__ = ["ObjectRef", "Q", "list_objects", "one", "page_of", "router", "written"]

router = APIRouter(prefix="/api/v1")

ObjectRef = Annotated[str, Path(min_length=1, max_length=255, description="UUID or name.")]
Q = Annotated[str | None, Query(max_length=255, description="Text in the name.")]
_EnclaveFilter = Annotated[
    str | None, Query(max_length=255, description="Only this enclave's (UUID or name).")
]
_HostFilter = Annotated[str | None, Query(max_length=255, description="UUID or name.")]
_SCOPED = "A scoped caller sees and names only their enclaves' part."
_WRITE = (
    "A change the consistency checker refuses is a 409 `policy_refused` problem with every "
    "finding (code, objects, hint); nothing is written."
)


def page_of(
    model: type[Any], items: Iterable[Any], next_key: str | None, fields: set[str] | None
) -> JSONResponse:
    """A collection page of API models (``fields`` selects)."""
    return JSONResponse(
        {
            "items": [m.model_dump(mode="json", include=fields) for m in items],
            "next_cursor": encode_cursor(next_key),
        }
    )


# -- the policy ----------------------------------------------------------------------------

_MEDIA = {
    PolicyFormat.TREE: "text/plain; charset=utf-8",
    PolicyFormat.TEXT: "text/plain; charset=utf-8",
    PolicyFormat.XML: "application/xml",
    PolicyFormat.JSON: "application/json",
}


_POLICY_DOC = doc(
    "auditor",
    note="`format=tree` (Figures 23/30), `xml` (xps.policy's schema plus the XE extension), "
    "`text` (§4.2.5), `json` (the canonical model). " + _SCOPED,
)
_POLICY_DOC["responses"][200] = {
    "description": "The policy in the format asked for.",
    "content": {
        "text/plain": {"schema": {"type": "string"}},
        "application/xml": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object"}},
    },
}


@router.get(
    "/policy",
    tags=["policy"],
    summary="The policy as a tree, XML, text or canonical JSON",
    response_class=Response,
    **_POLICY_DOC,
)
async def get_policy(
    caller: Caller,
    services: ServicesDep,
    format: Annotated[PolicyFormat, Query(description="tree, xml, text or json")] = (
        PolicyFormat.TEXT
    ),
) -> Response:
    body = await services.policy.render(caller, format)
    return Response(body, media_type=_MEDIA[format])


@router.get(
    "/policy/check",
    tags=["policy"],
    summary="Run the consistency checker over the stored policy",
    response_model=CheckOut,
    **doc("auditor", note="A scoped caller gets the findings about their objects."),
)
async def check_policy(caller: Caller, services: ServicesDep) -> CheckOut:
    report = await services.policy.check(caller)
    return CheckOut(
        ok=report.ok,
        version=report.version,
        sha256=report.sha256,
        findings=findings_out(report.findings),
    )


@router.get(
    "/policy/versions",
    tags=["policy"],
    summary="Committed policy versions, newest first",
    response_model=Page[PolicyVersionFields],  # type: ignore[valid-type]
    **doc("auditor", note="A scoped caller sees the versions of their enclaves' changes."),
)
async def list_versions(
    caller: Caller,
    services: ServicesDep,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    selected = parse_fields(fields, PolicyVersionOut)
    key = decode_cursor(cursor)
    if key is not None and not (key.isdigit() and len(key) <= 18):
        raise InvalidInput("invalid cursor: pass next_cursor back unchanged")
    result = await services.policy.versions(
        caller, before=None if key is None else int(key), limit=limit
    )
    return page_of(PolicyVersionOut, (version_out(v) for v in result.items), result.next, selected)


@router.get(
    "/policy/versions/{version}",
    tags=["policy"],
    summary="One policy version",
    response_model=PolicyVersionOut,
    **doc("auditor", 404),
)
async def get_version(
    version: Annotated[int, Path(ge=0, le=2**62)], caller: Caller, services: ServicesDep
) -> PolicyVersionOut:
    return version_out(await services.policy.version(caller, version))


@router.get(
    "/policy/versions/{version}/diff",
    tags=["policy"],
    summary="The readable diff of one policy version",
    response_model=PolicyVersionDiffOut,
    **doc(
        "auditor",
        404,
        note="Per enclave the version changed, the unified diff of its text, and the "
        "enterprise part (hosts, profiles); a scoped caller sees their enclaves' only. A "
        "version made before store migration 0010 answers an empty list and the reason.",
    ),
)
async def get_version_diff(
    version: Annotated[int, Path(ge=0, le=2**62)], caller: Caller, services: ServicesDep
) -> PolicyVersionDiffOut:
    found = await services.policy.version_diff(caller, version)
    return PolicyVersionDiffOut(
        version=found.version,
        recorded=found.recorded,
        reason=found.reason,
        diffs=[ScopeDiffOut(scope=d.scope, name=d.name, diff=d.diff) for d in found.diffs],
    )


# -- shared route bodies ------------------------------------------------------------------


_DUMPS = ViewDumps()


async def list_objects(
    services: Services,
    caller: Principal,
    lister: Callable[..., Any],
    out: Callable[[Any, Any], Any],
    model: type[Any],
    query: PolicyQuery,
    fields: str | None,
    extra: Callable[[Any], dict[str, bytes] | None] | None = None,
) -> Response:
    """One page of a policy collection as API models: ``out(obj, view)``, whose JSON is
    remembered per snapshot; ``extra(obj)`` gives encoded members that change between
    versions (see :mod:`enterprise_store.api._dumps`)."""
    selected = parse_fields(fields, model)
    result = await lister(caller, query)
    view = await services.policy.policy(caller)
    items = result.items
    dumps = _DUMPS.get_many(view, out, items)
    return page_response(
        (
            [d.render(None, selected) for d in dumps]
            if extra is None
            else [d.render(extra(o), selected) for d, o in zip(dumps, items, strict=True)]
        ),
        encode_cursor(result.next),
    )


async def one(services: Services, caller: Principal, value: Any, out: Callable[..., Any]) -> Any:
    """One object as its API model."""
    return out(value, await services.policy.policy(caller))


async def written(
    services: Services, caller: Principal, result: Any, out: Callable[..., Any]
) -> dict[str, Any]:
    """A write's answer: the object, the version, the warnings."""
    view = await services.policy.policy(caller)
    return {
        "item": out(result.value, view),
        "version": result.version,
        "warnings": findings_out(result.warnings),
    }


# -- enclaves ------------------------------------------------------------------------------


@router.get(
    "/enclaves",
    tags=["enclaves"],
    summary="List enclaves",
    response_model=Page[EnclaveFields],  # type: ignore[valid-type]
    **doc("auditor", note=_SCOPED),
)
async def list_enclaves(
    caller: Caller,
    services: ServicesDep,
    host: Annotated[str | None, Query(max_length=255, description="Assigned to this host.")] = None,
    q: Q = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    query = PolicyQuery(host=host, text=q, after=decode_cursor(cursor), limit=limit)
    return await list_objects(
        services,
        caller,
        services.policy.list_enclaves,
        await enclave_out_for(services, caller),
        EnclaveOut,
        query,
        fields,
    )


@router.post(
    "/enclaves",
    tags=["enclaves"],
    summary="Create an enclave",
    status_code=201,
    response_model=WrittenOut[EnclaveOut],
    **doc("operator", 409, note="A generated 128-bit UUID unless `id` is given. " + _WRITE),
)
async def create_enclave(body: EnclaveCreate, caller: Caller, services: ServicesDep) -> Any:
    result = await services.policy.create_enclave(caller, changes(body), id=body.id)
    return await written(services, caller, result, await enclave_out_for(services, caller))


@router.get(
    "/enclaves/{ref}",
    tags=["enclaves"],
    summary="Read an enclave",
    response_model=EnclaveOut,
    **doc("auditor", 404),
)
async def get_enclave(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Any:
    found = await services.policy.get_enclave(caller, ref)
    return await one(services, caller, found, await enclave_out_for(services, caller))


@router.patch(
    "/enclaves/{ref}",
    tags=["enclaves"],
    summary="Rename or recolour an enclave",
    response_model=WrittenOut[EnclaveOut],
    **doc("operator", 404, 409, note=_WRITE),
)
async def update_enclave(
    ref: ObjectRef, body: EnclavePatch, caller: Caller, services: ServicesDep
) -> Any:
    result = await services.policy.update_enclave(caller, ref, changes(body))
    return await written(services, caller, result, await enclave_out_for(services, caller))


@router.delete(
    "/enclaves/{ref}",
    tags=["enclaves"],
    summary="Delete an enclave",
    response_model=VersionOut,
    **doc("operator", 404, 409, note="Refused while anything refers to it. " + _WRITE),
)
async def delete_enclave(ref: ObjectRef, caller: Caller, services: ServicesDep) -> VersionOut:
    return written_version(await services.policy.delete_enclave(caller, ref))


@router.put(
    "/enclaves/{ref}/hosts/{host}",
    tags=["enclaves"],
    summary="Assign an enclave to a host",
    response_model=VersionOut,
    **doc("operator", 404, 409, note="No new version when it already is. " + _WRITE),
)
async def assign(
    ref: ObjectRef, host: ObjectRef, caller: Caller, services: ServicesDep
) -> VersionOut:
    return written_version(await services.policy.assign(caller, ref, host))


@router.delete(
    "/enclaves/{ref}/hosts/{host}",
    tags=["enclaves"],
    summary="Unassign an enclave from a host",
    response_model=VersionOut,
    **doc("operator", 404, 409, note="Refused while its VMs are placed there. " + _WRITE),
)
async def unassign(
    ref: ObjectRef, host: ObjectRef, caller: Caller, services: ServicesDep
) -> VersionOut:
    return written_version(await services.policy.unassign(caller, ref, host))


# -- hosts ---------------------------------------------------------------------------------


@router.get(
    "/hosts",
    tags=["hosts"],
    summary="List hosts in panel order",
    response_model=Page[HostFields],  # type: ignore[valid-type]
    **doc("auditor", note="A scoped caller sees the hosts of their enclaves, and their part."),
)
async def list_hosts(
    caller: Caller,
    services: ServicesDep,
    enclave: _EnclaveFilter = None,
    q: Q = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    query = PolicyQuery(enclave=enclave, text=q, after=decode_cursor(cursor), limit=limit)
    state_of = await services.compute.propagation_lookup(caller)

    def propagation(host: Host) -> dict[str, bytes] | None:
        state = state_of(host)
        if state is None:
            return None
        return _DUMPS.member("propagation", state, propagation_out)

    return await list_objects(
        services, caller, services.policy.list_hosts, host_out, HostOut, query, fields, propagation
    )


@router.get(
    "/hosts/{ref}",
    tags=["hosts"],
    summary="Read a host",
    response_model=HostOut,
    **doc("auditor", 404),
)
async def get_host(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Any:
    host = await services.policy.get_host(caller, ref)
    return await one(services, caller, host, await with_propagation(services, caller, host_out))


@router.patch(
    "/hosts/{ref}",
    tags=["hosts"],
    summary="Change a host's name, address, order, colour or facts",
    response_model=WrittenOut[HostOut],
    **doc("operator", 404, 409, note="Unscoped operators. " + _WRITE),
)
async def update_host(
    ref: ObjectRef, body: HostPatch, caller: Caller, services: ServicesDep
) -> Any:
    result = await services.policy.update_host(caller, ref, changes(body))
    return await written(services, caller, result, host_out)


@router.put(
    "/host-order",
    tags=["hosts"],
    summary="Set the Hosts panel order",
    response_model=VersionOut,
    **doc("operator", 404, 409, note="Every host once; placed VMs stay. Unscoped operators."),
)
async def reorder_hosts(body: HostOrder, caller: Caller, services: ServicesDep) -> VersionOut:
    return written_version(await services.policy.reorder_hosts(caller, body.hosts))
