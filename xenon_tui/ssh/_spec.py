"""What a console process is told about its session (JSON-safe, crosses process boundaries)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from xenon_tui.ssh._errors import ConfigError

_TERM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_APP_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
DEFAULT_TERM = "xterm-256color"
SANDBOX_MODES = ("auto", "require", "off")


class Role(StrEnum):
    """What a user may do; enforced by the server, not only by the UI."""

    ADMIN = "admin"
    READ_ONLY = "read-only"


@dataclass(frozen=True)
class SessionInfo:
    """Everything the per-session console process needs, and nothing secret.

    Attributes:
        session_id: Short unique id used in logs.
        user: The authenticated SSH user.
        role: The user's role.
        peer: ``host:port`` of the client.
        term: The client's ``TERM`` (validated).
        colorterm: The client's ``COLORTERM`` when it sent one.
        app: ``module:callable`` run in the child with this object.
        log_path: Where tracebacks and the app's error console go.
        console: Role-specific console settings (servers and TLS file paths).
        parent_pid: The process that must outlive the child (parent-death check).
        memory_limit_mb: Address-space limit of the console process (0: none), so a
            runaway session fails alone instead of waking the OOM killer.
        home: The user's files directory: the console's ``HOME`` and working
            directory, the only place its file dialogs can read and write.
        sandbox: ``auto`` (Landlock when the kernel has it), ``require`` (no console
            without it) or ``off``.
        xe: For an XE user's session: XE's ``url`` and ``ca``, the ``user``, its XE
            ``role``, ``scopes``, token expiry (``expires_at``) and the XPS ports of
            the hosts XE showed the user at login (``host_ports``); nothing secret.
        xe_token: The user's XE session token, in the console process only: it arrives
            over a pipe and is never part of :meth:`to_json` (argv in spawn mode).
    """

    session_id: str
    user: str
    role: Role
    peer: str
    term: str
    colorterm: str | None
    app: str
    log_path: str
    console: dict[str, Any] = field(default_factory=dict)
    parent_pid: int = 0
    memory_limit_mb: int = 0
    home: str = ""
    sandbox: str = "auto"
    xe: dict[str, Any] | None = None
    xe_token: str = field(default="", repr=False, compare=False)

    def to_json(self) -> str:
        """Serialises to one JSON object (without ``xe_token``)."""
        data = asdict(self)
        del data["xe_token"]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SessionInfo:
        """Parses :meth:`to_json` output, validating every field."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ConfigError("session spec is not an object")
        info = cls(
            session_id=str(raw["session_id"]),
            user=str(raw["user"]),
            role=Role(raw["role"]),
            peer=str(raw["peer"]),
            term=safe_term(raw.get("term")),
            colorterm=safe_colorterm(raw.get("colorterm")),
            app=check_app_spec(str(raw["app"])),
            log_path=str(raw["log_path"]),
            console=dict(raw.get("console") or {}),
            parent_pid=int(raw.get("parent_pid") or 0),
            memory_limit_mb=max(0, int(raw.get("memory_limit_mb") or 0)),
            home=str(raw.get("home") or ""),
            sandbox=check_sandbox_mode(str(raw.get("sandbox") or "auto")),
            xe=check_xe(raw.get("xe")),
        )
        return info


def safe_term(value: object) -> str:
    """Returns the client's TERM if it is a plausible terminal name, else a safe default."""
    if isinstance(value, str) and _TERM_RE.fullmatch(value):
        return value
    return DEFAULT_TERM


def safe_colorterm(value: object) -> str | None:
    """Accepts only the COLORTERM values terminals really send."""
    if isinstance(value, str) and value in {"truecolor", "24bit"}:
        return value
    return None


def check_app_spec(value: str) -> str:
    """Validates a ``module:callable`` reference.

    Raises:
        ConfigError: When the reference is malformed.
    """
    if not _APP_RE.fullmatch(value):
        raise ConfigError(f"app must look like 'package.module:function', got {value!r}")
    return value


def check_xe(value: object) -> dict[str, Any] | None:
    """Validates the ``xe`` part of a session spec.

    Raises:
        ConfigError: When it is not ``None`` or an object with a URL, user and role.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) and value.get(k) for k in ("url", "user", "role")
    ):
        raise ConfigError("session spec: xe needs url, user and role")
    ports = value.get("host_ports", [])
    if not isinstance(ports, list) or not all(type(p) is int and 0 < p < 65536 for p in ports):
        raise ConfigError("session spec: xe host_ports must be a list of TCP ports")
    return dict(value)


def check_sandbox_mode(value: str) -> str:
    """Validates a sandbox mode (``auto``, ``require`` or ``off``).

    Raises:
        ConfigError: For any other value.
    """
    if value not in SANDBOX_MODES:
        raise ConfigError(f"sandbox must be one of {', '.join(SANDBOX_MODES)}, not {value!r}")
    return value
