"""Lossless JSON-safe dict form of a policy, and MAC addresses in Xen's OUI."""

from __future__ import annotations

import dataclasses
import enum
import functools
import random
import types
import typing
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from ._errors import PolicyFormatError
from ._model import Policy

__all__ = ["XEN_OUI", "generate_mac", "policy_from_dict", "policy_to_dict"]

XEN_OUI = "00:16:3e"
"""Xen's organisationally unique identifier; generated MACs start with it."""


def generate_mac(rng: random.Random | None = None) -> str:
    """Returns a random unicast MAC address in Xen's OUI (``00:16:3e:xx:xx:xx``).

    Args:
        rng: Source of randomness (seed it for reproducible MACs); default: a new
            ``random.Random()``.
    """
    rng = rng or random.Random()
    # The top bit of the fourth octet stays clear, as in libxl's generator.
    tail = (rng.randrange(0x80), rng.randrange(0x100), rng.randrange(0x100))
    return XEN_OUI + "".join(f":{octet:02x}" for octet in tail)


# --------------------------------------------------------------------------- encode


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, frozenset):
        return sorted((_encode(v) for v in value), key=lambda v: (str(type(v)), v))
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """Returns a JSON-safe dict of a policy (UUIDs and enums as strings, sets sorted).

    ``policy_from_dict(policy_to_dict(p)) == p`` holds for every policy.
    """
    result: dict[str, Any] = _encode(policy)
    return result


# --------------------------------------------------------------------------- decode


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fail(path: str, message: str) -> PolicyFormatError:
    return PolicyFormatError(f"{path or 'policy'}: {message}")


def _decode(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = (a for a in args if a is not type(None))
        return _decode(inner, value, path)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _fail(path, f"expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise _fail(path, f"expected {len(args)} items, got {len(value)}")
        return tuple(
            _decode(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is frozenset:
        if not isinstance(value, list | tuple):
            raise _fail(path, f"expected a list, got {type(value).__name__}")
        return frozenset(_decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _decode_object(tp, value, path)
    if tp is UUID:
        if not isinstance(value, str):
            raise _fail(path, "expected a UUID string")
        try:
            return UUID(value)
        except ValueError:
            raise _fail(path, f"not a UUID: {value!r}") from None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in tp)
            raise _fail(path, f"{value!r} is not one of {allowed}") from None
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(path, "expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, f"expected an integer, got {type(value).__name__}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise _fail(path, f"expected a string, got {type(value).__name__}")
        return value
    raise _fail(path, f"unsupported field type {tp!r}")  # pragma: no cover - model bug


def _decode_object(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected an object, got {type(value).__name__}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(value) - set(fields)
    if unknown:
        raise _fail(path, f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        where = f"{path}.{name}" if path else name
        if name in value:
            kwargs[name] = _decode(hints[name], value[name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _fail(where, "missing")
    return cls(**kwargs)


def policy_from_dict(data: Mapping[str, Any]) -> Policy:
    """Rebuilds a policy from :func:`policy_to_dict` output (e.g. decoded JSON).

    Fields with a default may be absent; unknown fields are refused.

    Raises:
        PolicyFormatError: Wrong type, bad UUID or enum value, missing or unknown
            field; the message names the path (``domains[3].seclabel``).
    """
    policy: Policy = _decode_object(Policy, data, "")
    return policy
