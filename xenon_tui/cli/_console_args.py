"""``xenon console`` options and runner (:mod:`xenon_tui.cli.console` assembles the parser)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xenon_tui._config import (
    ConsoleConfig,
    ServerEntry,
    TlsFiles,
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
        "--no-connect", action="store_true", help="do not connect to the servers at start"
    )


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
    if args.theme:
        from dataclasses import replace

        config = replace(config, theme=args.theme)
    return config


def run(args: argparse.Namespace) -> int:
    """Builds the config from ``args`` and runs the console; returns the exit status."""
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"xenon console: {exc.message}", file=sys.stderr)
        return 2
    from xenon_tui.app import run_console  # Textual only once the arguments are valid

    return run_console(config)
