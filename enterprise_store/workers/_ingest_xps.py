"""A :class:`HostEventSource` over XE's own XPS connections (``xps.client``, mutual TLS).

One connection per host, subscribed to ``violations`` and ``stats``; a lost connection is
retried with exponential back-off and announced with a ``connected`` event when it is
back, so the ingester resynchronises before it trusts the host's events again. Memory is
bounded: each connection buffers ``client_queue`` events (the client drops the oldest
beyond that and counts them; the ingester fetches dropped violations back by seq), and
all hosts share one queue of ``queue_events`` events that the ingester drains.

The compute workers' pool of host connections can stand in for this class: anything
with ``events()`` and ``get_violations()`` will do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from enterprise_store.workers._ingest import HostEvent
from xps.client import ConnectionState, XpsClient, XpsError

__all__ = ["HostEndpoint", "XpsHostsSource"]

log = logging.getLogger("enterprise_store.ingest")

_EVENTS = ["violations", "stats"]


@dataclass(frozen=True, slots=True)
class HostEndpoint:
    """Where a host's XPS listens.

    Attributes:
        host_id: XE's id of the host.
        address: Management address.
        port: XPS port (the read-only socket is enough).
        server_hostname: Name its certificate carries (default ``address``).
    """

    host_id: str
    address: str
    port: int
    server_hostname: str | None = None


class XpsHostsSource:
    """Events of a set of hosts. ``async with XpsHostsSource(...) as source:``.

    Args:
        hosts: The hosts to follow (change with :meth:`set_hosts`).
        ssl_context: XE's client TLS context (its certificate, the hosts' CA).
        timeout: Seconds for connecting and for each call.
        max_backoff: Longest wait between reconnection attempts.
        queue_events: Events of all hosts waiting for the ingester.
        client_queue: Events each connection buffers before dropping the oldest.
        poll_s: How often a quiet connection is checked for being lost.
    """

    def __init__(
        self,
        hosts: Iterable[HostEndpoint],
        ssl_context: ssl.SSLContext,
        *,
        timeout: float = 10.0,
        max_backoff: float = 30.0,
        queue_events: int = 256,
        client_queue: int = 64,
        poll_s: float = 1.0,
    ) -> None:
        self._ssl = ssl_context
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._client_queue = client_queue
        self._poll_s = poll_s
        self._queue: asyncio.Queue[HostEvent | None] = asyncio.Queue(queue_events)
        self._wanted = {h.host_id: h for h in hosts}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._clients: dict[str, XpsClient] = {}
        self._dropped_closed = 0
        self._open = False

    async def __aenter__(self) -> XpsHostsSource:
        self._open = True
        self.set_hosts(self._wanted.values())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def dropped_events(self) -> int:
        """Events the connections' buffers dropped (violations among them are fetched back)."""
        return self._dropped_closed + sum(c.events_dropped for c in self._clients.values())

    def connected(self, host_id: str) -> bool:
        """Whether the host's connection is up."""
        client = self._clients.get(host_id)
        return client is not None and client.connected

    def set_hosts(self, hosts: Iterable[HostEndpoint]) -> None:
        """Follows exactly ``hosts`` from now on (new ones connect, removed ones close)."""
        wanted = {h.host_id: h for h in hosts}
        for host_id, task in list(self._tasks.items()):
            if wanted.get(host_id) != self._wanted.get(host_id) or host_id not in wanted:
                task.cancel()
                del self._tasks[host_id]
        self._wanted = wanted
        if not self._open:
            return
        for host_id, endpoint in wanted.items():
            if host_id not in self._tasks:
                self._tasks[host_id] = asyncio.create_task(
                    self._follow(endpoint), name=f"ingest-xps-{host_id}"
                )

    async def close(self) -> None:
        """Closes every connection; :meth:`events` ends."""
        self._open = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def events(self) -> AsyncIterator[HostEvent]:
        """Every host's events until :meth:`close`."""
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def get_violations(self, host_id: str, since_seq: int, limit: int) -> Mapping[str, Any]:
        """``GetViolations`` on the host's current connection.

        Raises:
            XpsError: Not connected, or the call failed.
        """
        client = self._clients.get(host_id)
        if client is None or not client.connected:
            raise XpsError(f"host {host_id} is not connected")
        return await client.call("GetViolations", since_seq=since_seq, limit=limit)

    async def _follow(self, endpoint: HostEndpoint) -> None:
        delay = 0.2
        while True:
            client = XpsClient(
                endpoint.address,
                endpoint.port,
                ssl_context=self._ssl,
                timeout=self._timeout,
                server_hostname=endpoint.server_hostname,
                event_queue=self._client_queue,
            )
            try:
                await client.connect()
                await client.subscribe(_EVENTS)
                self._clients[endpoint.host_id] = client
                await self._queue.put(HostEvent(endpoint.host_id, "connected"))
                delay = 0.2
                await self._pump(endpoint.host_id, client)
            except XpsError as exc:
                # The message may quote the host: repr() keeps it on one line.
                log.info(
                    "ingest: host %s (%s:%d): %r",
                    endpoint.host_id,
                    endpoint.address,
                    endpoint.port,
                    exc.message[:300],
                )
            finally:
                if self._clients.get(endpoint.host_id) is client:
                    del self._clients[endpoint.host_id]
                self._dropped_closed += client.events_dropped
                await client.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)

    async def _pump(self, host_id: str, client: XpsClient) -> None:
        while True:
            try:
                event = await client.next_event(self._poll_s)
            except XpsError:
                if client.state is not ConnectionState.CONNECTED:
                    for left in client.pending_events():
                        await self._put(host_id, left.event, left.data)
                    return
                continue
            await self._put(host_id, event.event, event.data)

    async def _put(self, host_id: str, name: str, data: Any) -> None:
        if name in ("violations", "stats") and isinstance(data, Mapping):
            await self._queue.put(HostEvent(host_id, name, data))  # type: ignore[arg-type]
