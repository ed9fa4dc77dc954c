"""JSON specs derived from type hints, and the one JSON encoder of model values."""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from uuid import UUID

from ._fields import _LISTS, FieldError, JsonCodec, Spec, _items, _load_all, json_only, many

__all__ = ["JsonFlavor", "json_spec", "json_value"]

T = TypeVar("T")


def json_value(value: Any) -> Any:
    """The JSON-safe form of any model value: UUIDs and enums as strings, tuples as
    lists, sets sorted, dataclasses as dicts in field order (what every spec writes)."""
    kind: type = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is UUID:
        return str(value)
    if kind is tuple:
        return [json_value(v) for v in value]
    if kind is frozenset:
        return sorted(json_value(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return {name: json_value(getattr(value, name)) for name in _field_names(kind)}
    return value


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True, eq=False)
class JsonFlavor:
    """How the JSON specs :func:`json_spec` derives from type hints check values.

    Attributes:
        scalars: The converter of ``str``, ``int``, ``bool`` and ``UUID`` fields.
        enum: Builds the converter of an enum type.
        lists: Python types a JSON list may arrive as.
        wrap_errors: See :class:`Spec`.
        name_limit: See :class:`Spec`.
    """

    scalars: Mapping[type, JsonCodec[Any]]
    enum: Callable[[type[enum.Enum]], JsonCodec[Any]]
    lists: tuple[type, ...] = _LISTS
    wrap_errors: bool = False
    name_limit: int | None = None


def _fixed(
    items: tuple[JsonCodec[Any], ...], lists: tuple[type, ...]
) -> JsonCodec[tuple[Any, ...]]:
    loads = tuple(d.load for d in items)

    def dump(values: tuple[Any, ...]) -> list[Any]:
        return [d.dump(v) for d, v in zip(items, values, strict=True)]

    def load(value: Any) -> tuple[Any, ...]:
        raw = _items(value, lists)
        if len(raw) != len(items):
            raise FieldError(f"expected {len(items)} items, got {len(raw)}")
        out = []
        for index, (d, v) in enumerate(zip(loads, raw, strict=True)):
            try:
                out.append(d(v))
            except FieldError as bad:
                bad.path.append(f"[{index}]")
                raise
        return tuple(out)

    return JsonCodec(dump, load)


def _set_of(item: JsonCodec[Any], lists: tuple[type, ...]) -> JsonCodec[frozenset[Any]]:
    def dump(values: frozenset[Any]) -> list[Any]:
        return sorted(item.dump(v) for v in values)

    def load(value: Any) -> frozenset[Any]:
        return frozenset(_load_all(item.load, _items(value, lists)))

    return JsonCodec(dump, load)


def _nested(cls: type, flavor: JsonFlavor) -> JsonCodec[Any]:
    if (cls, flavor) not in _BUILDING:
        return json_spec(cls, flavor).json
    # A class that contains itself (indirectly) is resolved on first use.
    resolved: list[Spec[Any]] = []

    def spec() -> Spec[Any]:
        if not resolved:
            resolved.append(json_spec(cls, flavor))
        return resolved[0]

    def dump(value: Any) -> Any:
        return (resolved[0] if resolved else spec()).dump(value)

    def load(value: Any) -> Any:
        return (resolved[0] if resolved else spec()).load(value)

    return JsonCodec(dump, load)


def _json_of(tp: Any, flavor: JsonFlavor) -> JsonCodec[Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in args if a is not type(None))
        item = _json_of(inner, flavor)
        dump, load = item.dump, item.load
        return JsonCodec(
            lambda v: None if v is None else dump(v),
            lambda v: None if v is None else load(v),
        )
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return many(_json_of(args[0], flavor), flavor.lists)
        return _fixed(tuple(_json_of(a, flavor) for a in args), flavor.lists)
    if origin is frozenset:
        return _set_of(_json_of(args[0], flavor), flavor.lists)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _nested(tp, flavor)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return flavor.enum(tp)
    if tp in flavor.scalars:
        return flavor.scalars[tp]
    raise TypeError(f"no JSON converter for {tp!r}")  # pragma: no cover - model bug


_HINTED: dict[tuple[type, JsonFlavor], Spec[Any]] = {}
_BUILDING: set[tuple[type, JsonFlavor]] = set()


def json_spec(cls: type[T], flavor: JsonFlavor) -> Spec[T]:
    """The JSON-only spec of a dataclass, each field's converter derived from its type.

    For model families without an XML form of their own (XE's policy); ``str``, ``int``,
    ``bool``, ``UUID``, enums, ``X | None``, ``tuple[X, ...]``, fixed tuples,
    ``frozenset[X]`` and nested dataclasses.
    """
    key = (cls, flavor)
    found = _HINTED.get(key)
    if found is None:
        hints = typing.get_type_hints(cls)
        _BUILDING.add(key)
        try:
            fields = [
                json_only(f.name, _json_of(hints[f.name], flavor))
                for f in dataclasses.fields(cast(Any, cls))
            ]
        finally:
            _BUILDING.discard(key)
        found = _HINTED[key] = Spec(
            cls,
            cls.__name__,
            *fields,
            wrap_errors=flavor.wrap_errors,
            name_limit=flavor.name_limit,
        )
    return found
