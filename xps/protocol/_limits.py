"""Bounds checked on a request's raw bytes before it is decoded: size per method, values, depth.

Python's JSON decoder runs in C without ever releasing the GIL: a 4 MiB frame holding a
2,000,000-element list takes ~250 ms to decode, in the event loop or in a worker thread
alike (measured: a thread stalls the loop just as long). So the cost of a frame is bounded
*before* decoding, from its bytes, with C-speed ``bytes`` operations only: a frame over
:data:`LARGE_REQUEST` is decoded only for a method that takes large parameters (its id
and method are read from its first bytes), and no frame is decoded with more than
``max_items`` values or deeper than :data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

import itertools
import json
import re
from array import array
from typing import Any

from xps.protocol._errors import BAD_REQUEST, ProtocolError

#: Default maximum of JSON values and object keys in one request (100x the sample policy).
MAX_ITEMS = 100_000
#: Maximum nesting of arrays and objects in one request (the request object is level 1).
MAX_DEPTH = 64
#: Larger request frames must begin with their id and method, and be for a method whose
#: parameters may be large (``StagePolicy``); others are refused before they are decoded.
LARGE_REQUEST = 128 << 10

_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(_BRACKETS)))
_OPENERS = b",[{"
# '[' and '{' -> +1, ']' and '}' -> -1 (255 as a signed byte).
_SIGNED = bytes.maketrans(_BRACKETS, bytes([1, 255, 1, 255]))
# The id and method of a request read from its first bytes (every client of this
# protocol writes them first), for a frame that is refused or routed before decoding.
_ID = rb'(-?\d{1,20}|"(?:[^"\\\x00-\x1f]|\\.){0,128}")'
_METHOD = rb'"([A-Za-z]{1,64})"'
_LEADING_ID = re.compile(rb'\A\s*\{\s*"id"\s*:\s*' + _ID + rb"\s*[,}]")
_LEADING_CALL = (
    re.compile(rb'\A\s*\{\s*"id"\s*:\s*' + _ID + rb'\s*,\s*"method"\s*:\s*' + _METHOD),
    re.compile(rb'\A\s*\{\s*"method"\s*:\s*' + _METHOD + rb'\s*,\s*"id"\s*:\s*' + _ID),
)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _max_depth(text: bytes) -> int:
    brackets = text.translate(None, _NOT_BRACKETS)
    if len(brackets) <= 2 * MAX_DEPTH:
        return (len(brackets) + 1) // 2  # an upper bound, already small enough
    return max(itertools.accumulate(array("b", brackets.translate(_SIGNED))))


def _unescaped(payload: bytes) -> bytes:
    # Inside a JSON string a run of backslashes is a series of escaped backslashes, maybe
    # then one other escape (of a quote, an n, ...): dropping the backslash pairs left to
    # right, then every backslash-quote left, leaves only the quotes that delimit
    # strings. (A regex substitution of backslash-anything is ~30x slower.)
    if b"\\" not in payload:
        return payload
    return payload.replace(b"\\\\", b"").replace(b'\\"', b"")


def _outside_strings(plain: bytes) -> bytes:
    return b"".join(plain.split(b'"')[::2])


def _item_bound(text: bytes, strings: int) -> int:
    # One pass counts ',', '[' and '{' together (bytes.count would take three).
    return strings + 2 * (len(text) - len(text.translate(None, _OPENERS))) + 1


def check_shape(payload: bytes, max_items: int = MAX_ITEMS) -> None:
    """Refuses a request with more than ``max_items`` values or nested too deeply.

    Every value or key is a string, a container, or a number/literal; a number or
    literal is the first item of a container or follows a ``,``. So the item count is
    at most ``strings + 2 * (containers + commas) + 1``. Counts over the raw bytes (which
    also see brackets and commas inside strings) accept almost every frame; only one
    that fails them is split at its quotes and counted outside strings. A frame of at
    most ``max_items`` bytes cannot hold more items than bytes and skips the count.
    Each step is a C pass over the bytes: a 4 MiB frame of 2,000,000 values is refused
    in ~10 ms (decoding it would take ~250 ms).

    Raises:
        ProtocolError: ``bad_request`` (with the id when it is the first member).
    """
    if len(payload) <= 2 * MAX_DEPTH and len(payload) <= max_items:
        return
    outside: bytes | None = None
    if len(payload) > max_items and _item_bound(payload, payload.count(b'"') // 2) > max_items:
        plain = _unescaped(payload)
        strings = plain.count(b'"') // 2
        if strings > max_items:
            _refuse(payload, f"request holds more than {max_items} JSON values")
        outside = _outside_strings(plain)  # at most 2 * max_items + 1 pieces
        if _item_bound(outside, strings) > max_items:
            _refuse(payload, f"request holds more than {max_items} JSON values")
    if _max_depth(payload if outside is None else outside) > MAX_DEPTH:
        if outside is None:
            outside = _outside_strings(_unescaped(payload))
        if _max_depth(outside) > MAX_DEPTH:
            _refuse(payload, f"request is nested deeper than {MAX_DEPTH} levels")


def _json_id(token: bytes) -> int | str | None:
    try:
        value = json.loads(token)
    except ValueError:
        return None
    if isinstance(value, int | str) and not has_surrogate(value):
        return value
    return None


def _refuse(payload: bytes, message: str) -> None:
    match = _LEADING_ID.match(payload)
    rid = _json_id(match.group(1)) if match is not None else None
    raise ProtocolError(BAD_REQUEST, message, request_id=rid)


def peek_call(payload: bytes) -> tuple[int | str | None, str | None]:
    """The id and method of a request from its first bytes, without decoding it.

    Returns ``(None, None)`` unless the frame begins with ``{"id": …, "method": "…"``
    (either order).
    """
    for index, pattern in enumerate(_LEADING_CALL):
        match = pattern.match(payload)
        if match is not None:
            id_token, method = match.group(1 + index), match.group(2 - index)
            return _json_id(id_token), method.decode("ascii")
    return None, None


def may_hold_surrogate(payload: bytes) -> bool:
    """True if the JSON text has a ``\\uD800``-``\\uDFFF`` escape (the only way to a lone one).

    A UTF-8 encoded surrogate is invalid UTF-8 and refused before this; a valid pair
    decodes to one astral character. False positives (an escaped backslash before
    ``uD8…``) only cost a walk of the decoded value.
    """
    return b"\\u" in payload and _SURROGATE_ESCAPE.search(payload) is not None


def has_surrogate(value: Any) -> bool:
    """True if a decoded JSON value holds a lone surrogate in any string or key.

    Such a string cannot be encoded as UTF-8: echoed in an answer or written to the
    log it would raise, so the request is refused as it arrives.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
