"""Per-connection state shared by the connection loop and the dispatcher."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from xps.pki import CertIdentity
from xps.server._hub import Subscriber

READ_ONLY_LABEL = "ReadOnly"
READ_WRITE_LABEL = "ReadWrite"


@dataclass(eq=False, slots=True)
class Session:
    """One accepted client connection.

    Attributes:
        number: The daemon-wide client number (``Client #n``).
        address: The peer's IP address.
        socket_label: ``ReadOnly`` or ``ReadWrite``.
        writer: The TLS stream.
        identity: The verified client certificate.
        local: Whether the peer counts as local.
        subscriber: Set while the client is subscribed.
        deadline: Loop time by which the pending read must complete (None: no limit);
            enforced by the daemon's sweeper, which is cheaper than a timer per read.
        timed_out: Set by the sweeper when it closed the connection for a deadline.
    """

    number: int
    address: str
    socket_label: str
    writer: asyncio.StreamWriter
    identity: CertIdentity
    local: bool
    subscriber: Subscriber | None = None
    deadline: float | None = None
    timed_out: bool = False

    @property
    def read_only(self) -> bool:
        """True on the read-only socket, which refuses mutating requests."""
        return self.socket_label == READ_ONLY_LABEL

    @property
    def label(self) -> str:
        """The report's log prefix: ``ReadOnly socket: Client #1 (/192.168.1.1)``."""
        return f"{self.socket_label} socket: Client #{self.number} (/{self.address})"
