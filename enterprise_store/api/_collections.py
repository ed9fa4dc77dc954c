"""The one way collections page, select fields and answer; later collections copy it.

``?limit=1..1000`` (default 100), ``?cursor=`` (opaque, from ``next_cursor``),
``?fields=a,b`` (unknown names are refused), plus per-collection filters. The answer is
``{"items": [...], "next_cursor": str | null}``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Query, Response
from pydantic import BaseModel, TypeAdapter

from enterprise_store._errors import InvalidInput

__all__ = ["Cursor", "Fields", "Limit", "decode_cursor", "encode_cursor", "page", "parse_fields"]

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
]
Fields = Annotated[
    str | None,
    Query(max_length=1024, description="Comma-separated fields to return (default: all)."),
]


def encode_cursor(key: str | None) -> str | None:
    """The opaque cursor for a service paging key."""
    if key is None:
        return None
    raw = json.dumps({"k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> str | None:
    """The service paging key in ``cursor``.

    Raises:
        InvalidInput: Not a cursor this API made.
    """
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)["k"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidInput("invalid cursor: pass next_cursor back unchanged") from None
    if not isinstance(key, str):
        raise InvalidInput("invalid cursor: pass next_cursor back unchanged")
    return key


def parse_fields(fields: str | None, model: type[BaseModel]) -> set[str] | None:
    """The selected field names, or None for all.

    Raises:
        InvalidInput: A name is not a field of ``model``.
    """
    if fields is None or not fields.strip():
        return None
    names = {f.strip() for f in fields.split(",") if f.strip()}
    unknown = sorted(names - set(model.model_fields))
    if unknown:
        known = ", ".join(model.model_fields)
        raise InvalidInput(f"unknown fields {unknown}: choose from {known}")
    return names


@functools.cache
def _adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def page(
    model: type[BaseModel],
    items: Iterable[Any],
    next_key: str | None,
    fields: set[str] | None,
) -> Response:
    """The page response: ``items`` (service objects) validated as ``model`` and serialized
    in one pass each (a page of 100 costs one call into pydantic-core, not 200)."""
    adapter = _adapter(model)
    models = adapter.validate_python(list(items), from_attributes=True)
    include = None if fields is None else {"__all__": fields}
    body = b"".join(
        (
            b'{"items":',
            adapter.dump_json(models, include=include),
            b',"next_cursor":',
            json.dumps(encode_cursor(next_key)).encode(),
            b"}",
        )
    )
    return Response(body, media_type="application/json")
