"""Console configuration: servers, TLS material, theme and keymap, persisted as JSON or TOML."""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xenon_tui._errors import ConfigError
from xps.files import write_atomic

DEFAULT_PORT = 8443
"""Read-write XPS port used when a server address names no port."""

_HOST_RE = re.compile(r"^[A-Za-z0-9._-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$")
_COLOR_RE = re.compile(r"^(#[0-9A-Fa-f]{6}|[a-z]{3,20})$")
_KEY_RE = re.compile(r"^[A-Za-z0-9_+,\-]{1,64}$")

REFRESH_S = 2.0
"""Default seconds between redraws of the metrics every sample changes (CPU %, memory,
CPU seconds, the Performance charts) while no key was pressed for a while; like k9s's
``--refresh`` (2 s). Violations are shown as they arrive whatever it is."""

REFRESH_RANGE = (0.5, 60.0)
"""The refresh setting's smallest and largest value (seconds)."""


def check_refresh(value: Any, what: str = "refresh") -> float:
    """A refresh interval in seconds (a number from 0.5 to 60).

    Raises:
        ConfigError: Not a number, not finite, or out of range.
    """
    low, high = REFRESH_RANGE
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ConfigError(
                f"{what} must be a number of seconds ({low:g}-{high:g}), not {value[:40]!r}"
            ) from None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not low <= float(value) <= high  # also refuses NaN
    ):
        raise ConfigError(f"{what} must be a number of seconds ({low:g}-{high:g}), not {value!r}")
    return float(value)


