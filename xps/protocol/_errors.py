"""The error tree of ``xps.protocol`` and the stable error codes used on the wire.

::

    ProtocolError(errors.XenonError)    -    a peer broke the protocol; ``code`` per
                                             instance (one of the constants below)
"""

from __future__ import annotations

from xps import errors

# Error codes the server puts in {"error": {"code", ...}} (host errors add their own).
BAD_REQUEST = "bad_request"
UNKNOWN_METHOD = "unknown_method"
INVALID_PARAMS = "invalid_params"
READ_ONLY = "read_only"
UNAUTHORIZED = "unauthorized"
AUTHSTORE_LOCKED = "authstore_locked"
INTERNAL = "internal"
FRAME_TOO_LARGE = "frame_too_large"
#: A daemon-wide limit is reached (clients, buffered partial frames): retry later.
BUSY = "busy"


class ProtocolError(errors.XenonError):
    """A peer sent bytes that break the protocol.

    Attributes:
        code: Stable error code (one of the module constants).
        message: Human-readable explanation.
        request_id: The id of the offending request, when it could be read.
        fatal: True when the stream cannot be resynchronised (the connection must close).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        request_id: int | str | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.fatal = fatal
