"""The Compute service's frozen dataclasses as the API's models (shared by the host routes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from enterprise_store.model import EnterprisePolicy, Host
from enterprise_store.schemas_compute import (
    DesiredOut,
    MigrationReasonOut,
    MigrationTargetOut,
    ObservedOut,
    PropagationOut,
)
from enterprise_store.services import HostPropagation, MigrationTarget, Principal, Services

__all__ = ["migration_target_out", "propagation_out", "with_propagation"]


def migration_target_out(t: MigrationTarget) -> MigrationTargetOut:
    """A host's migration verdict as the API shows it."""
    return MigrationTargetOut(
        host_id=t.host_id,
        host=t.host,
        allowed=t.allowed,
        reasons=[
            MigrationReasonOut(code=r.code, message=r.message, objects=list(r.objects), hint=r.hint)
            for r in t.reasons
        ],
    )


def propagation_out(p: HostPropagation) -> PropagationOut:
    """A host's propagation state as the API shows it."""
    return PropagationOut(
        host_id=p.host_id,
        host=p.host,
        state=p.state,  # type: ignore[arg-type]
        desired=DesiredOut(version=p.desired_version, slice_sha256=p.desired_sha256),
        observed=ObservedOut(
            version=p.observed_version,
            enforced_hash=p.enforced_hash,
            attempts=p.attempts,
            last_error=p.last_error,
            since=p.since,
        ),
        lag_s=p.lag_s,
        next_attempt_at=p.next_attempt,
        connection=p.connection,
    )


async def with_propagation(
    services: Services, caller: Principal, out: Callable[[Host, EnterprisePolicy], Any]
) -> Callable[[Host, EnterprisePolicy], Any]:
    """``out`` (a host's API model) with the host's propagation state filled in."""
    state_of = await services.compute.propagation_lookup(caller)

    def fill(host: Host, view: EnterprisePolicy) -> Any:
        model = out(host, view)
        state = state_of(host)
        if state is None:
            return model
        return model.model_copy(update={"propagation": propagation_out(state)})

    return fill
