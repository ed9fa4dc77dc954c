"""Problem+json answers back into the ``XeError`` classes the services raised.

The client raises the tree of :mod:`enterprise_store._errors`; an answer's ``code`` picks
the class, else its HTTP status (the column on the right; ``-`` never from a status alone):

::

    XeError(errors.XenonError)                  xe_error           any other status
    ├── NotFound(errors.NotFound)               not_found          404
    ├── Conflict(errors.Conflict)               conflict           409
    │   └── ApprovalRequired                    approval_required  - (``version``,
    │                                                              ``enclave``, ``authors``,
    │                                                              ``approvers``, ``state``)
    ├── Forbidden                               forbidden          403
    │   ├── RoleRequired                        role_required      -
    │   └── OutOfScope                          out_of_scope       -
    ├── Unauthenticated                         unauthenticated    401
    │   └── LockedOut                           locked_out         429 (``retry_after_s``)
    ├── InvalidInput(errors.InvalidArgument)    invalid_input      422
    ├── PolicyRefused                           policy_refused     - (``findings`` as
    │                                                              :class:`RemoteFinding`)
    ├── StoreUnavailable                        store_unavailable  503
    ├── HostError(errors.HostError)             host_error         -
    │   └── HostUnreachable                     host_unreachable   -
    └── ServiceUnreachable                      unreachable        - (raised by the client)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from enterprise_store._errors import (
    ERROR_CLASSES,
    ApprovalRequired,
    Conflict,
    Forbidden,
    InvalidInput,
    LockedOut,
    NotFound,
    PolicyRefused,
    StoreUnavailable,
    Unauthenticated,
    XeError,
    _Coded,
)

__all__ = ["RemoteFinding", "error_from_response"]

_BY_CODE: dict[str, type[XeError]] = {cls.code: cls for cls in ERROR_CLASSES}
_BY_STATUS: dict[int, type[XeError]] = {
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
    429: LockedOut,
    503: StoreUnavailable,
}


@dataclass(frozen=True, slots=True)
class RemoteFinding:
    """A consistency-checker finding as the server reported it."""

    code: str
    message: str
    objects: tuple[str, ...]
    severity: str = "error"
    kind: str | None = None
    field: str | None = None
    hint: str = ""
    ids: tuple[str, ...] = ()


def _build(cls: type[XeError], code: str, detail: str, body: dict[str, Any]) -> XeError:
    if cls is PolicyRefused:
        findings = [
            RemoteFinding(
                str(f.get("code", "")),
                str(f.get("message", "")),
                tuple(str(o) for o in f.get("objects", ())),
                severity=str(f.get("severity", "error")),
                kind=None if f.get("kind") is None else str(f["kind"]),
                field=None if f.get("field") is None else str(f["field"]),
                hint=str(f.get("hint", "")),
                ids=tuple(str(i) for i in f.get("ids", ())),
            )
            for f in body.get("findings") or ()
            if isinstance(f, dict)
        ]
        return PolicyRefused(findings, detail, code=code)
    if cls is ApprovalRequired:
        version = body.get("version")
        authors = body.get("authors")
        return ApprovalRequired(
            detail,
            version=version if isinstance(version, int) else 0,
            enclave=str(body.get("enclave") or ""),
            authors=[str(a) for a in authors] if isinstance(authors, list) else (),
            approvers=str(body.get("approvers") or ""),
            state=str(body.get("state") or "pending"),
            code=code,
        )
    if issubclass(cls, LockedOut):
        retry = body.get("retry_after_s")
        return LockedOut(
            detail, retry_after_s=int(retry) if isinstance(retry, int) else 1, code=code
        )
    if issubclass(cls, _Coded):
        return cls(detail, code=code)
    return XeError(code, detail)


def error_from_response(response: httpx.Response) -> XeError:
    """The exception for an error response (problem+json, or anything else a proxy sent)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        cls = _BY_STATUS.get(status, XeError)
        return _build(cls, f"http_{status}", f"HTTP {status} {text}".strip(), {})
    code = body["code"]
    detail = str(body.get("detail") or body.get("title") or code)
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status, XeError)
    return _build(cls, code, detail, body)
