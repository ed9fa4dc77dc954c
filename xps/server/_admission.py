"""The front door: accepts TCP connections and admits them to a TLS handshake, fairly.

A connection is *unauthenticated* from ``accept`` until the daemon has checked its
certificate; only then does it count against ``max-clients``::

    accepted (silent) --first bytes--> ready --slot--> handshake --> daemon: authorize
          |                              |
          +------ shed / expired --------+

*Silent* (nothing received yet) costs a file descriptor and one small record here: no
TLS state exists until a client has sent its first bytes, and the first byte must open
a TLS handshake record. *Ready* connections wait for one of ``max-handshakes`` slots
(``max-handshakes-per-source`` per source; the source running the fewest handshakes
goes first). Only a running handshake holds TLS state (~300 KiB: asyncio keeps a
256 KiB read buffer per TLS connection).

Budget: at most ``max-unauthenticated`` connections in these states (and
``max-unauthenticated-per-source`` per source; an IPv6 /64 is one source). A new
connection that finds its budget full sheds the oldest *silent* connection of its
source (for the global budget: of the source holding most); a silent one found to have
sent bytes meanwhile is promoted instead, so it is never the one shed. Every real
client sends its ClientHello at once, so it gets its turn however many idle
connections a flood holds open. Refusals are logged through a :class:`BurstLog`: one
line, then one count per window.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import itertools
import logging
import socket
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from xps.server._config import ServerConfig
from xps.server._logging import BurstLog

log = logging.getLogger("xps.server")

SILENT, READY, HANDSHAKE = range(3)
_TLS_HANDSHAKE_RECORD = 0x16
# Connections accepted per readiness event before other work gets a turn: under a flood
# each accept and shed costs ~0.1-0.5 ms (the woken flooder competes for the CPU), and
# handshakes in progress must not wait behind hundreds of them.
_ACCEPT_BATCH = 16
_BACKLOG = 1024  # the kernel's accept queue (capped by net.core.somaxconn)
_ACCEPT_RETRY_S = 0.1
_LINGER_RESET = struct.pack("ii", 1, 0)  # close with a TCP reset: no TIME_WAIT, no lingering
_FD_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def source_of(address: str) -> str:
    """The budget key of a peer: its IPv4 address, or the /64 of an IPv6 address."""
    if ":" not in address:
        return address  # accept() gives IPv4 in canonical dotted form
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


@dataclass(eq=False, slots=True)
class Pending:
    """One unauthenticated connection.

    Attributes:
        sock: The accepted socket (the TLS transport owns it once ``handed_off``).
        label: ``ReadWrite`` or ``ReadOnly``.
        address: The peer's IP address.
        source: Its budget key (:func:`source_of`).
        seq: Accept order.
        deadline: Loop time by which it must be authenticated (``handshake-timeout``).
        state: SILENT, READY or HANDSHAKE.
        handed_off: Set by the daemon once a TLS transport owns the socket.
    """

    sock: socket.socket
    label: str
    address: str
    source: str
    seq: int
    deadline: float
    state: int = SILENT
    handed_off: bool = False


class _Listener:
    __slots__ = ("label", "paused", "sock")

    def __init__(self, sock: socket.socket, label: str) -> None:
        self.sock = sock
        self.label = label
        self.paused = False


def _peek(sock: socket.socket) -> bytes | None:
    """The first received byte without consuming it; None: nothing yet; b"": gone."""
    try:
        return sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


class FrontDoor:
    """Listeners and the admission of unauthenticated connections (module docstring).

    Args:
        config: Budgets and ``handshake_timeout``.
        start: Called with each connection given a handshake slot; the daemon runs the
            handshake and calls :meth:`handshake_done` when it ends, whatever the outcome.
        burst: The daemon's rate-limited log of refusals.
    """

    def __init__(
        self, config: ServerConfig, start: Callable[[Pending], None], burst: BurstLog
    ) -> None:
        self._cfg = config
        self._start = start
        self._burst = burst
        self._loop = asyncio.get_running_loop()
        self._listeners: list[_Listener] = []
        self._seq = itertools.count()
        self._silent: dict[str, dict[Pending, None]] = {}  # per source, oldest first
        self._ready: dict[str, dict[Pending, None]] = {}
        self._waiting: dict[Pending, None] = {}  # silent + ready, in deadline order
        self._count: Counter[str] = Counter()  # every state, per source
        self._handshakes: Counter[str] = Counter()
        self._total = 0
        self._running = 0
        self._closed = False
        self.shed = 0

    # -- listeners -----------------------------------------------------------------------

    async def bind(self, label: str, host: str, port: int) -> int:
        """Listens on every address ``host`` resolves to; returns the first bound port.

        Raises:
            OSError: An address could not be bound (nothing stays bound then).
        """
        infos = await self._loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        bound: list[_Listener] = []
        seen: set[tuple[object, ...]] = set()
        try:
            for family, kind, proto, _name, sockaddr in infos:
                if (family, sockaddr) in seen:
                    continue
                seen.add((family, sockaddr))
                sock = socket.socket(family, kind, proto)
                bound.append(_Listener(sock, label))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(sockaddr)
                sock.listen(_BACKLOG)
                sock.setblocking(False)
        except OSError:
            for listener in bound:
                listener.sock.close()
            raise
        if not bound:
            raise OSError(f"{host!r} resolves to no address")
        for listener in bound:
            self._listeners.append(listener)
            self._loop.add_reader(listener.sock.fileno(), self._on_accept, listener)
        return int(bound[0].sock.getsockname()[1])

    def close(self) -> None:
        """Stops accepting and closes every connection not handed to a TLS transport."""
        self._closed = True
        for listener in self._listeners:
            if not listener.paused:
                self._loop.remove_reader(listener.sock.fileno())
            listener.sock.close()
        self._listeners.clear()
        for p in list(self._waiting):
            self._forget(p)
            self._abort(p)

    @property
    def unauthenticated(self) -> int:
        """Connections accepted and not yet through :meth:`handshake_done`."""
        return self._total

    @property
    def handshakes(self) -> int:
        """TLS handshakes running now."""
        return self._running

    def _on_accept(self, listener: _Listener) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, addr = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno not in _FD_ERRORS:
                    continue  # e.g. ECONNABORTED: that peer is gone already
                # Out of descriptors: an idle connection makes room for the next one.
                heaviest = self._heaviest()
                why = f"out of file descriptors ({exc.strerror})"
                if heaviest is not None and self._make_room(heaviest, why):
                    continue
                self._burst.event(
                    "Accepting connections failed",
                    "-",
                    logging.ERROR,
                    "Accepting connections failed: %s; retrying in %gs",
                    exc.strerror,
                    _ACCEPT_RETRY_S,
                )
                self._pause(listener)
                return
            self._admit(listener.label, conn, str(addr[0]))

    def _pause(self, listener: _Listener) -> None:
        if listener.paused or self._closed:
            return
        listener.paused = True
        self._loop.remove_reader(listener.sock.fileno())

        def resume() -> None:
            if self._closed or listener not in self._listeners:
                return
            listener.paused = False
            self._loop.add_reader(listener.sock.fileno(), self._on_accept, listener)

        self._loop.call_later(_ACCEPT_RETRY_S, resume)

    # -- admission -----------------------------------------------------------------------

    def _admit(self, label: str, conn: socket.socket, address: str) -> None:
        conn.setblocking(False)
        if self._closed:
            _reset(conn)
            return
        source = source_of(address)
        cfg = self._cfg
        why = None
        if self._count[source] >= cfg.max_unauthenticated_per_source:
            why = (
                f"{self._count[source]} unauthenticated connections from this source "
                f"(limit {cfg.max_unauthenticated_per_source})"
            )
            room = self._make_room(source, why)
        elif self._total >= cfg.max_unauthenticated:
            why = f"{self._total} unauthenticated connections (limit {cfg.max_unauthenticated})"
            heaviest = self._heaviest()
            room = heaviest is not None and self._make_room(heaviest, why)
        else:
            room = True
        if not room:
            self._burst.event(
                f"{label} socket: Refused connections",
                address,
                logging.WARNING,
                "%s socket: Refusing connection from /%s: %s, all in their TLS handshake",
                label,
                address,
                why,
            )
            _reset(conn)
            return
        p = Pending(
            conn, label, address, source, next(self._seq), self._loop.time() + cfg.handshake_timeout
        )
        self._silent.setdefault(source, {})[p] = None
        self._waiting[p] = None
        self._count[source] += 1
        self._total += 1
        self._loop.add_reader(conn.fileno(), self._on_readable, p)

    def _heaviest(self) -> str | None:
        """The source holding the most connections that have not started a handshake."""
        best, most = None, 0
        for source in self._silent.keys() | self._ready.keys():
            n = len(self._silent.get(source, ())) + len(self._ready.get(source, ()))
            if n > most:
                best, most = source, n
        return best

    def _make_room(self, source: str, why: str) -> bool:
        """Frees one place of ``source``: the oldest silent connection, else the oldest ready."""
        silent = self._silent.get(source)
        while silent:
            p = next(iter(silent))
            first = _peek(p.sock)
            if first is None:
                self._shed_one(p, why)
                return True
            self._loop.remove_reader(p.sock.fileno())
            if not self._promote(p, first):
                return True  # it was gone, or not TLS: closed, which made the room
        ready = self._ready.get(source)
        if ready:
            self._shed_one(next(iter(ready)), why)
            return True
        return False

    def _shed_one(self, p: Pending, why: str) -> None:
        self.shed += 1
        self._forget(p)
        self._abort(p)
        self._burst.event(
            f"{p.label} socket: Shed unauthenticated connections",
            p.address,
            logging.WARNING,
            "%s socket: Shedding unauthenticated connection from /%s: %s",
            p.label,
            p.address,
            why,
        )

    def _on_readable(self, p: Pending) -> None:
        self._loop.remove_reader(p.sock.fileno())
        first = _peek(p.sock)
        if first is None:  # a spurious wake-up
            self._loop.add_reader(p.sock.fileno(), self._on_readable, p)
            return
        self._promote(p, first)

    def _promote(self, p: Pending, first: bytes) -> bool:
        """Silent -> ready on its first byte (its reader is removed); False if it was closed."""
        if not first:
            self._forget(p)
            self._abort(p)  # closed before saying anything (a port scan): not worth a line
            return False
        if first[0] != _TLS_HANDSHAKE_RECORD:
            self._forget(p)
            self._abort(p)
            self._burst.event(
                f"{p.label} socket: Closed connections that did not start TLS",
                p.address,
                logging.WARNING,
                "%s socket: Closing connection from /%s: not a TLS handshake (first byte 0x%02x)",
                p.label,
                p.address,
                first[0],
            )
            return False
        self._drop_from(self._silent, p)
        p.state = READY
        self._ready.setdefault(p.source, {})[p] = None
        self._pump()
        return True

    def _pump(self) -> None:
        """Starts handshakes while slots are free: fewest running per source first."""
        cfg = self._cfg
        while self._running < cfg.max_handshakes and self._ready:
            best: Pending | None = None
            best_key = (0, 0)
            for source, queue in self._ready.items():
                running = self._handshakes[source]
                if running >= cfg.max_handshakes_per_source:
                    continue
                head = next(iter(queue))
                key = (running, head.seq)
                if best is None or key < best_key:
                    best, best_key = head, key
            if best is None:
                return
            self._drop_from(self._ready, best)
            del self._waiting[best]
            best.state = HANDSHAKE
            self._handshakes[best.source] += 1
            self._running += 1
            self._start(best)

    def handshake_done(self, p: Pending) -> None:
        """The handshake slot of ``p`` is free (authenticated, refused or failed)."""
        if p.state != HANDSHAKE:
            return
        p.state = -1
        self._running -= 1
        self._handshakes[p.source] -= 1
        if not self._handshakes[p.source]:
            del self._handshakes[p.source]
        self._uncount(p)
        if not self._closed:
            self._pump()

    def sweep(self, now: float) -> None:
        """Closes connections that did not start their handshake in time."""
        while self._waiting:
            p = next(iter(self._waiting))
            if p.deadline > now:
                return
            self._forget(p)
            self._abort(p)
            self._burst.event(
                f"{p.label} socket: TLS handshakes not completed",
                p.address,
                logging.ERROR,
                "%s socket: TLS handshake not completed within %gs; closing connection from /%s",
                p.label,
                self._cfg.handshake_timeout,
                p.address,
            )

    # -- bookkeeping ---------------------------------------------------------------------

    @staticmethod
    def _drop_from(table: dict[str, dict[Pending, None]], p: Pending) -> None:
        queue = table.get(p.source)
        if queue is None:
            return
        queue.pop(p, None)
        if not queue:
            del table[p.source]

    def _forget(self, p: Pending) -> None:
        """Removes a silent or ready connection from every table (not yet closed)."""
        if p.state == SILENT:
            self._drop_from(self._silent, p)
        elif p.state == READY:
            self._drop_from(self._ready, p)
        else:
            return
        self._waiting.pop(p, None)
        self._uncount(p)

    def _uncount(self, p: Pending) -> None:
        self._total -= 1
        self._count[p.source] -= 1
        if not self._count[p.source]:
            del self._count[p.source]

    def _abort(self, p: Pending) -> None:
        """Closes a connection no TLS transport owns (a silent one's reader first)."""
        if p.state == SILENT:
            self._loop.remove_reader(p.sock.fileno())  # no-op if already removed
        p.state = -1
        _reset(p.sock)


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    sock.close()
