"""One error shape for the whole API: RFC 9457 problem details, mapped once from ``XeError``.

``{"type", "title", "status", "detail", "instance", "code", …}`` with media type
``application/problem+json``; ``code`` is the stable XE code the client maps back to the
same exception class. Request validation errors become ``invalid_input`` (422) listing
each field's location and message, never the value sent (it may be a password). Anything
unexpected is a 500 ``internal_error`` whose detail says nothing about the cause (the
traceback goes to the log).
"""

from __future__ import annotations

import http
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from enterprise_store._errors import (
    ApprovalRequired,
    Conflict,
    Forbidden,
    HostError,
    InvalidInput,
    LockedOut,
    NotFound,
    PolicyRefused,
    StoreUnavailable,
    Unauthenticated,
    XeError,
)

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "STATUS",
    "finding_json",
    "install_error_handlers",
    "problem",
    "status_of",
]

LOG = logging.getLogger("xenon.xe.api")
PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:xenon:xe:problem:"

#: Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[XeError], int], ...] = (
    (LockedOut, 429),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (PolicyRefused, 409),
    (Conflict, 409),
    (InvalidInput, 422),
    (StoreUnavailable, 503),
    (HostError, 502),
)


def status_of(exc: XeError) -> int:
    """The HTTP status of an XE error (500 for a class not in the map)."""
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": f"{TYPE_PREFIX}{code}",
        "title": http.HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def finding_json(f: Any) -> dict[str, Any]:
    """A checker finding as the API shows it: code, message, objects, and where the finding
    has them severity, kind, field, hint and ids (the Figure 24 warning names its fix)."""
    out: dict[str, Any] = {"code": f.code, "message": f.message, "objects": list(f.objects)}
    severity = getattr(f, "severity", None)
    if severity is not None:
        out["severity"] = str(getattr(severity, "value", severity))
    for name in ("kind", "field", "hint"):
        value = getattr(f, name, None)
        if value is not None:
            out[name] = str(value)
    out["ids"] = [str(i) for i in getattr(f, "ids", ())]
    return out


async def _xe_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, XeError)
    status = status_of(exc)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, LockedOut):
        headers["Retry-After"] = str(exc.retry_after_s)
        extra["retry_after_s"] = exc.retry_after_s
    if isinstance(exc, PolicyRefused):
        extra["findings"] = [finding_json(f) for f in exc.findings]
    if isinstance(exc, ApprovalRequired):
        extra.update(
            version=exc.version,
            enclave=exc.enclave,
            authors=list(exc.authors),
            approvers=exc.approvers,
            state=exc.state,
        )
    return problem(
        status, exc.code, exc.message, instance=request.url.path, headers=headers, **extra
    )


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()[:50]
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"][1:] or first["loc"]) or "request"
    return problem(
        422,
        InvalidInput.code,
        f"{where}: {first['msg']}",
        instance=request.url.path,
        errors=errors,
    )


def _allowed(request: Request) -> str | None:
    """Every method the OpenAPI document lists for the request's path (``Allow`` of a 405).

    Starlette's own ``Allow`` names only the first route whose path matched, so a path with
    a GET route and a POST route answered ``Allow: GET``.
    """
    table = getattr(request.app.state, "allow_table", None)
    if table is None:
        from starlette.routing import compile_path

        table = []
        for template, item in request.app.openapi().get("paths", {}).items():
            methods = sorted(m.upper() for m in item if m.upper() != "HEAD")
            if "GET" in methods:
                methods.append("HEAD")
            table.append((compile_path(template)[0], ", ".join(methods)))
        request.app.state.allow_table = table
    for regex, methods in table:
        if regex.match(request.url.path):
            return str(methods)
    return None


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    code = codes.get(exc.status_code, f"http_{exc.status_code}")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allow = _allowed(request)
        if allow:
            headers["Allow"] = allow
    return problem(
        exc.status_code, code, str(exc.detail), instance=request.url.path, headers=headers
    )


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    LOG.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "internal error (logged)", instance=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    """Routes every error of ``app`` to a problem+json response."""
    app.add_exception_handler(XeError, _xe_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _internal)
