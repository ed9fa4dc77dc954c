"""Third-party warnings never reach an operator's terminal from ``xenon …``.

A dependency that warns while it imports (cryptography 51 deprecates DSA, which asyncssh
imports) would otherwise print file paths into the operator's terminal before the first
line of output. :func:`route_warnings` keeps our own packages' warnings on stderr, as
Python shows them, and sends every other package's warning to the ``xenon.warnings``
logger at INFO: a daemon that logs to a file keeps them there; a bare terminal does not
see them (the logger has a NullHandler, so logging's last-resort handler stays quiet).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import TextIO

__all__ = ["OUR_PACKAGES", "is_ours", "route_warnings"]

OUR_PACKAGES = ("native", "xps", "enterprise_store", "xenon_tui", "themes", "benchmarks")

LOGGER = logging.getLogger("xenon.warnings")
LOGGER.addHandler(logging.NullHandler())

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OUR_DIRS = tuple(os.path.join(_ROOT, name) + os.sep for name in OUR_PACKAGES)


def is_ours(filename: str) -> bool:
    """Whether a warning attributed to ``filename`` comes from this project's code."""
    return os.path.abspath(filename).startswith(_OUR_DIRS)


def route_warnings() -> None:
    """Installs the routing for this process (idempotent)."""
    current = warnings.showwarning
    if getattr(current, "_xenon_routed", False):
        return

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if is_ours(filename):
            current(message, category, filename, lineno, file or sys.stderr, line)
            return
        LOGGER.info("%s: %s (%s:%d)", category.__name__, message, filename, lineno)

    show._xenon_routed = True  # type: ignore[attr-defined]
    warnings.showwarning = show
