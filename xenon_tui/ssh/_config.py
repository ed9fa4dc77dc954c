"""Configuration of the console server and the per-role console settings it hands out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from xenon_tui.ssh._algorithms import HOST_KEY_FILE, SshAlgorithms
from xenon_tui.ssh._errors import ConfigError
from xenon_tui.ssh._gate import PreauthLimits
from xenon_tui.ssh._spec import Role, check_app_spec, check_sandbox_mode
from xenon_tui.ssh._xeauth import XeAuthConfig

DEFAULT_APP = "xenon_tui.ssh._console:run"
Mode = Literal["zygote", "spawn"]


@dataclass(frozen=True)
class ServeConfig:
    """How ``xenon console serve`` runs.

    Attributes:
        state_dir: Holds the host key and the logs.
        host: Address to listen on.
        port: TCP port (0 picks a free one).
        host_key: Host key file; ``state_dir/ssh_host_ed25519_key`` (or
            ``ssh_host_rsa_key`` for an RSA host key) when ``None``.
        idle_timeout_s: A session without input for this long is closed (``None``: never).
        max_sessions: Sessions beyond this number are refused.
        max_starting: Consoles starting up at once; more sessions wait their turn (a
            connect storm must not starve the consoles already open of CPU).
        session_memory_mb: Address-space limit of each console process (0: none).
        login_timeout_s: Time a client has to authenticate (login grace time).
        mode: ``zygote`` (fork from a preloaded process) or ``spawn`` (fresh interpreter).
        app: ``module:callable`` each console process runs.
        console: Console settings (see :func:`console_for_role`).
        sandbox: Landlock for each console: ``auto`` (when the kernel has it),
            ``require`` (refuse sessions without it) or ``off``.
        algorithms: Key exchange, ciphers, MACs and host key type offered.
        limits: Limits on connections before they authenticate.
        max_term_size: ``(cols, rows)`` a console's terminal is capped at.
        xe: XE decides public-key logins of its users (``None``: local accounts only).
    """

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 2222
    host_key: Path | None = None
    idle_timeout_s: float | None = 900.0
    max_sessions: int = 64
    max_starting: int = 4
    session_memory_mb: int = 2048
    login_timeout_s: float = 30.0
    mode: Mode = "zygote"
    app: str = DEFAULT_APP
    console: dict[str, Any] = field(default_factory=dict)
    sandbox: str = "auto"
    algorithms: SshAlgorithms = field(default_factory=SshAlgorithms)
    limits: PreauthLimits = field(default_factory=PreauthLimits)
    max_term_size: tuple[int, int] = (1000, 500)
    xe: XeAuthConfig | None = None

    def __post_init__(self) -> None:
        check_app_spec(self.app)
        check_sandbox_mode(self.sandbox)
        if self.mode not in ("zygote", "spawn"):
            raise ConfigError(f"mode must be zygote or spawn, not {self.mode!r}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port out of range: {self.port}")
        if self.session_memory_mb < 0 or 0 < self.session_memory_mb < 256:
            raise ConfigError("session memory limit must be 0 (none) or at least 256 MiB")
        if self.max_sessions < 1:
            raise ConfigError("max_sessions must be at least 1")
        if not 1 <= self.max_starting <= 1024:
            raise ConfigError("max_starting must be 1..1024")
        if self.idle_timeout_s is not None and self.idle_timeout_s <= 0:
            raise ConfigError("idle timeout must be positive")
        if not 0 < self.login_timeout_s <= 600:
            raise ConfigError("login grace time must be more than 0 and at most 600 s")
        cols, rows = self.max_term_size
        if not (20 <= cols <= 4096 and 5 <= rows <= 2048):
            raise ConfigError("max terminal size must be 20..4096 columns by 5..2048 rows")

    @property
    def host_key_path(self) -> Path:
        """Where the host key lives."""
        return self.host_key or self.state_dir / HOST_KEY_FILE[self.algorithms.host_key_type]

    @property
    def server_log(self) -> Path:
        """Logins, refusals and logouts."""
        return self.state_dir / "ssh-server.log"

    @property
    def session_log(self) -> Path:
        """Tracebacks and error output of console processes."""
        return self.state_dir / "ssh-sessions.log"

    @property
    def files_dir(self) -> Path:
        """Per-user files directories (each console's ``HOME``) live here."""
        return self.state_dir / "files"

    @property
    def zygote_log(self) -> Path:
        """The zygote's own output."""
        return self.state_dir / "ssh-zygote.log"


def load_console_file(path: Path) -> dict[str, Any]:
    """Reads the console settings file.

    The format is ``{"servers": [{"name", "host", "port", "ro_port"}], "ca", "cert",
    "key"}``; TLS paths are resolved against the file's directory.

    Raises:
        ConfigError: When the file is missing or malformed.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("servers", []), list):
            raise ValueError("expected an object with a 'servers' list")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read console file {path}: {exc}") from exc
    for name in ("ca", "cert", "key"):
        if raw.get(name):
            raw[name] = str((path.parent / str(raw[name])).resolve())
    ro_tls = raw.get("tls_read_only")
    if isinstance(ro_tls, dict):
        for name in ("cert", "key"):
            if isinstance(ro_tls.get(name), str) and ro_tls[name]:
                ro_tls[name] = str((path.parent / ro_tls[name]).resolve())
    try:
        for role in Role:
            console_for_role(raw, role)  # every server entry must be usable
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"console file {path}: each server needs host and port ({exc})") from exc
    return raw


def console_for_role(settings: dict[str, Any], role: Role) -> dict[str, Any]:
    """Returns the settings a console of ``role`` gets.

    A read-only console only ever learns the daemons' read-only sockets, so even a wrong
    UI cannot mutate anything; daemons without a read-only socket are left out.
    """
    servers: list[dict[str, Any]] = []
    for server in settings.get("servers", []):
        entry: dict[str, Any] = {
            "name": str(server.get("name") or server["host"]),
            "host": str(server["host"]),
        }
        if role is Role.READ_ONLY:
            if not server.get("ro_port"):
                continue
            entry["port"] = entry["ro_port"] = int(server["ro_port"])
        else:
            entry["port"] = int(server["port"])
            if server.get("ro_port"):
                entry["ro_port"] = int(server["ro_port"])
        servers.append(entry)
    result = {k: v for k, v in settings.items() if k not in ("servers", "tls_read_only")}
    result["servers"] = servers
    result["read_only"] = role is Role.READ_ONLY
    ro_tls = settings.get("tls_read_only")
    has_ro_tls = isinstance(ro_tls, dict) and bool(ro_tls.get("cert")) and bool(ro_tls.get("key"))
    if role is Role.READ_ONLY and has_ro_tls:
        assert isinstance(ro_tls, dict)
        # A read-only console never even learns where the read-write key is.
        result["cert"], result["key"] = str(ro_tls["cert"]), str(ro_tls["key"])
        result["tls_read_only"] = {"cert": result["cert"], "key": result["key"]}
    return result
