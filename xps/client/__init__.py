"""The async XPS client library: the only way the console and the store reach a host."""

from xps.client._client import ConnectionState, StateCallback, XpsClient
from xps.client._errors import (
    ConnectionLost,
    NotAuthorized,
    ProtocolViolation,
    RemoteError,
    Timeout,
    TlsError,
    XpsError,
)
from xps.client._typed import Xps
from xps.protocol import Event

__all__ = [
    "ConnectionLost",
    "ConnectionState",
    "Event",
    "NotAuthorized",
    "ProtocolViolation",
    "RemoteError",
    "StateCallback",
    "Timeout",
    "TlsError",
    "Xps",
    "XpsClient",
    "XpsError",
]
