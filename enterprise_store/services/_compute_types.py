"""What the Compute service takes and returns: configuration, host and VM states."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enterprise_store.store._compute_repo import TaskRow
from enterprise_store.workers._hosts import XeIdentity
from enterprise_store.workers._propagation import PropagationConfig

__all__ = [
    "VM_ACTIONS",
    "ComputeConfig",
    "DomainState",
    "HostFacts",
    "HostPropagation",
    "MigrationReason",
    "MigrationTarget",
    "TaskInfo",
    "VmState",
]

VM_ACTIONS = ("start", "pause", "unpause", "shutdown", "reboot", "destroy")
"""VM lifecycle actions, each one XPS request (``start`` is ``CreateDomain``)."""

_NODE_FILE = "xe-node-id"

TaskInfo = TaskRow
"""A task as the Compute service returns it (the stored row: a frozen dataclass)."""


@dataclass(frozen=True)
class ComputeConfig:
    """How the Compute service reaches hosts and runs its workers.

    Attributes:
        identity: XE's client certificate, key and the hosts' CA (None: no host can be
            reached; every host call says so).
        node_id: This server's stable id: it owns tasks and propagation leases; a
            restart with the same id recognises its own cut-off tasks at once.
        propagation: The reconcile loop's tunables.
        host_timeout_s: Connect and per-call deadline towards a host.
        task_heartbeat_s: How often running tasks are marked alive.
        add_host_timeout_s: Deadline of a host-add task.
        propagate_timeout_s: Deadline of a propagate task.
    """

    identity: XeIdentity | None = None
    node_id: str = field(default_factory=lambda: f"xe-{uuid.uuid4().hex[:16]}")
    propagation: PropagationConfig = field(default_factory=PropagationConfig)
    host_timeout_s: float = 10.0
    task_heartbeat_s: float = 2.0
    add_host_timeout_s: float = 120.0
    propagate_timeout_s: float = 3600.0

    @classmethod
    def from_state_dir(cls, state: Path, **overrides: Any) -> ComputeConfig:
        """The configuration of ``xenon xe serve`` on ``state``: the identity ``xenon xe
        init`` made in ``STATE/pki`` and a node id kept in ``STATE/xe-node-id`` (made once).
        """
        from xps.files import read_bounded, write_atomic

        pki = state / "pki"
        identity = XeIdentity.from_pki_dir(pki)
        if not all(p.exists() for p in (identity.ca, identity.cert, identity.key)):
            identity = None  # type: ignore[assignment]
        path = state / _NODE_FILE
        node_id = ""
        if path.exists():
            node_id = read_bounded(path, 256, OSError).decode("ascii", "replace").strip()
        if not node_id or len(node_id) > 64 or not node_id.isprintable():
            node_id = f"xe-{uuid.uuid4().hex[:16]}"
            write_atomic(path, (node_id + "\n").encode(), mode=0o600)
        return cls(identity=identity, node_id=node_id, **overrides)


@dataclass(frozen=True, slots=True)
class HostPropagation:
    """One host's propagation state as a caller sees it.

    Attributes:
        state: ``pending``, ``converged``, ``retrying``, ``drifted`` or ``held``.
        desired_version / desired_sha256: What XE wants the host to enforce.
        observed_version / enforced_hash: What the host last confirmed.
        attempts / last_error: Failed attempts since the last success, and the last error.
        since: When the host entered its state.
        lag_s: Seconds behind the desired version (0 when it is not behind).
        next_attempt: When a retrying host is tried again.
        connection: The XPS connection's state on this server.
    """

    host_id: str
    host: str
    state: str
    desired_version: int
    desired_sha256: str | None
    observed_version: int | None
    enforced_hash: str | None
    attempts: int
    last_error: str | None
    since: dt.datetime
    lag_s: float
    next_attempt: dt.datetime | None
    connection: str


@dataclass(frozen=True, slots=True)
class DomainState:
    """A domain running on a host (from its XPS), with the XE VM it is, if any."""

    domid: int
    name: str
    run_state: str
    vm_id: str | None


@dataclass(frozen=True, slots=True)
class VmState:
    """Where a VM is placed and what its host says it is doing.

    Attributes:
        run_state: XPS's run state (``running``, ``paused`` …), or ``stopped`` when the
            host runs no domain of that name.
    """

    vm_id: str
    name: str
    host_id: str
    host: str
    domid: int | None
    run_state: str


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What a host's XPS told XE when it joined.

    Attributes:
        hypervisor: ``GetHypervisorInfo`` as read then.
        cpu_source: ``xps``, ``operator`` or ``xps+operator`` (who gave the CPU facts).
        prior_policy_name / prior_policy_sha256: The policy the host enforced before XE
            (None: it had none).
        has_prior_export: Whether its export was kept (``prior_policy``).
    """

    host_id: str
    hypervisor: dict[str, Any]
    cpu_source: str
    prior_policy_name: str | None
    prior_policy_sha256: str | None
    has_prior_export: bool
    added_at: dt.datetime


@dataclass(frozen=True, slots=True)
class MigrationReason:
    """One reason a host may not take a VM now (a checker finding, or the service's own:
    ``XE-MIG-ROLE``, ``XE-MIG-NOT-RUNNING``, ``XE-MIG-UNREACHABLE``).

    Attributes:
        objects: Names of the objects concerned, the VM first.
    """

    code: str
    message: str
    objects: tuple[str, ...]
    hint: str = ""


@dataclass(frozen=True, slots=True)
class MigrationTarget:
    """A host's verdict in a migration precheck: allowed, or every reason it is not."""

    host_id: str
    host: str
    allowed: bool
    reasons: tuple[MigrationReason, ...]
