"""Turns the per-role settings a session receives into the console's ``ConsoleConfig``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from xenon_tui._config import ConsoleConfig, ServerEntry, TlsFiles

log = logging.getLogger("xenon.ssh")
_warned: list[bool] = []


def console_config(settings: dict[str, Any]) -> ConsoleConfig:
    """Builds the console configuration of one SSH session.

    The server has already reduced ``settings`` to what the user's role may see: a
    read-only session only knows read-only sockets (``port == ro_port``). A read-only
    session also presents the read-only client certificate (``tls_read_only``: ``cert``,
    ``key``) when the console file names one, so the daemons refuse it on their
    read-write sockets whatever the console does.
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
    cert, key = settings.get("cert"), settings.get("key")
    ro_tls = read_only_tls(settings) if read_only else None
    if ro_tls is not None:
        cert, key = ro_tls
    tls = TlsFiles(ca=_path(settings.get("ca")), cert=_path(cert), key=_path(key))
    extra: dict[str, Any] = {}
    if isinstance(settings.get("theme"), str):
        extra["theme"] = settings["theme"]
    # Sessions never write the server account's console settings file.
    return ConsoleConfig(servers=servers, tls=tls, read_only=read_only, config_path=None, **extra)


def _path(value: object) -> Path | None:
    return Path(str(value)) if value else None


def read_only_tls(settings: dict[str, Any]) -> tuple[str, str] | None:
    """The read-only client certificate and key of the console file, if it names both."""
    value = settings.get("tls_read_only")
    if not isinstance(value, dict):
        return None
    cert, key = value.get("cert"), value.get("key")
    if not (isinstance(cert, str) and cert and isinstance(key, str) and key):
        return None
    return cert, key


def warn_without_read_only_tls(settings: dict[str, Any]) -> bool:
    """Logs once per process that read-only sessions share the read-write certificate.

    For the server process (a console child's stderr is the user's screen). Returns
    True when the settings lack a usable ``tls_read_only``.
    """
    if read_only_tls(settings) is not None:
        return False
    if not _warned:
        _warned.append(True)
        log.warning(
            "No read-only client certificate (tls_read_only) in the console settings: "
            "read-only sessions present the read-write certificate and rely on the "
            "daemons' read-only sockets alone"
        )
    return True


def sandbox_targets(
    settings: dict[str, Any], xe: dict[str, Any] | None = None
) -> tuple[list[str], set[int] | None]:
    """What a console of these settings must still reach when sandboxed: the TLS files of
    its role, and for a read-only console the ports of its servers (``None``: any).

    An XE user's console (``xe``: the session spec's XE part) also reads XE's CA file,
    and whatever its role reaches only XE's port, the XPS ports of the hosts XE showed
    its user at login (``host_ports``) and its servers' ports (the console file's, as
    the server reduced them to the role: the read-only ones for an auditor).
    """
    config = console_config(settings)
    tls = config.tls
    files = [str(p) for p in (tls.ca, tls.cert, tls.key) if p is not None]
    ports = {s.port for s in config.servers} | {s.ro_port for s in config.servers if s.ro_port}
    if xe is not None:
        from xenon_tui.ssh._xeauth import xe_port

        if xe.get("ca"):
            files.append(str(xe["ca"]))
        hosts = {int(p) for p in xe.get("host_ports", [])}
        return files, ports | hosts | {xe_port(str(xe["url"]))}
    if not config.read_only:
        return files, None
    return files, ports
