"""``xenon console`` options and runner (:mod:`xenon_tui.cli.console` assembles the parser)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xenon_tui._config import (
    REFRESH_RANGE,
    REFRESH_S,
    ConsoleConfig,
    ServerEntry,
    TlsFiles,
    check_refresh,
    default_config_path,
    load_config,
)
from xenon_tui._errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the console's options to ``parser``."""
    parser.add_argument(
        "servers",
        nargs="*",
        metavar="HOST[:PORT[/RO_PORT]]",
        help="XPS daemons to connect to (added to the remembered ones)",
    )
    parser.add_argument("--ca", type=Path, help="trust store (PEM) for the daemons' certificates")
    parser.add_argument("--cert", type=Path, help="client certificate (PEM)")
    parser.add_argument("--key", type=Path, help="client private key (PEM)")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="connect to the read-only sockets and hide every mutating action",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"settings file, JSON or TOML (default {default_config_path()})",
    )
    parser.add_argument("--theme", help="xenon-dark, xenon-light or xenon-high-contrast")
    parser.add_argument(
        "--refresh",
        metavar="SECONDS",
        help=(
            "redraw the metrics every sample changes (CPU, memory, charts) at most this "
            f"often while no key was pressed for 10 s (default {REFRESH_S:g}; at most 1 s "
            f"after a key; {REFRESH_RANGE[0]:g}-{REFRESH_RANGE[1]:g}); violations are shown "
            "as they arrive"
        ),
    )
    parser.add_argument(
        "--no-connect", action="store_true", help="do not connect to the servers at start"
    )
    parser.add_argument(
        "--xe",
        metavar="URL",
        help="Xenon Enterprise's API (https://HOST:PORT): log in with a user name and password",
    )
    parser.add_argument(
        "--xe-ca", type=Path, metavar="FILE", help="CA that signed XE's certificate"
    )
    parser.add_argument("--xe-user", metavar="NAME", default="", help="user name to fill in")


def build_config(args: argparse.Namespace) -> ConsoleConfig:
    """The ConsoleConfig for parsed arguments (remembered settings merged in).

    Raises:
        ConfigError: A server address, a TLS file or the settings file is invalid.
    """
    servers = tuple(ServerEntry.parse(s) for s in args.servers or ())
    for name in ("ca", "cert", "key"):
        path = getattr(args, name, None)
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"--{name}: {path} is not a readable file")
    base = ConsoleConfig(
        servers=servers,
        tls=TlsFiles(ca=args.ca, cert=args.cert, key=args.key),
        read_only=bool(args.read_only),
        autoconnect=not args.no_connect,
    )
    path = args.config or default_config_path()
    if path.suffix == ".toml" and path.with_suffix(".json").exists():
        path = path.with_suffix(".json")  # settings saved by the console itself win
    config = load_config(path, base)
    from dataclasses import replace

    if args.theme:
        config = replace(config, theme=args.theme)
    if getattr(args, "refresh", None) is not None:
        config = replace(config, refresh=check_refresh(args.refresh, "--refresh"))
    return config


def check_xe_args(args: argparse.Namespace) -> None:
    """Validates ``--xe``/``--xe-ca``/``--xe-user`` before anything is shown.

    Raises:
        ConfigError: A bad URL, a missing CA file, or XE options without ``--xe``.
    """
    if not args.xe:
        if args.xe_ca or args.xe_user:
            raise ConfigError("--xe-ca and --xe-user need --xe URL")
        return
    if not args.xe.startswith(("https://", "http://")) or len(args.xe) > 2048:
        raise ConfigError(f"--xe must be https://HOST:PORT, not {args.xe[:100]!r}")
    if args.xe_ca is not None and not Path(args.xe_ca).is_file():
        raise ConfigError(f"--xe-ca: {args.xe_ca} is not a readable file")


def run(args: argparse.Namespace) -> int:
    """Builds the config from ``args`` and runs the console; returns the exit status.

    With ``--xe`` the console first asks for a user name and password (XE's login);
    cancelling it ends the command, and the session is logged out when the console ends.
    """
    try:
        config = build_config(args)
        check_xe_args(args)
    except ConfigError as exc:
        print(f"xenon console: {exc.message}", file=sys.stderr)
        return 2
    if not args.xe:
        from xenon_tui.app import run_console  # Textual only once the arguments are valid

        return run_console(config)
    return _run_with_xe(config, args)


def _run_with_xe(config: ConsoleConfig, args: argparse.Namespace) -> int:
    import asyncio

    from xenon_tui.app import XenonConsole, tune_gc
    from xenon_tui.dialogs._login import ask_login, logout

    ca = Path(args.xe_ca).expanduser().resolve() if args.xe_ca else None
    link = ask_login(args.xe, ca, args.xe_user)
    if link is None:
        print("xenon console: not logged in to XE", file=sys.stderr)
        return 1
    try:
        tune_gc()
        app = XenonConsole(config, xe=link)
        result = app.run()
    finally:
        asyncio.run(logout(link))
    return int(result or 0) if app.return_code in (None, 0) else int(app.return_code or 1)
