"""``/api/v1/auth`` and ``/api/v1/users``: logins, the user collection, passwords, SSH keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from enterprise_store.api._auth import Caller, ServicesDep, doc, source_of
from enterprise_store.api._collections import (
    Cursor,
    Fields,
    Limit,
    decode_cursor,
    page,
    parse_fields,
)
from enterprise_store.schemas import (
    LoginRequest,
    Page,
    PasswordChange,
    PasswordReset,
    PasswordResetResult,
    RoleName,
    ServiceSessionRequest,
    SessionOut,
    SshKeyCreate,
    SshKeyOut,
    UserCreate,
    UserCreated,
    UserFields,
    UserOut,
    UserPatch,
)
from enterprise_store.services import KEEP, NewUser, Role, Session, UserChanges, UserQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
UserName = Annotated[str, Path(min_length=1, max_length=64, description="User name.")]


def _session(session: Session) -> SessionOut:
    return SessionOut(
        token=session.token,
        token_id=session.token_id,
        expires_at=session.expires_at,
        user=UserOut.model_validate(session.user),
    )


# -- auth ----------------------------------------------------------------------------------


@router.post(
    "/auth/login",
    tags=["auth"],
    summary="Log in with a password",
    response_model=SessionOut,
    **doc("none", 401, 429, public=True, note="Five failures lock the account, doubling."),
)
async def login(body: LoginRequest, request: Request, services: ServicesDep) -> SessionOut:
    session = await services.users.login(
        body.username, body.password.get_secret_value(), source=source_of(request)
    )
    return _session(session)


@router.post(
    "/auth/logout",
    tags=["auth"],
    summary="Revoke the credential used for this call",
    status_code=204,
    response_class=Response,
    **doc("any"),
)
async def logout(caller: Caller, services: ServicesDep) -> Response:
    await services.users.logout(caller)
    return Response(status_code=204)


@router.get(
    "/auth/whoami",
    tags=["auth"],
    summary="The caller's own user",
    response_model=UserOut,
    **doc("any", 404),
)
async def whoami(caller: Caller, services: ServicesDep) -> UserOut:
    return UserOut.model_validate(await services.users.whoami(caller))


@router.post(
    "/auth/service-sessions",
    tags=["auth"],
    summary="Mint a session for a user who proved one of their SSH keys",
    status_code=201,
    response_model=SessionOut,
    **doc("service", note="Used by the console's SSH server after public-key authentication."),
)
async def service_session(
    body: ServiceSessionRequest, request: Request, caller: Caller, services: ServicesDep
) -> SessionOut:
    session = await services.users.mint_session(
        caller, body.username, body.public_key, source=source_of(request)
    )
    return _session(session)


# -- users ---------------------------------------------------------------------------------


@router.get(
    "/users",
    tags=["users"],
    summary="List users",
    response_model=Page[UserFields],  # type: ignore[valid-type]
    **doc("auditor", note="Scoped callers see the users inside their enclaves, and themselves."),
)
async def list_users(
    caller: Caller,
    services: ServicesDep,
    role: Annotated[RoleName | None, Query(description="Only this role.")] = None,
    enabled: Annotated[bool | None, Query(description="Only enabled (or disabled).")] = None,
    q: Annotated[
        str | None, Query(max_length=64, description="Text in the name or display name.")
    ] = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Response:
    selected = parse_fields(fields, UserOut)
    result = await services.users.list_users(
        caller,
        UserQuery(
            role=None if role is None else Role(role),
            enabled=enabled,
            text=q,
            after=decode_cursor(cursor),
            limit=limit,
        ),
    )
    return page(UserOut, result.items, result.next, selected)


@router.post(
    "/users",
    tags=["users"],
    summary="Create a user",
    status_code=201,
    response_model=UserCreated,
    **doc("admin", 409, note="A scoped admin creates users inside their enclaves only."),
)
async def create_user(body: UserCreate, caller: Caller, services: ServicesDep) -> UserCreated:
    created = await services.users.create_user(
        caller,
        NewUser(
            name=body.name,
            role=Role(body.role),
            display_name=body.display_name,
            scopes=None if body.scopes is None else tuple(body.scopes),
            password=None if body.password is None else body.password.get_secret_value(),
            generate_password=body.generate_password,
        ),
    )
    return UserCreated(
        user=UserOut.model_validate(created.user), one_time_password=created.one_time_password
    )


@router.get(
    "/users/{name}",
    tags=["users"],
    summary="Read a user",
    response_model=UserOut,
    **doc("auditor", 404, note="Everyone may read their own user."),
)
async def get_user(name: UserName, caller: Caller, services: ServicesDep) -> UserOut:
    return UserOut.model_validate(await services.users.get_user(caller, name))


@router.patch(
    "/users/{name}",
    tags=["users"],
    summary="Change a user's role, scopes, display name or enabled flag",
    response_model=UserOut,
    **doc("admin", 404, 409, note="`scopes: null` means every enclave; absent fields stay."),
)
async def update_user(
    name: UserName, body: UserPatch, caller: Caller, services: ServicesDep
) -> UserOut:
    given = body.model_fields_set
    changes = UserChanges(
        role=Role(body.role) if "role" in given and body.role is not None else KEEP,
        display_name=body.display_name
        if "display_name" in given and body.display_name is not None
        else KEEP,
        enabled=body.enabled if "enabled" in given and body.enabled is not None else KEEP,
        scopes=(None if body.scopes is None else tuple(body.scopes)) if "scopes" in given else KEEP,
    )
    return UserOut.model_validate(await services.users.update_user(caller, name, changes))


@router.delete(
    "/users/{name}",
    tags=["users"],
    summary="Delete a user with their credentials and keys",
    status_code=204,
    response_class=Response,
    **doc("admin", 404, 409),
)
async def delete_user(name: UserName, caller: Caller, services: ServicesDep) -> Response:
    await services.users.delete_user(caller, name)
    return Response(status_code=204)


@router.post(
    "/users/{name}/password",
    tags=["users"],
    summary="Change one's own password",
    status_code=204,
    response_class=Response,
    **doc("any", 404, note="The user only, from a session, with the old password."),
)
async def change_password(
    name: UserName, body: PasswordChange, caller: Caller, services: ServicesDep
) -> Response:
    await services.users.change_password(
        caller, name, body.old_password.get_secret_value(), body.new_password.get_secret_value()
    )
    return Response(status_code=204)


@router.post(
    "/users/{name}/password-reset",
    tags=["users"],
    summary="Reset a user's password (and lockout)",
    response_model=PasswordResetResult,
    **doc("admin", 404, note="Without a password, a one-time password is returned once."),
)
async def reset_password(
    name: UserName, body: PasswordReset, caller: Caller, services: ServicesDep
) -> PasswordResetResult:
    secret = None if body.new_password is None else body.new_password.get_secret_value()
    return PasswordResetResult(
        one_time_password=await services.users.reset_password(caller, name, secret)
    )


# -- SSH keys ------------------------------------------------------------------------------


@router.get(
    "/users/{name}/ssh-keys",
    tags=["ssh-keys"],
    summary="List a user's SSH public keys",
    response_model=Page[SshKeyOut],
    **doc("auditor", 404, note="Everyone may list their own keys."),
)
async def list_keys(
    name: UserName, caller: Caller, services: ServicesDep, fields: Fields = None
) -> Response:
    selected = parse_fields(fields, SshKeyOut)
    keys = await services.users.list_ssh_keys(caller, name)
    return page(SshKeyOut, keys, None, selected)


@router.post(
    "/users/{name}/ssh-keys",
    tags=["ssh-keys"],
    summary="Add an SSH public key",
    status_code=201,
    response_model=SshKeyOut,
    **doc("admin", 404, 409, note="Everyone may add keys to their own user."),
)
async def add_key(
    name: UserName, body: SshKeyCreate, caller: Caller, services: ServicesDep
) -> SshKeyOut:
    key = await services.users.add_ssh_key(caller, name, body.public_key, body.comment)
    return SshKeyOut.model_validate(key)


@router.delete(
    "/users/{name}/ssh-keys/{key_id}",
    tags=["ssh-keys"],
    summary="Remove an SSH public key",
    status_code=204,
    response_class=Response,
    **doc("admin", 404, note="Everyone may remove their own keys."),
)
async def remove_key(
    name: UserName,
    key_id: Annotated[str, Path(min_length=1, max_length=64)],
    caller: Caller,
    services: ServicesDep,
) -> Response:
    await services.users.remove_ssh_key(caller, name, key_id)
    return Response(status_code=204)
