"""``xenon xe init`` and ``xenon xe serve``: the commands that open the store themselves."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

from enterprise_store.cli._config import (
    CONFIG,
    PKI,
    SERVER,
    CliError,
    read_json,
    read_line_stdin,
    state_dir_of,
    write_json,
)

__all__ = ["init", "serve"]

LOG = logging.getLogger("xenon.xe")


def _db_url(state: Path, given: str | None) -> str:
    """The database URL: ``--db``, else the one ``init`` recorded, else ``STATE/xe.db``."""
    if given:
        return given
    if (state / CONFIG).exists():
        url = read_json(state / CONFIG).get("db_url")
        if isinstance(url, str) and url:
            return url
    return f"sqlite:///{(state / 'xe.db').resolve()}"


def _make_pki(state: Path, ca_dir: Path | None, sans: list[str] | None) -> dict[str, str]:
    """The API's server certificate and XE's client certificate (for its XPS hosts)."""
    import shutil

    from xps.pki import CA_CERT, init_ca, issue

    pki = state / PKI
    pki.mkdir(mode=0o700, exist_ok=True)
    made: dict[str, str] = {}
    if ca_dir is None:
        ca_dir = pki
        if not (pki / CA_CERT).exists():
            init_ca(pki, common_name="Xenon Enterprise CA")
            made["ca"] = str(pki / CA_CERT)
    elif (ca_dir / CA_CERT).resolve() != (pki / CA_CERT).resolve():
        shutil.copyfile(ca_dir / CA_CERT, pki / CA_CERT)
    if not (pki / "xe-server-cert.pem").exists():
        names = sans or [socket.gethostname(), "localhost", "127.0.0.1", "::1"]
        issue(ca_dir, "xe-server", "server", sans=names, out_dir=pki)
        made["server_cert"] = str(pki / "xe-server-cert.pem")
    if not (pki / "xe-client-cert.pem").exists():
        issue(ca_dir, "xe-client", "client", out_dir=pki)
        made["client_cert"] = str(pki / "xe-client-cert.pem")
    return made


def init(args: argparse.Namespace) -> int:
    """Creates the state directory, the database and the first admin (no default password)."""
    from enterprise_store._errors import XeError
    from enterprise_store.services import Services
    from enterprise_store.store import describe, normalize_url
    from xps.pki import PkiError

    state = state_dir_of(args.state_dir)
    assert state is not None
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    url = _db_url(state, args.db)
    password = None
    if args.password_stdin:
        password = read_line_stdin("--password-stdin")

    async def run() -> Any:
        services = await Services.open(url)
        try:
            return await services.users.bootstrap_admin(args.admin, password, source="cli")
        finally:
            await services.close()

    try:
        shown = describe(normalize_url(url))
        created = asyncio.run(run())
        write_json(state / CONFIG, {"db_url": url})
        made = _make_pki(state, args.ca_dir, args.san)
    except XeError as exc:
        print(f"xenon xe init: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except PkiError as exc:
        print(f"xenon xe init: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    result: dict[str, Any] = {
        "state_dir": str(state),
        "database": shown,
        "admin": created.user.name,
        "one_time_password": created.one_time_password,
        "pki": made,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"XE initialised in {state} (database {shown})")
    print(f"first admin: {created.user.name}")
    if created.one_time_password:
        print(
            f"one-time password (shown once, must be changed at first login): "
            f"{created.one_time_password}"
        )
    for what, path in made.items():
        print(f"{what.replace('_', ' ')}: {path}")
    return 0


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise CliError(f"--listen wants HOST:PORT, not {value!r}")
    return host, int(port)


def serve(args: argparse.Namespace) -> int:
    """Runs the XE API (HTTPS, TLS 1.3) until SIGINT/SIGTERM."""
    import ssl

    from enterprise_store._errors import XeError
    from enterprise_store.api import bind, server_tls_context
    from enterprise_store.api import serve as serve_api
    from enterprise_store.services import Services
    from enterprise_store.services._compute_types import ComputeConfig
    from enterprise_store.store import StoreConfig, describe, normalize_url

    state = state_dir_of(args.state_dir)
    assert state is not None
    if not state.is_dir():
        raise CliError(f"{state} is not a state directory: run xenon xe init first")
    url = _db_url(state, args.db)
    host, port = _listen(args.listen)
    cert = args.cert or state / PKI / "xe-server-cert.pem"
    key = args.key or state / PKI / "xe-server-key.pem"
    try:
        tls = server_tls_context(cert, key)
    except (OSError, ssl.SSLError) as exc:
        print(f"xenon xe serve: tls: cannot load {cert} / {key}: {exc}", file=sys.stderr)
        return 1
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"xenon xe serve: cannot listen on {args.listen}: {exc.strerror}", file=sys.stderr)
        return 1
    from enterprise_store._logging import configure

    configure("json" if args.log_json else (args.log_format or "text"), quiet=args.quiet)
    config = StoreConfig(url=url, pgbouncer=args.pgbouncer)
    LOG.info("XE store: %s", describe(normalize_url(url)))
    # XE's identity towards its hosts (STATE/pki) and this server's node id (STATE/xe-node-id):
    # the propagation and task workers run in this process.
    compute = ComputeConfig.from_state_dir(state)
    if compute.identity is None:
        LOG.warning("no XE client certificate in %s: hosts cannot be reached", state / PKI)

    def started(api_url: str) -> None:
        write_json(state / SERVER, {"url": api_url, "pid": os.getpid()}, mode=0o644)

    try:
        asyncio.run(
            serve_api(
                lambda: Services.open(config, compute=compute, start_workers=True),
                sock=sock,
                tls=tls,
                on_started=started,
                access_log=not args.no_access_log,
            )
        )
    except XeError as exc:
        print(f"xenon xe serve: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        sock.close()
        with contextlib.suppress(OSError):
            (state / SERVER).unlink()
    return 0
