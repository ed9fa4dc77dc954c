"""The XE REST API's models: defined once, used by the routes (``api``) and the client.

Requests forbid unknown fields (a typo is an error, not a silent no-op); resources ignore
them (an older client keeps working against a newer server). Secrets in requests are
``SecretStr`` so they never show in a repr or a log line.

Collections answer ``Page[Item]``: ``items`` plus ``next_cursor`` (opaque; pass it back as
``cursor``); ``fields=a,b`` selects fields, so the items of a page are declared with every
field optional (``*Fields`` models) while the client reads full items when it asked for all.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, create_model

__all__ = [
    "AuditProblemOut",
    "AuditRecordFields",
    "AuditRecordOut",
    "AuditVerifyOut",
    "EnclaveId",
    "FindingOut",
    "Health",
    "LoginRequest",
    "Page",
    "PasswordChange",
    "PasswordReset",
    "PasswordResetResult",
    "Problem",
    "Readiness",
    "Request",
    "Resource",
    "RoleName",
    "ServiceSessionRequest",
    "SessionOut",
    "SshKeyCreate",
    "SshKeyOut",
    "TokenCreate",
    "TokenCreated",
    "TokenFields",
    "TokenOut",
    "UserCreate",
    "UserCreated",
    "UserFields",
    "UserOut",
    "UserPatch",
    "fields_model",
]

T = TypeVar("T")
RoleName = Literal["admin", "operator", "auditor"]
EnclaveId = Annotated[
    str,
    StringConstraints(
        pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    ),
]
UserName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_.-]{0,31}$")]
Scopes = Annotated[list[EnclaveId], Field(min_length=1, max_length=256)]
Password = Annotated[SecretStr, Field(min_length=12, max_length=1024)]


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class Resource(BaseModel):
    """Base of responses: unknown fields are ignored by the client."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)


class Page(Resource, Generic[T]):
    """One page of a collection."""

    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last."
    )


def fields_model(model: type[Resource]) -> type[Resource]:
    """``model`` with every field optional: the item of a page when ``fields`` selects."""
    definitions: dict[str, Any] = {
        name: (info.annotation, Field(default=None, description=info.description))
        for name, info in model.model_fields.items()
    }
    partial: type[Resource] = create_model(
        f"{model.__name__.removesuffix('Out')}Fields",
        __base__=Resource,
        __doc__=f"{model.__name__} with only the fields asked for (`fields=`).",
        **definitions,
    )
    return partial


# -- users ---------------------------------------------------------------------------------


class UserOut(Resource):
    """A user (never the password hash)."""

    id: str
    name: str
    display_name: str
    role: RoleName
    scopes: list[str] | None = Field(description="Enclave UUIDs; null: every enclave.")
    enabled: bool
    password_set: bool
    must_change_password: bool
    locked_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


UserFields = fields_model(UserOut)


class UserCreate(Request):
    """A user to create."""

    name: UserName
    role: RoleName
    display_name: Annotated[str, Field(max_length=200)] = ""
    scopes: Scopes | None = Field(default=None, description="null: every enclave")
    password: Password | None = None
    generate_password: bool = Field(
        default=False, description="Make a one-time password (returned once)."
    )


class UserCreated(Resource):
    """A created user, with the one-time password when one was generated."""

    user: UserOut
    one_time_password: str | None = None


class UserPatch(Request):
    """Fields to change; absent fields stay. ``scopes: null`` means every enclave."""

    role: RoleName | None = None
    display_name: Annotated[str, Field(max_length=200)] | None = None
    enabled: bool | None = None
    scopes: Scopes | None = None


class PasswordChange(Request):
    """A user's own password change."""

    old_password: Annotated[SecretStr, Field(min_length=1, max_length=1024)]
    new_password: Password


class PasswordReset(Request):
    """An admin's reset: a new password, or none to generate a one-time password."""

    new_password: Password | None = None


class PasswordResetResult(Resource):
    """The generated one-time password (null when the admin gave one)."""

    one_time_password: str | None = None


# -- authentication and credentials --------------------------------------------------------


class LoginRequest(Request):
    """Password login."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[SecretStr, Field(min_length=1, max_length=1024)]


class SessionOut(Resource):
    """A session: the bearer token (shown once), its id and expiry, the user."""

    token: str
    token_id: str
    expires_at: dt.datetime
    user: UserOut


class ServiceSessionRequest(Request):
    """The console server asks for a session for a user who proved an SSH key."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    public_key: Annotated[str, Field(min_length=1, max_length=16384)]


class TokenCreate(Request):
    """A credential to create."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.:@-]{0,63}$")]
    kind: Literal["api", "service"] = "api"
    role: RoleName | None = Field(default=None, description="API token ceiling (default: yours).")
    scopes: Scopes | None = Field(default=None, description="API token ceiling (default: yours).")
    ttl_s: Annotated[int, Field(ge=60, le=366 * 86400)] | None = Field(
        default=None, description="Lifetime in seconds (default 90 days)."
    )


class TokenOut(Resource):
    """A credential (never its secret)."""

    id: str
    kind: Literal["session", "api", "service"]
    name: str
    user: str | None
    role: RoleName | None
    scopes: list[str] | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_by: str
    active: bool


TokenFields = fields_model(TokenOut)


class TokenCreated(Resource):
    """A new credential: ``token`` is shown this once."""

    token: str
    info: TokenOut


class SshKeyCreate(Request):
    """An SSH public key (OpenSSH one-line or RFC 4716)."""

    public_key: Annotated[str, Field(min_length=1, max_length=16384)]
    comment: Annotated[str, Field(max_length=200)] | None = None


class SshKeyOut(Resource):
    """A user's SSH public key."""

    id: str
    user: str
    algorithm: str
    fingerprint: str
    public_key: str
    comment: str
    created_at: dt.datetime


# -- audit ---------------------------------------------------------------------------------


class AuditRecordOut(Resource):
    """One audit record."""

    seq: int
    ts: dt.datetime
    ts_us: int
    actor: str
    source: str
    action: str
    object: str
    result: str
    enclaves: list[str]
    details: dict[str, Any]
    prev_hash: str
    hash: str


AuditRecordFields = fields_model(AuditRecordOut)


class AuditProblemOut(Resource):
    """One inconsistency in the chain."""

    seq: int
    code: str
    message: str


class AuditVerifyOut(Resource):
    """The chain's verification: keep ``fingerprint`` somewhere else."""

    ok: bool
    count: int
    fingerprint: str
    problems: list[AuditProblemOut]
    truncated_problems: bool


# -- errors and operations -----------------------------------------------------------------


class FindingOut(Resource):
    """A consistency-checker finding in a ``policy_refused`` problem (or a write's warnings)."""

    code: str
    message: str
    objects: list[str]
    severity: Literal["error", "warning"] = "error"
    kind: str | None = Field(default=None, description="Type of the offending object.")
    field: str | None = Field(default=None, description="The offending field, if one.")
    hint: str = Field(default="", description="The obvious fix, where there is one.")
    ids: list[str] = Field(default_factory=list, description="UUIDs of the objects named.")


class Problem(Resource):
    """An error (RFC 9457 problem details); ``code`` is the stable XE error code."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str
    findings: list[FindingOut] | None = None
    retry_after_s: int | None = None
    errors: list[dict[str, Any]] | None = None


class Health(Resource):
    """Liveness."""

    status: Literal["ok"]


class Readiness(Resource):
    """Readiness: every check ``ok``."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
