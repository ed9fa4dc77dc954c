"""Canonical JSON of an enterprise policy: stable bytes whose SHA-256 names the version."""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from .._errors import InvalidInput
from ._policy import EnterprisePolicy

__all__ = [
    "MAX_JSON_BYTES",
    "policy_from_dict",
    "policy_from_json",
    "policy_sha256",
    "policy_to_dict",
    "policy_to_json",
]

MAX_JSON_BYTES = 512 * 1024 * 1024
"""Largest JSON document accepted (100,000 VMs take about 60 MB)."""

_FORMAT = 1


# --------------------------------------------------------------------------- encode


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _encode(value: Any) -> Any:
    kind: type = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is UUID:
        return str(value)
    if kind is tuple:
        return [_encode(v) for v in value]
    if kind is frozenset:
        return sorted(_encode(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return {name: _encode(getattr(value, name)) for name in _field_names(kind)}
    raise TypeError(f"cannot encode {kind.__name__}")  # pragma: no cover - model bug


def policy_to_dict(policy: EnterprisePolicy) -> dict[str, Any]:
    """Returns the JSON-safe dict of a policy (UUIDs and enums as strings, sets sorted).

    ``policy_from_dict(policy_to_dict(p)) == p`` for every policy.
    """
    body: dict[str, Any] = _encode(policy)
    return {"format": _FORMAT, **body}


def policy_to_json(policy: EnterprisePolicy) -> bytes:
    """Returns the canonical JSON of a policy: UTF-8, sorted keys, no spaces.

    Two equal policies give the same bytes, so :func:`policy_sha256` identifies a
    version by content.

    Raises:
        InvalidInput: A string cannot be written as UTF-8 (a lone surrogate).
    """
    try:
        text = json.dumps(
            policy_to_dict(policy),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"policy holds text that is not UTF-8: {exc.reason}") from exc


def policy_sha256(policy: EnterprisePolicy) -> str:
    """Returns the hex SHA-256 of the policy's canonical JSON: the version's identity."""
    return hashlib.sha256(policy_to_json(policy)).hexdigest()


# --------------------------------------------------------------------------- decode

_Decoder = Callable[[Any], Any]


class _Bad(Exception):
    """A decoding failure; containers prepend their path segment while it propagates."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def _type_name(value: Any) -> str:
    return type(value).__name__


def _optional(inner: _Decoder) -> _Decoder:
    def decode(value: Any) -> Any:
        return None if value is None else inner(value)

    return decode


def _sequence(item: _Decoder, build: Callable[[Any], Any]) -> _Decoder:
    def decode(value: Any) -> Any:
        if not isinstance(value, list):
            raise _Bad(f"expected a list, got {_type_name(value)}")
        out = []
        for index, v in enumerate(value):
            try:
                out.append(item(v))
            except _Bad as bad:
                bad.path.append(f"[{index}]")
                raise
        return build(out)

    return decode


def _fixed(items: tuple[_Decoder, ...]) -> _Decoder:
    def decode(value: Any) -> Any:
        if not isinstance(value, list):
            raise _Bad(f"expected a list, got {_type_name(value)}")
        if len(value) != len(items):
            raise _Bad(f"expected {len(items)} items, got {len(value)}")
        out = []
        for index, (d, v) in enumerate(zip(items, value, strict=True)):
            try:
                out.append(d(v))
            except _Bad as bad:
                bad.path.append(f"[{index}]")
                raise
        return tuple(out)

    return decode


def _uuid(value: Any) -> UUID:
    if not isinstance(value, str):
        raise _Bad(f"expected a UUID string, got {_type_name(value)}")
    try:
        return UUID(value)
    except ValueError:
        raise _Bad(f"not a UUID: {value[:40]!r}") from None


def _enum(tp: type[enum.Enum]) -> _Decoder:
    allowed = ", ".join(str(m.value) for m in tp)

    def decode(value: Any) -> Any:
        try:
            return tp(value)
        except ValueError:
            raise _Bad(f"{str(value)[:40]!r} is not one of {allowed}") from None

    return decode


def _str(value: Any) -> str:
    if type(value) is not str:
        raise _Bad(f"expected a string, got {_type_name(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad("string is not valid UTF-8 (lone surrogate)") from None
    return value


def _int(value: Any) -> int:
    if type(value) is not int:
        raise _Bad(f"expected an integer, got {_type_name(value)}")
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _Bad(f"expected true or false, got {_type_name(value)}")
    return value


@functools.cache
def _decoder(tp: Any) -> _Decoder:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in args if a is not type(None))
        return _optional(_decoder(inner))
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
    simple: dict[Any, _Decoder] = {bool: _bool, int: _int, str: _str}
    if tp in simple:
        return simple[tp]
    raise TypeError(f"unsupported field type {tp!r}")  # pragma: no cover - model bug


def _object(cls: type) -> _Decoder:
    hints = typing.get_type_hints(cls)
    fields = [
        (f.name, f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
    ]
    known = frozenset(name for name, _ in fields)
    # Resolved lazily: EnterprisePolicy -> Host -> CpuFacts … are built on first use.
    decoders: dict[str, _Decoder] = {}

    def decode(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _Bad(f"expected an object, got {_type_name(value)}")
        if not known.issuperset(value):
            unknown = sorted(str(k)[:40] for k in set(value) - known)
            raise _Bad(f"unknown field(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, required in fields:
            if name in value:
                decoder = decoders.get(name)
                if decoder is None:
                    decoder = decoders[name] = _decoder(hints[name])
                try:
                    kwargs[name] = decoder(value[name])
                except _Bad as bad:
                    bad.path.append(f".{name}")
                    raise
            elif required:
                missing = _Bad("missing")
                missing.path.append(f".{name}")
                raise missing
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise _Bad(str(exc)) from None

    return decode


def policy_from_dict(data: Mapping[str, Any]) -> EnterprisePolicy:
    """Rebuilds a policy from :func:`policy_to_dict` output.

    Fields with a default may be absent (``profiles`` then means the pre-defined
    ten); unknown fields and other formats are refused.

    Raises:
        InvalidInput: Wrong type, bad UUID or enum value, missing or unknown field;
            the message names the path (``vms[3].seclabel``).
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(f"policy: expected an object, got {_type_name(data)}")
    if data.get("format") != _FORMAT:
        raise InvalidInput(f"policy: format must be {_FORMAT}")
    body = {k: v for k, v in data.items() if k != "format"}
    try:
        policy: EnterprisePolicy = _decoder(EnterprisePolicy)(body)
    except _Bad as bad:
        path = "".join(reversed(bad.path)).lstrip(".") or "policy"
        raise InvalidInput(f"{path}: {bad.message}") from None
    return policy


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Bad(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _Bad(f"{name} is not a number JSON allows")


def policy_from_json(data: bytes | str) -> EnterprisePolicy:
    """Parses the JSON of a policy (as written by :func:`policy_to_json`, or any
    equivalent JSON).

    Refused: input over :data:`MAX_JSON_BYTES`, malformed JSON, duplicate keys,
    NaN/Infinity, anything :func:`policy_from_dict` refuses.

    Raises:
        InvalidInput: The message says what and where.
    """
    if isinstance(data, str):
        text = data
        if len(text) > MAX_JSON_BYTES:
            raise InvalidInput(f"policy JSON larger than {MAX_JSON_BYTES} bytes")
    else:
        if len(data) > MAX_JSON_BYTES:
            raise InvalidInput(f"policy JSON larger than {MAX_JSON_BYTES} bytes")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("policy JSON is not UTF-8") from None
    try:
        decoded = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _Bad as bad:
        raise InvalidInput(f"policy JSON: {bad.message}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"policy JSON is malformed: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (RecursionError, ValueError) as exc:
        raise InvalidInput(f"policy JSON is not acceptable: {type(exc).__name__}") from None
    return policy_from_dict(decoded)
