"""Turns the per-role settings a session receives into the console's ``ConsoleConfig``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xenon_tui._config import ConsoleConfig, ServerEntry, TlsFiles


def console_config(settings: dict[str, Any]) -> ConsoleConfig:
    """Builds the console configuration of one SSH session.

    The server has already reduced ``settings`` to what the user's role may see: a
    read-only session only knows read-only sockets (``port == ro_port``).
    """
    read_only = bool(settings.get("read_only", True))
    servers = tuple(
        ServerEntry(
            host=str(item["host"]),
            port=int(item["port"]),
            ro_port=int(item["ro_port"]) if item.get("ro_port") else None,
        )
        for item in settings.get("servers", [])
    )
    tls = TlsFiles(
        ca=_path(settings.get("ca")),
        cert=_path(settings.get("cert")),
        key=_path(settings.get("key")),
    )
    extra: dict[str, Any] = {}
    if isinstance(settings.get("theme"), str):
        extra["theme"] = settings["theme"]
    # Sessions never write the server account's console settings file.
    return ConsoleConfig(servers=servers, tls=tls, read_only=read_only, config_path=None, **extra)


def _path(value: object) -> Path | None:
    return Path(str(value)) if value else None
