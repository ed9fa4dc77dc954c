"""Repository of users, their scopes, tokens and SSH keys: SQL in, frozen rows out.

Every function takes the connection of a unit or snapshot the caller opened
(``Store.atomic()`` / ``Store.read()``); none opens its own, so a service composes several
in one transaction.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from enterprise_store.store._schema import ssh_keys, tokens, user_scopes, users
from enterprise_store.store._store import Store

__all__ = ["IdentityRepo", "SshKeyRow", "TokenRow", "UserRow"]

# Column lists in table order: the tuple converters below unpack rows positionally.
_USER_COLUMNS = ", ".join(f"u.{c.name}" for c in users.columns)
_TOKEN_COLUMNS = ", ".join(f"t.{c.name}" for c in tokens.columns)
_LIKE_ESCAPE = re.compile(r"[\\%_]")
# Only fixed fragments and ``?`` placeholders are ever formatted into SQL here.
_SQL_USER = (
    f"SELECT {_USER_COLUMNS}, s.enclave FROM users u "  # noqa: S608
    "LEFT JOIN user_scopes s ON s.user_id = u.id WHERE "
)
_SQL_CREDENTIAL = (
    f"SELECT {_TOKEN_COLUMNS}, {_USER_COLUMNS}, s.enclave FROM tokens t "  # noqa: S608
    "LEFT JOIN users u ON u.id = t.user_id "
    "LEFT JOIN user_scopes s ON s.user_id = u.id WHERE t.token_hash = ?"
)


@dataclass(frozen=True, slots=True)
class UserRow:
    """A stored user (``scopes`` None: every enclave)."""

    id: str
    name: str
    display_name: str
    role: str
    enabled: bool
    password_hash: str | None
    password_must_change: bool
    failed_logins: int
    locked_until_us: int | None
    created_at_us: int
    updated_at_us: int
    scopes: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A stored credential (the secret itself is never stored, only its SHA-256)."""

    id: str
    kind: str
    user_id: str | None
    name: str
    token_hash: str
    role: str | None
    scopes: frozenset[str] | None
    created_at_us: int
    expires_at_us: int | None
    revoked_at_us: int | None
    created_by: str


@dataclass(frozen=True, slots=True)
class SshKeyRow:
    """A user's SSH public key."""

    id: str
    user_id: str
    algorithm: str
    fingerprint: str
    public_key: str
    comment: str
    created_at_us: int


class _Prefixed:
    """Attribute access to the ``prefix``-labelled columns of a joined row."""

    def __init__(self, mapping: Any, prefix: str) -> None:
        self._mapping = mapping
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]


def _user(row: Any, scopes: frozenset[str] | None) -> UserRow:
    return UserRow(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        role=row.role,
        enabled=bool(row.enabled),
        password_hash=row.password_hash,
        password_must_change=bool(row.password_must_change),
        failed_logins=int(row.failed_logins),
        locked_until_us=row.locked_until_us,
        created_at_us=int(row.created_at_us),
        updated_at_us=int(row.updated_at_us),
        scopes=scopes,
    )


def _user_tuple(row: Any, scopes: frozenset[str] | None) -> UserRow:
    """Fast path for ``select(users)`` rows: positional, in the table's column order
    (attribute access on a Row costs ~1 µs per column; a page has 100 rows)."""
    (
        id_,
        name,
        display,
        role,
        enabled,
        pw_hash,
        must_change,
        failures,
        locked,
        created,
        updated,
    ) = row
    return UserRow(
        id_,
        name,
        display,
        role,
        bool(enabled),
        pw_hash,
        bool(must_change),
        int(failures),
        locked,
        int(created),
        int(updated),
        scopes,
    )


def _token_tuple(row: Any) -> TokenRow:
    (id_, kind, user_id, name, token_hash, role, scopes, created, expires, revoked, by) = row
    return TokenRow(
        id_,
        kind,
        user_id,
        name,
        token_hash,
        role,
        None if scopes is None else frozenset(json.loads(scopes)),
        int(created),
        expires,
        revoked,
        by,
    )


def _token(row: Any) -> TokenRow:
    scopes = None if row.scopes is None else frozenset(json.loads(row.scopes))
    return TokenRow(
        id=row.id,
        kind=row.kind,
        user_id=row.user_id,
        name=row.name,
        token_hash=row.token_hash,
        role=row.role,
        scopes=scopes,
        created_at_us=int(row.created_at_us),
        expires_at_us=row.expires_at_us,
        revoked_at_us=row.revoked_at_us,
        created_by=row.created_by,
    )


def _key(row: Row[Any]) -> SshKeyRow:
    return SshKeyRow(
        id=row.id,
        user_id=row.user_id,
        algorithm=row.algorithm,
        fingerprint=row.fingerprint,
        public_key=row.public_key,
        comment=row.comment,
        created_at_us=int(row.created_at_us),
    )


def _scopes_json(scopes: Iterable[str] | None) -> str | None:
    return None if scopes is None else json.dumps(sorted(scopes))


