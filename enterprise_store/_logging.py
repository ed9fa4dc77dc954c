"""Logging of ``xenon xe serve``: text or one JSON object per line, never a secret.

``configure("json")`` writes each record as one JSON object on one line: ``ts`` (ISO 8601,
UTC), ``level``, ``logger``, ``message``, and ``exc`` when there is a traceback. Every
string goes through the JSON encoder (ASCII only), so a newline, a quote or an escape
sequence in an untrusted field (a user name, a path) cannot start a new line or forge a
field. ``configure("text")`` keeps the readable format and escapes control characters the
same way. Both redact what looks like a credential (a bearer token, ``password=…``,
``token=…``) before the line is written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import IO, Literal

__all__ = ["LOG_FORMATS", "JsonFormatter", "TextFormatter", "configure", "redact"]

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

_SECRETS = re.compile(
    r"(?i)(\bbearer\s+|\b(?:password|passwd|secret|token|api_key)\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;&\"']+)"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def redact(text: str) -> str:
    """``text`` with what follows ``Bearer``, ``password=``, ``token=`` … replaced."""
    return _SECRETS.sub(lambda m: m.group(1) + "[redacted]", text)


def _escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, str] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=True)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message`` with control characters escaped (one line each)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(_escape_controls(record.getMessage()))
        text = f"{self.formatTime(record)} {record.levelname} {record.name}: {line}"
        if record.exc_info:
            # A traceback keeps its lines; each one is our own code's.
            text += "\n" + redact(self.formatException(record.exc_info))
        return text


def configure(
    log_format: LogFormat = "text", *, quiet: bool = False, stream: IO[str] | None = None
) -> logging.Handler:
    """Logs the root logger's records to ``stream`` (stderr) in ``log_format``.

    Returns the handler (a caller that configures more than once removes it).
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return handler
