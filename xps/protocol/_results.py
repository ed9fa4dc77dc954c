"""Result and event shapes of every method, defined once for the host and the client.

They are ``TypedDict``\\ s, not classes with ``to_wire``/``from_wire``: a result *is* the
JSON object on the wire, so the host builds it as a literal that mypy checks and the
bytes stay what they were. :data:`RESULTS` names each method's shape; :func:`mismatches`
checks a decoded value against a shape at run time (the client's typed methods do, so a
drifted daemon is a :class:`~xps.client.ProtocolViolation`, not a ``KeyError`` later).
"""

# No ``from __future__ import annotations``: NotRequired inside a string annotation is
# not seen by TypedDict on 3.12, and the run-time checker reads these hints.

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, NotRequired, TypedDict

# --------------------------------------------------------------------------- results


class Pong(TypedDict):
    """``Ping``."""

    pong: bool


class HypervisorInfo(TypedDict):
    """``GetHypervisorInfo``. ``msm_version`` is None when the MSM is unavailable (xen)."""

    xen_version: str
    msm_version: str | None
    msm_status: str
    backend: str
    policy_generation: int
    policy_id: str | None
    policy_name: str | None
    hostname: str
    cpus: int
    mem_kb: int
    free_mem_kb: int
    uptime_s: float


class DomainInfo(TypedDict):
    """One row of ``GetDomainRunStates`` (``uuid`` is None where xl does not give one)."""

    domid: int
    name: str
    uuid: str | None
    state: str
    run_state: str
    mem_mb: int
    vcpus: int
    cpu_s: float
    seclabel: str | None
    seclabel_name: str
    tag: str | None
    tag_name: str
    stopped_by_msm: bool
    violations: int


class DomainRunStates(TypedDict):
    """``GetDomainRunStates``."""

    domains: list[DomainInfo]
    xl_list: str


class LogMsgs(TypedDict):
    """``GetLogMsgs``: oldest first."""

    lines: list[str]


class NicInfo(TypedDict):
    """One network interface of ``GetHardware`` (``pci`` None for virtual ones)."""

    name: str
    mac: str
    pci: str | None
    virtual: bool


class Hardware(TypedDict):
    """``GetHardware``: the discovered inventory (the policy model's JSON form) and NICs."""

    hardware: dict[str, Any]
    nics: list[NicInfo]


class StoredPolicy(TypedDict):
    """``GetPolicy`` (``generation`` is None for the staged policy)."""

    which: str
    generation: int | None
    sha256: str
    xml: str
    policy: dict[str, Any]


class Staged(TypedDict):
    """``StagePolicy``: findings are warnings (errors refuse the policy)."""

    staged: bool
    findings: list[dict[str, Any]]
    sha256: str


class StagedDiff(TypedDict):
    """``GetStagedDiff``."""

    diff: dict[str, Any]
    staged: bool


class PolicyVersion(TypedDict):
    """ActivatePolicy / RollbackPolicy and the data of a ``policy`` event."""

    generation: int
    sha256: str
    network_errors: NotRequired[list[str]]
    quarantines_kept: NotRequired[list[str]]


class ExportedPolicy(TypedDict):
    """``ExportPolicy``."""

    xml: str
    signed: bool


class DomainCreated(TypedDict):
    """``CreateDomain``."""

    domid: int


class DomainAction(TypedDict):
    """Pause/Unpause/Shutdown/Reboot/DestroyDomain."""

    domid: int
    run_state: str


class VncInfo(TypedDict):
    """``GetVncInfo``: ``domid`` is None when the domain is not running."""

    domid: int | None
    name: str
    enabled: bool
    listen: str | None
    display: int | None
    port: int | None


class VncCredentials(VncInfo):
    """``GetVncCredentials``: None when the domain has no VNC console."""

    password: str | None


class HostStats(TypedDict):
    """The host part of a statistics sample."""

    cpu_pct: float
    mem_kb: int
    free_mem_kb: int


