"""Daemon configuration: defaults < properties file < ``-D`` values < explicit flags."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from xps.pki import TlsMaterial
from xps.server._errors import ConfigError
from xps.server._logging import LOG_NAME
from xps.server._properties import parse_properties

DEFAULT_PROPERTIES = Path("/etc/xenon-tools/xenon-policy.properties")
DEFAULT_LISTEN = "127.0.0.1:9443"
DEFAULT_RO_LISTEN = "127.0.0.1:9444"

#: The report's Java keystore properties (§3.1.6) are accepted as aliases.
_ALIASES = {
    "javax.net.ssl.keyStore": "xps.tls.keystore",
    "javax.net.ssl.keyStorePassword": "xps.tls.keystore.pass",
    "javax.net.ssl.trustStore": "xps.tls.ca",
}

#: Every property the daemon reads, with its default ("" = unset).
DEFAULTS: dict[str, str] = {
    "xps.state-dir": "/var/lib/xenon-tools",
    "xps.listen": DEFAULT_LISTEN,
    "xps.ro-listen": DEFAULT_RO_LISTEN,
    "xps.backend": "sim",
    "xps.authstore.file": "",
    "xps.authstore.pass": "",
    "xps.tls.ca": "",
    "xps.tls.cert": "",
    "xps.tls.key": "",
    "xps.tls.keystore": "",
    "xps.tls.keystore.pass": "",
    "xps.log.file": "",
    "xps.log.stderr": "true",
    "xps.local-addresses": "loopback",
    "xps.handshake-timeout": "10",
    "xps.frame-timeout": "10",
    "xps.idle-timeout": "900",
    "xps.write-timeout": "30",
    "xps.max-clients": "1024",
    "xps.max-unauthenticated": "1024",
    "xps.max-unauthenticated-per-source": "256",
    "xps.max-handshakes": "32",
    "xps.max-handshakes-per-source": "8",
    "xps.max-frame": str(4 << 20),
    "xps.max-buffered": str(64 << 20),
    "xps.max-items": "100000",
    "xps.subscriber-buffer": str(16 << 20),
    "xps.subscriber-buffer-total": str(256 << 20),
    "xps.log-burst-window": "10",
    "xps.stats-interval": "3.0",
    "xps.seed": "1",
    "xps.hostname": "",
}

Address = tuple[str, int]


def parse_address(text: str, what: str) -> Address | None:
    """Parses ``HOST:PORT`` (``[v6]:PORT`` for IPv6); ``none`` or empty disables it.

    Raises:
        ConfigError: Malformed address or port out of range.
    """
    text = text.strip()
    if text.lower() in ("", "none", "off"):
        return None
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"{what}: expected HOST:PORT, got {text!r}")
    host = host.removeprefix("[").removesuffix("]")
    try:
        port = int(port_text)
    except ValueError as exc:
        raise ConfigError(f"{what}: port {port_text!r} is not a number") from exc
    if not 0 <= port <= 65535:
        raise ConfigError(f"{what}: port {port} out of range")
    return host, port


def _number(props: Mapping[str, str], key: str, lo: float, hi: float) -> float:
    try:
        value = float(props[key])
    except ValueError as exc:
        raise ConfigError(f"{key}: {props[key]!r} is not a number") from exc
    if not lo <= value <= hi:
        raise ConfigError(f"{key}: {value} not in [{lo}, {hi}]")
    return value


def _bool(props: Mapping[str, str], key: str) -> bool:
    value = props[key].strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise ConfigError(f"{key}: {props[key]!r} is not a boolean")


_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")


def _hostname(text: str) -> str | None:
    """``xps.hostname``: the name the host reports (a simulated host's own name)."""
    text = text.strip()
    if not text:
        return None
    if not _HOSTNAME.fullmatch(text):
        raise ConfigError(f"xps.hostname: {text!r} is not a valid host name")
    return text


def _path(props: Mapping[str, str], key: str) -> Path | None:
    return Path(props[key]) if props[key] else None


def _local_addresses(text: str) -> frozenset[str] | None:
    if text.strip().lower() == "loopback":
        return None
    out = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            out.add(str(ipaddress.ip_address(item)))
        except ValueError as exc:
            raise ConfigError(f"xps.local-addresses: {item!r} is not an IP address") from exc
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything the daemon needs to run (see ``docs/protocol.md`` for each property).

    ``local_addresses`` decides who is a *local* client (always authorized with a valid
    certificate): None means any loopback address (127.0.0.0/8, ::1); a set means exactly
    those addresses, which lets a test treat 127.0.0.2 as a remote peer.

    Limits of the front door: ``max_clients`` counts authenticated connections only.
    Connections not yet authenticated have their own budget (``max_unauthenticated``,
    ``max_unauthenticated_per_source``; a full budget sheds the oldest silent one), and
    at most ``max_handshakes`` (``max_handshakes_per_source``) of them run a TLS
    handshake at once. ``max_buffered`` bounds the bytes of partially received frames
    across all connections, ``max_items`` the JSON values of one request,
    ``subscriber_buffer_total`` the unsent event backlog of all subscribers.
    ``log_burst_window``: refusals a peer can repeat are logged once, then counted
    per window of this many seconds.
    """

    state_dir: Path
    tls: TlsMaterial
    listen: Address | None = ("127.0.0.1", 9443)
    ro_listen: Address | None = ("127.0.0.1", 9444)
    backend: Literal["sim", "xen"] = "sim"
    authstore_file: Path | None = None
    authstore_pass: str | None = field(default=None, repr=False)
    log_file: Path | None = None
    log_stderr: bool = True
    local_addresses: frozenset[str] | None = None
    handshake_timeout: float = 10.0
    frame_timeout: float = 10.0
    idle_timeout: float = 900.0
    write_timeout: float = 30.0
    max_clients: int = 1024
    max_unauthenticated: int = 1024
    max_unauthenticated_per_source: int = 256
    max_handshakes: int = 32
    max_handshakes_per_source: int = 8
    max_frame: int = 4 << 20
    max_buffered: int = 64 << 20
    max_items: int = 100_000
    subscriber_buffer: int = 16 << 20
    subscriber_buffer_total: int = 256 << 20
    log_burst_window: float = 10.0
    stats_interval_s: float = 3.0
    seed: int = 1
    hostname: str | None = None  # None: the machine's host name

    @property
    def resolved_log_file(self) -> Path:
        """The log file: ``log_file`` or ``<state-dir>/xenon-policy-server.log``."""
        return self.log_file or self.state_dir / LOG_NAME

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> ServerConfig:
        """Builds a config from merged properties (unknown keys are ignored, as in Java).

        Raises:
            ConfigError: A value is invalid or the TLS material is incomplete.
        """
        merged = dict(DEFAULTS)
        for key, value in props.items():
            merged[_ALIASES.get(key, key)] = value
        backend = merged["xps.backend"]
        if backend != "sim" and backend != "xen":
            raise ConfigError(f"xps.backend must be sim or xen, not {backend!r}")
        ca = _path(merged, "xps.tls.ca")
        if ca is None:
            raise ConfigError("a trust store is required (--ca / xps.tls.ca)")
        keystore = _path(merged, "xps.tls.keystore")
        cert, key_file = _path(merged, "xps.tls.cert"), _path(merged, "xps.tls.key")
        if keystore is None and (cert is None or key_file is None):
            raise ConfigError("give --cert and --key, or --keystore (xps.tls.*)")
        listen = parse_address(merged["xps.listen"], "xps.listen")
        ro_listen = parse_address(merged["xps.ro-listen"], "xps.ro-listen")
        if listen is None and ro_listen is None:
            raise ConfigError("at least one of --listen / --ro-listen is needed")
        return cls(
            state_dir=Path(merged["xps.state-dir"]),
            tls=TlsMaterial(
                ca=ca,
                cert=cert,
                key=key_file,
                keystore=keystore,
                keystore_pass=merged["xps.tls.keystore.pass"] or None,
            ),
            listen=listen,
            ro_listen=ro_listen,
            backend="sim" if backend == "sim" else "xen",
            authstore_file=_path(merged, "xps.authstore.file"),
            authstore_pass=merged["xps.authstore.pass"] or None,
            log_file=_path(merged, "xps.log.file"),
            log_stderr=_bool(merged, "xps.log.stderr"),
            local_addresses=_local_addresses(merged["xps.local-addresses"]),
            handshake_timeout=_number(merged, "xps.handshake-timeout", 0.01, 3600),
            frame_timeout=_number(merged, "xps.frame-timeout", 0.01, 3600),
            idle_timeout=_number(merged, "xps.idle-timeout", 0, 10**7),
            write_timeout=_number(merged, "xps.write-timeout", 0.01, 3600),
            max_clients=int(_number(merged, "xps.max-clients", 1, 100_000)),
            max_unauthenticated=int(_number(merged, "xps.max-unauthenticated", 1, 100_000)),
            max_unauthenticated_per_source=int(
                _number(merged, "xps.max-unauthenticated-per-source", 1, 100_000)
            ),
            max_handshakes=int(_number(merged, "xps.max-handshakes", 1, 10_000)),
            max_handshakes_per_source=int(
                _number(merged, "xps.max-handshakes-per-source", 1, 10_000)
            ),
            max_frame=int(_number(merged, "xps.max-frame", 1024, 1 << 30)),
            max_buffered=int(_number(merged, "xps.max-buffered", 1 << 16, 1 << 40)),
            max_items=int(_number(merged, "xps.max-items", 1000, 100_000_000)),
            subscriber_buffer=int(_number(merged, "xps.subscriber-buffer", 1 << 16, 1 << 32)),
            subscriber_buffer_total=int(
                _number(merged, "xps.subscriber-buffer-total", 1 << 16, 1 << 40)
            ),
            log_burst_window=_number(merged, "xps.log-burst-window", 0.1, 3600),
            stats_interval_s=_number(merged, "xps.stats-interval", 0.05, 3600),
            seed=int(_number(merged, "xps.seed", 0, 2**63)),
            hostname=_hostname(merged["xps.hostname"]),
        )


def load_config(
    properties_file: Path | None,
    defines: Mapping[str, str],
    flags: Mapping[str, str],
) -> ServerConfig:
    """Merges the configuration sources with the precedence of §3.1.

    System values (``-D``) are loaded first and win over the properties file, which only
    fills in what they leave unset; explicit command-line flags win over both.

    Args:
        properties_file: The properties file; None means the default path, used only if
            it exists (an explicitly named file must exist).
        defines: ``-D`` values.
        flags: Properties set by explicit flags (e.g. ``{"xps.listen": "..."}``).

    Raises:
        ConfigError: A source is unreadable or a value is invalid.
    """
    props: dict[str, str] = {}
    path = properties_file or DEFAULT_PROPERTIES
    if properties_file is not None or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read properties file {path}: {exc}") from exc
        props.update(parse_properties(text))
    props.update(defines)
    props.update(flags)
    return ServerConfig.from_properties(props)
