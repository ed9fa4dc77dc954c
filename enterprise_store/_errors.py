"""The one error tree of ``enterprise_store``: every error has a stable ``code`` and a ``message``.

::

    XeError(errors.XenonError)                  xe_error          base; takes (code, message)
    ├── NotFound(errors.NotFound)               not_found         the named object does not
    │                                                             exist (or is out of scope
    │                                                             for the caller: scope hides,
    │                                                             it does not reveal)
    ├── Conflict(errors.Conflict)               conflict          the change clashes with the
    │   │                                                         stored state (a name in use,
    │   │                                                         a stale revision, a host with
    │   │                                                         VMs still on it)
    │   ├── ApprovalRequired                    approval_required a policy version changing an
    │   │                                                         enclave that needs two-person
    │   │                                                         approval is not approved yet
    │   └── TagNameTaken                        tag_name_taken    an enclave would share its
    │                                                             name with a tag a host owns
    │                                                             under another UUID
    ├── Forbidden                               forbidden         authenticated, not allowed
    │   ├── RoleRequired                        role_required     the caller's role is below
    │   │                                                         the one the action needs
    │   └── OutOfScope                          out_of_scope      the object lies outside the
    │                                                             caller's enclaves
    ├── Unauthenticated                         unauthenticated   no, bad, expired or revoked
    │   │                                                         credentials
    │   └── LockedOut                           locked_out        too many failed logins;
    │                                                             ``retry_after_s`` to wait
    ├── InvalidInput(errors.InvalidArgument)    invalid_input     a value given by the caller
    │                                                             is malformed
    ├── PolicyRefused                           policy_refused    the consistency checker
    │                                                             refused a write; ``findings``
    │                                                             lists every reason at once
    ├── StoreUnavailable                        store_unavailable the database cannot be
    │                                                             reached or is locked too long
    ├── HostError(errors.HostError)             host_error        a host's XPS answered the
    │   │                                                         request with an error
    │   └── HostUnreachable                     host_unreachable  a host's XPS cannot be
    │                                                             reached (connection, TLS,
    │                                                             timeout, our certificate
    │                                                             refused)
    └── ServiceUnreachable                      unreachable       (client side) no answer from
                                                                  the XE service: connection
                                                                  refused, TLS failure, timeout

``errors`` is :mod:`xps.errors`, the bases shared with the XPS packages' trees (so
``except xps.errors.NotFound`` also holds for an XE object). The services raise these; the
API maps them once to RFC 9457 problem+json (``code`` and ``findings`` as extension members)
and the client re-raises the same classes from the answer, so a caller in process and a
caller over HTTP handle one tree. Subclasses take ``(message, *, code=None)``; the base
takes ``(code, message)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from xps import errors


@runtime_checkable
class FindingLike(Protocol):
    """What ``PolicyRefused`` needs of a consistency-checker finding."""

    @property
    def code(self) -> str:
        """Stable finding code, e.g. ``XE-VM-NO-SECLABEL``."""
        ...

    @property
    def message(self) -> str:
        """Human-readable sentence naming the objects."""
        ...

    @property
    def objects(self) -> tuple[str, ...]:
        """Names of the objects the finding is about."""
        ...


class XeError(errors.XenonError):
    """Base of every XE error.

    Attributes:
        code: Stable machine-readable code.
        message: Human-readable explanation (safe to show; never contains secrets).
    """

    code: str = "xe_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class _Coded(XeError):
    """A subclass whose code defaults to the class's own."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(code or type(self).code, message)


class NotFound(_Coded, errors.NotFound):
    """The object does not exist, or is outside the caller's scope."""

    code = "not_found"


class Conflict(_Coded, errors.Conflict):
    """The change clashes with the stored state."""

    code = "conflict"


class TagNameTaken(Conflict):
    """An enclave would share its name with a tag a host owns (another UUID)."""

    code = "tag_name_taken"


class ApprovalRequired(Conflict):
    """A policy version that changed an enclave requiring two-person approval is not
    approved (propagation waits for it).

    Attributes:
        version: The policy version waiting.
        enclave: The enclave's name.
        authors: Whose changes the waiting diff holds (none of them may approve).
        approvers: Who may approve, in words (``admins other than alice``).
        state: ``pending`` or ``rejected``.
    """

    code = "approval_required"

    def __init__(
        self,
        message: str,
        *,
        version: int = 0,
        enclave: str = "",
        authors: Iterable[str] = (),
        approvers: str = "",
        state: str = "pending",
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.version = version
        self.enclave = enclave
        self.authors = tuple(authors)
        self.approvers = approvers
        self.state = state


class Forbidden(_Coded):
    """Authenticated, but not allowed to do this."""

    code = "forbidden"


class RoleRequired(Forbidden):
    """The caller's role is below the one the action needs."""

    code = "role_required"


class OutOfScope(Forbidden):
    """The object lies outside the enclaves the caller is scoped to."""

    code = "out_of_scope"


class Unauthenticated(_Coded):
    """No credentials, or bad, expired or revoked ones."""

    code = "unauthenticated"


class LockedOut(Unauthenticated):
    """Too many failed logins: wait ``retry_after_s`` seconds.

    Attributes:
        retry_after_s: Seconds until the next attempt is considered.
    """

    code = "locked_out"

    def __init__(self, message: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


class InvalidInput(_Coded, errors.InvalidArgument):
    """A value given by the caller is malformed or out of range."""

    code = "invalid_input"


class PolicyRefused(_Coded):
    """The consistency checker refused the write; nothing was committed.

    Attributes:
        findings: Every reason at once, each with ``code``, ``message`` and ``objects``.
    """

    code = "policy_refused"

    def __init__(
        self,
        findings: Iterable[FindingLike],
        message: str | None = None,
        *,
        code: str | None = None,
    ) -> None:
        self.findings: tuple[FindingLike, ...] = tuple(findings)
        if message is None:
            n = len(self.findings)
            first = f": {self.findings[0].message}" if self.findings else ""
            more = f" (and {n - 1} more)" if n > 1 else ""
            message = f"the policy checker refused the change{first}{more}"
        super().__init__(message, code=code)


class StoreUnavailable(_Coded):
    """The database cannot be reached, or stayed locked past the timeout."""

    code = "store_unavailable"


class HostError(_Coded, errors.HostError):
    """A host's XPS refused or failed the request XE sent it (502 over HTTP).

    Attributes:
        host_code: The XPS error code (``not_found``, ``policy_invalid`` …), or None.
    """

    code = "host_error"

    def __init__(
        self, message: str, *, host_code: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.host_code = host_code


class HostUnreachable(HostError):
    """A host's XPS cannot be reached: no connection, TLS refused, or no answer in time."""

    code = "host_unreachable"


class ServiceUnreachable(_Coded):
    """The client got no answer from the XE service (connection, TLS or timeout)."""

    code = "unreachable"


ERROR_CLASSES: tuple[type[XeError], ...] = (
    NotFound,
    Conflict,
    ApprovalRequired,
    Forbidden,
    RoleRequired,
    OutOfScope,
    Unauthenticated,
    LockedOut,
    InvalidInput,
    PolicyRefused,
    StoreUnavailable,
    HostError,
    HostUnreachable,
    ServiceUnreachable,
)
"""Every concrete class, for the API's status map and the client's code → class lookup."""
