"""TLS handshakes whose refusals reach the peer: OpenSSL's alert is sent before the close.

When OpenSSL refuses a client during the handshake (no certificate, unknown CA, expired,
wrong purpose) it writes a fatal alert naming the reason into the outgoing buffer. asyncio
(``sslproto``, 3.11-3.13) then aborts the transport without sending that buffer, so the
client only sees "unexpected eof". :func:`server_handshake` hands the raw transport to the
TLS object of the connection (through a context variable, read by the context's
``wrap_bio`` while ``loop.start_tls`` builds its protocol), and the object writes the
alert to the socket before the error propagates.

A refusal that does not depend on the certificate (a remote peer when no authorization
store is usable) is decided at the ClientHello, through ``sni_callback`` (called with or
without SNI), which may answer with any alert: ``access_denied``. A refusal that needs the
certificate comes *after* the handshake and cannot send an alert: neither Python's ``ssl``
nor OpenSSL's public API can emit one once the handshake is complete.
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from xps.pki._errors import PkiError
from xps.pki._usage import tls_usage_problem

#: Called at the ClientHello: ``(alert, reason)`` to refuse the peer before it presents a
#: certificate, or None. ``alert`` is an RFC 8446 name (``access_denied``).
EarlyRefusal = Callable[[], tuple[str, str] | None]


@dataclass(frozen=True, slots=True)
class _Link:
    transport: asyncio.WriteTransport
    early_refusal: EarlyRefusal | None


_LINK: contextvars.ContextVar[_Link | None] = contextvars.ContextVar("xps_pki_link", default=None)

# OpenSSL 3's ssl_x509err2alert (ssl/statem/statem_lib.c): the alert it sends for each
# certificate verification error (X509_V_ERR_* numbers of OpenSSL 3). Anything else is
# certificate_unknown.
_VERIFY_ALERTS: dict[int, str] = {
    1: "internal_error",
    2: "unknown_ca",
    3: "unknown_ca",
    4: "bad_certificate",
    5: "bad_certificate",
    6: "bad_certificate",
    7: "decrypt_error",
    8: "decrypt_error",
    9: "bad_certificate",
    10: "certificate_expired",
    11: "bad_certificate",
    12: "certificate_expired",
    13: "bad_certificate",
    14: "bad_certificate",
    15: "bad_certificate",
    16: "bad_certificate",
    17: "internal_error",
    18: "unknown_ca",
    19: "unknown_ca",
    20: "unknown_ca",
    21: "unknown_ca",
    22: "unknown_ca",
    23: "certificate_revoked",
    25: "unknown_ca",
    26: "unsupported_certificate",
    27: "bad_certificate",
    28: "bad_certificate",
    33: "unknown_ca",
    50: "handshake_failure",
    62: "bad_certificate",
    63: "bad_certificate",
    64: "bad_certificate",
    65: "bad_certificate",
    66: "bad_certificate",
    67: "bad_certificate",
    68: "bad_certificate",
    69: "internal_error",
    70: "internal_error",
    79: "unknown_ca",
    94: "bad_certificate",
}
# Handshake failures that are not certificate verification, by OpenSSL reason.
_REASON_ALERTS: dict[str, str] = {
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "certificate_required",
    "NO_SUITABLE_KEY_SHARE": "handshake_failure",
    "NO_SHARED_CIPHER": "handshake_failure",
    "UNSUPPORTED_PROTOCOL": "protocol_version",
}


class HandshakeRefused(ssl.SSLError, PkiError):
    """The peer was refused at its ClientHello (see :data:`EarlyRefusal`).

    An ``ssl.SSLError`` first (the TLS stack's callers handle it as a failed handshake),
    and a member of the package's tree.

    Attributes:
        alert: The alert sent (RFC 8446 name).
        refusal: Why, for the log.
    """

    code = "handshake_refused"

    def __init__(self, alert: str, refusal: str) -> None:
        # OSError's initializer fills errno/strerror (PkiError's would not be called anyway).
        ssl.SSLError.__init__(self, 1, f"{refusal} (TLS alert {alert})")
        self.message = f"{refusal} (TLS alert {alert})"
        self.reason = alert.upper()
        self.library = "SSL"
        self.alert = alert
        self.refusal = refusal


def refusal_alert(exc: ssl.SSLError) -> str | None:
    """The TLS alert (RFC 8446 name) OpenSSL sent when a handshake failed with ``exc``.

    None when the failure is not one this module knows the alert of (the connection
    was lost, the peer spoke something other than TLS, ...).
    """
    if isinstance(exc, HandshakeRefused):
        return exc.alert
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if isinstance(code, int) and code:
            return _VERIFY_ALERTS.get(code, "certificate_unknown")
    reason = getattr(exc, "reason", None)
    return _REASON_ALERTS.get(reason) if isinstance(reason, str) else None


def describe_refusal(exc: ssl.SSLError) -> str:
    """``OPENSSL_REASON (TLS alert name)`` for the daemon's log."""
    if isinstance(exc, HandshakeRefused):
        return f"{exc.refusal} (TLS alert {exc.alert})"
    reason = getattr(exc, "reason", None) or exc.__class__.__name__
    alert = refusal_alert(exc)
    return f"{reason} (TLS alert {alert})" if alert else str(reason)


async def server_handshake(
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext,
    *,
    handshake_timeout: float,
    early_refusal: EarlyRefusal | None = None,
) -> None:
    """Upgrades an accepted connection to TLS; a refused client receives OpenSSL's alert.

    The alert is sent, and ``early_refusal`` consulted at the ClientHello, only with a
    context from :func:`xps.pki.server_context`; any other context behaves like
    ``writer.start_tls``.

    Raises:
        HandshakeRefused: ``early_refusal`` refused the peer (its alert was sent).
        ssl.SSLError: The handshake failed (see :func:`refusal_alert` for what was sent).
        OSError: The connection was lost.
        ConnectionAbortedError: No handshake within ``handshake_timeout`` seconds (asyncio's
            own deadline; callers usually hold a shorter ``asyncio.timeout`` too).
    """
    token = _LINK.set(_Link(writer.transport, early_refusal))
    try:
        await writer.start_tls(context, ssl_handshake_timeout=handshake_timeout)
    finally:
        _LINK.reset(token)


class ServerObject(ssl.SSLObject):
    """A server-side TLS object that sends its pending alert when the handshake fails."""

    _xps_outgoing: ssl.MemoryBIO | None = None
    _xps_transport: asyncio.WriteTransport | None = None
    _xps_early_refusal: EarlyRefusal | None = None
    _xps_refused: tuple[str, str] | None = None

    def do_handshake(self) -> None:
        """Runs the handshake; on failure writes the alert to the socket, then raises."""
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLSyscallError):
            raise  # asyncio's "try again" errors
        except ssl.SSLError as exc:
            self._send_pending()
            if self._xps_refused is not None:
                raise HandshakeRefused(*self._xps_refused) from exc
            raise
        self._xps_transport = None  # done with the raw socket: the TLS layer owns it now
        self._xps_early_refusal = None

    def _send_pending(self) -> None:
        transport, outgoing = self._xps_transport, self._xps_outgoing
        self._xps_transport = None
        if transport is None or outgoing is None or transport.is_closing():
            return
        pending = outgoing.read()
        if pending:
            # A fatal alert record is a few dozen bytes: one send() on an empty socket
            # buffer, done before asyncio aborts the transport.
            transport.write(pending)


