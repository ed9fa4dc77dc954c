"""Lossless JSON-safe dict form of a policy, and MAC addresses in Xen's OUI."""

from __future__ import annotations

import dataclasses
import enum
import functools
import random
import types
import typing
from collections.abc import Callable, Mapping
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


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _sort_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


def _encode(value: Any) -> Any:
    kind: type = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is UUID:
        return str(value)
    if kind is tuple:
        return [_encode(v) for v in value]
    if kind is frozenset:
        return sorted((_encode(v) for v in value), key=_sort_key)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return {name: _encode(getattr(value, name)) for name in _field_names(kind)}
    return value


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """Returns a JSON-safe dict of a policy (UUIDs and enums as strings, sets sorted).

    ``policy_from_dict(policy_to_dict(p)) == p`` holds for every policy.
    """
    result: dict[str, Any] = _encode(policy)
    return result


# --------------------------------------------------------------------------- decode

_Decoder = Callable[[Any], Any]


class _Bad(Exception):
    """A decoding failure; containers prepend their path segment while it propagates."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def _within(segment: str, decode: _Decoder, value: Any) -> Any:
    try:
        return decode(value)
    except _Bad as bad:
        bad.path.append(segment)
        raise


def _type_name(value: Any) -> str:
    return type(value).__name__


def _union(inner: _Decoder) -> _Decoder:
    def decode(value: Any) -> Any:
        return None if value is None else inner(value)

    return decode


def _sequence(item: _Decoder, build: Callable[[Any], Any]) -> _Decoder:
    def decode(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise _Bad(f"expected a list, got {_type_name(value)}")
        try:
            return build(item(v) for v in value)
        except _Bad as bad:
            # Find the failing index only on the slow path.
            for index, v in enumerate(value):
                try:
                    item(v)
                except _Bad:
                    bad.path.append(f"[{index}]")
                    break
            raise

    return decode


def _fixed(items: tuple[_Decoder, ...]) -> _Decoder:
    def decode(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise _Bad(f"expected a list, got {_type_name(value)}")
        if len(value) != len(items):
            raise _Bad(f"expected {len(items)} items, got {len(value)}")
        return tuple(
            _within(f"[{i}]", d, v) for i, (d, v) in enumerate(zip(items, value, strict=True))
        )

    return decode


def _uuid(value: Any) -> UUID:
    if not isinstance(value, str):
        raise _Bad("expected a UUID string")
    try:
        return UUID(value)
    except ValueError:
        raise _Bad(f"not a UUID: {value!r}") from None


def _enum(tp: type[enum.Enum]) -> _Decoder:
    allowed = ", ".join(str(m.value) for m in tp)

    def decode(value: Any) -> Any:
        try:
            return tp(value)
        except ValueError:
            raise _Bad(f"{value!r} is not one of {allowed}") from None

    return decode


def _scalar(tp: type, label: str) -> _Decoder:
    def decode(value: Any) -> Any:
        if type(value) is not tp:
            raise _Bad(f"expected {label}, got {_type_name(value)}")
        return value

    return decode


@functools.cache
def _decoder(tp: Any) -> _Decoder:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in args if a is not type(None))
        return _union(_decoder(inner))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence(_decoder(args[0]), tuple)
        return _fixed(tuple(_decoder(a) for a in args))
    if origin is frozenset:
        return _sequence(_decoder(args[0]), frozenset)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _object(tp)
    if tp is UUID:
        return _uuid
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if tp is bool:
        return _scalar(bool, "true or false")
    if tp is int:
        return _scalar(int, "an integer")
    if tp is str:
        return _scalar(str, "a string")
    raise TypeError(f"unsupported field type {tp!r}")  # pragma: no cover - model bug


def _object(cls: type) -> _Decoder:
    hints = typing.get_type_hints(cls)
    fields = [
        (
            f.name,
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
    ]
    known = frozenset(name for name, _ in fields)
    # Resolved lazily: Policy -> Hardware -> ... are built on first use.
    decoders: dict[str, _Decoder] = {}

    def decode(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _Bad(f"expected an object, got {_type_name(value)}")
        if not known.issuperset(value):
            unknown = sorted(map(str, set(value) - known))
            raise _Bad(f"unknown field(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, required in fields:
            if name in value:
                decoder = decoders.get(name)
                if decoder is None:
                    decoder = decoders[name] = _decoder(hints[name])
                kwargs[name] = _within(f".{name}", decoder, value[name])
            elif required:
                bad = _Bad("missing")
                bad.path.append(f".{name}")
                raise bad
        return cls(**kwargs)

    return decode


def policy_from_dict(data: Mapping[str, Any]) -> Policy:
    """Rebuilds a policy from :func:`policy_to_dict` output (e.g. decoded JSON).

    Fields with a default may be absent; unknown fields are refused.

    Raises:
        PolicyFormatError: Wrong type, bad UUID or enum value, missing or unknown
            field; the message names the path (``domains[3].seclabel``).
    """
    try:
        policy: Policy = _decoder(Policy)(data)
    except _Bad as bad:
        path = "".join(reversed(bad.path)).lstrip(".") or "policy"
        raise PolicyFormatError(f"{path}: {bad.message}") from None
    return policy
