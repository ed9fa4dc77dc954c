"""One console-side connection to an XPS daemon: connect, reconnect, calls and events."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from xenon_tui._config import ServerEntry, TlsFiles
from xenon_tui._errors import NotConnectedError, ServerError


class LinkState(Enum):
    """What the servers panel shows (green / red / grey / yellow / the stale colour)."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STALE = "stale"
    """Connected, but the daemon has answered nothing (not even a heartbeat) for
    ``STALE_AFTER_BEATS`` beats: what it last said may no longer be true."""
    LOST = "lost"

    @property
    def up(self) -> bool:
        """The link is open (connected or stale): requests can be sent."""
        return self in (LinkState.CONNECTED, LinkState.STALE)


HEARTBEAT_S = 2.0
"""How often a connected link pings its daemon (one ping in flight at most)."""

STALE_AFTER_BEATS = 3
"""Heartbeats missed (nothing heard at all) before a link is shown stale."""

BEAT_JITTER = 0.25
"""A link pings up to this fraction of a beat later than a beat's silence, at a phase of its
own: every console hears a host's push at the same instant, so without it every console
of the host pinged it (and woke) together a beat later."""


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


@dataclass(frozen=True)
class Uncertain:
    """A mutating request that got no answer in time: it may still apply."""

    method: str
    params: Mapping[str, Any]
    sent_at: float
    """``time.monotonic()`` when it was sent."""
    timed_out_at: float


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

    While connected it pings the daemon after ``heartbeat_s`` without hearing from it (one
    ping in flight at most; pushed events count as heard, so a host pushing its samples
    is seldom pinged).
    After ``STALE_AFTER_BEATS`` beats without hearing anything the link is ``STALE``; the
    first word heard after that makes it ``CONNECTED`` again, resubscribes and calls
    ``on_connected`` (fetch everything) again. A mutating call that times out raises a
    ``ServerError`` coded ``outcome_unknown``; once a ping sent after it is answered,
    ``on_settled`` gets it to read back what happened.
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
        on_settled: Callable[[list[Uncertain]], Awaitable[None]] | None = None,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.entry = entry
        self.read_only = read_only
        self._tls = tls
        self._on_state = on_state
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_settled = on_settled
        self._uncertain: list[Uncertain] = []
        self._settled: list[Uncertain] = []
        self._factory = factory
        self._client: Client | None = None
        self._stopping = asyncio.Event()
        self._resumed = asyncio.Event()
        self.heartbeat_s = heartbeat_s
        self.beat_phase = random.random() * BEAT_JITTER
        """This link's delay of a ping after a beat's silence, as a fraction of a beat."""
        self.state = LinkState.DISCONNECTED
        self.last_heard: float | None = None
        """``time.monotonic()`` of the newest reply, event or heartbeat from the daemon."""

    @property
    def address(self) -> str:
        """The server's ``host:port`` key."""
        return self.entry.address

    @property
    def beat_s(self) -> float:
        """Silence after which this link pings: a beat and its own phase."""
        return self.heartbeat_s * (1.0 + self.beat_phase)

    def _set(self, state: LinkState, detail: str = "") -> None:
        self.state = state
        self._on_state(state, detail)

    def silence_s(self, now: float | None = None) -> float | None:
        """Seconds since the daemon was last heard from (None before it ever was)."""
        if self.last_heard is None:
            return None
        return max(0.0, (time.monotonic() if now is None else now) - self.last_heard)

    def _heard(self) -> None:
        """The daemon said something: the link is fresh (a stale one has resumed)."""
        self.last_heard = time.monotonic()
        if self.state is LinkState.STALE:
            self._set(LinkState.CONNECTED)
            self._resumed.set()  # the pump resubscribes and fetches everything again

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
                self.last_heard = time.monotonic()
                self._resumed.clear()
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
        """Forwards pushed events and beats until the link drops or :meth:`stop` is called."""
        ping: asyncio.Task[None] | None = None
        next_beat = time.monotonic() + self.beat_s
        try:
            while not self._stopping.is_set():
                # Asleep until an event or the next beat: nothing else is due before it
                # (a stale link is found at a beat; 0.5 s naps woke the app 2x a second
                # per host for nothing).
                wait = min(self.heartbeat_s, max(0.05, next_beat - time.monotonic()))
                try:
                    first = await client.next_event(wait_s=wait)
                except Exception:  # the client's Timeout: just check the link again
                    if not client.connected:
                        return
                else:
                    self._heard()
                    for event in coalesce([first, *client.pending_events()]):
                        self._on_event(event)
                if self._resumed.is_set():
                    self._resumed.clear()
                    await self._resume(client)
                if self._settled:
                    settled, self._settled = self._settled, []
                    if self._on_settled is not None:
                        await self._on_settled(settled)
                now = time.monotonic()
                if now >= next_beat:
                    # A beat is due only after a beat's silence (or to settle a request
                    # that timed out): a host pushing statistics every 3 s is heard
                    # anyway, and each ping is a round trip over TLS for nothing.
                    heard = self.last_heard if self.last_heard is not None else now
                    next_beat = max(now, heard) + self.beat_s
                    quiet = now - heard >= self.heartbeat_s - 0.05
                    if (quiet or self._uncertain) and (ping is None or ping.done()):
                        next_beat = now + self.beat_s
                        ping = asyncio.create_task(self._beat(client))  # one in flight
                self._check_stale(now)
        finally:
            if ping is not None and not ping.done():
                ping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ping

    async def _beat(self, client: Client) -> None:
        sent = time.monotonic()
        with contextlib.suppress(Exception):  # no answer is what staleness measures
            await client.call("Ping")
            self._heard()
            # A ping sent after a request timed out was answered: the daemon has read
            # that request by now (one connection, read in order), so its outcome can
            # be read back.
            settled = [u for u in self._uncertain if u.timed_out_at <= sent]
            if settled:
                self._uncertain = [u for u in self._uncertain if u not in settled]
                self._settled.extend(settled)

    def _check_stale(self, now: float) -> None:
        silence = self.silence_s(now)
        limit = STALE_AFTER_BEATS * self.heartbeat_s
        if self.state is LinkState.CONNECTED and silence is not None and silence > limit:
            # No detail: how long it has been silent is worded live ("last update").
            self._set(LinkState.STALE)

    async def _resume(self, client: Client) -> None:
        """A stale link answers again: subscribe again (the daemon may have dropped us
        while it could not write) and fetch everything (what was shown is old)."""
        try:
            await client.subscribe()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the link went again: the pump notices it
            _code, message = _error_fields(exc)
            self._set(LinkState.STALE, message)
            return
        if self._on_connected is not None:
            await self._on_connected()

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
        if client is None or not self.state.up:
            raise NotConnectedError(self.address, f"{self.address} is not connected")
        sent = time.monotonic()
        try:
            result = await client.call(method, **params)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            from xps.client import RemoteError  # imported late, as the client is

            code, message = _error_fields(exc)
            if isinstance(exc, RemoteError):
                self._heard()  # the daemon answered, if only with an error
            elif code == "timeout" and _mutating(method):
                self._uncertain.append(Uncertain(method, params, sent, time.monotonic()))
                raise ServerError(
                    self.address,
                    f"{_doing(method, params)}: outcome unknown — it may still apply "
                    "(it is read back once the host answers)",
                    code="outcome_unknown",
                ) from exc
            raise ServerError(self.address, message, code=code) from exc
        self._heard()
        return result


def _mutating(method: str) -> bool:
    """``method`` changes the host (per the protocol's catalogue)."""
    from xps.protocol import METHODS  # imported late, as the client is

    spec = METHODS.get(method)
    return spec is None or not spec.read_only


def _doing(method: str, params: Mapping[str, Any]) -> str:
    """``PauseDomain`` on EA-domu-1 as a person says it: "Pause EA-domu-1"."""
    verb = "Start" if method == "CreateDomain" else method.removesuffix("Domain")
    target = params.get("domain", params.get("name"))
    return f"{verb} {target}" if target is not None else verb
