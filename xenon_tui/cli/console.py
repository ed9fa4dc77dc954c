"""``xenon console`` (the local console) and ``xenon console serve`` (the SSH server).

The console's options live in :mod:`xenon_tui.cli._console_args` and the SSH server's in
:mod:`xenon_tui.cli.console_serve`; this module only assembles the two parsers. ``console`` takes
server addresses as positionals, so ``console serve`` is routed by :func:`route` before
argparse sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SERVE_COMMAND = "console-serve"


def route(argv: Sequence[str]) -> list[str]:
    """Rewrites ``console serve …`` to the hidden ``console-serve …`` command."""
    args = list(argv)
    if len(args) >= 2 and args[0] == "console" and args[1] == "serve":
        return [SERVE_COMMAND, *args[2:]]
    return args


def register(sub: Any) -> None:
    """Adds ``console`` and the hidden ``console-serve`` to the ``xenon`` parser."""
    from xenon_tui.cli import _console_args as console_args
    from xenon_tui.cli import console_serve

    console = sub.add_parser(
        "console",
        help="the full-screen operations console (`xenon console serve` serves it over SSH)",
        description=(
            "Open the Xenon console on this terminal, connected to one or more XPS daemons. "
            "`xenon console serve --help` shows the SSH server's options."
        ),
    )
    console_args.add_arguments(console)
    console.set_defaults(func=console_args.run)

    serve = sub.add_parser(
        SERVE_COMMAND,
        prog="xenon console serve",
        description="Serve the console over SSH: one process per session on its own pty.",
    )
    console_serve.add_serve_arguments(serve)
    serve.set_defaults(func=console_serve.serve)