class DomainStats(TypedDict):
    """One domain of a statistics sample."""

    domid: int
    name: str
    cpu_pct: float
    mem_kb: int
    vcpus: int
    cpu_s: float


class Stats(TypedDict):
    """``GetStats`` and the data of a ``stats`` event."""

    ts: float
    host: HostStats
    domains: list[DomainStats]


class StatsSeries(TypedDict):
    """One series: points are ``[ts, cpu_pct, mem_kb, vcpus]``."""

    name: str
    points: list[list[float]]


class StatsHistory(TypedDict):
    """``GetStatsHistory``."""

    range: str
    step_s: int
    series: list[StatsSeries]


class CallCount(TypedDict):
    """Allowed calls of one domain to one (hypercall, sub-op)."""

    domain: str
    hypercall: int
    hypercall_name: str
    subop: int
    count: int


class CallCounts(TypedDict):
    """``GetCallCounts``: allowed calls of the last ``minutes``, most first; ``dropped``
    counts calls the host could not keep (a full bucket or record ring)."""

    minutes: int
    calls: list[CallCount]
    dropped: int


class WhatIfFixed(TypedDict):
    """Recorded violations of one kind the staged policy would allow."""

    domain: str
    domid: int
    kind: str
    hypercall: int
    hypercall_name: str
    subop: int
    peer: int | None
    count: int


class WhatIfDenied(TypedDict):
    """Allowed calls of the last minutes the staged policy would deny; ``text`` says so."""

    domain: str
    domid: int
    hypercall: int
    hypercall_name: str
    subop: int
    calls: int
    seclabel: str | None
    profile: str | None
    reason: str
    text: str


class WhatIfDomain(TypedDict):
    """A live domain the staged policy would not admit (``outcome``: unlabelled, conflict)."""

    domain: str
    domid: int
    outcome: str
    text: str


class WhatIfChannel(TypedDict):
    """A pair of live domains whose channel decision changes (active -> staged)."""

    a: str
    b: str
    active: bool
    staged: bool


class WhatIfDevice(TypedDict):
    """A (PCI device, live domain) pair whose assignment decision changes."""

    device: str
    domain: str
    active: bool
    staged: bool


class WhatIf(TypedDict):
    """``WhatIf``: what a staged policy would do to this host's recorded behaviour.

    ``denies_allowed``: true when it would deny anything allowed now (calls made,
    running domains, channels or devices that work now); ``rate_not_evaluated``:
    rate violations in the window (a per-minute record cannot replay 1 ms windows).
    ``quarantines_kept``: quarantined VMs (``VM (INC-n)``) the activation would keep on
    their quarantine SecLabel (the what-if is of that policy); ``quarantine_refused``:
    why the activation would be refused (a quarantine it cannot keep).
    """

    policy_name: str
    minutes: int
    fixed: list[WhatIfFixed]
    denied_calls: list[WhatIfDenied]
    domains: list[WhatIfDomain]
    channels: list[WhatIfChannel]
    devices: list[WhatIfDevice]
    rate_not_evaluated: int
    denies_allowed: bool
    quarantines_kept: NotRequired[list[str]]
    quarantine_refused: NotRequired[str]


class Violation(TypedDict):
    """One violation record."""

    seq: int
    ts: str
    ts_ns: int
    domid: int
    domain: str
    seclabel: str | None
    seclabel_name: str
    profile: str
    kind: str
    hypercall: int
    hypercall_name: str
    subop: int
    peer: int | None
    count: int


class ViolationAck(TypedDict):
    """``AcknowledgeViolations``: records up to ``up_to_seq`` (of ``domain``, or of every
    domain when None) were seen by ``user`` at ``ts`` (epoch seconds)."""

    ack: int
    domain: str | None
    up_to_seq: int
    user: str
    note: str | None
    ts: float


