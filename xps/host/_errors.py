"""The error tree of xps.host: every error carries a stable ``code`` and a ``message``.

::

    HostError(errors.HostError)                host_error
    ├── NotFound(errors.NotFound, LookupError) not_found        no such domain, policy, object
    ├── InvalidArgument(errors.InvalidArgument, ValueError)
    │                                          invalid_argument a malformed argument
    ├── PolicyInvalid(ValueError)              policy_invalid   the policy was refused;
    │                                                           ``details`` lists the findings
    ├── ConflictError(errors.Conflict)         conflict         a duplicate name, a Chinese
    │                                                           Wall clash
    ├── NoSeclabel                             no_seclabel      no SecLabel bound to the domain
    ├── ViolationsUnaddressed                  violations_unaddressed
    │                                                           unpause refused by the MSM
    ├── NotSupported(errors.NotSupported)      not_supported    not with this backend
    ├── HostStateError                         state            the wrong state for it
    │   └── ActivationPending                  state            an activation is committed
    │                                                           but its files not all in place
    └── CommandFailed                          command_failed   xl, ovs-vsctl … failed

``errors`` is :mod:`xps.errors`, the bases shared with the other packages' trees;
``ActivationPending`` lives in ``_policystore.py``. The server sends ``to_dict()``.
"""

from __future__ import annotations

from typing import Any

from xps import errors

__all__ = [
    "CommandFailed",
    "ConflictError",
    "HostError",
    "HostStateError",
    "InvalidArgument",
    "NoSeclabel",
    "NotFound",
    "NotSupported",
    "PolicyInvalid",
    "ViolationsUnaddressed",
]


class HostError(errors.HostError):
    """Base of every error raised by :mod:`xps.host`.

    The server maps it to ``{"error": {"code": code, "message": message}}``.

    Attributes:
        code: A stable machine-readable code (``"not_found"``).
        message: The human-readable message (also ``str(error)``).
        details: JSON-safe extra data (e.g. validation findings), or None.
    """

    code: str = "host_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON-safe ``{"code", "message"[, "details"]}`` form."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        return out


class NotFound(HostError, errors.NotFound, LookupError):
    """No domain, policy or object with that name or id."""

    code = "not_found"


class InvalidArgument(HostError, errors.InvalidArgument, ValueError):
    """A request argument is malformed or out of range."""

    code = "invalid_argument"


class PolicyInvalid(HostError, ValueError):
    """A policy was refused: unparsable, or semantic validation / the MSM found errors.

    ``details`` holds the list of findings (dicts with code, severity, message, ...).
    """

    code = "policy_invalid"


class ConflictError(HostError, errors.Conflict):
    """Refused because of a conflict: a duplicate name, or a Chinese Wall clash."""

    code = "conflict"


class NoSeclabel(HostError):
    """A domain cannot start: no SecLabel is bound to it."""

    code = "no_seclabel"


class ViolationsUnaddressed(HostError):
    """A domain stopped by the MSM cannot be unpaused until its violations are addressed."""

    code = "violations_unaddressed"


class NotSupported(HostError, errors.NotSupported):
    """The operation is not available with this backend or configuration."""

    code = "not_supported"


class HostStateError(HostError):
    """The host, a domain or the state directory is in the wrong state for the operation."""

    code = "state"


class CommandFailed(HostError):
    """A system command (xl, ovs-vsctl, iptables-restore, ...) failed or could not run."""

    code = "command_failed"
