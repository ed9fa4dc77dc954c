"""The daemon's log in the report's format (§3.1.1): ``2018-09-01 08:00:01 INFO - msg``.

Every line is written by :class:`ReportFormatter` or :func:`trace_request`, and both
escape what they write (:func:`escape`): a client's method name, certificate subject or
exception text can never start a line of its own, hide text with bidi overrides, or
break the UTF-8 file with a lone surrogate. Events a hostile peer can repeat at will
(refused connections) go through :class:`BurstLog`: one line, then one count per window.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

#: Every logger under "xps" (server, host runner, monitor) ends up in the daemon's log.
ROOT_LOGGER = "xps"
LOG_NAME = "xenon-policy-server.log"
_DATEFMT = "%Y-%m-%d %H:%M:%S"

log = logging.getLogger("xps.server")

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    known = _ESCAPES.get(char)
    if known is not None:
        return known
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(text: str) -> str:
    """``text`` with each non-printable character escaped (``\\n``, ``\\x1b``, ``\\u202e``).

    Unicode calls "printable" everything but the categories Other (controls, format
    characters such as bidi overrides and zero-width joiners, surrogates, private use,
    unassigned) and Separator (except the ASCII space): exactly what :meth:`str.isprintable`
    checks, in C, so a clean line costs one call.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape_char(c) for c in text)


def _escape_block(text: str) -> str:
    # A traceback keeps its lines, each indented: none can pass for a log line.
    return "\n".join("    " + escape(line) for line in text.split("\n"))


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
        if not text.isprintable():
            text = escape(text)
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
    """``%Y-%m-%d %H:%M:%S LEVEL - message``, with the timestamp text cached per second.

    The message is escaped (:func:`escape`); a traceback follows on lines of its own,
    each escaped and indented.
    """

    def __init__(self) -> None:
        """Creates the formatter."""
        super().__init__("%(asctime)s %(levelname)s - %(message)s", _DATEFMT)
        self._second = -1
        self._stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        """One escaped line (plus an indented traceback, if any)."""
        record.message = escape(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + _escape_block(record.exc_text)
        if record.stack_info:
            line += "\n" + _escape_block(self.formatStack(record.stack_info))
        return line

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


class BurstLog:
    """Logs a repeatable event once, then one line with a count per window.

    The first event of a kind is logged in full at once. Further events of that kind
    within ``window`` seconds are only counted (with their sources); :meth:`flush`
    (the daemon's sweeper calls it a few times a second) writes one summary line when
    the window ends, and the next window starts with the next event. A flood of 200,000
    refused connections in 30 s is thus a handful of lines, not 22 MB.

    Args:
        logger: Where lines go.
        window: Seconds one summary line covers.
        clock: Monotonic time source.
    """

    _MAX_SOURCES = 256

    def __init__(
        self,
        logger: logging.Logger,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self.window = window
        self._clock = clock
        self._open: dict[str, _Burst] = {}

    def event(self, kind: str, source: str, level: int, msg: str, *args: object) -> bool:
        """Records one event of ``kind`` from ``source`` (a peer address).

        Args:
            kind: What happened, as the start of the summary line: ``"ReadWrite socket:
                Shed unauthenticated connections"``. Not escaped twice: it is a template.
            source: The peer address, counted for the summary.
            level: Logging level of both lines.
            msg: The full line for the first event (``%``-style, with ``args``).

        Returns:
            True when the line was written (the first of a window): the caller may add
            lines of detail; False when the event was only counted.
        """
        burst = self._open.get(kind)
        if burst is None:
            self._open[kind] = _Burst(self._clock() + self.window, level)
            self._log.log(level, msg, *args)
            return True
        burst.count += 1
        if source in burst.sources or len(burst.sources) < self._MAX_SOURCES:
            burst.sources[source] += 1
        else:
            burst.other += 1
        return False

    def flush(self, *, force: bool = False) -> None:
        """Writes the summary of every window that has ended (all of them if ``force``)."""
        if not self._open:
            return
        now = self._clock()
        for kind, burst in list(self._open.items()):
            if not force and burst.end > now:
                continue
            del self._open[kind]
            if burst.count:
                self._summary(kind, burst)

    def _summary(self, kind: str, burst: _Burst) -> None:
        top = ", ".join(f"/{src}: {n}" for src, n in burst.sources.most_common(3))
        sources = len(burst.sources) + (1 if burst.other else 0)
        self._log.log(
            burst.level,
            "%s: %d more in the last %gs from %d source%s (%s%s)",
            kind,
            burst.count,
            self.window,
            sources,
            "" if sources == 1 else "s",
            top,
            f", others: {burst.other}" if burst.other else "",
        )


class _Burst:
    __slots__ = ("count", "end", "level", "other", "sources")

    def __init__(self, end: float, level: int) -> None:
        self.end = end
        self.level = level
        self.count = 0
        self.other = 0
        self.sources: Counter[str] = Counter()
