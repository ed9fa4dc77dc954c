"""Java ``.properties`` syntax (the subset java.util.Properties.load accepts)."""

from __future__ import annotations

import re

from xps.server._errors import ConfigError

_MAX_SIZE = 1 << 20
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_UNICODE = re.compile(r"[0-9A-Fa-f]{4}")


def _unescape(text: str, lineno: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i >= len(text):
            break
        ch = text[i]
        if ch == "u":
            digits = text[i + 1 : i + 5]
            if not _UNICODE.fullmatch(digits):
                raise ConfigError(f"line {lineno}: malformed \\uXXXX escape")
            out.append(chr(int(digits, 16)))
            i += 5
            continue
        out.append(_ESCAPES.get(ch, ch))
        i += 1
    return "".join(out)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip(" \t\f")
        if pending is None:
            if not line or line[0] in "#!":
                continue
            start = lineno
            current = line
        else:
            current = pending + line
        # An odd number of trailing backslashes continues the logical line.
        trailing = len(current) - len(current.rstrip("\\"))
        if trailing % 2 == 1:
            pending = current[:-1]
            continue
        pending = None
        lines.append((start, current))
    if pending is not None:
        lines.append((start, pending))
    return lines


def _split(line: str) -> tuple[str, str]:
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "=: \t\f":
            break
        i += 1
    key, rest = line[:i], line[i:]
    rest = rest.lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return key, rest


def parse_properties(text: str) -> dict[str, str]:
    """Parses properties text into a dict (later keys win, as in Java).

    Raises:
        ConfigError: Too large, or a malformed ``\\u`` escape.
    """
    if len(text) > _MAX_SIZE:
        raise ConfigError("properties file is larger than 1 MiB")
    props: dict[str, str] = {}
    for lineno, line in _logical_lines(text):
        key, value = _split(line)
        props[_unescape(key, lineno)] = _unescape(value, lineno)
    return props


def parse_define(item: str) -> tuple[str, str]:
    """Parses one ``-D key=value`` (a bare ``key`` means the empty string, as in Java).

    Raises:
        ConfigError: The key is empty.
    """
    key, _, value = item.partition("=")
    if not key.strip():
        raise ConfigError(f"-D{item}: empty property name")
    return key.strip(), value
