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

    __slots__ = ("_last", "data", "members", "whole")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.members = {k: encode(k) + b":" + encode(v) for k, v in data.items()}
        self.whole = b"{" + b",".join(self.members.values()) + b"}"
        # The last ``more`` rendered over all members, and the result: a host's propagation
        # member stays the same (the same bytes object) from one host list to the next.
        self._last: tuple[dict[str, bytes], bytes] | None = None

    def render(self, more: dict[str, bytes] | None, selected: set[str] | None) -> bytes:
        """The object with members replaced or added (``more``), only ``selected`` ones."""
        if not more and selected is None:
            return self.whole
        if selected is None:
            last = self._last
            # The same dict (ViewDumps.member), or equal ones of the same bytes objects.
            if last is not None and (last[0] is more or last[0] == more):
                return last[1]
        members = {**self.members, **more} if more else self.members
        if selected is not None:
            members = {k: v for k, v in members.items() if k in selected}
        body = b"{" + b",".join(members.values()) + b"}"
        if selected is None and more:
            self._last = (more, body)
        return body


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
        self._identities: dict[tuple[int, str, Any], tuple[Any, dict[str, bytes]]] = {}

    def _dumps_of(self, view: EnterprisePolicy) -> dict[tuple[Any, Any], Dumped]:
        entry = self._views.get(id(view))
        if entry is None or entry[0] is not view:
            entry = (view, {})
            self._views[id(view)] = entry
            while len(self._views) > self._size:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(id(view))
        return entry[1]

    def _dump(
        self,
        dumps: dict[tuple[Any, Any], Dumped],
        view: EnterprisePolicy,
        out: Callable[[Any, EnterprisePolicy], Any],
        obj: Any,
    ) -> Dumped:
        key = (out, obj.id)
        found = dumps.get(key)
        if found is None:
            found = Dumped(out(obj, view).model_dump(mode="json"))
            if len(dumps) < self._per_view:
                dumps[key] = found
        return found

    def get(
        self, view: EnterprisePolicy, out: Callable[[Any, EnterprisePolicy], Any], obj: Any
    ) -> Dumped:
        """The JSON of ``out(obj, view)`` (a Pydantic model); callers must not change it."""
        return self._dump(self._dumps_of(view), view, out, obj)

    def get_many(
        self,
        view: EnterprisePolicy,
        out: Callable[[Any, EnterprisePolicy], Any],
        objs: Iterable[Any],
    ) -> list[Dumped]:
        """:meth:`get` of each of ``objs`` (a page: the snapshot is looked up once)."""
        dumps = self._dumps_of(view)
        return [self._dump(dumps, view, out, obj) for obj in objs]

    def member(self, name: str, value: Any, out: Callable[[Any], Any]) -> dict[str, bytes]:
        """``{name: '"name":' + the JSON of out(value)}`` (``out`` gives a Pydantic model)
        for a hashable frozen ``value`` (equal values, equal JSON: a host's propagation
        state stays the same between passes), to pass to :meth:`Dumped.render`. The same
        object again is found by identity first and answered with the same dict (hashing a
        dataclass of a dozen fields for each host of a page cost more than the rest)."""
        ident = (id(value), name, out)
        known = self._identities.get(ident)
        if known is not None and known[0] is value:
            return known[1]
        key = (out, value, name)
        found = self._values.get(key)
        if found is None:
            found = encode(name) + b":" + encode(out(value).model_dump(mode="json"))
            if len(self._values) >= self._per_view:
                self._values.clear()
            self._values[key] = found
        if len(self._identities) >= self._per_view:
            self._identities.clear()
        more = {name: found}
        # The value is kept with its dict, so that its id is not reused while it is here.
        self._identities[ident] = (value, more)
        return more