class Violations(TypedDict):
    """``GetViolations`` and the data of a ``violations`` event.

    ``acks``: the acknowledgements the host keeps (``GetViolations`` only; each new one
    is also pushed as an ``acks`` event).
    """

    violations: list[Violation]
    last_seq: int
    dropped: int
    acks: NotRequired[list[ViolationAck]]


class IncidentStepRecord(TypedDict):
    """One runbook step of an incident (``step`` is a runbook step, ``unquarantine`` or
    ``reopen``); a quarantine done and an unquarantine name the SecLabel before and after
    and the policy generation they made active."""

    step: str
    outcome: str
    user: str
    note: str | None
    ts: float
    label_before: NotRequired[str]
    label_after: NotRequired[str]
    generation: NotRequired[int]
    form: NotRequired[str]
    vifs: NotRequired[list[dict[str, Any]]]


class IncidentQuarantine(TypedDict):
    """An incident's domain while it is quarantined: the SecLabel to restore (or, form
    ``vifs``, the VIFs detached: mac, switch, switch_name, ip, model)."""

    label_id: str
    label: str
    quarantine_label: str
    since: float
    form: NotRequired[str]
    vifs: NotRequired[list[dict[str, Any]]]


class Incident(TypedDict):
    """``OpenIncident``, ``IncidentStep``, ``GetIncident``, ``ReopenIncident``: the record
    captured when it was opened and its steps. ``stats`` is the domain's 10-minute
    history; ``config`` and ``seclabel`` its entries of the active policy (dict form)."""

    id: str
    domain: str
    state: str
    opened_by: str
    opened_at: float
    closed_at: float | None
    trigger_seqs: list[int]
    triggers: list[Violation]
    violations: list[Violation]
    stats: StatsHistory
    config: dict[str, Any] | None
    seclabel: dict[str, Any] | None
    policy_name: str | None
    policy_generation: int
    policy_sha256: str | None
    steps: list[IncidentStepRecord]
    quarantine: NotRequired[IncidentQuarantine | None]


class IncidentSummary(TypedDict):
    """One row of ``ListIncidents``."""

    id: str
    domain: str
    state: str
    opened_by: str
    opened_at: float
    closed_at: float | None
    triggers: int
    last_step: str | None
    last_note: str | None


class IncidentList(TypedDict):
    """``ListIncidents``: newest first."""

    incidents: list[IncidentSummary]


class ViolationsAddressed(TypedDict):
    """``AddressViolations`` (``run_state`` when it was asked to unpause)."""

    domid: int
    violations: int
    run_state: NotRequired[str]


class Empty(TypedDict):
    """A result with no members (``SetMisbehaviour``)."""


class MigrationOut(TypedDict):
    """``MigrateOut``."""

    migration: str
    domid: int
    uuid: str
    name: str
    mem_kb: int
    image_size: int
    chunk_size: int
    chunks: int


class MigrationChunk(TypedDict):
    """``MigrateOutRead``: ``data`` is base64."""

    chunk: int
    data: str


class MigrationDirty(TypedDict):
    """``MigrateOutDirty``: ``digest`` once the domain is paused."""

    round: int
    dirty: list[int]
    paused: bool
    digest: str | None


class MigrationOutDone(TypedDict):
    """``MigrateOutFinish``."""

    domid: int
    name: str
    run_state: str
    paused_ms: float


class MigrationIn(TypedDict):
    """``MigrateIn``."""

    migration: str
    chunks: int


class MigrationWritten(TypedDict):
    """``MigrateInWrite``."""

    chunk: int
    received: int
    chunks: int


class MigrationInDone(TypedDict):
    """``MigrateInFinish`` when the domain runs here."""

    domid: int
    uuid: str
    name: str
    digest: str
    run_state: str


class MigrationAborted(TypedDict):
    """``MigrateInFinish(abort=true)``."""

    aborted: bool
    name: str


