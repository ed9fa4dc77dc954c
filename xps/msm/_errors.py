"""The error tree of :mod:`xps.msm`: one class per ``msm_status``, each with a stable code.

::

    MsmError(errors.XenonError)                        MSM_ERROR        (unknown status:
    │                                                                   ``MSM_STATUS_<n>``)
    ├── InvalidArgument(errors.InvalidArgument, ValueError)
    │   │                                              MSM_EINVAL       malformed argument
    │   ├── BadSize                                    MSM_ESIZE        struct size mismatch
    │   └── OutOfRange                                 MSM_ERANGE       number out of range
    ├── NotFound(errors.NotFound, LookupError)         MSM_ENOENT       no such object, domain
    ├── AlreadyExists(errors.Conflict)                 MSM_EEXIST       id or name in use
    ├── NoSpace                                        MSM_ENOSPC       a table is full
    ├── OutOfMemory(MemoryError)                       MSM_ENOMEM       allocation failed
    ├── WrongState                                     MSM_ESTATE       no transaction, not running
    ├── NoLabel                                        MSM_ENOLABEL     start: no SecLabel bound
    ├── Conflict(errors.Conflict)                      MSM_ECONFLICT    start: Chinese Wall
    ├── ViolationsPending                              MSM_EVIOLATIONS  unpause: not reset
    ├── Denied(PermissionError)                        MSM_EDENIED      device tag differs
    ├── CommitRefused                                  MSM_EVALIDATE    commit failed validation;
    │                                                                   ``error`` says why
    ├── Busy                                           MSM_EBUSY        resource in use
    ├── NotSupported(errors.NotSupported)              MSM_ENOSYS       not with this backend
    ├── NoXen                                          MSM_ENOXEN       not a Xen dom0
    ├── NoMsm                                          MSM_ENOMSM       no MSM in the hypervisor
    ├── HypercallFailed(OSError)                       MSM_EIO          hypercall failed
    └── VersionMismatch                                MSM_EVERSION     interface major differs

``errors`` is :mod:`xps.errors`; :func:`error_for` builds the class of a C status.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from xps import errors
from xps.msm._enums import ObjType, Rule, Status

__all__ = [
    "AlreadyExists",
    "BadSize",
    "Busy",
    "CommitError",
    "CommitNames",
    "CommitRefused",
    "Conflict",
    "Denied",
    "HypercallFailed",
    "InvalidArgument",
    "MsmError",
    "NoLabel",
    "NoMsm",
    "NoSpace",
    "NoXen",
    "NotFound",
    "NotSupported",
    "OutOfMemory",
    "OutOfRange",
    "VersionMismatch",
    "ViolationsPending",
    "WrongState",
    "describe_commit_error",
    "error_for",
]

DOMID_INVALID = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class CommitError:
    """Why a commit was refused (``msm_commit_error``).

    Attributes:
        rule: The validation rule that failed.
        objtype: Type of the failing object, ``None`` when it is a running domain.
        id: UUID of the failing object (a binding's domain UUID), ``None`` when zero.
        bdf: PCI address of the failing device, else 0.
        domid: The domain involved, ``None`` when none.
        other: The other object involved (e.g. the clashing tag), ``None`` when zero.
    """

    rule: Rule | int
    objtype: ObjType | None
    id: uuid.UUID | None
    bdf: int
    domid: int | None
    other: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class CommitNames:
    """Names of the objects a refused commit can cite (the C side reports only ids).

    Attributes:
        objects: Name by UUID: profiles, tags, conflict sets and SecLabels of the
            policy being committed, and domains (bindings are keyed by domain UUID).
        domids: Name of each live domain by domid.
    """

    objects: Mapping[uuid.UUID, str] = field(default_factory=dict)
    domids: Mapping[int, str] = field(default_factory=dict)


_KINDS = {
    ObjType.PROFILE: ("profile", "profiles"),
    ObjType.TAG: ("tag", "tags"),
    ObjType.CONFLICT: ("conflict set", "conflict sets"),
    ObjType.SECLABEL: ("SecLabel", "SecLabels"),
    ObjType.BINDING: ("domain", "domains"),
    ObjType.DEVICE: ("PCI device", "PCI devices"),
}
_MISSING: dict[Rule | int, str] = {
    Rule.DANGLING_PROFILE: "profile",
    Rule.DANGLING_TAG: "tag",
    Rule.DANGLING_SECLABEL: "SecLabel",
}


def _bdf(bdf: int) -> str:
    return f"{bdf >> 16:04x}:{(bdf >> 8) & 0xFF:02x}:{(bdf >> 3) & 0x1F:02x}.{bdf & 7}"


class _Namer:
    """Turns the ids of one commit error into ``kind 'name' (uuid …)`` phrases."""

    def __init__(self, error: CommitError, names: CommitNames) -> None:
        self.error = error
        self.names = names

    def object(self, kind: str, ident: uuid.UUID | None) -> str:
        name = self.names.objects.get(ident) if ident is not None else None
        if ident is None:
            return kind
        return f"{kind} {name!r} (uuid {ident})" if name else f"{kind} (uuid {ident})"

    def running(self, ident: uuid.UUID | None) -> str:
        domid = self.error.domid
        name = self.names.domids.get(domid) if domid is not None else None
        if not name and ident is not None:
            name = self.names.objects.get(ident)
        ids = []
        if domid is not None:
            ids.append(f"domid {domid}")
        if ident is not None:
            ids.append(f"uuid {ident}")
        label = f"live domain {name!r}" if name else "live domain"
        return f"{label} ({', '.join(ids)})" if ids else label


def describe_commit_error(error: CommitError, names: CommitNames | None = None) -> str:
    """Says why a commit was refused, naming each object by its name and UUID.

    Args:
        error: What the C library reported (rule, object type, ids, domid, BDF).
        names: Names of the policy being committed and of the live domains; an object
            without a name is cited by its UUID alone.

    Returns:
        One sentence, e.g. ``SecLabel 'EA-web' (uuid …) names a profile that is not in
        the policy (uuid …)``; empty for :attr:`Rule.NONE` (the C detail says more).
    """
    say = _Namer(error, names or CommitNames())
    rule = error.rule
    kind, kinds = _KINDS.get(error.objtype, ("object", "objects")) if error.objtype else ("", "")
    device = f"PCI device {_bdf(error.bdf)}" if error.objtype is ObjType.DEVICE else ""
    missing = _MISSING.get(rule)
    if rule is Rule.DUPLICATE_NAME:
        name = say.names.objects.get(error.id) if error.id is not None else None
        called = f"named {name!r}" if name else "with one name"
        return f"two {kinds} {called}: uuid {error.id} and uuid {error.other}"
    if missing is not None:
        verb = "is bound to" if rule is Rule.DANGLING_SECLABEL else "names"
        subject = device or say.object(kind, error.id)
        return f"{subject} {verb} a {missing} that is not in the policy (uuid {error.other})"
    if rule is Rule.RUNNING_UNLABELLED:
        return f"{say.running(error.id)} would have no SecLabel"
    if rule is Rule.CONFLICT:
        return (
            f"{say.running(error.id)} may not run beside the live domains of "
            f"{say.object('tag', error.other)}: a no-coresidence conflict set holds both tags"
        )
    if rule is Rule.DEVICE_TAG:
        assigned = f"{device or 'a PCI device'} assigned to {say.running(None)}"
        if error.other is None:
            return f"{assigned} is not in the policy (it must keep its domain's tag)"
        return f"{assigned} would have {say.object('tag', error.other)}, not its domain's tag"
    if rule is Rule.LIMIT:
        return f"{say.object(kind, error.id) if kind else 'the policy'} exceeds a table limit"
    return ""


class MsmError(errors.XenonError):
    """Base of every error raised by :mod:`xps.msm`.

    Attributes:
        code: Stable name of the C status, e.g. ``"MSM_ECONFLICT"``.
        message: The whole message (also ``str(error)``).
        status: The numeric ``msm_status``.
        detail: The library's detail text (``msm_last_error``), may be empty.
    """

    code = "MSM_ERROR"
    status: int = -1

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
            if status not in _BY_STATUS:
                self.code = f"MSM_STATUS_{status}"
        self.detail = detail


class InvalidArgument(MsmError, errors.InvalidArgument, ValueError):
    """An argument is malformed (``MSM_EINVAL``); also the family of size/range errors."""

    code = "MSM_EINVAL"
    status = Status.EINVAL


class BadSize(InvalidArgument):
    """A struct size does not match the library's layout (``MSM_ESIZE``)."""

    code = "MSM_ESIZE"
    status = Status.ESIZE


class OutOfRange(InvalidArgument):
    """A number lies outside its documented range (``MSM_ERANGE``)."""

    code = "MSM_ERANGE"
    status = Status.ERANGE


class NotFound(MsmError, errors.NotFound, LookupError):
    """No object or domain with that id (``MSM_ENOENT``)."""

    code = "MSM_ENOENT"
    status = Status.ENOENT


class AlreadyExists(MsmError, errors.Conflict):
    """An object with that id or name already exists (``MSM_EEXIST``)."""

    code = "MSM_EEXIST"
    status = Status.EEXIST


class NoSpace(MsmError):
    """A table or the host memory is full (``MSM_ENOSPC``)."""

    code = "MSM_ENOSPC"
    status = Status.ENOSPC


class OutOfMemory(MsmError, MemoryError):
    """The library could not allocate memory (``MSM_ENOMEM``)."""

    code = "MSM_ENOMEM"
    status = Status.ENOMEM


class WrongState(MsmError):
    """Wrong state: no open transaction, domain not running (``MSM_ESTATE``)."""

    code = "MSM_ESTATE"
    status = Status.ESTATE


class NoLabel(MsmError):
    """Domain start refused: no SecLabel is bound to its UUID (``MSM_ENOLABEL``)."""

    code = "MSM_ENOLABEL"
    status = Status.ENOLABEL


class Conflict(MsmError, errors.Conflict):
    """Domain start refused by a no-coresidence conflict set (``MSM_ECONFLICT``)."""

    code = "MSM_ECONFLICT"
    status = Status.ECONFLICT


class ViolationsPending(MsmError):
    """Unpause refused: max violations reached and not reset (``MSM_EVIOLATIONS``)."""

    code = "MSM_EVIOLATIONS"
    status = Status.EVIOLATIONS


class Denied(MsmError, PermissionError):
    """Device assignment refused: device tag differs from the domain's (``MSM_EDENIED``)."""

    code = "MSM_EDENIED"
    status = Status.EDENIED


class CommitRefused(MsmError):
    """A commit failed validation (``MSM_EVALIDATE``); the old policy stays in force.

    Attributes:
        error: The full :class:`CommitError`; its fields are also attributes here.
    """

    code = "MSM_EVALIDATE"
    status = Status.EVALIDATE

    def __init__(self, message: str, error: CommitError, *, detail: str = "") -> None:
        super().__init__(message, detail=detail)
        self.error = error
        self.rule = error.rule
        self.objtype = error.objtype
        self.id = error.id
        self.bdf = error.bdf
        self.domid = error.domid
        self.other = error.other


class Busy(MsmError):
    """Resource in use: device assigned, transaction already open (``MSM_EBUSY``)."""

    code = "MSM_EBUSY"
    status = Status.EBUSY


class NotSupported(MsmError, errors.NotSupported):
    """The backend does not provide this operation (``MSM_ENOSYS``)."""

    code = "MSM_ENOSYS"
    status = Status.ENOSYS


class NoXen(MsmError):
    """No privcmd device: this machine is not a Xen dom0 (``MSM_ENOXEN``)."""

    code = "MSM_ENOXEN"
    status = Status.ENOXEN


class NoMsm(MsmError):
    """The hypervisor answers but has no MSM module (``MSM_ENOMSM``)."""

    code = "MSM_ENOMSM"
    status = Status.ENOMSM


class HypercallFailed(MsmError, OSError):
    """The xen backend's hypercall failed (``MSM_EIO``; errno text in ``detail``)."""

    code = "MSM_EIO"
    status = Status.EIO


class VersionMismatch(MsmError):
    """The library's or hypervisor's interface major version differs (``MSM_EVERSION``)."""

    code = "MSM_EVERSION"
    status = Status.EVERSION


_BY_STATUS: dict[int, type[MsmError]] = {
    Status.EINVAL: InvalidArgument,
    Status.ESIZE: BadSize,
    Status.ERANGE: OutOfRange,
    Status.ENOENT: NotFound,
    Status.EEXIST: AlreadyExists,
    Status.ENOSPC: NoSpace,
    Status.ENOMEM: OutOfMemory,
    Status.ESTATE: WrongState,
    Status.ENOLABEL: NoLabel,
    Status.ECONFLICT: Conflict,
    Status.EVIOLATIONS: ViolationsPending,
    Status.EDENIED: Denied,
    Status.EVALIDATE: CommitRefused,
    Status.EBUSY: Busy,
    Status.ENOSYS: NotSupported,
    Status.ENOXEN: NoXen,
    Status.ENOMSM: NoMsm,
    Status.EIO: HypercallFailed,
    Status.EVERSION: VersionMismatch,
}


def error_for(
    status: int,
    detail: str = "",
    *,
    what: str = "",
    commit_error: CommitError | None = None,
    names: CommitNames | None = None,
) -> MsmError:
    """Builds the exception for a non-zero ``msm_status``.

    Args:
        status: The C return code (must not be ``MSM_OK``).
        detail: ``msm_last_error`` text.
        what: Short description of the failed operation, prefixed to the message.
        commit_error: The filled commit error when ``status`` is ``MSM_EVALIDATE``.
        names: Names for the objects a commit error cites (see :func:`describe_commit_error`).

    Returns:
        An instance of the subclass registered for ``status`` (``MsmError`` if unknown).
    """
    cls = _BY_STATUS.get(status, MsmError)
    code = cls.code if cls is not MsmError else f"MSM_STATUS_{status}"
    if cls is CommitRefused:
        if commit_error is None:
            commit_error = CommitError(Rule.NONE, None, None, 0, None, None)
        # The sentence names the objects; the C detail (which cites none) only when
        # there is no sentence.
        reason = describe_commit_error(commit_error, names) or detail
        message = ": ".join(p for p in (what, code, reason) if p)
        return CommitRefused(
            f"{message} (rule {_rule_name(commit_error.rule)})", commit_error, detail=detail
        )
    return cls(": ".join(p for p in (what, code, detail) if p), status=status, detail=detail)


def _rule_name(rule: int) -> str:
    try:
        return Rule(rule).name
    except ValueError:
        return str(rule)
