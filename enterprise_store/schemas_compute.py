"""The XE REST API's Compute and task models: shared by the routes (``api``) and the client.

Like :mod:`enterprise_store.schemas`: requests refuse unknown fields, resources ignore
them. Long work answers ``202 Accepted`` with :class:`TaskAccepted` (and a ``Location``
header); the task is then read, awaited (``?wait=``), streamed or cancelled under
``/api/v1/tasks``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from enterprise_store.schemas import Problem, Request, Resource, fields_model

__all__ = [
    "TASK_STATES",
    "VM_ACTIONS",
    "CpuFactsIn",
    "DesiredOut",
    "DomainOut",
    "HostAdd",
    "HostFactsOut",
    "HostRemoved",
    "MigrateIn",
    "MigrationReasonOut",
    "MigrationTargetOut",
    "ObservedOut",
    "PriorPolicyOut",
    "PropagationFields",
    "PropagationOut",
    "TaskAccepted",
    "TaskFields",
    "TaskOut",
    "TaskState",
    "VmAction",
    "VmStateOut",
]

TaskState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TASK_STATES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
VmAction = Literal["start", "pause", "unpause", "shutdown", "reboot", "destroy"]
VM_ACTIONS: tuple[str, ...] = ("start", "pause", "unpause", "shutdown", "reboot", "destroy")

_Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
_Flag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.]{1,64}$")]
_Small = Annotated[int, Field(ge=0, le=65535)]


class CpuFactsIn(Request):
    """CPU facts an operator supplies or overrides (migration needs them, Figure 21)."""

    vendor: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    family: _Small | None = None
    model: _Small | None = Field(
        default=None, description="CPUID model number (XPS does not report it)."
    )
    stepping: _Small | None = None
    flags: Annotated[list[_Flag], Field(max_length=4096)] | None = None


class HostAdd(Request):
    """Add host… (Figure 21): XE connects to the host's XPS and reads its facts."""

    name: _Name
    address: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field(
        description="Management address of the host's XPS (IP address or DNS name)."
    )
    port: int = Field(default=9443, ge=1, le=65535, description="XPS read-write port.")
    ro_port: int | None = Field(
        default=None, ge=1, le=65535, description="XPS read-only port (an auditor's console's)."
    )
    color: str | list[int] | None = Field(default=None, description="`#rrggbb` or [r, g, b].")
    order: int | None = Field(default=None, ge=1, le=1_000_000, description="Panel position.")
    cpu: CpuFactsIn | None = Field(default=None, description="Overrides what the host reports.")
    shared_storage: Annotated[list[_Name], Field(max_length=256)] = Field(default_factory=list)
    takeover: bool = Field(
        default=False,
        description="Propagate at once even if the host enforces a policy of its own "
        "(default: it is held until an admin re-converges it).",
    )


class TaskAccepted(Resource):
    """A task was started: follow it at ``location``."""

    task_id: str
    location: str


class TaskOut(Resource):
    """A long-running task."""

    id: str
    kind: str
    state: TaskState
    progress: float = Field(ge=0.0, le=1.0)
    message: str
    object: str
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    cancel_requested: bool
    result: dict[str, Any] | None = Field(description="The task's result once it succeeded.")
    error: Problem | None = Field(description="Why it failed (problem details).")


TaskFields = fields_model(TaskOut)


class DesiredOut(Resource):
    """What XE wants a host to enforce."""

    version: int
    slice_sha256: str | None


class ObservedOut(Resource):
    """What the host last confirmed."""

    version: int | None
    enforced_hash: str | None
    attempts: int
    last_error: str | None
    since: dt.datetime


class PropagationOut(Resource):
    """A host's propagation state."""

    host_id: str
    host: str
    state: Literal["pending", "converged", "retrying", "drifted", "held"]
    desired: DesiredOut
    observed: ObservedOut
    lag_s: float = Field(description="Seconds behind the desired version (0: not behind).")
    next_attempt_at: dt.datetime | None
    connection: str = Field(description="This server's XPS connection to the host.")


PropagationFields = fields_model(PropagationOut)


class DomainOut(Resource):
    """A domain a host runs now."""

    domid: int
    name: str
    run_state: str
    vm_id: str | None = Field(description="The XE VM it is (null: not one of XE's).")


class VmStateOut(Resource):
    """Where a VM is placed and what its host says it does."""

    vm_id: str
    name: str
    host_id: str
    host: str
    domid: int | None
    run_state: str = Field(description="XPS's run state, or `stopped`.")


class PriorPolicyOut(Resource):
    """The policy a host enforced before XE took over."""

    name: str | None
    sha256: str | None
    export: str | None = Field(description="Where its exported XML is kept.")


class HostFactsOut(Resource):
    """What a host's XPS told XE when it joined."""

    host_id: str
    hypervisor: dict[str, Any]
    cpu_source: str
    prior_policy: PriorPolicyOut | None
    added_at: dt.datetime


class HostRemoved(Resource):
    """A host left the enterprise."""

    version: int = Field(description="The policy version the removal made.")


class MigrateIn(Request):
    """Live-migrate a running VM to another host (report §4.4)."""

    to: _Name = Field(description="The target host (UUID or name).")


class MigrationReasonOut(Resource):
    """One reason a host may not take the VM now."""

    code: str = Field(description="`XE-MIG-*`: a stable code.")
    message: str
    objects: list[str] = Field(description="Names of the objects concerned, the VM first.")
    hint: str = ""


class MigrationTargetOut(Resource):
    """A host's verdict in the migration precheck."""

    host_id: str
    host: str
    allowed: bool
    reasons: list[MigrationReasonOut] = Field(description="Every reason at once (empty: allowed).")
