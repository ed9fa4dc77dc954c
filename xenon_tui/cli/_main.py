"""The ``xenon`` command line: one parser, sub-commands registered by each package.

Sub-command modules are imported lazily by name so that headless commands
(``xenon policy …``, ``xenon pki …``, ``xenon xps …``) never import Textual.
Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (returning an exit code) as the parser default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Order is the order of `xenon --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "xps.cli.msm",
    "xps.cli.pki",
    "xps.cli.policy",
    "xps.cli.xps",
    "enterprise_store.cli",
    "xenon_tui.cli.console",
    "xenon_tui.cli.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """Builds the full ``xenon`` parser from every registered sub-command module."""
    parser = argparse.ArgumentParser(
        prog="xenon",
        description="Xenon Console: policy, policy server, PKI and the operations console.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``xenon``; returns the process exit status."""
    from xps.warning_routing import route_warnings

    route_warnings()  # before any dependency is imported: their warnings go to the log

    from xenon_tui.cli.console import route

    parser = build_parser()
    args = parser.parse_args(route(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def policy_server_main() -> int:
    """``xenon-policy-server`` is ``xenon xps serve`` (the report's name)."""
    return main(["xps", "serve", *sys.argv[1:]])


def policy_gui_main() -> int:
    """``xenon-policy-gui`` is ``xenon console`` (the report's name)."""
    return main(["console", *sys.argv[1:]])
