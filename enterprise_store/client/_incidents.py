"""The host-incidents part of the XE REST client: ``xe.incidents.step(...)`` (issue #14
§2): a runbook's steps that XE performs on a host and records in its audit chain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from enterprise_store.schemas_incidents import IncidentOut

if TYPE_CHECKING:
    from enterprise_store.client._client import XeClient

__all__ = ["IncidentsClient"]


def _path(host: str, *rest: str) -> str:
    tail = "".join(f"/{quote(p, safe='')}" for p in rest)
    return f"/api/v1/hosts/{quote(host, safe='')}/incidents{tail}"


class IncidentsClient:
    """The host-incident endpoints of one :class:`XeClient` (``xe.incidents``)."""

    def __init__(self, xe: XeClient) -> None:
        self._xe = xe

    async def _post(self, path: str, body: dict[str, Any]) -> IncidentOut:
        response = await self._xe._request("POST", path, json=body)
        return IncidentOut.model_validate_json(response.content)

    async def open(self, host: str, domain: str, trigger_seqs: Sequence[int] = ()) -> IncidentOut:
        """Opens an incident for ``domain`` on ``host`` (name or id)."""
        return await self._post(_path(host), {"domain": domain, "trigger_seqs": list(trigger_seqs)})

    async def step(
        self,
        host: str,
        incident: str,
        step: str,
        outcome: str = "done",
        note: str | None = None,
        form: str | None = None,
    ) -> IncidentOut:
        """Records (quarantine / unquarantine: performs) one runbook step; ``form`` is a
        quarantine's: seclabel or vifs (its VIFs detached)."""
        body: dict[str, Any] = {"step": step, "outcome": outcome}
        if note is not None:
            body["note"] = note
        if form is not None:
            body["form"] = form
        return await self._post(_path(host, incident, "steps"), body)

    async def reopen(self, host: str, incident: str, note: str) -> IncidentOut:
        """Reopens a closed incident with a note."""
        return await self._post(_path(host, incident, "reopen"), {"note": note})
