"""``python -m xenon_tui.ssh …`` is ``xenon console serve …``."""

from __future__ import annotations

import argparse
import sys

from xenon_tui.cli.console_serve import add_serve_arguments, serve


def main(argv: list[str] | None = None) -> int:
    """Parses the serve flags and serves until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m xenon_tui.ssh", description="Serve the Xenon console over SSH."
    )
    add_serve_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