class IdentityRepo:
    """Users, scopes, tokens and SSH keys; every method takes the connection of the unit or
    snapshot it works in. Hot reads (every request's credential, user pages) are
    driver-level SQL through :meth:`Store.fetch_all`; writes are SQLAlchemy Core.

    Args:
        store: The store (for its driver-level read path).
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- users -----------------------------------------------------------------------------

    async def _fetch(
        self, conn: AsyncConnection | None, sql: str, params: Sequence[Any]
    ) -> list[Sequence[Any]]:
        if conn is None:
            return await self._store.quick_fetch(sql, params)
        return await self._store.fetch_all(conn, sql, params)

    async def get_user(
        self,
        conn: AsyncConnection | None,
        *,
        name: str | None = None,
        user_id: str | None = None,
    ) -> UserRow | None:
        """The user with ``name`` or ``user_id`` with its scopes, or None (one statement;
        ``conn`` None: :meth:`Store.quick_fetch`)."""
        where, value = ("u.name = ?", name) if name is not None else ("u.id = ?", user_id)
        rows = await self._fetch(conn, _SQL_USER + where, (value,))
        if not rows:
            return None
        enclaves = frozenset(r[-1] for r in rows if r[-1] is not None)
        return _user_tuple(rows[0][:-1], enclaves or None)

    async def list_users(
        self,
        conn: AsyncConnection | None,
        *,
        role: str | None = None,
        enabled: bool | None = None,
        text: str | None = None,
        after_name: str | None = None,
        limit: int = 100,
    ) -> list[UserRow]:
        """Users ordered by name, after ``after_name``, filtered, with their scopes (one
        statement; ``conn`` None: :meth:`Store.quick_fetch`)."""
        where: list[str] = []
        params: list[Any] = []
        if role is not None:
            where.append("u.role = ?")
            params.append(role)
        if enabled is not None:
            where.append("u.enabled = ?")
            params.append(enabled)
        if text:
            needle = "%" + _LIKE_ESCAPE.sub(r"\\\g<0>", text.lower()) + "%"
            where.append(
                "(lower(u.name) LIKE ? ESCAPE '\\' OR lower(u.display_name) LIKE ? ESCAPE '\\')"
            )
            params += [needle, needle]
        if after_name is not None:
            where.append("u.name > ?")
            params.append(after_name)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        sql = (
            f"SELECT {_USER_COLUMNS}, s.enclave FROM (SELECT * FROM users u{clause} "  # noqa: S608
            "ORDER BY u.name LIMIT ?) u LEFT JOIN user_scopes s ON s.user_id = u.id "
            "ORDER BY u.name"
        )
        rows = await self._fetch(conn, sql, (*params, int(limit)))
        out: list[UserRow] = []
        enclaves: dict[str, set[str]] = {}
        for row in rows:
            if not out or out[-1].id != row[0]:
                out.append(_user_tuple(row[:-1], None))
            if row[-1] is not None:
                enclaves.setdefault(row[0], set()).add(row[-1])
        return [
            dataclasses.replace(u, scopes=frozenset(enclaves[u.id])) if u.id in enclaves else u
            for u in out
        ]

    async def insert_user(self, conn: AsyncConnection, row: UserRow) -> None:
        """Stores a new user and its scopes."""
        values = {c.name: getattr(row, c.name) for c in users.columns}
        await conn.execute(users.insert().values(**values))
        await self.set_scopes(conn, row.id, row.scopes)

    async def update_user(self, conn: AsyncConnection, user_id: str, **values: Any) -> None:
        """Updates columns of one user."""
        await conn.execute(update(users).where(users.c.id == user_id).values(**values))

    async def set_scopes(
        self, conn: AsyncConnection, user_id: str, scopes: frozenset[str] | None
    ) -> None:
        """Replaces a user's scopes (None: every enclave)."""
        await conn.execute(delete(user_scopes).where(user_scopes.c.user_id == user_id))
        if scopes:
            await conn.execute(
                user_scopes.insert(), [{"user_id": user_id, "enclave": e} for e in sorted(scopes)]
            )

    async def delete_user(self, conn: AsyncConnection, user_id: str) -> None:
        """Deletes a user with its scopes, tokens and keys (foreign keys cascade)."""
        await conn.execute(delete(user_scopes).where(user_scopes.c.user_id == user_id))
        await conn.execute(delete(tokens).where(tokens.c.user_id == user_id))
        await conn.execute(delete(ssh_keys).where(ssh_keys.c.user_id == user_id))
        await conn.execute(delete(users).where(users.c.id == user_id))

    async def count_users(self, conn: AsyncConnection) -> int:
        """Number of users."""
        return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())

    async def count_global_admins(self, conn: AsyncConnection, *, excluding: str) -> int:
        """Enabled, unscoped admins other than ``excluding``."""
        scoped = select(user_scopes.c.user_id)
        stmt = (
            select(func.count())
            .select_from(users)
            .where(
                users.c.role == "admin",
                users.c.enabled,
                users.c.id != excluding,
                users.c.id.not_in(scoped),
            )
        )
        return int((await conn.execute(stmt)).scalar_one())

    # -- tokens ----------------------------------------------------------------------------

    async def credential(
        self, conn: AsyncConnection | None, token_hash: str
    ) -> tuple[TokenRow, UserRow | None] | None:
        """The credential with ``token_hash`` and its owner with scopes, in one statement
        (every request authenticates; ``conn`` None: :meth:`Store.quick_fetch`)."""
        rows = await self._fetch(conn, _SQL_CREDENTIAL, (token_hash,))
        if not rows:
            return None
        first = rows[0]
        n = len(tokens.columns)
        token = _token_tuple(first[:n])
        if first[n] is None:
            return token, None
        enclaves = frozenset(r[-1] for r in rows if r[-1] is not None)
        return token, _user_tuple(first[n:-1], enclaves or None)

    async def insert_token(self, conn: AsyncConnection, row: TokenRow) -> None:
        """Stores a credential (its hash)."""
        values = {c.name: getattr(row, c.name) for c in tokens.columns if c.name != "scopes"}
        await conn.execute(tokens.insert().values(**values, scopes=_scopes_json(row.scopes)))

    async def token_by_id(self, conn: AsyncConnection, token_id: str) -> TokenRow | None:
        """The credential ``token_id``."""
        row = (await conn.execute(select(tokens).where(tokens.c.id == token_id))).first()
        return None if row is None else _token(row)

    async def list_tokens(
        self,
        conn: AsyncConnection,
        *,
        user_id: str | None = None,
        any_user: bool = False,
        kind: str | None = None,
        active_at_us: int | None = None,
        after_id: str | None = None,
        limit: int = 100,
    ) -> list[TokenRow]:
        """Credentials ordered by id; of ``user_id`` (None with ``any_user``: service ones)."""
        stmt = select(tokens).order_by(tokens.c.id).limit(limit)
        if not any_user:
            stmt = stmt.where(
                tokens.c.user_id == user_id if user_id is not None else tokens.c.user_id.is_(None)
            )
        if kind is not None:
            stmt = stmt.where(tokens.c.kind == kind)
        if active_at_us is not None:
            stmt = stmt.where(
                tokens.c.revoked_at_us.is_(None),
                or_(tokens.c.expires_at_us.is_(None), tokens.c.expires_at_us > active_at_us),
            )
        if after_id is not None:
            stmt = stmt.where(tokens.c.id > after_id)
        return [_token(r) for r in (await conn.execute(stmt)).all()]

    async def revoke_tokens(
        self,
        conn: AsyncConnection,
        *,
        at_us: int,
        token_id: str | None = None,
        user_id: str | None = None,
        kinds: tuple[str, ...] = ("session", "api"),
    ) -> int:
        """Revokes one credential, or every active one of ``kinds`` of a user."""
        stmt = update(tokens).where(tokens.c.revoked_at_us.is_(None)).values(revoked_at_us=at_us)
        if token_id is not None:
            stmt = stmt.where(tokens.c.id == token_id)
        else:
            stmt = stmt.where(and_(tokens.c.user_id == user_id, tokens.c.kind.in_(kinds)))
        return int((await conn.execute(stmt)).rowcount or 0)

    async def purge_tokens(self, conn: AsyncConnection, *, expired_before_us: int) -> int:
        """Deletes credentials that expired before ``expired_before_us``."""
        result = await conn.execute(
            delete(tokens).where(
                tokens.c.expires_at_us.is_not(None), tokens.c.expires_at_us < expired_before_us
            )
        )
        return int(result.rowcount or 0)

    # -- SSH keys --------------------------------------------------------------------------

    async def insert_key(self, conn: AsyncConnection, row: SshKeyRow) -> None:
        """Stores a user's public key."""
        await conn.execute(
            ssh_keys.insert().values(**{c.name: getattr(row, c.name) for c in ssh_keys.columns})
        )

    async def keys_of(self, conn: AsyncConnection, user_id: str) -> list[SshKeyRow]:
        """A user's keys, oldest first."""
        rows = await conn.execute(
            select(ssh_keys)
            .where(ssh_keys.c.user_id == user_id)
            .order_by(ssh_keys.c.created_at_us, ssh_keys.c.id)
        )
        return [_key(r) for r in rows]

    async def key_by_fingerprint(self, conn: AsyncConnection, fingerprint: str) -> SshKeyRow | None:
        """The key with ``fingerprint`` (``SHA256:…``), whoever owns it."""
        row = (
            await conn.execute(select(ssh_keys).where(ssh_keys.c.fingerprint == fingerprint))
        ).first()
        return None if row is None else _key(row)

    async def delete_key(self, conn: AsyncConnection, user_id: str, key_id: str) -> bool:
        """Deletes one of a user's keys; whether it existed."""
        result = await conn.execute(
            delete(ssh_keys).where(ssh_keys.c.user_id == user_id, ssh_keys.c.id == key_id)
        )
        return bool(result.rowcount)
