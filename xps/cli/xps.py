"""``xenon xps``: run the policy server (``serve``) or send it one request (``call``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from xps.cli._secrets import SecretError, read_secret
from xps.client import XpsClient, XpsError
from xps.pki import PkiError
from xps.server import ConfigError, ServerError, load_config, parse_address, parse_define

#: Flag destination -> property name; an explicit flag wins over -D and the file.
_FLAG_PROPERTIES = {
    "state_dir": "xps.state-dir",
    "listen": "xps.listen",
    "ro_listen": "xps.ro-listen",
    "backend": "xps.backend",
    "authstore_file": "xps.authstore.file",
    "ca": "xps.tls.ca",
    "cert": "xps.tls.cert",
    "key": "xps.tls.key",
    "keystore": "xps.tls.keystore",
    "local_addresses": "xps.local-addresses",
    "log_file": "xps.log.file",
}


def _serve(args: argparse.Namespace) -> int:
    try:
        defines = dict(parse_define(item) for item in args.defines or [])
        flags = {
            prop: str(getattr(args, dest))
            for dest, prop in _FLAG_PROPERTIES.items()
            if getattr(args, dest) is not None
        }
        authstore_pass = read_secret(
            value=args.authstore_pass,
            file=args.authstore_pass_file,
            env="XENON_AUTHSTORE_PASS",
            prompt="",
            required=False,
        )
        if authstore_pass:
            flags["xps.authstore.pass"] = authstore_pass
        keystore_pass = read_secret(
            value=None,
            file=args.keystore_pass_file,
            env="XENON_KEYSTORE_PASS",
            prompt="",
            required=False,
        )
        if keystore_pass:
            flags["xps.tls.keystore.pass"] = keystore_pass
        if args.quiet:
            flags["xps.log.stderr"] = "false"
        config = load_config(args.properties_file, defines, flags)
    except (ConfigError, SecretError) as exc:
        print(f"xenon xps serve: {exc.code}: {exc}", file=sys.stderr)
        return 2
    from xps.server import run_daemon

    try:
        asyncio.run(run_daemon(config))
    except (ServerError, PkiError) as exc:
        print(f"xenon xps serve: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:
        code = getattr(exc, "code", None)
        if isinstance(code, str):  # HostError from opening the host
            print(f"xenon xps serve: {code}: {exc}", file=sys.stderr)
            return 1
        raise
    return 0


async def _call_async(args: argparse.Namespace, address: tuple[str, int], params: Any) -> Any:
    keystore_pass = read_secret(
        value=None,
        file=args.keystore_pass_file,
        env="XENON_KEYSTORE_PASS",
        prompt="keystore password: ",
        required=args.keystore is not None,
    )
    client = XpsClient(
        address[0],
        address[1],
        ca=args.ca,
        cert=args.cert,
        key=args.key,
        keystore=args.keystore,
        keystore_pass=keystore_pass,
        timeout=args.timeout,
        server_hostname=args.server_name,
    )
    async with client:
        return await client.call(args.method, **params)


def _call(args: argparse.Namespace) -> int:
    try:
        address = parse_address(args.address, "HOST:PORT")
        if address is None:
            raise ConfigError("HOST:PORT is required")
        params = json.loads(args.params) if args.params else {}
        if not isinstance(params, dict):
            raise ConfigError("JSON-PARAMS must be a JSON object")
    except json.JSONDecodeError as exc:
        print(f"xenon xps call: invalid JSON-PARAMS: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"xenon xps call: {exc}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(_call_async(args, address, params))
    except (XpsError, SecretError) as exc:
        print(f"xenon xps call: {exc.code}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _tls_flags(p: argparse.ArgumentParser, *, required_ca: bool) -> None:
    p.add_argument("--ca", type=Path, required=required_ca, help="trust store (PEM CA bundle)")
    p.add_argument("--cert", type=Path, help="certificate (PEM)")
    p.add_argument("--key", type=Path, help="private key (PEM)")
    p.add_argument("--keystore", type=Path, help="PKCS#12 keystore instead of --cert/--key")
    p.add_argument(
        "--keystore-pass-file", type=Path, help="keystore password file (else $XENON_KEYSTORE_PASS)"
    )


def register(subparsers: Any) -> None:
    """Adds ``xps serve`` and ``xps call`` to the ``xenon`` parser."""
    xps = subparsers.add_parser("xps", help="the Xenon policy server (XPS)")
    sub = xps.add_subparsers(dest="xps_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser(
        "serve",
        help="run the policy server (alias: xenon-policy-server)",
        description="Precedence: explicit flags > -D values > the properties file > defaults.",
    )
    p.add_argument("--properties-file", type=Path, help="default /etc/xenon-tools/...")
    p.add_argument(
        "-D", dest="defines", action="append", metavar="KEY=VALUE", help="set a property"
    )
    p.add_argument("--state-dir", help="state directory (policy, logs, ports file)")
    p.add_argument("--listen", help="read-write socket HOST:PORT (port 0: any; 'none': off)")
    p.add_argument("--ro-listen", help="read-only socket HOST:PORT (port 0: any; 'none': off)")
    p.add_argument("--backend", choices=("sim", "xen"))
    p.add_argument("--authstore-file", help="authorization store of remote client certificates")
    p.add_argument(
        "--authstore-pass",
        help="store password: enables remote changes (prefer --authstore-pass-file)",
    )
    p.add_argument("--authstore-pass-file", type=Path, help="file holding the store password")
    p.add_argument(
        "--local-addresses", help="'loopback' (default) or a comma list of local client IPs"
    )
    p.add_argument("--log-file", help="default <state-dir>/xenon-policy-server.log")
    p.add_argument("--quiet", action="store_true", help="do not log to stderr")
    _tls_flags(p, required_ca=False)
    p.set_defaults(func=_serve)

    p = sub.add_parser("call", help="send one request and print the JSON result")
    p.add_argument("address", metavar="HOST:PORT")
    p.add_argument("method", metavar="METHOD", help="e.g. GetHypervisorInfo")
    p.add_argument("params", metavar="JSON-PARAMS", nargs="?", help="e.g. '{\"limit\": 10}'")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--server-name", help="name to verify in the server certificate")
    _tls_flags(p, required_ca=True)
    p.set_defaults(func=_call)


def main(argv: list[str] | None = None) -> int:
    """Runs ``xenon xps …`` on its own (``python -m xps.cli.xps …``)."""
    parser = argparse.ArgumentParser(prog="xenon")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["xps", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
