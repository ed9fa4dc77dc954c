"""``/api/v1/tokens``: API tokens and service credentials (sessions are listed here too)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from enterprise_store.api._auth import Caller, ServicesDep, doc
from enterprise_store.api._collections import (
    Cursor,
    Fields,
    Limit,
    decode_cursor,
    page,
    parse_fields,
)
from enterprise_store.schemas import Page, TokenCreate, TokenCreated, TokenFields, TokenOut
from enterprise_store.services import NewToken, Role, TokenQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["tokens"])


@router.get(
    "/tokens",
    summary="List credentials",
    response_model=Page[TokenFields],  # type: ignore[valid-type]
    **doc(
        "any",
        404,
        note="One's own by default; `user=NAME` (admin, in scope) or `user=*` (unscoped "
        "admin, includes service credentials) for others.",
    ),
)
async def list_tokens(
    caller: Caller,
    services: ServicesDep,
    user: Annotated[str | None, Query(max_length=64, description="Whose; `*`: all.")] = None,
    kind: Annotated[Literal["session", "api", "service"] | None, Query()] = None,
    active: Annotated[bool, Query(description="Hide revoked and expired ones.")] = True,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    selected = parse_fields(fields, TokenOut)
    result = await services.users.list_tokens(
        caller,
        TokenQuery(
            user=user, kind=kind, active_only=active, after=decode_cursor(cursor), limit=limit
        ),
    )
    return page(TokenOut, result.items, result.next, selected)


@router.post(
    "/tokens",
    summary="Create an API token (or, for admins, a service credential)",
    status_code=201,
    response_model=TokenCreated,
    **doc(
        "any",
        note="From a session only. An API token never exceeds its owner's role or scopes; "
        "`kind: service` needs an unscoped admin.",
    ),
)
async def create_token(body: TokenCreate, caller: Caller, services: ServicesDep) -> TokenCreated:
    issued = await services.users.create_token(
        caller,
        NewToken(
            name=body.name,
            kind=body.kind,
            role=None if body.role is None else Role(body.role),
            scopes=None if body.scopes is None else tuple(body.scopes),
            ttl_s=body.ttl_s,
        ),
    )
    return TokenCreated(token=issued.token, info=TokenOut.model_validate(issued.info))


@router.delete(
    "/tokens/{token_id}",
    summary="Revoke a credential",
    status_code=204,
    response_class=Response,
    **doc("any", 404, note="One's own; an admin's: any user's in scope; service: unscoped admin."),
)
async def revoke_token(
    token_id: Annotated[str, Path(min_length=1, max_length=64)],
    caller: Caller,
    services: ServicesDep,
) -> Response:
    await services.users.revoke_token(caller, token_id)
    return Response(status_code=204)
