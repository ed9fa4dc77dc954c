"""The history part of the XE REST client: ``xe.history.violations(...)`` and friends.

Times (``since``, ``until``) are ``datetime`` objects or ISO 8601 strings, as the API takes
them; a naive ``datetime`` is UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from enterprise_store.schemas import Page
from enterprise_store.schemas_history import (
    IngestHostOut,
    StatsOut,
    ViolationFields,
    ViolationOut,
    ViolationSummaryOut,
)

if TYPE_CHECKING:
    from enterprise_store.client._client import XeClient

__all__ = ["HistoryClient"]

M = TypeVar("M", bound=BaseModel)
_PREFIX = "/api/v1/history"
When = dt.datetime | str | None
_INGEST = TypeAdapter(list[IngestHostOut])


def _when(value: When) -> str | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    return value


class HistoryClient:
    """The history endpoints of one :class:`XeClient` (``xe.history``)."""

    def __init__(self, xe: XeClient) -> None:
        self._xe = xe

    async def _get(self, path: str, model: type[M], **params: Any) -> M:
        response = await self._xe._request("GET", path, params=params)
        return model.model_validate_json(response.content)

    @staticmethod
    def _filters(
        enclave: str | None,
        host: str | None,
        vm: str | None,
        domain: str | None,
        kind: str | None,
        hypercall: int | None,
        since: When,
        until: When,
    ) -> dict[str, Any]:
        return {
            "enclave": enclave, "host": host, "vm": vm, "domain": domain, "kind": kind,
            "hypercall": hypercall, "since": _when(since), "until": _when(until),
        }  # fmt: skip

    async def violations(
        self,
        *,
        enclave: str | None = None,
        host: str | None = None,
        vm: str | None = None,
        domain: str | None = None,
        kind: str | None = None,
        hypercall: int | None = None,
        since: When = None,
        until: When = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[ViolationOut]:
        """One page of violations, newest first (ids are UUIDs; ``domain`` a host's name)."""
        params = self._filters(enclave, host, vm, domain, kind, hypercall, since, until)
        return await self._get(
            f"{_PREFIX}/violations", Page[ViolationOut], limit=limit, cursor=cursor, **params
        )

    async def violations_fields(
        self, fields: Sequence[str], **filters: Any
    ) -> Page[ViolationFields]:  # type: ignore[valid-type]
        """Violations with only ``fields``."""
        model: Any = Page[ViolationFields]  # type: ignore[valid-type]
        filters = {k: _when(v) if k in ("since", "until") else v for k, v in filters.items()}
        result: Any = await self._get(
            f"{_PREFIX}/violations", model, fields=",".join(fields), **filters
        )
        return result  # type: ignore[no-any-return]

    async def iter_violations(self, **filters: Any) -> AsyncIterator[ViolationOut]:
        """Every matching violation, newest first, page by page."""
        cursor = None
        while True:
            page = await self.violations(cursor=cursor, **filters)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def summary(
        self,
        *,
        enclave: str | None = None,
        host: str | None = None,
        vm: str | None = None,
        domain: str | None = None,
        kind: str | None = None,
        hypercall: int | None = None,
        since: When = None,
        until: When = None,
        limit: int = 1000,
    ) -> ViolationSummaryOut:
        """Counts and rates by enclave, host, VM and hypercall (default: the last hour)."""
        params = self._filters(enclave, host, vm, domain, kind, hypercall, since, until)
        return await self._get(
            f"{_PREFIX}/violations/summary", ViolationSummaryOut, limit=limit, **params
        )

    async def stats(
        self,
        *,
        host: str | None = None,
        vm: str | None = None,
        domain: str | None = None,
        range: str | None = None,
        since: When = None,
        until: When = None,
        limit: int = 10_000,
    ) -> StatsOut:
        """Statistics series (``domain=""``: the whole host; ``range`` 10m/2h/1d/1w)."""
        return await self._get(
            f"{_PREFIX}/stats", StatsOut, host=host, vm=vm, domain=domain, range=range,
            since=_when(since), until=_when(until), limit=limit,
        )  # fmt: skip

    async def ingest_status(self) -> list[IngestHostOut]:
        """How far each host's violations are stored."""
        response = await self._xe._request("GET", f"{_PREFIX}/ingest")
        return _INGEST.validate_json(response.content)
