"""One console-side connection to an XPS daemon: connect, reconnect, calls and events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, Protocol

from xenon_tui._config import ServerEntry, TlsFiles
from xenon_tui._errors import NotConnectedError, ServerError


class LinkState(Enum):
    """What the servers panel shows (green / red / grey / yellow)."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"


class EventLike(Protocol):
    """A pushed event (``xps.protocol.Event``)."""

    event: str
    data: dict[str, Any]


class Client(Protocol):
    """The part of ``xps.client.XpsClient`` the console uses."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def call(self, method: str, **params: Any) -> dict[str, Any]: ...

    async def subscribe(self, events: list[str] | None = None) -> list[str]: ...

    async def next_event(self, wait_s: float | None = None) -> Any: ...

    def pending_events(self) -> list[Any]: ...


ClientFactory = Callable[[ServerEntry, TlsFiles, bool], Client]
StateCallback = Callable[[LinkState, str], None]
EventCallback = Callable[[dict[str, Any]], None]


def xps_client_factory(entry: ServerEntry, tls: TlsFiles, read_only: bool) -> Client:
    """Builds a real ``xps.client.XpsClient`` for ``entry`` (read-only socket if asked)."""
    from xps.client import XpsClient  # imported late: the console starts without a daemon

    client: Client = XpsClient(
        entry.host,
        entry.socket_port(read_only),
        ca=tls.ca,
        cert=tls.cert,
        key=tls.key,
    )
    return client


def _error_fields(exc: BaseException) -> tuple[str, str]:
    code = getattr(exc, "code", None) or type(exc).__name__
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(code), str(message)


def coalesce(events: list[Any]) -> list[dict[str, Any]]:
    """Merges the violation batches of one drain into one event (keeps the others in order).

    At 10,000 violations/s the daemon sends many small batches; handing the UI one batch
    per drain keeps the work per frame bounded.
    """
    out: list[dict[str, Any]] = []
    merged: dict[str, Any] | None = None
    for event in events:
        name, data = event.event, event.data
        if name != "violations":
            out.append({"event": name, "data": data})
            continue
        if merged is None:
            merged = {
                "violations": list(data.get("violations", [])),
                "last_seq": data.get("last_seq"),
                "dropped": data.get("dropped", 0),
            }
            out.append({"event": "violations", "data": merged})
        else:
            merged["violations"].extend(data.get("violations", []))
            merged["last_seq"] = data.get("last_seq")
            merged["dropped"] = max(merged["dropped"] or 0, data.get("dropped") or 0)
    return out


class ServerConnection:
    """Keeps one daemon connected (exponential back-off) and forwards its events.

    ``run()`` is meant for a worker: it loops until :meth:`stop`. Calls made while the link
    is down raise :class:`NotConnectedError`; daemon errors become :class:`ServerError`.
    """

    MAX_BACKOFF_S = 10.0

    def __init__(
        self,
        entry: ServerEntry,
        tls: TlsFiles,
        *,
        read_only: bool,
        on_state: StateCallback,
        on_event: EventCallback,
        factory: ClientFactory = xps_client_factory,
        on_connected: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.entry = entry
        self.read_only = read_only
        self._tls = tls
        self._on_state = on_state
        self._on_event = on_event
        self._on_connected = on_connected
        self._factory = factory
        self._client: Client | None = None
        self._stopping = asyncio.Event()
        self.state = LinkState.DISCONNECTED

    @property
    def address(self) -> str:
        """The server's ``host:port`` key."""
        return self.entry.address

    def _set(self, state: LinkState, detail: str = "") -> None:
        self.state = state
        self._on_state(state, detail)

    async def run(self) -> None:
        """Connects, subscribes and pumps events; reconnects until :meth:`stop`."""
        backoff = 0.25
        while not self._stopping.is_set():
            self._set(LinkState.CONNECTING)
            client = self._factory(self.entry, self._tls, self.read_only)
            try:
                await client.connect()
                await client.subscribe()
                self._client = client
                backoff = 0.25
                self._set(LinkState.CONNECTED)
                if self._on_connected is not None:
                    await self._on_connected()
                await self._pump(client)
                if not self._stopping.is_set():
                    self._set(LinkState.LOST, "the daemon closed the connection")
            except asyncio.CancelledError:
                await self._close(client)
                raise
            except Exception as exc:  # any failure of the link means "lost, retry"
                code, message = _error_fields(exc)
                self._set(LinkState.LOST, message)
                if code == "not_permitted":  # this process may not connect there: stop
                    await self._close(client)
                    break
            await self._close(client)
            if self._stopping.is_set():
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._stopping.wait()
            backoff = min(backoff * 2, self.MAX_BACKOFF_S)
        self._set(LinkState.DISCONNECTED)

    async def _pump(self, client: Client) -> None:
        """Forwards pushed events until the link drops or :meth:`stop` is called."""
        while not self._stopping.is_set():
            try:
                first = await client.next_event(wait_s=0.5)
            except Exception:  # the client's Timeout: just check the link again
                if not client.connected:
                    return
                continue
            for event in coalesce([first, *client.pending_events()]):
                self._on_event(event)

    async def _close(self, client: Client) -> None:
        self._client = None
        with contextlib.suppress(Exception):
            await client.close()

    async def stop(self) -> None:
        """Ends :meth:`run` and closes the link."""
        self._stopping.set()
        client = self._client
        if client is not None:
            await self._close(client)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Calls a daemon method.

        Raises:
            NotConnectedError: The link is down.
            ServerError: The daemon answered with an error (its code is kept).
        """
        client = self._client
        if client is None or self.state is not LinkState.CONNECTED:
            raise NotConnectedError(self.address, f"{self.address} is not connected")
        try:
            return await client.call(method, **params)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            code, message = _error_fields(exc)
            raise ServerError(self.address, message, code=code) from exc