#: ``MigrateInFinish``.
MigrationInFinished = MigrationInDone | MigrationAborted


class Authorization(TypedDict):
    """One entry of the authorization store; also Add/RemoveAuthorization."""

    alias: str
    subject: str
    fingerprint: str
    not_after: str


class Authorizations(TypedDict):
    """``ListAuthorizations``."""

    authorizations: list[Authorization]
    writable: bool


class Subscribed(TypedDict):
    """``Subscribe``."""

    subscribed: list[str]


class Unsubscribed(TypedDict):
    """``Unsubscribe``."""

    unsubscribed: bool


class DomainEvent(TypedDict):
    """The data of a ``domain`` event.

    ``origin``: who caused it, as far as the host knows: ``console <user>`` (a client
    that named its user), ``client`` (one that did not), ``MSM violation limit``,
    ``migration``.
    """

    domid: int
    name: str
    run_state: str
    reason: str
    origin: NotRequired[str]


#: Method -> the shape of its result (every method of ``METHODS``; a test keeps it so).
RESULTS: Mapping[str, Any] = {
    "Ping": Pong,
    "GetHypervisorInfo": HypervisorInfo,
    "GetDomainRunStates": DomainRunStates,
    "GetLogMsgs": LogMsgs,
    "GetHardware": Hardware,
    "GetPolicy": StoredPolicy,
    "StagePolicy": Staged,
    "GetStagedDiff": StagedDiff,
    "ActivatePolicy": PolicyVersion,
    "RollbackPolicy": PolicyVersion,
    "ExportPolicy": ExportedPolicy,
    "CreateDomain": DomainCreated,
    "PauseDomain": DomainAction,
    "UnpauseDomain": DomainAction,
    "ShutdownDomain": DomainAction,
    "RebootDomain": DomainAction,
    "DestroyDomain": DomainAction,
    "GetVncInfo": VncInfo,
    "GetVncCredentials": VncCredentials,
    "GetStats": Stats,
    "GetStatsHistory": StatsHistory,
    "GetViolations": Violations,
    "GetCallCounts": CallCounts,
    "WhatIf": WhatIf,
    "OpenIncident": Incident,
    "IncidentStep": Incident,
    "GetIncident": Incident,
    "ListIncidents": IncidentList,
    "ReopenIncident": Incident,
    "AddressViolations": ViolationsAddressed,
    "AcknowledgeViolations": ViolationAck,
    "SetMisbehaviour": Empty,
    "MigrateOut": MigrationOut,
    "MigrateOutRead": MigrationChunk,
    "MigrateOutDirty": MigrationDirty,
    "MigrateOutFinish": MigrationOutDone,
    "MigrateIn": MigrationIn,
    "MigrateInWrite": MigrationWritten,
    "MigrateInFinish": MigrationInFinished,
    "ListAuthorizations": Authorizations,
    "AddAuthorization": Authorization,
    "RemoveAuthorization": Authorization,
    "Subscribe": Subscribed,
    "Unsubscribe": Unsubscribed,
}

#: Event name -> the shape of its ``data``.
EVENTS: Mapping[str, Any] = {
    "violations": Violations,
    "stats": Stats,
    "domain": DomainEvent,
    "policy": PolicyVersion,
    "acks": ViolationAck,
}

# --------------------------------------------------------------------------- checking

# check(value, path, problems, strict): appends "path: what is wrong" to problems.
_Check = Callable[[object, str, list[str], bool], None]
_MAX_PROBLEMS = 20
_compiled: dict[object, _Check] = {}


def mismatches(shape: object, value: object, *, strict: bool = True) -> list[str]:
    """Where a decoded JSON value departs from a shape of this module (empty: it fits).

    Args:
        shape: A TypedDict of this module, a union of them, or a plain annotation
            (``int``, ``str | None``, ``list[...]``, ``dict[str, Any]``, ``Any``).
        value: The decoded JSON.
        strict: Also report members the shape does not declare. The client is lenient
            (a newer daemon may add members); the tests are strict.

    Returns:
        Up to 20 problems, each ``"path: what"``.
    """
    problems: list[str] = []
    _checker(shape)(value, "result", problems, strict)
    return problems[:_MAX_PROBLEMS]