def _usage_error(problem: str) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, f"certificate verify failed: {problem}")
    exc.reason = "CERTIFICATE_VERIFY_FAILED"
    exc.library = "SSL"
    exc.verify_code = 26  # X509_V_ERR_INVALID_PURPOSE
    exc.verify_message = problem
    return exc


def check_server_certificate(der: bytes | None) -> None:
    """Checks that the server presented an end-entity certificate for serverAuth.

    Raises:
        ssl.SSLCertVerificationError: It did not (verify code 26, "unsupported purpose").
    """
    if not der:
        raise _usage_error("the server presented no certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise _usage_error("the server certificate cannot be parsed") from None
    problem = tls_usage_problem(cert, "server")
    if problem is not None:
        raise _usage_error(f"server certificate: {problem}")


class ClientObject(ssl.SSLObject):
    """A client-side TLS object (asyncio) that also requires serverAuth of the server."""

    def do_handshake(self) -> None:
        """Runs the handshake, then checks the server certificate's purpose."""
        super().do_handshake()
        check_server_certificate(self.getpeercert(binary_form=True))


class ClientSocket(ssl.SSLSocket):
    """A client-side TLS socket (blocking code) that also requires serverAuth."""

    def do_handshake(self, block: bool = False) -> None:
        """Runs the handshake, then checks the server certificate's purpose."""
        super().do_handshake(block)
        check_server_certificate(self.getpeercert(binary_form=True))


_ALERT_NUMBERS = {"access_denied": ssl.ALERT_DESCRIPTION_ACCESS_DENIED}


def _client_hello(obj: object, server_name: str | None, context: ssl.SSLContext) -> int | None:
    """``sni_callback``: asks the connection's :data:`EarlyRefusal`, answers with its alert."""
    if not isinstance(obj, ServerObject) or obj._xps_early_refusal is None:
        return None
    try:
        verdict = obj._xps_early_refusal()
    except Exception:
        # An exception here would only be printed by ssl; the full authorization check
        # after the handshake runs anyway and reports it.
        return None
    if verdict is None or verdict[0] not in _ALERT_NUMBERS:
        return None
    obj._xps_refused = verdict
    return _ALERT_NUMBERS[verdict[0]]


class ServerContext(ssl.SSLContext):
    """A server context whose connections send OpenSSL's alert when they refuse a peer."""

    sslobject_class = ServerObject

    def __init__(self, protocol: int = ssl.PROTOCOL_TLS_SERVER) -> None:
        """Installs the ClientHello hook (``protocol`` is taken by ``SSLContext.__new__``)."""
        super().__init__()
        self.sni_callback = _client_hello

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        """Wraps the BIO pair; remembers the raw transport set by :func:`server_handshake`."""
        obj = super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        link = _LINK.get()
        if isinstance(obj, ServerObject) and link is not None:
            obj._xps_outgoing = outgoing
            obj._xps_transport = link.transport
            obj._xps_early_refusal = link.early_refusal
        return obj


class ClientContext(ssl.SSLContext):
    """A client context that refuses a server certificate without serverAuth, or a CA's."""

    sslobject_class = ClientObject
    sslsocket_class = ClientSocket
