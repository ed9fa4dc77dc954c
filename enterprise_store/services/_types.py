"""What the services take and return: frozen dataclasses, no ORM rows, no HTTP."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from enterprise_store.services._access import Role

__all__ = [
    "KEEP",
    "CreatedUser",
    "IssuedToken",
    "Keep",
    "NewToken",
    "NewUser",
    "Page",
    "Session",
    "SshKey",
    "TokenInfo",
    "TokenKind",
    "TokenQuery",
    "User",
    "UserChanges",
    "UserQuery",
    "from_us",
]

T = TypeVar("T")
TokenKind = Literal["session", "api", "service"]


class Keep(enum.Enum):
    """Marks a field of a change as "leave as it is" (None may be a real value)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def from_us(value: int | None) -> dt.datetime | None:
    """A UTC datetime from microseconds since the epoch (None stays None)."""
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value / 1_000_000, tz=dt.UTC)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a collection; ``next`` continues after it (None: last page)."""

    items: tuple[T, ...]
    next: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    """A user as callers see it (never the password hash).

    Attributes:
        scopes: Enclave UUIDs the user is limited to, sorted; None: every enclave.
        password_set: The user can log in with a password.
        locked_until: Password logins are refused until then (failed attempts).
    """

    id: str
    name: str
    display_name: str
    role: Role
    scopes: tuple[str, ...] | None
    enabled: bool
    password_set: bool
    must_change_password: bool
    locked_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user to create.

    Attributes:
        password: Initial password; None with ``generate_password`` false: no password
            login until a reset (SSH keys still work).
        generate_password: Make a one-time password (returned once, must be changed at the
            first login).
    """

    name: str
    role: Role
    display_name: str = ""
    scopes: tuple[str, ...] | None = None
    password: str | None = field(default=None, repr=False)
    generate_password: bool = False


@dataclass(frozen=True, slots=True)
class UserChanges:
    """Fields to change; :data:`KEEP` leaves a field as it is (``scopes=None``: all enclaves)."""

    role: Role | Keep = KEEP
    display_name: str | Keep = KEEP
    enabled: bool | Keep = KEEP
    scopes: tuple[str, ...] | Keep | None = KEEP


@dataclass(frozen=True, slots=True)
class CreatedUser:
    """A new user, with the one-time password when one was generated (shown once)."""

    user: User
    one_time_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class UserQuery:
    """Filters and paging of the user list (ordered by name)."""

    role: Role | None = None
    enabled: bool | None = None
    text: str | None = None
    after: str | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A credential as callers see it (never the secret nor its hash).

    Attributes:
        user: Owner's name (None for a service credential).
        role: An API token's role ceiling (None: the owner's role; service: no role).
        scopes: An API token's scope ceiling (None: the owner's).
        active: Neither revoked nor expired.
    """

    id: str
    kind: TokenKind
    name: str
    user: str | None
    role: Role | None
    scopes: tuple[str, ...] | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_by: str
    active: bool


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new credential: the secret is shown this once."""

    token: str = field(repr=False)
    info: TokenInfo = field()


@dataclass(frozen=True, slots=True)
class Session:
    """A session token from a login."""

    token: str = field(repr=False)
    token_id: str = field()
    expires_at: dt.datetime = field()
    user: User = field()


@dataclass(frozen=True, slots=True)
class NewToken:
    """A credential to create.

    Attributes:
        kind: ``api`` (automation, acts as its owner within ``role``/``scopes``) or
            ``service`` (the SSH console server's: may only mint sessions; admins only).
        role: Ceiling for an API token (default: the owner's role; never above it).
        scopes: Ceiling for an API token (default: the owner's scopes; never beyond them).
        ttl_s: Lifetime in seconds (default 90 days; at most 366 days).
    """

    name: str
    kind: Literal["api", "service"] = "api"
    role: Role | None = None
    scopes: tuple[str, ...] | None = None
    ttl_s: int | None = None


@dataclass(frozen=True, slots=True)
class TokenQuery:
    """Filters and paging of the credential list (ordered by id).

    Attributes:
        user: Whose (None: the caller's own; ``"*"``: everyone's, global admins only).
        kind: Only this kind.
        active_only: Hide revoked and expired credentials.
    """

    user: str | None = None
    kind: TokenKind | None = None
    active_only: bool = True
    after: str | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class SshKey:
    """A user's SSH public key (``fingerprint`` is OpenSSH's ``SHA256:…``)."""

    id: str
    user: str
    algorithm: str
    fingerprint: str
    public_key: str
    comment: str
    created_at: dt.datetime
