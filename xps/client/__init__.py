"""The async XPS client library: the only way the console and the store reach a host."""

from xps.client._client import ConnectionState, StateCallback, XpsClient
from xps.client._errors import (
    ConnectionLost,
    NotAuthorized,
    NotPermitted,
    ProtocolViolation,
    RemoteError,
    Timeout,
    TlsError,
    XpsError,
)
from xps.client._migrate import MigrationInDoubt, MoveResult, move_domain
from xps.client._typed import Xps
from xps.client._types import (
    Authorization,
    Authorizations,
    DomainAction,
    DomainInfo,
    DomainRunStates,
    HypervisorInfo,
    PolicyVersion,
    StoredPolicy,
    Violation,
    Violations,
)
from xps.protocol import Event

__all__ = [
    "Authorization",
    "Authorizations",
    "ConnectionLost",
    "ConnectionState",
    "DomainAction",
    "DomainInfo",
    "DomainRunStates",
    "Event",
    "HypervisorInfo",
    "MigrationInDoubt",
    "MoveResult",
    "NotAuthorized",
    "NotPermitted",
    "PolicyVersion",
    "ProtocolViolation",
    "RemoteError",
    "StateCallback",
    "StoredPolicy",
    "Timeout",
    "TlsError",
    "Violation",
    "Violations",
    "Xps",
    "XpsClient",
    "XpsError",
    "move_domain",
]
