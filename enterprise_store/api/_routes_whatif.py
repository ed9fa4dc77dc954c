"""``POST /api/v1/policy/whatif``: what a policy version would do on each host it reaches
(issue #14 §1), before it is propagated or approved. Read-only on XE and on the hosts."""

from __future__ import annotations

from fastapi import APIRouter

from enterprise_store.api._auth import Caller, ServicesDep, doc
from enterprise_store.schemas_whatif import HostWhatIfOut, WhatIfIn, WhatIfOut
from enterprise_store.services._whatif import PolicyWhatIf

__all__ = ["router", "whatif_out"]

router = APIRouter(prefix="/api/v1")


def whatif_out(out: PolicyWhatIf) -> WhatIfOut:
    """The API form of a :class:`PolicyWhatIf`."""
    return WhatIfOut(
        version=out.version,
        requested_version=out.requested,
        minutes=out.minutes,
        denies_allowed=out.denies_allowed,
        unanswered=list(out.unanswered),
        hosts=[
            HostWhatIfOut(
                host_id=h.host_id,
                host=h.host,
                state=h.state,
                denies_allowed=h.denies_allowed,
                result=dict(h.result) if h.result is not None else None,
                error=h.error,
            )
            for h in out.hosts
        ],
    )


@router.post(
    "/policy/whatif",
    tags=["policy"],
    summary="What a policy version would fix and deny on each host it reaches",
    response_model=WhatIfOut,
    **doc(
        "auditor",
        404,
        note="Each host's slice of the version is built as propagation builds it and the "
        "host's XPS is asked WhatIf on it (concurrently, a deadline per host). A host that "
        "cannot answer is listed in `unanswered` with its `error`; one whose slice would "
        "not change is `unchanged`. 404: `version` is neither the newest nor one whose "
        "change of an enclave the caller sees waits for approval (then the answer is the "
        "newest version's, which holds that change: `requested_version`). A scoped caller "
        "sees their hosts and the rows about their VMs. Not audited (a read).",
    ),
)
async def policy_whatif(body: WhatIfIn, caller: Caller, services: ServicesDep) -> WhatIfOut:
    out = await services.whatif.what_if(caller, version=body.version, minutes=body.minutes)
    return whatif_out(out)
