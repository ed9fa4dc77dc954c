"""XE services as plain async Python (no HTTP): role and scope are checked here."""

from enterprise_store.services._access import (
    Principal,
    PrincipalKind,
    Role,
    normalize_scopes,
    require_role,
    require_scope,
    visible,
)
from enterprise_store.services._audit import AuditService
from enterprise_store.services._passwords import PasswordHasher, generate_password
from enterprise_store.services._runtime import ServiceConfig, Services
from enterprise_store.services._types import (
    KEEP,
    CreatedUser,
    IssuedToken,
    Keep,
    NewToken,
    NewUser,
    Page,
    Session,
    SshKey,
    TokenInfo,
    TokenKind,
    TokenQuery,
    User,
    UserChanges,
    UserQuery,
)
from enterprise_store.services._users import LockoutPolicy, UserService, hash_token

__all__ = [
    "KEEP",
    "AuditService",
    "CreatedUser",
    "IssuedToken",
    "Keep",
    "LockoutPolicy",
    "NewToken",
    "NewUser",
    "Page",
    "PasswordHasher",
    "Principal",
    "PrincipalKind",
    "Role",
    "ServiceConfig",
    "Services",
    "Session",
    "SshKey",
    "TokenInfo",
    "TokenKind",
    "TokenQuery",
    "User",
    "UserChanges",
    "UserQuery",
    "UserService",
    "generate_password",
    "hash_token",
    "normalize_scopes",
    "require_role",
    "require_scope",
    "visible",
]
