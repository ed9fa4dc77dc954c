"""The serving socket: accepted connections must have TCP_NODELAY (uvicorn writes a
response's head and body separately; with Nagle the body waited 40 ms for an ACK)."""

from __future__ import annotations

import asyncio
import socket

from enterprise_store.api import bind, url_for


async def test_bound_sockets_give_connections_without_nagle() -> None:
    sock = bind("127.0.0.1", 0)
    nodelay: asyncio.Queue[int] = asyncio.Queue()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            conn = transport.get_extra_info("socket")
            nodelay.put_nowait(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    try:
        port = sock.getsockname()[1]
        assert url_for(sock) == f"https://127.0.0.1:{port}"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(nodelay.get(), 30) == 1
        assert await reader.read() == b""  # the server closed it
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


def test_url_for_an_unspecified_address_names_loopback() -> None:
    sock = bind("0.0.0.0", 0)
    try:
        assert url_for(sock).startswith("https://127.0.0.1:")
    finally:
        sock.close()