def default_config_path() -> Path:
    """Returns ``$XDG_CONFIG_HOME/xenon/console.json`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "xenon" / "console.json"


def _check_port(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ConfigError(f"{what} must be a port number 1-65535, not {value!r}")
    return value


@dataclass(frozen=True)
class ServerEntry:
    """One XPS daemon the console knows about.

    Attributes:
        host: Host name or address (IPv6 in brackets).
        port: Read-write socket port.
        ro_port: Read-only socket port (None: same as ``port``).
        color: Colour assigned by the user (``#rrggbb`` or a colour name), or None.
    """

    host: str
    port: int = DEFAULT_PORT
    ro_port: int | None = None
    color: str | None = None

    def __post_init__(self) -> None:
        if not _HOST_RE.match(self.host):
            raise ConfigError(f"invalid server host {self.host!r}")
        _check_port(self.port, "port")
        if self.ro_port is not None:
            _check_port(self.ro_port, "read-only port")
        if self.color is not None and not _COLOR_RE.match(self.color):
            raise ConfigError(f"invalid colour {self.color!r}: use #rrggbb or a name")

    @property
    def address(self) -> str:
        """``host:port`` (the key the console uses for this server)."""
        return f"{self.host}:{self.port}"

    def socket_port(self, read_only: bool) -> int:
        """The port to dial: the read-only socket for a read-only console."""
        return self.ro_port if read_only and self.ro_port is not None else self.port

    @classmethod
    def parse(cls, text: str) -> ServerEntry:
        """Parses ``host[:port[/ro_port]]`` as typed by a user.

        Raises:
            ConfigError: The text is not a valid address.
        """
        text = text.strip()
        ro_port: int | None = None
        if "/" in text:
            text, ro_text = text.rsplit("/", 1)
            ro_port = _parse_int(ro_text, "read-only port")
        host, port = text, DEFAULT_PORT
        if text.startswith("["):
            close = text.find("]")
            if close < 0:
                raise ConfigError(f"invalid server address {text!r}")
            host, rest = text[: close + 1], text[close + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise ConfigError(f"invalid server address {text!r}")
                port = _parse_int(rest[1:], "port")
        elif ":" in text:
            host, port_text = text.rsplit(":", 1)
            port = _parse_int(port_text, "port")
        return cls(host=host, port=port, ro_port=ro_port)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form used in the config file."""
        out: dict[str, Any] = {"host": self.host, "port": self.port}
        if self.ro_port is not None:
            out["ro_port"] = self.ro_port
        if self.color is not None:
            out["color"] = self.color
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServerEntry:
        """Inverse of :meth:`to_dict`; validates every field."""
        if not isinstance(data, Mapping) or not isinstance(data.get("host"), str):
            raise ConfigError("each server needs a 'host' string")
        return cls(
            host=data["host"],
            port=_check_port(data.get("port", DEFAULT_PORT), "port"),
            ro_port=None if data.get("ro_port") is None else _check_port(data["ro_port"], "ro"),
            color=data.get("color"),
        )


def _parse_int(text: str, what: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"{what} must be a number, not {text!r}")
    return _check_port(int(text), what)


@dataclass(frozen=True)
class TlsFiles:
    """The client's TLS material: trust anchor, certificate and private key (PEM)."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


@dataclass(frozen=True)
class ConsoleConfig:
    """Everything the console needs to start; built by ``xenon console`` or the SSH server.

    Attributes:
        servers: Servers shown in the servers panel, in order.
        tls: Client TLS material for every server.
        read_only: Connect to the read-only sockets and hide every mutating action.
        theme: Name of the colour theme.
        keymap: Action id -> key(s) overrides (comma separated keys).
        config_path: Where settings are remembered; None keeps them in memory only.
        autoconnect: Connect to every server at start.
        refresh: Seconds between redraws of per-sample metrics while no key was pressed
            for a while (``REFRESH_S``; at most 1 s after a key).
    """

    servers: tuple[ServerEntry, ...] = ()
    tls: TlsFiles = field(default_factory=TlsFiles)
    read_only: bool = False
    theme: str = "xenon-dark"
    keymap: Mapping[str, str] = field(default_factory=dict)
    config_path: Path | None = None
    autoconnect: bool = True
    refresh: float = REFRESH_S

    def __post_init__(self) -> None:
        check_refresh(self.refresh)

    def with_servers(self, servers: tuple[ServerEntry, ...]) -> ConsoleConfig:
        """A copy with another server list."""
        return replace(self, servers=servers)


def _parse_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(raw) > 1 << 20:
        raise ConfigError(f"{path} is larger than 1 MiB")
    try:
        data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table/object")
    return data


def load_config(path: Path, base: ConsoleConfig | None = None) -> ConsoleConfig:
    """Reads remembered settings from ``path`` over ``base``.

    Servers given in ``base`` (command line) come first; remembered ones follow.

    Raises:
        ConfigError: The file exists but is not valid.
    """
    base = base or ConsoleConfig()
    data = _parse_file(path)
    servers = list(base.servers)
    known = {s.address for s in servers}
    for item in data.get("servers", []):
        entry = ServerEntry.from_dict(item)
        if entry.address not in known:
            servers.append(entry)
            known.add(entry.address)
    keymap = dict(data.get("keymap", {}))
    for action, keys in keymap.items():
        if (
            not isinstance(action, str)
            or not isinstance(keys, str)
            or not all(_KEY_RE.match(k) for k in keys.split(","))
        ):
            raise ConfigError(f"{path}: keymap entry {action!r} = {keys!r} is not valid")
    keymap.update(base.keymap)
    theme = data.get("theme", base.theme)
    if not isinstance(theme, str):
        raise ConfigError(f"{path}: theme must be a string")
    refresh = base.refresh
    if "refresh" in data:
        refresh = check_refresh(data["refresh"], f"{path}: refresh")
    return replace(
        base,
        servers=tuple(servers),
        keymap=keymap,
        theme=theme,
        config_path=path,
        refresh=refresh,
    )


def save_config(config: ConsoleConfig) -> None:
    """Writes the remembered settings (servers, theme, keymap) atomically with mode 0600.

    A TOML path is written as JSON next to it (``.json``) because the standard library
    cannot write TOML; the JSON file is then preferred on the next start.
    """
    path = config.config_path
    if path is None:
        return
    if path.suffix == ".toml":
        path = path.with_suffix(".json")
    payload: dict[str, Any] = {
        "servers": [s.to_dict() for s in config.servers],
        "theme": config.theme,
        "keymap": dict(config.keymap),
    }
    if config.refresh != REFRESH_S:
        payload["refresh"] = config.refresh
    data = (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode()
    write_atomic(path, data, mode=0o600, dir_mode=0o700)
