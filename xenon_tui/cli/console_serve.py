"""``xenon console serve``: the console over SSH (its flags, the server it builds, its run).

Registered by :mod:`xenon_tui.cli.console` (``xenon console serve`` is routed there);
``python -m xenon_tui.ssh`` runs the same parser. Imports no Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from xenon_tui.ssh._spec import SANDBOX_MODES

DEFAULT_STATE_DIR = Path("~/.local/state/xenon/ssh")


def _user_arg(text: str) -> tuple[str, Path]:
    name, sep, keys = text.partition("=")
    if not sep or not name or not keys:
        raise argparse.ArgumentTypeError("expected NAME=AUTHORIZED_KEYS_FILE")
    return name, Path(keys).expanduser()


def _server_arg(text: str) -> dict[str, Any]:
    address, _, ro = text.partition("/")
    host, port = _listen_arg(address)
    if port == 0 or (ro and (not ro.isdigit() or not 0 < int(ro) < 65536)):
        raise argparse.ArgumentTypeError("expected HOST:PORT[/RO_PORT] with real ports")
    entry: dict[str, Any] = {"name": f"{host}:{port}", "host": host, "port": port}
    if ro:
        entry["ro_port"] = int(ro)
    return entry


def console_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The console settings from ``--console-file`` plus ``--server``/``--ca``/``--cert``/
    ``--key`` (flags win)."""
    from xenon_tui.ssh._config import load_console_file

    settings: dict[str, Any] = load_console_file(args.console_file) if args.console_file else {}
    settings["servers"] = [*settings.get("servers", []), *args.server]
    for name in ("ca", "cert", "key"):
        value = getattr(args, name)
        if value is not None:
            settings[name] = str(value.expanduser().resolve())
    return settings


