"""Per-domain VNC passwords: generated on first need, kept in a 0600 state file."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
import threading
from pathlib import Path
from typing import Any
from uuid import UUID

from xps.files import write_atomic
from xps.policy import DomainConfig

from ._errors import HostStateError

__all__ = ["SECRETS_NAME", "VncSecrets", "vnc_endpoint"]

log = logging.getLogger("xps.host")

SECRETS_NAME = "vnc-secrets.json"
_MAX_FILE = 1 << 20
# VNC authentication (RFB DES challenge) uses only the first 8 characters of a password:
# 8 url-safe characters (48 random bits) is all of the strength a longer one would have.
_TOKEN_BYTES = 6
_PASSWORD = re.compile(r"[A-Za-z0-9_-]{8,64}")
_VNC_BASE_PORT = 5900


def vnc_endpoint(dom: DomainConfig, domid: int | None, port: int | None) -> dict[str, Any]:
    """The VNC endpoint of a policy domain, never with its password.

    Args:
        dom: The domain in the active policy.
        domid: Its domid while it runs, else None.
        port: The port the hypervisor reports (for a dynamic display), else None.

    Returns:
        ``{"domid", "name", "enabled", "listen", "display", "port"}``: ``port`` is
        5900 + display for a fixed display, else ``port`` (None when unknown);
        ``listen``/``display`` are None when VNC is off.
    """
    if not dom.vnc:
        return {
            "domid": domid,
            "name": dom.name,
            "enabled": False,
            "listen": None,
            "display": None,
            "port": None,
        }
    if dom.vnc_display is not None:
        port = _VNC_BASE_PORT + dom.vnc_display
    return {
        "domid": domid,
        "name": dom.name,
        "enabled": True,
        "listen": dom.vnc_listen,
        "display": dom.vnc_display,
        "port": port,
    }


class VncSecrets:
    """The VNC password of each domain, by domain UUID, in ``<state_dir>/vnc-secrets.json``.

    A password is made with :func:`secrets.token_urlsafe` the first time a domain needs
    one and then stays the same (across restarts) until the file is removed. The file
    is replaced atomically with mode 0600; passwords never appear in logs, reprs or
    error messages. Thread-safe: the host calls it from worker threads.

    Args:
        state_dir: The host's state directory (0700).
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / SECRETS_NAME
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, str]] | None = None

    def __repr__(self) -> str:
        return f"VncSecrets({str(self.path)!r})"

    def password(self, domain: UUID, name: str) -> str:
        """The domain's password, generated and stored (durably) when it has none yet.

        Raises:
            HostStateError: The secrets file is unreadable or cannot be written.
        """
        key = str(domain)
        with self._lock:
            entries = self._load()
            entry = entries.get(key)
            if entry is not None:
                if entry.get("name") != name:  # a renamed domain keeps its password
                    entry["name"] = name
                    self._save(entries)
                return entry["password"]
            password = secrets.token_urlsafe(_TOKEN_BYTES)
            entries[key] = {"name": name, "password": password}
            self._save(entries)
            log.info("Generated the VNC password of domain %s (%s)", name, key)
            return password

    def has(self, domain: UUID) -> bool:
        """Whether the domain has a stored password."""
        with self._lock:
            return str(domain) in self._load()

    def _load(self) -> dict[str, dict[str, str]]:
        if self._entries is not None:
            return self._entries
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            self._entries = {}
            return self._entries
        except OSError as exc:
            raise HostStateError(f"cannot open {self.path}: {exc.strerror}") from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_FILE:
                raise HostStateError(f"{self.path} is not a regular file of at most 1 MiB")
            if stat.S_IMODE(st.st_mode) & 0o077:
                # Tighten now; whoever could read it may know the passwords: say so.
                os.fchmod(fd, 0o600)
                log.warning(
                    "%s was accessible to group or others (mode %o): set to 0600; "
                    "remove it to generate new VNC passwords",
                    self.path,
                    stat.S_IMODE(st.st_mode),
                )
            with os.fdopen(os.dup(fd), "rb") as f:
                raw = f.read(_MAX_FILE + 1)
        except OSError as exc:
            raise HostStateError(f"cannot read {self.path}: {exc.strerror}") from exc
        finally:
            os.close(fd)
        self._entries = _parse(raw, self.path)
        return self._entries

    def _save(self, entries: dict[str, dict[str, str]]) -> None:
        doc = {"version": 1, "domains": entries}
        data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
        try:
            write_atomic(self.path, data, mode=0o600)
        except OSError as exc:
            raise HostStateError(f"cannot write {self.path}: {exc.strerror}") from exc


def _parse(raw: bytes, path: Path) -> dict[str, dict[str, str]]:
    # Messages name the file and the problem, never a value read from it.
    bad = HostStateError(f"{path} is damaged (not a version 1 VNC secrets file)")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad from exc
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise bad
    domains = doc.get("domains")
    if not isinstance(domains, dict):
        raise bad
    out: dict[str, dict[str, str]] = {}
    for key, entry in domains.items():
        try:
            uuid = str(UUID(key))
        except ValueError as exc:
            raise bad from exc
        if not isinstance(entry, dict):
            raise bad
        name, password = entry.get("name"), entry.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            raise bad
        if not _PASSWORD.fullmatch(password):
            raise bad
        out[uuid] = {"name": name, "password": password}
    return out
