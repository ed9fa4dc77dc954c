"""The error tree of :mod:`xps.msm`: one class per ``msm_status``, each with a stable code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from xps.msm._enums import ObjType, Rule, Status

__all__ = [
    "AlreadyExists",
    "BadSize",
    "Busy",
    "CommitError",
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


class MsmError(Exception):
    """Base of every error raised by :mod:`xps.msm`.

    Attributes:
        code: Stable name of the C status, e.g. ``"MSM_ECONFLICT"``.
        status: The numeric ``msm_status``.
        detail: The library's detail text (``msm_last_error``), may be empty.
    """

    code = "MSM_ERROR"
    status: int = -1

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
            if status not in _BY_STATUS:
                self.code = f"MSM_STATUS_{status}"
        self.detail = detail


class InvalidArgument(MsmError, ValueError):
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


class NotFound(MsmError, LookupError):
    """No object or domain with that id (``MSM_ENOENT``)."""

    code = "MSM_ENOENT"
    status = Status.ENOENT


class AlreadyExists(MsmError):
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


class Conflict(MsmError):
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


class NotSupported(MsmError):
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
    status: int, detail: str = "", *, what: str = "", commit_error: CommitError | None = None
) -> MsmError:
    """Builds the exception for a non-zero ``msm_status``.

    Args:
        status: The C return code (must not be ``MSM_OK``).
        detail: ``msm_last_error`` text.
        what: Short description of the failed operation, prefixed to the message.
        commit_error: The filled commit error when ``status`` is ``MSM_EVALIDATE``.

    Returns:
        An instance of the subclass registered for ``status`` (``MsmError`` if unknown).
    """
    cls = _BY_STATUS.get(status, MsmError)
    code = cls.code if cls is not MsmError else f"MSM_STATUS_{status}"
    parts = [p for p in (what, code, detail) if p]
    message = ": ".join(parts)
    if cls is CommitRefused:
        if commit_error is None:
            commit_error = CommitError(Rule.NONE, None, None, 0, None, None)
        return CommitRefused(
            f"{message} (rule {_rule_name(commit_error.rule)})", commit_error, detail=detail
        )
    return cls(message, status=status, detail=detail)


def _rule_name(rule: int) -> str:
    try:
        return Rule(rule).name
    except ValueError:
        return str(rule)
