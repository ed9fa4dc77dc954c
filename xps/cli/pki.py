"""``xenon pki``: a local CA, certificates, PKCS#12 containers and the authorization store.

These replace the openssl/keytool steps of the report (§3.1.4 - §3.1.7).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Literal

from xps.cli._secrets import SecretError, read_secret
from xps.pki import (
    LEAF_MAX_DAYS,
    AuthStore,
    PkiError,
    export_pkcs12,
    init_ca,
    issue,
)

DEFAULT_DIR = Path(os.environ.get("XENON_PKI_DIR", "xenon-pki"))


def _print(args: argparse.Namespace, text: str, doc: dict[str, Any]) -> None:
    print(json.dumps(doc, indent=2) if getattr(args, "json", False) else text)


def _init(args: argparse.Namespace) -> int:
    files = init_ca(
        args.dir, common_name=args.cn, key_type=args.key_type, days=args.days, force=args.force
    )
    _print(
        args,
        f"CA created: {files.cert} (key {files.key}, mode 0600)",
        {"ca_cert": str(files.cert), "ca_key": str(files.key)},
    )
    return 0


def _issue(args: argparse.Namespace) -> int:
    role: Literal["server", "client"] = "server" if args.server else "client"
    files = issue(
        args.dir,
        args.name,
        role,
        sans=args.san or None,
        key_type=args.key_type,
        days=args.days,
        out_dir=args.out,
        read_only=args.read_only,
        allow_long_validity=args.allow_long_validity,
    )
    role_text = "read-only client" if args.read_only else role
    _print(
        args,
        f"{role_text} certificate issued: {files.cert} (key {files.key}, mode 0600)",
        {
            "cert": str(files.cert),
            "key": str(files.key),
            "ca_cert": str(files.ca_cert),
            "read_only": bool(args.read_only),
        },
    )
    return 0


def _pkcs12(args: argparse.Namespace) -> int:
    password = read_secret(
        value=None,
        file=args.password_file,
        env="XENON_PKCS12_PASS",
        prompt="PKCS#12 password: ",
        required=True,
    )
    out = args.out or args.dir / f"{args.name}.p12"
    export_pkcs12(
        args.dir / f"{args.name}-key.pem",
        args.dir / f"{args.name}-cert.pem",
        out,
        password or "",
        ca_cert_path=args.dir / "ca-cert.pem",
        friendly_name=args.name,
    )
    _print(args, f"PKCS#12 container written: {out} (mode 0600)", {"pkcs12": str(out)})
    return 0


def _store(args: argparse.Namespace) -> AuthStore:
    password = read_secret(
        value=None,
        file=args.pass_file,
        env="XENON_AUTHSTORE_PASS",
        prompt="authorization store password: ",
        required=False,
    )
    return AuthStore.open(args.store, password)


def _authstore(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.action == "add":
        try:
            pem = args.cert.read_bytes()
        except OSError as exc:
            raise PkiError(f"cannot read {args.cert}: {exc.strerror}") from exc
        entry = store.add(args.alias, pem)
        _print(args, f"added {entry.alias}: {entry.identity.subject}", entry.to_dict())
    elif args.action == "remove":
        entry = store.remove(args.alias)
        _print(args, f"removed {entry.alias}", entry.to_dict())
    else:
        entries = [e.to_dict() for e in store.entries()]
        text = "\n".join(
            f"{e['alias']}\t{e['subject']}\tSHA-256 {e['fingerprint']}\tuntil {e['not_after']}"
            for e in entries
        )
        _print(args, text or "(empty)", {"authorizations": entries})
    return 0


def _run(func: Any) -> Any:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except (PkiError, SecretError) as exc:
            print(f"xenon pki: {exc.code}: {exc}", file=sys.stderr)
            return 1

    return wrapped


def register(subparsers: Any) -> None:
    """Adds ``pki`` and its sub-commands to the ``xenon`` parser."""
    pki = subparsers.add_parser("pki", help="local CA, certificates, PKCS#12, authorization store")
    sub = pki.add_subparsers(dest="pki_command", metavar="ACTION")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--dir", type=Path, default=DEFAULT_DIR, help="CA directory (default %(default)s)"
        )
        p.add_argument("--json", action="store_true", help="print JSON")

    def key_opts(p: argparse.ArgumentParser, days: int) -> None:
        p.add_argument("--key-type", choices=("p256", "rsa3072"), default="p256")
        p.add_argument("--days", type=int, default=days)

    p = sub.add_parser("init", help="create a local CA (ca-key.pem, ca-cert.pem)")
    common(p)
    key_opts(p, 3650)
    p.add_argument("--cn", default="Xenon Local CA", help="CA common name")
    p.add_argument("--force", action="store_true", help="replace an existing CA")
    p.set_defaults(func=_run(_init))

    p = sub.add_parser("issue", help="issue a server or client certificate")
    common(p)
    key_opts(p, LEAF_MAX_DAYS)
    p.add_argument(
        "--allow-long-validity",
        action="store_true",
        help=f"allow --days above {LEAF_MAX_DAYS} (the CA/Browser Forum limit for TLS)",
    )
    p.add_argument("name", help="subject CN and file stem")
    role = p.add_mutually_exclusive_group(required=True)
    role.add_argument("--server", action="store_true", help="TLS server certificate")
    role.add_argument("--client", action="store_true", help="TLS client certificate")
    p.add_argument("--san", action="append", metavar="HOST|IP", help="subjectAltName (repeatable)")
    p.add_argument("--out", type=Path, help="output directory (default the CA directory)")
    p.add_argument(
        "--read-only",
        action="store_true",
        help="mark a client certificate read-only: daemons refuse it on the read-write socket",
    )
    p.set_defaults(func=_run(_issue))

    p = sub.add_parser("pkcs12", help="export NAME's key and certificate as PKCS#12")
    common(p)
    p.add_argument("name")
    p.add_argument("--out", type=Path, help="output file (default DIR/NAME.p12)")
    p.add_argument(
        "--password-file", type=Path, help="file holding the password (else $XENON_PKCS12_PASS)"
    )
    p.set_defaults(func=_run(_pkcs12))

    p = sub.add_parser("authstore", help="add, remove or list authorized client certificates")
    store_sub = p.add_subparsers(dest="action", metavar="ACTION")
    store_sub.required = True
    for action, help_text in (
        ("add", "authorize a client certificate"),
        ("remove", "remove an authorization"),
        ("list", "list authorizations"),
    ):
        q = store_sub.add_parser(action, help=help_text)
        q.add_argument("--store", type=Path, required=True, help="authorization store file")
        q.add_argument(
            "--pass-file",
            type=Path,
            help="file with the store password (else $XENON_AUTHSTORE_PASS; none = no MAC)",
        )
        q.add_argument("--json", action="store_true", help="print JSON")
        if action in ("add", "remove"):
            q.add_argument("alias")
        if action == "add":
            q.add_argument("cert", type=Path, help="client certificate (PEM)")
        q.set_defaults(func=_run(_authstore))


def main(argv: list[str] | None = None) -> int:
    """Runs ``xenon pki …`` on its own (``python -m xps.cli.pki …``)."""
    parser = argparse.ArgumentParser(prog="xenon")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["pki", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
