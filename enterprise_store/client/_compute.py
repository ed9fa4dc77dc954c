"""The Compute part of the XE REST client: ``xe.compute.add_host(...)``, tasks, propagation.

Operations that start long work return :class:`TaskAccepted`; follow the task with
:meth:`ComputeClient.wait_task` (server-side wait, repeated until it ends),
:meth:`ComputeClient.watch_task` (the NDJSON stream) or :meth:`ComputeClient.task`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from enterprise_store._errors import ServiceUnreachable
from enterprise_store.client._errors import error_from_response
from enterprise_store.schemas import Page
from enterprise_store.schemas_compute import (
    DomainOut,
    HostFactsOut,
    HostRemoved,
    MigrationTargetOut,
    PropagationOut,
    TaskAccepted,
    TaskOut,
    VmStateOut,
)
from enterprise_store.schemas_propagation import PropagationTransitionOut

if TYPE_CHECKING:
    from enterprise_store.client._client import XeClient

__all__ = ["ComputeClient"]

M = TypeVar("M", bound=BaseModel)
_PREFIX = "/api/v1"
_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


def _ref(value: str) -> str:
    return quote(str(value), safe="")


class ComputeClient:
    """The Compute and task endpoints of one :class:`XeClient` (``xe.compute``)."""

    def __init__(self, xe: XeClient) -> None:
        self._xe = xe

    async def _get(self, path: str, model: type[M], **params: Any) -> M:
        response = await self._xe._request("GET", path, params=params)
        return model.model_validate_json(response.content)

    async def _post(
        self, path: str, model: type[M], body: Any = None, params: dict[str, Any] | None = None
    ) -> M:
        response = await self._xe._request("POST", path, json=body, params=params)
        return model.model_validate_json(response.content)

    # -- hosts -------------------------------------------------------------------------------

    async def add_host(
        self,
        name: str,
        address: str,
        port: int = 9443,
        *,
        color: str | None = None,
        order: int | None = None,
        cpu: dict[str, Any] | None = None,
        shared_storage: Sequence[str] = (),
        takeover: bool = False,
        ro_port: int | None = None,
    ) -> TaskAccepted:
        """Starts Add host… (admins); the task's result describes the host. ``ro_port``:
        its XPS's read-only port, the one an auditor's console reaches."""
        body: dict[str, Any] = {
            "name": name,
            "address": address,
            "port": port,
            "shared_storage": list(shared_storage),
            "takeover": takeover,
        }
        if color is not None:
            body["color"] = color
        if order is not None:
            body["order"] = order
        if cpu is not None:
            body["cpu"] = cpu
        if ro_port is not None:
            body["ro_port"] = ro_port
        return await self._post(f"{_PREFIX}/hosts/actions/add", TaskAccepted, body)

    async def remove_host(self, ref: str, *, force: bool = False) -> HostRemoved:
        """Removes a host (refused while XE's VMs run there unless ``force``)."""
        return await self._post(
            f"{_PREFIX}/hosts/{_ref(ref)}/actions/remove",
            HostRemoved,
            params={"force": "true" if force else None},
        )

    async def host_facts(self, ref: str) -> HostFactsOut:
        """What the host's XPS reported when it joined."""
        return await self._get(f"{_PREFIX}/hosts/{_ref(ref)}/facts", HostFactsOut)

    async def prior_policy(self, ref: str) -> str:
        """The XML export of the policy the host enforced before XE took over."""
        response = await self._xe._request("GET", f"{_PREFIX}/hosts/{_ref(ref)}/prior-policy")
        return response.text

    async def host_domains(self, ref: str) -> list[DomainOut]:
        """The domains the host runs now."""
        page = await self._get(f"{_PREFIX}/hosts/{_ref(ref)}/domains", Page[DomainOut])
        return list(page.items)

    # -- propagation -------------------------------------------------------------------------

    async def propagation(self, *, state: str | None = None) -> list[PropagationOut]:
        """Every visible host's propagation state, in panel order."""
        out: list[PropagationOut] = []
        cursor = None
        while True:
            page = await self._get(
                f"{_PREFIX}/propagation", Page[PropagationOut], state=state, cursor=cursor
            )
            out.extend(page.items)
            if page.next_cursor is None:
                return out
            cursor = page.next_cursor

    async def propagation_history(
        self,
        *,
        host: str | None = None,
        since: dt.datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[PropagationTransitionOut]:
        """One page of hosts' propagation transitions, newest first (``host``: one host by
        UUID or name; ``since``: at or after). Pass ``next_cursor`` back for the next."""
        return await self._get(
            f"{_PREFIX}/propagation/history",
            Page[PropagationTransitionOut],
            host=host,
            since=None if since is None else since.isoformat(),
            limit=limit,
            cursor=cursor,
        )

    async def host_propagation(self, ref: str) -> PropagationOut:
        """One host's propagation state."""
        return await self._get(f"{_PREFIX}/hosts/{_ref(ref)}/propagation", PropagationOut)

    async def reconverge(self, ref: str) -> PropagationOut:
        """Re-converges a drifted host, or lets XE take over a held one (admins)."""
        return await self._post(
            f"{_PREFIX}/hosts/{_ref(ref)}/propagation/reconverge", PropagationOut
        )

    async def propagate(self) -> TaskAccepted:
        """Starts a task that follows the current version to every host."""
        return await self._post(f"{_PREFIX}/propagation", TaskAccepted)

    # -- VMs ---------------------------------------------------------------------------------

    async def vm_action(self, ref: str, action: str) -> VmStateOut:
        """``start``, ``pause``, ``unpause``, ``shutdown``, ``reboot`` or ``destroy``."""
        return await self._post(f"{_PREFIX}/vms/{_ref(ref)}/actions/{_ref(action)}", VmStateOut)

    async def vm_state(self, ref: str) -> VmStateOut:
        """Where the VM is placed and what its host says it does."""
        return await self._get(f"{_PREFIX}/vms/{_ref(ref)}/state", VmStateOut)

    async def migration_targets(self, ref: str) -> list[MigrationTargetOut]:
        """The migration precheck: every other host, allowed or with every reason."""
        page = await self._get(
            f"{_PREFIX}/vms/{_ref(ref)}/migration-targets", Page[MigrationTargetOut]
        )
        return list(page.items)

    async def migrate(self, ref: str, to: str) -> TaskAccepted:
        """Starts the live migration of a running VM to host ``to`` (a task whose result
        has the downtime); a refused target raises ``PolicyRefused`` with every reason."""
        return await self._post(
            f"{_PREFIX}/vms/{_ref(ref)}/actions/migrate", TaskAccepted, {"to": to}
        )

    # -- tasks -------------------------------------------------------------------------------

    async def task(self, task_id: str, *, wait_s: float = 0) -> TaskOut:
        """The task (``wait_s``: the server answers once it ended, or after that long)."""
        params = {"wait": wait_s} if wait_s > 0 else {}
        return await self._get(f"{_PREFIX}/tasks/{_ref(task_id)}", TaskOut, **params)

    async def wait_task(self, task_id: str, timeout_s: float = 300.0) -> TaskOut:
        """The task once it ended (or as it is after ``timeout_s``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            remaining = deadline - loop.time()
            # Each request waits less than the client's own timeout.
            step = max(0.0, min(remaining, self._xe._http.timeout.read or 30.0) - 1.0)
            task = await self.task(task_id, wait_s=round(step, 1))
            if task.state in _TERMINAL or loop.time() >= deadline:
                return task

    async def tasks(
        self, *, kind: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[TaskOut]:
        """The newest tasks the caller may see (one page)."""
        page = await self._get(
            f"{_PREFIX}/tasks", Page[TaskOut], kind=kind, state=state, limit=limit
        )
        return list(page.items)

    async def cancel_task(self, task_id: str) -> TaskOut:
        """Cancels a queued or running task."""
        return await self._post(f"{_PREFIX}/tasks/{_ref(task_id)}/cancel", TaskOut)

    async def watch_task(self, task_id: str) -> AsyncIterator[TaskOut]:
        """Yields the task now and at every change until it ends (the NDJSON stream)."""
        xe = self._xe
        headers = {"Authorization": f"Bearer {xe.token}"} if xe.token else {}
        path = f"{_PREFIX}/tasks/{_ref(task_id)}/events"
        timeout = httpx.Timeout(xe._http.timeout.connect, read=None)
        try:
            async with xe._http.stream("GET", path, headers=headers, timeout=timeout) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_response(response)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield TaskOut.model_validate_json(line)
        except httpx.TransportError as exc:
            raise ServiceUnreachable(f"cannot reach {xe._http.base_url}: {exc}") from exc
