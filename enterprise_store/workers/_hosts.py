"""XE's connections to its hosts' XPS daemons: one mutual-TLS client per host, kept open.

Each host gets one :class:`xps.client.Xps` presenting XE's client certificate, reconnecting
by itself (``xps.client``'s back-off) and subscribed to ``domain`` and ``policy`` events:

- ``domain`` events keep a per-host cache of live domains (filled by
  ``GetDomainRunStates`` after every connect), which answers "what runs where" without a
  round trip;
- ``policy`` events (an activation or rollback on the host) go to the propagation worker,
  which tells XE's own activations from changes behind its back (drift).

XPS errors leave this module as XE errors, mapped once in :func:`host_error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enterprise_store._errors import HostError, HostUnreachable, XeError
from xps.client import (
    ConnectionLost,
    ConnectionState,
    NotAuthorized,
    RemoteError,
    Timeout,
    TlsError,
    Xps,
    XpsError,
)
from xps.pki import PkiError, TlsMaterial, client_context

__all__ = ["HostLink", "HostPool", "XeIdentity", "host_error"]

LOG = logging.getLogger("xenon.xe.hosts")
PolicyListener = Callable[[str, dict[str, Any]], Awaitable[None]]
ConnectListener = Callable[[str], None]


def host_error(exc: XpsError, where: str) -> XeError:
    """The XE error for an XPS client error (``where`` names the host and the call)."""
    if isinstance(exc, NotAuthorized):
        return HostUnreachable(
            f"{where}: the host does not authorize XE's certificate ({exc.message}); add "
            "XE's client certificate to its authorization store",
            host_code=exc.code,
        )
    if isinstance(exc, RemoteError):
        return HostError(f"{where}: {exc.code}: {exc.message}", host_code=exc.code)
    if isinstance(exc, TlsError):
        return HostUnreachable(f"{where}: TLS failed: {exc.message}", host_code=exc.code)
    if isinstance(exc, ConnectionLost | Timeout):
        return HostUnreachable(f"{where}: {exc.message}", host_code=exc.code)
    return HostUnreachable(f"{where}: {exc.message}", host_code=exc.code)


@dataclass(frozen=True)
class XeIdentity:
    """XE's TLS identity towards its hosts and its policy-signing material.

    ``xenon xe init`` makes them in ``STATE/pki``: ``ca-cert.pem`` (the CA the hosts'
    server certificates chain to), ``xe-client-cert.pem`` / ``xe-client-key.pem`` (XE's
    client certificate; a host must trust it, and for remote hosts list it in its
    authorization store). The same key signs every policy slice XE sends.
    """

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_pki_dir(cls, pki: Path) -> XeIdentity:
        """The identity ``xenon xe init`` wrote in ``pki``."""
        return cls(pki / "ca-cert.pem", pki / "xe-client-cert.pem", pki / "xe-client-key.pem")

    def ssl_context(self) -> ssl.SSLContext:
        """A TLS 1.3 client context presenting XE's certificate.

        Raises:
            HostUnreachable: The material cannot be loaded.
        """
        try:
            return client_context(TlsMaterial(ca=self.ca, cert=self.cert, key=self.key))
        except PkiError as exc:
            raise HostUnreachable(
                f"XE's client certificate cannot be loaded: {exc.message}"
            ) from exc


@dataclass(eq=False)
class HostLink:
    """One host's connection and what it pushed.

    Attributes:
        host_id: XE's id of the host.
        address: Its XPS address.
        port: Its XPS read-write port.
        client: The client (reconnects by itself once connected).
        domains: Live domains by domid (``GetDomainRunStates`` rows, updated by events).
        policy_sha256: The hash of the policy the host last said it enforces.
    """

    host_id: str
    address: str
    port: int
    client: Xps
    domains: dict[int, dict[str, Any]] = field(default_factory=dict)
    policy_sha256: str | None = None
    reader: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscribed: bool = False
    refreshed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def state(self) -> str:
        """``connected``, ``connecting``, ``disconnected`` or ``closed``."""
        return self.client.state.value


class HostPool:
    """The connections of one XE node to its hosts.

    Args:
        identity: XE's TLS identity (None: no host can be reached; calls say why).
        timeout_s: Seconds to connect and per call.
        max_backoff_s: Longest wait between reconnection attempts.
        events: Event names subscribed to on every host.
    """

    def __init__(
        self,
        identity: XeIdentity | None,
        *,
        timeout_s: float = 10.0,
        max_backoff_s: float = 10.0,
        events: tuple[str, ...] = ("domain", "policy"),
    ) -> None:
        self.identity = identity
        self._ssl: ssl.SSLContext | None = None
        self._timeout_s = timeout_s
        self._max_backoff_s = max_backoff_s
        self._events = list(events)
        self._links: dict[str, HostLink] = {}
        self._policy_listeners: list[PolicyListener] = []
        self._connect_listeners: list[ConnectListener] = []
        self._closing = False

    def on_policy(self, listener: PolicyListener) -> None:
        """Calls ``listener(host_id, {"generation", "sha256"})`` on every ``policy`` event."""
        self._policy_listeners.append(listener)

    def on_connect(self, listener: ConnectListener) -> None:
        """Calls ``listener(host_id)`` every time a host's connection is (re)established."""
        self._connect_listeners.append(listener)

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            if self.identity is None:
                raise HostUnreachable(
                    "XE has no client certificate for its hosts (run xenon xe init, or give "
                    "the service its PKI directory)"
                )
            self._ssl = self.identity.ssl_context()
        return self._ssl

    def new_client(
        self,
        address: str,
        port: int,
        *,
        reconnect: bool = False,
        on_state: Callable[[ConnectionState], None] | None = None,
    ) -> Xps:
        """An unconnected client for ``address:port`` with XE's identity.

        Raises:
            HostUnreachable: XE's TLS material is missing or unreadable.
        """
        return Xps(
            address,
            port,
            ssl_context=self._context(),
            timeout=self._timeout_s,
            reconnect=reconnect,
            max_backoff=self._max_backoff_s,
            on_state=on_state,
        )

    # -- links -------------------------------------------------------------------------------

    def link_of(self, host_id: str) -> HostLink | None:
        """The host's link, if XE has opened one."""
        return self._links.get(host_id)

    def state(self, host_id: str) -> str:
        """The host's connection state (``unknown`` before XE first talked to it)."""
        link = self._links.get(host_id)
        return "unknown" if link is None else link.state

    def domains(self, host_id: str) -> list[dict[str, Any]] | None:
        """The host's live domains (None: not connected, so not known now)."""
        link = self._links.get(host_id)
        if link is None or not link.client.connected:
            return None
        return [dict(d) for d in sorted(link.domains.values(), key=lambda d: d["domid"])]

    async def client(self, host_id: str, address: str, port: int) -> Xps:
        """The host's connected client (connecting now if needed).

        Raises:
            HostUnreachable: No connection (it keeps trying in the background).
        """
        link = await self._link(host_id, address, port)
        if link.client.connected:
            return link.client
        async with link.lock:
            if not link.client.connected:
                try:
                    await link.client.connect()
                except XpsError as exc:
                    raise host_error(exc, f"host {address}:{port}") from exc
        return link.client

    async def _link(self, host_id: str, address: str, port: int) -> HostLink:
        link = self._links.get(host_id)
        if link is not None and (link.address, link.port) != (address, port):
            await self.drop(host_id)  # the host moved: a new connection
            link = None
        if link is None:
            client = self.new_client(
                address,
                port,
                reconnect=True,
                on_state=lambda state: self._state_changed(host_id, state),
            )
            link = HostLink(host_id, address, port, client)
            self._links[host_id] = link
            link.reader = asyncio.create_task(
                self._read(link), name=f"xe-host-{host_id[:8]}", context=contextvars.Context()
            )
        return link

    def _state_changed(self, host_id: str, state: ConnectionState) -> None:
        link = self._links.get(host_id)
        if link is None or state is not ConnectionState.CONNECTED or self._closing:
            return
        # Called inside whatever task connected: a fresh context keeps that task's store
        # unit (if any) out of the refresh.
        asyncio.get_running_loop().create_task(self._refresh(link), context=contextvars.Context())
        for listener in self._connect_listeners:
            try:
                listener(host_id)
            except Exception:
                LOG.exception("connect listener failed")

    async def _refresh(self, link: HostLink) -> None:
        try:
            if not link.subscribed:
                # Once subscribed, the client renews the subscription after reconnects.
                await link.client.subscribe(list(self._events))
                link.subscribed = True
            rows = await link.client.get_domain_run_states()
        except XpsError as exc:
            LOG.info("host %s: events or domains not read: %s", link.host_id, exc.message)
            return
        link.domains = {int(d["domid"]): dict(d) for d in rows["domains"]}
        link.refreshed.set()

    async def _read(self, link: HostLink) -> None:
        async for event in link.client.events():
            try:
                if event.event == "domain":
                    self._domain_event(link, event.data)
                elif event.event == "policy":
                    sha = event.data.get("sha256")
                    link.policy_sha256 = sha if isinstance(sha, str) else None
                    for listener in self._policy_listeners:
                        await listener(link.host_id, dict(event.data))
            except Exception:
                LOG.exception("host %s: event %s not handled", link.host_id, event.event)

    @staticmethod
    def _domain_event(link: HostLink, data: dict[str, Any]) -> None:
        domid = data.get("domid")
        if not isinstance(domid, int):
            return
        state = str(data.get("run_state", ""))
        if state == "destroyed":
            link.domains.pop(domid, None)
            return
        row = link.domains.setdefault(domid, {"domid": domid})
        row["name"] = str(data.get("name", row.get("name", "")))
        row["run_state"] = state

    async def drop(self, host_id: str) -> None:
        """Closes a host's connection (the host left XE, or moved)."""
        link = self._links.pop(host_id, None)
        if link is None:
            return
        if link.reader is not None:
            link.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link.reader
        await link.client.close()

    async def close(self) -> None:
        """Closes every connection."""
        self._closing = True
        for host_id in list(self._links):
            await self.drop(host_id)
