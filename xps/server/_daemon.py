"""The XPS daemon: two TLS 1.3 listeners, authorization, framing, dispatch and events.

Admission before authentication is :mod:`xps.server._admission`'s; from the TLS handshake
on, a connection is this module's. Limits that keep one client from hurting the others:
a deadline for each whole frame (from its first byte), a daemon-wide budget of bytes in
partially received frames, a size bound per request checked before it is decoded
(``xps.protocol._limits``; over ``LARGE_REQUEST`` only for methods that take large
parameters), and large frames decoded one per loop turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import os
import ssl
from collections.abc import Callable, Mapping
from typing import Any

from xps.pki import (
    CertIdentity,
    PkiError,
    describe_refusal,
    server_context,
    server_handshake,
    write_private,
)
from xps.protocol import (
    AUTHSTORE_LOCKED,
    BAD_REQUEST,
    BUSY,
    EVENT_NAMES,
    INTERNAL,
    INVALID_PARAMS,
    LARGE_REQUEST,
    METHODS,
    READ_ONLY,
    UNAUTHORIZED,
    UNKNOWN_METHOD,
    FrameDecoder,
    ProtocolError,
    Request,
    encode_error,
    encode_response,
    parse_request,
    peek_call,
    validate_params,
)
from xps.server._admission import FrontDoor, Pending
from xps.server._auth import Authorizer
from xps.server._config import Address, ServerConfig
from xps.server._errors import ListenError
from xps.server._handlers import Handler
from xps.server._hub import EventHub, Subscriber
from xps.server._logging import BurstLog, flush_logs, trace, trace_request
from xps.server._session import READ_ONLY_LABEL, READ_WRITE_LABEL, Session

log = logging.getLogger("xps.server")

EventCallback = Callable[[dict[str, Any]], None]
#: ``host.subscribe``: registers a callback, returns the function that unregisters it.
EventSource = Callable[[EventCallback], Callable[[], None]]
PORTS_FILE = "ports"
# Also the StreamReader's limit: it stops reading from the socket beyond twice this, so
# unread data per connection stays below 512 KiB (a limit of max-frame let it reach 8 MiB).
_READ_CHUNK = 256 * 1024
_DRAIN_ABOVE = 256 * 1024
#: Frames above this many bytes are decoded one per loop turn (a 16 KiB frame holds at
#: most ~8,000 values: about 2 ms to decode).
_HEAVY_FRAME = 16 * 1024
#: A connection holding less than this in a partial frame is never refused by
#: ``max-buffered``: small requests always pass.
_SMALL_PARTIAL = 64 * 1024
# A connection that ends in an error (its TLS close fails because the peer still sends, a
# refused partial frame) leaves reference cycles inside asyncio's TLS code (exception ->
# traceback -> frame -> protocol) that hold its buffers until a full collection, which a
# quiet daemon may not run for hours: measured, 100 clients holding partial frames left
# 47 MiB behind. After this many closed connections, one collection (~20 ms with the sim
# host), at most every _GC_INTERVAL_S.
_GC_AFTER_CLOSES = 64
_GC_INTERVAL_S = 10.0
_Builtin = Callable[[Session, dict[str, Any]], dict[str, Any]]


class XpsServer:
    """The policy server.

    Args:
        config: Listeners, TLS material, limits and timeouts.
        handlers: ``{method: handler}`` for host methods (see :func:`host_handlers`);
            ``Ping``, ``Subscribe``, ``Unsubscribe`` and the authorization methods are
            built in.
        event_source: ``host.subscribe``; its events are pushed to subscribers.
        ssl_context: Overrides the context built from ``config.tls`` (tests).

    Handlers report client-visible failures by raising an exception with a string
    ``code`` and a ``message`` (``HostError``, ``PkiError``); any other exception is
    answered with ``internal`` and logged with its traceback.
    """

    def __init__(
        self,
        config: ServerConfig,
        handlers: Mapping[str, Handler],
        *,
        event_source: EventSource | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self._handlers = dict(handlers)
        self._event_source = event_source
        self._ssl = ssl_context or server_context(config.tls)
        self.authorizer = Authorizer(
            config.authstore_file, config.authstore_pass, config.local_addresses
        )
        self.hub = EventHub(config.subscriber_buffer, config.subscriber_buffer_total)
        self._burst = BurstLog(log, config.log_burst_window)
        self._door: FrontDoor | None = None
        self._heavy = asyncio.Lock()
        self._partial = 0  # bytes of partial frames and undecoded frames, all connections
        self._closed_since_gc = 0
        self._last_gc = float("-inf")
        self._builtins: dict[str, _Builtin] = {
            "Ping": self._ping,
            "Subscribe": self._subscribe,
            "Unsubscribe": self._unsubscribe,
            "ListAuthorizations": self._list_authorizations,
            "AddAuthorization": self._add_authorization,
            "RemoveAuthorization": self._remove_authorization,
        }
        self._numbers = itertools.count(1)
        self._sessions: set[Session] = set()
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self._tg: asyncio.TaskGroup | None = None
        self._stop = asyncio.Event()
        self._ready: asyncio.Future[None] | None = None
        self._main: asyncio.Task[None] | None = None
        self._event_unsub: Callable[[], None] | None = None
        self.ports: dict[str, int] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Binds the listeners, writes the ``ports`` file and starts serving.

        Raises:
            ListenError: A listener could not be bound.
        """
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._main = asyncio.create_task(self._run(), name="xps-server")
        await asyncio.shield(self._ready)

    async def close(self) -> None:
        """Stops listening, closes every connection and waits until all are done."""
        self._stop.set()
        if self._main is not None:
            with contextlib.suppress(ListenError):
                await self._main

    async def __aenter__(self) -> XpsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_closed(self) -> None:
        """Waits until :meth:`close` has finished (or the server failed)."""
        if self._main is not None:
            await asyncio.shield(self._main)

    async def _run(self) -> None:
        assert self._ready is not None
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                try:
                    await self._bind()
                    if self._event_source is not None:
                        self._event_unsub = self._event_source(self.hub.publish)
                except BaseException as exc:
                    if not self._ready.done():
                        self._ready.set_exception(exc)
                    raise
                sweeper = tg.create_task(self._sweeper(), name="xps-sweeper")
                self._ready.set_result(None)
                await self._stop.wait()
                sweeper.cancel()
                self._shutdown()
        except* ListenError:
            pass
        finally:
            self._tg = None
            if self._event_unsub is not None:
                self._event_unsub()
            if self._door is not None:
                self._door.close()
            self._burst.flush(force=True)
            log.info("Xenon Policy Server stopped")
            flush_logs()

    def _shutdown(self) -> None:
        if self._door is not None:
            self._door.close()
        for task in self._conn_tasks:
            task.cancel()

    async def _bind(self) -> None:
        listeners: list[tuple[str, Address]] = []
        if self.config.listen is not None:
            listeners.append((READ_WRITE_LABEL, self.config.listen))
        if self.config.ro_listen is not None:
            listeners.append((READ_ONLY_LABEL, self.config.ro_listen))
        door = self._door = FrontDoor(self.config, self._start_connection, self._burst)
        for label, (host, port) in listeners:
            try:
                bound = await door.bind(label, host, port)
            except OSError as exc:
                door.close()
                raise ListenError(f"{label} socket: cannot listen on {host}:{port}: {exc}") from exc
            key = "read_write" if label == READ_WRITE_LABEL else "read_only"
            self.ports[key] = bound
            log.info("%s socket: Listening on %s:%d", label, host, bound)
        self._write_ports_file()

    def _write_ports_file(self) -> None:
        doc = {"pid": os.getpid(), **self.ports}
        try:
            write_private(self.config.state_dir / PORTS_FILE, json.dumps(doc).encode() + b"\n")
        except PkiError as exc:
            log.error("Cannot write the ports file: %s", exc.message)

    def _start_connection(self, p: Pending) -> None:
        """The front door gave ``p`` a handshake slot."""
        if self._tg is None or self._stop.is_set():
            assert self._door is not None
            self._door.handshake_done(p)
            p.sock.close()
            return
        task = self._tg.create_task(self._connection(p))
        self._conn_tasks.add(task)
        task.add_done_callback(self._conn_tasks.discard)

    async def _streams(self, p: Pending) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Plain streams over an accepted socket, ready for ``start_tls`` as the server.

        The ClientHello is still in the socket (the front door only peeked at it).
        """
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_READ_CHUNK, loop=loop)
        made: list[asyncio.StreamWriter] = []

        def connected(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            made.append(writer)  # a connected-callback also makes start_tls server-side

        protocol = asyncio.StreamReaderProtocol(reader, connected, loop=loop)
        p.handed_off = True  # from here the transport owns (and closes) the socket
        await loop.connect_accepted_socket(lambda: protocol, p.sock)
        # Taken out of the list: the protocol keeps its callback, and a writer reachable
        # from it would be a reference cycle holding the connection's TLS buffers (256 KiB)
        # until a full garbage collection, long after the connection closed.
        return reader, made.pop()

    # -- one connection ------------------------------------------------------------------

    async def _connection(self, p: Pending) -> None:
        label, address = p.label, p.address
        writer: asyncio.StreamWriter | None = None
        try:
            try:
                try:
                    reader, writer = await self._streams(p)
                except OSError:
                    return  # gone before its handshake could start
                session = await self._accept(label, address, reader, writer)
            finally:
                assert self._door is not None
                self._door.handshake_done(p)
            if session is None:
                return
            self._sessions.add(session)
            try:
                await self._serve(session, reader)
            finally:
                self._sessions.discard(session)
                if session.subscriber is not None:
                    self.hub.discard(session.subscriber)
                log.info("%s: Done handling requests, closing socket", session.label)
        except Exception:
            log.exception("%s socket: Unexpected error on connection from /%s", label, address)
        finally:
            self._closed_since_gc += 1
            if writer is not None:
                await self._close_writer(writer)
            elif not p.handed_off:
                p.sock.close()

    async def _close_writer(self, writer: asyncio.StreamWriter) -> None:
        if writer.transport.is_closing():
            writer.transport.abort()
            return
        writer.close()
        try:
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            writer.transport.abort()

    async def _accept(
        self,
        label: str,
        address: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> Session | None:
        timeout = self.config.handshake_timeout
        try:
            async with asyncio.timeout(timeout):
                await server_handshake(
                    writer,
                    self._ssl,
                    handshake_timeout=timeout,
                    early_refusal=self.authorizer.early_refusal(address),
                )
        except TimeoutError:
            self._burst.event(
                f"{label} socket: TLS handshakes not completed",
                address,
                logging.ERROR,
                "%s socket: TLS handshake not completed within %gs; closing connection from /%s",
                label,
                timeout,
                address,
            )
            return None
        except ssl.SSLError as exc:
            # Unauthenticated peers can repeat this at will: once per reason and window.
            why = describe_refusal(exc)
            kind = f"{label} socket: Refused TLS handshakes ({why})"
            if self._burst.event(kind, address, logging.ERROR, "catching ssl.SSLError: %s", why):
                log.error("Could not determine peer X500Principal")
                log.error(
                    "%s socket: Closing unauthorized client connection from /%s", label, address
                )
            return None
        except OSError as exc:
            self._burst.event(
                f"{label} socket: Connections lost during the TLS handshake",
                address,
                logging.ERROR,
                "%s socket: Connection from /%s lost during TLS handshake: %s",
                label,
                address,
                exc.__class__.__name__,
            )
            return None
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            log.error("Could not determine peer X500Principal")
            log.error("%s socket: Closing unauthorized client connection from /%s", label, address)
            return None
        identity = CertIdentity.from_der(der)
        decision = self.authorizer.check(
            address, identity, read_only_socket=label == READ_ONLY_LABEL
        )
        if not decision.allowed:
            log.error(
                "%s socket: Refusing %s client X500Principal %s (SHA-256 %s): %s: %s",
                label,
                "local" if decision.local else "remote",
                identity.subject,
                identity.fingerprint,
                decision.alert,
                decision.reason,
            )
            log.error("%s socket: Closing unauthorized client connection from /%s", label, address)
            # After the handshake no TLS alert can be sent (Python's ssl has no call for
            # one): the error frame names the alert's class, then close_notify follows.
            why = f"not authorized ({decision.alert}): {decision.reason}"
            writer.write(encode_error(None, UNAUTHORIZED, why))
            return None
        kind = "local" if decision.local else "remote"
        trace(
            "%s socket: Accepting %s client connection from authorized X500Principal %s (%s)",
            label,
            kind,
            identity.subject,
            decision.reason,
        )
        trace("%s socket: Accepting authorized client connection from /%s", label, address)
        if len(self._sessions) >= self.config.max_clients:
            self._burst.event(
                f"{label} socket: Refused clients beyond max-clients",
                address,
                logging.ERROR,
                "%s socket: Closing connection from /%s: too many clients (%d)",
                label,
                address,
                self.config.max_clients,
            )
            writer.write(encode_error(None, BUSY, "too many clients; retry later"))
            return None
        session = Session(next(self._numbers), address, label, writer, identity, decision.local)
        if identity.read_only:
            log.info(
                "%s: Read-only client certificate X500Principal %s", session.label, identity.subject
            )
        log.info("%s: Ready for requests", session.label)
        return session

    async def _serve(self, session: Session, reader: asyncio.StreamReader) -> None:
        decoder = FrameDecoder(self.config.max_frame)
        cfg = self.config
        loop = asyncio.get_running_loop()
        writer = session.writer
        frame_start: float | None = None  # when the first byte of the pending frame came
        held = 0  # this connection's share of self._partial
        try:
            while True:
                if frame_start is not None:
                    # The whole frame has one deadline: a byte every few seconds does
                    # not keep a frame (and its buffer) open forever.
                    session.deadline = frame_start + cfg.frame_timeout
                elif cfg.idle_timeout > 0 and session.subscriber is None:
                    session.deadline = loop.time() + cfg.idle_timeout
                else:
                    session.deadline = None
                try:
                    data = await reader.read(_READ_CHUNK)
                except (OSError, ssl.SSLError) as exc:
                    data = b""
                    if not session.timed_out:
                        log.info("%s: Connection lost: %s", session.label, exc.__class__.__name__)
                        return
                if session.timed_out:
                    if decoder.in_frame:
                        log.warning(
                            "%s: Dropping incomplete frame (%d bytes after %gs); closing",
                            session.label,
                            decoder.buffered,
                            cfg.frame_timeout,
                        )
                    else:
                        log.info("%s: Idle for %gs", session.label, cfg.idle_timeout)
                    return
                if not data:
                    if decoder.in_frame:
                        log.warning("%s: Dropping incomplete frame at end of stream", session.label)
                    return
                session.deadline = None  # handlers take their time; the read deadline is reset
                was_in_frame = decoder.in_frame
                try:
                    frames = decoder.feed(data)
                except ProtocolError as exc:
                    log.warning("%s: Dropping frame: %s; closing", session.label, exc.message)
                    writer.write(encode_error(None, exc.code, exc.message))
                    return
                if not decoder.in_frame:
                    frame_start = None
                elif frames or not was_in_frame:
                    frame_start = loop.time()  # the pending frame began in this data
                # Until decoded, complete frames weigh like partial ones.
                holding = decoder.buffered + sum(map(len, frames))
                if (
                    holding > held
                    and decoder.buffered > _SMALL_PARTIAL
                    and self._partial - held + holding > cfg.max_buffered
                ):
                    self._refuse_partial(session, decoder.buffered)
                    return
                self._partial += holding - held
                held = holding
                for payload in frames:
                    await self._request(session, payload)
                    self._partial -= len(payload)
                    held -= len(payload)
                    # After each answer, not each read: 200 pipelined requests in one
                    # read, each answered with a megabyte, are 200 MB otherwise.
                    backlog = writer.transport.get_write_buffer_size()
                    if backlog > _DRAIN_ABOVE and not await self._drain(session):
                        return
        finally:
            self._partial -= held

    async def _drain(self, session: Session) -> bool:
        """Waits until the client has read its answers; False if it closed or timed out."""
        session.deadline = asyncio.get_running_loop().time() + self.config.write_timeout
        try:
            await session.writer.drain()
        except (OSError, ssl.SSLError):
            return False
        if session.timed_out:
            log.warning("%s: Client does not read its responses; closing", session.label)
            return False
        session.deadline = None
        return True

    def _refuse_partial(self, session: Session, buffered: int) -> None:
        """Closes a connection whose partial frame would exceed ``max-buffered``."""
        limit = self.config.max_buffered
        self._burst.event(
            f"{session.socket_label} socket: Refused partial frames beyond max-buffered",
            session.address,
            logging.WARNING,
            "%s: Dropping partial frame of %d bytes: %d bytes of partial frames are buffered "
            "(limit %d); closing",
            session.label,
            buffered,
            self._partial,
            limit,
        )
        message = f"too many large requests in progress ({limit} bytes buffered); retry later"
        session.writer.write(encode_error(None, BUSY, message))

    async def _sweeper(self) -> None:
        """Closes connections whose deadline passed; flushes the log buffers and bursts."""
        cfg = self.config
        limits = [cfg.frame_timeout, cfg.write_timeout, cfg.handshake_timeout]
        if cfg.idle_timeout > 0:
            limits.append(cfg.idle_timeout)
        tick = min(0.25, max(0.02, min(limits) / 4))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for session in list(self._sessions):
                if session.deadline is not None and session.deadline <= now:
                    session.timed_out = True
                    session.deadline = None
                    session.writer.transport.abort()
            if self._door is not None:
                self._door.sweep(now)
            self._burst.flush()
            flush_logs()
            if self._closed_since_gc >= _GC_AFTER_CLOSES and now - self._last_gc >= _GC_INTERVAL_S:
                self._closed_since_gc = 0
                self._last_gc = now
                gc.collect()

    # -- one request ---------------------------------------------------------------------

    async def _decode_heavy(self, session: Session, payload: bytes) -> Request:
        """Parses a request over ``_HEAVY_FRAME`` bytes (one per loop turn); one over
        ``LARGE_REQUEST`` only if its method takes large parameters.

        Raises:
            ProtocolError: Refused (an unknown or mutating method named by a large frame
                is refused as such, before the frame is decoded).
        """
        max_items = self.config.max_items
        if len(payload) > LARGE_REQUEST:
            rid, method = peek_call(payload)
            if method is None:
                raise ProtocolError(
                    BAD_REQUEST,
                    f"a request over {LARGE_REQUEST} bytes must begin with its id and method",
                    request_id=rid,
                )
            spec = METHODS.get(method)
            if spec is None or (method not in self._builtins and method not in self._handlers):
                raise ProtocolError(UNKNOWN_METHOD, f"unknown method {method!r}", request_id=rid)
            if session.read_only and not spec.read_only:
                raise ProtocolError(
                    READ_ONLY,
                    f"{method} changes state and is refused on the read-only socket",
                    request_id=rid,
                )
            if not spec.large:
                raise ProtocolError(
                    BAD_REQUEST,
                    f"request of {len(payload)} bytes is too large for {method} "
                    f"(limit {LARGE_REQUEST})",
                    request_id=rid,
                )
        # One large decode per loop turn: the lock is held across one yield, so other
        # connections' large frames wait while everybody's I/O and small requests run.
        async with self._heavy:
            request = parse_request(payload, max_items=max_items)
            await asyncio.sleep(0)
        return request

    async def _request(self, session: Session, payload: bytes) -> None:
        try:
            if len(payload) <= _HEAVY_FRAME:  # the hot path: no extra coroutine
                request = parse_request(payload, max_items=self.config.max_items)
            else:
                request = await self._decode_heavy(session, payload)
        except ProtocolError as exc:
            log.warning("%s: Dropping malformed request: %s", session.label, exc.message)
            session.writer.write(encode_error(exc.request_id, exc.code, exc.message))
            return
        trace_request(f"{session.label}: Received request {request.method}")
        try:
            handler, params = self._route(session, request)
            if handler is None:
                # Built-in methods are synchronous: no extra coroutine on the hot path.
                result = self._builtins[request.method](session, params)
            else:
                result = await handler(**params)
                if not isinstance(result, dict):
                    raise TypeError(f"{request.method} handler returned {type(result).__name__}")
            frame = encode_response(request.id, result)
        except ProtocolError as exc:
            log.warning("%s: Refused request %s: %s", session.label, request.method, exc.message)
            frame = encode_error(request.id, exc.code, exc.message)
        except Exception as exc:
            code = getattr(exc, "code", None)
            message = getattr(exc, "message", None)
            if isinstance(code, str) and isinstance(message, str):
                log.info(
                    "%s: Request %s failed: %s: %s", session.label, request.method, code, message
                )
                frame = encode_error(request.id, code, message, getattr(exc, "details", None))
            else:
                log.exception("%s: Request %s failed", session.label, request.method)
                frame = encode_error(request.id, INTERNAL, "internal server error")
        session.writer.write(frame)

    def _route(self, session: Session, request: Request) -> tuple[Handler | None, dict[str, Any]]:
        """Finds the handler (None for a built-in) and validates the params.

        Raises:
            ProtocolError: Unknown method, mutating request on the read-only socket, or
                invalid params.
        """
        spec = METHODS.get(request.method)
        handler = self._handlers.get(request.method)
        if spec is None or (handler is None and request.method not in self._builtins):
            raise ProtocolError(UNKNOWN_METHOD, f"unknown method {request.method!r}")
        if session.read_only and not spec.read_only:
            raise ProtocolError(
                READ_ONLY, f"{request.method} changes state and is refused on the read-only socket"
            )
        if request.method in self._builtins:
            handler = None
        return handler, validate_params(spec, request.params)

    # -- built-in methods ----------------------------------------------------------------

    def _ping(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        return {"pong": True}

    def _subscribe(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params["events"]
        if wanted is None:
            events = frozenset(EVENT_NAMES)
        else:
            bad = [e for e in wanted if e not in EVENT_NAMES]
            if bad or not wanted:
                raise ProtocolError(
                    INVALID_PARAMS, f"Subscribe: events must be a non-empty subset of {EVENT_NAMES}"
                )
            events = frozenset(wanted)
        if session.subscriber is not None:
            self.hub.discard(session.subscriber)
        session.subscriber = Subscriber(session.label, session.writer.transport, events)
        self.hub.add(session.subscriber)
        return {"subscribed": sorted(events)}

    def _unsubscribe(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        was = session.subscriber is not None
        if session.subscriber is not None:
            self.hub.discard(session.subscriber)
            session.subscriber = None
        return {"unsubscribed": was}

    def _list_authorizations(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        store = self.authorizer.store()
        entries = [e.to_dict() for e in store.entries()] if store is not None else []
        return {"authorizations": entries, "writable": self.authorizer.writable_remotely}

    def _check_store_writable(self) -> None:
        if not self.authorizer.writable_remotely:
            raise ProtocolError(
                AUTHSTORE_LOCKED,
                "the authorization store can be changed remotely only when the daemon runs "
                "with --authstore-file and --authstore-pass",
            )

    def _add_authorization(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        self._check_store_writable()
        entry = self.authorizer.add(params["alias"], params["cert_pem"])
        log.info(
            "%s: Authorization added: %s (%s)", session.label, entry.alias, entry.identity.subject
        )
        return entry.to_dict()

    def _remove_authorization(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        self._check_store_writable()
        entry = self.authorizer.remove(params["alias"])
        log.info("%s: Authorization removed: %s", session.label, entry.alias)
        return entry.to_dict()

    # -- introspection -------------------------------------------------------------------

    @property
    def client_count(self) -> int:
        """Connections that passed authorization and are being served."""
        return len(self._sessions)

    @property
    def unauthenticated_count(self) -> int:
        """Connections accepted and not yet authenticated (silent, waiting or in TLS)."""
        return self._door.unauthenticated if self._door is not None else 0

    @property
    def handshake_count(self) -> int:
        """TLS handshakes running now."""
        return self._door.handshakes if self._door is not None else 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes of partially received (or not yet decoded) frames, all connections."""
        return self._partial
