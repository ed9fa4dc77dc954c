"""The daemon's log in the report's format (§3.1.1): ``2018-09-01 08:00:01 INFO - msg``."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TextIO

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

#: Every logger under "xps" (server, host runner, monitor) ends up in the daemon's log.
ROOT_LOGGER = "xps"
LOG_NAME = "xenon-policy-server.log"
_DATEFMT = "%Y-%m-%d %H:%M:%S"

log = logging.getLogger("xps.server")


def trace(msg: str, *args: object) -> None:
    """Logs at the report's TRACE level (below DEBUG)."""
    if log.isEnabledFor(TRACE):
        log.handle(log.makeRecord(log.name, TRACE, "", 0, msg, args, None))


class _RequestLine:
    """The per-request TRACE line, written straight to the daemon's handler streams.

    One line per request is on the hot path, and a LogRecord with its formatting costs
    as much as the rest of the request. The line goes to the same stream objects (so
    it stays in order with every other line) with the same format; single-threaded
    asyncio code needs no handler lock.
    """

    def __init__(self) -> None:
        self.streams: list[TextIO] = []
        self._second = -1
        self._prefix = ""

    def write(self, text: str) -> None:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._prefix = time.strftime(_DATEFMT, time.localtime(now)) + " TRACE - "
        line = self._prefix + text + "\n"
        for stream in self.streams:
            stream.write(line)


_request_line = _RequestLine()


def trace_request(text: str) -> None:
    """Writes ``<time> TRACE - text`` to the daemon's log (no-op when not set up)."""
    if _request_line.streams:
        _request_line.write(text)


class ReportFormatter(logging.Formatter):
    """``%Y-%m-%d %H:%M:%S LEVEL - message``, with the timestamp text cached per second."""

    def __init__(self) -> None:
        """Creates the formatter."""
        super().__init__("%(asctime)s %(levelname)s - %(message)s", _DATEFMT)
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record time as ``%Y-%m-%d %H:%M:%S`` (local time)."""
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime(_DATEFMT, time.localtime(second))
        return self._stamp


class DaemonFileHandler(logging.FileHandler):
    """A file handler that flushes at INFO and above, and otherwise on :func:`flush_logs`.

    TRACE lines (one per request) are written through the buffer; the daemon flushes
    them a few times a second, so nothing waits long and no request pays for a syscall.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Writes one record; flushes if it is INFO or above."""
        try:
            if self.stream is None:
                self.stream = self._open()
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.INFO:
                self.stream.flush()
        except Exception:
            self.handleError(record)


def setup_logging(
    log_file: Path | None, *, stderr: bool = True, level: int = TRACE
) -> list[logging.Handler]:
    """Attaches the daemon's handlers to the ``xps`` logger; returns them for removal.

    Args:
        log_file: The log file (created with mode 0600 if missing), or None.
        stderr: Also log to standard error.
        level: Lowest level written.
    """
    formatter = ReportFormatter()
    handlers: list[logging.Handler] = []
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.touch(mode=0o600, exist_ok=True)
        handlers.append(DaemonFileHandler(log_file, encoding="utf-8"))
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger(ROOT_LOGGER)
    root.setLevel(level)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.setLevel(level)
        root.addHandler(handler)
        stream = getattr(handler, "stream", None)
        if level <= TRACE and stream is not None:
            _request_line.streams.append(stream)
    return handlers


def flush_logs() -> None:
    """Flushes every handler of the ``xps`` logger (called periodically by the daemon)."""
    for handler in logging.getLogger(ROOT_LOGGER).handlers:
        handler.flush()


def lean_log_records() -> None:
    """Stops logging from collecting thread and process names the format never shows.

    These are the documented module switches of :mod:`logging`; they are process-wide,
    so only the daemon's entry points call this.
    """
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def remove_logging(handlers: list[logging.Handler]) -> None:
    """Detaches and closes handlers returned by :func:`setup_logging`."""
    root = logging.getLogger(ROOT_LOGGER)
    for handler in handlers:
        stream = getattr(handler, "stream", None)
        if stream in _request_line.streams:
            _request_line.streams.remove(stream)
        root.removeHandler(handler)
        handler.close()
