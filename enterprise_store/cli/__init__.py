"""``xenon xe …``: set up, serve and administer Xenon Enterprise.

Importing this module is cheap (argparse only): the store, the API and the client are
imported by the command that runs, so ``xenon --help`` never loads SQLAlchemy or FastAPI.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

__all__ = ["main", "register"]

_ROLES = ("admin", "operator", "auditor")


def _local_command(name: str) -> Any:
    def call(args: argparse.Namespace) -> int:
        module = importlib.import_module("enterprise_store.cli._local")
        return _guard(lambda: int(getattr(module, name)(args)), f"xe {name}")

    return call


def _remote_command(args: argparse.Namespace) -> int:
    module = importlib.import_module("enterprise_store.cli._remote")
    return _guard(lambda: int(module.run(args)), "xe " + args.xe_action.replace(".", " "))


def _guard(run: Any, what: str) -> int:
    import sys

    from enterprise_store.cli._config import CliError

    try:
        return int(run())
    except CliError as exc:
        print(f"xenon {what}: {exc}", file=sys.stderr)
        return 2


def _client_flags(p: argparse.ArgumentParser, action: str) -> None:
    p.add_argument("--state-dir", type=Path, help="XE state directory ($XENON_XE_STATE_DIR)")
    p.add_argument("--url", help="XE API URL, e.g. https://xe:8443 ($XENON_XE_URL)")
    p.add_argument("--token-file", type=Path, help="bearer token file (default STATE/xe-token)")
    p.add_argument("--ca", type=Path, help="CA bundle of the server (default STATE/pki)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_remote_command, xe_action=action)


def _add(sub: Any, name: str, action: str, help_text: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    _client_flags(p, action)
    return p


def _users(sub: Any) -> None:
    users = sub.add_parser("user", help="users, roles, scopes, passwords, SSH keys")
    us = users.add_subparsers(dest="xe_user", metavar="ACTION", required=True)
    p = _add(us, "list", "user.list", "list users")
    p.add_argument("--role", choices=_ROLES)
    p.add_argument("--q", help="text in the name or display name")
    p = _add(us, "show", "user.show", "show one user")
    p.add_argument("name")
    p = _add(us, "create", "user.create", "create a user (prints a one-time password)")
    p.add_argument("name")
    p.add_argument("--role", choices=_ROLES, required=True)
    p.add_argument(
        "--scope",
        action="append",
        metavar="ENCLAVE_UUID",
        help="limit to an enclave (repeat); default: every enclave",
    )
    p.add_argument("--display-name")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read the password")
    group.add_argument("--no-password", action="store_true", help="SSH keys only")
    p = _add(us, "update", "user.update", "change role, scopes, display name, enabled")
    p.add_argument("name")
    p.add_argument("--role", choices=_ROLES)
    p.add_argument("--scope", action="append", metavar="ENCLAVE_UUID")
    p.add_argument("--all-enclaves", action="store_true", help="remove the scope")
    p.add_argument("--display-name")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--enable", action="store_true")
    group.add_argument("--disable", action="store_true")
    p = _add(us, "delete", "user.delete", "delete a user")
    p.add_argument("name")
    p = _add(us, "passwd", "user.passwd", "change your password")
    p.add_argument("name", nargs="?", help="your user name (default: whoami)")
    p.add_argument("--password-stdin", action="store_true", help="old then new, one per line")
    p = _add(us, "reset-password", "user.reset-password", "(admin) reset a password")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="else a one-time password")
    keys = us.add_parser("key", help="SSH public keys")
    ks = keys.add_subparsers(dest="xe_key", metavar="ACTION", required=True)
    p = _add(ks, "add", "user.key.add", "add an SSH public key")
    p.add_argument("name")
    p.add_argument("file", help="public key file, or - for standard input")
    p.add_argument("--comment")
    p = _add(ks, "list", "user.key.list", "list a user's SSH keys")
    p.add_argument("name")
    p = _add(ks, "remove", "user.key.remove", "remove an SSH key")
    p.add_argument("name")
    p.add_argument("key_id")


def _tokens(sub: Any) -> None:
    tokens = sub.add_parser("token", help="API tokens and service credentials")
    ts = tokens.add_subparsers(dest="xe_token", metavar="ACTION", required=True)
    p = _add(ts, "list", "token.list", "list credentials (yours by default)")
    p.add_argument("--user", help="another user's (admin)")
    p.add_argument("--all", action="store_true", help="everyone's (unscoped admin)")
    p.add_argument("--kind", choices=("session", "api", "service"))
    p.add_argument("--inactive", action="store_true", help="include revoked and expired")
    p = _add(ts, "create", "token.create", "create an API token (printed once)")
    p.add_argument("name")
    p.add_argument("--role", choices=_ROLES, help="ceiling (default: yours)")
    p.add_argument("--scope", action="append", metavar="ENCLAVE_UUID")
    p.add_argument("--ttl", type=int, metavar="SECONDS", help="lifetime (default 90 days)")
    p.add_argument(
        "--service",
        action="store_true",
        help="a service credential for the console's SSH server (admin)",
    )
    p = _add(ts, "revoke", "token.revoke", "revoke a credential")
    p.add_argument("token_id")


def _audit(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the hash-chained audit log")
    aus = audit.add_subparsers(dest="xe_audit", metavar="ACTION", required=True)
    p = _add(aus, "verify", "audit.verify", "verify the chain; print its fingerprint")
    p.add_argument("--expect", metavar="FINGERPRINT", help="an earlier oldest|newest")
    p = _add(aus, "list", "audit.list", "list records, newest first")
    for flag in ("--actor", "--action", "--object", "--result", "--since", "--until"):
        p.add_argument(flag)
    p.add_argument("--limit", type=int, default=50)


def register(subparsers: Any) -> None:
    """Adds ``xe`` and its commands to the ``xenon`` parser."""
    xe = subparsers.add_parser("xe", help="Xenon Enterprise: store, users, REST API")
    sub = xe.add_subparsers(dest="xe_command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "init",
        help="create the state directory, database and first admin",
        description="Creates STATE (0700), the database (SQLite STATE/xe.db unless --db), "
        "the first admin WITHOUT a default password (a one-time password is printed, or "
        "read from stdin with --password-stdin) and the TLS material in STATE/pki.",
    )
    p.add_argument("--state-dir", type=Path, help="($XENON_XE_STATE_DIR)")
    p.add_argument("--db", help="database URL (sqlite:///FILE or postgresql://…)")
    p.add_argument("--admin", default="admin", help="first admin's user name (default admin)")
    p.add_argument("--password-stdin", action="store_true", help="read the admin's password")
    p.add_argument("--ca-dir", type=Path, help="an existing `xenon pki` CA to issue from")
    p.add_argument("--san", action="append", help="server certificate name (repeat)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_local_command("init"))

    p = sub.add_parser(
        "serve",
        help="run the XE REST API (HTTPS, TLS 1.3)",
        description="Serves the API on --listen until SIGINT/SIGTERM; writes "
        "STATE/xe-server.json with its URL once listening.",
    )
    p.add_argument("--state-dir", type=Path, help="($XENON_XE_STATE_DIR)")
    p.add_argument("--db", help="database URL (default: what init recorded)")
    p.add_argument("--listen", required=True, help="HOST:PORT (port 0: any free port)")
    p.add_argument("--cert", type=Path, help="server certificate (default STATE/pki)")
    p.add_argument("--key", type=Path, help="server key (default STATE/pki)")
    p.add_argument("--pgbouncer", action="store_true", help="PostgreSQL behind PgBouncer")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="log lines on stderr: text, or json (one JSON object per line: ts, level, "
        "logger, message) for a log collector (default text)",
    )
    p.add_argument("--log-json", action="store_true", help="same as --log-format json")
    p.add_argument("--no-access-log", action="store_true")
    p.add_argument("--quiet", action="store_true", help="warnings and errors only")
    p.set_defaults(func=_local_command("serve"))

    p = _add(sub, "login", "login", "log in; the token goes to STATE/xe-token (0600)")
    p.add_argument("--user", required=True)
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("--print-token", action="store_true", help="print it instead")
    _add(sub, "logout", "logout", "revoke the token and remove the token file")
    _add(sub, "whoami", "whoami", "who the token belongs to")
    _users(sub)
    _tokens(sub)
    _audit(sub)
    from enterprise_store.cli import _policy  # argparse only, like this module

    _policy.register(sub, _add)
    from enterprise_store.cli import _compute  # argparse only, like this module

    _compute.register(sub, _add)
    from enterprise_store.cli import _history  # argparse only, like this module

    _history.register(sub, _add)


def main(argv: list[str] | None = None) -> int:
    """``python -m enterprise_store.cli …`` is ``xenon xe …`` on its own."""
    import sys

    from xps.warning_routing import route_warnings

    route_warnings()
    parser = argparse.ArgumentParser(prog="xenon")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["xe", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
