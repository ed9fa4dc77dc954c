"""The daemon's log in the report's format (§3.1.1): ``2018-09-01 08:00:01 INFO - msg``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

#: Every logger under "xps" (server, host runner, monitor) ends up in the daemon's log.
ROOT_LOGGER = "xps"
LOG_NAME = "xenon-policy-server.log"
_FORMAT = "%(asctime)s %(levelname)s - %(message)s"
_DATEFMT = "%Y-%m-%d %H:%M:%S"

log = logging.getLogger("xps.server")


def trace(msg: str, *args: object) -> None:
    """Logs at the report's TRACE level (below DEBUG)."""
    if log.isEnabledFor(TRACE):
        log.log(TRACE, msg, *args)


def setup_logging(
    log_file: Path | None, *, stderr: bool = True, level: int = TRACE
) -> list[logging.Handler]:
    """Attaches the daemon's handlers to the ``xps`` logger; returns them for removal.

    Args:
        log_file: The log file (created with mode 0600 if missing), or None.
        stderr: Also log to standard error.
        level: Lowest level written.
    """
    formatter = logging.Formatter(_FORMAT, _DATEFMT)
    handlers: list[logging.Handler] = []
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.touch(mode=0o600, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger(ROOT_LOGGER)
    root.setLevel(level)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.setLevel(level)
        root.addHandler(handler)
    return handlers


def remove_logging(handlers: list[logging.Handler]) -> None:
    """Detaches and closes handlers returned by :func:`setup_logging`."""
    root = logging.getLogger(ROOT_LOGGER)
    for handler in handlers:
        root.removeHandler(handler)
        handler.close()
