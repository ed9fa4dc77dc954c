"""``xenon demo``: its parser; the demo itself is :mod:`xenon_tui.demo` (imported on run)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Adds the top-level ``xenon demo`` sub-command."""
    parser = sub.add_parser(
        "demo",
        help="three simulated Xenon hosts, the console, and the console over SSH",
        description="Start a self-contained demo: a CA, three simulated XPS hosts, Xenon "
        "Enterprise (xenon xe serve) giving them the report's simple policy, live workloads, "
        "the console here and over SSH. A later run on the same --state-dir keeps every "
        "host's policy.",
    )
    parser.add_argument("--state-dir", type=Path, default=Path("~/.local/state/xenon/demo"))
    parser.add_argument(
        "--headless",
        action="store_true",
        help="everything except the local console (for servers and tests)",
    )
    parser.add_argument("--ssh-port", type=int, default=2222, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-xe",
        action="store_true",
        help="without Xenon Enterprise: the hosts get the sample policy directly and the "
        "consoles open on the host console (with XE they open on the Enterprise view, and SSH "
        "logins are XE users)",
    )
    parser.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from xenon_tui.demo import run_demo

    return int(run_demo(args))
