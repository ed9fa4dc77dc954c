"""The async XPS client: mutual TLS, request/response by id, events, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from xps.client._errors import (
    ConnectionLost,
    NotAuthorized,
    NotPermitted,
    ProtocolViolation,
    RemoteError,
    Timeout,
    TlsError,
    XpsError,
)
from xps.pki import PkiError, TlsMaterial, client_context
from xps.protocol import (
    MAX_RESPONSE_FRAME,
    UNAUTHORIZED,
    ErrorResponse,
    Event,
    FrameDecoder,
    ProtocolError,
    Response,
    encode_request,
    parse_server_message,
)

log = logging.getLogger("xps.client")
_READ_CHUNK = 256 * 1024


class ConnectionState(enum.Enum):
    """What the console shows as green/red."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


StateCallback = Callable[[ConnectionState], None]


class XpsClient:
    """An async client for one XPS daemon.

    Args:
        host: Daemon host name or address.
        port: Daemon port (read-write or read-only socket).
        ca: Trust store (PEM) the server certificate is verified against.
        cert: Client certificate (PEM); or use ``keystore``.
        key: Client private key (PEM).
        keystore: PKCS#12 container with the client key and certificate.
        keystore_pass: Its password.
        timeout: Seconds for connecting and for each call.
        server_hostname: Name checked against the server certificate (default ``host``).
        reconnect: Reconnect with exponential back-off after a lost connection.
        max_backoff: Upper bound of the back-off in seconds.
        on_state: Called (on the event loop) with every new :class:`ConnectionState`.
        local_addr: Source address to bind (tests connect from 127.0.0.2).
        ssl_context: A ready client context (overrides the TLS material).
        event_queue: Pushed events buffered for :meth:`events` before the oldest are dropped.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ca: Path | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        keystore: Path | None = None,
        keystore_pass: str | None = None,
        timeout: float = 5.0,
        server_hostname: str | None = None,
        reconnect: bool = False,
        max_backoff: float = 10.0,
        on_state: StateCallback | None = None,
        local_addr: tuple[str, int] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        event_queue: int = 100_000,
    ) -> None:
        self.host, self.port = host, port
        self.timeout = timeout
        self.reconnect = reconnect
        self.max_backoff = max_backoff
        self._server_hostname = server_hostname or host
        self._local_addr = local_addr
        self._on_state = on_state
        if ssl_context is None:
            if ca is None:
                raise TlsError("a trust store (ca) is required")
            try:
                ssl_context = client_context(
                    TlsMaterial(
                        ca=ca, cert=cert, key=key, keystore=keystore, keystore_pass=keystore_pass
                    )
                )
            except PkiError as exc:
                raise TlsError(exc.message) from exc
        self._ssl = ssl_context
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._state = ConnectionState.DISCONNECTED
        self._state_queues: set[asyncio.Queue[ConnectionState]] = set()
        self._events: asyncio.Queue[Event] = asyncio.Queue(event_queue)
        self._subscription: list[str] | None = None
        self._closing = False
        self.events_dropped = 0
        self.last_error: XpsError | None = None

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """The current connection state."""
        return self._state

    @property
    def connected(self) -> bool:
        """True while connected and authorized."""
        return self._state is ConnectionState.CONNECTED

    def _set_state(self, state: ConnectionState) -> None:
        if state is self._state:
            return
        self._state = state
        for queue in self._state_queues:
            queue.put_nowait(state)
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("connection state callback failed")

    async def states(self) -> AsyncIterator[ConnectionState]:
        """Yields every state change from now on, until the client is closed."""
        queue: asyncio.Queue[ConnectionState] = asyncio.Queue()
        self._state_queues.add(queue)
        try:
            while True:
                state = await queue.get()
                yield state
                if state is ConnectionState.CLOSED:
                    return
        finally:
            self._state_queues.discard(queue)

    # -- connect / close -----------------------------------------------------------------

    async def connect(self) -> None:
        """Connects, completes mutual TLS and checks that the server accepts us (Ping).

        Raises:
            TlsError: TLS failed or the server refused our certificate.
            NotAuthorized: The server does not authorize this (remote) client.
            ConnectionLost: The server is unreachable or closed the connection.
            Timeout: No connection within ``timeout``.
        """
        if self.connected:
            return
        self._closing = False
        try:
            await self._open()
        except XpsError as exc:
            self.last_error = exc
            self._set_state(ConnectionState.DISCONNECTED)
            if self.reconnect and not isinstance(exc, TlsError | NotAuthorized):
                self._start_reconnect()
            raise

    async def _open(self) -> None:
        self._set_state(ConnectionState.CONNECTING)
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname,
                    ssl_handshake_timeout=self.timeout,
                    local_addr=self._local_addr,
                )
        except TimeoutError as exc:
            raise Timeout(
                f"no connection to {self.host}:{self.port} within {self.timeout}s"
            ) from exc
        except ssl.SSLError as exc:
            raise TlsError(f"TLS with {self.host}:{self.port} failed: {exc.reason or exc}") from exc
        except PermissionError as exc:
            # Not the network: this process may not open that connection (a sandboxed
            # read-only console reaches its read-only ports only).
            raise NotPermitted(
                f"cannot connect to {self.host}:{self.port}: not permitted for this process "
                f"({exc.strerror})"
            ) from exc
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_loop(reader, writer))
        try:
            try:
                await self._call("Ping", {})
            except ConnectionLost as exc:
                # In TLS 1.3 the server checks our certificate after our side of the
                # handshake is done; a refusal shows up as the connection closing here.
                raise TlsError(
                    f"{self.host}:{self.port} closed the connection during authentication "
                    "(client certificate refused?)"
                ) from exc
            if self._subscription is not None:
                await self._call("Subscribe", {"events": self._subscription})
        except (XpsError, asyncio.CancelledError):
            # Cancelled while authenticating (a caller's timeout, a pool shutting down):
            # the half-open connection is dropped here, not left to the garbage collector.
            await self._drop_connection()
            raise
        self.last_error = None
        self._set_state(ConnectionState.CONNECTED)

    async def _drop_connection(self) -> None:
        writer, self._writer = self._writer, None
        task, self._reader_task = self._reader_task, None
        if writer is not None:
            writer.transport.abort()
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fail_pending(ConnectionLost("connection closed"))

    async def close(self) -> None:
        """Closes the connection and stops reconnecting."""
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect_task
            self._reconnect_task = None
        writer = self._writer
        if writer is not None:
            writer.close()
            await _wait_closed(writer, 1.0)
        await self._drop_connection()
        self._set_state(ConnectionState.CLOSED)

    async def __aenter__(self) -> XpsClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _fail_pending(self, error: XpsError) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(error)

    def _start_reconnect(self) -> None:
        if self._closing or (self._reconnect_task is not None and not self._reconnect_task.done()):
            return
        self._reconnect_task = asyncio.create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        delay = 0.1
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self._open()
                return
            except (TlsError, NotAuthorized) as exc:
                # Retrying cannot fix a refused certificate; report it and stop.
                self.last_error = exc
                self._set_state(ConnectionState.DISCONNECTED)
                return
            except XpsError as exc:
                self.last_error = exc
                self._set_state(ConnectionState.DISCONNECTED)
            delay = min(delay * 2, self.max_backoff)

    # -- reading -------------------------------------------------------------------------

    async def _read_loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder(MAX_RESPONSE_FRAME)
        error: XpsError = ConnectionLost("the server closed the connection")
        try:
            while True:
                data = await reader.read(_READ_CHUNK)
                if not data:
                    break
                for payload in decoder.feed(data):
                    self._deliver(payload)
        except ssl.SSLError as exc:
            error = TlsError(f"TLS error: {exc.reason or exc}")
        except OSError as exc:
            error = ConnectionLost(f"connection lost: {exc}")
        except ProtocolError as exc:
            error = ProtocolViolation(exc.message)
        except XpsError as exc:
            error = exc
        if self._writer is writer:
            self._writer = None
            self._reader_task = None
            writer.transport.abort()
            self._fail_pending(error)
            self.last_error = error
            if self._state is ConnectionState.CONNECTED and not self._closing:
                log.info("connection to %s:%d lost: %s", self.host, self.port, error.message)
                self._set_state(ConnectionState.DISCONNECTED)
                if self.reconnect and not self._closing:
                    self._start_reconnect()

    def _deliver(self, payload: bytes) -> None:
        msg = parse_server_message(payload)
        if isinstance(msg, Event):
            if self._events.full():
                self._events.get_nowait()
                self.events_dropped += 1
            self._events.put_nowait(msg)
            return
        if msg.id is None:
            if isinstance(msg, ErrorResponse):
                cls = NotAuthorized if msg.code == UNAUTHORIZED else RemoteError
                raise cls(msg.code, msg.message, msg.details)
            return
        fut = self._pending.pop(msg.id, None) if isinstance(msg.id, int) else None
        if fut is None or fut.done():
            return
        if isinstance(msg, Response):
            fut.set_result(msg.result)
        else:
            cls = NotAuthorized if msg.code == UNAUTHORIZED else RemoteError
            fut.set_exception(cls(msg.code, msg.message, msg.details))

    # -- calls ---------------------------------------------------------------------------

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        writer = self._writer
        if writer is None or writer.transport.is_closing():
            raise ConnectionLost(f"not connected to {self.host}:{self.port}")
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            writer.write(encode_request(rid, method, params))
            async with asyncio.timeout(self.timeout):
                return await fut
        except TimeoutError as exc:
            raise Timeout(f"{method}: no answer within {self.timeout}s") from exc
        finally:
            self._pending.pop(rid, None)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Sends one request and returns its result.

        Raises:
            RemoteError: The server answered with an error (``code`` says which).
            ConnectionLost: Not connected, or the connection dropped.
            Timeout: No answer within ``timeout``.
        """
        return await self._call(method, params)

    # -- events --------------------------------------------------------------------------

    async def subscribe(self, events: list[str] | None = None) -> list[str]:
        """Asks for pushed events (renewed automatically after a reconnect).

        Returns:
            The event names subscribed to.
        """
        result = await self._call("Subscribe", {"events": events})
        self._subscription = list(result.get("subscribed", [])) or None
        return list(result.get("subscribed", []))

    async def unsubscribe(self) -> None:
        """Stops pushed events."""
        self._subscription = None
        await self._call("Unsubscribe", {})

    async def next_event(self, wait_s: float | None = None) -> Event:
        """Waits for the next pushed event.

        Raises:
            Timeout: None arrived within ``wait_s`` seconds.
        """
        try:
            async with asyncio.timeout(wait_s):
                return await self._events.get()
        except TimeoutError as exc:
            raise Timeout("no event within the timeout") from exc

    def pending_events(self) -> list[Event]:
        """Returns (and removes) every event already received, without waiting."""
        out: list[Event] = []
        while not self._events.empty():
            out.append(self._events.get_nowait())
        return out

    async def events(self) -> AsyncIterator[Event]:
        """Yields pushed events as they arrive (forever; cancel to stop)."""
        while True:
            yield await self._events.get()


async def _wait_closed(writer: asyncio.StreamWriter, limit_s: float) -> None:
    """Waits up to ``limit_s`` for a closed stream's TLS shutdown, then aborts it.

    Not ``await writer.wait_closed()``: every waiter awaits the same protocol future, so a
    waiter elsewhere that was cancelled (or a timeout around it) cancels that future for all,
    and a close that is our own business raised CancelledError into an unrelated caller
    (seen on Python 3.12 while a console unmounted). ``asyncio.wait`` never raises the
    waiter's outcome; our own task's cancellation still propagates.
    """
    waiter = asyncio.ensure_future(writer.wait_closed())
    done, _ = await asyncio.wait({waiter}, timeout=limit_s)
    if not done:
        waiter.cancel()
        writer.transport.abort()
        return
    if not waiter.cancelled():
        exc = waiter.exception()
        if exc is not None and not isinstance(exc, (OSError, ssl.SSLError)):
            raise exc
