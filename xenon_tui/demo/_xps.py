"""``python -m xenon_tui.demo._xps ARGS``: ``xenon xps ARGS`` without the other sub-commands.

The demo starts its daemons through this, so a sub-command module that fails to import
elsewhere in the ``xenon`` command line cannot take the demo down.
"""

from __future__ import annotations

import argparse
import sys

from xps.cli import xps


def main(argv: list[str]) -> int:
    """Parses ``xps …`` arguments and runs the chosen command."""
    parser = argparse.ArgumentParser(prog="xenon")
    xps.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
