"""A pre-handshake flood, run as its own process by the front-door tests and benchmarks.

``python tests/xps/server/_flood.py --ports P1,P2 --sockets 1100 --max-connects 20000``
holds ``--sockets`` raw TCP connections open across the ports that never send a byte
(or, with ``--hello``, only the first bytes of a ClientHello), reopens each one the
server closes, and stops after ``--max-connects`` connections in all or when its stdin
closes. It prints ``READY`` once every socket is open, and one JSON line of counts at the
end. Load stays bounded: one process, a fixed number of sockets, a cap on reconnects.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import resource
import selectors
import socket
import sys


def main() -> int:
    """Runs the flood until stdin closes or the connect budget is spent."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", required=True)
    parser.add_argument("--sockets", type=int, default=1100)
    parser.add_argument("--max-connects", type=int, default=20_000)
    parser.add_argument("--source", default="127.0.0.1")
    parser.add_argument("--hello", action="store_true", help="send 3 bytes of a ClientHello")
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.sockets + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    stats = {"connects": 0, "closed_by_server": 0, "connect_errors": 0}

    def open_one(i: int) -> None:
        if stats["connects"] >= args.max_connects:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((args.source, 0))
        if args.hello:
            sock.settimeout(2.0)
            try:
                sock.connect(("127.0.0.1", ports[i % len(ports)]))
                sock.send(b"\x16\x03\x01")
            except OSError:
                stats["connect_errors"] += 1
                sock.close()
                return
            sock.setblocking(False)
        else:
            sock.setblocking(False)
            err = sock.connect_ex(("127.0.0.1", ports[i % len(ports)]))
            if err not in (0, errno.EINPROGRESS):
                stats["connect_errors"] += 1
                sock.close()
                return
        stats["connects"] += 1
        sel.register(sock, selectors.EVENT_READ, i)

    for i in range(args.sockets):
        open_one(i)
    print("READY", flush=True)
    running = True
    while running:
        for key, _ in sel.select(timeout=1.0):
            if key.data is None:  # stdin: closed (or anything written) ends the flood
                running = False
                break
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            sel.unregister(sock)
            with contextlib.suppress(OSError):
                sock.recv(1)
            sock.close()
            stats["closed_by_server"] += 1
            open_one(key.data)
    for key in list(sel.get_map().values()):
        if key.data is not None:
            key.fileobj.close()  # type: ignore[union-attr]
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
