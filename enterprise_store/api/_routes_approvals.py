"""``/api/v1/policy/approvals``: two-person activation per enclave (issue #14 §4).

A policy version that changes an enclave requiring approval waits until an admin other
than its authors approves it; until then the hosts that carry that enclave are held (the
others get the newest version) and ``POST /propagate`` is a 409 ``approval_required``
naming the enclave, the version, its authors and who may approve. Approve and reject
take a required note and are audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from enterprise_store.api._auth import Caller, ServicesDep, doc
from enterprise_store.schemas_approval import (
    ApprovalOut,
    ApprovalsOut,
    DecisionIn,
    EnclaveApprovalOut,
)
from enterprise_store.services._policy_approvals import ApprovalItem

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")

Version = Annotated[int, Path(ge=1, le=2**62, description="The policy version.")]
_DECIDE = (
    "Admins other than the version's authors (by user name: another session or an API "
    "token of the author is refused with 403 `approval_own_change`). 404: no version of "
    "that number waits; 409: it was superseded, rejected or approved already."
)


def _out(item: ApprovalItem) -> ApprovalOut:
    return ApprovalOut(
        version=item.version,
        enclave_id=item.enclave_id,
        enclave=item.enclave,
        state=item.state,
        authors=list(item.authors),
        approvers=item.approvers,
        base_version=item.base_version,
        diff=item.diff,
        created_at=item.created_at,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        note=item.note,
        superseded_by=item.superseded_by,
    )


@router.get(
    "/policy/approvals",
    tags=["policy"],
    summary="Policy versions waiting for a second admin, with the diff per enclave",
    response_model=ApprovalsOut,
    **doc(
        "auditor",
        404,
        note="Without `version`: what waits (pending or rejected), oldest first. With it: "
        "every row of that version, whatever its state. A scoped caller sees their "
        "enclaves'.",
    ),
)
async def list_approvals(
    caller: Caller,
    services: ServicesDep,
    version: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> ApprovalsOut:
    policy = services.policy
    items = await policy.approvals(caller, version=version)
    flags = await policy.approval_flags(caller)
    return ApprovalsOut(
        items=[_out(i) for i in items],
        held=await policy.approval_hold() is not None,
        enclaves=[
            EnclaveApprovalOut(
                enclave_id=f.enclave_id,
                enclave=f.enclave,
                required=f.required,
                set_by=f.set_by,
                disable_requested_by=f.disable_requested_by,
            )
            for f in flags
        ],
    )


@router.post(
    "/policy/approvals/{version}/approve",
    tags=["policy"],
    summary="Approve a policy version's changes of enclaves that require approval",
    response_model=list[ApprovalOut],
    **doc("admin", 404, 409, note=_DECIDE),
)
async def approve(
    version: Version, body: DecisionIn, caller: Caller, services: ServicesDep
) -> list[ApprovalOut]:
    return [_out(i) for i in await services.policy.approve(caller, version, body.note)]


@router.post(
    "/policy/approvals/{version}/reject",
    tags=["policy"],
    summary="Reject a policy version: propagation stays held until the enclave changes again",
    response_model=list[ApprovalOut],
    **doc("admin", 404, 409, note=_DECIDE),
)
async def reject(
    version: Version, body: DecisionIn, caller: Caller, services: ServicesDep
) -> list[ApprovalOut]:
    return [_out(i) for i in await services.policy.reject(caller, version, body.note)]
