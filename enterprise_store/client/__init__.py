"""The XE REST client: the only part of ``enterprise_store`` the console imports.

It re-exports the error tree and the API models, so a caller needs nothing else.
"""

from enterprise_store._errors import (
    ApprovalRequired,
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
from enterprise_store.client._compute import ComputeClient
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
from enterprise_store.schemas_approval import ApprovalOut, ApprovalsOut, EnclaveApprovalOut
from enterprise_store.schemas_compute import (
    DomainOut,
    HostFactsOut,
    HostRemoved,
    MigrationTargetOut,
    PropagationOut,
    TaskAccepted,
    TaskOut,
    VmStateOut,
)
from enterprise_store.schemas_history import ViolationOut, ViolationSummaryOut
from enterprise_store.schemas_incidents import IncidentOut
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
from enterprise_store.schemas_propagation import PropagationTransitionOut
from enterprise_store.schemas_whatif import HostWhatIfOut, WhatIfOut

__all__ = [
    "ApprovalOut",
    "ApprovalRequired",
    "ApprovalsOut",
    "AuditRecordOut",
    "AuditVerifyOut",
    "CheckOut",
    "ComputeClient",
    "Conflict",
    "ConflictOut",
    "DhcpOut",
    "DomainOut",
    "EnclaveApprovalOut",
    "EnclaveOut",
    "Forbidden",
    "HostFactsOut",
    "HostOut",
    "HostRemoved",
    "HostWhatIfOut",
    "IncidentOut",
    "InvalidInput",
    "LockedOut",
    "MigrationTargetOut",
    "NotFound",
    "OutOfScope",
    "Page",
    "PolicyClient",
    "PolicyRefused",
    "PolicyVersionOut",
    "PropagationOut",
    "PropagationTransitionOut",
    "Readiness",
    "RemoteFinding",
    "RoleRequired",
    "SecLabelOut",
    "ServiceUnreachable",
    "SessionOut",
    "SshKeyOut",
    "StoreUnavailable",
    "TaskAccepted",
    "TaskOut",
    "TokenCreated",
    "TokenOut",
    "Unauthenticated",
    "UserCreated",
    "UserOut",
    "VersionOut",
    "ViolationOut",
    "ViolationSummaryOut",
    "VmOut",
    "VmStateOut",
    "WhatIfOut",
    "WrittenOut",
    "XeClient",
    "XeError",
    "error_from_response",
    "tls_context",
]
