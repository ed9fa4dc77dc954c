"""Who may connect: loopback clients with a valid certificate, remote ones in the authstore."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xps.pki import AuthEntry, AuthStore, AuthStoreError, CertIdentity, PkiError

log = logging.getLogger("xps.server")


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of an authorization check.

    Attributes:
        allowed: Whether the connection may proceed.
        local: Whether the peer counts as local.
        reason: Why, for the log.
        alert: For a refusal, the TLS alert name of its class (RFC 8446 §6.2):
            ``access_denied`` (a valid client certificate that is not authorized here)
            or ``unsupported_certificate`` (not a TLS client certificate at all).
    """

    allowed: bool
    local: bool
    reason: str
    alert: str = "access_denied"


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


class Authorizer:
    """Applies §3.1.7 to a verified peer.

    Args:
        authstore_file: The authorization store, or None (then only local clients).
        authstore_pass: Its password; when set the store's MAC is checked and authorized
            clients may change it remotely.
        local_addresses: None: every loopback address is local. A set: exactly those
            addresses are local (tests use {"127.0.0.1"} to make 127.0.0.2 remote).
    """

    def __init__(
        self,
        authstore_file: Path | None,
        authstore_pass: str | None = None,
        local_addresses: frozenset[str] | None = None,
    ) -> None:
        self._file = authstore_file
        self._pass = authstore_pass
        self._local = local_addresses
        self._store: AuthStore | None = None
        self._stamp: tuple[int, int] | None = None
        self._error: str | None = None

    @property
    def writable_remotely(self) -> bool:
        """True when authorized clients may change the store (``--authstore-pass``)."""
        return self._file is not None and self._pass is not None

    def is_local(self, address: str) -> bool:
        """Whether ``address`` counts as a local client."""
        if self._local is None:
            return is_loopback(address)
        return address in self._local

    def _current(self) -> AuthStore | None:
        """The store, re-read when the file changed on disk (e.g. ``xenon pki authstore``)."""
        if self._file is None:
            return None
        try:
            st = self._file.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (0, 0)  # missing (an empty store) or unreadable (load reports why)
        if self._store is None or stamp != self._stamp:
            try:
                self._store = AuthStore.open(self._file, self._pass)
                self._error = None
            except PkiError as exc:
                # A tampered or broken store authorizes nobody remote, loudly.
                self._store = None
                self._error = exc.message
                log.error("Authorization store unusable: %s", exc.message)
            self._stamp = stamp
        return self._store

    def refusal_before_certificate(self, address: str) -> Decision | None:
        """A refusal that holds whatever certificate ``address`` will present, or None.

        A remote peer when no authorization store is usable can never be authorized:
        the daemon refuses it at its ClientHello, with a real ``access_denied`` alert.
        """
        if self.is_local(address) or self._current() is not None:
            return None
        why = self._error or "no authorization store configured"
        return Decision(False, False, f"remote client refused: {why}")

    def early_refusal(self, address: str) -> Callable[[], tuple[str, str] | None]:
        """:func:`refusal_before_certificate` in the form ``xps.pki.server_handshake`` takes."""

        def refuse() -> tuple[str, str] | None:
            decision = self.refusal_before_certificate(address)
            return None if decision is None else (decision.alert, decision.reason)

        return refuse

    def check(
        self, address: str, identity: CertIdentity, *, read_only_socket: bool = False
    ) -> Decision:
        """Decides whether a peer with a verified certificate may connect.

        A certificate marked read-only (``xps.pki.READ_ONLY_POLICY_OID``) is refused on the
        read-write socket whoever presents it, local or authorized remote: the role holds in
        the daemon, not only in the client that chose the socket. A certificate that is
        not an end-entity certificate with the clientAuth extended key usage (the CA's own
        certificate, say) is refused everywhere, local or not.
        """
        local = self.is_local(address)
        if identity.client_problem is not None:
            return Decision(False, local, identity.client_problem, "unsupported_certificate")
        if identity.read_only and not read_only_socket:
            return Decision(False, local, "read-only certificate refused on the read-write socket")
        if local:
            return Decision(True, True, "local client")
        store = self._current()
        if store is None:
            why = self._error or "no authorization store configured"
            return Decision(False, False, f"remote client refused: {why}")
        alias = store.alias_of(identity.fingerprint)
        if alias is None:
            return Decision(False, False, "certificate is not in the authorization store")
        return Decision(True, False, f"authorized as {alias!r}")

    def store(self) -> AuthStore | None:
        """The current store (None when none is configured or it is unusable)."""
        return self._current()

    def add(self, alias: str, cert_pem: str) -> AuthEntry:
        """Adds an authorization (the caller checked :attr:`writable_remotely`).

        Raises:
            PkiError: Bad input or the store cannot be written.
        """
        store = self._require()
        entry = store.add(alias, cert_pem.encode("ascii", errors="replace"))
        self._stamp = None
        return entry

    def remove(self, alias: str) -> AuthEntry:
        """Removes an authorization.

        Raises:
            PkiError: No such alias or the store cannot be written.
        """
        store = self._require()
        entry = store.remove(alias)
        self._stamp = None
        return entry

    def _require(self) -> AuthStore:
        store = self._current()
        if store is None:
            raise AuthStoreError(self._error or "no authorization store configured")
        return store