def _checker(tp: object) -> _Check:
    check = _compiled.get(tp)
    if check is None:
        check = _compiled[tp] = _compile(tp)
    return check


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _compile(tp: object) -> _Check:
    if tp is Any:
        return lambda value, path, problems, strict: None
    if tp is None or tp is type(None):
        return _scalar(lambda v: v is None, "null")
    if tp is bool:
        return _scalar(lambda v: v is True or v is False, "bool")
    if tp is int:
        return _scalar(lambda v: type(v) is int, "int")
    if tp is float:  # JSON has one number type: 3 is a fine float
        return _scalar(lambda v: type(v) is float or type(v) is int, "number")
    if tp is str:
        return _scalar(lambda v: type(v) is str, "str")
    if typing.is_typeddict(tp):
        return _typeddict(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is types.UnionType or origin is typing.Union:
        return _union(args)
    if origin is Literal:
        allowed = frozenset(args)
        return _scalar(lambda v: v in allowed, f"one of {sorted(map(str, allowed))}")
    if origin is list:
        return _list(_checker(args[0]))
    if origin is dict:
        value_check = _checker(args[1])
        return _dict(value_check)
    raise TypeError(f"no run-time check for {tp!r}")


def _scalar(test: Callable[[object], bool], what: str) -> _Check:
    def check(value: object, path: str, problems: list[str], strict: bool) -> None:
        if not test(value):
            problems.append(f"{path}: {what} expected, got {_kind(value)}")

    return check


def _union(args: tuple[object, ...]) -> _Check:
    options = [_checker(a) for a in args]
    names = " | ".join(getattr(a, "__name__", None) or repr(a) for a in args)

    def check(value: object, path: str, problems: list[str], strict: bool) -> None:
        best: list[str] | None = None
        for option in options:
            found: list[str] = []
            option(value, path, found, strict)
            if not found:
                return
            if best is None or len(found) < len(best):
                best = found
        problems.append(f"{path}: fits none of {names}")
        problems.extend(best or ())

    return check


def _list(item: _Check) -> _Check:
    def check(value: object, path: str, problems: list[str], strict: bool) -> None:
        if type(value) is not list:
            problems.append(f"{path}: list expected, got {_kind(value)}")
            return
        for i, element in enumerate(value):
            item(element, f"{path}[{i}]", problems, strict)
            if len(problems) >= _MAX_PROBLEMS:
                return

    return check


def _dict(value_check: _Check) -> _Check:
    def check(value: object, path: str, problems: list[str], strict: bool) -> None:
        if type(value) is not dict:
            problems.append(f"{path}: object expected, got {_kind(value)}")
            return
        for key, element in value.items():
            value_check(element, f"{path}.{key}", problems, strict)

    return check


def _typeddict(tp: Any) -> _Check:
    hints = typing.get_type_hints(tp)
    required: frozenset[str] = tp.__required_keys__
    # Filled in on first use: a TypedDict may name one defined after it.
    members: dict[str, _Check] = {}

    def check(value: object, path: str, problems: list[str], strict: bool) -> None:
        if type(value) is not dict:
            problems.append(f"{path}: object {tp.__name__} expected, got {_kind(value)}")
            return
        if not members:
            members.update({name: _checker(hint) for name, hint in hints.items()})
        for name in sorted(required - value.keys()):
            problems.append(f"{path}: {tp.__name__} member {name!r} is missing")
        for name, element in value.items():
            member = members.get(name)
            if member is not None:
                member(element, f"{path}.{name}", problems, strict)
            elif strict:
                problems.append(f"{path}: {tp.__name__} has no member {name!r}")

    return check
