"""API models of policy objects as encoded JSON, remembered per policy snapshot.

A snapshot (:class:`~enterprise_store.model.EnterprisePolicy`, or a caller's scoped view
of one) never changes, and an object's API model is a function of the object and the
snapshot only; so a collection page validates, dumps and encodes each object's model once
per version instead of once per request, and a page is the join of those bytes. At 1,000
hosts, building, dumping and encoding a page of 100 validated host models was ~10 ms of a
~12 ms request. The bytes are what Starlette's ``JSONResponse`` would send (UTF-8,
compact separators, no NaN).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import Response

from enterprise_store.model import EnterprisePolicy

__all__ = ["Dumped", "ViewDumps", "encode", "page_response"]


def encode(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (as Starlette's ``JSONResponse`` renders it)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class Dumped:
    """One object's JSON: the dict, each member encoded (``"key":value``), and the whole."""

    __slots__ = ("data", "members", "whole")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.members = {k: encode(k) + b":" + encode(v) for k, v in data.items()}
        self.whole = b"{" + b",".join(self.members.values()) + b"}"

    def render(self, more: dict[str, bytes] | None, selected: set[str] | None) -> bytes:
        """The object with members replaced or added (``more``), only ``selected`` ones."""
        if not more and selected is None:
            return self.whole
        members = {**self.members, **more} if more else self.members
        if selected is not None:
            members = {k: v for k, v in members.items() if k in selected}
        return b"{" + b",".join(members.values()) + b"}"


def page_response(items: Iterable[bytes], next_cursor: str | None) -> Response:
    """A collection page (``{"items": [...], "next_cursor": ...}``) of encoded items."""
    body = b'{"items":[' + b",".join(items) + b'],"next_cursor":' + encode(next_cursor) + b"}"
    return Response(body, media_type="application/json")


class ViewDumps:
    """``out(obj, view)``'s JSON, remembered per (view, out, object).

    Args:
        views: Snapshots kept (the newest versions and a few scoped views; the least
            recently used is dropped first).
        per_view: Objects remembered per snapshot (beyond it, dumps are built and not
            kept: a walk over 100,000 VMs must not pin them all).
    """

    def __init__(self, views: int = 8, per_view: int = 20_000) -> None:
        self._size = views
        self._per_view = per_view
        # id(view) -> (view, dumps): the view itself is kept so that its id is not reused.
        self._views: OrderedDict[int, tuple[EnterprisePolicy, dict[tuple[Any, Any], Dumped]]] = (
            OrderedDict()
        )
        self._values: dict[tuple[Any, Any, str], bytes] = {}

    def get(
        self, view: EnterprisePolicy, out: Callable[[Any, EnterprisePolicy], Any], obj: Any
    ) -> Dumped:
        """The JSON of ``out(obj, view)`` (a Pydantic model); callers must not change it."""
        entry = self._views.get(id(view))
        if entry is None or entry[0] is not view:
            entry = (view, {})
            self._views[id(view)] = entry
            while len(self._views) > self._size:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(id(view))
        dumps = entry[1]
        key = (out, obj.id)
        found = dumps.get(key)
        if found is None:
            found = Dumped(out(obj, view).model_dump(mode="json"))
            if len(dumps) < self._per_view:
                dumps[key] = found
        return found

    def member(self, name: str, value: Any, out: Callable[[Any], Any]) -> bytes:
        """``"name":`` and the JSON of ``out(value)`` (a Pydantic model) for a hashable
        frozen ``value`` (equal values, equal JSON: a host's propagation state stays the
        same between passes)."""
        key = (out, value, name)
        found = self._values.get(key)
        if found is None:
            found = encode(name) + b":" + encode(out(value).model_dump(mode="json"))
            if len(self._values) >= self._per_view:
                self._values.clear()
            self._values[key] = found
        return found
