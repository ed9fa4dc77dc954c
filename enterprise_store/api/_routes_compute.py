"""Compute: Add host through its XPS (a task), host facts and removal, live domains, VM
lifecycle, and each host's propagation state (desired vs observed, drift, re-converge).

Paths beside the Policy service's ``/hosts`` and ``/vms`` resources: actions on a
collection or an object are ``POST …/actions/NAME`` (Xen Orchestra's convention).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Response
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from enterprise_store._errors import InvalidInput
from enterprise_store.api._auth import Caller, ServicesDep, doc
from enterprise_store.api._collections import (
    Cursor,
    Fields,
    Limit,
    decode_cursor,
    encode_cursor,
    page,
    parse_fields,
)
from enterprise_store.api._compute_out import migration_target_out, propagation_out
from enterprise_store.api._routes_policy import ObjectRef
from enterprise_store.api._routes_tasks import accepted
from enterprise_store.schemas import Page
from enterprise_store.schemas_compute import (
    DomainOut,
    HostAdd,
    HostFactsOut,
    HostRemoved,
    MigrateIn,
    MigrationTargetOut,
    PriorPolicyOut,
    PropagationFields,
    PropagationOut,
    TaskAccepted,
    VmAction,
    VmStateOut,
)
from enterprise_store.schemas_propagation import PropagationTransitionOut
from enterprise_store.services import Services
from enterprise_store.services._propagation_history import (
    propagation_history as read_propagation_history,
)
from enterprise_store.services._types import from_us

__all__ = ["ComputeCollector", "router"]

router = APIRouter(prefix="/api/v1")
_STATES = ("pending", "converged", "retrying", "drifted", "held")


# -- hosts ---------------------------------------------------------------------------------


@router.post(
    "/hosts/actions/add",
    tags=["hosts"],
    summary="Add host… (Figure 21): connect to its XPS, read its facts, store it (a task)",
    status_code=202,
    response_model=TaskAccepted,
    **doc(
        "admin",
        note="Unscoped admins. The task connects with XE's client certificate, reads "
        "GetHypervisorInfo, GetHardware (CPU vendor, family, stepping, flags; the CPUID "
        "model number comes from `cpu`) and the policy the host enforces; a host with a "
        "policy of its own is held (its export kept) unless `takeover`.",
    ),
)
async def add_host(
    body: HostAdd, response: Response, caller: Caller, services: ServicesDep
) -> TaskAccepted:
    task = await services.compute.add_host(
        caller,
        name=body.name,
        address=body.address,
        port=body.port,
        ro_port=body.ro_port,
        color=body.color,
        order=body.order,
        cpu=None if body.cpu is None else body.cpu.model_dump(exclude_none=True),
        shared_storage=body.shared_storage,
        takeover=body.takeover,
    )
    return accepted(response, task)


@router.post(
    "/hosts/{ref}/actions/remove",
    tags=["hosts"],
    summary="Remove a host (refused while XE's VMs run there)",
    response_model=HostRemoved,
    **doc(
        "admin",
        404,
        409,
        note="Unscoped admins. Refused while an XE VM runs on the host, or while the host "
        "cannot say, unless `force`; with `force` VMs placed there move to their "
        "enclave's next host.",
    ),
)
async def remove_host(
    ref: ObjectRef,
    caller: Caller,
    services: ServicesDep,
    force: Annotated[bool, Query(description="Even with VMs running or placed there.")] = False,
) -> HostRemoved:
    return HostRemoved(version=await services.compute.remove_host(caller, ref, force=force))


@router.get(
    "/hosts/{ref}/facts",
    tags=["hosts"],
    summary="What the host's XPS reported when it joined",
    response_model=HostFactsOut,
    **doc("auditor", 404),
)
async def host_facts(ref: ObjectRef, caller: Caller, services: ServicesDep) -> HostFactsOut:
    facts = await services.compute.host_facts(caller, ref)
    prior = None
    if facts.prior_policy_sha256 is not None:
        prior = PriorPolicyOut(
            name=facts.prior_policy_name,
            sha256=facts.prior_policy_sha256,
            export=f"/api/v1/hosts/{facts.host_id}/prior-policy"
            if facts.has_prior_export
            else None,
        )
    return HostFactsOut(
        host_id=facts.host_id,
        hypervisor=facts.hypervisor,
        cpu_source=facts.cpu_source,
        prior_policy=prior,
        added_at=facts.added_at,
    )


_PRIOR_DOC = doc("auditor", 404, note="Unscoped callers (the whole host's own policy).")
_PRIOR_DOC["responses"][200] = {
    "description": "The exported policy document.",
    "content": {"application/xml": {"schema": {"type": "string"}}},
}


@router.get(
    "/hosts/{ref}/prior-policy",
    tags=["hosts"],
    summary="Export of the policy the host enforced before XE took over (XML)",
    response_class=Response,
    **_PRIOR_DOC,
)
async def prior_policy(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Response:
    xml = await services.compute.prior_policy(caller, ref)
    return Response(xml.encode("utf-8"), media_type="application/xml")


@router.get(
    "/hosts/{ref}/domains",
    tags=["hosts"],
    summary="Domains the host runs now (live, from its XPS)",
    response_model=Page[DomainOut],
    **doc("auditor", 404, 502, note="A scoped caller sees their enclaves' VMs only."),
)
async def host_domains(ref: ObjectRef, caller: Caller, services: ServicesDep) -> Page[DomainOut]:
    domains = await services.compute.host_domains(caller, ref)
    return Page[DomainOut](items=[DomainOut.model_validate(d) for d in domains])


@router.get(
    "/hosts/{ref}/propagation",
    tags=["propagation"],
    summary="The host's propagation state: desired vs observed",
    response_model=PropagationOut,
    **doc("auditor", 404),
)
async def host_propagation(ref: ObjectRef, caller: Caller, services: ServicesDep) -> PropagationOut:
    return propagation_out(await services.compute.host_propagation(caller, ref))


@router.post(
    "/hosts/{ref}/propagation/reconverge",
    tags=["propagation"],
    summary="Re-converge a drifted host (or let XE take over a held one)",
    response_model=PropagationOut,
    **doc(
        "admin",
        404,
        409,
        note="Unscoped admins. The host gets its slice again; its own parts are kept.",
    ),
)
async def reconverge(ref: ObjectRef, caller: Caller, services: ServicesDep) -> PropagationOut:
    return propagation_out(await services.compute.reconverge(caller, ref))


# -- propagation ---------------------------------------------------------------------------


@router.get(
    "/propagation",
    tags=["propagation"],
    summary="Every host's propagation state, in panel order",
    response_model=Page[PropagationFields],  # type: ignore[valid-type]
    **doc("auditor", note="A scoped caller sees the hosts of their enclaves."),
)
async def list_propagation(
    caller: Caller,
    services: ServicesDep,
    state: Annotated[
        str | None, Query(pattern="^(pending|converged|retrying|drifted|held)$")
    ] = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    selected = parse_fields(fields, PropagationOut)
    after = decode_cursor(cursor)
    states = await services.compute.propagation(caller)
    if state is not None:
        states = [s for s in states if s.state == state]
    if after is not None:
        ids = [s.host_id for s in states]
        states = states[ids.index(after) + 1 :] if after in ids else []
    chunk = states[:limit]
    next_key = chunk[-1].host_id if len(states) > limit else None
    return page(PropagationOut, [propagation_out(s) for s in chunk], next_key, selected)


@router.get(
    "/propagation/history",
    tags=["propagation"],
    summary="Hosts' propagation transitions (drift with its reason, retries, convergence)",
    response_model=Page[PropagationTransitionOut],
    **doc(
        "auditor",
        404,
        note="Newest first; a scoped caller sees the hosts of their enclaves. `host` (a "
        "UUID or a current name) narrows to one host, `since` to transitions at or after it.",
    ),
)
async def propagation_history(
    caller: Caller,
    services: ServicesDep,
    host: Annotated[
        str | None, Query(min_length=1, max_length=255, description="A UUID or a current name.")
    ] = None,
    since: Annotated[dt.datetime | None, Query(description="At or after (ISO 8601).")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[PropagationTransitionOut]:
    key = decode_cursor(cursor)
    if key is not None and not (key.isascii() and key.isdigit() and len(key) < 20):
        raise InvalidInput("invalid cursor: pass next_cursor back unchanged")
    since_us = None
    if since is not None:
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        try:
            since_us = int(since.timestamp() * 1_000_000)
        except (OverflowError, OSError, ValueError):
            raise InvalidInput("since out of range") from None
    found = await read_propagation_history(
        services.store,
        services.policy,
        caller,
        host=host,
        since_us=since_us,
        before_id=None if key is None else int(key),
        limit=limit,
    )
    items = [
        PropagationTransitionOut(
            id=t.id,
            host_id=t.host_id,
            host=name,
            at=from_us(t.ts_us),  # type: ignore[arg-type]
            ts_us=t.ts_us,
            from_state=t.from_state,  # type: ignore[arg-type]
            to_state=t.to_state,  # type: ignore[arg-type]
            desired_version=t.desired_version,
            observed_version=t.observed_version,
            enforced_hash=t.enforced_hash,
            reason=t.reason,
        )
        for t, name in found.items
    ]
    nxt = None if found.next_before is None else encode_cursor(str(found.next_before))
    return Page[PropagationTransitionOut](items=items, next_cursor=nxt)


@router.post(
    "/propagation",
    tags=["propagation"],
    summary="Propagate the current version now and follow it (a task)",
    status_code=202,
    response_model=TaskAccepted,
    **doc(
        "operator",
        note="Unscoped operators. Propagation runs by itself; the task ends when every "
        "host enforces the version (or is drifted or held).",
    ),
)
async def propagate(response: Response, caller: Caller, services: ServicesDep) -> TaskAccepted:
    return accepted(response, await services.compute.propagate(caller))


# -- VMs -----------------------------------------------------------------------------------


@router.get(
    "/vms/{ref}/migration-targets",
    tags=["vms"],
    summary="Migration precheck: every other host, allowed or with every reason (Figure 40)",
    response_model=Page[MigrationTargetOut],
    **doc(
        "auditor",
        404,
        note="Hosts in panel order (a scoped caller: those of their enclaves). Reasons: "
        "the target carries the VM's enclave; same CPU vendor and the source's flags a "
        "subset of the target's; a storage declared shared; a switch of the enclave on "
        "the target; the Chinese Wall on what runs there now; the caller's role "
        "(`XE-MIG-ROLE`); the VM running (`XE-MIG-NOT-RUNNING`); hosts reachable "
        "(`XE-MIG-UNREACHABLE`).",
    ),
)
async def migration_targets(
    ref: ObjectRef, caller: Caller, services: ServicesDep
) -> Page[MigrationTargetOut]:
    targets = await services.compute.migration_targets(caller, ref)
    return Page[MigrationTargetOut](items=[migration_target_out(t) for t in targets])


# Before /vms/{ref}/actions/{action}: its path would take "migrate" and refuse it.
@router.post(
    "/vms/{ref}/actions/migrate",
    tags=["vms"],
    summary="Live-migrate a running VM to another host (a task)",
    status_code=202,
    response_model=TaskAccepted,
    **doc(
        "operator",
        404,
        409,
        note="Operators of the VM's enclave. The precheck runs first: a refused target is "
        "a 409 `policy_refused` problem with every reason. The task places the VM on the "
        "target in the policy, waits for the target to enforce it, moves the domain (sim: "
        "pre-copy, stop-and-copy, same UUID, memory image digest checked; xen: the xl "
        "migrate path, not exercisable here) and reports the downtime. A refusal at the "
        "target's MSM leaves the VM running on the source, placed there.",
    ),
)
async def migrate_vm(
    ref: ObjectRef, body: MigrateIn, response: Response, caller: Caller, services: ServicesDep
) -> TaskAccepted:
    return accepted(response, await services.compute.migrate(caller, ref, body.to))


@router.post(
    "/vms/{ref}/actions/{action}",
    tags=["vms"],
    summary="Start, pause, unpause, shut down, reboot or destroy a VM on its host",
    response_model=VmStateOut,
    **doc(
        "operator",
        404,
        409,
        502,
        note="Operators of the VM's enclave. `start` creates the domain from the host's "
        "active policy (409 until the VM's version has reached the host).",
    ),
)
async def vm_action(
    ref: ObjectRef, action: VmAction, caller: Caller, services: ServicesDep
) -> VmStateOut:
    return VmStateOut.model_validate(await services.compute.vm_action(caller, ref, action))


@router.get(
    "/vms/{ref}/state",
    tags=["vms"],
    summary="Where a VM is placed and what its host says it does (live)",
    response_model=VmStateOut,
    **doc("auditor", 404, 409, 502),
)
async def vm_state(ref: ObjectRef, caller: Caller, services: ServicesDep) -> VmStateOut:
    return VmStateOut.model_validate(await services.compute.vm_state(caller, ref))


# -- metrics -------------------------------------------------------------------------------


class ComputeCollector(Collector):
    """``xe_propagation_lag_seconds{host}``, ``xe_propagation_hosts{state}``,
    ``xe_propagation_attempts{host}``, ``xe_tasks_running`` and ``xe_tasks_finished{kind,
    state}`` from the workers' last pass (no database query at scrape time)."""

    def __init__(self, services: Services | None, lookup: object | None = None) -> None:
        self._services = services
        self._lookup = lookup

    def _current(self) -> Services | None:
        if self._services is not None:
            return self._services
        state = getattr(self._lookup, "state", None)
        found = getattr(state, "services", None)
        return found if isinstance(found, Services) else None

    def describe(self) -> Sequence[GaugeMetricFamily]:
        return []

    def collect(self) -> list[GaugeMetricFamily]:
        services = self._current()
        lag = GaugeMetricFamily(
            "xe_propagation_lag_seconds",
            "Seconds a host has been behind the desired policy version (0: it is not).",
            labels=["host"],
        )
        attempts = GaugeMetricFamily(
            "xe_propagation_attempts",
            "Failed propagation attempts to a host since its last success.",
            labels=["host"],
        )
        hosts = GaugeMetricFamily(
            "xe_propagation_hosts", "Hosts per propagation state.", labels=["state"]
        )
        running = GaugeMetricFamily("xe_tasks_running", "Tasks this server runs now.")
        finished = GaugeMetricFamily(
            "xe_tasks_finished",
            "Tasks this server ended since it started, by kind and state.",
            labels=["kind", "state"],
        )
        if services is None:
            return [lag, attempts, hosts, running, finished]
        propagator = services.compute.propagator
        counts = dict.fromkeys(_STATES, 0)
        for host_id, row in propagator.rows.items():
            name = propagator.names.get(host_id, host_id)
            lag.add_metric([name], propagator.lag_s(row))
            attempts.add_metric([name], row.attempts)
            counts[row.state] = counts.get(row.state, 0) + 1
        for state, n in counts.items():
            hosts.add_metric([state], n)
        tasks = services.compute.tasks
        running.add_metric([], tasks.running)
        for (kind, state), n in sorted(tasks.finished.items()):
            finished.add_metric([kind, state], n)
        return [lag, attempts, hosts, running, finished]
