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
from enterprise_store.services._compute import ComputeService
from enterprise_store.services._compute_types import (
    VM_ACTIONS,
    ComputeConfig,
    DomainState,
    HostFacts,
    HostPropagation,
    TaskInfo,
    VmState,
)
from enterprise_store.services._passwords import PasswordHasher, generate_password
from enterprise_store.services._policy import PolicyService
from enterprise_store.services._policy_types import (
    CheckReport,
    PolicyFormat,
    PolicyQuery,
    PolicyVersion,
    Written,
)
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
    "VM_ACTIONS",
    "AuditService",
    "CheckReport",
    "ComputeConfig",
    "ComputeService",
    "CreatedUser",
    "DomainState",
    "HostFacts",
    "HostPropagation",
    "IssuedToken",
    "Keep",
    "LockoutPolicy",
    "NewToken",
    "NewUser",
    "Page",
    "PasswordHasher",
    "PolicyFormat",
    "PolicyQuery",
    "PolicyService",
    "PolicyVersion",
    "Principal",
    "PrincipalKind",
    "Role",
    "ServiceConfig",
    "Services",
    "Session",
    "SshKey",
    "TaskInfo",
    "TokenInfo",
    "TokenKind",
    "TokenQuery",
    "User",
    "UserChanges",
    "UserQuery",
    "UserService",
    "VmState",
    "Written",
    "generate_password",
    "hash_token",
    "normalize_scopes",
    "require_role",
    "require_scope",
    "visible",
]
