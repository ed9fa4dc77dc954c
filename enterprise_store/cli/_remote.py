"""``xenon xe`` commands that talk to a running service through the REST client."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from enterprise_store.cli._config import (
    CliError,
    Remote,
    read_line_stdin,
    resolve_remote,
    state_dir_of,
)

__all__ = ["COMMANDS", "run"]

Handler = Callable[[Any, argparse.Namespace], Awaitable[int]]


def _remote(args: argparse.Namespace) -> Remote:
    return resolve_remote(
        state_dir=state_dir_of(args.state_dir, required=False),
        url=args.url,
        token_file=args.token_file,
        ca=args.ca,
    )


def _dump(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in value]
    return json.dumps(value, indent=2, sort_keys=True)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _secret(args: argparse.Namespace, prompt: str, what: str) -> str:
    if getattr(args, "password_stdin", False):
        return read_line_stdin(what)
    if not sys.stdin.isatty():
        raise CliError(f"{what}: no terminal to ask on; use --password-stdin")
    return getpass.getpass(prompt)


def _scopes(args: argparse.Namespace) -> list[str] | None:
    return list(args.scope) if getattr(args, "scope", None) else None


# -- session -------------------------------------------------------------------------------


async def _login(xe: Any, args: argparse.Namespace) -> int:
    password = _secret(args, f"password for {args.user}: ", "password")
    session = await xe.login(args.user, password)
    remote = _remote(args)
    if args.print_token or remote.token_file is None:
        print(session.token)
    else:
        from xps.files import write_atomic

        write_atomic(remote.token_file, (session.token + "\n").encode(), mode=0o600)
        print(
            f"logged in as {session.user.name} until {session.expires_at:%Y-%m-%d %H:%M:%S %Z}; "
            f"token in {remote.token_file}"
        )
    if session.user.must_change_password:
        print("your password is a one-time password: change it with `xenon xe user passwd`")
    return 0


async def _logout(xe: Any, args: argparse.Namespace) -> int:
    await xe.logout()
    remote = _remote(args)
    if remote.token_file is not None:
        with contextlib.suppress(FileNotFoundError):
            remote.token_file.unlink()
    print("logged out")
    return 0


async def _whoami(xe: Any, args: argparse.Namespace) -> int:
    user = await xe.whoami()
    print(_dump(user) if args.json else f"{user.name} ({user.role})")
    return 0


# -- users ---------------------------------------------------------------------------------


def _user_row(user: Any) -> list[str]:
    scopes = "all" if user.scopes is None else ",".join(s[:8] for s in user.scopes)
    state = "enabled" if user.enabled else "disabled"
    return [user.name, user.role, scopes, state, user.display_name]


async def _user_list(xe: Any, args: argparse.Namespace) -> int:
    users = [u async for u in xe.iter_users(role=args.role, q=args.q)]
    if args.json:
        print(_dump(users))
    else:
        print(_table([_user_row(u) for u in users], ["NAME", "ROLE", "SCOPES", "STATE", "DISPLAY"]))
    return 0


async def _user_show(xe: Any, args: argparse.Namespace) -> int:
    user = await xe.get_user(args.name)
    print(_dump(user))
    return 0


async def _user_create(xe: Any, args: argparse.Namespace) -> int:
    password = read_line_stdin("--password-stdin") if args.password_stdin else None
    created = await xe.create_user(
        args.name,
        args.role,
        display_name=args.display_name or "",
        scopes=_scopes(args),
        password=password,
        generate_password=password is None and not args.no_password,
    )
    if args.json:
        print(_dump(created))
        return 0
    print(f"user {created.user.name} created ({created.user.role})")
    if created.one_time_password:
        print(f"one-time password (shown once): {created.one_time_password}")
    return 0


async def _user_update(xe: Any, args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.role:
        changes["role"] = args.role
    if args.display_name is not None:
        changes["display_name"] = args.display_name
    if args.enable or args.disable:
        changes["enabled"] = bool(args.enable)
    if args.all_enclaves:
        changes["scopes"] = None
    elif args.scope:
        changes["scopes"] = list(args.scope)
    if not changes:
        raise CliError("nothing to change: give --role, --scope, --all-enclaves, --enable, …")
    user = await xe.update_user(args.name, **changes)
    print(_dump(user) if args.json else f"user {user.name} updated")
    return 0


async def _user_delete(xe: Any, args: argparse.Namespace) -> int:
    await xe.delete_user(args.name)
    print(f"user {args.name} deleted")
    return 0


async def _user_passwd(xe: Any, args: argparse.Namespace) -> int:
    name = args.name or (await xe.whoami()).name
    if args.password_stdin:
        old, new = read_line_stdin("old password"), read_line_stdin("new password")
    else:
        old = _secret(args, "current password: ", "password")
        new = _secret(args, "new password: ", "password")
        if _secret(args, "new password again: ", "password") != new:
            raise CliError("the new passwords differ")
    await xe.change_password(name, old, new)
    print("password changed; your other sessions ended")
    return 0


async def _user_reset(xe: Any, args: argparse.Namespace) -> int:
    password = read_line_stdin("--password-stdin") if args.password_stdin else None
    otp = await xe.reset_password(args.name, password)
    print(f"password of {args.name} reset" + (f"; one-time password: {otp}" if otp else ""))
    return 0


async def _key_add(xe: Any, args: argparse.Namespace) -> int:
    from xps.files import read_bounded

    text = (
        sys.stdin.read(65536)
        if args.file == "-"
        else read_bounded(Path(args.file), 65536, CliError).decode("utf-8", "replace")
    )
    key = await xe.add_ssh_key(args.name, text, args.comment)
    print(_dump(key) if args.json else f"key {key.fingerprint} added to {key.user} (id {key.id})")
    return 0


async def _key_list(xe: Any, args: argparse.Namespace) -> int:
    keys = await xe.list_ssh_keys(args.name)
    if args.json:
        print(_dump(keys))
    else:
        print(
            _table(
                [[k.id, k.algorithm, k.fingerprint, k.comment] for k in keys],
                ["ID", "ALGORITHM", "FINGERPRINT", "COMMENT"],
            )
        )
    return 0


async def _key_remove(xe: Any, args: argparse.Namespace) -> int:
    await xe.remove_ssh_key(args.name, args.key_id)
    print(f"key {args.key_id} removed")
    return 0


# -- tokens --------------------------------------------------------------------------------


async def _token_list(xe: Any, args: argparse.Namespace) -> int:
    page = await xe.list_tokens(
        user="*" if args.all else args.user, kind=args.kind, active=not args.inactive
    )
    if args.json:
        print(_dump(page.items))
        return 0
    rows = [
        [
            t.id,
            t.kind,
            t.name,
            t.user or "-",
            t.role or "-",
            "-" if t.expires_at is None else f"{t.expires_at:%Y-%m-%d %H:%M}",
            "active" if t.active else "inactive",
        ]
        for t in page.items
    ]
    print(_table(rows, ["ID", "KIND", "NAME", "USER", "ROLE", "EXPIRES", "STATE"]))
    return 0


async def _token_create(xe: Any, args: argparse.Namespace) -> int:
    created = await xe.create_token(
        args.name,
        kind="service" if args.service else "api",
        role=args.role,
        scopes=_scopes(args),
        ttl_s=args.ttl,
    )
    if args.json:
        print(_dump(created))
    else:
        print(created.token)
        print(f"({created.info.kind} credential {created.info.id}; shown once)", file=sys.stderr)
    return 0


async def _token_revoke(xe: Any, args: argparse.Namespace) -> int:
    await xe.revoke_token(args.token_id)
    print(f"credential {args.token_id} revoked")
    return 0


# -- audit ---------------------------------------------------------------------------------


async def _audit_verify(xe: Any, args: argparse.Namespace) -> int:
    report = await xe.verify_audit(args.expect)
    if args.json:
        print(_dump(report))
    else:
        state = "ok" if report.ok else "FAILED"
        print(f"audit chain {state}: {report.count} records")
        for problem in report.problems:
            print(f"  record {problem.seq}: {problem.code}: {problem.message}")
        print(f"fingerprint: {report.fingerprint}")
    return 0 if report.ok else 1


async def _audit_list(xe: Any, args: argparse.Namespace) -> int:
    page = await xe.list_audit(
        actor=args.actor,
        action=args.action,
        object=args.object,
        result=args.result,
        since=args.since,
        until=args.until,
        limit=args.limit,
    )
    if args.json:
        print(_dump(page.items))
        return 0
    rows = [
        [str(r.seq), f"{r.ts:%Y-%m-%d %H:%M:%S}", r.actor, r.source, r.action, r.object, r.result]
        for r in page.items
    ]
    print(_table(rows, ["SEQ", "TIME (UTC)", "ACTOR", "SOURCE", "ACTION", "OBJECT", "RESULT"]))
    return 0


COMMANDS: dict[str, Handler] = {
    "login": _login,
    "logout": _logout,
    "whoami": _whoami,
    "user.list": _user_list,
    "user.show": _user_show,
    "user.create": _user_create,
    "user.update": _user_update,
    "user.delete": _user_delete,
    "user.passwd": _user_passwd,
    "user.reset-password": _user_reset,
    "user.key.add": _key_add,
    "user.key.list": _key_list,
    "user.key.remove": _key_remove,
    "token.list": _token_list,
    "token.create": _token_create,
    "token.revoke": _token_revoke,
    "audit.verify": _audit_verify,
    "audit.list": _audit_list,
}


def run(args: argparse.Namespace) -> int:
    """Runs the client command ``args.xe_action`` against the service."""
    from enterprise_store._errors import XeError
    from enterprise_store.client import XeClient

    handler = COMMANDS[args.xe_action]
    remote = _remote(args)

    async def main() -> int:
        token = None if args.xe_action == "login" else remote.token
        async with XeClient(remote.url, token=token, ca=remote.ca, timeout=args.timeout) as xe:
            return await handler(xe, args)

    try:
        return asyncio.run(main())
    except XeError as exc:
        print(
            f"xenon xe {args.xe_action.replace('.', ' ')}: {exc.code}: {exc.message}",
            file=sys.stderr,
        )
        return 1