def _listen_arg(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError("expected HOST:PORT (port 0 picks a free one)")
    return host.strip("[]") or "127.0.0.1", int(port)


def _size_arg(text: str) -> tuple[int, int]:
    cols, sep, rows = text.lower().partition("x")
    if not sep or not cols.isdigit() or not rows.isdigit():
        raise argparse.ArgumentTypeError("expected COLSxROWS, e.g. 1000x500")
    return int(cols), int(rows)


def _names_arg(text: str) -> tuple[str, ...]:
    from xenon_tui.ssh._algorithms import parse_names
    from xenon_tui.ssh._errors import ConfigError

    try:
        return parse_names(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _add_hardening_arguments(parser: argparse.ArgumentParser) -> None:
    """Algorithms and pre-authentication limits (defaults: the hardened ones)."""
    group = parser.add_argument_group(
        "SSH algorithms and limits",
        "Secure defaults; see the README's SSH section before changing them.",
    )
    group.add_argument(
        "--ssh-kex",
        type=_names_arg,
        metavar="LIST",
        help="key exchange algorithms, comma-separated (default: mlkem768x25519-sha256, "
        "sntrup761x25519-sha512 where available, curve25519-sha256[@libssh.org])",
    )
    group.add_argument(
        "--ssh-ciphers",
        type=_names_arg,
        metavar="LIST",
        help="ciphers (default: chacha20-poly1305@openssh.com, aes256-gcm@openssh.com, "
        "aes128-gcm@openssh.com; aes*-ctr may be added)",
    )
    group.add_argument(
        "--ssh-macs",
        type=_names_arg,
        metavar="LIST",
        help="MACs, encrypt-then-MAC only (default: hmac-sha2-512-etm@openssh.com, "
        "hmac-sha2-256-etm@openssh.com)",
    )
    group.add_argument(
        "--host-key-type",
        choices=("ed25519", "rsa-sha2"),
        default="ed25519",
        help="host key generated and served: Ed25519, or RSA 4096 signed with SHA-2 only "
        "(default %(default)s)",
    )
    group.add_argument(
        "--login-grace-time",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="time a client has to log in (default %(default)s)",
    )
    group.add_argument(
        "--max-auth-tries",
        type=int,
        default=6,
        metavar="N",
        help="failed attempts (each key offered counts) before the connection is closed "
        "(default %(default)s)",
    )
    group.add_argument(
        "--max-startups",
        type=int,
        default=100,
        metavar="N",
        help="unauthenticated connections open at once in all (default %(default)s)",
    )
    group.add_argument(
        "--per-source-max-startups",
        type=int,
        default=10,
        metavar="N",
        help="unauthenticated connections open at once per address; 0 for no limit "
        "(default %(default)s)",
    )
    group.add_argument(
        "--per-source-rate",
        type=float,
        default=10.0,
        metavar="PER_SECOND",
        help="new connections per second per address (bursts of as many); more are closed "
        "before key exchange; 0 for no limit (default %(default)s)",
    )
    group.add_argument(
        "--per-source-penalties",
        default="authfail:5,noauth:1,grace-exceeded:20,min:15,max:600",
        metavar="SPEC",
        help="seconds an address is charged per failed login, per connection that never "
        "tried, per login grace time exceeded; once its charge reaches min it is shut "
        "out until the charge runs out (at most max); 'off' disables "
        "(default %(default)s)",
    )
    group.add_argument(
        "--max-term-size",
        type=_size_arg,
        default=(1000, 500),
        metavar="COLSxROWS",
        help="terminal size a console is capped at (default 1000x500)",
    )


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the flags of ``xenon console serve`` to ``parser``."""
    parser.add_argument(
        "--listen",
        type=_listen_arg,
        default=("127.0.0.1", 2222),
        metavar="HOST:PORT",
        help="address to serve SSH on (default %(default)s)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="host key and logs (default %(default)s)",
    )
    parser.add_argument("--host-key", type=Path, help="host key file (created when missing)")
    parser.add_argument(
        "--users-file", type=Path, help='JSON: {"users": [{"name", "role", "authorized_keys"}]}'
    )
    parser.add_argument(
        "--user",
        type=_user_arg,
        action="append",
        default=[],
        metavar="NAME=KEYS",
        help="an admin account and its authorized_keys",
    )
    parser.add_argument(
        "--read-only-user",
        type=_user_arg,
        action="append",
        default=[],
        metavar="NAME=KEYS",
        help="a read-only account and its authorized_keys",
    )
    parser.add_argument(
        "--console-file", type=Path, help="JSON with the XPS servers (port, ro_port) and TLS files"
    )
    parser.add_argument(
        "--server",
        type=_server_arg,
        action="append",
        default=[],
        metavar="HOST:PORT[/RO_PORT]",
        help="an XPS daemon for the consoles (read-only users only get RO_PORT)",
    )
    parser.add_argument("--ca", type=Path, help="CA certificate the consoles trust (PEM)")
    parser.add_argument("--cert", type=Path, help="client certificate of the consoles (PEM)")
    parser.add_argument("--key", type=Path, help="client key of the consoles (PEM)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="close sessions without input for this long; 0 never",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=64,
        help="sessions at once; more are refused (default %(default)s; each takes 3 open "
        "files here, a console process of ~9-25 MiB and a pty)",
    )
    parser.add_argument(
        "--max-starting",
        type=int,
        default=4,
        metavar="N",
        help="consoles starting up at once; more sessions wait their turn, so a login "
        "storm does not slow the open consoles (default %(default)s)",
    )
    parser.add_argument(
        "--session-memory",
        type=int,
        default=2048,
        metavar="MIB",
        help="address-space limit of each console process; 0 for none (default %(default)s)",
    )
    parser.add_argument(
        "--mode",
        choices=("zygote", "spawn"),
        default="zygote",
        help="fork consoles from a preloaded zygote, or spawn each afresh",
    )
    parser.add_argument(
        "--app",
        default=None,
        metavar="MODULE:FUNC",
        help="what each session runs (default: the Xenon console)",
    )
    parser.add_argument(
        "--sandbox",
        choices=SANDBOX_MODES,
        default="auto",
        help="confine each console with Landlock: to its code, its role's TLS files, its "
        "user's files directory (HOME) and, read-only, its servers' ports; 'auto' when "
        "the kernel has Landlock, 'require' refuses to start without it (default %(default)s)",
    )
    xe = parser.add_argument_group(
        "XE users",
        "Public-key logins of XE users, decided by XE: each console gets a session token "
        "for its user (and role) only. Local accounts given too stay valid without XE.",
    )
    xe.add_argument("--xe", metavar="URL", help="XE's API, e.g. https://xe.example:8443")
    xe.add_argument("--xe-ca", type=Path, metavar="FILE", help="CA that signed XE's certificate")
    xe.add_argument(
        "--xe-credential",
        type=Path,
        metavar="FILE",
        help="this server's XE service credential (mode 0600; "
        "`xenon xe token create NAME --service`)",
    )
    _add_hardening_arguments(parser)
    parser.set_defaults(func=serve)


def setup_logging(log_file: Path, *, quiet: bool = False) -> None:
    """Logs the server's events to ``log_file`` (0600) and, unless quiet, to stderr."""
    log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.close(fd)
    fmt = logging.Formatter("%(asctime)s %(levelname)s - %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers: list[logging.Handler] = [logging.FileHandler(log_file, encoding="utf-8")]
    if not quiet:
        handlers.append(logging.StreamHandler(sys.stderr))
    logger = logging.getLogger("xenon.ssh")
    logger.setLevel(logging.INFO)
    for handler in handlers:
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)


def build_server(args: argparse.Namespace) -> Any:
    """Builds a :class:`~xenon_tui.ssh.ConsoleServer` from parsed serve flags."""
    from xenon_tui.ssh import (
        DEFAULT_APP,
        ConfigError,
        ConsoleServer,
        Role,
        ServeConfig,
        UserDirectory,
        UserEntry,
    )
    from xenon_tui.ssh._algorithms import SshAlgorithms
    from xenon_tui.ssh._gate import Penalties, PreauthLimits
    from xenon_tui.ssh._users import check_username

    entries: dict[str, Any] = {}
    if args.users_file:
        entries.update({u.name: u for u in UserDirectory.from_file(args.users_file)})
    for role, pairs in ((Role.ADMIN, args.user), (Role.READ_ONLY, args.read_only_user)):
        for name, keys in pairs:
            entries[check_username(name)] = UserEntry(name, role, keys)
    xe = None
    if args.xe:
        from xenon_tui.ssh._xeauth import XeAuthConfig

        if args.xe_credential is None:
            raise ConfigError("--xe needs --xe-credential FILE (a service credential)")
        ca = args.xe_ca.expanduser().resolve() if args.xe_ca else None
        xe = XeAuthConfig(args.xe, args.xe_credential.expanduser(), ca)
    elif args.xe_credential or args.xe_ca:
        raise ConfigError("--xe-credential and --xe-ca need --xe URL")
    if not entries and xe is None:
        raise ConfigError("no accounts: give --user NAME=KEYS, --users-file or --xe URL")
    host, port = args.listen
    config = ServeConfig(
        state_dir=args.state_dir.expanduser(),
        host=host,
        port=port,
        host_key=args.host_key,
        idle_timeout_s=args.idle_timeout or None,
        max_sessions=args.max_sessions,
        max_starting=args.max_starting,
        session_memory_mb=args.session_memory,
        mode=args.mode,
        app=args.app or DEFAULT_APP,
        console=console_settings(args),
        sandbox=args.sandbox,
        login_timeout_s=args.login_grace_time,
        algorithms=SshAlgorithms(
            kex=args.ssh_kex,
            ciphers=args.ssh_ciphers,
            macs=args.ssh_macs,
            host_key_type=args.host_key_type,
        ),
        limits=PreauthLimits(
            rate_per_s=args.per_source_rate,
            burst=max(1, round(args.per_source_rate)),
            max_startups=args.max_startups,
            per_source_max_startups=args.per_source_max_startups,
            max_auth_tries=args.max_auth_tries,
            penalties=Penalties.parse(args.per_source_penalties),
        ),
        max_term_size=args.max_term_size,
        xe=xe,
    )
    return ConsoleServer(config, UserDirectory(entries))


async def _serve(server: Any, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[None]] = set()

    def on_hangup() -> None:
        task = loop.create_task(server.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    # SIGHUP: new sessions get freshly imported console code (running ones keep theirs).
    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    await server.start()
    port_file = server.config.state_dir / "ssh-port"
    port_file.write_text(f"{server.port}\n", encoding="utf-8")
    print(f"xenon console serve: listening on {server.config.host}:{server.port}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def serve(args: argparse.Namespace) -> int:
    """Runs ``xenon console serve``; returns the exit status.

    SIGINT or SIGTERM stops the server (every console is hung up and its user told why);
    SIGHUP reloads the console code for new sessions (zygote mode).
    """
    from xenon_tui.ssh import SshServeError

    try:
        server = build_server(args)
        setup_logging(server.config.server_log)
        asyncio.run(_serve(server, asyncio.Event()))
    except SshServeError as exc:
        print(f"xenon console serve: {exc.message}", file=sys.stderr)
        return 2
    return 0
