"""The XE REST client (httpx): what the console and the CLI use; never the store directly.

Every method returns the API's Pydantic models (``enterprise_store.schemas``, shared with
the routes) and raises the ``XeError`` class the service raised (``NotFound``,
``RoleRequired``, ``LockedOut`` …), or :class:`ServiceUnreachable` when no answer came.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator, Sequence
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import httpx
from pydantic import BaseModel

from enterprise_store._errors import InvalidInput, ServiceUnreachable
from enterprise_store.client._compute import ComputeClient
from enterprise_store.client._errors import error_from_response
from enterprise_store.client._history import HistoryClient
from enterprise_store.client._incidents import IncidentsClient
from enterprise_store.client._policy import PolicyClient
from enterprise_store.schemas import (
    AuditRecordFields,
    AuditRecordOut,
    AuditVerifyOut,
    Health,
    Page,
    PasswordResetResult,
    Readiness,
    RoleName,
    SessionOut,
    SshKeyOut,
    TokenCreated,
    TokenOut,
    UserCreated,
    UserFields,
    UserOut,
)

__all__ = ["XeClient", "tls_context"]

M = TypeVar("M", bound=BaseModel)
_UNSET: Any = object()
_PREFIX = "/api/v1"


def tls_context(ca: Path | None) -> ssl.SSLContext:
    """TLS 1.3 client context trusting ``ca`` (a PEM bundle; None: the system store)."""
    ctx = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


class XeClient:
    """An XE API client. Use ``async with XeClient(url, token=…) as xe``.

    Args:
        url: Base URL, e.g. ``https://xe.example:8443``.
        token: Bearer credential (session, API or service).
        ca: CA bundle that signed the server certificate (``https`` URLs).
        timeout: Seconds per request.
        transport: An httpx transport (tests: ``httpx.ASGITransport(app)``).
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ca: Path | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise InvalidInput(f"XE URL must be https://HOST:PORT, not {url[:100]!r}")
        verify: ssl.SSLContext | bool = tls_context(ca) if url.startswith("https://") else True
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            timeout=timeout,
            verify=verify,
            transport=transport,
            # Bearer tokens only: no cookie is kept, so nothing of one answer goes with a
            # later request (with_token: another user's, over the same connections).
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
        )
        self._owns_http = True

    def with_token(self, token: str) -> XeClient:
        """This client's connections (TLS, timeouts, pool) with another bearer ``token``:
        a server that asks XE for many users (the SSH server: each login's hosts read
        with that user's token, its logout) keeps one pool and one TLS setup for all.
        Closing it closes nothing; close the client it came from."""
        view = XeClient.__new__(XeClient)
        view.token = token
        view._http = self._http
        view._owns_http = False
        return view

    async def __aenter__(self) -> XeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connections (not those of the client a :meth:`with_token` came from)."""
        if self._owns_http:
            await self._http.aclose()

    @functools.cached_property
    def compute(self) -> ComputeClient:
        """Hosts, VMs, propagation, tasks: ``await xe.compute.add_host(...)``."""
        return ComputeClient(self)

    @functools.cached_property
    def history(self) -> HistoryClient:
        """Every host's violations and statistics: ``await xe.history.summary(...)``."""
        return HistoryClient(self)

    @functools.cached_property
    def incidents(self) -> IncidentsClient:
        """Host incidents through XE, audited: ``await xe.incidents.step(...)``."""
        return IncidentsClient(self)

    @functools.cached_property
    def policy(self) -> PolicyClient:
        """The XE policy's endpoints: ``await xe.policy.create_vm(...)``."""
        return PolicyClient(self)

    # -- plumbing --------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self._http.request(
                method, path, json=json, params=clean, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise ServiceUnreachable(f"no answer from {self._http.base_url} in time") from exc
        except httpx.TransportError as exc:
            raise ServiceUnreachable(f"cannot reach {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    async def _get(self, path: str, model: type[M], **params: Any) -> M:
        return model.model_validate_json((await self._request("GET", path, params=params)).content)

    async def _send(self, method: str, path: str, model: type[M], body: Any) -> M:
        response = await self._request(method, path, json=body)
        return model.model_validate_json(response.content)

    @staticmethod
    def _fields(fields: Sequence[str] | None) -> str | None:
        return None if fields is None else ",".join(fields)

    # -- auth ------------------------------------------------------------------------------

    async def login(self, username: str, password: str) -> SessionOut:
        """Password login; the client uses the session token from then on."""
        session = await self._send(
            "POST", f"{_PREFIX}/auth/login", SessionOut,
            {"username": username, "password": password},
        )  # fmt: skip
        self.token = session.token
        return session

    async def logout(self) -> None:
        """Revokes the credential in use."""
        await self._request("POST", f"{_PREFIX}/auth/logout")
        self.token = None

    async def whoami(self) -> UserOut:
        """The caller's own user."""
        return await self._get(f"{_PREFIX}/auth/whoami", UserOut)

    async def service_session(self, username: str, public_key: str) -> SessionOut:
        """(Service credential) a session for ``username``, who proved ``public_key``."""
        return await self._send(
            "POST", f"{_PREFIX}/auth/service-sessions", SessionOut,
            {"username": username, "public_key": public_key},
        )  # fmt: skip

    # -- users -----------------------------------------------------------------------------

    @overload
    async def list_users(
        self,
        *,
        role: RoleName | None = None,
        enabled: bool | None = None,
        q: str | None = None,
        fields: None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[UserOut]: ...

    @overload
    async def list_users(
        self,
        *,
        role: RoleName | None = None,
        enabled: bool | None = None,
        q: str | None = None,
        fields: Sequence[str],
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[UserFields]: ...  # type: ignore[valid-type]

    async def list_users(
        self,
        *,
        role: RoleName | None = None,
        enabled: bool | None = None,
        q: str | None = None,
        fields: Sequence[str] | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[UserOut] | Page[UserFields]:  # type: ignore[valid-type]
        """One page of users (``fields``: only those fields, in ``UserFields`` items)."""
        model: Any = Page[UserOut] if fields is None else Page[UserFields]  # type: ignore[valid-type]
        result: Page[Any] = await self._get(
            f"{_PREFIX}/users", model, role=role, enabled=enabled, q=q,
            fields=self._fields(fields), limit=limit, cursor=cursor,
        )  # fmt: skip
        return result

    async def iter_users(self, **filters: Any) -> AsyncIterator[UserOut]:
        """Every user (all pages)."""
        cursor = None
        while True:
            page = await self.list_users(cursor=cursor, **filters)
            for user in page.items:
                yield user
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get_user(self, name: str) -> UserOut:
        """One user."""
        return await self._get(f"{_PREFIX}/users/{name}", UserOut)

    async def create_user(
        self,
        name: str,
        role: RoleName,
        *,
        display_name: str = "",
        scopes: Sequence[str] | None = None,
        password: str | None = None,
        generate_password: bool = False,
    ) -> UserCreated:
        """Creates a user (``generate_password``: the answer carries a one-time password)."""
        body: dict[str, Any] = {"name": name, "role": role, "display_name": display_name,
                                "generate_password": generate_password}  # fmt: skip
        if scopes is not None:
            body["scopes"] = list(scopes)
        if password is not None:
            body["password"] = password
        return await self._send("POST", f"{_PREFIX}/users", UserCreated, body)

    async def update_user(
        self,
        name: str,
        *,
        role: RoleName | None = None,
        display_name: str | None = None,
        enabled: bool | None = None,
        scopes: Sequence[str] | None = _UNSET,
    ) -> UserOut:
        """Changes fields (``scopes=None``: every enclave; omitted: unchanged)."""
        body: dict[str, Any] = {}
        if role is not None:
            body["role"] = role
        if display_name is not None:
            body["display_name"] = display_name
        if enabled is not None:
            body["enabled"] = enabled
        if scopes is not _UNSET:
            body["scopes"] = None if scopes is None else list(scopes)
        return await self._send("PATCH", f"{_PREFIX}/users/{name}", UserOut, body)

    async def delete_user(self, name: str) -> None:
        """Deletes a user."""
        await self._request("DELETE", f"{_PREFIX}/users/{name}")

    async def change_password(self, name: str, old_password: str, new_password: str) -> None:
        """Changes one's own password."""
        await self._request(
            "POST", f"{_PREFIX}/users/{name}/password",
            json={"old_password": old_password, "new_password": new_password},
        )  # fmt: skip

    async def reset_password(self, name: str, new_password: str | None = None) -> str | None:
        """(Admin) resets a password; returns the one-time password when none was given."""
        body = {} if new_password is None else {"new_password": new_password}
        result = await self._send(
            "POST", f"{_PREFIX}/users/{name}/password-reset", PasswordResetResult, body
        )
        return result.one_time_password

    # -- SSH keys --------------------------------------------------------------------------

    async def list_ssh_keys(self, name: str) -> list[SshKeyOut]:
        """A user's SSH public keys."""
        return (await self._get(f"{_PREFIX}/users/{name}/ssh-keys", Page[SshKeyOut])).items

    async def add_ssh_key(
        self, name: str, public_key: str, comment: str | None = None
    ) -> SshKeyOut:
        """Adds an SSH public key."""
        body: dict[str, Any] = {"public_key": public_key}
        if comment is not None:
            body["comment"] = comment
        return await self._send("POST", f"{_PREFIX}/users/{name}/ssh-keys", SshKeyOut, body)

    async def remove_ssh_key(self, name: str, key_id: str) -> None:
        """Removes an SSH public key."""
        await self._request("DELETE", f"{_PREFIX}/users/{name}/ssh-keys/{key_id}")

    # -- credentials -----------------------------------------------------------------------

    async def list_tokens(
        self,
        *,
        user: str | None = None,
        kind: Literal["session", "api", "service"] | None = None,
        active: bool = True,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[TokenOut]:
        """One page of credentials (one's own; ``user=NAME`` or ``"*"`` for admins)."""
        return await self._get(
            f"{_PREFIX}/tokens", Page[TokenOut], user=user, kind=kind, active=active,
            limit=limit, cursor=cursor,
        )  # fmt: skip

    async def create_token(
        self,
        name: str,
        *,
        kind: Literal["api", "service"] = "api",
        role: RoleName | None = None,
        scopes: Sequence[str] | None = None,
        ttl_s: int | None = None,
    ) -> TokenCreated:
        """Creates an API token or (admins) a service credential; the secret is in ``token``."""
        body: dict[str, Any] = {"name": name, "kind": kind}
        if role is not None:
            body["role"] = role
        if scopes is not None:
            body["scopes"] = list(scopes)
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        return await self._send("POST", f"{_PREFIX}/tokens", TokenCreated, body)

    async def revoke_token(self, token_id: str) -> None:
        """Revokes a credential."""
        await self._request("DELETE", f"{_PREFIX}/tokens/{token_id}")

    # -- audit -----------------------------------------------------------------------------

    async def list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        object: str | None = None,
        result: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[AuditRecordOut]:
        """One page of audit records, newest first."""
        return await self._get(
            f"{_PREFIX}/audit", Page[AuditRecordOut], actor=actor, action=action, object=object,
            result=result, since=since, until=until, limit=limit, cursor=cursor,
        )  # fmt: skip

    async def list_audit_fields(
        self, fields: Sequence[str], **filters: Any
    ) -> Page[AuditRecordFields]:  # type: ignore[valid-type]
        """Audit records with only ``fields``."""
        model: Any = Page[AuditRecordFields]  # type: ignore[valid-type]
        result: Page[Any] = await self._get(
            f"{_PREFIX}/audit", model, fields=",".join(fields), **filters
        )
        return result

    async def verify_audit(self, expect: str | None = None) -> AuditVerifyOut:
        """Verifies the chain (``expect``: an earlier fingerprint that must still be in it)."""
        return await self._get(f"{_PREFIX}/audit/verify", AuditVerifyOut, expect=expect)

    # -- operations ------------------------------------------------------------------------

    async def healthz(self) -> Health:
        """Liveness."""
        return await self._get("/healthz", Health)

    async def readyz(self) -> Readiness:
        """Readiness (raises ``StoreUnavailable``-like errors only on transport failure)."""
        try:
            response = await self._http.get("/readyz")
        except httpx.TransportError as exc:
            raise ServiceUnreachable(f"cannot reach {self._http.base_url}: {exc}") from exc
        return Readiness.model_validate_json(response.content)

    async def metrics_text(self) -> str:
        """The Prometheus text."""
        return (await self._request("GET", "/metrics")).text
