"""The XE REST client: the only part of ``enterprise_store`` the console imports.

It re-exports the error tree and the API models, so a caller needs nothing else.
"""

from enterprise_store._errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LockedOut,
    NotFound,
    OutOfScope,
    PolicyRefused,
    RoleRequired,
    ServiceUnreachable,
    StoreUnavailable,
    Unauthenticated,
    XeError,
)
from enterprise_store.client._client import XeClient, tls_context
from enterprise_store.client._errors import RemoteFinding, error_from_response
from enterprise_store.client._policy import PolicyClient
from enterprise_store.schemas import (
    AuditRecordOut,
    AuditVerifyOut,
    Page,
    Readiness,
    SessionOut,
    SshKeyOut,
    TokenCreated,
    TokenOut,
    UserCreated,
    UserOut,
)
from enterprise_store.schemas_policy import (
    CheckOut,
    ConflictOut,
    DhcpOut,
    EnclaveOut,
    HostOut,
    PolicyVersionOut,
    SecLabelOut,
    VersionOut,
    VmOut,
    WrittenOut,
)

__all__ = [
    "AuditRecordOut",
    "AuditVerifyOut",
    "CheckOut",
    "Conflict",
    "ConflictOut",
    "DhcpOut",
    "EnclaveOut",
    "Forbidden",
    "HostOut",
    "InvalidInput",
    "LockedOut",
    "NotFound",
    "OutOfScope",
    "Page",
    "PolicyClient",
    "PolicyRefused",
    "PolicyVersionOut",
    "Readiness",
    "RemoteFinding",
    "RoleRequired",
    "SecLabelOut",
    "ServiceUnreachable",
    "SessionOut",
    "SshKeyOut",
    "StoreUnavailable",
    "TokenCreated",
    "TokenOut",
    "Unauthenticated",
    "UserCreated",
    "UserOut",
    "VersionOut",
    "VmOut",
    "WrittenOut",
    "XeClient",
    "XeError",
    "error_from_response",
    "tls_context",
]
