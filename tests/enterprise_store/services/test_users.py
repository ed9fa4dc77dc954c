"""The User service on SQLite and PostgreSQL: logins, lockout, tokens, keys, roles, scopes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from enterprise_store._errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LockedOut,
    NotFound,
    OutOfScope,
    RoleRequired,
    Unauthenticated,
)
from enterprise_store.audit import AuditQuery
from enterprise_store.services import (
    NewToken,
    NewUser,
    Principal,
    Role,
    Services,
    TokenQuery,
    UserChanges,
    UserQuery,
    hash_token,
)
from enterprise_store.store._schema import audit_log, tokens

Login = Callable[..., Awaitable[Principal]]
MakeUser = Callable[..., Awaitable[Principal]]
ENCLAVE_A = str(uuid.UUID(int=0xA))
ENCLAVE_B = str(uuid.UUID(int=0xB))


async def _audit(services: Services, **query: object) -> list[tuple[str, str, str, str]]:
    page = await services.audit_log.list(AuditQuery(limit=1000, **query))  # type: ignore[arg-type]
    return [(r.actor, r.action, r.object, r.result) for r in reversed(page[0])]


# -- bootstrap and login -------------------------------------------------------------------


async def test_bootstrap_without_password_gives_a_one_time_password_that_must_be_changed(
    db_url: str, clock: object
) -> None:
    from enterprise_store.services import PasswordHasher, ServiceConfig

    services = await Services.open(db_url, config=ServiceConfig(hasher=PasswordHasher(n=2**12)))
    try:
        created = await services.users.bootstrap_admin("admin", None)
        otp = created.one_time_password
        assert otp and len(otp) >= 20 and created.user.must_change_password
        with pytest.raises(Conflict, match="only once"):
            await services.users.bootstrap_admin("other", "another-password-1")
        session = await services.users.login("admin", otp, source="cli")
        admin = await services.users.authenticate(session.token, source="cli")
        assert admin.must_change_password
        with pytest.raises(Forbidden) as refused:
            await services.users.list_users(admin, UserQuery())
        assert refused.value.code == "password_change_required"
        await services.users.change_password(admin, "admin", otp, "a-new-long-password")
        admin = await services.users.authenticate(session.token, source="cli")
        assert not admin.must_change_password
        assert [u.name for u in (await services.users.list_users(admin, UserQuery())).items] == [
            "admin"
        ]
        with pytest.raises(Unauthenticated):
            await services.users.login("admin", otp, source="cli")
    finally:
        await services.close()


async def test_login_returns_a_session_token_stored_only_as_its_hash(services: Services) -> None:
    session = await services.users.login("root", "correct horse battery staple", source="c")
    assert session.token.startswith("xes_") and session.user.name == "root"
    async with services.store.read() as conn:
        stored = (await conn.execute(select(tokens.c.token_hash))).scalars().all()
        rows = (await conn.execute(select(tokens))).all()
    assert hash_token(session.token) in stored
    assert not any(session.token in str(tuple(r)) for r in rows)
    principal = await services.users.authenticate(session.token, source="c")
    assert (principal.name, principal.role, principal.kind) == ("root", Role.ADMIN, "session")


async def test_bad_logins_are_refused_alike_and_audited(services: Services) -> None:
    for name, password in (("root", "wrong password!!"), ("nobody", "whatever-password")):
        with pytest.raises(Unauthenticated, match="invalid user name or password"):
            await services.users.login(name, password, source="198.51.100.7")
    with pytest.raises(Unauthenticated):
        await services.users.login("Bad\nName", "x" * 20, source="198.51.100.7")
    records = await _audit(services, action="auth.login")
    assert records == [
        ("root", "auth.login", "user:root", "refused:unauthenticated"),
        ("nobody", "auth.login", "user:nobody", "refused:unauthenticated"),
        ("Bad\\x0aName", "auth.login", "user:Bad\\x0aName", "refused:unauthenticated"),
    ]
    async with services.store.read() as conn:
        every = " ".join(str(tuple(r)) for r in (await conn.execute(select(audit_log))).all())
    assert "wrong password" not in every and "whatever-password" not in every


async def test_lockout_backs_off_and_a_good_login_clears_it(
    services: Services, clock: object, admin_password: str
) -> None:
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            await services.users.login("root", "wrong password!!", source="x")
    with pytest.raises(Unauthenticated):  # the 5th failure locks
        await services.users.login("root", "wrong password!!", source="x")
    with pytest.raises(LockedOut) as locked:  # even the right password, while locked
        await services.users.login("root", admin_password, source="x")
    assert locked.value.retry_after_s == 30
    clock.advance(31)  # type: ignore[attr-defined]
    with pytest.raises(Unauthenticated):  # 6th failure: 60 s
        await services.users.login("root", "wrong password!!", source="x")
    with pytest.raises(LockedOut) as locked:
        await services.users.login("root", admin_password, source="x")
    assert locked.value.retry_after_s == 60
    clock.advance(61)  # type: ignore[attr-defined]
    session = await services.users.login("root", admin_password, source="x")
    assert session.user.locked_until is None
    with pytest.raises(Unauthenticated):  # counting starts again from zero
        await services.users.login("root", "wrong password!!", source="x")
    await services.users.login("root", admin_password, source="x")
    results = [r[3] for r in await _audit(services, action="auth.login")]
    assert results.count("refused:locked_out") == 2 and results.count("ok") == 2


async def test_sessions_expire_and_logout_revokes(services: Services, clock: object) -> None:
    first = await services.users.login("root", "correct horse battery staple", source="x")
    second = await services.users.login("root", "correct horse battery staple", source="x")
    caller = await services.users.authenticate(first.token, source="x")
    await services.users.logout(caller)
    with pytest.raises(Unauthenticated):
        await services.users.authenticate(first.token, source="x")
    await services.users.authenticate(second.token, source="x")
    clock.advance(3601)  # type: ignore[attr-defined]
    with pytest.raises(Unauthenticated):
        await services.users.authenticate(second.token, source="x")


async def test_malformed_and_forged_tokens_are_refused(services: Services) -> None:
    session = await services.users.login("root", "correct horse battery staple", source="x")
    forged_kind = "xea_" + session.token[4:]  # a session secret presented as an API token
    for token in ("", "Bearer x", "xes_short", forged_kind, "xes_" + "A" * 43):
        with pytest.raises(Unauthenticated):
            await services.users.authenticate(token, source="x")


# -- users ---------------------------------------------------------------------------------


async def test_user_lifecycle_and_its_audit(services: Services, login: Login) -> None:
    root = await login("root")
    created = await services.users.create_user(
        root,
        NewUser(
            name="alice", role=Role.OPERATOR, display_name="Alice A.", password="alice-password-1"
        ),
    )
    assert created.one_time_password is None and created.user.password_set
    with pytest.raises(Conflict):
        await services.users.create_user(root, NewUser(name="alice", role=Role.AUDITOR))
    for bad in ("Alice", "", "a" * 33, "1abc", "a b"):
        with pytest.raises(InvalidInput):
            await services.users.create_user(root, NewUser(name=bad, role=Role.AUDITOR))
    with pytest.raises(InvalidInput, match="at least 12"):
        await services.users.create_user(
            root, NewUser(name="bob", role=Role.AUDITOR, password="short")
        )
    user = await services.users.update_user(
        root, "alice", UserChanges(role=Role.AUDITOR, display_name="Alice")
    )
    assert (user.role, user.display_name, user.scopes) == (Role.AUDITOR, "Alice", None)
    assert (await services.users.get_user(root, "alice")).role == Role.AUDITOR
    await services.users.delete_user(root, "alice")
    with pytest.raises(NotFound):
        await services.users.get_user(root, "alice")
    assert [r[1:] for r in await _audit(services, action="user.")] == [
        ("user.bootstrap", "user:root", "ok"),
        ("user.create", "user:alice", "ok"),
        ("user.create", "user:alice", "refused:conflict"),
        *[
            ("user.create", f"user:{n}", "refused:invalid_input")
            for n in ("Alice", "", "a" * 33, "1abc", "a b", "bob")
        ],
        ("user.update", "user:alice", "ok"),
        ("user.delete", "user:alice", "ok"),
    ]
    assert (await services.audit_log.verify()).ok


async def test_the_last_admin_of_every_enclave_stays(services: Services, login: Login) -> None:
    root = await login("root")
    with pytest.raises(Conflict, match="yourself"):
        await services.users.delete_user(root, "root")
    with pytest.raises(Conflict, match="no enabled admin"):
        await services.users.update_user(root, "root", UserChanges(role=Role.OPERATOR))
    with pytest.raises(Conflict, match="no enabled admin"):
        await services.users.update_user(root, "root", UserChanges(scopes=(ENCLAVE_A,)))
    await services.users.create_user(root, NewUser(name="second", role=Role.ADMIN))
    session = await services.users.login("root", "correct horse battery staple", source="x")
    await services.users.update_user(root, "root", UserChanges(enabled=False))
    with pytest.raises(Unauthenticated):  # a disabled user's sessions stop at once
        await services.users.authenticate(session.token, source="x")
    with pytest.raises(Unauthenticated):
        await services.users.login("root", "correct horse battery staple", source="x")


async def test_roles_below_admin_cannot_manage_users(
    services: Services, make_user: MakeUser
) -> None:
    for role in ("operator", "auditor"):
        caller = await make_user(f"u{role}", role)
        with pytest.raises(RoleRequired):
            await services.users.create_user(caller, NewUser(name="x1", role=Role.AUDITOR))
        with pytest.raises(RoleRequired):
            await services.users.update_user(caller, "root", UserChanges(enabled=False))
        with pytest.raises(RoleRequired):
            await services.users.delete_user(caller, "root")
        with pytest.raises(RoleRequired):
            await services.users.reset_password(caller, "root")
        # reading is allowed to auditors
        assert (await services.users.get_user(caller, "root")).name == "root"


async def test_scoped_admin_sees_and_acts_only_inside_the_scope(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    root = await login("root")
    await services.users.create_user(
        root, NewUser(name="in_a", role=Role.OPERATOR, scopes=(ENCLAVE_A,))
    )
    await services.users.create_user(
        root, NewUser(name="in_b", role=Role.OPERATOR, scopes=(ENCLAVE_B,))
    )
    await services.users.create_user(
        root, NewUser(name="in_ab", role=Role.OPERATOR, scopes=(ENCLAVE_A, ENCLAVE_B))
    )
    admin_a = await make_user("admin_a", "admin", (ENCLAVE_A.upper(),))
    assert admin_a.scopes == frozenset({ENCLAVE_A})
    names = [u.name for u in (await services.users.list_users(admin_a, UserQuery())).items]
    assert names == ["admin_a", "in_a"]
    for hidden in ("in_b", "in_ab", "root"):
        with pytest.raises(NotFound):
            await services.users.get_user(admin_a, hidden)
        with pytest.raises(NotFound):
            await services.users.update_user(admin_a, hidden, UserChanges(enabled=False))
        with pytest.raises(NotFound):
            await services.users.delete_user(admin_a, hidden)
    with pytest.raises(OutOfScope):
        await services.users.create_user(
            admin_a, NewUser(name="x2", role=Role.AUDITOR, scopes=(ENCLAVE_B,))
        )
    with pytest.raises(OutOfScope):  # enterprise-wide is outside any scope
        await services.users.create_user(admin_a, NewUser(name="x3", role=Role.AUDITOR))
    with pytest.raises(OutOfScope):
        await services.users.update_user(admin_a, "in_a", UserChanges(scopes=(ENCLAVE_B,)))
    await services.users.create_user(
        admin_a, NewUser(name="x4", role=Role.AUDITOR, scopes=(ENCLAVE_A,))
    )
    await services.users.delete_user(admin_a, "x4")


async def test_scopes_are_validated(services: Services, login: Login) -> None:
    root = await login("root")
    for scopes in ((), ("not-a-uuid",)):
        with pytest.raises(InvalidInput):
            await services.users.create_user(
                root, NewUser(name="s", role=Role.AUDITOR, scopes=scopes)
            )


async def test_user_list_filters_and_pages(services: Services, login: Login) -> None:
    root = await login("root")
    for i in range(12):
        await services.users.create_user(
            root,
            NewUser(
                name=f"user{i:02d}",
                role=Role.OPERATOR if i % 2 else Role.AUDITOR,
                display_name="Night Shift" if i < 3 else "",
            ),
        )
    page = await services.users.list_users(root, UserQuery(limit=5))
    assert [u.name for u in page.items] == ["root", "user00", "user01", "user02", "user03"]
    page = await services.users.list_users(root, UserQuery(limit=5, after=page.next))
    assert [u.name for u in page.items] == [f"user{i:02d}" for i in range(4, 9)]
    page = await services.users.list_users(root, UserQuery(limit=5, after=page.next))
    assert [u.name for u in page.items] == ["user09", "user10", "user11"] and page.next is None
    ops = await services.users.list_users(root, UserQuery(role=Role.OPERATOR))
    assert len(ops.items) == 6
    night = await services.users.list_users(root, UserQuery(text="night"))
    assert [u.name for u in night.items] == ["user00", "user01", "user02"]
    assert (await services.users.list_users(root, UserQuery(text="%"))).items == ()


async def test_reset_password_unlocks_and_ends_sessions(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    await make_user("alice", "operator")
    before = await services.users.login("alice", "alice-password-1", source="x")
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await services.users.login("alice", "wrong password!!", source="x")
    with pytest.raises(LockedOut):
        await services.users.login("alice", "alice-password-1", source="x")
    root = await login("root")
    otp = await services.users.reset_password(root, "alice")
    assert otp is not None
    with pytest.raises(Unauthenticated):  # alice's old session ended
        await services.users.authenticate(before.token, source="x")
    session = await services.users.login("alice", otp, source="x")
    assert session.user.must_change_password


async def test_change_password_needs_the_old_one_and_ends_other_sessions(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    alice = await make_user("alice", "auditor")
    other = await services.users.login("alice", "alice-password-1", source="x")
    with pytest.raises(Unauthenticated):
        await services.users.change_password(alice, "alice", "not-the-password", "new-password-12")
    with pytest.raises(Forbidden):
        await services.users.change_password(alice, "root", "alice-password-1", "new-password-12")
    await services.users.change_password(alice, "alice", "alice-password-1", "new-password-12")
    with pytest.raises(Unauthenticated):
        await services.users.authenticate(other.token, source="x")
    page = await services.users.list_tokens(alice, TokenQuery())
    assert [t.id for t in page.items] == [alice.token_id]
    await login("alice", "new-password-12")


# -- credentials ---------------------------------------------------------------------------


async def test_api_tokens_never_exceed_their_owner(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    op = await make_user("op", "operator")
    with pytest.raises(RoleRequired):
        await services.users.create_token(op, NewToken(name="ci", role=Role.ADMIN))
    issued = await services.users.create_token(op, NewToken(name="ci"))
    assert issued.token.startswith("xea_") and issued.info.role == Role.OPERATOR
    ro = await services.users.create_token(op, NewToken(name="ro", role=Role.AUDITOR))
    as_ci = await services.users.authenticate(issued.token, source="x")
    as_ro = await services.users.authenticate(ro.token, source="x")
    assert (as_ci.kind, as_ci.role, as_ci.via) == ("api", Role.OPERATOR, "api:ci")
    assert as_ro.role == Role.AUDITOR
    with pytest.raises(Forbidden):  # a token cannot breed tokens
        await services.users.create_token(as_ci, NewToken(name="more"))
    root = await login("root")
    await services.users.update_user(root, "op", UserChanges(role=Role.AUDITOR))
    assert (await services.users.authenticate(issued.token, source="x")).role == Role.AUDITOR
    await services.users.update_user(root, "op", UserChanges(enabled=False))
    with pytest.raises(Unauthenticated):
        await services.users.authenticate(issued.token, source="x")


async def test_api_token_scopes_stay_inside_the_owner(
    services: Services, make_user: MakeUser
) -> None:
    op = await make_user("op", "operator", (ENCLAVE_A,))
    with pytest.raises(OutOfScope):
        await services.users.create_token(op, NewToken(name="t", scopes=(ENCLAVE_B,)))
    issued = await services.users.create_token(op, NewToken(name="t"))
    assert issued.info.scopes == (ENCLAVE_A,)
    assert (await services.users.authenticate(issued.token, source="x")).scopes == {ENCLAVE_A}


async def test_tokens_are_listed_and_revoked(
    services: Services, login: Login, make_user: MakeUser, clock: object
) -> None:
    op = await make_user("op", "operator")
    a = await services.users.create_token(op, NewToken(name="a", ttl_s=600))
    b = await services.users.create_token(op, NewToken(name="b"))
    mine = await services.users.list_tokens(op, TokenQuery(kind="api"))
    assert sorted(t.name for t in mine.items) == ["a", "b"]
    await services.users.revoke_token(op, a.info.id)
    with pytest.raises(Unauthenticated):
        await services.users.authenticate(a.token, source="x")
    root = await login("root")
    theirs = await services.users.list_tokens(root, TokenQuery(user="op", kind="api"))
    assert [t.name for t in theirs.items] == ["b"]
    every = await services.users.list_tokens(
        root, TokenQuery(user="op", kind="api", active_only=False)
    )
    assert sorted((t.name, t.active) for t in every.items) == [("a", False), ("b", True)]
    with pytest.raises(RoleRequired):
        await services.users.list_tokens(op, TokenQuery(user="root"))
    with pytest.raises(RoleRequired):
        await services.users.revoke_token(op, root.token_id or "")
    await services.users.revoke_token(root, b.info.id)
    with pytest.raises(NotFound):
        await services.users.revoke_token(root, "no-such-token")
    with pytest.raises(InvalidInput):
        await services.users.create_token(op, NewToken(name="c", ttl_s=10))


async def test_service_credential_mints_sessions_only_for_a_users_own_key(
    services: Services, login: Login, make_user: MakeUser, ssh_key: Callable[..., str]
) -> None:
    alice = await make_user("alice", "operator")
    bob = await make_user("bob", "auditor")
    alice_key, bob_key = ssh_key(), ssh_key("ecdsa")
    await services.users.add_ssh_key(alice, "alice", alice_key)
    await services.users.add_ssh_key(bob, "bob", bob_key)
    with pytest.raises(RoleRequired):  # only unscoped admins make service credentials
        await services.users.create_token(alice, NewToken(name="console", kind="service"))
    root = await login("root")
    issued = await services.users.create_token(root, NewToken(name="console", kind="service"))
    assert issued.token.startswith("xev_") and issued.info.user is None
    console = await services.users.authenticate(issued.token, source="127.0.0.1")
    assert (console.kind, console.role, console.name) == ("service", None, "service:console")

    session = await services.users.mint_session(console, "alice", alice_key, source="203.0.113.9")
    as_alice = await services.users.authenticate(session.token, source="x")
    assert (as_alice.name, as_alice.role, as_alice.kind) == ("alice", Role.OPERATOR, "session")
    with pytest.raises(Unauthenticated):  # bob's key does not open alice's account
        await services.users.mint_session(console, "alice", bob_key, source="x")
    with pytest.raises(Unauthenticated):
        await services.users.mint_session(console, "nobody", alice_key, source="x")
    with pytest.raises(RoleRequired):  # the service credential can do nothing else
        await services.users.list_users(console, UserQuery())
    with pytest.raises(RoleRequired):
        await services.users.create_user(console, NewUser(name="evil", role=Role.ADMIN))
    with pytest.raises(RoleRequired):  # and nobody else can mint
        await services.users.mint_session(root, "alice", alice_key, source="x")
    records = await _audit(services, action="auth.session_for")
    assert [r[3] for r in records] == [
        "ok",
        "refused:unauthenticated",
        "refused:unauthenticated",
        "refused:role_required",
    ]
    await services.users.revoke_token(root, issued.info.id)
    with pytest.raises(Unauthenticated):
        await services.users.authenticate(issued.token, source="x")


# -- SSH keys ------------------------------------------------------------------------------


async def test_ssh_keys_are_validated_unique_and_owned(
    services: Services, login: Login, make_user: MakeUser, ssh_key: Callable[..., str]
) -> None:
    alice = await make_user("alice", "operator")
    bob = await make_user("bob", "operator")
    line = ssh_key(comment="alice@laptop")
    key = await services.users.add_ssh_key(alice, "alice", line)
    assert key.algorithm == "ssh-ed25519" and key.fingerprint.startswith("SHA256:")
    assert key.comment == "alice@laptop" and "alice@laptop" not in key.public_key
    with pytest.raises(Conflict):  # one key, one user
        await services.users.add_ssh_key(bob, "bob", line)
    for bad in (
        "ssh-ed25519 AAAAnotbase64",
        "hello",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        ssh_key("rsa1024"),
    ):
        with pytest.raises(InvalidInput):
            await services.users.add_ssh_key(alice, "alice", bad)
    rsa = await services.users.add_ssh_key(alice, "alice", ssh_key("rsa2048"), comment="work")
    assert rsa.algorithm == "ssh-rsa" and rsa.comment == "work"
    with pytest.raises(RoleRequired):  # an operator cannot add keys to someone else
        await services.users.add_ssh_key(bob, "alice", ssh_key())
    root = await login("root")
    await services.users.add_ssh_key(root, "bob", ssh_key())
    keys = await services.users.list_ssh_keys(alice, "alice")
    assert {k.id for k in keys} == {key.id, rsa.id}
    await services.users.remove_ssh_key(alice, "alice", key.id)
    with pytest.raises(NotFound):
        await services.users.remove_ssh_key(alice, "alice", key.id)
    assert [k.id for k in await services.users.list_ssh_keys(root, "alice")] == [rsa.id]


# -- audit reading -------------------------------------------------------------------------


async def test_audit_reading_is_for_auditors_and_scoped(
    services: Services, login: Login, make_user: MakeUser
) -> None:
    root = await login("root")
    await services.users.create_user(
        root, NewUser(name="in_a", role=Role.OPERATOR, scopes=(ENCLAVE_A,))
    )
    await services.users.create_user(
        root, NewUser(name="in_b", role=Role.OPERATOR, scopes=(ENCLAVE_B,))
    )
    auditor_a = await make_user("aud_a", "auditor", (ENCLAVE_A,))
    seen = await services.audit.list(auditor_a, AuditQuery(action="user.create"))
    assert sorted(r.object for r in seen.items) == ["user:aud_a", "user:in_a"]
    with pytest.raises(RoleRequired):
        await services.audit.verify(auditor_a)
    auditor = await make_user("aud", "auditor")
    report = await services.audit.verify(auditor)
    assert report.ok and report.count >= 5
    all_creates = await services.audit.list(auditor, AuditQuery(action="user.create"))
    assert len(all_creates.items) == 4
