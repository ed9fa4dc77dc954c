"""Serving the API: uvicorn on a socket we bind (port 0 works), TLS 1.3 only.

uvicorn builds its own ``SSLContext`` from file names and cannot set a minimum protocol
version; ``ssl_context_factory`` (uvicorn ≥ 0.3x) hands it ours instead. No client
certificate is asked for: uvicorn would not pass it to the app, identity is the bearer
token. ``proxy_headers`` stay off, so the audit log's source is the peer address, never a
header a client wrote.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from enterprise_store.api._app import create_app
from enterprise_store.api._metrics import Metrics
from enterprise_store.services import Services

__all__ = ["bind", "serve", "server_tls_context", "url_for"]

LOG = logging.getLogger("xenon.xe.server")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
KEEP_ALIVE_S = 30
"""How long an idle client connection stays open (clients drop theirs sooner)."""


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS 1.3-only server context with ``cert``/``key`` (no client certificate asked).

    Raises:
        OSError: The files cannot be read.
        ssl.SSLError: They are not a matching PEM key pair.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    return ctx


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port).

    Raises:
        OSError: The address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and uvicorn writes a response's head and body separately. Without it, Nagle
    # held every body back for the client's delayed ACK: 40 ms per request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.set_inheritable(False)
    except OSError:
        sock.close()
        raise
    return sock


def url_for(sock: socket.socket) -> str:
    """The ``https://`` URL a client on this machine uses to reach ``sock``."""
    host, port = sock.getsockname()[:2]
    address = ipaddress.ip_address(host)
    if address.is_unspecified:
        host = "::1" if address.version == 6 else "127.0.0.1"
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


async def serve(
    open_services: Callable[[], Awaitable[Services]],
    *,
    sock: socket.socket,
    tls: ssl.SSLContext,
    on_started: Callable[[str], None] | None = None,
    access_log: bool = True,
) -> None:
    """Runs the API until SIGINT/SIGTERM (or cancellation), then closes the services.

    Args:
        open_services: Opens the services (on this event loop).
        sock: The listening socket (see :func:`bind`).
        tls: The server's TLS context (see :func:`server_tls_context`).
        on_started: Called with the URL once the server accepts connections.
        access_log: uvicorn's per-request log lines.
    """
    import uvicorn

    services = await open_services()
    try:
        app = create_app(services, metrics=Metrics())
        config = uvicorn.Config(
            app,
            ssl_context_factory=lambda _config, _default: tls,
            log_config=None,
            access_log=access_log,
            proxy_headers=False,
            server_header=False,
            lifespan="off",
            timeout_graceful_shutdown=10,
            # Longer than a client's keep-alive (httpx: 5 s, uvicorn's default too): with
            # equal ones a request sent on a connection idle for ~5 s met the server
            # closing it ("Server disconnected without sending a response"), under load.
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        url = url_for(sock)

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                # uvicorn re-raises a caught SIGTERM once it has stopped serving, which
                # kills the process before the services close; stop serving, return.
                if threading.current_thread() is not threading.main_thread():
                    yield
                    return
                previous = {s: signal.signal(s, self.handle_exit) for s in _SIGNALS}
                try:
                    yield
                finally:
                    for sig, handler in previous.items():
                        signal.signal(sig, handler)

            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                LOG.info("XE API listening on %s (pid %d)", url, os.getpid())
                if on_started is not None:
                    on_started(url)

        server = _Server(config)
        await server.serve(sockets=[sock])
    finally:
        await services.close()
        LOG.info("XE API stopped")
