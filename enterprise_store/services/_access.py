"""Who is calling (``Principal``) and the two questions every service asks: role, and scope.

Roles are ordered: ``auditor`` (read-only, the audit log included) < ``operator`` (VM
lifecycle, incident response, policy edits) < ``admin`` (everything). A principal may be
*scoped* to enclaves (a set of enclave UUIDs); ``None`` means every enclave.

Scope hides: an object is visible to a scoped principal only when it belongs to enclaves
all inside the principal's scope (an object of no enclave, or one that also belongs to
another enclave, is not). A hidden object answers :class:`NotFound`, as if it did not exist;
asking to *place* something outside one's scope is :class:`OutOfScope`.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from enterprise_store._errors import Forbidden, InvalidInput, OutOfScope, RoleRequired

__all__ = [
    "Principal",
    "PrincipalKind",
    "Role",
    "normalize_scopes",
    "require_role",
    "require_scope",
    "visible",
]

PrincipalKind = Literal["session", "api", "service", "system"]


class Role(enum.StrEnum):
    """A user's role; compare with ``>=`` (``Role.ADMIN >= Role.OPERATOR``)."""

    AUDITOR = "auditor"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for auditor, 1 for operator, 2 for admin."""
        return _RANK[self]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def parse(cls, value: str) -> Role:
        """The role named ``value``.

        Raises:
            InvalidInput: Not a role.
        """
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(f"unknown role {value!r}: admin, operator or auditor") from None


_RANK = {Role.AUDITOR: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a service method.

    Attributes:
        name: User name; ``service:NAME`` for a service credential; ``system`` for local
            set-up (``xenon xe init``).
        kind: ``session`` (password or SSH-key login), ``api`` (automation token),
            ``service`` (the console server's credential), ``system``.
        role: Effective role (for an API token: the lower of the token's and the user's);
            None for a service credential, which has no role.
        scopes: Effective enclave scope; None means every enclave.
        user_id: The user's id (None for service and system).
        token_id: The credential used (None for system).
        source: Where the call came from (client address, ``cli``, ``in-process``).
        via: How, for the audit log: ``session``, ``api:NAME``, ``service:NAME``, ``system``.
        must_change_password: The user logged in with a one-time password and may only
            change it (or log out) until they do.
    """

    name: str
    kind: PrincipalKind
    role: Role | None
    scopes: frozenset[str] | None = None
    user_id: str | None = None
    token_id: str | None = None
    source: str = "in-process"
    via: str = "session"
    must_change_password: bool = False

    @classmethod
    def system(cls, source: str = "cli") -> Principal:
        """The local set-up principal: an unscoped admin with no credential."""
        return cls(name="system", kind="system", role=Role.ADMIN, source=source, via="system")

    @property
    def is_global(self) -> bool:
        """Unscoped: sees every enclave."""
        return self.scopes is None


def normalize_scopes(values: Iterable[str] | None) -> frozenset[str] | None:
    """Canonical enclave UUIDs (lower-case, hyphenated) or None for "every enclave".

    Raises:
        InvalidInput: A value is not a UUID, or the list is empty (use None for all).
    """
    if values is None:
        return None
    out: set[str] = set()
    for value in values:
        try:
            out.add(str(uuid.UUID(str(value))))
        except ValueError:
            raise InvalidInput(f"enclave scope {str(value)[:64]!r} is not a UUID") from None
    if not out:
        raise InvalidInput("an empty scope list grants nothing: give enclaves, or null for all")
    if len(out) > 256:
        raise InvalidInput("at most 256 enclaves per scope")
    return frozenset(out)


def visible(caller: Principal, enclaves: frozenset[str] | None) -> bool:
    """Whether an object of ``enclaves`` (None: enterprise-wide) is within ``caller``'s scope."""
    if caller.scopes is None:
        return True
    return enclaves is not None and bool(enclaves) and enclaves <= caller.scopes


def require_role(
    caller: Principal, role: Role, action: str, *, allow_must_change: bool = False
) -> None:
    """Refuses ``caller`` unless their role is at least ``role``.

    Raises:
        RoleRequired: The role is below ``role`` (or the caller is a service credential).
        Forbidden: ``password_change_required`` until a one-time password is changed.
    """
    if caller.role is None:
        raise RoleRequired(f"{action}: a service credential may only mint session tokens")
    if caller.must_change_password and not allow_must_change:
        raise Forbidden(
            f"{action}: change your one-time password first", code="password_change_required"
        )
    if not caller.role >= role:
        raise RoleRequired(f"{action} needs the {role} role (you are {caller.role})")


def require_scope(caller: Principal, enclaves: frozenset[str] | None, action: str) -> None:
    """Refuses placing something in ``enclaves`` (None: enterprise-wide) outside the scope.

    Raises:
        OutOfScope: ``enclaves`` is not within ``caller``'s scope.
    """
    if not visible(caller, enclaves):
        where = "enterprise-wide" if enclaves is None else "outside your enclaves"
        raise OutOfScope(f"{action}: {where} is outside your scope")
