"""Boundary checks for values that must fit the C structures of ``msm.h``."""

from __future__ import annotations

import uuid
from enum import IntEnum
from typing import TypeVar

from xps.msm._errors import InvalidArgument, OutOfRange

NAME_LEN = 64
U32_MAX = 0xFFFFFFFF
U64_MAX = 0xFFFFFFFFFFFFFFFF
NIL_UUID = uuid.UUID(int=0)

E = TypeVar("E", bound=IntEnum)


def name_bytes(field: str, value: object) -> bytes:
    """Encodes a name as the NUL-terminated UTF-8 a ``char[64]`` field can hold."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{field} must be a str, not {type(value).__name__}")
    raw = value.encode("utf-8")
    if not raw or b"\0" in raw or len(raw) >= NAME_LEN:
        raise InvalidArgument(f"{field} must be 1..{NAME_LEN - 1} UTF-8 bytes without NUL")
    return raw


def uint(field: str, value: object, maximum: int = U32_MAX) -> int:
    """Checks that ``value`` is an int in ``0..maximum`` (a C unsigned field)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{field} must be an int, not {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise OutOfRange(f"{field} must be in 0..{maximum}, got {value}")
    return value


def a_uuid(field: str, value: object) -> uuid.UUID:
    """Checks that ``value`` is a :class:`uuid.UUID`."""
    if not isinstance(value, uuid.UUID):
        raise InvalidArgument(f"{field} must be a uuid.UUID, not {type(value).__name__}")
    return value


def member(field: str, enum: type[E], value: object) -> E:
    """Coerces ``value`` to a member of ``enum`` (MSM_EINVAL when it is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{field} must be a {enum.__name__}, not {type(value).__name__}")
    try:
        return enum(value)
    except ValueError:
        raise InvalidArgument(f"{field}: {value} is not a valid {enum.__name__}") from None


def enum_or_int(enum: type[E], value: int) -> int:
    """Returns the enum member for ``value`` when there is one, else the bare int."""
    try:
        return enum(value)
    except ValueError:
        return value


def uuid_or_none(raw: bytes) -> uuid.UUID | None:
    """Reads a 16-byte C uuid; the all-zero uuid means "none"."""
    return None if raw == bytes(16) else uuid.UUID(bytes=raw)
