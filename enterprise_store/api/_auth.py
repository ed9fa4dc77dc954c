"""The bearer-token dependency and the per-operation role declaration.

Identity is a bearer credential (uvicorn does not hand a client certificate to the app):
a session token from ``POST /api/v1/auth/login``, an API token or the console server's
service credential. The dependency only turns the header into a :class:`Principal`; each
service method decides what that principal may do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from enterprise_store._errors import Unauthenticated
from enterprise_store.schemas import Problem
from enterprise_store.services import Principal, Services

__all__ = ["ROLE_NOTES", "Caller", "ServicesDep", "doc", "source_of"]

_bearer = HTTPBearer(
    auto_error=False,
    description="A session token (POST /api/v1/auth/login), an API token, or the console "
    "server's service credential.",
)

ROLE_NOTES = {
    "none": "No credential needed.",
    "any": "Any authenticated user (acting on their own account).",
    "auditor": "auditor, operator or admin (read-only).",
    "operator": "operator or admin.",
    "admin": "admin.",
    "service": "The console server's service credential only.",
}


def source_of(request: Request) -> str:
    """The client's address for the audit log."""
    return request.client.host if request.client else "unknown"


async def _services(request: Request) -> Services:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per
    # request (~0.5 ms of GIL hand-over on a busy box) for one attribute read.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


async def _caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("a bearer credential is required (Authorization: Bearer …)")
    return await services.users.authenticate(credentials.credentials, source=source_of(request))


Caller = Annotated[Principal, Depends(_caller)]


def doc(role: str, *statuses: int, note: str = "", public: bool = False) -> dict[str, Any]:
    """Route decorator arguments that declare the required role and the error responses.

    The role goes in the description and in the ``x-required-role`` extension (an
    operation without it would count as admin-only); scoped roles are noted where the
    service narrows them.

    Args:
        role: ``none``, ``any``, ``auditor``, ``operator``, ``admin`` or ``service``.
        statuses: Error statuses beyond the common ones (400 unparsable body, 401, 403,
            422, 503).
        note: Extra sentence for the description.
        public: No credential is needed (no 401/403 by default).
    """
    assert role in ROLE_NOTES, role
    common = (400, 422, 503) if public else (400, 401, 403, 422, 503)
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": Problem, "description": "Problem details (RFC 9457)."}
        for status in sorted({*common, *statuses})
    }
    text = f"**Required role: {role}** — {ROLE_NOTES[role]}"
    if note:
        text += f"\n\n{note}"
    return {
        "description": text,
        "responses": responses,
        "openapi_extra": {"x-required-role": role},
    }
