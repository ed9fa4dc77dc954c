"""The User service (report §4.1.1): users, roles, enclave scopes, logins, tokens, SSH keys.

Plain async Python over the store: no HTTP here, so the API, the CLI and the tests call
the same methods. Every method takes the caller's :class:`Principal` and checks role and
scope itself (``_access``); nothing relies on the layer above having checked.

Every mutating call writes its audit record in its own write unit: the change runs in a
savepoint; if the service refuses it (an ``XeError``), the savepoint is rolled back and
the refusal is recorded (``refused:<code>``) and committed; otherwise the change and its
``ok`` record commit together. Logins (good or bad) are recorded the same way.

Credentials: a credential is ``xe<k>_`` + 43 URL-safe characters (256 random bits; ``k``
is ``s`` session, ``a`` API, ``v`` service); only its SHA-256 is stored, and a lookup by
hash reveals nothing about stored secrets through timing. Session tokens live an hour by
default; API tokens and service credentials at most 366 days.

Lockout: after ``threshold`` consecutive failed passwords a user's password logins are
refused for ``base_s``, doubling with each further failure up to ``max_s``; a good login
or an admin's password reset clears it. SSH-key sessions minted by the console server are
not affected (the lockout is about guessing passwords).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from enterprise_store._errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LockedOut,
    NotFound,
    RoleRequired,
    Unauthenticated,
    XeError,
)
from enterprise_store.audit import AuditEntry, AuditLog
from enterprise_store.services._access import (
    Principal,
    Role,
    normalize_scopes,
    require_role,
    require_scope,
    visible,
)
from enterprise_store.services._passwords import (
    PasswordHasher,
    check_password,
    generate_password,
)
from enterprise_store.services._sshkeys import parse_public_key
from enterprise_store.services._types import (
    KEEP,
    CreatedUser,
    IssuedToken,
    NewToken,
    NewUser,
    Page,
    Session,
    SshKey,
    TokenInfo,
    TokenQuery,
    User,
    UserChanges,
    UserQuery,
    from_us,
)
from enterprise_store.store import Store
from enterprise_store.store._identity import IdentityRepo, SshKeyRow, TokenRow, UserRow

__all__ = ["LockoutPolicy", "UserService", "hash_token"]

_NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:@-]{0,63}$")
_TOKEN = re.compile(r"^xe([sav])_[A-Za-z0-9_-]{43}$")
_PREFIX = {"session": "s", "api": "a", "service": "v"}
_KIND_OF = {v: k for k, v in _PREFIX.items()}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DAY_S = 86_400
_MAX_TTL_S = 366 * _DAY_S
_DEFAULT_API_TTL_S = 90 * _DAY_S
_PURGE_AFTER_US = 7 * _DAY_S * 1_000_000
_MAX_KEYS_PER_USER = 64


def hash_token(token: str) -> str:
    """Hex SHA-256 of a credential (what the store keeps)."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _new_token(kind: str) -> str:
    return f"xe{_PREFIX[kind]}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """When failed passwords lock an account, and for how long."""

    threshold: int = 5
    base_s: float = 30.0
    max_s: float = 3600.0

    def delay_s(self, failures: int) -> float:
        """Lock duration after ``failures`` consecutive failures (0: not locked)."""
        if failures < self.threshold:
            return 0.0
        return float(min(self.base_s * 2 ** (failures - self.threshold), self.max_s))


@dataclass
class _Change:
    """What a mutating call tells the audit record (set inside the change's block)."""

    object: str
    enclaves: frozenset[str] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _may(caller: Principal, role: Role) -> bool:
    """Whether ``caller`` would pass ``require_role(caller, role)`` (no exception)."""
    return caller.role is not None and caller.role >= role and not caller.must_change_password


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(
            "a user name is 1-32 of a-z 0-9 _ . - starting with a letter or _ (like a login)"
        )
    return name


def _check_text(value: str, what: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidInput(f"{what} has at most {limit} characters")
    if _CONTROL.search(value):
        raise InvalidInput(f"{what} cannot contain control characters")
    return value


def _user(row: UserRow) -> User:
    created = from_us(row.created_at_us)
    updated = from_us(row.updated_at_us)
    assert created is not None and updated is not None
    return User(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        role=Role(row.role),
        scopes=None if row.scopes is None else tuple(sorted(row.scopes)),
        enabled=row.enabled,
        password_set=row.password_hash is not None,
        must_change_password=row.password_must_change,
        locked_until=from_us(row.locked_until_us),
        created_at=created,
        updated_at=updated,
    )


def _key(row: SshKeyRow, user: str) -> SshKey:
    created = from_us(row.created_at_us)
    assert created is not None
    return SshKey(
        id=row.id,
        user=user,
        algorithm=row.algorithm,
        fingerprint=row.fingerprint,
        public_key=row.public_key,
        comment=row.comment,
        created_at=created,
    )


class UserService:
    """Users, credentials and SSH keys.

    Args:
        store: The open store.
        audit: The audit log of that store.
        hasher: Password hashing parameters.
        lockout: Failed-login lockout policy.
        session_ttl_s: Lifetime of a session token.
        clock: Wall-clock seconds (tests pass a fake one).
    """

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        *,
        hasher: PasswordHasher | None = None,
        lockout: LockoutPolicy | None = None,
        session_ttl_s: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._audit = audit
        self._repo = IdentityRepo(store)
        self._hasher = hasher or PasswordHasher()
        self._lockout = lockout or LockoutPolicy()
        self._session_ttl_s = session_ttl_s
        self._clock = clock

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    # -- the audited unit --------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _change(
        self, caller: Principal, action: str, obj: str, *, actor: str | None = None
    ) -> AsyncIterator[_Change]:
        """One mutating call: its change and its audit record commit together.

        A refusal (``XeError``) rolls the change back and commits only the record of the
        refusal; any other exception rolls back everything (nothing happened, nothing is
        recorded).
        """
        change = _Change(object=obj)
        refused: XeError | None = None
        async with self._store.atomic() as conn:
            try:
                async with self._store.atomic():
                    yield change
            except XeError as exc:
                refused = exc
            details = dict(change.details)
            if caller.via != "session":
                details.setdefault("via", caller.via)
            entry = AuditEntry(
                actor=actor or caller.name,
                source=caller.source,
                action=action,
                object=change.object,
                result="ok" if refused is None else f"refused:{refused.code}",
                enclaves=sorted(change.enclaves or ()),
                details=details,
            )
            await self._audit.append(conn, [entry])
        if refused is not None:
            raise refused

    async def _visible_user(self, caller: Principal, name: str) -> UserRow:
        """The user ``name`` if the caller may see them (themselves always)."""
        row = await self._repo.get_user(None, name=name)
        if row is None or not (row.id == caller.user_id or visible(caller, row.scopes)):
            raise NotFound(f"no user {name!r}")
        return row

    # -- bootstrap -------------------------------------------------------------------------

    async def bootstrap_admin(
        self, name: str, password: str | None, *, source: str = "cli"
    ) -> CreatedUser:
        """Creates the first admin (``xenon xe init``); refused once any user exists.

        Args:
            name: The admin's user name.
            password: Their password; None: a one-time password is generated, returned
                once, and must be changed at the first login.

        Raises:
            Conflict: Users exist already.
            InvalidInput: Bad name or password.
        """
        caller = Principal.system(source)
        spec = NewUser(
            name=name, role=Role.ADMIN, password=password, generate_password=password is None
        )
        secret, one_time, pre = await self._prepare_password(spec, permitted=True)
        async with self._change(caller, "user.bootstrap", f"user:{name[:64]}") as change:
            async with self._store.read() as conn:
                if await self._repo.count_users(conn):
                    raise Conflict("users exist already: the first admin is made only once")
            created = await self._create(change, spec, secret, one_time, pre)
        return created

    # -- authentication --------------------------------------------------------------------

    async def login(self, name: str, password: str, *, source: str) -> Session:
        """Password login: a session token on success.

        Raises:
            Unauthenticated: Unknown user, wrong password, disabled, or no password set
                (one message for all: a failed login does not tell which).
            LockedOut: Too many failures; ``retry_after_s`` says how long to wait.
        """
        shown = name[:64]
        principal = Principal(name=shown, kind="session", role=None, source=source)
        if len(password) > 1024 or not _NAME.match(name):
            await self._record_login(principal, f"user:{shown}", "refused:unauthenticated")
            raise Unauthenticated("invalid user name or password")
        async with self._store.read() as conn:
            row = await self._repo.get_user(conn, name=name)
        now_us = self._now_us()
        if row is not None and row.locked_until_us and row.locked_until_us > now_us:
            await self._record_login(principal, f"user:{name}", "refused:locked_out")
            raise self._locked(row.locked_until_us - now_us)
        stored = row.password_hash if row is not None else None
        # scrypt is slow on purpose: off the event loop, outside the writer lock
        good = await asyncio.to_thread(self._hasher.verify, password, stored)
        if row is None or not row.enabled or not good:
            if row is not None and row.enabled and stored is not None:
                await self._fail_login(principal, row)
            else:
                await self._record_login(principal, f"user:{shown}", "refused:unauthenticated")
            raise Unauthenticated("invalid user name or password")
        rehash = None
        if self._hasher.needs_rehash(stored or ""):
            rehash = await asyncio.to_thread(self._hasher.hash, password)
        return await self._open_session(principal, row, rehash=rehash)

    async def _record_login(self, principal: Principal, obj: str, result: str) -> None:
        await self._audit.record(
            AuditEntry(
                actor=principal.name,
                source=principal.source,
                action="auth.login",
                object=obj,
                result=result,
            )
        )

    def _locked(self, remaining_us: int) -> LockedOut:
        wait = max(1, -(-remaining_us // 1_000_000))
        return LockedOut(f"too many failed logins: try again in {wait} s", retry_after_s=int(wait))

    async def _fail_login(self, principal: Principal, row: UserRow) -> None:
        async with self._store.atomic() as conn:
            current = await self._repo.get_user(conn, user_id=row.id)
            if current is None:
                return
            failures = current.failed_logins + 1
            delay = self._lockout.delay_s(failures)
            now_us = self._now_us()
            locked = now_us + int(delay * 1_000_000) if delay else current.locked_until_us
            await self._repo.update_user(
                conn, row.id, failed_logins=failures, locked_until_us=locked
            )
            details: dict[str, Any] = {"failures": failures}
            if delay:
                details["locked_for_s"] = int(delay)
            await self._audit.append(
                conn,
                [
                    AuditEntry(
                        actor=row.name,
                        source=principal.source,
                        action="auth.login",
                        object=f"user:{row.name}",
                        result="refused:unauthenticated",
                        enclaves=sorted(row.scopes or ()),
                        details=details,
                    )
                ],
            )

    async def _open_session(
        self,
        principal: Principal,
        row: UserRow,
        *,
        rehash: str | None = None,
        action: str = "auth.login",
        details: Mapping[str, Any] | None = None,
        reset_failures: bool = True,
    ) -> Session:
        token = _new_token("session")
        now_us = self._now_us()
        expires = now_us + self._session_ttl_s * 1_000_000
        token_id = str(uuid.uuid4())
        async with self._store.atomic() as conn:
            values: dict[str, Any] = {}
            if reset_failures:
                values.update(failed_logins=0, locked_until_us=None)
            if rehash is not None:
                values["password_hash"] = rehash
            if values:
                await self._repo.update_user(conn, row.id, **values)
            await self._repo.purge_tokens(conn, expired_before_us=now_us - _PURGE_AFTER_US)
            await self._repo.insert_token(
                conn,
                TokenRow(
                    id=token_id,
                    kind="session",
                    user_id=row.id,
                    name="login",
                    token_hash=hash_token(token),
                    role=None,
                    scopes=None,
                    created_at_us=now_us,
                    expires_at_us=expires,
                    revoked_at_us=None,
                    created_by=principal.name[:80],
                ),
            )
            await self._audit.append(
                conn,
                [
                    AuditEntry(
                        actor=row.name,
                        source=principal.source,
                        action=action,
                        object=f"user:{row.name}",
                        enclaves=sorted(row.scopes or ()),
                        details={"token_id": token_id, **(details or {})},
                    )
                ],
            )
            fresh = await self._repo.get_user(conn, user_id=row.id)
        assert fresh is not None
        expires_at = from_us(expires)
        assert expires_at is not None
        return Session(token=token, token_id=token_id, expires_at=expires_at, user=_user(fresh))

    async def authenticate(self, token: str, *, source: str) -> Principal:
        """The principal a bearer credential stands for.

        Raises:
            Unauthenticated: Malformed, unknown, revoked or expired credential, or its user
                is disabled or gone.
        """
        match = _TOKEN.match(token)
        if match is None:
            raise Unauthenticated("invalid or expired credential")
        found = await self._repo.credential(None, hash_token(token))
        row, user = (None, None) if found is None else found
        now_us = self._now_us()
        if (
            row is None
            or row.kind != _KIND_OF[match.group(1)]
            or row.revoked_at_us is not None
            or (row.expires_at_us is not None and row.expires_at_us <= now_us)
        ):
            raise Unauthenticated("invalid or expired credential")
        if row.kind == "service":
            return Principal(
                name=f"service:{row.name}",
                kind="service",
                role=None,
                token_id=row.id,
                source=source,
                via=f"service:{row.name}",
            )
        if user is None or not user.enabled:
            raise Unauthenticated("invalid or expired credential")
        role = Role(user.role)
        scopes = user.scopes
        if row.kind == "api":
            if row.role is not None and Role(row.role) < role:
                role = Role(row.role)
            if row.scopes is not None:
                scopes = row.scopes if scopes is None else scopes & row.scopes
        return Principal(
            name=user.name,
            kind="api" if row.kind == "api" else "session",
            role=role,
            scopes=scopes,
            user_id=user.id,
            token_id=row.id,
            source=source,
            via="session" if row.kind == "session" else f"api:{row.name}",
            must_change_password=user.password_must_change and row.kind == "session",
        )

    async def logout(self, caller: Principal) -> None:
        """Revokes the credential the caller used (a session ends; an API token dies)."""
        if caller.token_id is None:
            return
        async with self._change(caller, "auth.logout", f"token:{caller.token_id}") as change:
            async with self._store.atomic() as conn:
                await self._repo.revoke_tokens(conn, at_us=self._now_us(), token_id=caller.token_id)
            change.details["token_id"] = caller.token_id

    async def mint_session(
        self, caller: Principal, name: str, public_key: str, *, source: str
    ) -> Session:
        """The console server's call: a session for ``name``, who proved ``public_key``.

        Only a service credential may call it, and only for an enabled user who owns that
        key: the server cannot mint a session for a user it did not authenticate with one
        of that user's keys.

        Raises:
            RoleRequired: The caller is not a service credential.
            Unauthenticated: No such enabled user with that key.
            InvalidInput: Not a public key.
        """
        if caller.kind != "service":
            async with self._change(caller, "auth.session_for", f"user:{name[:64]}"):
                raise RoleRequired("only the console server's service credential mints sessions")
        parsed = parse_public_key(public_key)
        async with self._store.read() as conn:
            row = await self._repo.get_user(conn, name=name) if _NAME.match(name) else None
            key = await self._repo.key_by_fingerprint(conn, parsed.fingerprint)
        if row is None or not row.enabled or key is None or key.user_id != row.id:
            await self._audit.record(
                AuditEntry(
                    actor=name[:64],
                    source=source,
                    action="auth.session_for",
                    object=f"user:{name[:64]}",
                    result="refused:unauthenticated",
                    details={"via": caller.via, "fingerprint": parsed.fingerprint},
                )
            )
            raise Unauthenticated("no such user with that key")
        origin = Principal(name=caller.name, kind="service", role=None, source=source)
        return await self._open_session(
            origin,
            row,
            action="auth.session_for",
            details={"via": caller.via, "fingerprint": parsed.fingerprint},
            reset_failures=False,
        )

    # -- users -----------------------------------------------------------------------------

    async def whoami(self, caller: Principal) -> User:
        """The caller's own user.

        Raises:
            NotFound: A service or system principal has no user.
        """
        if caller.user_id is None:
            raise NotFound(f"{caller.name} is not a user")
        row = await self._repo.get_user(None, user_id=caller.user_id)
        if row is None:
            raise NotFound("your user no longer exists")
        return _user(row)

    async def list_users(self, caller: Principal, query: UserQuery) -> Page[User]:
        """Users the caller may see, by name (scoped callers: users inside their scope).

        Raises:
            RoleRequired: Below auditor (a service credential).
        """
        require_role(caller, Role.AUDITOR, "list users")
        limit = max(1, min(query.limit, 1000))
        out: list[User] = []
        after = query.after
        while True:  # a scoped caller's page may need more rows than it shows
            rows = await self._repo.list_users(
                None,
                role=None if query.role is None else str(query.role),
                enabled=query.enabled,
                text=query.text,
                after_name=after,
                limit=limit + 1,
            )
            for row in rows[:limit]:
                after = row.name
                if row.id == caller.user_id or visible(caller, row.scopes):
                    out.append(_user(row))
                    if len(out) == limit:
                        more = len(rows) > limit or row is not rows[-1]
                        return Page(tuple(out), after if more else None)
            if len(rows) <= limit:
                return Page(tuple(out), None)

    async def get_user(self, caller: Principal, name: str) -> User:
        """One user.

        Raises:
            RoleRequired: Below auditor (one's own user is always readable).
            NotFound: No such user, or outside the caller's scope.
        """
        row = await self._visible_user(caller, name)
        if row.id != caller.user_id:
            require_role(caller, Role.AUDITOR, "read users")
        return _user(row)

    async def create_user(self, caller: Principal, spec: NewUser) -> CreatedUser:
        """Creates a user (admins; a scoped admin only inside their enclaves).

        Raises:
            RoleRequired: Not an admin.
            OutOfScope: The new user's scope is not within the caller's.
            Conflict: The name is taken.
            InvalidInput: Bad name, role, scopes or password.
        """
        secret, one_time, pre = await self._prepare_password(
            spec, permitted=_may(caller, Role.ADMIN)
        )
        async with self._change(caller, "user.create", f"user:{spec.name[:64]}") as change:
            require_role(caller, Role.ADMIN, "create users")
            scopes = normalize_scopes(spec.scopes)
            require_scope(caller, scopes, "create a user")
            created = await self._create(change, spec, secret, one_time, pre)
        return created

    async def _prepare_password(
        self, spec: NewUser, *, permitted: bool
    ) -> tuple[str | None, str | None, str | None]:
        """(password, one-time password, its hash if worth computing now).

        scrypt runs here, before the write unit, so the writer lock is never held across
        it; only for callers who will pass the role check (no free hashing for others).
        """
        one_time = None
        secret = spec.password
        if spec.generate_password and spec.password is None:
            secret = one_time = generate_password()
        pre = await self._hash_if(permitted, secret)
        return secret, one_time, pre

    async def _hash_if(self, permitted: bool, password: str | None) -> str | None:
        if not permitted or password is None:
            return None
        try:
            check_password(password)
        except InvalidInput:
            return None
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _create(
        self,
        change: _Change,
        spec: NewUser,
        password: str | None,
        one_time: str | None,
        pre_hash: str | None,
    ) -> CreatedUser:
        _check_name(spec.name)
        role = Role.parse(str(spec.role))
        scopes = normalize_scopes(spec.scopes)
        display = _check_text(spec.display_name, "display name", 200)
        if spec.password is not None and spec.generate_password:
            raise InvalidInput("give a password or ask for a generated one, not both")
        pw_hash = None
        if password is not None:
            check_password(password)
            pw_hash = pre_hash or await asyncio.to_thread(self._hasher.hash, password)
        now_us = self._now_us()
        row = UserRow(
            id=str(uuid.uuid4()),
            name=spec.name,
            display_name=display,
            role=str(role),
            enabled=True,
            password_hash=pw_hash,
            password_must_change=one_time is not None,
            failed_logins=0,
            locked_until_us=None,
            created_at_us=now_us,
            updated_at_us=now_us,
            scopes=scopes,
        )
        async with self._store.atomic() as conn:
            if await self._repo.get_user(conn, name=spec.name) is not None:
                raise Conflict(f"user {spec.name!r} exists already")
            await self._repo.insert_user(conn, row)
        change.enclaves = scopes
        change.details.update(role=str(role), scopes=sorted(scopes) if scopes else None)
        return CreatedUser(user=_user(row), one_time_password=one_time)

    async def update_user(self, caller: Principal, name: str, changes: UserChanges) -> User:
        """Changes role, display name, enabled or scopes (admins, within their scope).

        Raises:
            RoleRequired: Not an admin.
            NotFound: No such user, or outside the caller's scope.
            OutOfScope: The new scopes are not within the caller's.
            Conflict: It would leave no enabled, unscoped admin.
        """
        async with self._change(caller, "user.update", f"user:{name[:64]}") as change:
            require_role(caller, Role.ADMIN, "change users")
            row = await self._visible_user(caller, name)
            change.enclaves = row.scopes
            values: dict[str, Any] = {}
            if changes.role is not KEEP:
                values["role"] = str(Role.parse(str(changes.role)))
            if changes.display_name is not KEEP:
                values["display_name"] = _check_text(changes.display_name, "display name", 200)
            if changes.enabled is not KEEP:
                values["enabled"] = bool(changes.enabled)
            new_scopes = row.scopes
            if changes.scopes is not KEEP:
                new_scopes = normalize_scopes(changes.scopes)
                require_scope(caller, new_scopes, "scope a user")
            async with self._store.atomic() as conn:
                if changes.scopes is not KEEP:
                    await self._repo.set_scopes(conn, row.id, new_scopes)
                if values:
                    await self._repo.update_user(
                        conn, row.id, **values, updated_at_us=self._now_us()
                    )
                after = await self._repo.get_user(conn, user_id=row.id)
                assert after is not None
                demoted = self._is_global_admin(row) and not self._is_global_admin(after)
                if demoted and not await self._repo.count_global_admins(conn, excluding=row.id):
                    raise Conflict("that would leave no enabled admin of every enclave")
            change.enclaves = (row.scopes or frozenset()) | (new_scopes or frozenset()) or None
            change.details.update(
                {k: v for k, v in values.items() if k != "display_name"},
                **({"scopes": sorted(new_scopes) if new_scopes else None}
                   if changes.scopes is not KEEP else {}),
            )  # fmt: skip
        return _user(after)

    @staticmethod
    def _is_global_admin(row: UserRow) -> bool:
        return row.role == "admin" and row.enabled and row.scopes is None

    async def delete_user(self, caller: Principal, name: str) -> None:
        """Deletes a user with their credentials and keys.

        Raises:
            RoleRequired: Not an admin.
            NotFound: No such user, or outside the caller's scope.
            Conflict: Deleting oneself, or the last enabled unscoped admin.
        """
        async with self._change(caller, "user.delete", f"user:{name[:64]}") as change:
            require_role(caller, Role.ADMIN, "delete users")
            row = await self._visible_user(caller, name)
            change.enclaves = row.scopes
            if row.id == caller.user_id:
                raise Conflict("you cannot delete yourself")
            async with self._store.atomic() as conn:
                if self._is_global_admin(row) and not await self._repo.count_global_admins(
                    conn, excluding=row.id
                ):
                    raise Conflict("that would leave no enabled admin of every enclave")
                await self._repo.delete_user(conn, row.id)

    async def change_password(
        self, caller: Principal, name: str, old_password: str, new_password: str
    ) -> None:
        """A user changes their own password (proving the old one); ends other sessions.

        Raises:
            Forbidden: Changing someone else's (admins reset instead), or not a session.
            Unauthenticated: The old password is wrong.
            InvalidInput: The new password is unacceptable or equals the old one.
        """
        # The slow part first, outside the write unit: verify the old password against the
        # hash read now, hash the new one; inside the unit the hash must still be that one.
        own = caller.kind == "session" and caller.name == name and caller.user_id is not None
        seen_hash: str | None = None
        old_ok = False
        new_hash: str | None = None
        if own and len(old_password) <= 1024:
            async with self._store.read() as conn:
                current = await self._repo.get_user(conn, user_id=caller.user_id)
            seen_hash = None if current is None else current.password_hash
            old_ok = await asyncio.to_thread(self._hasher.verify, old_password, seen_hash)
            if old_ok and new_password != old_password:
                new_hash = await self._hash_if(True, new_password)
        async with self._change(caller, "user.password_change", f"user:{name[:64]}") as change:
            require_role(caller, Role.AUDITOR, "change a password", allow_must_change=True)
            row = await self._visible_user(caller, name)
            change.enclaves = row.scopes
            if row.id != caller.user_id or caller.kind != "session":
                raise Forbidden("only the user, logged in, changes their password; admins reset")
            check_password(new_password)
            if new_password == old_password:
                raise InvalidInput("the new password must differ from the old one")
            if not old_ok or row.password_hash != seen_hash or new_hash is None:
                raise Unauthenticated("the old password is wrong")
            async with self._store.atomic() as conn:
                now_us = self._now_us()
                await self._repo.update_user(
                    conn,
                    row.id,
                    password_hash=new_hash,
                    password_must_change=False,
                    updated_at_us=now_us,
                )
                revoked = 0
                for token in await self._repo.list_tokens(
                    conn, user_id=row.id, kind="session", active_at_us=now_us, limit=10_000
                ):
                    if token.id != caller.token_id:
                        revoked += await self._repo.revoke_tokens(
                            conn, at_us=now_us, token_id=token.id
                        )
            change.details["other_sessions_ended"] = revoked

    async def reset_password(
        self, caller: Principal, name: str, new_password: str | None = None
    ) -> str | None:
        """An admin sets a user's password (or a generated one-time password, returned),
        clears the lockout and ends the user's sessions.

        Raises:
            RoleRequired: Not an admin.
            NotFound: No such user, or outside the caller's scope.
            InvalidInput: The password is unacceptable.
        """
        one_time = generate_password() if new_password is None else None
        secret = new_password if one_time is None else one_time
        pre = await self._hash_if(_may(caller, Role.ADMIN), secret)
        async with self._change(caller, "user.password_reset", f"user:{name[:64]}") as change:
            require_role(caller, Role.ADMIN, "reset passwords")
            row = await self._visible_user(caller, name)
            change.enclaves = row.scopes
            assert secret is not None
            check_password(secret)
            new_hash = pre or await asyncio.to_thread(self._hasher.hash, secret)
            async with self._store.atomic() as conn:
                now_us = self._now_us()
                await self._repo.update_user(
                    conn,
                    row.id,
                    password_hash=new_hash,
                    password_must_change=one_time is not None,
                    failed_logins=0,
                    locked_until_us=None,
                    updated_at_us=now_us,
                )
                ended = await self._repo.revoke_tokens(
                    conn, at_us=now_us, user_id=row.id, kinds=("session",)
                )
            change.details.update(one_time=one_time is not None, sessions_ended=ended)
        return one_time

    # -- SSH keys --------------------------------------------------------------------------

    def _self_or(self, caller: Principal, row: UserRow, role: Role, action: str) -> None:
        if row.id == caller.user_id:
            require_role(caller, Role.AUDITOR, action)
        else:
            require_role(caller, role, action)

    async def list_ssh_keys(self, caller: Principal, name: str) -> list[SshKey]:
        """A user's SSH public keys (one's own; auditors and up: anyone's in scope).

        Raises:
            RoleRequired: Someone else's, below auditor.
            NotFound: No such user, or outside the caller's scope.
        """
        row = await self._visible_user(caller, name)
        self._self_or(caller, row, Role.AUDITOR, "list SSH keys")
        async with self._store.read() as conn:
            keys = await self._repo.keys_of(conn, row.id)
        return [_key(k, row.name) for k in keys]

    async def add_ssh_key(
        self, caller: Principal, name: str, public_key: str, comment: str | None = None
    ) -> SshKey:
        """Adds an SSH public key (one's own; admins: anyone's in scope).

        Raises:
            RoleRequired: Someone else's, not an admin.
            NotFound: No such user, or outside the caller's scope.
            InvalidInput: Not an accepted public key.
            Conflict: The key is registered already (to anyone), or too many keys.
        """
        async with self._change(caller, "user.ssh_key_add", f"user:{name[:64]}") as change:
            row = await self._visible_user(caller, name)
            change.enclaves = row.scopes
            self._self_or(caller, row, Role.ADMIN, "add SSH keys")
            if comment is not None:
                _check_text(comment, "comment", 200)
            parsed = parse_public_key(public_key, comment)
            if _CONTROL.search(parsed.comment):
                parsed = dataclasses.replace(parsed, comment=_CONTROL.sub("?", parsed.comment))
            key = SshKeyRow(
                id=str(uuid.uuid4()),
                user_id=row.id,
                algorithm=parsed.algorithm,
                fingerprint=parsed.fingerprint,
                public_key=parsed.public_key,
                comment=parsed.comment,
                created_at_us=self._now_us(),
            )
            async with self._store.atomic() as conn:
                if await self._repo.key_by_fingerprint(conn, parsed.fingerprint) is not None:
                    raise Conflict(f"key {parsed.fingerprint} is registered already")
                if len(await self._repo.keys_of(conn, row.id)) >= _MAX_KEYS_PER_USER:
                    raise Conflict(f"at most {_MAX_KEYS_PER_USER} keys per user")
                await self._repo.insert_key(conn, key)
            change.details.update(fingerprint=parsed.fingerprint, algorithm=parsed.algorithm)
        return _key(key, row.name)

    async def remove_ssh_key(self, caller: Principal, name: str, key_id: str) -> None:
        """Removes one SSH key (one's own; admins: anyone's in scope).

        Raises:
            RoleRequired: Someone else's, not an admin.
            NotFound: No such user or key.
        """
        async with self._change(caller, "user.ssh_key_remove", f"user:{name[:64]}") as change:
            row = await self._visible_user(caller, name)
            change.enclaves = row.scopes
            self._self_or(caller, row, Role.ADMIN, "remove SSH keys")
            async with self._store.atomic() as conn:
                if not await self._repo.delete_key(conn, row.id, key_id[:64]):
                    raise NotFound(f"user {name!r} has no key {key_id[:64]!r}")
            change.details["key_id"] = key_id[:64]

    # -- credentials -----------------------------------------------------------------------

    def _token_info(self, row: TokenRow, owner: str | None) -> TokenInfo:
        created = from_us(row.created_at_us)
        assert created is not None
        now_us = self._now_us()
        active = row.revoked_at_us is None and (
            row.expires_at_us is None or row.expires_at_us > now_us
        )
        return TokenInfo(
            id=row.id,
            kind=row.kind,  # type: ignore[arg-type]
            name=row.name,
            user=owner,
            role=None if row.role is None else Role(row.role),
            scopes=None if row.scopes is None else tuple(sorted(row.scopes)),
            created_at=created,
            expires_at=from_us(row.expires_at_us),
            revoked_at=from_us(row.revoked_at_us),
            created_by=row.created_by,
            active=active,
        )

    async def create_token(self, caller: Principal, spec: NewToken) -> IssuedToken:
        """Creates an API token for the caller, or (admins) a service credential.

        An API token acts as its owner, capped at ``spec.role`` and ``spec.scopes``; it
        never exceeds the owner (checked now and again at every use, so lowering the
        owner lowers the token). Only a logged-in session creates credentials (a token
        cannot breed tokens).

        Raises:
            RoleRequired: Asking for a role above one's own, or a service credential
                without being an unscoped admin.
            OutOfScope: Scopes beyond one's own.
            Forbidden: Not a session.
            InvalidInput: Bad name or lifetime.
        """
        obj = f"token:{spec.name[:64]}"
        async with self._change(caller, "token.create", obj) as change:
            require_role(caller, Role.AUDITOR, "create credentials")
            if caller.kind != "session":
                raise Forbidden("credentials are created from a logged-in session only")
            if not _TOKEN_NAME.match(spec.name):
                raise InvalidInput("a credential name is 1-64 of A-Z a-z 0-9 space _ . : @ -")
            ttl = _DEFAULT_API_TTL_S if spec.ttl_s is None else spec.ttl_s
            if not 60 <= ttl <= _MAX_TTL_S:
                raise InvalidInput(f"a credential lives 60 s to {_MAX_TTL_S} s")
            if spec.kind == "service":
                require_role(caller, Role.ADMIN, "create a service credential")
                if not caller.is_global:
                    raise RoleRequired("a service credential needs an admin of every enclave")
                if spec.role is not None or spec.scopes is not None:
                    raise InvalidInput("a service credential has no role or scopes")
                role, scopes, user_id, owner = None, None, None, None
            elif spec.kind == "api":
                assert caller.role is not None
                role = caller.role if spec.role is None else Role.parse(str(spec.role))
                if role > caller.role:
                    raise RoleRequired(
                        f"an API token cannot exceed its owner's role ({caller.role})"
                    )
                scopes = normalize_scopes(spec.scopes)
                if scopes is None:
                    scopes = caller.scopes
                require_scope(caller, scopes, "scope an API token")
                user_id, owner = caller.user_id, caller.name
            else:
                raise InvalidInput("a credential kind is api or service")
            token = _new_token(spec.kind)
            now_us = self._now_us()
            row = TokenRow(
                id=str(uuid.uuid4()),
                kind=spec.kind,
                user_id=user_id,
                name=spec.name,
                token_hash=hash_token(token),
                role=None if role is None else str(role),
                scopes=scopes,
                created_at_us=now_us,
                expires_at_us=now_us + ttl * 1_000_000,
                revoked_at_us=None,
                created_by=caller.name[:80],
            )
            async with self._store.atomic() as conn:
                await self._repo.insert_token(conn, row)
            change.object = f"token:{row.id}"
            change.enclaves = scopes
            change.details.update(
                kind=spec.kind, name=spec.name, role=row.role, ttl_s=ttl, token_id=row.id
            )
        return IssuedToken(token=token, info=self._token_info(row, owner))

    async def list_tokens(self, caller: Principal, query: TokenQuery) -> Page[TokenInfo]:
        """Credentials: one's own; an admin's view of a user in scope; ``"*"``: all
        (unscoped admins; service credentials are listed this way).

        Raises:
            RoleRequired: Someone else's, not an admin.
            NotFound: No such user, or outside the caller's scope.
        """
        limit = max(1, min(query.limit, 1000))
        owners: dict[str | None, str | None] = {None: None}
        any_user = False
        if query.user == "*":
            require_role(caller, Role.ADMIN, "list every credential")
            if not caller.is_global:
                raise RoleRequired("listing every credential needs an admin of every enclave")
            user_id: str | None = None
            any_user = True
        elif query.user is None or query.user == caller.name:
            require_role(caller, Role.AUDITOR, "list credentials", allow_must_change=True)
            if caller.user_id is None:
                raise NotFound(f"{caller.name} is not a user")
            user_id = caller.user_id
            owners[user_id] = caller.name
        else:
            row = await self._visible_user(caller, query.user)
            require_role(caller, Role.ADMIN, "list another user's credentials")
            user_id = row.id
            owners[user_id] = row.name
        async with self._store.read() as conn:
            rows = await self._repo.list_tokens(
                conn,
                user_id=user_id,
                any_user=any_user,
                kind=query.kind,
                active_at_us=self._now_us() if query.active_only else None,
                after_id=query.after,
                limit=limit + 1,
            )
            for r in rows:
                if r.user_id not in owners:
                    owner = await self._repo.get_user(conn, user_id=r.user_id)
                    owners[r.user_id] = None if owner is None else owner.name
        items = tuple(self._token_info(r, owners.get(r.user_id)) for r in rows[:limit])
        return Page(items, rows[limit - 1].id if len(rows) > limit else None)

    async def revoke_token(self, caller: Principal, token_id: str) -> None:
        """Revokes a credential: one's own; an admin: any user's in scope; service
        credentials: unscoped admins.

        Raises:
            RoleRequired: Someone else's, not an admin.
            NotFound: No such credential (or outside the caller's scope).
        """
        async with self._change(caller, "token.revoke", f"token:{token_id[:64]}") as change:
            async with self._store.read() as conn:
                row = await self._repo.token_by_id(conn, token_id[:64])
                owner = None
                if row is not None and row.user_id is not None:
                    owner = await self._repo.get_user(conn, user_id=row.user_id)
            if row is None:
                raise NotFound(f"no credential {token_id[:64]!r}")
            if row.user_id is not None and row.user_id == caller.user_id:
                require_role(caller, Role.AUDITOR, "revoke credentials", allow_must_change=True)
            elif row.kind == "service":
                require_role(caller, Role.ADMIN, "revoke a service credential")
                if not caller.is_global:
                    raise RoleRequired("a service credential needs an admin of every enclave")
            else:
                if owner is None or not visible(caller, owner.scopes):
                    raise NotFound(f"no credential {token_id[:64]!r}")
                require_role(caller, Role.ADMIN, "revoke another user's credentials")
                change.enclaves = owner.scopes
            async with self._store.atomic() as conn:
                await self._repo.revoke_tokens(conn, at_us=self._now_us(), token_id=row.id)
            change.details.update(kind=row.kind, owner=None if owner is None else owner.name)
